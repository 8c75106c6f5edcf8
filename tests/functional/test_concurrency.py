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
"""Two operations on one cluster at once, on the real bed and real helm.

Magnum's conductor refuses a second operation once the first has set the
cluster IN_PROGRESS, but only after the first driver call returns; two
conductors (or two RPC workers) can still run driver calls on one cluster at
the same moment. The operation lock (a Lease, see
``magnum_capi_rdma.operations``) must refuse the second clearly, let a
delete wait for a create, expire when its holder dies, and stay held while a
long call runs. Helm is held inside its install by an event, so the overlap
is certain, not a matter of timing.
"""

import datetime
import re
import threading
import uuid

from magnum.objects import fields
from magnum.tests.unit.objects import utils as obj_utils
import pytest

from magnum_capi_rdma import driver as capi_driver
from magnum_capi_rdma import magnum_objects
from magnum_capi_rdma import operations
from magnum_capi_rdma.services import converge
from magnum_capi_rdma.services import runtime
from tests.support import lifecycle


class HeldHelm(object):
    """Wraps the driver's Helm adapter: installs wait for ``go``."""

    def __init__(self, helm):
        self.helm = helm
        self.real = helm.install_or_upgrade
        self.entered = threading.Event()
        self.go = threading.Event()
        self.calls = []
        helm.install_or_upgrade = self.install_or_upgrade

    def install_or_upgrade(self, release, namespace, values, *args, **kw):
        self.calls.append(values)
        self.entered.set()
        assert self.go.wait(120), "the test never let helm go on"
        return self.real(release, namespace, values, *args, **kw)

    def restore(self):
        self.helm.install_or_upgrade = self.real


class Background(threading.Thread):
    """A driver call in another thread; keeps its exception."""

    def __init__(self, func, *args):
        super().__init__(daemon=True)
        self.func, self.args = func, args
        self.error = None

    def run(self):
        try:
            self.func(*self.args)
        except Exception as exc:  # noqa: B902 - the test inspects it
            self.error = exc


