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
"""Property tests: generated labels and node groups, hostile values.

Hypothesis builds descriptions that mix real label names with valid,
random and hostile values (YAML/JSON/template metacharacters, newlines,
NUL, very long strings, RTL and emoji), unknown label names and random
node group lists. Whatever comes in:

- ``spec.build_spec`` returns a spec or raises ``InvalidSpec``, nothing
  else; every problem names its label or field and is one line;
- a valid spec's chart values survive a YAML round trip unchanged, carry
  no template markers, and every RDMA manifest string parses back to the
  objects it was made from (values reach the chart only as data);
- the command returns 0, 1 or 2 and never raises.

The number of cases tried is printed and written to
``artifacts/reliability/properties.json``.

Replaying: each run draws all its cases from one seed, random unless
``MAGNUM_CAPI_RDMA_PROPERTY_SEED`` gives it; the seed is printed with the
case count and with every failure, and the same seed draws the same cases
again (CI keeps no example database, so the seed is what replays a run).
A failure also prints Hypothesis's ``@reproduce_failure`` blob for the
one shrunk case. Every bug found so far is pinned below as an
``@example`` and runs on every run.
"""

import io
import ipaddress
import json
import os
import pathlib
import random
import re
import tempfile

from hypothesis import example
from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import seed
from hypothesis import settings
from hypothesis import strategies as st
import pytest
import yaml

from magnum_capi_rdma.cmd import cli
from magnum_capi_rdma import features
from magnum_capi_rdma import manifests
from magnum_capi_rdma import spec
from magnum_capi_rdma import values
from magnum_capi_rdma import versions
from tests.support.strategies import descriptions
from tests.support.strategies import hostile_text

ROOT = pathlib.Path(__file__).resolve().parents[2]
NODE_GROUP_NAME = re.compile(r"[a-z][a-z0-9-]{0,61}[a-z0-9]")
ARTIFACTS = ROOT / "artifacts" / "reliability"
EXAMPLES = {}

# Examples per test; the four tests together try >= 1,000 cases per run.
# MAGNUM_CAPI_RDMA_PROPERTY_EXAMPLES scales them (e.g. 5000 for a soak).
SCALE = int(os.environ.get("MAGNUM_CAPI_RDMA_PROPERTY_EXAMPLES", "600"))
# One seed per run, random unless given: the same seed draws the same cases.
SEED = int(os.environ.get("MAGNUM_CAPI_RDMA_PROPERTY_SEED") or
           random.SystemRandom().randrange(2 ** 32))
REPLAY = "MAGNUM_CAPI_RDMA_PROPERTY_SEED=%d" % SEED
# No example database: Hypothesis does not write one for a seeded test.
SETTINGS = dict(deadline=None, derandomize=False, print_blob=True,
                database=None,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.data_too_large])


@pytest.fixture(autouse=True)
def _say_the_seed():
    """Shown with a failure (pytest prints what a failed test printed)."""
    print("property seed %d: replay with %s" % (SEED, REPLAY))


def _base_description(**changes):
    """A valid description; ``changes`` replace whole sections."""
    desc = {
        "cluster_template": {
            "image_id": "ubuntu-2404", "keypair_id": "ops-key",
            "external_network_id":
            "9d3b5b6e-3f7c-4c1e-8b1a-5e2f0c6d7a11",
            "master_flavor_id": "m1.medium",
            "flavor_id": "m1.large", "labels": {"kube_tag": "v1.33.1"}},
        "cluster": {"name": "demo", "master_count": 1, "node_count": 1,
                    "labels": {}},
        "node_groups": [],
    }
    desc.update(changes)
    return desc


# Bugs the property tests found, replayed on every run (commit 58fa693:
# names and versions with a trailing newline were accepted and a name with
# a newline broke a problem over two lines; commit ce1c635: a path with a
# NUL byte was a traceback).
FOUND_NG_NAME_NEWLINE = _base_description(node_groups=[
    {"name": "gpu-rdma\n", "node_count": 1, "labels": {}}])
FOUND_NG_NAME_INNER_NEWLINE = _base_description(node_groups=[
    {"name": "gpu\nrdma", "node_count": 1, "labels": {}}])
