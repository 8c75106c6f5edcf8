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
"""build_spec: fields, precedence, validation that collects every
problem, and the rule that every label read is declared."""

import ast
import copy
import pathlib
import re

import pytest
import yaml

from magnum_capi_rdma import features
from magnum_capi_rdma import spec

ROOT = pathlib.Path(__file__).resolve().parents[2]


def example(name):
    with open(ROOT / "examples" / ("%s.yaml" % name)) as handle:
        return yaml.safe_load(handle)


def minimal(**template_labels):
    desc = example("minimal")
    desc["cluster_template"]["labels"].update(template_labels)
    return desc


#: The site of most tests declares that its images carry the ib-sriov CNI.
IB_SRIOV_SITE = {"ib_sriov_cni_in_image": True}


def build(desc, site=None, options=IB_SRIOV_SITE):
    return spec.build_spec(desc, site, options)


def problems(desc, site=None, options=IB_SRIOV_SITE):
    with pytest.raises(spec.InvalidSpec) as err:
        spec.build_spec(desc, site, options)
    return err.value.problems


def labels_of(found):
    return sorted(p.label for p in found)


def test_minimal_fields():
    s = build(example("minimal"))
    assert s.name == "minimal"
    assert s.kube_version == "1.33.1" and s.kube_tag == "v1.33.1"
    assert s.uuid == spec.PLACEHOLDER_UUID
    assert s.project_id == spec.PLACEHOLDER_PROJECT
    assert s.chart_version is None
    assert [g.name for g in s.node_groups] == ["default-worker"]
    worker = s.node_groups[0]
    assert (worker.role, worker.flavor, worker.node_count) == (
        "worker", "m1.large", 2)
    assert s.control_plane.role == "master"
    assert s.control_plane.flavor == "m1.medium"
    assert not s.rdma_enabled and not worker.rdma.enabled
    assert s.networking.dns_nameservers == ("192.0.2.53",)


def test_chart_version_label():
    s = build(minimal(capi_helm_chart_version="0.27.0"))
    assert s.chart_version == "0.27.0"


def test_cluster_overrides_template_and_site():
    desc = minimal(auto_healing_enabled="false")
    desc["cluster"]["labels"] = {"auto_healing_enabled": "true"}
    assert build(desc).autoscaling.enabled is True
    desc["cluster"]["labels"] = {}
    assert build(desc).autoscaling.enabled is False
    desc["cluster_template"]["labels"].pop("auto_healing_enabled")
    site = {"auto_healing_enabled": "false"}
    assert build(desc, site).autoscaling.enabled is False


def test_site_default_supplies_required_label():
    desc = example("minimal")
    del desc["cluster_template"]["labels"]["kube_tag"]
    assert labels_of(problems(desc)) == ["kube_tag"]
    assert build(desc, {"kube_tag": "v1.34.0"}).kube_version == (
        "1.34.0")


def test_invalid_site_default_is_reported_as_site():
    found = problems(example("minimal"), {"rdma_hca_max": "lots"})
    assert [(p.label, p.where) for p in found] == [("rdma_hca_max", "site")]


def test_all_problems_collected_with_label_value_and_allowed():
    desc = minimal(kube_tag="1.33", rdma_hca_max="x",
                   octavia_lb_algorithm="FASTEST")
    desc["cluster"]["master_count"] = 2
    desc["node_groups"] = [{"name": "Bad_Name"}]
    found = problems(desc)
    assert labels_of(found) == ["kube_tag", "master_count", "name",
                                "octavia_lb_algorithm", "rdma_hca_max"]
    by_label = {p.label: p for p in found}
    text = str(by_label["octavia_lb_algorithm"])
    assert "octavia_lb_algorithm" in text and "FASTEST" in text
    assert "ROUND_ROBIN" in text and "template" in text
    assert "\n" not in text
    assert by_label["kube_tag"].allowed == "a version tag such as v1.33.1"


def test_did_you_mean_for_near_miss():
    found = problems(minimal(rdma_mdoe="macvlan"))
    assert labels_of(found) == ["rdma_mdoe"]
    assert "did you mean 'rdma_mode'" in str(found[0])


