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
"""From a description of Magnum objects to a validated ``ClusterSpec``.

The description is a plain dict (see the architecture document): the
cluster template, the cluster and the extra node groups, as Magnum stores
them. Labels resolve with the precedence site default < template < cluster
< node group. Every problem is collected; ``InvalidSpec`` carries them all
and nothing is half-built.

Labels are read only through ``_Resolver.label`` so that a test can prove
every label the code reads is declared in ``labels.LABELS``.
"""

import dataclasses
import difflib
import ipaddress
import re

from magnum_capi_rdma import labels as label_spec

DEFAULT_WORKER = "default-worker"
DEFAULT_MASTER = "default-master"
NODEGROUP_NAME_RE = re.compile(r"^[a-z][a-z0-9-]+[a-z0-9]$")
KUBE_TAG_RE = re.compile(label_spec.LABELS["kube_tag"].pattern)
PLACEHOLDER_UUID = "00000000-0000-0000-0000-000000000000"
PLACEHOLDER_PROJECT = "render"
ETHERNET_MODES = ("macvlan", "sriov")
INFINIBAND_MODES = ("ipoib", "ib-sriov")
BARE_METAL_MODES = ("sriov", "ib-sriov")
SHARED_DEVICE_MODES = ("macvlan",)
DEFAULT_RESOURCE_NAMES = {
    "macvlan": "rdma_shared_device_a",
    "sriov": "sriov_rdma_vf",
    "ib-sriov": "sriov_ib_vf",
}
# Prefix of the extended resource a pod requests, per mode (ipoib: none).
RESOURCE_PREFIXES = {
    "macvlan": "rdma",
    "sriov": "nvidia.com",
    "ib-sriov": "nvidia.com",
}
# Names of Magnum object fields (not labels) that problems may name.
FIELD_NAMES = frozenset((
    "description", "cluster_template", "cluster", "node_groups", "labels",
    "name", "role", "image_id", "keypair_id", "keypair",
    "external_network_id", "fixed_network", "fixed_subnet",
    "dns_nameserver", "master_flavor_id", "flavor_id", "master_lb_enabled",
    "floating_ip_enabled", "cluster_distro", "server_type",
    "network_driver", "master_count", "node_count", "min_node_count",
    "max_node_count"))
_NAME_FIELD = re.compile(r"^[^\s,][^,]{0,254}$")
_TEXT_MARKERS = ("{{", "}}", "{%", "%}", "{#", "#}")


@dataclasses.dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, in words an operator can act on."""

    label: str
    value: object
    allowed: str
    message: str = ""
    where: str = ""

    def __str__(self):
        noun = "field" if self.label in FIELD_NAMES else "label"
        text = "%s: %s %s" % (self.where or "input", noun, self.label)
        if self.value is not None:
            text += " = %r" % (self.value,)
        if self.message:
            text += ": " + self.message
        if self.allowed:
            text += " (allowed: %s)" % self.allowed
        return text


class InvalidSpec(Exception):
    """The description cannot become a cluster; ``problems`` says why."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclasses.dataclass(frozen=True)
class RdmaSpec:
    """RDMA settings, resolved for the cluster or for one node group."""

    mode: str = "none"
    network: str = None
    vnic_type: str = "direct"
    port_security: str = "disabled"
    interface: str = None
    mtu: int = None
    ip_range: str = None
    ip_block_size: int = 32
    ip_gateway: str = None
    resource_name: str = None
    hca_max: int = 63
    attachment_name: str = "rdma-net"
    attachment_namespace: str = "default"
    ofed_enabled: bool = True
    ofed_version: str = None
    component_version: str = None
    image_repository: str = None
    pkey: str = None
    ufm_secret: str = None

    @property
    def enabled(self):
        return self.mode != "none"

    @property
    def infiniband(self):
        return self.mode in INFINIBAND_MODES

    @property
    def resource(self):
        """The resource pods request, e.g. rdma/rdma_shared_device_a."""
        prefix = RESOURCE_PREFIXES.get(self.mode)
        if not prefix or not self.resource_name:
            return None
        return "%s/%s" % (prefix, self.resource_name)


