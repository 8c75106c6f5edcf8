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

The spec has a core (the cluster's identity, its image, key pair and node
groups with their Magnum sizes) and one *part* per feature: every feature
module of ``magnum_capi_rdma.features`` turns its own labels into its part
of the cluster (``spec.monitoring``) and of each node group
(``group.rdma``). A feature reads labels only through the context it is
given, which refuses labels it does not own.
"""

import dataclasses
import difflib
import re

from magnum_capi_rdma import features
from magnum_capi_rdma import labels as label_spec

DEFAULT_WORKER = "default-worker"
DEFAULT_MASTER = "default-master"
NODEGROUP_NAME_RE = re.compile(r"^[a-z][a-z0-9-]+[a-z0-9]$")
KUBE_TAG_RE = re.compile(r"^v[0-9]+\.[0-9]+\.[0-9]+$")
PLACEHOLDER_UUID = "00000000-0000-0000-0000-000000000000"
PLACEHOLDER_PROJECT = "render"
#: Most machines of one node group (the chart renders one MachineDeployment
#: per group; Nova quotas end long before this).
MAX_NODES = 1000
#: Most control plane machines (etcd members): an odd number up to this.
MAX_MASTERS = 7
# Names of Magnum object fields (not labels) that problems may name.
FIELD_NAMES = frozenset((
    "description", "cluster_template", "cluster", "node_groups", "labels",
    "name", "role", "image_id", "keypair_id", "keypair",
    "external_network_id", "fixed_network", "fixed_subnet",
    "dns_nameserver", "master_flavor_id", "flavor_id", "master_lb_enabled",
    "floating_ip_enabled", "cluster_distro", "server_type",
    "network_driver", "master_count", "node_count", "min_node_count",
    "max_node_count", "image_properties", "http_proxy", "https_proxy",
    "no_proxy", "insecure_registry", "docker_volume_size"))
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
        noun = ("option" if self.where == label_spec.SITE_CONFIGURATION else
                "field" if self.label in FIELD_NAMES else "label")
        text = "%s: %s %s" % (self.where or "input", noun,
                              show_name(self.label))
        if self.value is not None:
            text += " = %s" % label_spec.show(self.value)
        if self.message:
            text += ": " + self.message
        if self.allowed:
            text += " (allowed: %s)" % self.allowed
        return text


_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_.:/-]{1,64}$")


def show_name(name):
    """A label or field name for a message.

    As it is when it is plain, else quoted, escaped and shortened.
    """
    if isinstance(name, str) and _PLAIN_NAME.match(name):
        return name
    return label_spec.show(name, 64)


#: status_reason is a MySQL TEXT column (64 KiB); a summary stays far
#: below it whatever the input.
SUMMARY_PROBLEMS = 20
SUMMARY_CHARS = 8000


def summary(problems, prefix="Invalid cluster configuration: "):
    """One line naming the first problems and counting the others."""
    shown, size = [], len(prefix)
    for problem in problems[:SUMMARY_PROBLEMS]:
        text = str(problem)
        if size + len(text) > SUMMARY_CHARS:
            break
        shown.append(text)
        size += len(text) + 2
    text = prefix + "; ".join(shown)
    if len(shown) < len(problems):
        text += "; and %d more problem(s)" % (len(problems) - len(shown))
    return text


class InvalidSpec(Exception):
    """The description cannot become a cluster; ``problems`` says why."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class _Problems:
    def __init__(self):
        self.items = []

    def add(self, label, value, allowed, message="", where=""):
        self.items.append(Problem(label, value, allowed, message, where))


def _where_ng(name):
    """Where a problem is, on one line and short whatever the name is."""
    if not (isinstance(name, str) and name.isprintable() and
            len(name) <= 64 and not any(c.isspace() for c in name)):
        name = label_spec.show(name, 48)
    return "nodegroup:%s" % name


class _Resolver:
    """Parsed label layers and the single accessor ``label``."""

    def __init__(self, problems, policy="refuse"):
        self.problems = problems
        self.policy = policy
        self.layers = []            # [(where, {name: value})], low to high
        self.group_layers = {}      # group name -> (where, {name: value})
        self.ignored = []           # [(where, name)] of accepted unknowns

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
        canonical = features.canonical_name(name)
        label = features.LABELS.get(canonical)
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
        """A label no feature declares: refused, or ignored and said so.

        Near misses of declared labels, labels with the driver's own
        prefixes and peers' labels this driver deliberately does not
        support are always refused; other unknown labels are refused
        unless the site accepts them (``[capi_rdma] unknown_labels =
        warn``, e.g. during a migration), in which case the spec lists
        them as ignored.
        """
        refused = features.REFUSED.get(name)
        if refused:
            self.problems.add(name, value, "", "not supported by this "
                              "driver: %s" % refused, where)
            return
        close = _did_you_mean(name, self)
        if close:
            self.problems.add(name, value, "",
                              "unknown label; did you mean %r?" % close,
                              where)
        elif name.startswith(features.OWN_PREFIXES):
            self.problems.add(name, value, "",
                              "unknown label (see the label reference)",
                              where)
        elif self.policy == "warn":
            self.ignored.append((where, name))
        else:
            self.problems.add(name, value, "", "unknown label: this driver "
                              "does not read it (see the label reference; "
                              "a site may accept such labels with "
                              "[capi_rdma] unknown_labels = warn)", where)

    suggestions_left = 100

    def label(self, name, group=None):
        """The resolved value of label *name* (for node group *group*)."""
        definition = features.LABELS[name]
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