def test_own_prefix_unknown_label_is_an_error_and_foreign_too():
    found = problems(minimal(rdma_turbo="yes"))
    assert labels_of(found) == ["rdma_turbo"]
    found = problems(minimal(heat_container_agent_tag="wallaby"))
    assert labels_of(found) == ["heat_container_agent_tag"]
    assert "unknown_labels = warn" in str(found[0])


def test_unknown_labels_warn_policy_accepts_and_lists_them():
    desc = minimal(heat_container_agent_tag="wallaby", rdma_turbo="yes")
    options = dict(IB_SRIOV_SITE, unknown_labels="warn")
    # The driver's own prefix is refused whatever the policy.
    assert labels_of(problems(desc, options=options)) == ["rdma_turbo"]
    del desc["cluster_template"]["labels"]["rdma_turbo"]
    built = build(desc, options=options)
    assert built.ignored_labels == (("template",
                                     "heat_container_agent_tag"),)


@pytest.mark.parametrize("typed,meant", [
    ("RDMA_MODE", "rdma_mode"), ("Kube_Tag", "kube_tag"),
    ("monitoring_enable", "monitoring_enabled")])
def test_did_you_mean_is_case_insensitive(typed, meant):
    found = problems(minimal(**{typed: "x"}),
                     options=dict(IB_SRIOV_SITE, unknown_labels="warn"))
    assert labels_of(found) == [typed]
    assert "did you mean %r" % meant in str(found[0])


def test_template_only_label_on_cluster_is_rejected():
    desc = example("minimal")
    desc["cluster"]["labels"] = {"capi_helm_chart_version": "0.27.0"}
    found = problems(desc)
    assert [(p.label, p.where) for p in found] == [
        ("capi_helm_chart_version", "cluster")]
    desc["cluster_template"]["labels"]["capi_helm_chart_version"] = "0.27.0"
    assert build(desc).chart_version == "0.27.0"


def test_cluster_label_on_node_group_rejected_unless_inherited():
    desc = example("minimal")
    desc["cluster"]["labels"] = {"monitoring_enabled": "true"}
    desc["node_groups"] = [{"name": "extra", "labels": {
        "monitoring_enabled": "true", "kube_tag": "v1.33.1"}}]
    build(desc)       # inherited copies are fine
    desc["node_groups"][0]["labels"]["monitoring_enabled"] = "false"
    found = problems(desc)
    assert [(p.label, p.where) for p in found] == [
        ("monitoring_enabled", "nodegroup:extra")]


def test_node_group_labels_override_cluster():
    desc = example("minimal")
    desc["cluster"]["labels"] = {"availability_zone": "az1",
                                 "node_labels": "tier=a"}
    desc["node_groups"] = [{"name": "other", "flavor_id": "f2",
                            "labels": {"availability_zone": "az2"}}]
    s = build(desc)
    assert s.node_group("default-worker").placement.availability_zone == "az1"
    assert s.node_group("other").placement.availability_zone == "az2"
    assert s.node_group("other").placement.node_labels == (("tier", "a"),)
    assert s.node_group("other").flavor == "f2"
    assert s.control_plane.placement.availability_zone == "az1"


def test_default_worker_override_from_node_group_list():
    desc = example("minimal")
    desc["node_groups"] = [{"name": "default-worker", "node_count": 5,
                            "labels": {"node_taints": "a=b:NoSchedule"}}]
    s = build(desc)
    assert len(s.node_groups) == 1
    assert s.node_groups[0].node_count == 5
    assert s.node_groups[0].placement.taints == (("a", "b", "NoSchedule"),)


@pytest.mark.parametrize("name", ["a", "1abc", "abc-", "ABC", "a_b",
                                  "x" * 64])
def test_node_group_name_must_match_chart_regex(name):
    desc = example("minimal")
    desc["node_groups"] = [{"name": name}]
    assert labels_of(problems(desc)) == ["name"]