@dataclasses.dataclass(frozen=True)
class NodeGroupSpec:
    """The control plane or one worker node group, fully resolved."""

    name: str
    role: str
    flavor: str
    image: str
    node_count: int
    availability_zone: str = None
    min_node_count: int = None
    max_node_count: int = None
    autoscale: bool = False
    node_labels: tuple = ()
    taints: tuple = ()
    boot_volume_size: int = 0
    boot_volume_type: str = None
    extra_networks: tuple = ()
    rdma: RdmaSpec = RdmaSpec()
    # Set only when the group runs another version than the cluster (a
    # node-group-scoped upgrade); without the leading "v".
    kube_version: str = None

    @property
    def node_labels_dict(self):
        return dict(self.node_labels)


@dataclasses.dataclass(frozen=True)
class EtcdSpec:
    size: int
    type: str
    volume_type: str = None
    availability_zone: str = None


@dataclasses.dataclass(frozen=True)
class StorageClassSpec:
    availability_zone: str
    volume_type: str
    reclaim_policy: str
    volume_binding_mode: str
    fstype: str
    allow_volume_expansion: bool


@dataclasses.dataclass(frozen=True)
class ClusterSpec:
    """Everything the values and manifests builders need, validated."""

    name: str
    uuid: str
    project_id: str
    kube_tag: str
    kube_version: str
    chart_version: str
    image: str
    keypair: str
    os_distro: str
    server_type: str
    network_driver: str
    external_network: str
    fixed_network: str
    fixed_subnet: str
    fixed_subnet_cidr: str
    dns_nameservers: tuple
    master_lb_enabled: bool
    master_lb_floating_ip_enabled: bool
    api_allowed_cidrs: tuple
    octavia_provider: str
    octavia_lb_algorithm: str
    octavia_lb_healthcheck: bool
    etcd: EtcdSpec
    storage_class: StorageClassSpec
    keystone_auth_enabled: bool
    monitoring_enabled: bool
    logging_enabled: bool
    ingress_enabled: bool
    gpu_operator_enabled: bool
    gpu_direct_rdma_enabled: bool
    auto_scaling_enabled: bool
    auto_healing_enabled: bool
    rdma_selftest_enabled: bool
    rdma: RdmaSpec
    control_plane: NodeGroupSpec
    node_groups: tuple

    @property
    def rdma_enabled(self):
        return self.rdma.enabled

    @property
    def rdma_node_groups(self):
        """The NodeGroupSpecs of the node groups with RDMA."""
        return tuple(ng for ng in self.node_groups if ng.rdma.enabled)

    @property
    def rdma_node_group_names(self):
        return tuple(ng.name for ng in self.rdma_node_groups)

    @property
    def rdma_resource(self):
        """What an RDMA pod requests (None without RDMA or for ipoib)."""
        return self.rdma.resource

    def node_group(self, name):
        for group in self.node_groups:
            if group.name == name:
                return group
        raise KeyError(name)


class _Problems:
    def __init__(self):
        self.items = []

    def add(self, label, value, allowed, message="", where=""):
        self.items.append(Problem(label, value, allowed, message, where))


def _where_ng(name):
    """Where a problem is, on one line and short whatever the name is."""
    if not (isinstance(name, str) and name.isprintable() and
            len(name) <= 64 and not any(c.isspace() for c in name)):
        name = repr(name)
        if len(name) > 64:
            name = name[:61] + "..."
    return "nodegroup:%s" % name


