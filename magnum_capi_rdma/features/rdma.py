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
"""RDMA: the network operator add-on, the RDMA port of RDMA node groups,
the host settings the modes need, and the workload objects
(NicClusterPolicy, IPPool, the pod network) as a Manifests add-on.

What each mode is and needs comes from the model in
``magnum_capi_rdma.rdma``; this module turns the labels into that model
and the model into chart values.
"""

import ipaddress

from magnum_capi_rdma import contract
from magnum_capi_rdma import labels
from magnum_capi_rdma import manifests
from magnum_capi_rdma.manifests import common as manifest_common
from magnum_capi_rdma import rdma as model
from magnum_capi_rdma.values import common

DOC_ORDER = 9
ADDON_NAME = "rdma-network"
_RDMA = dict(category="rdma")
_RDMA_NG = dict(_RDMA, scopes=labels.ALL_SCOPES)
_RELEASE = model.NETWORK_OPERATOR

#: Host settings of node groups whose mode isolates RDMA devices per pod:
#: the RDMA subsystem's exclusive network-namespace mode, set before the
#: module loads (modprobe option) and on the running kernel.
NETNS_EXCLUSIVE_FILE = {
    "path": "/etc/modprobe.d/magnum-capi-rdma-ib_core.conf",
    "content": "options ib_core netns_mode=0\n",
    "owner": "root:root",
    "permissions": "0644",
}
NETNS_EXCLUSIVE_COMMAND = "rdma system set netns exclusive"

