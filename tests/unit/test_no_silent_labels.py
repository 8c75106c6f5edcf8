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
"""No label is silently ignored.

Every declared label (and every old name of one), given a valid value
other than its default (with the labels or fields it needs to mean
anything), must change what the driver renders (chart values, workload
manifests, chart version, the fields the driver applies itself on the
KubeadmControlPlane, or the RDMA self-test's pods and thresholds) or
be refused naming it. Every label of the
other Cluster API drivers (tests/support/peers.py) is declared (so covered
here), or refused, or (with ``[capi_rdma] unknown_labels = warn``) listed
as ignored in the spec, which the driver reports in status_reason.
"""

import copy

import pytest

from magnum_capi_rdma import features
from magnum_capi_rdma import manifests
from magnum_capi_rdma import selftest
from magnum_capi_rdma import spec
from magnum_capi_rdma import values
from tests.support import peers

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
    "node_groups": [{"name": "extra", "flavor_id": "m1.xlarge",
                     "node_count": 1}],
}

MACVLAN = {"rdma_mode": "macvlan", "rdma_network": "fabric",
           "rdma_interface": "ens6", "rdma_ip_range": "10.200.0.0/16"}
IB_SRIOV = {"rdma_mode": "ib-sriov", "rdma_network": "ib",
            "rdma_vnic_type": "baremetal", "rdma_ip_range": "10.200.0.0/16",
            "rdma_ufm_secret": "ufm"}
BM = {"server_type": "bm"}
CILIUM = {"network_driver": "cilium"}
OIDC = {"oidc_issuer_url": "https://auth.example.com",
        "oidc_client_id": "kube"}
ETCD = {"etcd_blockdevice_size": "20"}
BOOT = {"boot_volume_size": "50"}
AUTOSCALE = {"auto_scaling_enabled": "true"}
MANILA = {"manila_csi_enabled": "true"}
UUID = "3c9f7b1e-2d4a-4f6b-8e1c-0a9b8c7d6e5f"


def case(value, labels=None, fields=None, baseline=None, also=None):
    """A case: *value* against *baseline* (None: unset).

    *labels* and the template *fields* are on both sides, *also* (labels
    the value needs beside it) only with the value.
    """
    return {"value": value, "labels": labels or {}, "fields": fields or {},
            "baseline": baseline, "also": also or {}}


