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
from magnum_capi_rdma import labels as label_spec
from magnum_capi_rdma import manifests
from magnum_capi_rdma import spec
from magnum_capi_rdma import values

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
            "external_network_id": "public", "master_flavor_id": "m1.medium",
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

# Values that are valid for some labels, so that generated descriptions
# often get past validation and reach the values and manifests.
GOOD_VALUES = {
    "kube_tag": ["v1.33.1", "v1.34.2", "1.33.1"],
    "rdma_mode": list(label_spec.LABELS["rdma_mode"].choices),
    "rdma_network": ["rdma-net", "roce-fabric"],
    "rdma_interface": ["ens4", "ib0"],
    "rdma_ip_range": ["192.168.100.0/24", "10.200.0.0/16"],
    "rdma_mtu": ["9000", "1500", "4092"],
    "gpu_operator_enabled": ["true", "false"],
    "monitoring_enabled": ["true", "false"],
    "auto_scaling_enabled": ["true", "false"],
    "node_labels": ["example.com/accelerator=a100"],
    "node_taints": ["nvidia.com/gpu=true:NoSchedule"],
    "availability_zone": ["nova", "az-gpu"],
    "boot_volume_size": ["0", "100"],
    "rdma_pkey": ["0x7fff", "0x8001"],
}

HOSTILE = [
    "{{ .Values.secret }}", "{{- lookup \"v1\" \"Secret\" \"\" \"\" }}",
    "{% raw %}", "{# c #}", "}}", "---\nkind: Secret", "a: b", "- x",
    "key: value\nother: 1", "'", "\"", "\"quoted\"", "`id`", "$(id)",
    "${HOME}", "&anchor", "*alias", "!!python/object:os.system", "|", ">",
    "#", "%TAG", "@", "\x00", "a\x00b", "line\nbreak", "\r\n", "\t",
    "\u202eevil", "\u05e9\u05dc\u05d5\u05dd", "\U0001f680\U0001f525",
    "\ufeff", "\u2028", "true", "null", "~", "0x10", "1e999", "-1",
    "NaN", "[]", "{}", "{\"a\": 1}", "x" * 70000, "\u00e9" * 300,
    "v1.33.1\n", " v1.33.1", "macvlan ", "192.168.100.0/24; rm -rf /",
]

hostile_text = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1,
            max_size=300),
    st.builds(lambda a, b: a + b, st.sampled_from(HOSTILE),
              st.text(max_size=10)),
)
label_names = st.one_of(
    st.sampled_from(sorted(label_spec.LABELS)),
    st.sampled_from(sorted(label_spec.DEPRECATED)),
    st.sampled_from(["rdma_modes", "gpu_enabled", "capi_foo", "kubetag",
                     "unrelated_label", "rdma_", "gpu_"]),
    st.text(max_size=30),
)


@st.composite
def label_values(draw, name):
    choices = [hostile_text]
    if name in GOOD_VALUES:
        choices.append(st.sampled_from(GOOD_VALUES[name]))
        choices.append(st.sampled_from(GOOD_VALUES[name]))
    label = label_spec.LABELS.get(name)
    if label is not None and label.choices:
        choices.append(st.sampled_from(list(label.choices)))
    value = draw(st.one_of(*choices))
    return draw(st.one_of(st.just(value), st.just(value),
                          st.sampled_from([None, 3, True, [value]])))


@st.composite
def label_dicts(draw, max_size=6, clean=False):
    """Labels; ``clean`` ones use real names and mostly good values."""
    if clean:
        names = draw(st.lists(st.sampled_from(sorted(GOOD_VALUES)),
                              max_size=max_size, unique=True))
        out = {name: draw(st.sampled_from(GOOD_VALUES[name]))
               for name in names}
        if out and draw(st.integers(0, 3)) == 0:
            out[draw(st.sampled_from(sorted(out)))] = draw(hostile_text)
        return out
    names = draw(st.lists(label_names, max_size=max_size, unique=True))
    return {name: draw(label_values(name)) for name in names}


node_group_names = st.one_of(
    st.sampled_from(["gpu-rdma", "plain", "ib-nodes", "default-worker",
                     "gpu-rdma\n", "a" * 64]),
    st.from_regex(r"[a-z][a-z0-9-]{1,20}[a-z0-9]", fullmatch=True),
    hostile_text,
)
counts = st.one_of(st.integers(-3, 50), st.sampled_from(
    [None, "2", "two", 1.5, True, 10 ** 12]))


@st.composite
def node_group(draw, clean=False):
    group = {
        "name": draw(st.from_regex(r"[a-z][a-z0-9]{1,8}", fullmatch=True)
                     if clean else node_group_names),
        "node_count": draw(st.integers(0, 5) if clean else counts),
        "labels": draw(label_dicts(max_size=4, clean=clean)),
    }
    if clean:
        return group
    for key, strategy in (("role", st.sampled_from(
            ["worker", "master", "gpu", "", None])),
            ("flavor_id", st.one_of(st.just("g1.large"), hostile_text)),
            ("min_node_count", counts), ("max_node_count", counts),
            ("image_id", st.one_of(st.just("ubuntu-2404"), hostile_text))):
        if draw(st.booleans()):
            group[key] = draw(strategy)
    return group


@st.composite
def descriptions(draw):
    clean = draw(st.booleans())
    template_labels = {"kube_tag": "v1.33.1"}
    template_labels.update(draw(label_dicts(clean=clean)))
    desc = {
        "cluster_template": {
            "image_id": "ubuntu-2404", "keypair_id": "ops-key",
            "external_network_id": "public", "master_flavor_id": "m1.medium",
            "flavor_id": "m1.large", "labels": template_labels,
        },
        "cluster": {"name": draw(st.just("demo") if clean else st.one_of(
                        st.just("demo"), hostile_text)),
                    "master_count": draw(st.sampled_from([1, 3, 2, 0])),
                    "node_count": draw(st.integers(0, 5) if clean
                                       else counts),
                    "labels": draw(label_dicts(clean=clean))},
        "node_groups": draw(st.lists(node_group(clean), max_size=3)),
    }
    if not clean and draw(st.integers(0, 9)) == 0:
        # Now and then the whole shape is wrong.
        desc[draw(st.sampled_from(["cluster", "node_groups",
                                   "cluster_template"]))] = draw(
            st.sampled_from([None, "x", [1], 3]))
    return desc


def _count(test):
    EXAMPLES[test] = EXAMPLES.get(test, 0) + 1


def _check_problems(problems):
    assert problems, "InvalidSpec without problems"
    for problem in problems:
        text = str(problem)
        assert "\n" not in text and "\r" not in text, text[:200]
        noun = "field" if problem.label in spec.FIELD_NAMES else "label"
        head = text[:400]
        assert (" %s %s" % (noun, problem.label[:300])) in head, head


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
@given(st.sampled_from(sorted(label_spec.LABELS)), hostile_text,
       st.sampled_from(["template", "cluster", "nodegroup"]))
@example("kube_tag", "v1.33.1\n", "cluster")
@example("kube_tag", "v1.33.1\n", "nodegroup")
def test_one_hostile_label_value(name, value, layer):
    """One hostile value on one real label, on any layer."""
    _count("hostile_value")
    desc = {
        "cluster_template": {
            "image_id": "ubuntu-2404", "keypair_id": "ops-key",
            "external_network_id": "public", "master_flavor_id": "m1.medium",
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


def test_zz_report_cases_tried():
    """Print and save how many generated cases ran (this module's run)."""
    tried = sum(EXAMPLES.get(k, 0) for k in (
        "build_spec", "hostile_value", "cli", "cli_argv"))
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
