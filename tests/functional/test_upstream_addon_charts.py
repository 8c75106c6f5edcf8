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
"""The add-on chart values the driver sets, against the real add-on charts
(../shared/upstream/charts: network-operator 26.1.1, gpu-operator v26.3.1).

Every key path the driver sets under ``addons.mellanoxNetworkOperator``
and ``addons.nvidiaGPUOperator`` (``release.values``) must exist in that
chart's values.yaml (a subchart's section: in the subchart's). The charts
are rendered with the pinned helm, with the values the add-on provider
composes (the openstack-cluster chart rendered with the driver's values,
then its HelmRelease's values sources merged), and the rendered objects
must show the setting; the rendered ClusterPolicy is applied strictly to
the ``workload_cluster`` API server.
"""

import pytest

from tests.support import upstream

# Values key of the openstack-cluster chart -> upstream chart folder.
ADDON_CHARTS = {
    "mellanoxNetworkOperator": "network-operator",
    "nvidiaGPUOperator": "gpu-operator",
}


def descriptions():
    """Descriptions that make the driver set add-on values, by name."""
    found = {"examples/macvlan-gpu": upstream.example("macvlan-gpu"),
             "examples/ib-sriov": upstream.example("ib-sriov"),
             "gpu": upstream.description(gpu=True)}
    for mode in upstream.RDMA_MODES:
        found["%s+gpu" % mode] = upstream.description(mode, gpu=True)
        found["%s+gpu-no-ofed" % mode] = upstream.description(
            mode, gpu=True, rdma_ofed_enabled="false")
    return found


def set_values(values, key):
    addon = values["addons"].get(key) or {}
    return (addon.get("release") or {}).get("values") or {}


@pytest.mark.parametrize("key", sorted(ADDON_CHARTS))
def test_driver_values_exist_in_chart(key):
    path = upstream.require_upstream()
    chart_dir = path / "charts" / ADDON_CHARTS[key]
    defaults = upstream.chart_defaults(chart_dir)
    missing = {}
    for name, desc in descriptions().items():
        values = set_values(upstream.driver_values(desc), key)
        for found in upstream.missing_key_paths(values, defaults):
            missing.setdefault(found, []).append(name)
    assert not missing, "%s values the driver sets that %s/values.yaml " \
        "does not have:\n%s" % (key, chart_dir, "\n".join(
            "%s (set for: %s)" % (p, ", ".join(names))
            for p, names in sorted(missing.items())))


@pytest.mark.parametrize("ofed_enabled", [True, False],
                         ids=["network-operator-ofed", "host-ofed"])
def test_gpu_operator_gpudirect_rdma(ofed_enabled, helm_bin,
                                     workload_cluster, tmp_path):
    path = upstream.require_upstream()
    desc = upstream.description(
        "macvlan", gpu=True,
        rdma_ofed_enabled="true" if ofed_enabled else "false")
    values = upstream.driver_values(desc)
    version = upstream.kube_version(desc)
    chart_docs = upstream.render_cluster_chart(helm_bin, path, values,
                                               tmp_path, version)
    _, composed, docs = upstream.render_addon(
        helm_bin, path, chart_docs, upstream.GPU_OPERATOR_RELEASE,
        tmp_path, version)
    policies = upstream.of_kind(docs, "ClusterPolicy")
    assert len(policies) == 1, "gpu-operator rendered %d ClusterPolicy" % (
        len(policies))
    policy = policies[0]
    rdma = policy["spec"]["driver"]["rdma"]
    assert rdma["enabled"] is True, "GPUDirect RDMA is not enabled"
    driver_set = set_values(values, "nvidiaGPUOperator").get(
        "driver", {}).get("rdma", {})
    chart_default = upstream.chart_defaults(
        path / "charts" / "gpu-operator")["driver"]["rdma"]
    expected = driver_set.get("useHostMofed", chart_default["useHostMofed"])
    assert rdma["useHostMofed"] is expected
    assert composed["driver"]["rdma"]["useHostMofed"] is expected
    kube = workload_cluster.kube
    kube.create(policy)
    try:
        assert kube.get(policy)["spec"]["driver"]["rdma"] == rdma
    finally:
        kube.delete(policy)


@pytest.mark.parametrize("example", ["macvlan-gpu", "ib-sriov"])
def test_network_operator_chart(example, helm_bin, tmp_path):
    """The chart renders; the NicClusterPolicy comes from the add-on.

    The chart renders with the composed values and no NicClusterPolicy;
    the driver's Manifests add-on delivers exactly one, and its IPPools go
    into the namespace the operator runs in.
    """
    path = upstream.require_upstream()
    desc = upstream.example(example)
    values = upstream.driver_values(desc)
    version = upstream.kube_version(desc)
    chart_docs = upstream.render_cluster_chart(helm_bin, path, values,
                                               tmp_path, version)
    namespace, _, docs = upstream.render_addon(
        helm_bin, path, chart_docs, upstream.NETWORK_OPERATOR_RELEASE,
        tmp_path, version)
    operators = [d for d in upstream.of_kind(docs, "Deployment")
                 if d["metadata"].get("namespace", namespace) == namespace]
    assert operators, "no operator Deployment rendered in %s" % namespace
    assert upstream.of_kind(docs, "NicClusterPolicy") == []
    addons = upstream.delivered_manifests(values)
    policies = [(ns, obj) for ns, objs in addons.values() for obj in objs
                if obj["kind"] == "NicClusterPolicy"]
    assert len(policies) == 1, policies
    ippools = [(ns, obj) for ns, objs in addons.values() for obj in objs
               if obj["kind"] == "IPPool"]
    assert ippools, "no IPPool delivered"
    for ns, pool in ippools:
        # nv-ipam reads its pools in the operator's namespace.
        assert pool["metadata"].get("namespace", ns) == namespace