_KNOWN = tuple(features.LABELS) + tuple(features.DEPRECATED)
_KNOWN_LOWER = {name.lower(): name for name in _KNOWN}


def _did_you_mean(name, resolver):
    """The declared label *name* was probably meant to be, or None.

    Case-insensitive; bounded: names longer than any label get no
    suggestion, and only the first hundred unknown labels of a
    description are compared (no quadratic work on thousands of them).
    """
    lower = name.lower()
    if lower in _KNOWN_LOWER:
        return _KNOWN_LOWER[lower]
    if len(name) > 64 or resolver.suggestions_left <= 0:
        return None
    resolver.suggestions_left -= 1
    close = difflib.get_close_matches(lower, list(_KNOWN_LOWER), n=1,
                                      cutoff=0.8)
    return _KNOWN_LOWER[close[0]] if close else None


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
    """True if *text* holds a control or other non-printing character."""
    return not label_spec.printable(text)


def _text_field(problems, obj, key, where, required=False):
    value = obj.get(key)
    if value is None or value == "":
        if required:
            problems.add(key, None, "a name or UUID", "is required", where)
        return None
    if not isinstance(value, str) or not _NAME_FIELD.fullmatch(value) or any(
            m in value for m in _TEXT_MARKERS) or _has_control(value):
        problems.add(key, value, "a name or UUID of at most 255 "
                     "characters, without commas, control characters or "
                     "template markers", "", where)
        return None
    return value.strip()


_COUNT = re.compile(r"^\s*[0-9]{1,9}\s*$")


def _int_field(problems, obj, key, where, default, minimum=0,
               maximum=MAX_NODES):
    value = obj.get(key)
    if value is None:
        return default
    allowed = "an integer from %d to %d" % (minimum, maximum)
    if isinstance(value, bool) or not isinstance(value, (int, str)) or (
            isinstance(value, str) and not _COUNT.match(value)):
        problems.add(key, value, allowed, "", where)
        return default
    if isinstance(value, int) and not minimum <= value <= maximum:
        problems.add(key, value, allowed, "", where)
        return default
    value = int(value)
    if not minimum <= value <= maximum:
        problems.add(key, value, allowed, "", where)
        return default
    return value


def _bool_field(problems, obj, key, where, default):
    value = obj.get(key)
    if value is None or value == "":
        return default
    try:
        return label_spec.parse_boolean(value)
    except label_spec.LabelValueError:
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


@dataclasses.dataclass(frozen=True)
class _Parts:
    """Feature parts reachable as attributes (``spec.monitoring``)."""

    def __getattr__(self, name):
        parts = self.__dict__.get("parts") or {}
        if name in parts:
            return parts[name]
        raise AttributeError(name)


@dataclasses.dataclass(frozen=True)
class NodeGroupSpec(_Parts):
    """The control plane or one worker node group, fully resolved.

    The core fields come from Magnum's node group; ``parts`` holds what
    each feature made of its labels for the group (``group.rdma``,
    ``group.placement``, ...).
    """

    name: str
    role: str
    flavor: str
    image: str
    node_count: int
    min_node_count: int = None
    max_node_count: int = None
    # Set only when the group runs another version than the cluster (a
    # node-group-scoped upgrade); without the leading "v".
    kube_version: str = None
    parts: dict = dataclasses.field(default_factory=dict, compare=False)

    @property
    def autoscale(self):
        part = self.parts.get("autoscaling")
        return bool(part and part.enabled)


@dataclasses.dataclass(frozen=True)
class ClusterSpec(_Parts):
    """Everything the values and manifests builders need, validated."""

    name: str
    uuid: str
    project_id: str
    image: str
    keypair: str
    os_distro: str
    server_type: str
    control_plane: NodeGroupSpec
    node_groups: tuple
    #: (where, name) of unknown labels a site accepts without reading.
    ignored_labels: tuple = ()
    parts: dict = dataclasses.field(default_factory=dict, compare=False)

    @property
    def kube_version(self):
        """The Kubernetes version without the leading ``v``."""
        return self.kubernetes.version

    @property
    def kube_tag(self):
        return "v" + self.kubernetes.version

    @property
    def chart_version(self):
        return self.kubernetes.chart_version

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


