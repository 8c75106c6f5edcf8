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
"""RDMA objects for each mode, parsed back from the text the chart will
carry (YAML, and the JSON configs inside) and checked field by field."""

import json

import pytest
import yaml

from magnum_capi_rdma import contract
from magnum_capi_rdma import manifests
from magnum_capi_rdma.manifests import common
from magnum_capi_rdma import rdma as rdma_model
from magnum_capi_rdma import spec
from magnum_capi_rdma import values

BASE = {
    "cluster_template": {
        "image_id": "img", "flavor_id": "f1", "master_flavor_id": "f0",
        "labels": {"kube_tag": "v1.33.1", "rdma_network": "fabric",
                   "rdma_ip_range": "10.50.0.0/16",
                   "rdma_ofed_version": "24.10-0.7.0.0-0"},
    },
    "cluster": {"name": "c1", "node_count": 1},
    "node_groups": [{"name": "fast", "node_count": 2,
                     "labels": {"rdma_mode": None}}],
}

MODE_LABELS = {
    "macvlan": {"rdma_interface": "ens6", "rdma_mtu": "9000"},
    "sriov": {"rdma_interface": "enp1s0f0", "rdma_vnic_type": "baremetal"},
    "ipoib": {"rdma_interface": "ib0"},
    "ib-sriov": {"rdma_interface": "ibp1s0", "rdma_pkey": "0x0a12",
                 "rdma_ufm_secret": "ufm-creds",
                 "rdma_vnic_type": "baremetal"},
}


def build(mode, **extra):
    desc = json.loads(json.dumps(BASE))
    desc["cluster_template"]["labels"].update(MODE_LABELS[mode])
    desc["cluster_template"]["labels"].update(extra)
    desc["node_groups"][0]["labels"]["rdma_mode"] = mode
    if rdma_model.MODES[mode].bare_metal_only:
        desc["cluster_template"]["server_type"] = "bm"
    return spec.build_spec(desc, None, {"ib_sriov_cni_in_image": True})


def delivered(cluster_spec):
    """The objects as the addon provider will read them from the values."""
    vals = values.build_values(cluster_spec, "secret")
    addon = vals["addons"]["custom"]["rdma-network"]
    assert addon["kind"] == "Manifests"
    assert addon["spec"]["namespace"] == contract.NETWORK_OPERATOR_NAMESPACE
    files = addon["spec"]["manifests"]
    expected = ["ip-pool.yaml", "network.yaml", "nic-cluster-policy.yaml"]
    if cluster_spec.rdma.creates_namespace:
        # First, so the network's namespace exists when it is applied.
        assert list(files)[0] == "namespace.yaml"
        expected.append("namespace.yaml")
    assert sorted(files) == sorted(expected)
    return {name: yaml.safe_load(text) for name, text in files.items()}


def affinity_groups(selector):
    (term,) = selector["nodeSelectorTerms"]
    (expr,) = term["matchExpressions"]
    assert expr["key"] == "capi.stackhpc.com/node-group"
    assert expr["operator"] == "In"
    return expr["values"]