#: label -> its non-default value and what it needs.
CASES = {
    "kube_tag": case("v1.32.5", baseline="v1.33.1"),
    "capi_helm_chart_version": case("0.26.0"),
    "certificate_renewal_days": case("45"),
    "keystone_auth_enabled": case("true"),
    "ingress_enabled": case("true"),
    "kube_dashboard_enabled": case("true"),
    "cloud_provider_tag": case("v1.33.0"),
    "oidc_issuer_url": case("https://auth.example.com",
                            also={"oidc_client_id": "kube"}),
    "oidc_client_id": case("kube2", OIDC),
    "oidc_username_claim": case("email", OIDC),
    "oidc_username_prefix": case("oidc:", OIDC),
    "oidc_groups_claim": case("groups", OIDC),
    "oidc_groups_prefix": case("oidc:", OIDC),
    "audit_log_enabled": case("true"),
    "audit_log_max_age": case("7", {"audit_log_enabled": "true"}),
    "audit_log_max_backup": case("3", {"audit_log_enabled": "true"}),
    "audit_log_max_size": case("50", {"audit_log_enabled": "true"}),
    "api_server_cert_sans": case("api.example.com"),
    "api_server_tls_cipher_suites": case(
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    "kubelet_tls_cipher_suites": case(
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    "admission_control_list": case("PodNodeSelector"),
    "calico_tag": case("v3.30.2"),
    "cilium_tag": case("v1.18.0", fields=CILIUM),
    "cilium_hubble_ui_enabled": case("true", fields=CILIUM),
    "fixed_subnet_cidr": case("10.1.0.0/24"),
    "extra_network_names": case("storage-a storage-b"),
    "calico_ipv4pool": case("10.100.0.0/16"),
    "cilium_ipv4pool": case("10.100.0.0/16", fields=CILIUM),
    "service_cluster_ip_range": case("10.254.0.0/16"),
    "dns_cluster_domain": case("k8s.example"),
    "master_lb_floating_ip_enabled": case("false"),
    "api_master_lb_allowed_cidrs": case("192.0.2.0/24"),
    "octavia_provider": case("ovn"),
    "octavia_lb_algorithm": case("LEAST_CONNECTIONS"),
    "octavia_lb_healthcheck": case("false"),
    "api_server_floating_ip": case("203.0.113.7"),
    "container_infra_prefix": case("registry.example.com/k8s"),
    "registry_mirrors": case("docker.io=https://mirror.example.com/v2/d"),
    "etcd_blockdevice_size": case("20"),
    "etcd_blockdevice_type": case("Local", ETCD),
    "etcd_blockdevice_volume_type": case("ssd", ETCD),
    "etcd_blockdevice_volume_az": case("az1", ETCD),
    "boot_volume_size": case("50"),
    "boot_volume_type": case("ssd", BOOT),
    "boot_volume_availability_zone": case("az-vol", BOOT),
    "docker_volume_type": case("fast", fields={"docker_volume_size": 40}),
    "cinder_csi_enabled": case("false"),
    "csi_cinder_availability_zone": case("az1"),
    "csi_cinder_volume_type": case("ssd"),
    "csi_cinder_reclaim_policy": case("Delete"),
    "csi_cinder_volume_binding_mode": case("Immediate"),
    "csi_cinder_fstype": case("xfs"),
    "csi_cinder_allow_volume_expansion": case("false"),
    "cinder_csi_plugin_tag": case("v1.33.0"),
    "csi_attacher_tag": case("v4.9.0"),
    "csi_provisioner_tag": case("v5.3.0"),
    "csi_snapshotter_tag": case("v8.3.0"),
    "csi_resizer_tag": case("v1.14.0"),
    "csi_node_driver_registrar_tag": case("v2.15.0"),
    "csi_liveness_probe_tag": case("v2.17.0"),
    "manila_csi_enabled": case("true"),
    "manila_csi_share_network_id": case(UUID, MANILA),
    "manila_csi_plugin_tag": case("v1.33.0", MANILA),
    "availability_zone": case("az1"),
    "node_labels": case("example.com/role=x"),
    "node_taints": case("dedicated=x:NoSchedule"),
    "server_group_id": case(UUID),
    "control_plane_availability_zones": case("az1,az2"),
    "auto_scaling_enabled": case("true"),
    "auto_healing_enabled": case("false"),
    "min_node_count": case("1", AUTOSCALE),
    "max_node_count": case("5", AUTOSCALE),
    "monitoring_enabled": case("true"),
    "logging_enabled": case("true", {"monitoring_enabled": "true"}),
    "gpu_operator_enabled": case("true"),
    "gpu_direct_rdma_enabled": case(
        "false", dict(MACVLAN, gpu_operator_enabled="true")),
    "rdma_mode": case("macvlan", {k: v for k, v in MACVLAN.items()
                                  if k != "rdma_mode"}),
    "rdma_network": case("fabric2", MACVLAN),
    "rdma_vnic_type": case("direct-physical", MACVLAN),
    "rdma_port_security": case("address-pairs", MACVLAN),
    "rdma_interface": case("ens7", MACVLAN, baseline="ens6"),
    "rdma_mtu": case("9000", MACVLAN),
    "rdma_ip_range": case("10.201.0.0/16", MACVLAN,
                          baseline="10.200.0.0/16"),
    "rdma_ip_block_size": case("64", MACVLAN),
    "rdma_ip_gateway": case("10.200.0.1", MACVLAN),
    "rdma_resource_name": case("rdma_b", MACVLAN),
    "rdma_hca_max": case("10", MACVLAN),
    "rdma_attachment_name": case("fast-net", MACVLAN),
    "rdma_attachment_namespace": case("hpc", MACVLAN),
    "rdma_ofed_enabled": case("false", MACVLAN),
    "rdma_ofed_version": case("doca3.1.0-25.07-0.9.7.0-0", MACVLAN),
    "rdma_component_version": case("v9.9.9", MACVLAN),
    "rdma_image_repository": case("registry.example.com/mlx", MACVLAN),
    "rdma_pkey": case("0x0a12", IB_SRIOV, fields=BM),
    "rdma_ufm_secret": case("ufm-2", IB_SRIOV, fields=BM, baseline="ufm"),
    "rdma_selftest_enabled": case("true", MACVLAN),
    "rdma_selftest_min_bandwidth_gbps": case(
        "180", dict(MACVLAN, rdma_selftest_enabled="true")),
    "rdma_selftest_max_latency_us": case(
        "5", dict(MACVLAN, rdma_selftest_enabled="true")),
}

#: Declared labels that change nothing yet, with the issue that makes
#: them work; the test expects them to fail (strict: it tells when one
#: starts to work, so it leaves this list).
PENDING = {}

#: Template fields operators asked for (tests/support/peers.py).
FIELD_CASES = {
    "http_proxy": case(None, fields={"http_proxy": "http://proxy:3128"}),
    "https_proxy": case(None, fields={"https_proxy": "http://proxy:3128"}),
    "no_proxy": case(None, fields={
        "https_proxy": "http://proxy:3128", "no_proxy": ".example.com"}),
    "insecure_registry": case(None, fields={
        "insecure_registry": "registry.local:5000"}),
    "docker_volume_size": case(None, fields={"docker_volume_size": 40}),
}
#: The fields a field case compares against (its companions).
FIELD_BASELINES = {"no_proxy": {"https_proxy": "http://proxy:3128"}}


def description(labels, fields):
    desc = copy.deepcopy(BASE)
    template = desc["cluster_template"]
    template["labels"].update(labels)
    template.update(fields)
    return desc


def rendered(desc, site=SITE):
    """What the driver renders for *desc*, or the InvalidSpec.

    The chart values, the workload manifests, the chart version, the
    KubeadmControlPlane fields the driver applies itself and the RDMA
    self-test (its pods and the thresholds it is judged by).
    """
    try:
        built = spec.build_spec(desc, site_options=site)
    except spec.InvalidSpec as exc:
        return exc
    return (values.build_values(built, "creds"),
            [m for m in manifests.build_manifests(built)],
            built.chart_version,
            values.control_plane_fields(built),
            selftest.render(built, selftest.settings(
                built.rdma, "perftest", [], [], 10.0, 50.0, 600)))


def check_changes_or_refused(name, label_name, entry):
    labels = dict(entry["labels"])
    if entry["baseline"] is not None:
        labels[label_name] = entry["baseline"]
    before = rendered(description(labels, entry["fields"]))
    assert not isinstance(before, spec.InvalidSpec), (
        "the baseline of %s is invalid: %s" % (name, before))
    labels[label_name] = entry["value"]
    labels.update(entry["also"])
    after = rendered(description(labels, entry["fields"]))
    if isinstance(after, spec.InvalidSpec):
        assert any(p.label == label_name for p in after.problems), (
            "%s refused, but not by name: %s" % (label_name, after))
        return
    assert after != before, (
        "label %s = %r is accepted and changes nothing the driver renders"
        % (label_name, entry["value"]))


def _params():
    params = []
    for name in sorted(features.LABELS):
        marks = ()
        if name in PENDING:
            marks = pytest.mark.xfail(reason=PENDING[name], strict=True)
        params.append(pytest.param(name, name, marks=marks, id=name))
    for old, name in sorted(features.DEPRECATED.items()):
        marks = ()
        if name in PENDING:
            marks = pytest.mark.xfail(reason=PENDING[name], strict=True)
        params.append(pytest.param(name, old, marks=marks, id=old))
    return params


def test_every_label_has_a_case():
    assert set(CASES) == set(features.LABELS)
    assert set(PENDING) <= set(CASES)


@pytest.mark.parametrize("name,label_name", _params())
def test_label_changes_the_render_or_is_refused(name, label_name):
    check_changes_or_refused(name, label_name, CASES[name])


@pytest.mark.parametrize("field", sorted(FIELD_CASES))
def test_requested_template_field_changes_the_render(field):
    entry = FIELD_CASES[field]
    before = rendered(description({}, FIELD_BASELINES.get(field, {})))
    after = rendered(description({}, entry["fields"]))
    assert not isinstance(after, spec.InvalidSpec), after
    assert after != before, "field %s changes nothing" % field


def test_fields_cover_the_requested_ones():
    assert set(FIELD_CASES) == set(peers.REQUESTED_FIELDS)


def _refused_by_name(result, name):
    return isinstance(result, spec.InvalidSpec) and any(
        p.label == name for p in result.problems)


@pytest.mark.parametrize("name", peers.peer_labels())
def test_peer_label_is_declared_refused_or_reported(name):
    known = name in features.LABELS or name in features.DEPRECATED
    if known:
        canonical = features.canonical_name(name)
        assert canonical in CASES, name  # covered by the test above
        return
    value = "x"
    refuse = rendered(description({name: value}, {}))
    assert _refused_by_name(refuse, name), (
        "peer label %s is accepted without a word" % name)
    warn = rendered(description({name: value}, {}),
                    dict(SITE, unknown_labels="warn"))
    if name in features.REFUSED:
        assert _refused_by_name(warn, name)
        assert "not supported by this driver: %s" % features.REFUSED[
            name] in str(warn)
    else:
        built = spec.build_spec(description({name: value}, {}),
                                site_options=dict(SITE,
                                                  unknown_labels="warn"))
        assert ("template", name) in built.ignored_labels


def test_refused_labels_say_what_to_do_instead():
    for name, why in features.REFUSED.items():
        assert len(why) > 40, name
        result = rendered(description({name: "true"}, {}))
        assert _refused_by_name(result, name), name
