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
"""Every label the driver reads, declared once.

A label has a name, a kind (how its string value is parsed), a default,
the scopes where it may be set (cluster template, cluster, node group), the
values module that consumes it and a help text. Magnum stores label values
as strings; render descriptions may also carry native YAML values, which are
accepted where they fit the kind.

``Label.parse`` turns a raw value into a Python value or raises
``LabelValueError`` saying what is allowed. Nothing here reads Magnum
objects or configuration: ``spec`` applies the precedence rules.
"""

import collections
import dataclasses
import ipaddress
import re

TEMPLATE = "template"
CLUSTER = "cluster"
NODEGROUP = "nodegroup"
ALL_SCOPES = frozenset((TEMPLATE, CLUSTER, NODEGROUP))
CLUSTER_SCOPES = frozenset((TEMPLATE, CLUSTER))
TEMPLATE_ONLY = frozenset((TEMPLATE,))

RDMA_MODES = ("none", "macvlan", "sriov", "ipoib", "ib-sriov")

# Text that Helm (``tpl``) or the addon provider (Jinja2) would evaluate.
# No label value may carry it, so a value can never turn into code.
_TEMPLATE_MARKERS = ("{{", "}}", "{%", "%}", "{#", "#}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

_TRUE = frozenset(("true", "yes", "on", "1", "y", "t"))
_FALSE = frozenset(("false", "no", "off", "0", "n", "f"))

# Kubernetes label keys and values (used for node labels and taints).
_K8S_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_K8S_DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
_K8S_PREFIX = r"%s(\.%s)*" % (_K8S_DNS_LABEL, _K8S_DNS_LABEL)
K8S_KEY_RE = re.compile(r"^(%s/)?%s$" % (_K8S_PREFIX, _K8S_NAME))
K8S_VALUE_RE = re.compile(r"^(%s)?$" % _K8S_NAME)
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")

# Neutron name or UUID: printable, no commas (lists are comma separated).
_NEUTRON_NAME = r"^[^,\s][^,]{0,254}$"
_RESOURCE_NAME = r"^[a-z][a-z0-9_]{0,62}$"
_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"


class LabelValueError(ValueError):
    """A raw label value that does not fit its label."""

    def __init__(self, allowed, reason=None):
        super().__init__(reason or allowed)
        self.allowed = allowed
        self.reason = reason


def _check_text(text):
    if _CONTROL.search(text):
        raise LabelValueError("text without control characters",
                              "contains a control character")
    for marker in _TEMPLATE_MARKERS:
        if marker in text:
            raise LabelValueError(
                "text without template markers",
                "contains %r, which Helm or Jinja2 would evaluate" % marker)
    return text


def _as_text(raw):
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, (int, float)):
        return str(raw)
    if not isinstance(raw, str):
        raise LabelValueError("a string", "is a %s" % type(raw).__name__)
    return _check_text(raw.strip())


def _split(raw):
    if isinstance(raw, (list, tuple)):
        items = [_as_text(item) for item in raw]
    else:
        items = _as_text(raw).split(",")
    return [item.strip() for item in items if item.strip()]


@dataclasses.dataclass(frozen=True)
class Label:
    """One label: how it is parsed, where it may be set, where it goes."""

    name: str
    kind: str
    default: object
    help: str
    scopes: frozenset
    category: str
    module: str
    choices: tuple = ()
    minimum: int = None
    maximum: int = None
    pattern: str = None
    pattern_help: str = None
    deprecated_names: tuple = ()
    site_default: bool = True

    def allowed(self):
        """A short description of the values this label accepts."""
        kind = self.kind
        if kind == "boolean":
            return "true or false"
        if kind == "choice":
            return "one of " + ", ".join(self.choices)
        if kind == "integer":
            low = "" if self.minimum is None else str(self.minimum)
            high = "" if self.maximum is None else str(self.maximum)
            if low and high:
                return "an integer from %s to %s" % (low, high)
            if low:
                return "an integer >= %s" % low
            return "an integer"
        if kind == "cidr":
            return "a CIDR such as 10.0.0.0/24"
        if kind == "cidr_list":
            return "comma-separated CIDRs such as 10.0.0.0/8,192.0.2.0/24"
        if kind == "key_value":
            return ("comma-separated key=value Kubernetes labels, e.g. "
                    "example.com/role=gpu,tier=batch")
        if kind == "taints":
            return ("comma-separated key[=value]:Effect with Effect one of "
                    + ", ".join(TAINT_EFFECTS))
        if self.pattern_help:
            return self.pattern_help
        if kind == "string_list":
            return "a comma-separated list"
        return "a string"

    def parse(self, raw):
        """The Python value of *raw*, or raise ``LabelValueError``."""
        parser = _PARSERS[self.kind]
        try:
            return parser(self, raw)
        except LabelValueError as exc:
            reason = exc.reason
            if reason is None and exc.allowed != self.allowed():
                reason = exc.allowed
            raise LabelValueError(self.allowed(), reason) from None


