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
"""The test chart honours the chart contract (rendered with real helm).

Kept on the test chart on purpose: it is the test of that chart, which
still serves where the real one cannot (the status-sync benchmark and
``test_status_scale``, whose seed must stay the objects its published
figures were measured on; ``tools/stack`` on a clone without
``../shared/upstream``). Everything else installs the real chart.
"""

import os
import subprocess

import pytest
import yaml

CHART = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "charts", "openstack-cluster")

NET_RDMA = "5b8c2e1a-9d4f-4c3b-8a7e-6f1d2c3b4a59"
VALUES = {
    "kubernetesVersion": "1.33.1",
    # IDs: CAPO's schema takes only UUIDs (the bed serves it).
    "machineImageId": "0f2d5b0e-7d4c-4f6a-9c1e-3b8a2d6e5f41",
    "cloudCredentialsSecretName": "creds",
    "controlPlane": {"machineFlavor": "m1.cp", "machineCount": 3},
    "nodeGroupDefaults": {"nodeLabels": {"site": "a"}},
    "nodeGroups": [
        {"name": "md-0", "machineFlavor": "m1.small", "machineCount": 2},
        {"name": "gpu", "machineFlavor": "g1", "autoscale": True,
         "machineCountMin": 1, "machineCountMax": 4,
         "kubernetesVersion": "1.32.5",
         "machineNetworking": {"ports": [
             {}, {"network": {"id": NET_RDMA}, "vnicType": "direct"}]}},
    ],
    "addons": {
        "nvidiaGPUOperator": {"enabled": True,
                              "release": {"values": {"x": 1}}},
        "custom": {
            "rdma": {"kind": "Manifests", "spec": {
                "namespace": "network-operator",
                "manifests": {"policy.yaml": "kind: NicClusterPolicy\n"}}},
            "extra": {"kind": "HelmRelease", "spec": {
                "namespace": "extra",
                "chart": {"repo": "https://charts.invalid/x",
                          "name": "x", "version": "1.0.0"},
                "values": {"a": 1}}},
        },
    },
}


def _template(helm_bin, tmp_path, values, release="demo"):
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return subprocess.run(
        [helm_bin, "template", release, CHART, "--namespace", "ns",
         "--values", str(path)],
        capture_output=True, text=True, timeout=60)


@pytest.fixture
def rendered(helm_bin, tmp_path):
    result = _template(helm_bin, tmp_path, VALUES)
    assert result.returncode == 0, result.stderr
    return {(doc["kind"], doc["metadata"]["name"]): doc
            for doc in yaml.safe_load_all(result.stdout) if doc}


def _one(rendered, kind, prefix):
    names = [name for k, name in rendered if k == kind
             and name.startswith(prefix)]
    assert len(names) == 1, (kind, prefix, names)
    return rendered[(kind, names[0])]


def test_core_objects_and_names(rendered):
    for kind, name in [("Cluster", "demo"), ("OpenStackCluster", "demo"),
                       ("KubeadmControlPlane", "demo-control-plane"),
                       ("MachineDeployment", "demo-md-0"),
                       ("MachineDeployment", "demo-gpu"),
                       ("MachineHealthCheck", "demo-control-plane"),
                       ("MachineHealthCheck", "demo-md-0")]:
        assert (kind, name) in rendered, (kind, name)
    kcp = rendered[("KubeadmControlPlane", "demo-control-plane")]
    assert kcp["spec"]["replicas"] == 3
    assert kcp["spec"]["version"] == "v1.33.1"
    for prefix in ("demo-control-plane-", "demo-md-0-", "demo-gpu-"):
        _one(rendered, "OpenStackMachineTemplate", prefix)
    _one(rendered, "KubeadmConfigTemplate", "demo-md-0-")


def test_labels_follow_the_contract(rendered):
    for (kind, name), doc in rendered.items():
        labels = doc["metadata"]["labels"]
        assert labels["capi.stackhpc.com/cluster"] == "demo", name
        assert labels["capi.stackhpc.com/managed-by"] == "Helm", name
    md = rendered[("MachineDeployment", "demo-gpu")]
    assert md["metadata"]["labels"]["capi.stackhpc.com/component"] == (
        "worker")
    assert md["metadata"]["labels"]["capi.stackhpc.com/node-group"] == "gpu"
    assert md["spec"]["template"]["metadata"]["labels"][
        "capi.stackhpc.com/node-group"] == "gpu"