FOUND_NG_VERSION_NEWLINE = _base_description(node_groups=[
    {"name": "gpu", "node_count": 1, "labels": {},
     "version": "v1.33.1\n"}])
FOUND_KUBE_TAG_NEWLINE = _base_description(cluster={
    "name": "demo", "master_count": 1, "node_count": 1,
    "labels": {"kube_tag": "v1.33.1\n"}})


def _count(test):
    EXAMPLES[test] = EXAMPLES.get(test, 0) + 1


def _check_problems(problems):
    assert problems, "InvalidSpec without problems"
    for problem in problems:
        text = str(problem)
        assert "\n" not in text and "\r" not in text, text[:200]
        noun = "field" if problem.label in spec.FIELD_NAMES else "label"
        head = text[:400]
        assert (" %s %s" % (noun, spec.show_name(problem.label))) in head, \
            head
        _check_escaped(text)


def _check_escaped(text, limit=2000):
    """Nothing a terminal, Horizon or a log would act on; bounded."""
    assert all(c == " " or c.isprintable() for c in text), repr(text[:200])
    assert len(text) < limit, len(text)


def _no_template_markers(dumped):
    for marker in ("{{", "{%", "{#"):
        assert marker not in dumped, marker


def _strings(obj, path=()):
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _strings(key, path)
            yield from _strings(value, path + (key,))
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _strings(item, path)
    elif isinstance(obj, str):
        yield path, obj


def _check_values(built):
    for group in built.node_groups:
        assert NODE_GROUP_NAME.fullmatch(group.name), group.name
    rendered = values.build_values(built, "demo-cloud-credentials")
    for path, text in _strings(rendered):
        if "manifests" in path:
            continue    # YAML documents: multi-line by nature
        assert not any(ord(c) < 32 for c in text), (path, text[:100])
    dumped = yaml.safe_dump(rendered, default_flow_style=False)
    assert yaml.safe_load(dumped) == rendered
    _no_template_markers(dumped)
    custom = (rendered.get("addons") or {}).get("custom") or {}
    expected = manifests.manifest_files(built)
    for addon in custom.values():
        texts = (addon.get("spec") or {}).get("manifests") or {}
        for name, text in texts.items():
            assert isinstance(text, str)
            assert yaml.safe_load(text) == expected[name]
    return rendered


@seed(SEED)
@settings(max_examples=SCALE, **SETTINGS)
@given(descriptions())
@example(FOUND_NG_NAME_NEWLINE)
@example(FOUND_NG_NAME_INNER_NEWLINE)
@example(FOUND_NG_VERSION_NEWLINE)
@example(FOUND_KUBE_TAG_NEWLINE)
def test_build_spec_returns_a_spec_or_clear_problems(desc):
    _count("build_spec")
    try:
        built = spec.build_spec(desc)
    except spec.InvalidSpec as exc:
        _check_problems(exc.problems)
        EXAMPLES["invalid"] = EXAMPLES.get("invalid", 0) + 1
        return
    EXAMPLES["valid"] = EXAMPLES.get("valid", 0) + 1
    _check_values(built)


