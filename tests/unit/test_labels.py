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

from magnum_capi_rdma import features
from magnum_capi_rdma import labels
from magnum_capi_rdma import spec

# name: (valid raw, parsed, invalid raw)
SAMPLES = {
    "kube_tag": ("v1.33.1", "v1.33.1", "1.33"),
    "capi_helm_chart_version": ("0.27.0", "0.27.0", "latest"),
    "certificate_renewal_days": ("45", 45, "3"),
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
    "rdma_selftest_min_bandwidth_gbps": ("180", 180, "0"),
    "rdma_selftest_max_latency_us": ("5", 5, "fast"),
    # Labels of the other Cluster API drivers (issue 16).
    "kube_dashboard_enabled": ("false", False, "maybe"),
    "cloud_provider_tag": ("v1.33.0", "v1.33.0", "v1 33"),
    "oidc_issuer_url": ("https://auth.example.com/realms/k",
                        "https://auth.example.com/realms/k",
                        "http://auth.example.com"),
    "oidc_client_id": ("kubernetes", "kubernetes", "a b"),
    "oidc_username_claim": ("email", "email", "a,b"),
    "oidc_username_prefix": ("oidc:", "oidc:", "a b"),
    "oidc_groups_claim": ("groups", "groups", "a b"),
    "oidc_groups_prefix": ("oidc:", "oidc:", "x y"),
    "audit_log_enabled": ("true", True, "x"),
    "audit_log_max_age": ("7", 7, "-1"),
    "audit_log_max_backup": ("3", 3, "many"),
    "audit_log_max_size": ("50", 50, "0"),
    "api_server_cert_sans": ("api.example.com, 203.0.113.5",
                             ("api.example.com", "203.0.113.5"),
                             "api example"),
    "api_server_tls_cipher_suites": (
        "TLS_AES_128_GCM_SHA256", ("TLS_AES_128_GCM_SHA256",), "RC4"),
    "kubelet_tls_cipher_suites": (
        "TLS_AES_256_GCM_SHA384", ("TLS_AES_256_GCM_SHA384",), "aes"),
    "admission_control_list": ("PodNodeSelector,AlwaysPullImages",
                               ("PodNodeSelector", "AlwaysPullImages"),
                               "pod-node-selector"),
    "calico_tag": ("v3.30.2", "v3.30.2", "3.30"),
    "cilium_tag": ("v1.19.3", "v1.19.3", "latest"),
    "cilium_hubble_ui_enabled": ("true", True, "x"),
    "calico_ipv4pool": ("10.100.0.0/16", "10.100.0.0/16", "fd00::/64"),
    "cilium_ipv4pool": ("10.100.0.0/16", "10.100.0.0/16", "10.100.0.1/16"),
    "service_cluster_ip_range": ("10.254.0.0/16", "10.254.0.0/16",
                                 "10.254.0.0"),
    "dns_cluster_domain": ("k8s.example", "k8s.example", "Cluster.Local"),
    "api_server_floating_ip": ("203.0.113.7", "203.0.113.7", "2001:db8::1"),
    "container_infra_prefix": ("registry.example.com/k8s/",
                               "registry.example.com/k8s",
                               "https://registry.example.com"),
    "registry_mirrors": ("docker.io=https://mirror.example.com/v2/d",
                         (("docker.io", "https://mirror.example.com/v2/d"),),
                         "docker.io"),
    "boot_volume_availability_zone": ("az-vol", "az-vol", "a,b"),
    "docker_volume_type": ("fast", "fast", "{{ x }}"),
    "cinder_csi_enabled": ("false", False, "x"),
    "cinder_csi_plugin_tag": ("v1.33.0", "v1.33.0", "a b"),
    "csi_attacher_tag": ("v4.9.0", "v4.9.0", "a b"),
    "csi_provisioner_tag": ("v5.3.0", "v5.3.0", "a b"),
    "csi_snapshotter_tag": ("v8.3.0", "v8.3.0", "a b"),
    "csi_resizer_tag": ("v1.14.0", "v1.14.0", "a b"),
    "csi_node_driver_registrar_tag": ("v2.15.0", "v2.15.0", "a b"),
    "csi_liveness_probe_tag": ("v2.17.0", "v2.17.0", "a b"),
    "manila_csi_enabled": ("true", True, "x"),
    "manila_csi_share_network_id": (
        "5c9f7b1e-2d4a-4f6b-8e1c-0a9b8c7d6e5f",
        "5c9f7b1e-2d4a-4f6b-8e1c-0a9b8c7d6e5f", "share-net"),
    "manila_csi_plugin_tag": ("v1.33.0", "v1.33.0", "a b"),
    "server_group_id": ("3c9f7b1e-2d4a-4f6b-8e1c-0a9b8c7d6e5f",
                        "3c9f7b1e-2d4a-4f6b-8e1c-0a9b8c7d6e5f", "group-1"),
    "control_plane_availability_zones": ("az1, az2", ("az1", "az2"),
                                         "az1,,{{"),
}


def test_samples_cover_every_label():
    assert set(SAMPLES) == set(features.LABELS)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_valid_value_parses(name):
    raw, expected, _ = SAMPLES[name]
    assert features.LABELS[name].parse(raw) == expected


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_invalid_value_is_rejected_with_what_is_allowed(name):
    label = features.LABELS[name]
    with pytest.raises(labels.LabelValueError) as err:
        label.parse(SAMPLES[name][2])
    assert err.value.allowed == label.allowed()
    assert err.value.allowed


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_default_when_unset(name):
    resolver = spec._Resolver(spec._Problems())
    resolver.layers.append(("template", {}))
    assert resolver.label(name) == features.LABELS[name].default


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_precedence(name):
    """site < template < cluster < node group, for each allowed scope."""
    label = features.LABELS[name]
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
            features.LABELS[name].parse(text)


def test_native_yaml_values_accepted():
    assert features.LABELS["rdma_hca_max"].parse(12) == 12
    assert features.LABELS["monitoring_enabled"].parse(True) is True
    assert features.LABELS["node_labels"].parse({"a": "b"}) == (("a", "b"),)
    assert features.LABELS["extra_network_names"].parse(["x", "y"]) == (
        "x", "y")
    with pytest.raises(labels.LabelValueError):
        features.LABELS["rdma_hca_max"].parse(True)


def test_deprecated_names_map_to_current_names():
    assert features.canonical_name("etcd_volume_size") == (
        "etcd_blockdevice_size")
    assert features.canonical_name("extra_network_name") == (
        "extra_network_names")
    assert features.canonical_name("rdma_mode") == "rdma_mode"


def test_every_label_is_documented_and_well_formed():
    for label in features.LABELS.values():
        assert label.help.strip(), label.name
        assert label.scopes <= labels.ALL_SCOPES and label.scopes
        assert labels.TEMPLATE in label.scopes
        assert label.category in features.CATEGORIES
        if label.kind == "choice":
            assert label.default is None or label.default in label.choices


def test_feature_modules_named_by_labels_exist():
    import importlib
    for label in features.LABELS.values():
        module = importlib.import_module(
            "magnum_capi_rdma.features.%s" % label.module)
        assert callable(module.contribute)
        assert label in module.LABELS


def test_rdma_modes_are_the_issue_names():
    assert features.LABELS["rdma_mode"].choices == (
        "none", "macvlan", "sriov", "ipoib", "ib-sriov")
    assert features.LABELS["rdma_mode"].default == "none"
