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
"""The control-plane and upgrade tests, run on two beds.

``ControlPlaneTests`` is not collected here (pytest collects test modules
only): ``test_lifecycle_control_plane`` runs it with the simulated
controllers, ``test_real_capi`` with Cluster API's own.

As test_driver_lifecycle (tests/support/lifecycle.py): Magnum's objects
and database, the real helm and openstack-cluster chart, kube-apiserver
with Cluster API's CRDs, the Cluster API simulator. Covered here:

- a resize of the control plane (Magnum's master node group) from 1 to 3
  machines and back, as Magnum's API and conductor call the driver;
- an upgrade scoped to one node group, and the guard that no node group
  may run a newer Kubernetes than the control plane;
- an upgrade that changes only add-on versions (same Kubernetes);
- the certificate renewal the driver owns on the KubeadmControlPlane
  (``certificate_renewal_days``): applied with its own field manager,
  kept by Helm upgrades of the release, changed and removed by upgrades.
"""

import copy
import uuid

from magnum.common import exception as magnum_exception
from magnum import objects
from magnum.objects import fields
from magnum.tests.unit.objects import utils as obj_utils
import pytest

from magnum_capi_rdma import contract
from magnum_capi_rdma import magnum_objects
from magnum_capi_rdma.services import runtime
from tests.support import lifecycle

UPDATE_COMPLETE = fields.ClusterStatus.UPDATE_COMPLETE
UPDATE_IN_PROGRESS = fields.ClusterStatus.UPDATE_IN_PROGRESS


def _renewal(kcp):
    return ((kcp["spec"].get("rolloutBefore") or {})
            .get("certificatesExpiryDays"))


def _managers_of_renewal(kcp):
    """The field managers that own spec.rolloutBefore, with operations."""
    found = []
    for entry in kcp["metadata"].get("managedFields") or ():
        spec = (entry.get("fieldsV1") or {}).get("f:spec") or {}
        if "f:rolloutBefore" in spec:
            found.append((entry["manager"], entry["operation"]))
    return found