class _Resolver:
    """Parsed label layers and the single accessor ``label``."""

    def __init__(self, problems):
        self.problems = problems
        self.layers = []            # [(where, {name: value})], low to high
        self.group_layers = {}      # group name -> (where, {name: value})

    def parse_layer(self, raw, where, scope):
        """Parse one layer of raw labels; record every problem."""
        parsed = {}
        if raw is None:
            return parsed
        if not isinstance(raw, dict):
            self.problems.add("labels", raw, "a mapping of label names to "
                              "values", "labels must be a mapping", where)
            return parsed
        for name in sorted(raw, key=str):
            self._parse_one(str(name), raw[name], where, scope, parsed)
        return parsed

    def _parse_one(self, name, value, where, scope, parsed):
        canonical = label_spec.canonical_name(name)
        label = label_spec.LABELS.get(canonical)
        if label is None:
            self._unknown(name, value, where)
            return
        if scope is not None and scope not in label.scopes:
            allowed = ", ".join(sorted(label.scopes))
            self.problems.add(name, value, "set it on: " + allowed,
                              "may not be set on a %s" % scope, where)
            return
        if value is None or (isinstance(value, str) and not value.strip()):
            return                  # empty means "not set"
        if canonical != name and canonical in parsed:
            return                  # the current name wins over an alias
        try:
            parsed[canonical] = label.parse(value)
        except label_spec.LabelValueError as exc:
            message = exc.reason if exc.reason else ""
            self.problems.add(name, value, exc.allowed, message, where)

    def _unknown(self, name, value, where):
        known = list(label_spec.LABELS) + list(label_spec.DEPRECATED)
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
        if close:
            self.problems.add(name, value, "",
                              "unknown label; did you mean %r?" % close[0],
                              where)
        elif name.startswith(label_spec.OWN_PREFIXES):
            self.problems.add(name, value, "",
                              "unknown label (see the label reference)",
                              where)

    def label(self, name, group=None):
        """The resolved value of label *name* (for node group *group*)."""
        definition = label_spec.LABELS[name]
        value = definition.default
        for _, layer in self.layers:
            if name in layer:
                value = layer[name]
        if group is not None and group in self.group_layers:
            layer = self.group_layers[group][1]
            if name in layer:
                value = layer[name]
        return value

    def source(self, name, group=None):
        """Where the resolved value of *name* came from."""
        if group is not None and group in self.group_layers:
            where, layer = self.group_layers[group]
            if name in layer:
                return where
        found = "default"
        for where, layer in self.layers:
            if name in layer:
                found = where
        return found


def _mapping(problems, desc, key, required):
    value = desc.get(key)
    if value is None:
        if required:
            problems.add(key, None, "a mapping",
                         "the description has no %s" % key, "input")
        return {}
    if not isinstance(value, dict):
        problems.add(key, value, "a mapping", "must be a mapping", "input")
        return {}
    return value


def _has_control(text):
    """True if *text* holds a control character (newline, NUL, ...)."""
    return any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text)


def _text_field(problems, obj, key, where, required=False):
    value = obj.get(key)
    if value is None or value == "":
        if required:
            problems.add(key, None, "a name or UUID", "is required", where)
        return None
    if not isinstance(value, str) or not _NAME_FIELD.fullmatch(value) or any(
            m in value for m in _TEXT_MARKERS) or _has_control(value):
        problems.add(key, value, "a name or UUID without commas or "
                     "template markers", "", where)
        return None
    return value.strip()


def _int_field(problems, obj, key, where, default, minimum=0):
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, str)) or (
            isinstance(value, str) and not value.strip().isdigit()):
        problems.add(key, value, "an integer >= %d" % minimum, "", where)
        return default
    value = int(value)
    if value < minimum:
        problems.add(key, value, "an integer >= %d" % minimum, "", where)
        return default
    return value


def _bool_field(problems, obj, key, where, default):
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off"):
        return False
    problems.add(key, value, "true or false", "", where)
    return default


def _choice_field(problems, obj, key, where, choices, default):
    value = obj.get(key)
    if value is None or value == "":
        return default
    if value not in choices:
        problems.add(key, value, "one of " + ", ".join(choices), "", where)
        return default
    return value


