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
"""Label kinds and their parsers.

A label has a name, a kind (how its string value is parsed), a default,
the scopes where it may be set (cluster template, cluster, node group) and
a help text. Labels are declared by the feature module that owns them
(``magnum_capi_rdma/features``); this module is the library they use: the
kinds, their parsers and the words they accept. Magnum stores label values
as strings; render descriptions may also carry native YAML values, which are
accepted where they fit the kind.

``Label.parse`` turns a raw value into a Python value or raises
``LabelValueError`` saying what is allowed. Nothing here reads Magnum
objects or configuration: ``spec`` applies the precedence rules.
"""

import dataclasses
import ipaddress
import re
import reprlib

TEMPLATE = "template"
CLUSTER = "cluster"
NODEGROUP = "nodegroup"
ALL_SCOPES = frozenset((TEMPLATE, CLUSTER, NODEGROUP))
CLUSTER_SCOPES = frozenset((TEMPLATE, CLUSTER))
TEMPLATE_ONLY = frozenset((TEMPLATE,))

# Text that Helm (``tpl``) or the addon provider (Jinja2) would evaluate.
# No label value may carry it, so a value can never turn into code.
_TEMPLATE_MARKERS = ("{{", "}}", "{%", "%}", "{#", "#}")
#: No label value is longer (the longest sane ones, lists of CIDRs or
#: node labels, are far shorter); longer values are refused before any
#: other work.
#: ``where`` of a problem with an option of the site's configuration (a
#: feature's site setting, e.g. ``[capi_rdma] trusted_ca_files``).
SITE_CONFIGURATION = "site configuration"

MAX_VALUE_LENGTH = 4096
#: Integers are at most this many digits (no value needs more; Python's
#: int() refuses or slows down on very long digit strings).
MAX_DIGITS = 9
_INTEGER = re.compile(r"^[+-]?[0-9]{1,%d}$" % MAX_DIGITS)

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
NEUTRON_NAME = r"^[^,\s][^,]{0,254}$"
RESOURCE_NAME = r"^[a-z][a-z0-9_]{0,62}$"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
IMAGE_TAG = r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$"
#: A Kubernetes object name such as a Secret's (RFC 1123 subdomain).
DNS_SUBDOMAIN = (r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?"
                 r"(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
#: An image repository without a scheme: registry[:port]/path.
IMAGE_REPOSITORY = (r"^(?!.*://)[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?"
                    r"(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?){0,16}$")


_SHOW = reprlib.Repr()
_SHOW.maxlevel = 2
_SHOW.maxlist = _SHOW.maxtuple = _SHOW.maxdict = _SHOW.maxset = 4
_SHOW.maxother = 40
SHOW_LIMIT = 80


def show(value, limit=SHOW_LIMIT):
    """*value* for a message, safe to show anywhere.

    Quoted, every non-printing character escaped, and shortened (saying
    so) when long; never recursive.
    """
    if isinstance(value, str):
        if len(value) > limit:
            return "%r... (%d characters, shortened)" % (
                value[:limit], len(value))
        return repr(value)
    try:
        text = _SHOW.repr(value)
    except Exception:  # a hostile object: say what it is
        text = "<%s>" % type(value).__name__
    if len(text) > limit + 20:
        text = text[:limit] + "... (shortened)"
    return text


class LabelValueError(ValueError):
    """A raw label value that does not fit its label."""

    def __init__(self, allowed, reason=None):
        super().__init__(reason or allowed)
        self.allowed = allowed
        self.reason = reason


def printable(text):
    """True if *text* has no non-printing character.

    Control, format and separator characters (C0, DEL, C1, line
    separators, zero-width marks...) are refused; the plain space is the
    only blank allowed.
    """
    return all(c == " " or c.isprintable() for c in text)


def _check_text(text):
    if len(text) > MAX_VALUE_LENGTH:
        raise LabelValueError(
            "at most %d characters" % MAX_VALUE_LENGTH,
            "is %d characters long" % len(text))
    if not printable(text):
        raise LabelValueError("text without control or other non-printing "
                              "characters",
                              "contains a control or non-printing "
                              "character")
    for marker in _TEMPLATE_MARKERS:
        if marker in text:
            raise LabelValueError(
                "text without template markers",
                "contains %s, which Helm or Jinja2 would evaluate"
                % show(marker))
    return text


def _as_text(raw):
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int):
        if abs(raw) >= 10 ** MAX_DIGITS:
            raise LabelValueError("a number of at most %d digits"
                                  % MAX_DIGITS, "is too large")
        return str(raw)
    if isinstance(raw, float):
        return repr(raw)
    if not isinstance(raw, str):
        raise LabelValueError("a string", "is a %s" % _kind_of(raw))
    return _check_text(raw.strip())