class ControlPlaneTests(lifecycle.LifecycleBase):
    """Control plane resize, scoped and add-on upgrades, cert renewal."""

    # -- helpers --

    def setUp(self):
        super().setUp()
        self._template_ids = iter(range(40, 60))

    def template(self, labels, image_id="ubuntu-2404"):
        """A new cluster template (as an operator makes for an upgrade)."""
        return obj_utils.create_test_cluster_template(
            self.context, id=next(self._template_ids),
            uuid=str(uuid.uuid4()), name="t-" + uuid.uuid4().hex[:6],
            project_id=self.context.project_id,
            labels=dict(lifecycle.RDMA_LABELS, **labels),
            image_id=image_id, **lifecycle.TEMPLATE_FIXES)

    def created(self, **kw):
        cluster = self.make_cluster(**kw)
        self.driver.create_cluster(self.context, cluster, 30)
        cluster.save()
        return self.wait_status(cluster, fields.ClusterStatus
                                .CREATE_COMPLETE, timeout=180)

    def control_plane(self, cluster):
        return self.kube.get(
            "kubeadmcontrolplane", self.namespace(cluster),
            contract.CHART_CONTROL_PLANE_NAME % cluster.stack_id)

    def machine_deployment(self, cluster, group):
        found = self.kube.list(
            "machinedeployment", self.namespace(cluster),
            "%s=%s,%s=%s" % (contract.CHART_CLUSTER_LABEL, cluster.stack_id,
                             contract.CHART_NODE_GROUP_LABEL, group))
        assert len(found) == 1, found
        return found[0]

    def control_plane_machines(self, cluster):
        return [m for m in self.machines(cluster)
                if contract.CAPI_CONTROL_PLANE_LABEL in
                m["metadata"].get("labels", {})]

    def row(self, cluster, ng):
        return objects.NodeGroup.get(self.context, cluster.uuid, ng.uuid)

    def group(self, cluster, name=None, role=None):
        for ng in objects.NodeGroup.list(self.context, cluster.uuid):
            if (name is None or ng.name == name) and (
                    role is None or ng.role == role):
                return ng
        raise AssertionError("no node group %s/%s" % (name, role))

    def upgrade(self, cluster, template, nodegroup):
        """Magnum's conductor: the driver, then the statuses."""
        cluster.status = UPDATE_IN_PROGRESS
        cluster.save()
        self.driver.upgrade_cluster(self.context, cluster, template, 1,
                                    nodegroup)
        return self.wait_status(cluster, UPDATE_COMPLETE, timeout=180)

    def refused_upgrade(self, cluster, template, nodegroup):
        with pytest.raises(magnum_exception.NotSupported) as info:
            self.driver.upgrade_cluster(self.context, cluster, template, 1,
                                        nodegroup)
        return str(info.value)

    def resize_masters(self, cluster, count, nodes_to_remove=None):
        """Magnum's API and conductor resizing the master node group."""
        self.driver.validate_master_resize(count)
        master = self.group(cluster, role="master")
        master.node_count = count
        master.status = UPDATE_IN_PROGRESS
        master.save()
        cluster.status = UPDATE_IN_PROGRESS
        cluster.save()
        self.driver.resize_cluster(self.context, cluster, None, count,
                                   nodes_to_remove, master)
        return self.wait_status(cluster, UPDATE_COMPLETE, timeout=240)

    def delete(self, cluster):
        self.driver.delete_cluster(self.context, cluster)
        cluster.status = fields.ClusterStatus.DELETE_IN_PROGRESS
        cluster.save()
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.DELETE_COMPLETE,
                                   timeout=180)
        assert self.leftovers(cluster) == {}

    # -- tests --

    def test_control_plane_resize_up_and_back(self):
        cluster = self.created(name="cp", node_count=1,
                               master_lb_enabled=True)
        assert self.control_plane(cluster)["spec"]["replicas"] == 1
        assert len(cluster.master_addresses) == 1

        # An even number is refused before anything happens (etcd).
        with pytest.raises(magnum_exception.MasterNGSizeInvalid):
            self.driver.validate_master_resize(2)

        workers = sorted(m["metadata"]["name"] for m in self.machines(
            cluster, "default-worker"))
        cluster = self.resize_masters(cluster, 3)
        assert self.control_plane(cluster)["spec"]["replicas"] == 3
        assert len(self.control_plane_machines(cluster)) == 3
        assert len(cluster.master_addresses) == 3
        assert cluster.master_count == 3
        assert self.group(cluster, role="master").node_count == 3

        # Back to one, removing a chosen control plane machine first.
        victim = self.control_plane_machines(cluster)[1]
        server = victim["spec"]["providerID"].rsplit("/", 1)[-1]
        cluster = self.resize_masters(cluster, 1, [server])
        assert self.control_plane(cluster)["spec"]["replicas"] == 1
        left = self.control_plane_machines(cluster)
        assert len(left) == 1
        assert victim["metadata"]["name"] != left[0]["metadata"]["name"]
        assert len(cluster.master_addresses) == 1
        assert cluster.master_count == 1
        # The workers were not touched.
        assert sorted(m["metadata"]["name"] for m in self.machines(
            cluster, "default-worker")) == workers
        self.delete(cluster)

    def test_upgrade_scoped_to_one_node_group(self):
        cluster = self.created(name="scoped", node_count=1,
                               labels={"kube_tag": "v1.34.2"})
        # A node group left behind: its rows say v1.34.0 on an older
        # image (Magnum upgrades node groups one at a time). The same
        # minor as the control plane: Cluster API's kubeadm bootstrap
        # joins nodes at no other (its KubeadmVersionSkew preflight
        # check; see the refusal below).
        lag = obj_utils.create_test_nodegroup(
            self.context, cluster_id=cluster.uuid, uuid=str(uuid.uuid4()),
            name="lag", node_count=1, role="worker", is_default=False,
            labels=dict(cluster.labels), project_id=cluster.project_id,
            version="v1.34.0", image_id="ubuntu-2404-k1340",
            status=fields.ClusterStatus.CREATE_IN_PROGRESS)
        cluster.status = UPDATE_IN_PROGRESS
        cluster.save()
        self.driver.create_nodegroup(self.context, cluster, lag)
        cluster = self.wait_status(cluster, UPDATE_COMPLETE, timeout=180)
        md = self.machine_deployment(cluster, "lag")
        assert md["spec"]["template"]["spec"]["version"] == "v1.34.0"
        assert self.machine_deployment(cluster, "default-worker")[
            "spec"]["template"]["spec"]["version"] == "v1.34.2"
        assert self.control_plane(cluster)["spec"]["version"] == "v1.34.2"
        assert cluster.coe_version == "v1.34.2"

        # A new group at another minor than the control plane's would
        # never get machines: refused up front, nothing created.
        late = obj_utils.create_test_nodegroup(
            self.context, id=99, cluster_id=cluster.uuid,
            uuid=str(uuid.uuid4()), name="late", node_count=1,
            role="worker", is_default=False,
            labels=dict(cluster.labels), project_id=cluster.project_id,
            version="v1.33.1", image_id="ubuntu-2404-k133",
            status=fields.ClusterStatus.CREATE_IN_PROGRESS)
        with pytest.raises(magnum_exception.NotSupported) as info:
            self.driver.create_nodegroup(self.context, cluster, late)
        message = str(info.value)
        assert "node group 'late' at v1.33.1" in message, message
        assert "only at the control plane's minor version, v1.34.x" in (
            message)
        assert self.machines(cluster, "late") == []
        late.destroy()

        # The guard: a node group never runs a newer version than the
        # control plane; refused with nothing changed.
        newer = self.template({"kube_tag": "v1.34.3"}, "ubuntu-2404-k1343")
        message = self.refused_upgrade(cluster, newer, lag)
        assert "newer than the control plane (v1.34.2)" in message
        assert "lag" in message
        assert self.row(cluster, lag).version == "v1.34.0"
        assert self.row(cluster, lag).image_id == "ubuntu-2404-k1340"
        assert self.machine_deployment(cluster, "lag")["spec"]["template"][
            "spec"]["version"] == "v1.34.0"

        # The upgrade of that group alone, to its cluster's template (as
        # Magnum's API requires for a non-default group).
        others = {m["metadata"]["name"] for m in self.machines(cluster)
                  if m["metadata"]["labels"].get(
                      contract.CHART_NODE_GROUP_LABEL) != "lag"}
        template_id = cluster.cluster_template_id
        cluster = self.upgrade(cluster, cluster.cluster_template, lag)
        assert self.machine_deployment(cluster, "lag")["spec"]["template"][
            "spec"]["version"] == "v1.34.2"
        for machine in self.machines(cluster, "lag"):
            assert machine["spec"]["version"] == "v1.34.2"
        # Nothing else rolled, nothing else changed.
        assert others <= {m["metadata"]["name"]
                          for m in self.machines(cluster)}
        assert self.control_plane(cluster)["spec"]["version"] == "v1.34.2"
        assert cluster.cluster_template_id == template_id
        assert cluster.coe_version == "v1.34.2"
        row = self.row(cluster, lag)
        assert row.version == "v1.34.2"
        assert row.image_id == "ubuntu-2404"
        for ng in objects.NodeGroup.list(self.context, cluster.uuid):
            if ng.is_default:
                assert ng.version != "v1.34.0"

        # Again: it already runs that version and image.
        lag = self.row(cluster, lag)
        message = self.refused_upgrade(cluster, cluster.cluster_template,
                                       lag)
        assert "already runs" in message
        assert "nothing else to change" in message
        self.delete(cluster)

    def test_addon_only_upgrade_and_certificate_renewal(self):
        cluster = self.created(name="addons", node_count=1)
        release, ns = cluster.stack_id, self.namespace(cluster)
        kcp = self.control_plane(cluster)
        # The label's default, applied by the driver's own field manager.
        assert _renewal(kcp) == 30
        assert _managers_of_renewal(kcp) == [
            (contract.FIELD_MANAGER, "Apply")]

        # Helm upgrades the release by itself (as a helm run outside the
        # driver, or the first half of any driver operation) changing the
        # KubeadmControlPlane: its three-way merge keeps the driver's
        # field.
        spec = magnum_objects.build_spec(
            objects.Cluster.get_by_uuid(self.context, cluster.uuid))
        values = copy.deepcopy(magnum_objects.chart_values(spec, release))
        values["controlPlane"]["nodeDrainTimeout"] = "7m0s"
        runtime.shared().helm.install_or_upgrade(release, ns, values)
        kcp = self.control_plane(cluster)
        assert kcp["spec"]["machineTemplate"]["nodeDrainTimeout"] == "7m0s"
        assert _renewal(kcp) == 30
        assert _managers_of_renewal(kcp) == [
            (contract.FIELD_MANAGER, "Apply")]

        # Same Kubernetes, another Calico: an upgrade, not "already runs".
        machines = sorted(m["metadata"]["name"]
                          for m in self.machines(cluster))
        calico = self.template({"calico_tag": "v3.30.2"})
        worker = self.group(cluster, name="default-worker")
        cluster = self.upgrade(cluster, calico, worker)
        assert cluster.cluster_template_id == calico.uuid
        assert cluster.labels["calico_tag"] == "v3.30.2"
        assert cluster.coe_version == "v1.33.1"
        selector = "%s=%s" % (contract.CHART_CLUSTER_LABEL, release)
        cni = [h for h in self.kube.list("helmrelease", ns, selector)
               if h["metadata"]["name"].endswith("-cni-calico")]
        assert [h["spec"]["chart"]["version"] for h in cni] == ["v3.30.2"]
        assert sorted(m["metadata"]["name"]
                      for m in self.machines(cluster)) == machines
        assert _renewal(self.control_plane(cluster)) == 30

        # Only the renewal changes: an upgrade too, and the driver's
        # field follows; 0 removes it.
        longer = self.template({"calico_tag": "v3.30.2",
                                "certificate_renewal_days": "45"})
        cluster = self.upgrade(cluster, longer, worker)
        assert _renewal(self.control_plane(cluster)) == 45
        off = self.template({"calico_tag": "v3.30.2",
                             "certificate_renewal_days": "0"})
        cluster = self.upgrade(cluster, off, worker)
        kcp = self.control_plane(cluster)
        assert "rolloutBefore" not in kcp["spec"]
        assert _managers_of_renewal(kcp) == []
        assert sorted(m["metadata"]["name"]
                      for m in self.machines(cluster)) == machines

        # A template that changes nothing the driver installs: refused.
        same = self.template({"calico_tag": "v3.30.2",
                              "certificate_renewal_days": "0"})
        message = self.refused_upgrade(cluster, same, worker)
        assert "already runs" in message and "nothing else" in message
        row = objects.Cluster.get_by_uuid(self.context, cluster.uuid)
        assert row.cluster_template_id == off.uuid
        self.delete(cluster)
