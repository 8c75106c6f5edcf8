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
"""The label table: every label parses valid values, rejects invalid ones
with what is allowed, has its default, and follows the precedence site <
template < cluster < node group."""

import pytest

from magnum_capi_rdma import labels
from magnum_capi_rdma import spec

# name: (valid raw, parsed, invalid raw)
SAMPLES = {
    "kube_tag": ("v1.33.1", "v1.33.1", "1.33"),
    "capi_helm_chart_version": ("0.27.0", "0.27.0", "latest"),
    "keystone_auth_enabled": ("yes", True, "maybe"),
    "fixed_subnet_cidr": ("10.1.0.0/24", "10.1.0.0/24", "10.1.0.1/24"),
    "extra_network_names": ("a, b", ("a", "b"), "{{ x }}"),
    "master_lb_floating_ip_enabled": ("false", False, "nope"),
    "api_master_lb_allowed_cidrs": ("10.0.0.0/8,192.0.2.0/24",
                                    ("10.0.0.0/8", "192.0.2.0/24"),
                                    "10.0.0.0/8,example"),
    "octavia_provider": ("ovn", "ovn", "OVN provider"),
    "octavia_lb_algorithm": ("source_ip_port", "SOURCE_IP_PORT", "RANDOM"),
    "octavia_lb_healthcheck": ("0", False, "2"),
    "etcd_blockdevice_size": ("20", 20, "-1"),
    "etcd_blockdevice_type": ("Local", "Local", "Disk"),
    "etcd_blockdevice_volume_type": ("ssd", "ssd", "a,b"),
    "etcd_blockdevice_volume_az": ("az1", "az1", "a\nb"),
    "boot_volume_size": ("50", 50, "fifty"),
    "boot_volume_type": ("ssd", "ssd", "{% raw %}"),
    "csi_cinder_availability_zone": ("az1", "az1", ",az"),
    "csi_cinder_volume_type": ("ssd", "ssd", "x,y"),
    "csi_cinder_reclaim_policy": ("Retain", "Retain", "Keep"),
    "csi_cinder_volume_binding_mode": ("Immediate", "Immediate", "Later"),
    "csi_cinder_fstype": ("xfs", "xfs", "btrfs"),
    "csi_cinder_allow_volume_expansion": ("false", False, "sometimes"),
    "availability_zone": ("az-gpu", "az-gpu", "a,b"),
    "node_labels": ("a=b,example.com/c=d",
                    (("a", "b"), ("example.com/c", "d")), "a"),
    "node_taints": ("gpu=true:NoSchedule", (("gpu", "true",
                                             "NoSchedule"),),
                    "gpu=true:Never"),
    "auto_scaling_enabled": ("true", True, "auto"),
    "auto_healing_enabled": ("false", False, "3"),
    "min_node_count": ("0", 0, "-2"),
    "max_node_count": ("10", 10, "0"),
    "monitoring_enabled": ("true", True, "yes please"),
    "logging_enabled": ("true", True, "x"),
    "ingress_enabled": ("on", True, "x"),
    "gpu_operator_enabled": ("true", True, "x"),
    "gpu_direct_rdma_enabled": ("false", False, "x"),
    "rdma_mode": ("macvlan", "macvlan", "roce"),
    "rdma_network": ("roce-fabric", "roce-fabric", "a,b"),
    "rdma_vnic_type": ("direct-physical", "direct-physical", "normal"),
    "rdma_port_security": ("address-pairs", "address-pairs", "enabled"),
    "rdma_interface": ("ens6", "ens6", "much-too-long-interface"),
    "rdma_mtu": ("9000", 9000, "100000"),
    "rdma_ip_range": ("10.200.0.0/16", "10.200.0.0/16", "10.200.0.0/33"),
    "rdma_ip_block_size": ("64", 64, "1"),
    "rdma_ip_gateway": ("10.200.0.1", "10.200.0.1", "gateway"),
    "rdma_resource_name": ("rdma_a", "rdma_a", "Rdma-A"),
    "rdma_hca_max": ("10", 10, "0"),
    "rdma_attachment_name": ("fast-net", "fast-net", "Fast_Net"),
    "rdma_attachment_namespace": ("hpc", "hpc", "HPC"),
    "rdma_ofed_enabled": ("false", False, "x"),
    "rdma_ofed_version": ("25.10-1.2.8.0-2", "25.10-1.2.8.0-2", "a b"),
    "rdma_component_version": ("v1.2.3", "v1.2.3", "a b"),
    "rdma_image_repository": ("registry.example/mlx", "registry.example/mlx",
                              "Registry Example"),
    "rdma_pkey": ("0x0a12", "0x0a12", "a12"),
    "rdma_ufm_secret": ("ufm-creds", "ufm-creds", "UFM creds"),
    "rdma_selftest_enabled": ("true", True, "x"),
}


