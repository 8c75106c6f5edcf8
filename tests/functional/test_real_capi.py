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
"""The driver against Cluster API's *own* controllers.

Real: etcd + kube-apiserver, kube-controller-manager (garbage collector,
namespace controller), Cluster API's core, kubeadm bootstrap and kubeadm
control-plane managers and the in-memory provider's manager (all built
from sigs.k8s.io/cluster-api v1.13.3, with their CRDs and webhooks as
``kustomize build`` renders them from the same source; ``bed/capi.py``),
the public openstack-cluster chart 0.27.0, helm, the driver. Simulated:
CAPO, by mirroring each OpenStackCluster / OpenStackMachine onto the
in-memory provider (``simulator/capo.py``), and the add-on provider.
Everything of a Cluster API kind (Cluster, KubeadmControlPlane,
MachineDeployment, MachineSet, Machine, KubeadmConfig, the kubeconfig
Secret) is written by Cluster API: the test checks who wrote each status.
"""

import time

from kubernetes import client
from kubernetes import config
from magnum.objects import fields
import pytest

from magnum_capi_rdma_dev.bed import capi
from magnum_capi_rdma_dev.bed import cluster as bed_cluster
from magnum_capi_rdma_dev.bed import tools
from magnum_capi_rdma_dev.simulator import capo
from magnum_capi_rdma_dev.simulator import core
from tests.conftest import require_bed_tools
from tests.support import control_plane
from tests.support import lifecycle
from tests.support import upstream

#: The Cluster API kinds whose status only Cluster API may write here.
CAPI_KINDS = (
    ("cluster.x-k8s.io", "v1beta2", "clusters"),
    ("cluster.x-k8s.io", "v1beta2", "machinedeployments"),
    ("cluster.x-k8s.io", "v1beta2", "machinesets"),
    ("cluster.x-k8s.io", "v1beta2", "machines"),
    ("controlplane.cluster.x-k8s.io", "v1beta2", "kubeadmcontrolplanes"),
    ("bootstrap.cluster.x-k8s.io", "v1beta2", "kubeadmconfigs"),
)
#: The Python client's default field manager (the simulator, the driver).
PYTHON_CLIENT = "OpenAPI-Generator"


@pytest.fixture(scope="module")
def capi_bed(tmp_path_factory, summary_line):
    """A management cluster running Cluster API's managers."""
    require_bed_tools()
    missing = tools.missing_tools(tools.CAPI_TOOLS)
    if missing:
        pytest.fail("Cluster API binaries missing (%s): run "
                    "tools/install-test-tools" % ", ".join(missing),
                    pytrace=False)
    try:
        capi.manifests_dir()
    except tools.ToolMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    path = upstream.require_upstream()
    bed = bed_cluster.ManagementCluster(
        str(tmp_path_factory.mktemp("real-capi")))
    bed.start()
    try:
        began = time.monotonic()
        capi.ClusterAPI(bed, path).start()
        line = ("real Cluster API bed: %s managers + kube-controller-"
                "manager ready in %.1fs" % (capi.version(),
                                            time.monotonic() - began))
        print(line)
        summary_line(line)
        yield bed
    finally:
        bed.stop()


@pytest.fixture(scope="module")
def capo_mirror(capi_bed):
    api_client = config.new_client_from_config(capi_bed.kubeconfig)
    sim = core.Simulator(api_client, real_capi=True)
    sim.start()
    yield sim
    sim.stop()
    api_client.close()


class OnRealClusterAPI(object):
    """The driver on the bed with Cluster API's managers."""

    @pytest.fixture(autouse=True)
    def _bed(self, capi_bed, capo_mirror, helm_bin, summary_line):
        self.summary_line = summary_line
        self.helm_bin = helm_bin
        self.bed = capi_bed
        self.sim = capo_mirror


class TestLifecycleOnRealClusterAPI(OnRealClusterAPI,
                                    lifecycle.LifecycleTests):
    """Every lifecycle test of the simulated bed, on real Cluster API."""


class TestControlPlaneOnRealClusterAPI(OnRealClusterAPI,
                                       control_plane.ControlPlaneTests):
    """Control plane 1->3->1, scoped upgrades, on real Cluster API."""


