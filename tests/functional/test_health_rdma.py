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
"""Health on the real bed, with a real workload cluster for RDMA readiness.

A second etcd + kube-apiserver plays the workload cluster: it holds the
NVIDIA network operator's NicClusterPolicy and Nodes that advertise the
RDMA resource. The simulator writes that cluster's kubeconfig Secret as
Cluster API would, so the driver's monitor reaches it the same way it
reaches a real workload cluster.
"""

import kubernetes
from magnum import objects
from magnum.objects import fields
import pytest

from magnum_capi_rdma.adapters import workload as workload_adapter
from magnum_capi_rdma.services import monitor
from magnum_capi_rdma.services import runtime
from magnum_capi_rdma_dev.bed import cluster as bed_cluster
from magnum_capi_rdma_dev.simulator import Simulator
from tests.support import lifecycle

RESOURCE = "rdma/rdma_shared_device_a"
POLICY_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "nicclusterpolicies.mellanox.com"},
    "spec": {
        "group": "mellanox.com",
        "scope": "Cluster",
        "names": {"plural": "nicclusterpolicies",
                  "singular": "nicclusterpolicy",
                  "kind": "NicClusterPolicy"},
        "versions": [{
            "name": "v1alpha1", "served": True, "storage": True,
            "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True}},
        }],
    },
}


@pytest.fixture(scope="module")
def workload_cluster(tmp_path_factory):
    bed = bed_cluster.ManagementCluster(
        str(tmp_path_factory.mktemp("workload"))).start()
    try:
        api = kubernetes.config.new_client_from_config(bed.kubeconfig)
        ext = kubernetes.client.ApiextensionsV1Api(api)
        ext.create_custom_resource_definition(POLICY_CRD)
        lifecycle.wait_for(
            lambda: any(c.type == "Established" and c.status == "True"
                        for c in (ext.read_custom_resource_definition(
                            POLICY_CRD["metadata"]["name"]).status
                            .conditions or ())),
            timeout=30, what="NicClusterPolicy CRD")
        yield bed, api
    finally:
        bed.stop()


@pytest.fixture
def simulator(kube_api_client, workload_cluster):
    """The simulator, writing the workload cluster's real kubeconfig."""
    bed, _ = workload_cluster
    with open(bed.kubeconfig) as f:
        sim = Simulator(kube_api_client, workload_kubeconfig=f.read())
    sim.start(interval=0.2)
    try:
        yield sim
    finally:
        sim.stop()


def set_policy_state(api, state):
    custom = kubernetes.client.CustomObjectsApi(api)
    try:
        custom.create_cluster_custom_object(
            "mellanox.com", "v1alpha1", "nicclusterpolicies",
            {"apiVersion": "mellanox.com/v1alpha1",
             "kind": "NicClusterPolicy",
             "metadata": {"name": "nic-cluster-policy"}, "spec": {}})
    except kubernetes.client.ApiException as exc:
        if exc.status != 409:
            raise
    custom.patch_cluster_custom_object_status(
        "mellanox.com", "v1alpha1", "nicclusterpolicies",
        "nic-cluster-policy", {"status": {"state": state}})


def add_nodes(api, names, rdma):
    core = kubernetes.client.CoreV1Api(api)
    for name in names:
        core.create_node({"metadata": {"name": name}})
        allocatable = {"cpu": "4", "memory": "8Gi"}
        if rdma:
            allocatable[RESOURCE] = "1"
        core.patch_node_status(name, {"status": {
            "capacity": allocatable, "allocatable": allocatable}})


