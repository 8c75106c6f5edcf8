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
"""Smoke test of the whole bed: real helm, real kube-apiserver, simulator.

Install the real openstack-cluster chart 0.27.0 (``../shared/upstream``,
or ``MAGNUM_CAPI_RDMA_REAL_CHART``; skipped with one line when absent,
failed in CI) on the bed's real Cluster API and CAPO CRDs, let the Cluster
API simulator drive it to Ready, upgrade it (scale a node group, bump the
Kubernetes version), uninstall it and check that every object of the
release is gone.
"""

import subprocess
import time

from kubernetes import client
import pytest
import yaml

from magnum_capi_rdma.adapters import helm as helm_adapter
from tests.support import upstream

RELEASE = "smoke"
SELECTOR = "capi.stackhpc.com/cluster=%s" % RELEASE
CAPI = ("cluster.x-k8s.io", "v1beta1")
KCP = ("controlplane.cluster.x-k8s.io", "v1beta1")
INFRA = ("infrastructure.cluster.x-k8s.io", "v1beta1")
BOOTSTRAP = ("bootstrap.cluster.x-k8s.io", "v1beta1")
ADDONS = ("addons.stackhpc.com", "v1alpha1")

RELEASE_OBJECTS = [
    (CAPI, "clusters"), (CAPI, "machinedeployments"), (CAPI, "machinesets"),
    (CAPI, "machines"), (CAPI, "machinehealthchecks"),
    (KCP, "kubeadmcontrolplanes"), (INFRA, "openstackclusters"),
    (INFRA, "openstackmachinetemplates"), (BOOTSTRAP,
                                           "kubeadmconfigtemplates"),
    (ADDONS, "helmreleases"), (ADDONS, "manifests"),
]


def values(workers, version):
    return {
        "kubernetesVersion": version,
        "machineImageId": "0f2d5b0e-7d4c-4f6a-9c1e-3b8a2d6e5f41",
        "cloudCredentialsSecretName": "%s-cloud-credentials" % RELEASE,
        "controlPlane": {"machineFlavor": "m1.medium", "machineCount": 1},
        "nodeGroups": [
            {"name": "md-0", "machineFlavor": "m1.small",
             "machineCount": workers},
            {"name": "gpu", "machineFlavor": "g1.large", "autoscale": True,
             "machineCountMin": 1, "machineCountMax": 3},
        ],
        "addons": {
            "nodeFeatureDiscovery": {"enabled": True},
            "custom": {"rdma": {"kind": "Manifests", "spec": {
                "namespace": "network-operator",
                "manifests": {"p.yaml": "kind: NicClusterPolicy\n"}}}},
        },
    }