class TestRealClusterAPI(OnRealClusterAPI, lifecycle.LifecycleBase):
    """Create, resize and delete, with Cluster API doing its own part."""

    BASE_LABELS = {"kube_tag": "v1.33.1"}

    def custom(self):
        return client.CustomObjectsApi(self.kube.api_client)

    def status_writers(self, namespace):
        """{(plural, name): managers of its status} of every CAPI object."""
        found = {}
        for group, version, plural in CAPI_KINDS:
            items = self.custom().list_namespaced_custom_object(
                group, version, namespace, plural)["items"]
            for obj in items:
                found[(plural, obj["metadata"]["name"])] = {
                    entry["manager"]
                    for entry in obj["metadata"].get("managedFields") or ()
                    if entry.get("subresource") == "status"}
        return found

    def test_create_resize_delete(self):
        took = {}
        began = time.monotonic()
        cluster = self.make_cluster(node_count=2, name="real")
        self.driver.create_cluster(self.context, cluster, 30)
        cluster.save()
        cluster = self.wait_status(
            cluster, fields.ClusterStatus.CREATE_COMPLETE, timeout=600)
        took["create"] = time.monotonic() - began
        ns = self.namespace(cluster)
        # The endpoint of the in-memory provider's API server, copied
        # to the OpenStackCluster and through Cluster API to Magnum.
        assert cluster.api_address.startswith("https://127.0.0.1:")
        assert len(cluster.master_addresses) == 1
        assert len(cluster.node_addresses) == 2
        # Cluster API's own verdict follows within its reconcile passes
        # (its Available condition is computed from the
        # MachineDeployments' after their status is written).

        def available():
            cl = self.custom().get_namespaced_custom_object(
                "cluster.x-k8s.io", "v1beta2", ns, "clusters",
                cluster.stack_id)
            return any(c["type"] == "Available" and c["status"] == "True"
                       for c in cl["status"].get("conditions") or ())
        lifecycle.wait_for(available, 120, 0.5,
                           what="the Cluster's v1beta2 Available=True")
        writers = self.status_writers(ns)
        assert {plural for plural, _ in writers} == {
            p for _, _, p in CAPI_KINDS}, writers
        for key, managers in writers.items():
            assert managers and PYTHON_CLIENT not in managers, (key,
                                                                managers)
        print("status written by: %s" % sorted(
            {m for managers in writers.values() for m in managers}))

        # resize down by the name of a chosen server: exactly that
        # Machine goes (Cluster API's delete-machine annotation)
        worker = [ng for ng in cluster.nodegroups
                  if ng.role != "master"][0]
        victim = self.machines(cluster, worker.name)[0]
        server = victim["spec"]["providerID"].rsplit("/", 1)[-1]
        worker.node_count = 1
        worker.save()
        cluster.status = fields.ClusterStatus.UPDATE_IN_PROGRESS
        cluster.save()
        began = time.monotonic()
        self.driver.resize_cluster(self.context, cluster, None, 1, [server],
                                   worker)
        cluster = self.wait_status(
            cluster, fields.ClusterStatus.UPDATE_COMPLETE, timeout=300)
        took["resize"] = time.monotonic() - began
        names = [m["metadata"]["name"]
                 for m in self.machines(cluster, worker.name)]
        assert names and victim["metadata"]["name"] not in names
        assert len(names) == 1
        assert len(cluster.node_addresses) == 1

        # delete: nothing left, the mirrors included
        began = time.monotonic()
        self.driver.delete_cluster(self.context, cluster)
        cluster.status = fields.ClusterStatus.DELETE_IN_PROGRESS
        cluster.save()
        cluster = self.wait_status(
            cluster, fields.ClusterStatus.DELETE_COMPLETE, timeout=300)
        took["delete"] = time.monotonic() - began
        assert self.leftovers(cluster) == {}
        for plural in ("devclusters", "devmachines"):
            left = self.custom().list_namespaced_custom_object(
                capo.DEV_GROUP, capo.DEV_VERSION, ns, plural)["items"]
            assert left == [], plural
        self.summary_line(
            "real Cluster API: create (1 control plane, 2 workers) to "
            "CREATE_COMPLETE %(create).0fs, resize 2->1 by server "
            "%(resize).0fs, delete to nothing %(delete).0fs" % took)
