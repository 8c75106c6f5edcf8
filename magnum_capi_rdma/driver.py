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
"""The Magnum driver: Magnum's calls, each handed to a service.

Every operation describes the Magnum objects as plain data and builds the
spec (:mod:`magnum_capi_rdma.magnum_objects`; nothing is created for
invalid input), then converges the management cluster
(:mod:`magnum_capi_rdma.services.converge`). Status and health come from
:mod:`magnum_capi_rdma.services.status_sync` and
:mod:`magnum_capi_rdma.services.monitor`.
"""

import functools

from magnum.drivers.common import driver as magnum_driver
from magnum.objects import fields

from magnum_capi_rdma import errors
from magnum_capi_rdma import magnum_objects as mo
from magnum_capi_rdma.services import certificates
from magnum_capi_rdma.services import converge
from magnum_capi_rdma.services import credentials
from magnum_capi_rdma.services import monitor
from magnum_capi_rdma.services import resize
from magnum_capi_rdma.services import runtime
from magnum_capi_rdma.services import selftest
from magnum_capi_rdma.services import status_sync
from magnum_capi_rdma.services import upgrade

# The errors Magnum sees, where callers have always found them.
InvalidClusterLabels = errors.InvalidClusterLabels
ClusterOperationFailed = errors.ClusterOperationFailed
ClusterBusy = errors.ClusterBusy


class Driver(magnum_driver.Driver):
    """Kubernetes on OpenStack through Cluster API, with RDMA."""

    #: ``context -> Keystone adapter``; tests replace it.
    keystone_factory = staticmethod(credentials.default_keystone)

    @property
    def provides(self):
        return [
            {"server_type": "vm", "os": "ubuntu", "coe": "kubernetes"},
            {"server_type": "vm", "os": "flatcar", "coe": "kubernetes"},
            {"server_type": "bm", "os": "ubuntu", "coe": "kubernetes"},
        ]

    def _converge(self):
        return converge.Converge(runtime.shared(), self.keystone_factory)

    # -- lifecycle --

    def create_cluster(self, context, cluster, cluster_create_timeout):
        spec = mo.build_spec(cluster)
        self._converge().create(context, cluster, spec,
                                cluster_create_timeout)

    def update_cluster(self, context, cluster, scale_manager=None,
                       rollback=False):
        self._converge().update(context, cluster, mo.build_spec(cluster),
                                "an update")

    def resize_cluster(self, context, cluster, resize_manager, node_count,
                       nodes_to_remove, nodegroup=None):
        spec = mo.build_spec(cluster)
        resize.refuse_autoscaled(spec, nodegroup)
        service = self._converge()
        service.update(context, cluster, spec, "a resize",
                       before_helm=functools.partial(
                           resize.mark_for_removal, service.kube, cluster,
                           nodegroup, nodes_to_remove))

    def upgrade_cluster(self, context, cluster, cluster_template,
                        max_batch_size, nodegroup, scale_manager=None,
                        rollback=False):
        change = upgrade.prepare(cluster, cluster_template, nodegroup)
        self._converge().update(context, cluster, change.spec, "an upgrade")
        change.save()

    def create_nodegroup(self, context, cluster, nodegroup):
        resize.refuse_join_skew(cluster, nodegroup)
        self._converge().update(
            context, cluster, mo.build_spec(cluster),
            "the creation of node group %s" % nodegroup.name)

    def update_nodegroup(self, context, cluster, nodegroup):
        # Magnum saves the updated row only after the driver returns: use
        # the object it handed over, not the database's copy.
        groups = [nodegroup if ng.uuid == nodegroup.uuid else ng
                  for ng in cluster.nodegroups]
        self._converge().update(
            context, cluster, mo.build_spec(cluster, node_groups=groups),
            "an update of node group %s" % nodegroup.name)

    def delete_nodegroup(self, context, cluster, nodegroup):
        spec = mo.build_spec(cluster, exclude=(nodegroup.uuid,))
        nodegroup.status = fields.ClusterStatus.DELETE_IN_PROGRESS
        nodegroup.save()
        self._converge().update(
            context, cluster, spec,
            "the deletion of node group %s" % nodegroup.name)

    def delete_cluster(self, context, cluster):
        # An RDMA self-test in flight: its pods go before the cluster.
        selftest.SelfTest(runtime.shared().kube).stop(cluster)
        self._converge().delete(cluster)

    def rotate_credential(self, context, cluster):
        self._converge().rotate_credentials(context, cluster)

    def rotate_ca_certificate(self, context, cluster):
        certificates.refuse_ca_rotation(context, cluster)

    def create_federation(self, context, federation):
        raise NotImplementedError("Federation is not supported")

    def update_federation(self, context, federation):
        raise NotImplementedError("Federation is not supported")

    def delete_federation(self, context, federation):
        raise NotImplementedError("Federation is not supported")

    def validate_master_resize(self, node_count):
        self.validate_master_size(node_count)

    # -- status and health --

    def update_cluster_status(self, context, cluster, use_admin_ctx=False):
        """Sync Magnum with the management cluster; never raises."""
        status_sync.StatusSync(runtime.shared(), self._converge()).sync(
            context, cluster)

    def get_monitor(self, context, cluster):
        return monitor.Monitor(context, cluster, runtime.shared())
