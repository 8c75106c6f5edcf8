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
"""The rules behind the other drivers' labels, without the chart.

Where each value lands in the real chart's objects is
tests/functional/test_render_peer_labels.py; here: the Kubernetes version
from the image, the network checks, the host settings several features
share, what is refused and what a site default may do.
"""

import copy

import pytest

from magnum_capi_rdma import features
from magnum_capi_rdma.features import hosts
from magnum_capi_rdma.features import rdma
from magnum_capi_rdma.features import registries
from magnum_capi_rdma import spec
from magnum_capi_rdma import values

SITE = {"unknown_labels": "refuse", "ib_sriov_cni_in_image": True}
BASE = {
    "cluster_template": {
        "image_id": "ubuntu-2404-kube", "keypair_id": "k",
        "external_network_id":
        "9d3b5b6e-3f7c-4c1e-8b1a-5e2f0c6d7a11",
        "master_flavor_id": "m1.medium",
        "flavor_id": "m1.large", "labels": {"kube_tag": "v1.33.1"},
    },
    "cluster": {"name": "c", "master_count": 1, "node_count": 2},
}
SRIOV = {"rdma_mode": "sriov", "rdma_network": "fabric",
         "rdma_ip_range": "10.200.0.0/16"}
PROXY = {"https_proxy": "http://proxy.example.com:3128"}


def desc(labels=None, fields=None, site=None):
    found = copy.deepcopy(BASE)
    template = found["cluster_template"]
    for name, value in (labels or {}).items():
        if value is None:
            template["labels"].pop(name)
        else:
            template["labels"][name] = value
    template.update(fields or {})
    return found


def build(labels=None, fields=None, site_defaults=None):
    return spec.build_spec(desc(labels, fields), site_defaults,
                           site_options=SITE)


def problems(labels=None, fields=None, site_defaults=None):
    with pytest.raises(spec.InvalidSpec) as err:
        build(labels, fields, site_defaults)
    return err.value.problems


# -- the Kubernetes version -------------------------------------------------

@pytest.mark.parametrize("prop", ["v1.32.5", "1.32.5"])
def test_version_from_the_image_property(prop):
    built = build({"kube_tag": None},
                  {"image_properties": {"kube_version": prop}})
    assert built.kube_version == "1.32.5"
    assert built.kube_tag == "v1.32.5"


def test_kube_tag_and_image_must_agree():
    built = build({}, {"image_properties": {"kube_version": "v1.33.1"}})
    assert built.kube_version == "1.33.1"
    (problem,) = problems({}, {"image_properties": {
        "kube_version": "v1.32.5"}})
    assert problem.label == "kube_tag"
    assert "v1.32.5" in str(problem)


def test_no_version_says_both_ways():
    (problem,) = problems({"kube_tag": None})
    text = str(problem)
    assert "kube_tag label" in text
    assert "kube_version property" in text
    assert "openstack image set --property kube_version=" in text


@pytest.mark.parametrize("props", [
    "v1.33.1", {"kube_version": "latest"}, {"kube_version": 133}])
def test_bad_image_properties_are_fields(props):
    found = problems({"kube_tag": None}, {"image_properties": props})
    assert [p.label for p in found] == ["image_properties"]
    assert str(found[0]).startswith("template: field image_properties")


# -- networks ---------------------------------------------------------------

def test_extra_networks_spaces_or_commas():
    label = features.LABELS["extra_network_names"]
    assert label.parse("a b  c") == ("a", "b", "c")
    assert label.parse("my net,other") == ("my net", "other")
    assert label.parse(["a", "b"]) == ("a", "b")
    with pytest.raises(Exception):
        label.parse("a\tb\nc")
    assert features.canonical_name("extra_network_name") == (
        "extra_network_names")


def test_overlap_blames_the_label_that_was_set():
    (problem,) = problems({"calico_ipv4pool": "10.0.0.0/8"})
    assert problem.label == "calico_ipv4pool"
    assert problem.where == "template"
    assert "node subnet (its default)" in str(problem)
    (problem,) = problems({"service_cluster_ip_range": "10.100.0.0/16",
                           "calico_ipv4pool": "10.100.0.0/20"})
    assert problem.label == "service_cluster_ip_range"
    assert "overlaps the pod network (" in str(problem)


def test_pod_and_service_networks_apart_are_accepted():
    built = build({"calico_ipv4pool": "10.100.0.0/16",
                   "service_cluster_ip_range": "10.254.0.0/16",
                   "fixed_subnet_cidr": "10.1.0.0/24"})
    vals = values.build_values(built, "creds")
    assert vals["kubeNetwork"] == {
        "pods": {"cidrBlocks": ["10.100.0.0/16"]},
        "services": {"cidrBlocks": ["10.254.0.0/16"]}}