def _kind_of(raw):
    return {list: "list", tuple: "list", dict: "mapping"}.get(
        type(raw), type(raw).__name__)


def _split(raw):
    if isinstance(raw, (list, tuple)):
        if len(raw) > 256:
            raise LabelValueError("at most 256 items",
                                  "has %d items" % len(raw))
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
    module: str = None
    choices: tuple = ()
    minimum: int = None
    maximum: int = None
    pattern: str = None
    pattern_help: str = None
    deprecated_names: tuple = ()
    site_default: bool = True
    #: Why only IPv4 is accepted (for CIDR kinds), or None.
    ipv4_only: str = None
    #: Optional ``check(value) -> value`` after parsing: rules of the
    #: component that consumes the value; raises LabelValueError.
    check: object = None

    def allowed(self):
        """A short description of the values this label accepts."""
        kind = self.kind
        if kind == "boolean":
            return "true or false"
        if kind == "choice":
            return "one of " + ", ".join(self.choices)
        if kind == "integer":
            if self.pattern_help:
                return self.pattern_help
            low = "" if self.minimum is None else str(self.minimum)
            high = "" if self.maximum is None else str(self.maximum)
            if low and high:
                return "an integer from %s to %s" % (low, high)
            if low:
                return "an integer >= %s" % low
            return "an integer"
        if kind == "cidr":
            return "an IPv4 CIDR such as 10.0.0.0/24" if self.ipv4_only \
                else "a CIDR such as 10.0.0.0/24"
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
            value = parser(self, raw)
            if self.check is not None:
                value = self.check(value)
            return value
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
    text = _as_text(raw)
    if not _INTEGER.match(text):
        raise LabelValueError(label.allowed())
    value = int(text)
    if label.minimum is not None and value < label.minimum:
        raise LabelValueError(label.allowed())
    if label.maximum is not None and value > label.maximum:
        raise LabelValueError(label.allowed())
    return value


def _parse_boolean(label, raw):
    return parse_boolean(raw)


def _parse_choice(label, raw):
    text = _as_text(raw)
    for choice in label.choices:
        if text.lower() == choice.lower():
            return choice
    raise LabelValueError(label.allowed())


def _network(text, label):
    if "/" not in text:
        raise LabelValueError(label.allowed(), "%s is an address, not a "
                              "CIDR (add the prefix length, e.g. /24)"
                              % show(text))
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError:
        raise LabelValueError(label.allowed(),
                              "%s is not a network CIDR (host bits must "
                              "be zero)" % show(text))
    if label.ipv4_only and net.version != 4:
        raise LabelValueError(label.allowed(), "%s is IPv6; %s" % (
            show(text), label.ipv4_only))
    return str(net)


def _parse_cidr(label, raw):
    return _network(_as_text(raw), label)


def _parse_cidr_list(label, raw):
    return tuple(_network(item, label) for item in _split(raw))


def _parse_string_list(label, raw):
    items = _split(raw)
    for item in items:
        if label.pattern and not re.match(label.pattern, item):
            raise LabelValueError(label.allowed(),
                                  "%s is not allowed" % show(item))
    return tuple(items)


def _k8s_pair(key, value, label):
    prefix, _, name = key.rpartition("/")
    if not K8S_KEY_RE.match(key) or len(prefix) > 253 or len(name) > 63:
        raise LabelValueError(
            label.allowed(), "%s is not a Kubernetes label key (an optional "
            "DNS prefix of at most 253 characters and '/', then a name of "
            "at most 63 letters, digits, '-', '_' and '.', starting and "
            "ending with a letter or digit)" % show(key))
    if not K8S_VALUE_RE.match(value):
        raise LabelValueError(
            label.allowed(), "%s is not a Kubernetes label value (at most "
            "63 letters, digits, '-', '_' and '.', starting and ending with "
            "a letter or digit)" % show(value))