class Bed(object):
    """Helpers over one namespace of the bed."""

    def __init__(self, api_client, kubeconfig, helm_bin, namespace, tmp):
        self.objects = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)
        self.helm_cmd = [helm_bin, "--kubeconfig", kubeconfig,
                         "--namespace", namespace]
        self.namespace = namespace
        self.tmp = tmp

    def helm(self, *args, values_=None):
        argv = self.helm_cmd + list(args)
        if values_ is not None:
            path = self.tmp / "values.yaml"
            path.write_text(yaml.safe_dump(values_))
            argv += ["--values", str(path)]
        done = subprocess.run(argv, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, "helm %s: %s" % (args[0], done.stderr)
        assert not helm_adapter.dropped_fields(done.stderr), done.stderr

    def list(self, group_version, plural, selector=SELECTOR):
        return self.objects.list_namespaced_custom_object(
            *group_version, self.namespace, plural,
            label_selector=selector)["items"]

    def get(self, group_version, plural, name):
        return self.objects.get_namespaced_custom_object(
            *group_version, self.namespace, plural, name)

    def remaining(self):
        """{plural: [names]} of release objects still present."""
        left = {plural: [o["metadata"]["name"] for o in
                         self.list(group_version, plural, selector=None)]
                for group_version, plural in RELEASE_OBJECTS}
        left["secrets"] = [s.metadata.name for s in
                           self.core.list_namespaced_secret(
                               self.namespace).items
                           if s.metadata.name.startswith(RELEASE)
                           or RELEASE in (s.metadata.labels or {}).values()]
        return {k: v for k, v in left.items() if v}


def converge(sim, check, what, timeout=120):
    """Step the simulator until ``check()`` is truthy."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        sim.step()
        try:
            last = check()
        except AssertionError as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.05)
    pytest.fail("not converged after %ss: %s (last: %s)" % (
        timeout, what, last))


def _condition(obj, type_):
    for condition in (obj.get("status") or {}).get("conditions") or ():
        if condition.get("type") == type_:
            return condition.get("status")
    return None


def machines_ok(bed, counts, version):
    """``counts``: {node group (None: control plane): number of Machines}."""
    machines = bed.list(CAPI, "machines")
    live = [m for m in machines
            if not m["metadata"].get("deletionTimestamp")]
    groups = [m["metadata"]["labels"].get("capi.stackhpc.com/node-group")
              for m in live]
    assert {g: groups.count(g) for g in set(groups)} == counts, groups
    assert len(machines) == len(live), "machines still deleting"
    for machine in live:
        assert machine["spec"].get("version") == version, machine["spec"]
        assert (machine.get("status") or {}).get("phase") == "Running"
    return True


def cluster_ready(bed):
    cluster = bed.get(CAPI, "clusters", RELEASE)
    assert (cluster.get("status") or {}).get("phase") == "Provisioned"
    assert _condition(cluster, "Ready") == "True", cluster.get("status")
    kcp = bed.get(KCP, "kubeadmcontrolplanes", RELEASE + "-control-plane")
    assert (kcp.get("status") or {}).get("readyReplicas") == kcp["spec"][
        "replicas"]
    for group_version, plural in ((ADDONS, "helmreleases"),
                                  (ADDONS, "manifests")):
        for addon in bed.list(group_version, plural):
            assert (addon.get("status") or {}).get("phase") == "Deployed", (
                addon["metadata"]["name"], addon.get("status"))
    return True


def test_install_ready_upgrade_uninstall(kube_api_client, kubeconfig,
                                         helm_bin, namespace, tmp_path):
    from magnum_capi_rdma_dev.simulator import Simulator

    chart = str(upstream.require_real_chart())
    bed = Bed(kube_api_client, kubeconfig, helm_bin, namespace, tmp_path)
    sim = Simulator(kube_api_client, namespace=namespace)

    started = time.monotonic()
    bed.helm("install", RELEASE, chart, values_=values(2, "1.33.1"))
    converge(sim, lambda: cluster_ready(bed) and machines_ok(
        bed, {None: 1, "md-0": 2, "gpu": 1}, "v1.33.1"),
        "Ready with 1 + 2 + 1 machines at v1.33.1")
    print("install -> Ready: %.1fs" % (time.monotonic() - started))
    assert len(bed.list(ADDONS, "helmreleases")) >= 4
    assert RELEASE + "-rdma" in [m["metadata"]["name"]
                                 for m in bed.list(ADDONS, "manifests")]
    assert bed.list(CAPI, "machinesets", selector=None)

    # The autoscaler's way: the scale subresource of the MachineDeployment.
    bed.objects.patch_namespaced_custom_object_scale(
        *CAPI, namespace, "machinedeployments", RELEASE + "-gpu",
        {"spec": {"replicas": 2}})
    converge(sim, lambda: machines_ok(
        bed, {None: 1, "md-0": 2, "gpu": 2}, "v1.33.1"),
        "autoscaled node group at 2")
    before = {m["metadata"]["name"] for m in bed.list(CAPI, "machines")}

    started = time.monotonic()
    bed.helm("upgrade", RELEASE, chart, values_=values(3, "1.33.2"))
    converge(sim, lambda: machines_ok(
        bed, {None: 1, "md-0": 3, "gpu": 2}, "v1.33.2")
        and cluster_ready(bed),
        "upgraded to 1 + 3 + 2 machines at v1.33.2 (autoscaled count kept)")
    print("upgrade -> converged: %.1fs" % (time.monotonic() - started))
    md = bed.get(CAPI, "machinedeployments", RELEASE + "-md-0")
    assert md["status"]["replicas"] == 3
    after = {m["metadata"]["name"] for m in bed.list(CAPI, "machines")}
    assert not before & after, "a version bump replaces every machine"

    started = time.monotonic()
    bed.helm("uninstall", RELEASE)
    converge(sim, lambda: bed.remaining() == {}, "everything deleted")
    print("uninstall -> gone: %.1fs" % (time.monotonic() - started))
