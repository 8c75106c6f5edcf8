# Copyright 2026 The magnum-capi-rdma Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.
"""An unreachable management cluster does not keep a cluster in progress
for ever: the operation's timeout still applies.

The status pass's snapshot is made to fail (this module's one stand-in: the
real outage is in test_faults, which stops kube-apiserver); everything else
is the real driver, Magnum's database and the real bed.
"""

import datetime

from magnum.objects import fields
import pytest

from magnum_capi_rdma.adapters import kube as kube_adapter
from magnum_capi_rdma.services import runtime
from tests.support import lifecycle


@pytest.mark.usefixtures("simulator")
class TestTimeoutWhileUnreachable(lifecycle.LifecycleBase):

    def unreachable(self):
        def fail():
            raise kube_adapter.KubeError(
                "cannot list clusters in all namespaces: management "
                "cluster unreachable: connection refused", transient=True)
        runtime.shared().observer.snapshot = fail

    def test_a_create_times_out_from_its_creation_time(self):
        cluster = self.make_cluster(name="lost", create_timeout=60)
        self.unreachable()
        cluster = self.sync(cluster)
        assert cluster.status == fields.ClusterStatus.CREATE_IN_PROGRESS
        assert cluster.status_reason.startswith(
            "Waiting for the management cluster: cannot list clusters")
        cluster.created_at = datetime.datetime.now(
            datetime.timezone.utc) - datetime.timedelta(minutes=61)
        cluster.save()
        cluster = self.sync(cluster)
        assert cluster.status == fields.ClusterStatus.CREATE_FAILED
        assert cluster.status_reason.startswith(
            "Timed out after 60 minutes. Waiting for the management "
            "cluster: cannot list clusters"), cluster.status_reason

    def test_an_update_times_out_from_the_last_record_seen(self):
        cluster = self.make_cluster(name="lost-upd")
        self.driver.create_cluster(self.context, cluster, 30)
        cluster.save()
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.CREATE_COMPLETE)
        self.config(update_timeout=1, group="capi_rdma")
        release = cluster.stack_id
        self.sim.set_faults(release, {"stall": True})
        worker = cluster.default_ng_worker
        worker.node_count = 3
        worker.save()
        self.driver.resize_cluster(self.context, cluster, None, 3, [],
                                   worker)
        cluster = self.sync(cluster)
        assert cluster.status == fields.ClusterStatus.UPDATE_IN_PROGRESS
        started, timeout = runtime.shared().operation_records[cluster.uuid]
        assert timeout == 1      # the record the pass read from the Lease
        self.unreachable()
        cluster = self.sync(cluster)
        assert cluster.status == fields.ClusterStatus.UPDATE_IN_PROGRESS
        # Two minutes pass while it is unreachable (the record is aged
        # rather than the test sleeping): the record read before the
        # outage times the update out.
        runtime.shared().operation_records[cluster.uuid] = (
            started - datetime.timedelta(minutes=2), timeout)
        cluster = self.sync(cluster)
        assert cluster.status == fields.ClusterStatus.UPDATE_FAILED
        assert cluster.status_reason.startswith(
            "Timed out after 1 minutes. Waiting for the management "
            "cluster"), cluster.status_reason
        self.sim.clear_faults(release)