class TestHealth(lifecycle.LifecycleBase):

    @pytest.fixture(autouse=True)
    def _workload(self, workload_cluster):
        self.workload = workload_cluster[1]

    def test_rdma_readiness_and_autoscaled_counts(self):
        cluster = self.make_cluster(name="healthy", node_count=2)
        self.driver.create_cluster(self.context, cluster, 30)
        cluster.save()
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.CREATE_COMPLETE)

        # The operator is still rolling out: policy not ready, one node.
        set_policy_state(self.workload, "notReady")
        add_nodes(self.workload, ["w-0"], rdma=True)
        monitor = self.driver.get_monitor(self.context, cluster)
        monitor.poll_health_status()
        assert monitor.data["health_status"] == "UNHEALTHY"
        rdma = monitor.data["health_status_reason"]["rdma"]
        assert rdma == ("NicClusterPolicy notReady, 1/2 nodes advertise "
                        "%s" % RESOURCE)

        # Ready, and both RDMA nodes advertise the resource.
        set_policy_state(self.workload, "ready")
        add_nodes(self.workload, ["w-1"], rdma=True)
        add_nodes(self.workload, ["cp-0"], rdma=False)
        monitor.poll_health_status()
        reason = monitor.data["health_status_reason"]
        assert monitor.data["health_status"] == "HEALTHY", reason
        assert reason["rdma"] == ("NicClusterPolicy ready, 2/2 nodes "
                                  "advertise %s" % RESOURCE)
        assert reason["control plane"] == "ok"
        assert reason["node group default-worker"] == "ok"

        # The cluster autoscaler grows the group: the count reaches
        # Magnum through the health poll.
        md_name = "%s-default-worker" % cluster.stack_id
        self.kube.patch("machinedeployment", self.namespace(cluster),
                        md_name, {"spec": {"replicas": 3}})
        lifecycle.wait_for(
            lambda: len(self.machines(cluster, "default-worker")) == 3,
            what="third worker")
        runtime.shared().observer.invalidate()
        monitor.poll_health_status()
        worker = [ng for ng in objects.NodeGroup.list(
            self.context, cluster.uuid) if ng.role != "master"][0]
        assert worker.node_count == 3

        self.driver.delete_cluster(self.context, cluster)
        cluster.status = fields.ClusterStatus.DELETE_IN_PROGRESS
        cluster.save()
        self.wait_status(cluster, fields.ClusterStatus.DELETE_COMPLETE)

    def test_one_client_per_workload_cluster_across_passes(self):
        """One client per workload cluster, reused by every health pass.

        The kubeconfig is read once and one TLS connection serves every
        pass; a client that fails is made again.
        """
        cluster = self.make_cluster(name="reused", node_count=1)
        self.driver.create_cluster(self.context, cluster, 30)
        cluster.save()
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.CREATE_COMPLETE)
        set_policy_state(self.workload, "ready")
        clients = workload_adapter.CLIENTS
        key = (self.namespace(cluster), cluster.stack_id)
        monitor = self.driver.get_monitor(self.context, cluster)
        monitor.poll_health_status()     # reads the Secret, connects
        assert monitor.data["health_status_reason"]["rdma"].startswith(
            "NicClusterPolicy ready"), monitor.data
        reads, made = clients.secret_reads, clients.made
        kube_requests = runtime.shared().kube.requests
        assert clients.connections(*key) == 1
        for _ in range(10):
            monitor.poll_health_status()
            assert monitor.data["health_status_reason"]["rdma"].startswith(
                "NicClusterPolicy ready"), monitor.data
        # No Secret read, no management cluster request, no new TLS
        # handshake: ten passes on the first connection.
        assert (clients.secret_reads, clients.made) == (reads, made)
        assert runtime.shared().kube.requests == kube_requests
        assert clients.connections(*key) == 1
        # A client whose server went away is dropped; the next pass reads
        # the kubeconfig again.
        clients.get(self.kube, *key).failed = True
        with workload_adapter.connect(self.kube, *key):
            pass
        monitor.poll_health_status()
        assert clients.secret_reads == reads + 1

    def test_unreachable_workload_cluster_is_unknown_not_unhealthy(self):
        cluster = self.make_cluster(name="nowhere", node_count=1)
        self.driver.create_cluster(self.context, cluster, 30)
        cluster.save()
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.CREATE_COMPLETE)
        ns = self.namespace(cluster)
        self.kube.apply_secret(
            ns, "%s-kubeconfig" % cluster.stack_id,
            {"value": "apiVersion: v1\nkind: Config\nclusters: []\n"},
            labels={"cluster.x-k8s.io/cluster-name": cluster.stack_id})
        monitor = self.driver.get_monitor(self.context, cluster)
        monitor.poll_health_status()
        reason = monitor.data["health_status_reason"]
        assert reason["rdma"].startswith("unknown:"), reason
        self.driver.delete_cluster(self.context, cluster)
        cluster.status = fields.ClusterStatus.DELETE_IN_PROGRESS
        cluster.save()
        self.wait_status(cluster, fields.ClusterStatus.DELETE_COMPLETE)


def test_monitor_is_magnums_monitor_type():
    from magnum.conductor import monitors
    assert issubclass(monitor.Monitor, monitors.MonitorBase)