def _dns(problems, template):
    value = template.get("dns_nameserver")
    if not value:
        return ()
    items = value if isinstance(value, list) else str(value).split(",")
    result = []
    for item in items:
        try:
            result.append(str(ipaddress.ip_address(str(item).strip())))
        except ValueError:
            problems.add("dns_nameserver", item, "IP addresses", "",
                         "template")
    return tuple(result)


class _Builder:
    def __init__(self, description, site_defaults):
        self.problems = _Problems()
        self.resolver = _Resolver(self.problems)
        self.desc = description
        self.site = site_defaults or {}

    # -- layers ----------------------------------------------------------

    def load(self):
        if not isinstance(self.desc, dict):
            self.problems.add("description", self.desc, "a mapping",
                              "the description must be a mapping", "input")
            return False
        self.template = _mapping(self.problems, self.desc,
                                 "cluster_template", True)
        self.cluster = _mapping(self.problems, self.desc, "cluster", True)
        groups = self.desc.get("node_groups") or []
        if not isinstance(groups, list) or not all(
                isinstance(g, dict) for g in groups):
            self.problems.add("node_groups", groups, "a list of mappings",
                              "", "input")
            groups = []
        self.groups = groups
        res = self.resolver
        site = self._site_layer()
        res.layers.append(("site", site))
        res.layers.append(("template", res.parse_layer(
            self.template.get("labels"), "template", label_spec.TEMPLATE)))
        res.layers.append(("cluster", res.parse_layer(
            self._cluster_labels(), "cluster", label_spec.CLUSTER)))
        return True

    def _site_layer(self):
        raw = {}
        for name, value in self.site.items():
            label = label_spec.LABELS.get(name)
            if label is None or not label.site_default:
                self.problems.add(name, value, "",
                                  "not a label with a site default", "site")
                continue
            raw[name] = value
        return self.resolver.parse_layer(raw, "site", None)

    def _cluster_labels(self):
        """Cluster labels without unchanged copies of template labels.

        Magnum stores the template's labels on the cluster too, so a
        template-only label there is an error only when it differs.
        """
        raw = self.cluster.get("labels")
        template = self.template.get("labels")
        if not isinstance(raw, dict) or not isinstance(template, dict):
            return raw
        own = {}
        for key, value in raw.items():
            label = label_spec.LABELS.get(label_spec.canonical_name(key))
            if (label is not None and label_spec.CLUSTER not in label.scopes
                    and template.get(key) == value):
                continue
            own[key] = value
        return own

    def _group_layer(self, group):
        """Parse node group labels, ignoring inherited cluster labels."""
        raw = group.get("labels")
        name = group.get("name")
        where = _where_ng(name)
        if not isinstance(raw, dict):
            return self.resolver.parse_layer(raw, where, None)
        cluster_raw = self.cluster.get("labels") or {}
        template_raw = self.template.get("labels") or {}
        own = {}
        for key, value in raw.items():
            label = label_spec.LABELS.get(label_spec.canonical_name(key))
            inherited = (cluster_raw.get(key, template_raw.get(key))
                         == value)
            if label and label_spec.NODEGROUP not in label.scopes:
                if not inherited:
                    self.problems.add(key, value, "set it on: " + ", ".join(
                        sorted(label.scopes)),
                        "may not be set on a node group", where)
                continue
            if label is None and inherited:
                continue
            own[key] = value
        return self.resolver.parse_layer(own, where, label_spec.NODEGROUP)

    # -- cluster level ------------------------------------------------------

    def build(self):
        if not self.load():
            raise InvalidSpec(self.problems.items)
        r = self.resolver.label
        p = self.problems
        t, c = self.template, self.cluster
        name = _text_field(p, c, "name", "cluster", required=True)
        if name and not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]{0,62}", name):
            p.add("name", name, "a letter, then letters, digits, _ . -",
                  "", "cluster")
        kube_tag = r("kube_tag")
        if kube_tag is None and not any(
                x.label == "kube_tag" for x in p.items):
            p.add("kube_tag", None, label_spec.LABELS["kube_tag"].allowed(),
                  "is required (template, cluster or site default)",
                  "template")
        server_type = _choice_field(p, t, "server_type", "template",
                                    ("vm", "bm"), "vm")
        provider = r("octavia_provider")
        algorithm = r("octavia_lb_algorithm") or (
            "SOURCE_IP_PORT" if provider == "ovn" else "ROUND_ROBIN")
        fip = r("master_lb_floating_ip_enabled")
        if fip is None:
            fip = _bool_field(
                p, c, "floating_ip_enabled", "cluster",
                _bool_field(p, t, "floating_ip_enabled", "template", True))
        rdma, groups, control = self._groups(server_type)
        gpu = r("gpu_operator_enabled")
        gdr = r("gpu_direct_rdma_enabled")
        if gdr is None:
            gdr = bool(gpu and rdma.enabled)
        elif gdr and not (gpu and rdma.enabled):
            p.add("gpu_direct_rdma_enabled", True,
                  "true only with gpu_operator_enabled and an RDMA mode",
                  "GPUDirect RDMA needs both GPUs and RDMA",
                  self.resolver.source("gpu_direct_rdma_enabled"))
        if r("logging_enabled") and not r("monitoring_enabled"):
            p.add("logging_enabled", True, "true only with "
                  "monitoring_enabled", "Loki is part of the monitoring "
                  "stack", self.resolver.source("logging_enabled"))
        if r("rdma_selftest_enabled") and not rdma.enabled:
            p.add("rdma_selftest_enabled", True, "true only with an RDMA "
                  "mode", "no node group has RDMA",
                  self.resolver.source("rdma_selftest_enabled"))
        etcd = None
        if r("etcd_blockdevice_size"):
            etcd = EtcdSpec(r("etcd_blockdevice_size"),
                            r("etcd_blockdevice_type"),
                            r("etcd_blockdevice_volume_type"),
                            r("etcd_blockdevice_volume_az"))
        storage = StorageClassSpec(
            r("csi_cinder_availability_zone"), r("csi_cinder_volume_type"),
            r("csi_cinder_reclaim_policy"),
            r("csi_cinder_volume_binding_mode"), r("csi_cinder_fstype"),
            r("csi_cinder_allow_volume_expansion"))
        fields = dict(
            image=_text_field(p, t, "image_id", "template", required=True),
            keypair=(_text_field(p, c, "keypair", "cluster")
                     or _text_field(p, t, "keypair_id", "template")),
            external_network=_text_field(p, t, "external_network_id",
                                         "template"),
            fixed_network=(_text_field(p, c, "fixed_network", "cluster")
                           or _text_field(p, t, "fixed_network",
                                          "template")),
            fixed_subnet=(_text_field(p, c, "fixed_subnet", "cluster")
                          or _text_field(p, t, "fixed_subnet", "template")),
            os_distro=_choice_field(p, t, "cluster_distro", "template",
                                    ("ubuntu", "flatcar"), "ubuntu"),
            network_driver=_choice_field(p, t, "network_driver", "template",
                                         ("calico", "cilium"), "calico"),
            dns_nameservers=_dns(p, t),
            master_lb_enabled=_bool_field(
                p, c, "master_lb_enabled", "cluster",
                _bool_field(p, t, "master_lb_enabled", "template", True)),
        )
        if fields["fixed_subnet"] and not fields["fixed_network"]:
            p.add("fixed_subnet", fields["fixed_subnet"], "",
                  "a fixed subnet needs its fixed network", "template")
        if self.problems.items:
            raise InvalidSpec(self.problems.items)
        return ClusterSpec(
            name=name,
            uuid=str(c.get("uuid") or PLACEHOLDER_UUID),
            project_id=str(c.get("project_id") or PLACEHOLDER_PROJECT),
            kube_tag=kube_tag,
            kube_version=kube_tag[1:],
            chart_version=r("capi_helm_chart_version"),
            server_type=server_type,
            fixed_subnet_cidr=r("fixed_subnet_cidr"),
            master_lb_floating_ip_enabled=fip,
            api_allowed_cidrs=r("api_master_lb_allowed_cidrs"),
            octavia_provider=provider,
            octavia_lb_algorithm=algorithm,
            octavia_lb_healthcheck=r("octavia_lb_healthcheck"),
            etcd=etcd,
            storage_class=storage,
            keystone_auth_enabled=r("keystone_auth_enabled"),
            monitoring_enabled=r("monitoring_enabled"),
            logging_enabled=r("logging_enabled"),
            ingress_enabled=r("ingress_enabled"),
            gpu_operator_enabled=gpu,
            gpu_direct_rdma_enabled=gdr,
            auto_scaling_enabled=r("auto_scaling_enabled"),
            auto_healing_enabled=r("auto_healing_enabled"),
            rdma_selftest_enabled=r("rdma_selftest_enabled"),
            rdma=rdma,
            control_plane=control,
            node_groups=groups,
            **fields,
        )

    # -- node groups -------------------------------------------------------

    def _groups(self, server_type):
        p, c, t = self.problems, self.cluster, self.template
        extras, master_override = [], {}
        worker_override = {}
        seen = set()
        for group in self.groups:
            name = group.get("name")
            # Magnum allows any role name; only "master" is special.
            role = group.get("role") or "worker"
            if not isinstance(name, str) or not NODEGROUP_NAME_RE.fullmatch(
                    name) or len(name) > 63:
                p.add("name", name, "lower case letters, digits and -, "
                      "starting with a letter, at most 63 characters "
                      "(^[a-z][a-z0-9-]+[a-z0-9]$)", "invalid node group "
                      "name", _where_ng(name))
                continue
            if name in seen:
                p.add("name", name, "unique names", "duplicate node group",
                      _where_ng(name))
                continue
            seen.add(name)
            if role == "master" or name == DEFAULT_MASTER:
                master_override = group
            elif name == DEFAULT_WORKER:
                worker_override = group
            else:
                extras.append(group)
        for group in [worker_override] + extras:
            if group:
                self.resolver.group_layers[group["name"]] = (
                    _where_ng(group["name"]), self._group_layer(group))
        control = self._control_plane(master_override)
        default = dict(name=DEFAULT_WORKER, flavor_id=c.get("flavor_id")
                       or t.get("flavor_id"), node_count=c.get(
                           "node_count", 1))
        default.update({k: v for k, v in worker_override.items()
                        if v is not None and k != "labels"})
        workers = [self._worker(default, server_type)]
        for group in extras:
            workers.append(self._worker(group, server_type))
        rdma = self._cluster_rdma(workers)
        return rdma, tuple(workers), control

    def _control_plane(self, override):
        p, c, t, r = self.problems, self.cluster, self.template, \
            self.resolver.label
        where = "cluster"
        merged = dict(override)
        merged.setdefault("flavor_id", c.get("master_flavor_id")
                          or t.get("master_flavor_id"))
        merged.setdefault("node_count", c.get("master_count", 1))
        flavor = _text_field(p, merged, "flavor_id", where, required=True)
        count = _int_field(p, merged, "node_count", where, 1, minimum=1)
        if count % 2 == 0:
            p.add("master_count", count, "an odd number >= 1",
                  "etcd needs an odd number of members", where)
        image = (_text_field(p, merged, "image_id", where)
                 or t.get("image_id"))
        return NodeGroupSpec(
            name=DEFAULT_MASTER, role="master", flavor=flavor, image=image,
            node_count=count, availability_zone=r("availability_zone"),
            node_labels=r("node_labels"), taints=(),
            boot_volume_size=r("boot_volume_size"),
            boot_volume_type=r("boot_volume_type"))

    def _worker(self, group, server_type):
        p, t = self.problems, self.template
        name = group["name"]
        where = _where_ng(name)
        r = self.resolver.label
        flavor = (_text_field(p, group, "flavor_id", where)
                  or _text_field(p, self.cluster, "flavor_id", "cluster")
                  or _text_field(p, t, "flavor_id", "template"))
        if flavor is None:
            p.add("flavor_id", None, "a Nova flavor name or UUID",
                  "no flavor for the node group", where)
        image = _text_field(p, group, "image_id", where) or t.get("image_id")
        count = _int_field(p, group, "node_count", where, 1)
        low = _int_field(p, group, "min_node_count", where, None)
        high = _int_field(p, group, "max_node_count", where, None)
        autoscale = bool(r("auto_scaling_enabled", name))
        if low is None:
            low = r("min_node_count", name)
        if high is None:
            high = r("max_node_count", name)
        low = count if low is None else low
        high = count if high is None else high
        if not low <= count <= high:
            p.add("node_count", count, "min_node_count (%s) <= node_count "
                  "<= max_node_count (%s)" % (low, high), "", where)
        rdma = self._rdma(name, server_type)
        kube_version = self._group_version(group, where)
        return NodeGroupSpec(
            name=name, role="worker", flavor=flavor, image=image,
            node_count=count, availability_zone=r("availability_zone", name),
            min_node_count=low, max_node_count=high, autoscale=autoscale,
            node_labels=r("node_labels", name), taints=r("node_taints", name),
            boot_volume_size=r("boot_volume_size", name),
            boot_volume_type=r("boot_volume_type", name),
            extra_networks=r("extra_network_names", name), rdma=rdma,
            kube_version=kube_version)

    def _group_version(self, group, where):
        """A node group's own Kubernetes version (Magnum's ``version``).

        Magnum manages this field (only an upgrade writes it); rows from
        older drivers may hold other strings, which mean "the cluster's
        version" rather than an error that would block the cluster.
        """
        version = group.get("version")
        if not isinstance(version, str) or not KUBE_TAG_RE.fullmatch(
                version):
            return None
        return version.lstrip("v")

    # -- RDMA ----------------------------------------------------------------

    def _rdma_settings(self, group):
        r = self.resolver.label
        mode = r("rdma_mode", group)
        return RdmaSpec(
            mode=mode,
            network=r("rdma_network", group),
            vnic_type=r("rdma_vnic_type", group),
            port_security=r("rdma_port_security", group),
            interface=r("rdma_interface"),
            mtu=r("rdma_mtu"),
            ip_range=r("rdma_ip_range"),
            ip_block_size=r("rdma_ip_block_size"),
            ip_gateway=r("rdma_ip_gateway"),
            resource_name=(r("rdma_resource_name")
                           or DEFAULT_RESOURCE_NAMES.get(mode)),
            hca_max=r("rdma_hca_max"),
            attachment_name=r("rdma_attachment_name"),
            attachment_namespace=r("rdma_attachment_namespace"),
            ofed_enabled=r("rdma_ofed_enabled"),
            ofed_version=r("rdma_ofed_version"),
            component_version=r("rdma_component_version"),
            image_repository=r("rdma_image_repository"),
            pkey=r("rdma_pkey"),
            ufm_secret=r("rdma_ufm_secret"),
        )

    def _rdma(self, group, server_type):
        spec = self._rdma_settings(group)
        if spec.enabled:
            self._check_rdma(spec, group, server_type)
            return spec
        return RdmaSpec()

    def _bad(self, name, value, allowed, message, group):
        self.problems.add(name, value, allowed, message,
                          self.resolver.source(name, group))

    def _check_rdma(self, spec, group, server_type):
        mode = spec.mode
        need = "required when rdma_mode is %s" % mode
        if not spec.network:
            self._bad("rdma_network", None, "a Neutron network name or UUID",
                      need, group)
        if not spec.ip_range:
            self._bad("rdma_ip_range", None, "a CIDR", need, group)
        if mode in ("macvlan", "ipoib") and not spec.interface:
            self._bad("rdma_interface", None, "an interface name", need,
                      group)
        if mode in BARE_METAL_MODES and server_type != "bm":
            self._bad("rdma_mode", mode, "macvlan or ipoib on VMs",
                      "%s needs bare metal (template server_type bm); a VM "
                      "cannot split its VF again" % mode, group)
        if spec.port_security == "address-pairs" and mode != "macvlan":
            self._bad("rdma_port_security", spec.port_security, "disabled",
                      "address-pairs only applies to macvlan", group)
        if mode == "macvlan" and spec.vnic_type not in (
                "direct", "direct-physical"):
            self._bad("rdma_vnic_type", spec.vnic_type,
                      "direct or direct-physical",
                      "macvlan needs an SR-IOV VF or PF in the VM", group)
        if mode != "ib-sriov":
            for name, value in (("rdma_pkey", spec.pkey),
                                ("rdma_ufm_secret", spec.ufm_secret)):
                if value:
                    self._bad(name, value, "unset unless rdma_mode is "
                              "ib-sriov", "only ib-sriov uses it", group)
        elif not spec.ufm_secret:
            self._bad("rdma_ufm_secret", None, "a Secret name",
                      need + " (ib-kubernetes talks to UFM)", group)
        if mode == "ipoib":
            for name in ("rdma_resource_name", "rdma_hca_max"):
                if self.resolver.source(name) != "default":
                    self._bad(name, self.resolver.label(name),
                              "unset for ipoib", "IPoIB pods get an IP "
                              "interface, no RDMA device", group)
        if mode in BARE_METAL_MODES and self.resolver.source(
                "rdma_hca_max") != "default":
            self._bad("rdma_hca_max", spec.hca_max, "unset for %s" % mode,
                      "each pod gets its own VF; nothing is shared", group)
        if spec.mtu and mode != "macvlan":
            self._bad("rdma_mtu", spec.mtu, "unset unless rdma_mode is "
                      "macvlan", "only macvlan interfaces take an MTU",
                      group)
        self._check_ip(spec, group)

    def _check_ip(self, spec, group):
        if not spec.ip_range:
            return
        net = ipaddress.ip_network(spec.ip_range)
        if spec.ip_block_size > net.num_addresses - 2:
            self._bad("rdma_ip_block_size", spec.ip_block_size,
                      "at most %d for %s" % (net.num_addresses - 2, net),
                      "larger than rdma_ip_range", group)
        if spec.ip_gateway:
            try:
                inside = ipaddress.ip_address(spec.ip_gateway) in net
            except ValueError:
                inside = False
            if not inside:
                self._bad("rdma_ip_gateway", spec.ip_gateway,
                          "an address inside %s" % net, "", group)

    def _cluster_rdma(self, workers):
        modes = sorted({w.rdma.mode for w in workers if w.rdma.enabled})
        if not modes:
            return RdmaSpec()
        if len(modes) > 1:
            self.problems.add("rdma_mode", ",".join(modes), "one mode per "
                              "cluster", "RDMA node groups use different "
                              "modes", "cluster")
        settings = self._rdma_settings(None)
        return dataclasses.replace(
            settings, mode=modes[0], network=None,
            resource_name=(self.resolver.label("rdma_resource_name")
                           or DEFAULT_RESOURCE_NAMES.get(modes[0])))


def build_spec(description, site_defaults=None):
    """Validate *description* and return its ``ClusterSpec``.

    :param description: dict with ``cluster_template``, ``cluster`` and
        optional ``node_groups`` (see the architecture document).
    :param site_defaults: label name -> raw site default value.
    :raises InvalidSpec: with every problem found.
    """
    return _Builder(description, site_defaults).build()