LABELS = (
    labels.label(
        "rdma_mode", "choice", model.NONE,
        "How pods get RDMA: none; macvlan (RoCE in VMs on an SR-IOV VF); "
        "sriov (a VF per pod, bare metal); ipoib (IP over InfiniBand); "
        "ib-sriov (an InfiniBand VF per pod, bare metal). A node group may "
        "turn RDMA on or off, but all RDMA node groups of a cluster use one "
        "mode.", choices=model.MODE_NAMES, **_RDMA_NG),
    labels.label(
        "rdma_network", "string", None,
        "Neutron network (name or UUID) of the RDMA port of each RDMA "
        "node. Required when rdma_mode is not none.",
        pattern=labels.NEUTRON_NAME,
        pattern_help="a Neutron network name or UUID", **_RDMA_NG),
    labels.label(
        "rdma_vnic_type", "choice", "direct",
        "vnic_type of the RDMA port: direct is an SR-IOV VF, "
        "direct-physical a whole PF, baremetal an Ironic port.",
        choices=("direct", "direct-physical", "baremetal",
                 "remote-managed"), **_RDMA_NG),
    labels.label(
        "rdma_port_security", "choice", "disabled",
        "Port security of the RDMA port: disabled (macvlan MACs and pod "
        "addresses pass), or address-pairs (port security on, the pod range "
        "allowed as address pairs; macvlan only).",
        choices=("disabled", "address-pairs"), **_RDMA_NG),
    labels.label(
        "rdma_interface", "string", None,
        "Name of the RDMA netdev inside the node (the VF or PF, or the "
        "IPoIB device). Required for macvlan and ipoib; for sriov and "
        "ib-sriov it selects the physical function.",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$",
        pattern_help="a Linux interface name (at most 15 characters)",
        **_RDMA),
    labels.label(
        "rdma_mtu", "integer", None,
        "MTU of the macvlan interfaces of pods (macvlan only). Unset: the "
        "node interface's MTU.", minimum=576, maximum=9216, **_RDMA),
    labels.label(
        "rdma_ip_range", "cidr", None,
        "CIDR from which pods get their address on the RDMA network "
        "(nv-ipam pool). Required when rdma_mode is not none; must not "
        "overlap the Neutron subnet's allocation pool.", **_RDMA),
    labels.label(
        "rdma_ip_block_size", "integer", 32,
        "Addresses of rdma_ip_range handed to each node as a block.",
        minimum=2, maximum=65536, **_RDMA),
    labels.label(
        "rdma_ip_gateway", "string", None,
        "Gateway of the RDMA pod network, inside rdma_ip_range. Unset: no "
        "gateway (the RDMA network is flat).",
        pattern=r"^[0-9a-fA-F.:]+$", pattern_help="an IP address", **_RDMA),
    labels.label(
        "rdma_resource_name", "string", None,
        "Extended resource pods request for RDMA (not ipoib, whose pods "
        "get no RDMA device), without its prefix. Unset: "
        "rdma_shared_device_a (macvlan), sriov_rdma_vf (sriov) or "
        "sriov_ib_vf (ib-sriov).", pattern=labels.RESOURCE_NAME,
        pattern_help="lower case letters, digits and _, starting with a "
        "letter, at most 63 characters, without a prefix", **_RDMA),
    labels.label(
        "rdma_hca_max", "integer", 63,
        "How many pods of one node may share the HCA (macvlan only: the "
        "shared RDMA device plugin).", minimum=1, maximum=1000, **_RDMA),
    labels.label(
        "rdma_attachment_name", "string", "rdma-net",
        "Name of the network pods attach to with the annotation "
        "k8s.v1.cni.cncf.io/networks.", pattern=labels.DNS_LABEL,
        pattern_help="a DNS label (lower case, digits, -)", **_RDMA),
    labels.label(
        "rdma_attachment_namespace", "string", "default",
        "Namespace of the NetworkAttachmentDefinition; created with the "
        "RDMA objects unless it is default, kube-system or the network "
        "operator's.", pattern=labels.DNS_LABEL,
        pattern_help="a DNS label (lower case, digits, -)", **_RDMA),
    labels.label(
        "rdma_ofed_enabled", "boolean", True,
        "Run the DOCA/OFED driver container on RDMA nodes. Turn off when "
        "the image already carries the driver.", **_RDMA),
    labels.label(
        "rdma_ofed_version", "string", _RELEASE.doca_driver_version,
        "Version tag of the doca-driver (DOCA-OFED) image. The default is "
        "the one of %s; match it to the node kernel, best as a site "
        "default." % _RELEASE.label,
        pattern=labels.IMAGE_TAG, pattern_help="an image tag", **_RDMA),
    labels.label(
        "rdma_component_version", "string", _RELEASE.component_version,
        "Image tag of the network operator's components (device plugins, "
        "Multus, CNI plugins, nv-ipam, ib-kubernetes). The default is the "
        "one of %s, the release the chart installs." % _RELEASE.label,
        pattern=labels.IMAGE_TAG, pattern_help="an image tag", **_RDMA),
    labels.label(
        "rdma_image_repository", "string", _RELEASE.repository,
        "Registry path of the network operator's component images.",
        pattern=labels.IMAGE_REPOSITORY,
        pattern_help="an image repository without a scheme, such as "
        "nvcr.io/nvidia/mellanox or registry.example.com:5000/mellanox",
        **_RDMA),
    labels.label(
        "rdma_pkey", "string", None,
        "InfiniBand partition key of the pod network (ib-sriov only), "
        "from 0x0001 to 0x7fff, e.g. 0x0a12 (the form ib-kubernetes "
        "parses).", check=model.check_pkey,
        pattern_help="a partition key such as 0x0a12", **_RDMA),
    labels.label(
        "rdma_ufm_secret", "string", None,
        "Secret (in the network operator's namespace) holding the UFM "
        "credentials ib-kubernetes uses for pkeys and GUIDs. Required for "
        "ib-sriov.", pattern=labels.DNS_SUBDOMAIN,
        pattern_help="a Secret name: at most 253 lower case letters, "
        "digits, '-' and '.', starting and ending with a letter or digit",
        **_RDMA),
    labels.label(
        "rdma_selftest_enabled", "boolean", False,
        "Run an RDMA self-test (perftest ib_write_bw and ib_write_lat "
        "between pods on two RDMA nodes, over the RDMA resource and "
        "network) once the cluster is created, and again after a resize or "
        "upgrade of an RDMA node group; the result is in the cluster's "
        "health (rdma_selftest). Not for ipoib (its pods get no RDMA "
        "device).", **_RDMA),
    labels.label(
        "rdma_selftest_min_bandwidth_gbps", "integer", None,
        "Lowest RDMA write bandwidth (Gbit/s) the self-test accepts; "
        "below it the cluster is UNHEALTHY. Unset: [capi_rdma] "
        "selftest_min_bandwidth_gbps of the site. Needs "
        "rdma_selftest_enabled.", minimum=1, maximum=3200, **_RDMA),
    labels.label(
        "rdma_selftest_max_latency_us", "integer", None,
        "Highest RDMA write latency (microseconds, perftest's typical "
        "value) the self-test accepts; above it the cluster is UNHEALTHY. "
        "Unset: [capi_rdma] selftest_max_latency_us of the site. Needs "
        "rdma_selftest_enabled.", minimum=1, maximum=100000, **_RDMA),
)

#: Labels only the self-test reads.
_SELFTEST_THRESHOLDS = ("rdma_selftest_min_bandwidth_gbps",
                        "rdma_selftest_max_latency_us")