@pytest.mark.parametrize("mode", sorted(MODE_LABELS))
def test_policy_common_fields(mode):
    objs = delivered(build(mode))
    policy = objs["nic-cluster-policy.yaml"]
    assert policy["apiVersion"] == "mellanox.com/v1alpha1"
    assert policy["kind"] == "NicClusterPolicy"
    assert policy["metadata"] == {"name": "nic-cluster-policy"}
    body = policy["spec"]
    assert affinity_groups(body["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]) == ["fast"]
    assert body["ofedDriver"]["image"] == "doca-driver"
    assert body["ofedDriver"]["version"] == "24.10-0.7.0.0-0"
    assert body["secondaryNetwork"]["multus"]["image"] == "multus-cni"
    assert body["secondaryNetwork"]["cniPlugins"]["image"] == "plugins"
    assert body["nvIpam"]["image"] == "nvidia-k8s-ipam"
    for part in (body["secondaryNetwork"]["multus"], body["nvIpam"]):
        assert part["repository"] == "nvcr.io/nvidia/mellanox"
        assert part["version"] == "network-operator-v26.1.1"
    pool = objs["ip-pool.yaml"]
    assert pool["kind"] == "IPPool"
    assert pool["apiVersion"] == "nv-ipam.nvidia.com/v1alpha1"
    assert pool["metadata"] == {"name": "rdma-net-pool",
                                "namespace": "network-operator"}
    assert pool["spec"]["subnet"] == "10.50.0.0/16"
    assert pool["spec"]["perNodeBlockSize"] == 32
    assert "gateway" not in pool["spec"]
    assert affinity_groups(pool["spec"]["nodeSelector"]) == ["fast"]


def test_macvlan():
    objs = delivered(build("macvlan", rdma_hca_max="8"))
    body = objs["nic-cluster-policy.yaml"]["spec"]
    assert "sriovDevicePlugin" not in body and "ibKubernetes" not in body
    assert "ipoib" not in body["secondaryNetwork"]
    plugin = body["rdmaSharedDevicePlugin"]
    assert plugin["image"] == "k8s-rdma-shared-dev-plugin"
    config = json.loads(plugin["config"])
    assert config == {"configList": [{
        "resourceName": "rdma_shared_device_a", "rdmaHcaMax": 8,
        "selectors": {"vendors": ["15b3"], "ifNames": ["ens6"]}}]}
    net = objs["network.yaml"]
    assert (net["apiVersion"], net["kind"]) == ("mellanox.com/v1alpha1",
                                                "MacvlanNetwork")
    assert net["metadata"] == {"name": "rdma-net"}
    assert net["spec"]["networkNamespace"] == "default"
    assert net["spec"]["master"] == "ens6"
    assert net["spec"]["mode"] == "bridge"
    assert net["spec"]["mtu"] == 9000
    assert json.loads(net["spec"]["ipam"]) == {"type": "nv-ipam",
                                               "poolName": "rdma-net-pool"}


def test_sriov():
    objs = delivered(build("sriov", rdma_resource_name="roce_vf"))
    body = objs["nic-cluster-policy.yaml"]["spec"]
    assert "rdmaSharedDevicePlugin" not in body
    plugin = body["sriovDevicePlugin"]
    assert plugin["image"] == "sriov-network-device-plugin"
    config = json.loads(plugin["config"])
    assert config == {"resourceList": [{
        "resourcePrefix": "nvidia.com", "resourceName": "roce_vf",
        "selectors": {"vendors": ["15b3"], "isRdma": True,
                      "linkTypes": ["ether"], "pfNames": ["enp1s0f0"]}}]}
    net = objs["network.yaml"]
    assert net["kind"] == "HostDeviceNetwork"
    # Bare: the operator adds nvidia.com/ and its webhook refuses a
    # prefixed name.
    assert net["spec"]["resourceName"] == "roce_vf"
    assert json.loads(net["spec"]["ipam"])["type"] == "nv-ipam"
    assert "master" not in net["spec"]


@pytest.mark.parametrize("mode,resource", [
    ("macvlan", "rdma/rdma_shared_device_a"),
    ("sriov", "nvidia.com/sriov_rdma_vf"),
    ("ib-sriov", "nvidia.com/sriov_ib_vf"),
    ("ipoib", None)])
def test_resource_pods_request(mode, resource):
    cluster = build(mode)
    assert cluster.rdma_resource == resource
    assert cluster.rdma_node_group_names == ("fast",)


def test_ipoib():
    objs = delivered(build("ipoib"))
    body = objs["nic-cluster-policy.yaml"]["spec"]
    assert body["secondaryNetwork"]["ipoib"]["image"] == "ipoib-cni"
    assert "rdmaSharedDevicePlugin" not in body
    assert "sriovDevicePlugin" not in body
    net = objs["network.yaml"]
    assert net["kind"] == "IPoIBNetwork"
    assert net["spec"]["master"] == "ib0"
    assert json.loads(net["spec"]["ipam"])["poolName"] == "rdma-net-pool"


def test_ib_sriov():
    objs = delivered(build("ib-sriov", rdma_ip_gateway="10.50.0.1",
                           rdma_attachment_namespace="hpc"))
    body = objs["nic-cluster-policy.yaml"]["spec"]
    ib = body["ibKubernetes"]
    assert ib["image"] == "ib-kubernetes"
    assert ib["ufmSecret"] == "ufm-creds"
    assert ib["pKeyGUIDPoolRangeStart"] < ib["pKeyGUIDPoolRangeEnd"]
    config = json.loads(body["sriovDevicePlugin"]["config"])
    selectors = config["resourceList"][0]["selectors"]
    assert selectors["linkTypes"] == ["infiniband"]
    assert config["resourceList"][0]["resourceName"] == "sriov_ib_vf"
    nad = objs["network.yaml"]
    assert (nad["apiVersion"], nad["kind"]) == (
        "k8s.cni.cncf.io/v1", "NetworkAttachmentDefinition")
    assert nad["metadata"]["namespace"] == "hpc"
    assert nad["metadata"]["annotations"] == {
        "k8s.v1.cni.cncf.io/resourceName": "nvidia.com/sriov_ib_vf"}
    cni = json.loads(nad["spec"]["config"])
    assert cni["type"] == "ib-sriov"
    assert cni["pkey"] == "0x0a12"
    assert cni["name"] == "rdma-net"
    assert cni["ibKubernetesEnabled"] is True
    assert cni["ipam"] == {"type": "nv-ipam", "poolName": "rdma-net-pool"}
    assert objs["ip-pool.yaml"]["spec"]["gateway"] == "10.50.0.1"
    assert objs["namespace.yaml"] == {"apiVersion": "v1",
                                      "kind": "Namespace",
                                      "metadata": {"name": "hpc"}}


@pytest.mark.parametrize("namespace", ["default", "kube-system",
                                       "network-operator"])
def test_existing_attachment_namespace_is_not_created(namespace):
    # The Manifests release would delete it with the cluster's RDMA objects.
    objs = delivered(build("macvlan", rdma_attachment_namespace=namespace))
    assert "namespace.yaml" not in objs
    assert objs["network.yaml"]["spec"]["networkNamespace"] == namespace


def test_macvlan_network_namespace_is_created():
    objs = delivered(build("macvlan", rdma_attachment_namespace="ml"))
    assert objs["namespace.yaml"]["metadata"]["name"] == "ml"
    assert objs["network.yaml"]["spec"]["networkNamespace"] == "ml"


@pytest.mark.parametrize("mode", ["sriov", "ib-sriov"])
def test_modes_isolating_rdma_per_pod_set_netns_exclusive(mode):
    vals = values.build_values(build(mode), "s")
    groups = {g["name"]: g for g in vals["nodeGroups"]}
    spec_ = groups["fast"]["kubeadmConfigSpec"]
    assert spec_["preKubeadmCommands"] == ["rdma system set netns exclusive"]
    assert spec_["files"][0]["content"] == "options ib_core netns_mode=0\n"
    # Only on the RDMA node group.
    assert "kubeadmConfigSpec" not in groups["default-worker"]


@pytest.mark.parametrize("mode", ["macvlan", "ipoib"])
def test_shared_modes_leave_the_netns_mode_alone(mode):
    vals = values.build_values(build(mode), "s")
    for group in vals["nodeGroups"]:
        assert "files" not in group.get("kubeadmConfigSpec", {})


def test_ofed_off_drops_driver():
    objs = delivered(build("macvlan", rdma_ofed_enabled="false"))
    assert "ofedDriver" not in objs["nic-cluster-policy.yaml"]["spec"]


def test_no_rdma_no_manifests():
    desc = json.loads(json.dumps(BASE))
    desc["node_groups"][0]["labels"]["rdma_mode"] = "none"
    cluster_spec = spec.build_spec(desc)
    assert manifests.build_manifests(cluster_spec) == []


def test_api_versions_overridable():
    objs = manifests.build_manifests(
        build("macvlan"), {"NicClusterPolicy": "mellanox.com/v1beta1"})
    assert objs[0]["apiVersion"] == "mellanox.com/v1beta1"
    assert objs[2]["apiVersion"] == "mellanox.com/v1alpha1"


def test_jinja_block_in_text_is_refused():
    with pytest.raises(ValueError):
        common.to_yaml({"a": "{% endraw %}"})
    assert common.to_yaml({"a": '{"b": {"c": 1}}'})
