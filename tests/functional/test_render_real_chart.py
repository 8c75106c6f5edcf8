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
"""Values rendered from the examples, accepted by the real chart.

The real ``openstack-cluster`` chart 0.27.0 (``../shared/upstream``, read
as it is, or ``MAGNUM_CAPI_RDMA_REAL_CHART``; skipped with one line when
absent, failed in CI) rendered with ``helm template`` and the pinned helm
(``tools/install-test-tools``). The manifests the chart embeds are
rendered through Jinja2 the way the addon provider does, to prove the raw
blocks hold. Every object rendered for the management cluster is then
created (dry run) with strict field validation on the bed, which serves
Cluster API's and CAPO's own CRDs: a field they do not have, or a value
their schemas refuse, fails the test.
"""

import pathlib
import subprocess
import uuid

import jinja2
import pytest
import yaml

from magnum_capi_rdma import spec
from magnum_capi_rdma import values
from tests.support import upstream

ROOT = pathlib.Path(__file__).resolve().parents[2]
RELEASE = "rc1"
NAMESPACE = "magnum-p"
#: Site settings the examples need (ib-sriov: the CNI is in the image).
SITE_OPTIONS = {"ib_sriov_cni_in_image": True}


@pytest.fixture(scope="module")
def chart():
    return upstream.require_real_chart()


def example_values(example):
    """The driver's spec and values for an example."""
    with open(ROOT / "examples" / ("%s.yaml" % example)) as handle:
        cluster_spec = spec.build_spec(yaml.safe_load(handle),
                                       site_options=dict(SITE_OPTIONS))
    return cluster_spec, values.build_values(cluster_spec, "creds")