# -- the spec -----------------------------------------------------------


def group_part(ctx):
    """What the node group chooses (the control plane has no RDMA)."""
    if ctx.group.role == "master":
        return model.NO_ATTACHMENT
    mode = ctx.label("rdma_mode")
    if mode == model.NONE:
        return model.NO_ATTACHMENT
    info = model.MODES[mode]
    attachment = model.Attachment(
        mode=mode, network=ctx.label("rdma_network"),
        vnic_type=ctx.label("rdma_vnic_type"),
        port_security=ctx.label("rdma_port_security"))
    # A missing choice is reported where RDMA was turned on.
    where = ctx.source("rdma_mode")
    need = "required when rdma_mode is %s" % mode
    if not attachment.network:
        ctx.problem("rdma_network", None, "a Neutron network name or UUID",
                    need, where=where)
    if info.bare_metal_only and ctx.server_type != "bm":
        ctx.problem("rdma_mode", mode, "macvlan or ipoib on VMs",
                    "%s needs bare metal (template server_type bm); a VM "
                    "cannot split its VF again" % mode)
    if attachment.port_security == "address-pairs" and not (
            info.shares_device):
        ctx.problem("rdma_port_security", attachment.port_security,
                    "disabled", "address-pairs only applies to macvlan")
    if info.shares_device and attachment.vnic_type not in (
            "direct", "direct-physical"):
        ctx.problem("rdma_vnic_type", attachment.vnic_type,
                    "direct or direct-physical",
                    "macvlan needs an SR-IOV VF or PF in the VM")
    return attachment


def cluster_part(ctx):
    modes = sorted({g.rdma.mode for g in ctx.groups if g.rdma.enabled})
    selftest = ctx.label("rdma_selftest_enabled")
    _check_selftest_thresholds(ctx, selftest)
    if not modes:
        if selftest:
            ctx.problem("rdma_selftest_enabled", True, "true only with an "
                        "RDMA mode", "no node group has RDMA")
        return model.NO_FABRIC
    if len(modes) > 1:
        ctx.problem("rdma_mode", ",".join(modes), "one mode per cluster",
                    "RDMA node groups use different modes", where="cluster")
    mode = modes[0]
    info = model.MODES[mode]
    where = next(ctx.source_for("rdma_mode", g) for g in ctx.groups
                 if g.rdma.enabled)
    fabric = model.Fabric(
        mode=mode,
        interface=ctx.label("rdma_interface"),
        mtu=ctx.label("rdma_mtu"),
        ip_range=ctx.label("rdma_ip_range"),
        ip_block_size=ctx.label("rdma_ip_block_size"),
        ip_gateway=ctx.label("rdma_ip_gateway"),
        resource_name=(ctx.label("rdma_resource_name")
                       or info.default_resource),
        hca_max=ctx.label("rdma_hca_max"),
        attachment_name=ctx.label("rdma_attachment_name"),
        attachment_namespace=ctx.label("rdma_attachment_namespace"),
        ofed_enabled=ctx.label("rdma_ofed_enabled"),
        ofed_version=ctx.label("rdma_ofed_version"),
        component_version=ctx.label("rdma_component_version"),
        image_repository=ctx.label("rdma_image_repository"),
        pkey=ctx.label("rdma_pkey"),
        ufm_secret=ctx.label("rdma_ufm_secret"),
        selftest_enabled=selftest,
        selftest_min_bandwidth_gbps=ctx.label(
            "rdma_selftest_min_bandwidth_gbps"),
        selftest_max_latency_us=ctx.label("rdma_selftest_max_latency_us"),
        ip_range_where=ctx.source("rdma_ip_range"))
    _check_fabric(ctx, fabric, info, where)
    return fabric


def _check_selftest_thresholds(ctx, selftest):
    """A threshold a user set for a self-test that does not run.

    A site default (``[capi_rdma_labels]``) is no user's choice: it only
    applies where the self-test runs.
    """
    if selftest:
        return
    for name in _SELFTEST_THRESHOLDS:
        if ctx.source(name) not in ("default", "site"):
            ctx.problem(name, ctx.label(name), "unset unless "
                        "rdma_selftest_enabled is true",
                        "only the RDMA self-test reads it")