class FeatureContext(object):
    """What one feature sees while it builds its part.

    ``label`` and ``source`` refuse labels the feature does not own.
    ``group`` is set for node group parts (the NodeGroupSpec so far, core
    fields and earlier features' parts); ``parts`` holds the cluster parts
    of the features this one comes after.
    """

    def __init__(self, builder, module, group=None, raw_group=None):
        self._builder = builder
        self._owned = frozenset(lb.name for lb in module.LABELS)
        self._feature = features.feature_name(module)
        self.group = group
        self.raw_group = raw_group or {}
        self.template = builder.template
        self.cluster = builder.cluster
        self.server_type = builder.server_type
        self.parts = builder.parts
        self.groups = builder.workers
        self.control_plane = builder.control

    def _own(self, name):
        if name not in self._owned:
            raise AssertionError("feature %s reads label %s, owned by %s" % (
                self._feature, name, features.owner(name)))

    @property
    def _group_name(self):
        if self.group is None or self.group.role == "master":
            return None
        return self.group.name

    def label(self, name):
        """The resolved value of an owned label (for this node group)."""
        self._own(name)
        return self._builder.resolver.label(name, self._group_name)

    def source(self, name):
        """Where that value came from: site, template, cluster, ..."""
        self._own(name)
        return self._builder.resolver.source(name, self._group_name)

    def has_problem(self, name):
        """A problem with *name* was already recorded (e.g. unparsable)."""
        return any(p.label == name for p in self._builder.problems.items)

    def source_for(self, name, group):
        """Where the value of *name* for node group *group* came from."""
        self._own(name)
        return self._builder.resolver.source(
            name, None if group.role == "master" else group.name)

    def is_set(self, name):
        return self.source(name) != "default"

    def problem(self, name, value, allowed, message="", where=None):
        """Record a problem with a label (or a field, with ``where``)."""
        if where is None:
            where = (self.source(name) if name in self._owned else
                     self.where)
        self._builder.problems.add(name, value, allowed, message, where)

    @property
    def where(self):
        if self.group is None or self.group.role == "master":
            return "cluster"
        return _where_ng(self.group.name)

    # Magnum's own fields, through the same parsers as labels.
    def text_field(self, obj, key, where, required=False):
        return _text_field(self._builder.problems, obj, key, where,
                           required)

    def bool_field(self, obj, key, where, default):
        return _bool_field(self._builder.problems, obj, key, where,
                           default)

    def choice_field(self, obj, key, where, choices, default):
        return _choice_field(self._builder.problems, obj, key, where,
                             choices, default)

    def site_option(self, name, default=None):
        """A site setting (from ``[capi_rdma]``) the spec depends on."""
        return self._builder.site_options.get(name, default)