def test_any_role_but_master_is_a_worker_group():
    desc = example("minimal")
    desc["node_groups"] = [{"name": "infra", "role": "infra"},
                           {"name": "default-master", "role": "master",
                            "flavor_id": "big"}]
    s = build(desc)
    assert [(g.name, g.role) for g in s.node_groups] == [
        ("default-worker", "worker"), ("infra", "worker")]
    assert s.control_plane.flavor == "big"


def test_duplicate_node_group():
    desc = example("minimal")
    desc["node_groups"] = [{"name": "aa1"}, {"name": "aa1"}]
    assert labels_of(problems(desc)) == ["name"]


@pytest.mark.parametrize("low,count,high,ok", [
    (1, 2, 3, True), (2, 2, 2, True), (3, 2, 4, False), (0, 5, 4, False)])
def test_count_range(low, count, high, ok):
    desc = example("minimal")
    desc["node_groups"] = [{"name": "pool", "node_count": count,
                            "min_node_count": low, "max_node_count": high}]
    if ok:
        group = build(desc).node_group("pool")
        assert (group.autoscaling.min_node_count,
                group.autoscaling.max_node_count) == (low, high)
    else:
        assert labels_of(problems(desc)) == ["node_count"]


@pytest.mark.parametrize("count,ok", [(1, True), (3, True), (2, False),
                                      (0, False)])
def test_master_count_odd(count, ok):
    desc = example("minimal")
    desc["cluster"]["master_count"] = count
    if ok:
        assert build(desc).control_plane.node_count == count
    else:
        assert problems(desc)


def test_autoscaling_defaults_from_labels():
    desc = minimal(auto_scaling_enabled="true", min_node_count="1",
                   max_node_count="6")
    group = build(desc).node_groups[0]
    assert group.autoscale and (group.autoscaling.min_node_count,
                                group.autoscaling.max_node_count) == (1, 6)


RDMA = dict(rdma_mode="macvlan", rdma_network="fabric",
            rdma_interface="ens6", rdma_ip_range="10.9.0.0/16",
            rdma_ofed_version="1.0")


def test_rdma_required_settings_all_reported():
    found = problems(minimal(rdma_mode="macvlan"))
    assert labels_of(found) == ["rdma_interface", "rdma_ip_range",
                                "rdma_network"]
    assert all("required when rdma_mode is macvlan" in p.message
               for p in found)


@pytest.mark.parametrize("extra,bad", [
    ({"rdma_pkey": "0x12"}, "rdma_pkey"),
    ({"rdma_ufm_secret": "ufm"}, "rdma_ufm_secret"),
    ({"rdma_vnic_type": "baremetal"}, "rdma_vnic_type"),
    ({"rdma_mode": "sriov"}, "rdma_mode"),
    ({"rdma_mode": "ib-sriov", "rdma_ufm_secret": "u"}, "rdma_mode"),
    ({"rdma_mode": "ipoib", "rdma_port_security": "address-pairs"},
     "rdma_port_security"),
    ({"rdma_mode": "ipoib", "rdma_mtu": "2000"}, "rdma_mtu"),
    ({"rdma_mode": "ipoib", "rdma_resource_name": "x"},
     "rdma_resource_name"),
    ({"rdma_mode": "ipoib", "rdma_hca_max": "5"}, "rdma_hca_max"),
    ({"rdma_ip_gateway": "10.10.0.1"}, "rdma_ip_gateway"),
    ({"rdma_ip_range": "10.9.0.0/30", "rdma_ip_block_size": "8"},
     "rdma_ip_block_size"),
])
def test_rdma_mode_constraints(extra, bad):
    settings = dict(RDMA)
    settings.update(extra)
    assert labels_of(problems(minimal(**settings))) == [bad]


def test_rdma_ofed_version_default_and_off():
    settings = dict(RDMA)
    del settings["rdma_ofed_version"]
    s = build(minimal(**settings))
    assert s.rdma.ofed_version == features.LABELS["rdma_ofed_version"].default
    settings["rdma_ofed_enabled"] = "false"
    s = build(minimal(**settings))
    assert s.rdma.mode == "macvlan" and not s.rdma.ofed_enabled