def _check_fabric(ctx, fabric, info, where):
    mode = fabric.mode
    need = "required when rdma_mode is %s" % mode
    if not fabric.ip_range:
        ctx.problem("rdma_ip_range", None, "a CIDR", need, where=where)
    if info.needs_interface and not fabric.interface:
        ctx.problem("rdma_interface", None, "an interface name", need,
                    where=where)
    if not info.takes_pkey:
        for name, value in (("rdma_pkey", fabric.pkey),
                            ("rdma_ufm_secret", fabric.ufm_secret)):
            if value:
                ctx.problem(name, value, "unset unless rdma_mode is "
                            "ib-sriov", "only ib-sriov uses it")
    elif not fabric.ufm_secret:
        ctx.problem("rdma_ufm_secret", None, "a Secret name",
                    need + " (ib-kubernetes talks to UFM)", where=where)
    if info.device_plugin is None:
        for name in ("rdma_resource_name", "rdma_hca_max"):
            if ctx.is_set(name):
                ctx.problem(name, ctx.label(name), "unset for %s" % mode,
                            "IPoIB pods get an IP interface, no RDMA "
                            "device")
    elif not info.shares_device and ctx.is_set("rdma_hca_max"):
        ctx.problem("rdma_hca_max", fabric.hca_max, "unset for %s" % mode,
                    "each pod gets its own VF; nothing is shared")
    if fabric.mtu and not info.takes_mtu:
        ctx.problem("rdma_mtu", fabric.mtu, "unset unless rdma_mode is "
                    "macvlan", "only macvlan interfaces take an MTU")
    if mode == "ib-sriov" and not ctx.site_option("ib_sriov_cni_in_image"):
        ctx.problem(
            "rdma_mode", mode, "another mode, or a site that sets [capi_rdma]"
            " ib_sriov_cni_in_image", "the ib-sriov CNI is not delivered by "
            "the NicClusterPolicy of %s (only its SR-IOV network operator "
            "ships it) and this site has not said that its node images "
            "carry it" % _RELEASE.label, where=where)
    _check_ip(ctx, fabric)


def _check_ip(ctx, fabric):
    if not fabric.ip_range:
        return
    net = ipaddress.ip_network(fabric.ip_range)
    if fabric.ip_block_size > net.num_addresses - 2:
        ctx.problem("rdma_ip_block_size", fabric.ip_block_size,
                    "at most %d for %s" % (net.num_addresses - 2, net),
                    "larger than rdma_ip_range")
    if fabric.ip_gateway:
        try:
            gateway = ipaddress.ip_address(fabric.ip_gateway)
        except ValueError:
            gateway = None
        hosts = net.num_addresses > 2 and gateway in net and gateway not in (
            net.network_address, net.broadcast_address)
        if not hosts:
            ctx.problem("rdma_ip_gateway", fabric.ip_gateway,
                        "a host address of %s (not its network or "
                        "broadcast address)" % net)


# -- chart values ---------------------------------------------------------


def port(spec, group):
    """The extra CAPO port of an RDMA node group, or None."""
    attachment = group.rdma
    if not attachment.enabled:
        return None
    value = {
        "network": common.port_network(attachment.network),
        "vnicType": attachment.vnic_type,
        "nameSuffix": "rdma",
    }
    if attachment.port_security == "disabled":
        value["disablePortSecurity"] = True
        value["securityGroups"] = []
    else:
        value["allowedAddressPairs"] = [{"ipAddress": spec.rdma.ip_range}]
    return value


def addon(spec, api_versions=None):
    """The ``addons.custom`` entry carrying the RDMA objects."""
    files = manifests.manifest_files(spec, api_versions)
    return {
        "kind": "Manifests",
        "spec": {
            "namespace": contract.NETWORK_OPERATOR_NAMESPACE,
            "manifests": {name: manifest_common.to_yaml(obj)
                          for name, obj in files.items()},
        },
    }


def host_settings(spec, group):
    """The host settings the mode of an RDMA node group needs.

    kubeadm applies them; ``features.hosts`` puts them on the group.
    """
    if not (spec.rdma.enabled and spec.rdma.info.isolates_per_pod
            and group.rdma.enabled):
        return {}
    return {"files": [dict(NETNS_EXCLUSIVE_FILE)],
            "preKubeadmCommands": [NETNS_EXCLUSIVE_COMMAND]}


def contribute(spec):
    operator = {"enabled": spec.rdma.enabled}
    if not spec.rdma.enabled:
        return {"addons": {"mellanoxNetworkOperator": operator}}
    # The chart of the release whose component versions the policy uses.
    operator["chart"] = {"version": _RELEASE.chart_version}
    operator["release"] = {
        "namespace": contract.NETWORK_OPERATOR_NAMESPACE}
    return {"addons": {
        "mellanoxNetworkOperator": operator,
        "custom": {ADDON_NAME: addon(spec)},
    }}