def render(example, tmp_path, chart, helm_bin, namespace=NAMESPACE):
    cluster_spec, built = example_values(example)
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(built))
    result = subprocess.run(
        [helm_bin, "template", RELEASE, str(chart), "--namespace",
         namespace, "--values", str(path)],
        capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    return cluster_spec, docs


def of_kind(docs, kind):
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def group_templates(docs):
    """Node group name -> OpenStackMachineTemplate of that group."""
    found = {}
    for doc in of_kind(docs, "OpenStackMachineTemplate").values():
        group = doc["metadata"]["labels"].get("capi.stackhpc.com/node-group")
        if group:
            found[group] = doc
    return found


def addon_files(docs, name):
    """The files of a Manifests add-on, rendered as the provider does."""
    secret = of_kind(docs, "Secret")["%s-%s-config" % (RELEASE, name)]
    env = jinja2.Environment()
    return {key: yaml.safe_load(env.from_string(text).render())
            for key, text in secret["stringData"].items()}


def rdma_ports(template):
    ports = template["spec"]["template"]["spec"].get("ports", [])
    return [p for p in ports if p.get("vnicType")]


def test_macvlan_gpu(tmp_path, chart, helm_bin):
    cluster_spec, docs = render("macvlan-gpu", tmp_path, chart, helm_bin)
    deployments = of_kind(docs, "MachineDeployment")
    assert sorted(deployments) == ["rc1-default-worker", "rc1-gpu-rdma"]
    gpu = deployments["rc1-gpu-rdma"]
    annotations = gpu["metadata"]["annotations"]
    assert annotations[
        "cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size"] == "1"
    assert annotations[
        "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size"] == "4"
    assert gpu["spec"]["template"]["spec"]["failureDomain"] == "az-gpu"
    templates = group_templates(docs)
    assert rdma_ports(templates["default-worker"]) == []
    (port,) = rdma_ports(templates["gpu-rdma"])
    assert port["vnicType"] == "direct"
    assert port["disablePortSecurity"] is True
    assert port["network"] == {"filter": {"name": "roce-fabric"}}
    cluster = of_kind(docs, "OpenStackCluster")["rc1"]["spec"]
    assert cluster["apiServerLoadBalancer"]["allowedCIDRs"] == [
        "192.0.2.0/24", "198.51.100.0/24"]
    manifests = of_kind(docs, "Manifests")
    assert "rc1-rdma-network" in manifests
    files = addon_files(docs, "rdma-network")
    policy = files["nic-cluster-policy.yaml"]
    assert policy["kind"] == "NicClusterPolicy"
    assert policy["metadata"]["name"] == "nic-cluster-policy"
    assert "rdmaSharedDevicePlugin" in policy["spec"]
    assert files["network.yaml"]["kind"] == "MacvlanNetwork"
    releases = of_kind(docs, "HelmRelease")
    for name in ("mellanox-network-operator", "nvidia-gpu-operator",
                 "node-feature-discovery", "kube-prometheus-stack",
                 "loki-stack"):
        assert "rc1-%s" % name in releases, name
    gpu_values = of_kind(docs, "Secret")["rc1-nvidia-gpu-operator-config"]
    overrides = yaml.safe_load(gpu_values["stringData"]["overrides"])
    assert overrides["driver"]["rdma"]["enabled"] is True
    kcts = [d for d in of_kind(docs, "KubeadmConfigTemplate").values()
            if d["metadata"]["labels"]["capi.stackhpc.com/node-group"]
            == "gpu-rdma"]
    (kct,) = kcts
    registration = kct["spec"]["template"]["spec"]["joinConfiguration"][
        "nodeRegistration"]
    assert registration["taints"] == [{"key": "nvidia.com/gpu",
                                       "value": "true",
                                       "effect": "NoSchedule"}]
    assert "example.com/accelerator=a100" in registration[
        "kubeletExtraArgs"]["node-labels"]


def test_ib_sriov(tmp_path, chart, helm_bin):
    cluster_spec, docs = render("ib-sriov", tmp_path, chart, helm_bin)
    deployments = of_kind(docs, "MachineDeployment")
    assert sorted(deployments) == ["rc1-default-worker", "rc1-service"]
    assert deployments["rc1-default-worker"]["spec"]["replicas"] == 4
    templates = group_templates(docs)
    (port,) = rdma_ports(templates["default-worker"])
    assert port["vnicType"] == "baremetal"
    assert rdma_ports(templates["service"]) == []
    files = addon_files(docs, "rdma-network")
    policy = files["nic-cluster-policy.yaml"]["spec"]
    assert policy["ibKubernetes"]["ufmSecret"] == "ufm-credentials"
    affinity = policy["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]
    assert affinity["nodeSelectorTerms"][0]["matchExpressions"][0][
        "values"] == ["default-worker"]
    nad = files["network.yaml"]
    assert nad["kind"] == "NetworkAttachmentDefinition"
    assert '"pkey": "0x0a12"' in nad["spec"]["config"]
    assert files["ip-pool.yaml"]["spec"]["perNodeBlockSize"] == 64
    releases = of_kind(docs, "HelmRelease")
    assert "rc1-mellanox-network-operator" in releases
    assert "rc1-nvidia-gpu-operator" not in releases
    kcp = of_kind(docs, "KubeadmControlPlane")["rc1-control-plane"]
    assert kcp["spec"]["replicas"] == 3
    assert kcp["spec"]["version"] == "v1.33.1"


def test_minimal_has_no_rdma(tmp_path, chart, helm_bin):
    _, docs = render("minimal", tmp_path, chart, helm_bin)
    assert "rc1-rdma-network" not in of_kind(docs, "Manifests")
    releases = of_kind(docs, "HelmRelease")
    assert "rc1-mellanox-network-operator" not in releases
    assert "rc1-nvidia-gpu-operator" not in releases
    assert all(rdma_ports(t) == [] for t in group_templates(docs).values())


@pytest.mark.parametrize("example", ["minimal", "macvlan-gpu", "ib-sriov"])
def test_every_object_passes_the_real_schemas_strictly(
        example, tmp_path, chart, helm_bin, kube_api_client, namespace):
    """What the chart makes of the driver's values, against real CRDs.

    Created with ``dryRun=All`` and ``fieldValidation=Strict``, as helm
    cannot ask for it (it drops an unknown field with a warning). CAPO's
    schema, for one, takes the external network only as a UUID.
    """
    _, docs = render(example, tmp_path, chart, helm_bin,
                     namespace=namespace)
    kube = upstream.Kube(kube_api_client)
    refused = []
    checked = {}
    for doc in docs:
        try:
            kube.create(upstream.with_namespace(kube, doc, namespace),
                        strict=True, dry_run=True)
        except Exception as exc:  # noqa: B902 - collected, then reported
            refused.append("%s: %s" % (upstream.object_ref(doc),
                                       _refusal(exc)))
        checked[doc["kind"]] = checked.get(doc["kind"], 0) + 1
    assert not refused, "\n".join(refused)
    for kind in ("Cluster", "OpenStackCluster", "KubeadmControlPlane",
                 "OpenStackMachineTemplate", "KubeadmConfigTemplate",
                 "MachineDeployment", "MachineHealthCheck"):
        assert checked.get(kind), (kind, checked)
    [cluster] = [d for d in docs if d["kind"] == "OpenStackCluster"]
    network = cluster["spec"]["externalNetwork"]["id"]
    assert str(uuid.UUID(network)) == network
    # The check can fail: a field CAPO does not have is refused.
    cluster["spec"]["notAField"] = True
    with pytest.raises(Exception) as caught:
        kube.create(upstream.with_namespace(kube, cluster, namespace),
                    strict=True, dry_run=True)
    assert 'unknown field "spec.notAField"' in _refusal(caught.value)


def _refusal(exc):
    from kubernetes.client import exceptions

    if isinstance(exc, exceptions.ApiException):
        return upstream.refusal(exc)
    return str(exc)