def test_node_groups_counts_autoscale_and_overrides(rendered):
    fixed = rendered[("MachineDeployment", "demo-md-0")]
    assert fixed["spec"]["replicas"] == 2
    assert "annotations" not in fixed["metadata"]
    assert fixed["spec"]["template"]["spec"]["version"] == "v1.33.1"
    scaled = rendered[("MachineDeployment", "demo-gpu")]
    assert "replicas" not in scaled["spec"]
    prefix = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-"
    assert scaled["metadata"]["annotations"] == {
        prefix + "min-size": "1", prefix + "max-size": "4"}
    assert scaled["spec"]["template"]["spec"]["version"] == "v1.32.5"
    template = rendered[("OpenStackMachineTemplate", scaled["spec"][
        "template"]["spec"]["infrastructureRef"]["name"])]
    ports = template["spec"]["template"]["spec"]["ports"]
    assert ports[1] == {"network": {"id": NET_RDMA}, "vnicType": "direct"}
    kct = rendered[("KubeadmConfigTemplate", scaled["spec"]["template"][
        "spec"]["bootstrap"]["configRef"]["name"])]
    assert "site=a" in yaml.safe_dump(kct["spec"])


def test_addons_builtin_and_custom(rendered):
    for name in ("demo-cni-calico", "demo-ccm-openstack", "demo-csi-cinder",
                 "demo-nvidia-gpu-operator", "demo-extra"):
        release = rendered[("HelmRelease", name)]
        assert release["spec"]["clusterName"] == "demo"
        assert ("Secret", name + "-config") in rendered
    assert ("HelmRelease", "demo-mellanox-network-operator") not in rendered
    manifests = rendered[("Manifests", "demo-rdma")]
    assert manifests["spec"]["clusterName"] == "demo"
    assert manifests["spec"]["targetNamespace"] == "network-operator"
    secret_name = manifests["spec"]["manifestSources"][0]["secret"]["name"]
    text = rendered[("Secret", secret_name)]["stringData"]["policy.yaml"]
    assert "kind: NicClusterPolicy" in text
    assert text.lstrip().startswith("{%- raw %}")
    extra = rendered[("Secret", "demo-extra-config")]["stringData"]["values"]
    assert "a: 1" in extra


def test_changing_a_machine_spec_renames_its_template(helm_bin, tmp_path):
    first = _template(helm_bin, tmp_path, VALUES)
    changed = dict(VALUES, machineImageId="image-2")
    second = _template(helm_bin, tmp_path, changed)
    assert first.returncode == second.returncode == 0

    def names(out):
        return {d["metadata"]["name"] for d in yaml.safe_load_all(out)
                if d and d["kind"] == "OpenStackMachineTemplate"}
    assert len(names(first.stdout) & names(second.stdout)) == 0


@pytest.mark.parametrize("change, message", [
    ({"nodeGroups": [{"name": "Bad_Name", "machineCount": 1}]},
     "nodeGroups[0].name"),
    ({"nodeGroups": [{"name": "ok-group", "autoscale": True,
                      "machineCountMax": 3}]},
     "machineCountMin is required"),
    ({"addons": {"custom": {"x": {"kind": "Nope", "spec": {}}}}},
     "addons.custom.x.kind"),
])
def test_bad_values_fail_with_a_clear_message(helm_bin, tmp_path, change,
                                              message):
    result = _template(helm_bin, tmp_path, dict(VALUES, **change))
    assert result.returncode != 0
    assert message in result.stderr


def test_installs_and_uninstalls_on_the_bed(helm_bin, kubeconfig, namespace,
                                            kube_api_client, tmp_path):
    from kubernetes import client

    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(VALUES))
    helm = [helm_bin, "--kubeconfig", kubeconfig, "--namespace", namespace]
    done = subprocess.run(
        helm + ["install", "demo", CHART, "--values", str(path)],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    objects = client.CustomObjectsApi(kube_api_client)
    selector = "capi.stackhpc.com/cluster=demo"

    def count(group, version, plural):
        return len(objects.list_namespaced_custom_object(
            group, version, namespace, plural,
            label_selector=selector)["items"])
    assert count("cluster.x-k8s.io", "v1beta1", "machinedeployments") == 2
    assert count("addons.stackhpc.com", "v1alpha1", "manifests") == 1
    done = subprocess.run(helm + ["uninstall", "demo", "--wait"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert count("cluster.x-k8s.io", "v1beta1", "clusters") == 0
    assert count("addons.stackhpc.com", "v1alpha1", "helmreleases") == 0
    secrets = client.CoreV1Api(kube_api_client).list_namespaced_secret(
        namespace, label_selector=selector).items
    assert secrets == []