class _Builder:
    def __init__(self, description, site_defaults, site_options):
        self.problems = _Problems()
        self.site_options = site_options or {}
        self.resolver = _Resolver(self.problems, self.site_options.get(
            "unknown_labels") or "refuse")
        self.desc = description
        self.site = site_defaults or {}
        self.parts = {}
        self.workers = ()
        self.control = None
        self.server_type = "vm"

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
            label = features.LABELS.get(name)
            if label is None or not label.site_default:
                self.problems.add(name, value, "",
                                  "not a label with a site default", "site")
                continue
            raw[name] = value
        return self.resolver.parse_layer(raw, "site", None)

    def _cluster_labels(self):
        """Cluster labels without unchanged copies of template labels.

        Magnum stores the template's labels on the cluster too: a copy
        (same name, same value) is the template's label, checked and
        reported once, there; a template-only label set on the cluster
        with another value is an error.
        """
        raw = self.cluster.get("labels")
        template = self.template.get("labels")
        if not isinstance(raw, dict) or not isinstance(template, dict):
            return raw
        own = {}
        for key, value in raw.items():
            if key in template and template.get(key) == value:
                # Magnum's copy of the template's label: the template
                # layer has it (and reports any problem with it once).
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
            label = features.LABELS.get(features.canonical_name(key))
            inherited = (cluster_raw.get(key, template_raw.get(key))
                         == value)
            if label and label_spec.NODEGROUP not in label.scopes:
                if not inherited:
                    self.problems.add(key, value, "set it on: " + ", ".join(
                        sorted(label.scopes)),
                        "may not be set on a node group", where)
                continue
            if inherited:
                # Magnum copied it from the cluster: reported there.
                continue
            own[key] = value
        return self.resolver.parse_layer(own, where, label_spec.NODEGROUP)

    # -- the cluster --------------------------------------------------------

    def build(self):
        if not self.load():
            raise InvalidSpec(self.problems.items)
        p, t, c = self.problems, self.template, self.cluster
        name = _text_field(p, c, "name", "cluster", required=True)
        if name and not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]{0,62}", name):
            p.add("name", name, "a letter, then letters, digits, _ . -",
                  "", "cluster")
        self.server_type = _choice_field(p, t, "server_type", "template",
                                         ("vm", "bm"), "vm")
        image = _text_field(p, t, "image_id", "template", required=True)
        keypair = (_text_field(p, c, "keypair", "cluster")
                   or _text_field(p, t, "keypair_id", "template"))
        os_distro = _choice_field(p, t, "cluster_distro", "template",
                                  ("ubuntu", "flatcar"), "ubuntu")
        self.control, self.workers, raw = self._skeletons()
        for module in features.FEATURES:
            self._feature_parts(module, raw)
        if self.problems.items:
            raise InvalidSpec(self.problems.items)
        return ClusterSpec(
            name=name,
            uuid=str(c.get("uuid") or PLACEHOLDER_UUID),
            project_id=str(c.get("project_id") or PLACEHOLDER_PROJECT),
            image=image, keypair=keypair, os_distro=os_distro,
            server_type=self.server_type,
            control_plane=self.control, node_groups=self.workers,
            ignored_labels=tuple(self.resolver.ignored),
            parts=dict(self.parts))

    def _feature_parts(self, module, raw):
        name = features.feature_name(module)
        group_part = getattr(module, "group_part", None)
        if group_part is not None:
            def with_part(group, raw_group):
                ctx = FeatureContext(self, module, group, raw_group)
                part = group_part(ctx)
                return dataclasses.replace(
                    group, parts=dict(group.parts, **{name: part}))
            self.control = with_part(self.control, raw[DEFAULT_MASTER])
            self.workers = tuple(with_part(g, raw[g.name])
                                 for g in self.workers)
        cluster_part = getattr(module, "cluster_part", None)
        if cluster_part is not None:
            self.parts[name] = cluster_part(FeatureContext(self, module))

    # -- node groups -------------------------------------------------------

    def _skeletons(self):
        """Control plane and workers from Magnum's fields (no labels)."""
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
                p.add("name", name, "3 to 63 lower case letters, digits "
                      "and '-', starting with a letter and ending with a "
                      "letter or digit (the chart names machines after "
                      "it)", "invalid node group name", _where_ng(name))
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
        raw = {DEFAULT_MASTER: master_override}
        workers = []
        for group in [default] + extras:
            workers.append(self._worker(group))
            raw[group["name"]] = group
        return control, tuple(workers), raw

    def _control_plane(self, override):
        p, c, t = self.problems, self.cluster, self.template
        where = "cluster"
        merged = dict(override)
        # The fields the user set for the control plane are Magnum's
        # master_flavor_id and master_count: problems name those.
        flavor_key, count_key = "flavor_id", "node_count"
        if "flavor_id" not in override:
            flavor_key = "master_flavor_id"
            merged[flavor_key] = (c.get("master_flavor_id")
                                  or t.get("master_flavor_id"))
        if "node_count" not in override:
            count_key = "master_count"
            merged[count_key] = c.get("master_count", 1)
        flavor = _text_field(p, merged, flavor_key, where, required=True)
        count = _int_field(p, merged, count_key, where, 1, minimum=1,
                           maximum=MAX_MASTERS)
        if count % 2 == 0:
            p.add(count_key, count, "an odd number from 1 to %d"
                  % MAX_MASTERS,
                  "etcd needs an odd number of members", where)
        image = (_text_field(p, merged, "image_id", where)
                 or t.get("image_id"))
        return NodeGroupSpec(name=DEFAULT_MASTER, role="master",
                             flavor=flavor, image=image, node_count=count)

    def _worker(self, group):
        p, t = self.problems, self.template
        name = group["name"]
        where = _where_ng(name)
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
        return NodeGroupSpec(
            name=name, role="worker", flavor=flavor, image=image,
            node_count=count, min_node_count=low, max_node_count=high,
            kube_version=self._group_version(group))

    def _group_version(self, group):
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


def build_spec(description, site_defaults=None, site_options=None):
    """Validate *description* and return its ``ClusterSpec``.

    :param description: dict with ``cluster_template``, ``cluster`` and
        optional ``node_groups`` (see the architecture document).
    :param site_defaults: label name -> raw site default value.
    :param site_options: site settings features depend on (see
        ``conf.site_options``), e.g. ``ib_sriov_cni_in_image``.
    :raises InvalidSpec: with every problem found.
    """
    return _Builder(description, site_defaults, site_options).build()