def test_ib_sriov_needs_ufm_secret_and_bare_metal():
    settings = dict(RDMA, rdma_mode="ib-sriov")
    desc = minimal(**settings)
    desc["cluster_template"]["server_type"] = "bm"
    assert labels_of(problems(desc)) == ["rdma_ufm_secret"]
    desc["cluster_template"]["labels"]["rdma_ufm_secret"] = "ufm"
    s = build(desc)
    assert s.rdma.resource_name == "sriov_ib_vf"


def test_hca_max_is_for_shared_devices_only():
    desc = minimal(**dict(RDMA, rdma_mode="sriov", rdma_hca_max="5"))
    desc["cluster_template"]["server_type"] = "bm"
    assert labels_of(problems(desc)) == ["rdma_hca_max"]


def test_node_group_turns_rdma_on_and_off():
    desc = minimal(**dict(RDMA, rdma_mode="none"))
    desc["node_groups"] = [{"name": "fast", "labels": {
        "rdma_mode": "macvlan"}}]
    s = build(desc)
    assert [g.rdma.mode for g in s.node_groups] == ["none", "macvlan"]
    assert s.rdma.mode == "macvlan" and not hasattr(s.rdma, "network")
    assert [g.name for g in s.rdma_node_groups] == ["fast"]
    desc = minimal(**RDMA)
    desc["node_groups"] = [{"name": "plain", "labels": {"rdma_mode":
                                                        "none"}}]
    s = build(desc)
    assert [g.name for g in s.rdma_node_groups] == ["default-worker"]


def test_rdma_groups_must_share_one_mode():
    desc = minimal(**RDMA)
    desc["node_groups"] = [{"name": "ibx", "labels": {"rdma_mode": "ipoib"}}]
    found = problems(desc)
    assert labels_of(found) == ["rdma_mode"]
    assert "ipoib" in str(found[0]) and "macvlan" in str(found[0])


def test_gpu_direct_rdma_follows_gpu_and_rdma():
    s = build(minimal(gpu_operator_enabled="true", **RDMA))
    assert s.gpu.direct_rdma is True
    s = build(minimal(gpu_operator_enabled="true"))
    assert s.gpu.direct_rdma is False
    found = problems(minimal(gpu_direct_rdma_enabled="true"))
    assert labels_of(found) == ["gpu_direct_rdma_enabled"]


def test_deprecated_label_name_accepted():
    s = build(minimal(etcd_volume_size="15"))
    assert s.storage.etcd.size == 15
    s = build(minimal(etcd_volume_size="15", etcd_blockdevice_size="25"))
    assert s.storage.etcd.size == 25


@pytest.mark.parametrize("desc", [None, [], {"cluster_template": []},
                                  {"cluster_template": {}}])
def test_malformed_description(desc):
    assert problems(copy.deepcopy(desc))


def test_missing_flavor_and_image():
    desc = example("minimal")
    del desc["cluster_template"]["flavor_id"]
    del desc["cluster_template"]["image_id"]
    assert labels_of(problems(desc)) == ["flavor_id", "image_id"]


def _label_reads(path):
    """String literals passed to ``label(...)`` and friends in *path*."""
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        called = (func.attr if isinstance(func, ast.Attribute)
                  else getattr(func, "id", None))
        first = node.args[0]
        if called in ("label", "source", "is_set", "source_for") and \
                isinstance(first, ast.Constant) and \
                isinstance(first.value, str):
            names.add(first.value)
    return names


FEATURES_DIR = ROOT / "magnum_capi_rdma" / "features"


def test_every_label_read_is_declared_and_every_declared_label_read():
    reads = set()
    for path in FEATURES_DIR.glob("*.py"):
        reads |= _label_reads(path)
    assert reads, "the scan found no label reads"
    assert reads - set(features.LABELS) == set()
    assert set(features.LABELS) - reads == set()


def test_a_label_is_read_only_by_the_module_that_declares_it():
    """"Where does label X go?" is one file: its owner's."""
    for path in FEATURES_DIR.glob("*.py"):
        if path.name.startswith("_"):
            continue
        owned = {name for name, label in features.LABELS.items()
                 if label.module == path.stem}
        assert _label_reads(path) <= owned, path.name
    for path in (ROOT / "magnum_capi_rdma").rglob("*.py"):
        if path.parent == FEATURES_DIR:
            continue
        assert not _label_reads(path), path
        assert not re.search(r"LABELS\[['\"]", path.read_text()), path