def _parse_string(label, raw):
    text = _as_text(raw)
    if label.pattern and not re.match(label.pattern, text):
        raise LabelValueError(label.allowed())
    return text


def _parse_integer(label, raw):
    if isinstance(raw, bool):
        raise LabelValueError(label.allowed())
    if isinstance(raw, int):
        value = raw
    else:
        text = _as_text(raw)
        if not re.match(r"^[+-]?[0-9]+$", text):
            raise LabelValueError(label.allowed())
        value = int(text)
    if label.minimum is not None and value < label.minimum:
        raise LabelValueError(label.allowed())
    if label.maximum is not None and value > label.maximum:
        raise LabelValueError(label.allowed())
    return value


def _parse_boolean(label, raw):
    if isinstance(raw, bool):
        return raw
    text = _as_text(raw).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise LabelValueError(label.allowed())


def _parse_choice(label, raw):
    text = _as_text(raw)
    for choice in label.choices:
        if text.lower() == choice.lower():
            return choice
    raise LabelValueError(label.allowed())


def _network(text, label):
    try:
        return str(ipaddress.ip_network(text, strict=True))
    except ValueError:
        raise LabelValueError(label.allowed(),
                              "%r is not a network CIDR" % text)


def _parse_cidr(label, raw):
    return _network(_as_text(raw), label)


def _parse_cidr_list(label, raw):
    return tuple(_network(item, label) for item in _split(raw))


def _parse_string_list(label, raw):
    items = _split(raw)
    for item in items:
        if label.pattern and not re.match(label.pattern, item):
            raise LabelValueError(label.allowed(),
                                  "%r is not allowed" % item)
    return tuple(items)


def _k8s_pair(key, value, label):
    if not K8S_KEY_RE.match(key) or len(key) > 317:
        raise LabelValueError(label.allowed(),
                              "%r is not a Kubernetes label key" % key)
    if not K8S_VALUE_RE.match(value):
        raise LabelValueError(label.allowed(),
                              "%r is not a Kubernetes label value" % value)


def _parse_key_value(label, raw):
    if isinstance(raw, dict):
        pairs = [(_as_text(k), _as_text(v)) for k, v in raw.items()]
    else:
        pairs = []
        for item in _split(raw):
            key, sep, value = item.partition("=")
            if not sep:
                raise LabelValueError(label.allowed(),
                                      "%r has no '='" % item)
            pairs.append((key.strip(), value.strip()))
    seen = {}
    for key, value in pairs:
        _k8s_pair(key, value, label)
        seen[key] = value
    return tuple(sorted(seen.items()))


def _parse_taints(label, raw):
    taints = []
    for item in _split(raw):
        head, sep, effect = item.rpartition(":")
        if not sep or effect not in TAINT_EFFECTS:
            raise LabelValueError(label.allowed(),
                                  "%r has no valid :Effect" % item)
        key, _, value = head.partition("=")
        _k8s_pair(key, value, label)
        taints.append((key, value, effect))
    return tuple(taints)


_PARSERS = {
    "string": _parse_string,
    "integer": _parse_integer,
    "boolean": _parse_boolean,
    "choice": _parse_choice,
    "cidr": _parse_cidr,
    "cidr_list": _parse_cidr_list,
    "string_list": _parse_string_list,
    "key_value": _parse_key_value,
    "taints": _parse_taints,
}


def _label(name, kind, default, help, scopes=CLUSTER_SCOPES,
           category="kubernetes", module="base", **kwargs):
    return Label(name=name, kind=kind, default=default, help=help,
                 scopes=frozenset(scopes), category=category,
                 module=module, **kwargs)