@pytest.mark.usefixtures("simulator")
class TestConcurrentOperations(lifecycle.LifecycleBase):

    def setUp(self):
        super().setUp()
        self.held = None

    def tearDown(self):
        if self.held is not None:
            self.held.go.set()
            self.held.restore()
        super().tearDown()

    def hold_helm(self):
        self.held = HeldHelm(runtime.shared().helm)
        return self.held

    def created(self, **kw):
        cluster = self.make_cluster(**kw)
        self.driver.create_cluster(self.context, cluster, 30)
        cluster.save()
        return self.wait_status(cluster,
                                fields.ClusterStatus.CREATE_COMPLETE)

    def revisions(self, cluster):
        records = self.kube.list_secrets(
            self.namespace(cluster), "owner=helm,name=%s" % cluster.stack_id)
        return sorted(int(r["labels"]["version"]) for r in records)

    def lease(self, cluster):
        return operations.from_lease(self.kube.get_lease(
            self.namespace(cluster), operations.lease_name(cluster.stack_id)))

    def delete_and_check(self, cluster):
        self.driver.delete_cluster(self.context, cluster)
        cluster.status = fields.ClusterStatus.DELETE_IN_PROGRESS
        cluster.save()
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.DELETE_COMPLETE)
        assert self.leftovers(cluster) == {}

    # -- tests --

    def test_resize_during_an_upgrade_is_refused_never_interleaved(self):
        cluster = self.created(name="race-up")
        before = self.revisions(cluster)
        new_template = obj_utils.create_test_cluster_template(
            self.context, id=133, uuid=str(uuid.uuid4()), name="t-up",
            project_id=self.context.project_id,
            labels=dict(lifecycle.RDMA_LABELS, kube_tag="v1.34.2"),
            image_id="ubuntu-2404-k134", **lifecycle.TEMPLATE_FIXES)
        cluster.status = fields.ClusterStatus.UPDATE_IN_PROGRESS
        cluster.save()
        held = self.hold_helm()
        upgrade = Background(self.driver.upgrade_cluster, self.context,
                             cluster, new_template, 1,
                             cluster.default_ng_worker)
        upgrade.start()
        assert held.entered.wait(60)
        # The upgrade holds the lock inside helm; a resize now is refused
        # before it touches anything.
        other = capi_driver.Driver()
        other.keystone_factory = self.driver.keystone_factory
        resize_target = type(cluster).get_by_uuid(self.context, cluster.uuid)
        with pytest.raises(capi_driver.ClusterBusy) as info:
            other.resize_cluster(self.context, resize_target, None, 3, [],
                                 resize_target.default_ng_worker)
        message = str(info.value)
        # How long ago the lease was renewed depends on the machine's load.
        assert re.fullmatch(
            r"Cluster race-up is busy: an upgrade is in progress on it "
            r"\(still running, last seen \d+s ago\)\. Try again when it "
            r"has finished\.", message), message
        assert len(held.calls) == 1          # the resize never reached helm
        held.go.set()
        upgrade.join(120)
        assert upgrade.error is None, upgrade.error
        assert self.revisions(cluster) == before + [before[-1] + 1]
        record = self.lease(cluster)
        assert record.holder is None and record.operation == "UPDATE"
        # Once the upgrade's call is over, the resize goes through on top
        # of it: its values carry the new version too.
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.UPDATE_COMPLETE)
        worker = cluster.default_ng_worker
        worker.node_count = 3
        worker.save()
        cluster.status = fields.ClusterStatus.UPDATE_IN_PROGRESS
        cluster.save()
        other.resize_cluster(self.context, cluster, None, 3, [], worker)
        last = held.calls[-1]
        assert last["kubernetesVersion"] == "1.34.2", last.get(
            "kubernetesVersion")
        workers = [g for g in last["nodeGroups"]
                   if g["name"] == "default-worker"]
        assert workers[0]["machineCount"] == 3
        assert self.revisions(cluster) == before + [before[-1] + 1,
                                                    before[-1] + 2]
        self.delete_and_check(cluster)

    def test_two_creates_of_one_cluster_at_once(self):
        cluster = self.make_cluster(name="twice")
        held = self.hold_helm()
        first = Background(self.driver.create_cluster, self.context,
                           cluster, 30)
        first.start()
        assert held.entered.wait(60)
        second = capi_driver.Driver()
        second.keystone_factory = self.driver.keystone_factory
        again = type(cluster).get_by_uuid(self.context, cluster.uuid)
        with pytest.raises(capi_driver.ClusterBusy) as info:
            second.create_cluster(self.context, again, 30)
        assert "a create is in progress" in str(info.value)
        held.go.set()
        first.join(120)
        assert first.error is None, first.error
        cluster.save()
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.CREATE_COMPLETE)
        assert self.revisions(cluster) == [1]
        assert len(lifecycle.InMemoryKeystone.credentials[cluster.uuid]) == 1
        self.delete_and_check(cluster)

    def test_a_delete_waits_for_a_create_still_installing(self):
        cluster = self.make_cluster(name="del-mid")
        held = self.hold_helm()
        create = Background(self.driver.create_cluster, self.context,
                            cluster, 30)
        create.start()
        assert held.entered.wait(60)
        cluster.stack_id = magnum_objects.release_for(cluster)
        delete = Background(self.driver.delete_cluster, self.context,
                            cluster)
        delete.start()
        delete.join(3)
        assert delete.is_alive()             # waiting for the lock
        held.go.set()
        create.join(120)
        delete.join(120)
        assert create.error is None and delete.error is None, (
            create.error, delete.error)
        # The uninstall came after the install: no release is left.
        assert self.revisions(cluster) == []
        cluster = objects_reload(self, cluster)
        cluster.status = fields.ClusterStatus.DELETE_IN_PROGRESS
        cluster.save()
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.DELETE_COMPLETE)
        assert self.leftovers(cluster) == {}
        assert lifecycle.InMemoryKeystone.credentials[cluster.uuid] == []

    def test_a_create_after_the_delete_installs_nothing(self):
        cluster = self.make_cluster(name="late")
        # The delete was accepted (the row says so) before this create's
        # call got the lock: installing now would leak a release.
        deleting = type(cluster).get_by_uuid(self.context, cluster.uuid)
        deleting.status = fields.ClusterStatus.DELETE_IN_PROGRESS
        deleting.save()
        with pytest.raises(capi_driver.ClusterOperationFailed) as info:
            self.driver.create_cluster(self.context, cluster, 30)
        assert "is being deleted; not installing it again" in str(
            info.value)
        assert self.revisions(cluster) == []
        assert lifecycle.InMemoryKeystone.credentials.get(
            cluster.uuid, []) == []
        cluster = self.sync(cluster)
        assert cluster.status == fields.ClusterStatus.DELETE_COMPLETE, (
            cluster.status_reason)
        assert self.leftovers(cluster) == {}

    def test_the_lock_of_a_dead_conductor_expires(self):
        cluster = self.created(name="orphan")
        ns = self.namespace(cluster)
        now = datetime.datetime.now(datetime.timezone.utc)
        # A conductor took the lock and died 61 s ago (duration 60).
        lease = self.kube.get_lease(ns, operations.lease_name(
            cluster.stack_id))
        dead = operations.lease_body(
            ns, cluster.stack_id, lease["metadata"]["labels"],
            operations.record_annotations(operations.from_lease(lease)),
            "dead-host/1/abc", "an update", 60,
            now - datetime.timedelta(seconds=61),
            resource_version=lease["metadata"]["resourceVersion"])
        self.kube.replace_lease(ns, dead)
        self.driver.update_cluster(self.context, cluster)
        record = self.lease(cluster)
        assert record.holder is None and record.operation == "UPDATE"
        # A live holder (renewed just now) is respected.
        live = self.kube.get_lease(ns, operations.lease_name(
            cluster.stack_id))
        self.kube.replace_lease(ns, operations.lease_body(
            ns, cluster.stack_id, live["metadata"]["labels"],
            operations.record_annotations(operations.from_lease(live)),
            "live-host/2/def", "an update", 60, now,
            resource_version=live["metadata"]["resourceVersion"]))
        with pytest.raises(capi_driver.ClusterBusy):
            self.driver.update_cluster(self.context, cluster)
        self.kube.replace_lease(ns, operations.lease_body(
            ns, cluster.stack_id, live["metadata"]["labels"], {}, None, None,
            60, now, resource_version=self.kube.get_lease(
                ns, operations.lease_name(cluster.stack_id))[
                    "metadata"]["resourceVersion"]))
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.UPDATE_COMPLETE)
        self.delete_and_check(cluster)

    def test_an_interrupted_create_without_credentials_fails_clearly(self):
        # The conductor died after taking the lock, before it made the
        # application credential: a status pass cannot make one (it has
        # no user token), so it says what happened instead of waiting.
        cluster = self.make_cluster(name="cut")
        release = magnum_objects.new_release_name(cluster)
        ns = self.namespace(cluster)
        converge.prepare_namespace(self.kube, ns)
        long_ago = datetime.datetime.now(
            datetime.timezone.utc) - datetime.timedelta(seconds=120)
        self.kube.create_lease(ns, operations.lease_body(
            ns, release, magnum_objects.ownership_labels(cluster),
            operations.record_annotations(operations.Record(
                operation="CREATE", started=long_ago, timeout_minutes=60)),
            "dead-host/1/abc", "a create", 60, long_ago))
        cluster.stack_id = release
        cluster.save()
        cluster = self.sync(cluster)
        assert cluster.status == fields.ClusterStatus.CREATE_FAILED
        assert cluster.status_reason.startswith(
            "The create was interrupted (the conductor stopped) before the "
            "cluster's credentials were made"), cluster.status_reason
        self.delete_and_check(cluster)

    def test_a_long_call_keeps_its_lock(self):
        self.config(operation_lock_seconds=10, group="capi_rdma")
        cluster = self.created(name="long")
        held = self.hold_helm()
        update = Background(self.driver.update_cluster, self.context,
                            cluster)
        update.start()
        assert held.entered.wait(60)
        first = self.lease(cluster)
        # Longer than the lock's duration: the heartbeat renews it.
        lifecycle.wait_for(
            lambda: self.lease(cluster).renewed >= first.renewed +
            datetime.timedelta(seconds=7), timeout=30, interval=0.5,
            what="two renewals")
        assert self.lease(cluster).holder == first.holder
        with pytest.raises(capi_driver.ClusterBusy):
            capi_driver.Driver().update_cluster(self.context, cluster)
        held.go.set()
        update.join(120)
        assert update.error is None, update.error
        assert self.lease(cluster).holder is None
        self.delete_and_check(cluster)


def objects_reload(test, cluster):
    return type(cluster).get_by_uuid(test.context, cluster.uuid)