def test_samples_cover_every_label():
    assert set(SAMPLES) == set(labels.LABELS)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_valid_value_parses(name):
    raw, expected, _ = SAMPLES[name]
    assert labels.LABELS[name].parse(raw) == expected


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_invalid_value_is_rejected_with_what_is_allowed(name):
    label = labels.LABELS[name]
    with pytest.raises(labels.LabelValueError) as err:
        label.parse(SAMPLES[name][2])
    assert err.value.allowed == label.allowed()
    assert err.value.allowed


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_default_when_unset(name):
    resolver = spec._Resolver(spec._Problems())
    resolver.layers.append(("template", {}))
    assert resolver.label(name) == labels.LABELS[name].default


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_precedence(name):
    """site < template < cluster < node group, for each allowed scope."""
    label = labels.LABELS[name]
    raw = SAMPLES[name][0]
    problems = spec._Problems()
    resolver = spec._Resolver(problems)
    layers = [("site", None), ("template", labels.TEMPLATE),
              ("cluster", labels.CLUSTER)]
    seen = []
    for where, scope in layers:
        if scope is not None and scope not in label.scopes:
            continue
        if where == "site" and not label.site_default:
            continue
        parsed = resolver.parse_layer({name: raw}, where, scope)
        resolver.layers.append((where, parsed))
        seen.append(where)
        assert resolver.source(name) == where
        assert resolver.label(name) == SAMPLES[name][1]
    if labels.NODEGROUP in label.scopes:
        parsed = resolver.parse_layer({name: raw}, "nodegroup:x",
                                      labels.NODEGROUP)
        resolver.group_layers["x"] = ("nodegroup:x", parsed)
        assert resolver.source(name, "x") == "nodegroup:x"
        assert resolver.source(name, "other") == seen[-1]
    assert not problems.items


def test_higher_layer_overrides_lower_value():
    resolver = spec._Resolver(spec._Problems())
    resolver.layers.append(("site", {"rdma_hca_max": 10}))
    resolver.layers.append(("template", {"rdma_hca_max": 20}))
    assert resolver.label("rdma_hca_max") == 20
    resolver.layers.append(("cluster", {"rdma_hca_max": 30}))
    assert resolver.label("rdma_hca_max") == 30
    resolver.group_layers["g"] = ("nodegroup:g", {"rdma_mode": "ipoib"})
    assert resolver.label("rdma_mode", "g") == "ipoib"
    assert resolver.label("rdma_mode", "h") == "none"


@pytest.mark.parametrize("text", ["{{ 7*7 }}", "x {% endraw %} y", "a\nb",
                                  "{# c #}"])
def test_template_markers_and_control_characters_rejected(text):
    for name in ("rdma_network", "octavia_provider", "node_labels"):
        with pytest.raises(labels.LabelValueError):
            labels.LABELS[name].parse(text)


def test_native_yaml_values_accepted():
    assert labels.LABELS["rdma_hca_max"].parse(12) == 12
    assert labels.LABELS["monitoring_enabled"].parse(True) is True
    assert labels.LABELS["node_labels"].parse({"a": "b"}) == (("a", "b"),)
    assert labels.LABELS["extra_network_names"].parse(["x", "y"]) == (
        "x", "y")
    with pytest.raises(labels.LabelValueError):
        labels.LABELS["rdma_hca_max"].parse(True)


def test_deprecated_names_map_to_current_names():
    assert labels.canonical_name("etcd_volume_size") == (
        "etcd_blockdevice_size")
    assert labels.canonical_name("extra_network_name") == (
        "extra_network_names")
    assert labels.canonical_name("rdma_mode") == "rdma_mode"


def test_every_label_is_documented_and_well_formed():
    for label in labels.LABELS.values():
        assert label.help.strip(), label.name
        assert label.scopes <= labels.ALL_SCOPES and label.scopes
        assert labels.TEMPLATE in label.scopes
        assert label.category in labels.CATEGORIES
        if label.kind == "choice":
            assert label.default is None or label.default in label.choices


def test_values_modules_named_by_labels_exist():
    import importlib
    for label in labels.LABELS.values():
        module = importlib.import_module(
            "magnum_capi_rdma.values.%s" % label.module)
        assert callable(module.contribute)


def test_rdma_modes_are_the_issue_names():
    assert labels.LABELS["rdma_mode"].choices == (
        "none", "macvlan", "sriov", "ipoib", "ib-sriov")
    assert labels.LABELS["rdma_mode"].default == "none"