def test_reading_a_label_of_another_feature_fails():
    class Thief(object):
        __name__ = "magnum_capi_rdma.features.thief"
        LABELS = ()

    builder = spec._Builder(example("minimal"), None, None)
    builder.load()
    ctx = spec.FeatureContext(builder, Thief)
    with pytest.raises(AssertionError, match="owned by kubernetes"):
        ctx.label("kube_tag")


def test_values_and_manifests_do_not_read_labels():
    for folder in ("values", "manifests"):
        for path in (ROOT / "magnum_capi_rdma" / folder).glob("*.py"):
            assert "LABELS" not in path.read_text(), path


def test_undeclared_label_read_fails_loudly():
    resolver = spec._Resolver(spec._Problems())
    with pytest.raises(KeyError):
        resolver.label("not_a_label")


def test_floating_ip_precedence():
    desc = example("minimal")
    desc["cluster_template"]["floating_ip_enabled"] = True
    desc["cluster"]["floating_ip_enabled"] = False
    assert build(desc).loadbalancer.floating_ip is False
    desc["cluster"]["labels"] = {"master_lb_floating_ip_enabled": "true"}
    assert build(desc).loadbalancer.floating_ip is True


def test_unsupported_network_driver_named():
    desc = example("minimal")
    desc["cluster_template"]["network_driver"] = "flannel"
    (found,) = problems(desc)
    assert found.label == "network_driver" and "calico" in found.allowed


def test_problem_lines_say_field_or_label():
    desc = minimal(rdma_hca_max="x")
    desc["cluster"]["master_count"] = 2
    lines = sorted(str(p) for p in problems(desc))
    assert lines[0].startswith("cluster: field master_count = 2")
    assert lines[1].startswith("template: label rdma_hca_max = 'x'")


def test_ib_sriov_refused_unless_the_site_images_carry_its_cni():
    settings = dict(RDMA, rdma_mode="ib-sriov", rdma_ufm_secret="ufm")
    desc = minimal(**settings)
    desc["cluster_template"]["server_type"] = "bm"
    found = problems(desc, options={})
    assert labels_of(found) == ["rdma_mode"]
    text = str(found[0])
    assert "ib_sriov_cni_in_image" in text
    assert "network-operator 26.1.1" in text
    assert build(desc).rdma.mode == "ib-sriov"


@pytest.mark.parametrize("raw,emitted", [
    ("0x0a12", "0x0a12"), ("0xA12", "0x0a12"), ("0X7FFF", "0x7fff"),
    ("0x1", "0x0001"), ("0x00007fff", "0x7fff")])
def test_pkey_emitted_in_the_form_ib_kubernetes_parses(raw, emitted):
    settings = dict(RDMA, rdma_mode="ib-sriov", rdma_ufm_secret="ufm",
                    rdma_pkey=raw)
    desc = minimal(**settings)
    desc["cluster_template"]["server_type"] = "bm"
    assert build(desc).rdma.pkey == emitted


@pytest.mark.parametrize("raw", [
    "0x8000", "0xffff", "0x0", "0x0000", "a12", "0a12", "12", "0x",
    "0xg1", "-0x1", "0x1 ", "0x100000000"])
def test_pkey_outside_what_ib_kubernetes_accepts_is_refused(raw):
    settings = dict(RDMA, rdma_mode="ib-sriov", rdma_ufm_secret="ufm",
                    rdma_pkey=raw)
    desc = minimal(**settings)
    desc["cluster_template"]["server_type"] = "bm"
    if raw.strip() != raw:
        desc["cluster_template"]["labels"]["rdma_pkey"] = "0x8000 "
    found = problems(desc)
    assert labels_of(found) == ["rdma_pkey"]
    text = str(found[0])
    assert "ib-kubernetes (network-operator 26.1.1)" in text
    assert "0x7fff" in text