def _declare():
    """The label table, in documentation order."""
    kube = dict(category="kubernetes", module="base")
    net = dict(category="networking", module="networking")
    lb = dict(category="load balancer", module="loadbalancer")
    storage = dict(category="storage", module="storage")
    ng = dict(category="node groups", module="nodegroups",
              scopes=ALL_SCOPES)
    scale = dict(category="autoscaling and healing", module="autoscaling")
    addons = dict(category="add-ons", module="addons")
    rdma = dict(category="rdma", module="rdma")
    rdma_ng = dict(rdma, scopes=ALL_SCOPES)
    gpu = dict(category="gpu", module="gpu")
    mon = dict(category="monitoring", module="monitoring")
    return [
        # Kubernetes and the chart.
        _label("kube_tag", "string", None,
               "Kubernetes version of the cluster, e.g. v1.33.1. The "
               "machine image must carry this version. Required.",
               pattern=r"^v[0-9]+\.[0-9]+\.[0-9]+$",
               pattern_help="a version tag such as v1.33.1", **kube),
        _label("capi_helm_chart_version", "string", None,
               "Version of the openstack-cluster chart for clusters of this "
               "template. Unset: the site's [capi_rdma] chart_version.",
               scopes=TEMPLATE_ONLY, site_default=False,
               pattern=r"^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$",
               pattern_help="a chart version such as 0.27.0", **kube),
        _label("keystone_auth_enabled", "boolean", False,
               "Authenticate Kubernetes API users with Keystone tokens "
               "(k8s-keystone-auth webhook).",
               category="kubernetes", module="addons"),
        # Networking.
        _label("fixed_subnet_cidr", "cidr", "10.0.0.0/24",
               "CIDR of the subnet the driver creates for the nodes when the "
               "template names no fixed network.", **net),
        _label("extra_network_names", "string_list", (),
               "Comma-separated Neutron networks (names or UUIDs); every "
               "node of the group gets one more port on each.",
               deprecated_names=("extra_network_name",),
               pattern=_NEUTRON_NAME,
               pattern_help="comma-separated Neutron network names or UUIDs",
               **dict(net, scopes=ALL_SCOPES)),
        # API load balancer.
        _label("master_lb_floating_ip_enabled", "boolean", None,
               "Give the API load balancer a floating IP. Unset: the "
               "template's floating_ip_enabled.", **lb),
        _label("api_master_lb_allowed_cidrs", "cidr_list", (),
               "CIDRs allowed to reach the Kubernetes API through the load "
               "balancer. Empty: anywhere.", **lb),
        _label("octavia_provider", "string", "amphora",
               "Octavia provider of the API and service load balancers.",
               pattern=r"^[a-z][a-z0-9_-]{0,63}$",
               pattern_help="an Octavia provider name such as amphora or "
               "ovn", **lb),
        _label("octavia_lb_algorithm", "choice", None,
               "Octavia algorithm of service load balancers. Unset: "
               "SOURCE_IP_PORT for the ovn provider, else ROUND_ROBIN.",
               choices=("ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP",
                        "SOURCE_IP_PORT"), **lb),
        _label("octavia_lb_healthcheck", "boolean", True,
               "Create a health monitor for service load balancers.", **lb),
        # Storage.
        _label("etcd_blockdevice_size", "integer", 0,
               "Size in GiB of a dedicated etcd block device on control "
               "plane nodes; 0 keeps etcd on the root disk.",
               minimum=0, maximum=10000,
               deprecated_names=("etcd_volume_size",), **storage),
        _label("etcd_blockdevice_type", "choice", "Volume",
               "Whether the etcd block device is a Cinder volume or local "
               "(ephemeral) disk of the flavor.",
               choices=("Volume", "Local"), **storage),
        _label("etcd_blockdevice_volume_type", "string", None,
               "Cinder volume type of the etcd volume.",
               deprecated_names=("etcd_volume_type",),
               pattern=_NEUTRON_NAME, pattern_help="a volume type name",
               **storage),
        _label("etcd_blockdevice_volume_az", "string", None,
               "Availability zone of the etcd volume.",
               pattern=_NEUTRON_NAME, pattern_help="a zone name", **storage),
        _label("boot_volume_size", "integer", 0,
               "Size in GiB of a Cinder root volume per node; 0 boots from "
               "the flavor's disk.", minimum=0, maximum=100000,
               **dict(storage, scopes=ALL_SCOPES)),
        _label("boot_volume_type", "string", None,
               "Cinder volume type of root volumes.",
               pattern=_NEUTRON_NAME, pattern_help="a volume type name",
               **dict(storage, scopes=ALL_SCOPES)),
        _label("csi_cinder_availability_zone", "string", "nova",
               "Availability zone of volumes of the default storage class.",
               pattern=_NEUTRON_NAME, pattern_help="a zone name", **storage),
        _label("csi_cinder_volume_type", "string", None,
               "Cinder volume type of the default storage class.",
               pattern=_NEUTRON_NAME, pattern_help="a volume type name",
               **storage),
        _label("csi_cinder_reclaim_policy", "choice", "Delete",
               "Reclaim policy of the default storage class.",
               choices=("Delete", "Retain"), **storage),
        _label("csi_cinder_volume_binding_mode", "choice",
               "WaitForFirstConsumer",
               "Volume binding mode of the default storage class.",
               choices=("WaitForFirstConsumer", "Immediate"), **storage),
        _label("csi_cinder_fstype", "choice", "ext4",
               "File system of volumes of the default storage class.",
               choices=("ext4", "xfs"), **storage),
        _label("csi_cinder_allow_volume_expansion", "boolean", True,
               "Allow volumes of the default storage class to grow.",
               **storage),
        # Node groups.
        _label("availability_zone", "string", None,
               "Nova availability zone of the nodes (of the control plane "
               "when set on the template or cluster, of a node group when "
               "set on it).", pattern=_NEUTRON_NAME,
               pattern_help="a zone name", **ng),
        _label("node_labels", "key_value", (),
               "Extra Kubernetes labels on the nodes, key=value pairs.",
               **ng),
        _label("node_taints", "taints", (),
               "Taints of the nodes, e.g. nvidia.com/gpu=true:NoSchedule.",
               **ng),
        # Autoscaling and healing.
        _label("auto_scaling_enabled", "boolean", False,
               "Let the cluster autoscaler size worker node groups between "
               "their minimum and maximum node counts.", **scale),
        _label("auto_healing_enabled", "boolean", True,
               "Replace nodes that stay unhealthy (MachineHealthChecks).",
               **scale),
        _label("min_node_count", "integer", None,
               "Autoscaling minimum of a node group that has none. Unset: "
               "its node count.", minimum=0, maximum=1000, **scale),
        _label("max_node_count", "integer", None,
               "Autoscaling maximum of a node group that has none. Unset: "
               "its node count.", minimum=1, maximum=1000, **scale),
        # Add-ons.
        _label("monitoring_enabled", "boolean", False,
               "Install Prometheus, Alertmanager and Grafana "
               "(kube-prometheus-stack).", **mon),
        _label("logging_enabled", "boolean", False,
               "Collect container logs in Loki (needs monitoring_enabled).",
               **mon),
        _label("ingress_enabled", "boolean", False,
               "Install an ingress controller.", **addons),
        # GPU.
        _label("gpu_operator_enabled", "boolean", False,
               "Install the NVIDIA GPU operator (drivers, device plugin, "
               "DCGM) on nodes with NVIDIA GPUs.", **gpu),
        _label("gpu_direct_rdma_enabled", "boolean", None,
               "GPUDirect RDMA (peer memory between GPU and HCA). Unset: on "
               "when both the GPU operator and RDMA are on.", **gpu),
        # RDMA.
        _label("rdma_mode", "choice", "none",
               "How pods get RDMA: none; macvlan (RoCE in VMs on an SR-IOV "
               "VF); sriov (a VF per pod, bare metal); ipoib (IP over "
               "InfiniBand); ib-sriov (an InfiniBand VF per pod, bare "
               "metal). A node group may turn RDMA on or off, but all RDMA "
               "node groups of a cluster use one mode.",
               choices=RDMA_MODES, **rdma_ng),
        _label("rdma_network", "string", None,
               "Neutron network (name or UUID) of the RDMA port of each "
               "RDMA node. Required when rdma_mode is not none.",
               pattern=_NEUTRON_NAME,
               pattern_help="a Neutron network name or UUID", **rdma_ng),
        _label("rdma_vnic_type", "choice", "direct",
               "vnic_type of the RDMA port: direct is an SR-IOV VF, "
               "direct-physical a whole PF, baremetal an Ironic port.",
               choices=("direct", "direct-physical", "baremetal",
                        "remote-managed"), **rdma_ng),
        _label("rdma_port_security", "choice", "disabled",
               "Port security of the RDMA port: disabled (macvlan MACs and "
               "pod addresses pass), or address-pairs (port security on, "
               "the pod range allowed as address pairs; macvlan only).",
               choices=("disabled", "address-pairs"), **rdma_ng),
        _label("rdma_interface", "string", None,
               "Name of the RDMA netdev inside the node (the VF or PF, or "
               "the IPoIB device). Required for macvlan and ipoib; for "
               "sriov and ib-sriov it selects the physical function.",
               pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$",
               pattern_help="a Linux interface name (at most 15 "
               "characters)", **rdma),
        _label("rdma_mtu", "integer", None,
               "MTU of the macvlan interfaces of pods (macvlan only). "
               "Unset: the node interface's MTU.",
               minimum=576, maximum=9216, **rdma),
        _label("rdma_ip_range", "cidr", None,
               "CIDR from which pods get their address on the RDMA "
               "network (nv-ipam pool). Required when rdma_mode is not "
               "none; must not overlap the Neutron subnet's allocation "
               "pool.", **rdma),
        _label("rdma_ip_block_size", "integer", 32,
               "Addresses of rdma_ip_range handed to each node as a "
               "block.", minimum=2, maximum=65536, **rdma),
        _label("rdma_ip_gateway", "string", None,
               "Gateway of the RDMA pod network, inside rdma_ip_range. "
               "Unset: no gateway (the RDMA network is flat).",
               pattern=r"^[0-9a-fA-F.:]+$", pattern_help="an IP address",
               **rdma),
        _label("rdma_resource_name", "string", None,
               "Extended resource pods request for RDMA (not ipoib, whose "
               "pods get no RDMA device). Unset: rdma_shared_device_a "
               "(macvlan), sriov_rdma_vf (sriov) or sriov_ib_vf "
               "(ib-sriov).",
               pattern=_RESOURCE_NAME,
               pattern_help="lower case letters, digits and _, starting "
               "with a letter", **rdma),
        _label("rdma_hca_max", "integer", 63,
               "How many pods of one node may share the HCA (macvlan "
               "only: the shared RDMA device plugin).", minimum=1,
               maximum=1000, **rdma),
        _label("rdma_attachment_name", "string", "rdma-net",
               "Name of the network pods attach to with the annotation "
               "k8s.v1.cni.cncf.io/networks.", pattern=_DNS_LABEL,
               pattern_help="a DNS label (lower case, digits, -)", **rdma),
        _label("rdma_attachment_namespace", "string", "default",
               "Namespace of the NetworkAttachmentDefinition.",
               pattern=_DNS_LABEL,
               pattern_help="a DNS label (lower case, digits, -)", **rdma),
        _label("rdma_ofed_enabled", "boolean", True,
               "Run the DOCA/OFED driver container on RDMA nodes. Turn off "
               "when the image already carries the driver.", **rdma),
        _label("rdma_ofed_version", "string", "doca3.2.0-25.10-1.2.8.0-2",
               "Version tag of the doca-driver (DOCA-OFED) image; match it "
               "to the network operator release and the node kernel, best "
               "as a site default.",
               pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$",
               pattern_help="an image tag", **rdma),
        _label("rdma_component_version", "string",
               "network-operator-v26.1.1",
               "Image tag of the network operator's components (device "
               "plugins, Multus, CNI plugins, nv-ipam, ib-kubernetes); "
               "match the network operator release.",
               pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$",
               pattern_help="an image tag", **rdma),
        _label("rdma_image_repository", "string", "nvcr.io/nvidia/mellanox",
               "Registry path of the network operator's component images.",
               pattern=r"^[a-z0-9][a-z0-9.:_/-]{0,254}$",
               pattern_help="an image repository such as "
               "nvcr.io/nvidia/mellanox", **rdma),
        _label("rdma_pkey", "string", None,
               "InfiniBand partition key of the pod network (ib-sriov "
               "only), e.g. 0x0a12.", pattern=r"^0x[0-9a-fA-F]{1,4}$",
               pattern_help="a hexadecimal pkey such as 0x0a12", **rdma),
        _label("rdma_ufm_secret", "string", None,
               "Secret (in the network operator's namespace) holding the "
               "UFM credentials ib-kubernetes uses for pkeys and GUIDs. "
               "Required for ib-sriov.", pattern=_DNS_LABEL,
               pattern_help="a Kubernetes object name", **rdma),
        _label("rdma_selftest_enabled", "boolean", False,
               "Run an RDMA self-test between two RDMA nodes after the "
               "cluster is created.", **rdma),
    ]


def _build():
    table = collections.OrderedDict()
    for label in _declare():
        if label.name in table:
            raise AssertionError("label %s declared twice" % label.name)
        table[label.name] = label
    return table


LABELS = _build()

DEPRECATED = {
    old: label.name
    for label in LABELS.values()
    for old in label.deprecated_names
}

CATEGORIES = tuple(dict.fromkeys(lb.category for lb in LABELS.values()))

# Prefixes that mark a label as meant for this driver: an unknown label with
# one of them is an error, not someone else's label.
OWN_PREFIXES = ("rdma_", "gpu_", "capi_")


def canonical_name(name):
    """The declared name of *name* (itself or a deprecated alias)."""
    return DEPRECATED.get(name, name)