#: Prefixes the kubelet refuses to set on its own Node (NodeRestriction),
#: except the allowed ones below, and the driver's placement label.
_KUBELET_RESERVED = ("kubernetes.io", "k8s.io")
_KUBELET_ALLOWED = (
    "kubelet.kubernetes.io", "node.kubernetes.io")
_KUBELET_ALLOWED_KEYS = (
    "beta.kubernetes.io/arch", "beta.kubernetes.io/instance-type",
    "beta.kubernetes.io/os", "failure-domain.beta.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone", "kubernetes.io/arch",
    "kubernetes.io/hostname", "kubernetes.io/os",
    "node.kubernetes.io/instance-type", "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone")
#: Node labels the chart (and so the driver's RDMA placement) owns.
RESERVED_NODE_LABEL_PREFIXES = ("capi.stackhpc.com",)


def _check_node_label_key(key, label):
    prefix = key.rpartition("/")[0].lower()
    if not prefix:
        return
    if prefix in RESERVED_NODE_LABEL_PREFIXES:
        raise LabelValueError(label.allowed(), "%s is set by the chart "
                              "(the driver places RDMA objects by it)"
                              % show(key))
    if key in _KUBELET_ALLOWED_KEYS:
        return
    if prefix == "node-role.kubernetes.io" or (
            any(prefix == p or prefix.endswith("." + p)
                for p in _KUBELET_RESERVED) and not any(
                prefix == p or prefix.endswith("." + p)
                for p in _KUBELET_ALLOWED)):
        raise LabelValueError(
            label.allowed(), "%s: the kubelet may not set labels under "
            "kubernetes.io or k8s.io (except kubelet.kubernetes.io, "
            "node.kubernetes.io and the well-known topology labels), nor "
            "node-role.kubernetes.io" % show(key))


def _parse_key_value(label, raw):
    if isinstance(raw, dict):
        if len(raw) > 256:
            raise LabelValueError("at most 256 labels",
                                  "has %d" % len(raw))
        pairs = [(_as_text(k), _as_text(v)) for k, v in raw.items()]
    else:
        pairs = []
        for item in _split(raw):
            key, sep, value = item.partition("=")
            if not sep:
                raise LabelValueError(label.allowed(),
                                      "%s has no '='" % show(item))
            pairs.append((key.strip(), value.strip()))
    seen = {}
    for key, value in pairs:
        _k8s_pair(key, value, label)
        _check_node_label_key(key, label)
        seen[key] = value
    return tuple(sorted(seen.items()))


def _taint_items(raw):
    """Taints as text items.

    Magnum's node_taints (a list of mappings with key, value and effect)
    are read as they are.
    """
    if isinstance(raw, (list, tuple)) and raw and all(
            isinstance(t, dict) for t in raw):
        items = []
        for taint in raw:
            key = _as_text(taint.get("key") or "")
            value = _as_text(taint.get("value") or "")
            effect = _as_text(taint.get("effect") or "NoSchedule")
            items.append("%s=%s:%s" % (key, value, effect) if value
                         else "%s:%s" % (key, effect))
        return items
    return _split(raw)


def _parse_taints(label, raw):
    taints = []
    for item in _taint_items(raw):
        head, sep, effect = item.rpartition(":")
        if not sep or effect not in TAINT_EFFECTS:
            raise LabelValueError(label.allowed(),
                                  "%s has no valid :Effect" % show(item))
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


def label(name, kind, default, help, scopes=CLUSTER_SCOPES,
          category="kubernetes", **kwargs):
    """Declare one label (feature modules call this in their ``LABELS``).

    The feature module that lists the label owns it: it alone reads it
    (``features`` enforces that) and turns it into chart values.
    """
    return Label(name=name, kind=kind, default=default, help=help,
                 scopes=frozenset(scopes), category=category, **kwargs)


#: Text of the boolean values accepted everywhere (labels and Magnum's own
#: boolean fields go through the same parser).
BOOLEAN_WORDS = "true, false, yes, no, on, off, 1 or 0"


def parse_boolean(raw):
    """A boolean from a label value or a Magnum field; ValueError if not."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    text = _as_text(raw).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise LabelValueError("true or false")