@seed(SEED)
@settings(max_examples=SCALE // 2, **SETTINGS)
@given(st.sampled_from(sorted(features.LABELS)), hostile_text,
       st.sampled_from(["template", "cluster", "nodegroup"]))
@example("kube_tag", "v1.33.1\n", "cluster")
@example("kube_tag", "v1.33.1\n", "nodegroup")
def test_one_hostile_label_value(name, value, layer):
    """One hostile value on one real label, on any layer."""
    _count("hostile_value")
    desc = {
        "cluster_template": {
            "image_id": "ubuntu-2404", "keypair_id": "ops-key",
            "external_network_id":
            "9d3b5b6e-3f7c-4c1e-8b1a-5e2f0c6d7a11",
            "master_flavor_id": "m1.medium",
            "flavor_id": "m1.large", "labels": {"kube_tag": "v1.33.1",
                                                "rdma_mode": "macvlan",
                                                "rdma_network": "n",
                                                "rdma_interface": "ens4",
                                                "rdma_ip_range":
                                                "10.0.0.0/16"}},
        "cluster": {"name": "demo", "master_count": 1, "node_count": 1},
        "node_groups": [{"name": "gpu", "node_count": 1, "labels": {}}],
    }
    target = {"template": desc["cluster_template"]["labels"],
              "cluster": desc["cluster"].setdefault("labels", {}),
              "nodegroup": desc["node_groups"][0]["labels"]}[layer]
    target[name] = value
    try:
        built = spec.build_spec(desc)
    except spec.InvalidSpec as exc:
        _check_problems(exc.problems)
        return
    rendered = _check_values(built)
    dumped = yaml.safe_dump(rendered)
    # Anything a user typed that was accepted is there only as data.
    for marker in ("{{", "{%", "\x00"):
        assert marker not in dumped


def _write_description(folder, desc, raw_text=None):
    path = os.path.join(folder, "desc.yaml")
    with open(path, "w", encoding="utf-8", errors="surrogatepass") as out:
        if raw_text is not None:
            out.write(raw_text)
        else:
            yaml.safe_dump(desc, out, allow_unicode=True)
    return path


@seed(SEED)
@settings(max_examples=SCALE // 2, **SETTINGS)
@given(descriptions(), st.booleans(),
       st.one_of(st.none(), st.text(max_size=200), st.sampled_from(
           ["a: [", ": : :", "\t- x", "{{ x }}", "- 1\n- 2", "'"])))
@example(FOUND_NG_NAME_INNER_NEWLINE, False, None)
def test_cli_never_raises(desc, manifests_only, raw_text):
    _count("cli")
    with tempfile.TemporaryDirectory() as folder:
        path = _write_description(folder, desc, raw_text)
        argv = ["render", path] + (["--manifests"] if manifests_only else [])
        out, err = io.StringIO(), io.StringIO()
        code = cli.main(argv, out=out, err=err)
    assert code in (0, 1, 2), code
    if code == 0:
        # Without RDMA, --manifests prints nothing; values always exist.
        assert out.getvalue() or manifests_only
        list(yaml.safe_load_all(out.getvalue()))
    else:
        assert err.getvalue().startswith(("error:", "usage:")), (
            err.getvalue()[:200])
        assert "Traceback" not in err.getvalue()


@seed(SEED)
@settings(max_examples=SCALE // 4, **SETTINGS)
@given(st.lists(st.one_of(hostile_text, st.sampled_from(
    ["render", "labels-doc", "--manifests", "-o", "--help", "--bogus"])),
    max_size=4))
@example(["render", "desc\x00.yaml"])
@example(["render", "desc\x00.yaml", "--manifests"])
def test_cli_random_arguments(argv):
    _count("cli_argv")
    # Never let a generated argument name a file to write.
    argv = [a for a in argv if not a.startswith(("-o", "--o"))]
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(argv, out=out, err=err)
    assert code in (0, 1, 2), code


# -- hardening, by class (each class has its own generator) ---------------

# 1. Crashes: integers Python refuses or limits, non-ASCII digits.
huge_or_odd_integers = st.one_of(
    st.integers(min_value=10, max_value=6000).map(lambda n: "9" * n),
    st.sampled_from(["\u0663", "\u00b2", "\uff11\uff12", "1\u0660",
                     "\U0001d7e3", "\u2460", "1_000", "0x10", "1e3",
                     " 12 ", "+3", "-0", "٣"]),
    st.integers(min_value=-10 ** 30, max_value=10 ** 30),
    st.floats(allow_nan=True, allow_infinity=True),
)
INT_LABELS = sorted(n for n, lb in features.LABELS.items()
                    if lb.kind == "integer")
COUNT_FIELDS = [("cluster", "node_count"), ("cluster", "master_count"),
                ("node_group", "node_count"), ("node_group",
                                               "min_node_count"),
                ("node_group", "max_node_count")]


def _build_or_problems(desc, options=None):
    try:
        return spec.build_spec(desc, None, options), None
    except spec.InvalidSpec as exc:
        _check_problems(exc.problems)
        return None, exc.problems


@seed(SEED)
@settings(max_examples=SCALE // 3, **SETTINGS)
@given(st.one_of(st.tuples(st.just("label"), st.sampled_from(INT_LABELS)),
                 st.tuples(st.just("field"), st.sampled_from(COUNT_FIELDS))),
       huge_or_odd_integers)
@example(("field", ("cluster", "node_count")), "\u00b2")
@example(("label", "rdma_mtu"), "9" * 5000)
def test_integers_never_crash(target, value):
    _count("class_integers")
    desc = _base_description(node_groups=[
        {"name": "pool", "node_count": 1, "labels": {}}])
    kind, where = target
    if kind == "label":
        desc["cluster_template"]["labels"][where] = value
    else:
        section, key = where
        obj = desc["cluster"] if section == "cluster" else \
            desc["node_groups"][0]
        obj[key] = value
    built, found = _build_or_problems(desc)
    if built is not None:
        _check_values(built)


# Containers where strings are expected, and strings where mappings are,
# at every level of the description; lists nested very deep.
def _deep(depth):
    value = "x"
    for _ in range(depth):
        value = [value]
    return value


wrong_shapes = st.one_of(
    st.sampled_from(["labels", "a=b", ["x"], [["x"]], {"a": {"b": "c"}},
                     3, 1.5, True, None, {"": ""}, [{"a": 1}]]),
    # Hypothesis itself cannot print deeper values; deeper ones are in
    # test_very_deep_lists_never_crash.
    st.integers(min_value=50, max_value=400).map(_deep),
)
SHAPE_PATHS = [("cluster_template", "labels"), ("cluster", "labels"),
               ("node_groups", 0, "labels"), ("cluster_template",
                                              "labels", "kube_tag"),
               ("cluster", "labels", "rdma_mode"),
               ("node_groups", 0, "labels", "node_labels"),
               ("node_groups", 0, "name"), ("node_groups", 0),
               ("cluster", "name"), ("cluster_template", "image_id"),
               ("cluster", "keypair"), ("node_groups", 0, "flavor_id"),
               ("cluster_template", "dns_nameserver")]


@seed(SEED)
@settings(max_examples=SCALE // 3, **SETTINGS)
@given(st.sampled_from(SHAPE_PATHS), wrong_shapes)
@example(("cluster", "labels", "rdma_mode"), _deep(400))
def test_wrong_shapes_never_crash(path, value):
    _count("class_shapes")
    desc = _base_description(node_groups=[
        {"name": "pool", "node_count": 1, "labels": {}}])
    obj = desc
    for key in path[:-1]:
        obj = obj[key]
    obj[path[-1]] = value
    built, _ = _build_or_problems(desc)
    if built is not None:
        _check_values(built)


@pytest.mark.parametrize("path", SHAPE_PATHS)
def test_very_deep_lists_never_crash(path):
    """Deeper than Python's recursion limit, wherever it is."""
    _count("class_shapes")
    desc = _base_description(node_groups=[
        {"name": "pool", "node_count": 1, "labels": {}}])
    obj = desc
    for key in path[:-1]:
        obj = obj[key]
    obj[path[-1]] = _deep(5000)
    built, found = _build_or_problems(desc)
    assert built is None and found


@seed(SEED)
@settings(max_examples=8, **SETTINGS)
@given(st.integers(min_value=300, max_value=2000),
       st.sampled_from(["[", "{a: "]))
def test_deep_yaml_in_render_is_a_clear_error(depth, opener):
    _count("class_deep_yaml")
    closer = {"[": "]", "{a: ": "}"}[opener]
    with tempfile.TemporaryDirectory() as folder:
        raw = opener * depth + "1" + closer * depth
        path = _write_description(folder, None, raw)
        out, err = io.StringIO(), io.StringIO()
        code = cli.main(["render", path], out=out, err=err)
    assert code in (1, 2), code
    assert err.getvalue().startswith("error:"), err.getvalue()[:200]
    assert len(err.getvalue()) < 4000


@seed(SEED)
@settings(max_examples=SCALE // 6, **SETTINGS)
@given(st.one_of(st.integers(min_value=7, max_value=6000).map(
    lambda n: "v1.%s.0" % ("9" * n)), huge_or_odd_integers.map(str),
    hostile_text), st.sampled_from(["v1.33.1", None, "v1.99999.1"]))
def test_huge_versions_are_refused_not_raised(target, current):
    _count("class_versions")
    problem = versions.upgrade_problem(current, target)
    if versions.parse(target) is None:
        assert problem and len(problem) < 400
        _check_escaped(problem)


# 2. Messages: every problem escaped and short; the summary bounded.
class _Long(object):
    """A value whose repr stays short in Hypothesis's reports."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return "<%d characters starting %r>" % (len(self.text),
                                                self.text[:10])


@seed(SEED)
@settings(max_examples=SCALE // 6, **SETTINGS)
@given(st.integers(min_value=1, max_value=3000),
       st.sampled_from(["x" * (1 << 20), "\x1b[2J\x00\u0085", "v"]).map(
           _Long))
def test_status_reason_stays_bounded(how_many, value):
    _count("class_summary")
    value = value.text
    desc = _base_description()
    labels = desc["cluster_template"]["labels"]
    for number in range(how_many):
        labels["rdma_bogus_%d" % number] = value
    labels["rdma_mtu"] = value
    built, found = _build_or_problems(desc)
    assert built is None
    text = spec.summary(found)
    _check_escaped(text, limit=spec.SUMMARY_CHARS + 200)
    if len(found) > spec.SUMMARY_PROBLEMS:
        assert "more problem(s)" in text


# 3. Invalid input accepted: networks and node labels.
cidrs = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.builds(lambda a, n: "%s/%d" % (a, n), st.ip_addresses(v=4),
              st.integers(8, 30)),
    st.builds(lambda a, n: "%s/%d" % (a, n), st.ip_addresses(v=6),
              st.integers(48, 120)),
    st.sampled_from(["172.16.0.0/16", "172.24.10.0/24", "10.0.0.0/24",
                     "10.0.0.0/8"]))


@seed(SEED)
@settings(max_examples=SCALE // 3, **SETTINGS)
@given(cidrs, cidrs, st.one_of(st.none(), st.ip_addresses(v=4).map(str)))
def test_networks_accepted_only_when_apart(node_cidr, rdma_cidr, gateway):
    _count("class_networks")
    desc = _base_description()
    labels = desc["cluster_template"]["labels"]
    labels.update({"fixed_subnet_cidr": node_cidr, "rdma_mode": "macvlan",
                   "rdma_network": "n", "rdma_interface": "ens4",
                   "rdma_ip_range": rdma_cidr})
    if gateway:
        labels["rdma_ip_gateway"] = gateway
    built, found = _build_or_problems(desc)
    if built is None:
        return
    nets = [ipaddress.ip_network(built.networking.fixed_subnet_cidr),
            ipaddress.ip_network(built.rdma.ip_range),
            ipaddress.ip_network("172.16.0.0/13"),
            ipaddress.ip_network("172.24.0.0/13")]
    assert "/" in node_cidr and "/" in rdma_cidr
    assert nets[0].version == 4
    for pos, net in enumerate(nets):
        for other in nets[:pos]:
            assert net.version != other.version or not net.overlaps(
                other), (net, other)
    if gateway:
        net = nets[1]
        address = ipaddress.ip_address(gateway)
        assert address in net
        assert address not in (net.network_address, net.broadcast_address)


node_label_keys = st.one_of(
    st.sampled_from(["kubernetes.io/role", "node-role.kubernetes.io/gpu",
                     "k8s.io/x", "foo.k8s.io/x", "sub.kubernetes.io/y",
                     "capi.stackhpc.com/node-group", "kubernetes.io/arch",
                     "node.kubernetes.io/pool", "example.com/gpu",
                     "topology.kubernetes.io/zone", "a" * 64,
                     ("a" * 60 + ".") * 5 + "/x"]),
    st.from_regex(r"[a-z]{1,10}(\.[a-z]{1,10}){0,2}/[a-z]{1,10}",
                  fullmatch=True))


@seed(SEED)
@settings(max_examples=SCALE // 3, **SETTINGS)
@given(node_label_keys)
def test_node_labels_the_kubelet_cannot_set_are_refused(key):
    _count("class_node_labels")
    desc = _base_description()
    desc["cluster_template"]["labels"]["node_labels"] = "%s=v" % key
    built, found = _build_or_problems(desc)
    prefix = key.rpartition("/")[0]
    reserved = (prefix == "node-role.kubernetes.io" or
                prefix == "capi.stackhpc.com" or
                ((prefix.endswith("kubernetes.io") or
                  prefix.endswith("k8s.io")) and
                 not prefix.endswith(("kubelet.kubernetes.io",
                                      "node.kubernetes.io")) and
                 key not in ("kubernetes.io/arch",
                             "topology.kubernetes.io/zone")))
    if reserved or len(prefix) > 253 or len(key.rpartition("/")[2]) > 63:
        assert built is None, key


repositories = st.one_of(
    st.sampled_from(["https://nvcr.io/nvidia", "http://r:5000/x",
                     "oci://r/x", "nvcr.io/nvidia/mellanox",
                     "r.example.com:5000/m", "//r/x"]),
    st.builds(lambda s, r: "%s://%s" % (s, r),
              st.from_regex(r"[a-z]{1,6}", fullmatch=True),
              st.from_regex(r"[a-z]{1,8}\.[a-z]{2,3}/[a-z]{1,8}",
                            fullmatch=True)))


@seed(SEED)
@settings(max_examples=SCALE // 6, **SETTINGS)
@given(repositories)
def test_image_repositories_have_no_scheme(repository):
    _count("class_repositories")
    desc = _base_description()
    desc["cluster_template"]["labels"].update({
        "rdma_mode": "macvlan", "rdma_network": "n",
        "rdma_interface": "ens4", "rdma_ip_range": "10.9.0.0/16",
        "rdma_image_repository": repository})
    built, _ = _build_or_problems(desc)
    if "://" in repository or repository.startswith("/"):
        assert built is None


non_printing = st.sampled_from(
    [chr(c) for c in range(0x80, 0xa0)] + ["\u200b", "\u2028", "\u2029",
                                           "\ufeff", "\u202e", "\x7f",
                                           "\x00", "\x1b"])


@seed(SEED)
@settings(max_examples=SCALE // 3, **SETTINGS)
@given(st.sampled_from(sorted(features.LABELS)), non_printing,
       st.sampled_from(["template", "cluster"]))
def test_non_printing_characters_refused_everywhere(name, char, layer):
    _count("class_non_printing")
    desc = _base_description()
    target = (desc["cluster_template"]["labels"] if layer == "template"
              else desc["cluster"]["labels"])
    target[name] = "a%sb" % char
    built, found = _build_or_problems(desc)
    assert built is None
    assert any(p.label == name for p in found)


# 5. Cost: thousands of unknown labels cost a bounded number of
# "did you mean" comparisons.
@seed(SEED)
@settings(max_examples=10, **SETTINGS)
@given(st.integers(min_value=1000, max_value=5000))
def test_did_you_mean_is_bounded(how_many):
    _count("class_cost")
    desc = _base_description()
    desc["cluster_template"]["labels"].update(
        {"rdma_x%d" % n: "v" for n in range(how_many)})
    calls = []
    real = spec.difflib.get_close_matches

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    spec.difflib.get_close_matches = counted
    try:
        _build_or_problems(desc)
    finally:
        spec.difflib.get_close_matches = real
    assert len(calls) <= 100


def test_zz_report_cases_tried():
    """Print and save how many generated cases ran (this module's run)."""
    tried = sum(count for name, count in EXAMPLES.items()
                if name not in ("valid", "invalid"))
    if tried == 0:
        pytest.skip("run together with the property tests")
    figures = dict(EXAMPLES, total=tried, seed=SEED)
    print("property tests: %d generated cases, seed %d (%s)" % (
        tried, SEED,
        ", ".join("%s=%d" % kv for kv in sorted(EXAMPLES.items()))))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with open(ARTIFACTS / "properties.json", "w") as out:
        json.dump(figures, out, indent=2, sort_keys=True)
    assert tried >= 1000
    # Both branches were exercised: some valid, some invalid inputs.
    assert EXAMPLES.get("valid", 0) > 0 and EXAMPLES.get("invalid", 0) > 0