def test_pod_label_of_the_other_cni_is_refused_but_not_a_site_default():
    (problem,) = problems({"cilium_ipv4pool": "10.100.0.0/16"})
    assert problem.label == "cilium_ipv4pool"
    build(site_defaults={"cilium_ipv4pool": "10.100.0.0/16",
                         "cilium_tag": "v1.18.0"})


# -- host settings ----------------------------------------------------------

def test_rdma_and_proxy_settings_share_a_node_group():
    built = build(SRIOV, dict(PROXY, server_type="bm"))
    vals = values.build_values(built, "creds")
    (group,) = vals["nodeGroups"]
    config = group["kubeadmConfigSpec"]
    paths = [f["path"] for f in config["files"]]
    assert paths == [rdma.NETNS_EXCLUSIVE_FILE["path"],
                     registries.PROXY_DROP_IN]
    assert config["preKubeadmCommands"] == [
        rdma.NETNS_EXCLUSIVE_COMMAND, registries.RESTART_CONTAINERD]
    control = vals["controlPlane"]["kubeadmConfigSpec"]
    assert [f["path"] for f in control["files"]] == [
        registries.PROXY_DROP_IN]


def test_only_hosts_writes_kubeadm_lists():
    built = build(dict(SRIOV, audit_log_enabled="true"),
                  dict(PROXY, server_type="bm", docker_volume_size=20))
    for module in features.FEATURES:
        if module is hosts:
            continue
        found = module.contribute(built)
        for part in [found.get("controlPlane", {})] + found.get(
                "nodeGroups", []) + [found.get("nodeGroupDefaults", {})]:
            config = part.get("kubeadmConfigSpec", {})
            assert not set(config) & set(hosts.LIST_KEYS + (
                "diskSetup",)), features.feature_name(module)


# -- refusals and site defaults ---------------------------------------------

def test_proxy_credentials_are_refused_and_not_repeated():
    found = problems({}, {"http_proxy": "http://me:s3cret@proxy:3128"})
    assert [p.label for p in found] == ["http_proxy"]
    assert "s3cret" not in str(found[0])


def test_dashboard_false_accepted_true_refused():
    assert build({"kube_dashboard_enabled": "false"})
    (problem,) = problems({"kube_dashboard_enabled": "true"})
    assert "Headlamp" in str(problem)


@pytest.mark.parametrize("labels,fields", [
    ({"boot_volume_type": "ssd"}, {}),
    ({"boot_volume_availability_zone": "az"}, {}),
    ({"docker_volume_type": "ssd"}, {}),
    ({"etcd_blockdevice_volume_type": "ssd"}, {}),
    ({"etcd_blockdevice_size": "10", "etcd_blockdevice_type": "Local",
      "etcd_blockdevice_volume_az": "az"}, {}),
    ({"audit_log_max_size": "10"}, {}),
    ({"oidc_groups_claim": "groups"}, {}),
    ({"cinder_csi_enabled": "false", "csi_attacher_tag": "v1"}, {}),
    ({"manila_csi_plugin_tag": "v1"}, {}),
    ({"cilium_hubble_ui_enabled": "true"}, {}),
    ({}, {"no_proxy": ".example.com"}),
])
def test_settings_of_something_off_are_refused(labels, fields):
    assert problems(labels, fields)


def test_site_defaults_of_something_off_are_left_alone():
    build(site_defaults={"boot_volume_type": "ssd",
                         "docker_volume_type": "ssd",
                         "audit_log_max_age": "5",
                         "oidc_username_claim": "email",
                         "csi_attacher_tag": "v1"},
          labels={"cinder_csi_enabled": "false"})


def test_registry_mirrors_replace_the_chart_defaults():
    built = build({"registry_mirrors":
                   "docker.io=https://m.example.com/v2/d,"
                   "docker.io=https://n.example.com/v2/d"},
                  {"insecure_registry": "http://registry.local:5000"})
    mirrors = values.build_values(built, "creds")["registryMirrors"]
    assert mirrors["docker.io"] == ["https://m.example.com/v2/d",
                                    "https://n.example.com/v2/d"]
    for name in registries.CHART_MIRRORED:
        if name != "docker.io":
            assert mirrors[name] is None
    assert mirrors["registry.local:5000"]["upstream"] == (
        "http://registry.local:5000")


def test_refused_peer_labels_are_refused_even_when_unknown_ones_warn():
    for name in features.REFUSED:
        with pytest.raises(spec.InvalidSpec) as err:
            spec.build_spec(desc({name: "x"}), site_options=dict(
                SITE, unknown_labels="warn"))
        assert "not supported by this driver" in str(err.value)
