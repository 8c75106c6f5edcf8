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
"""Hypothesis strategies: labels, node groups and cluster descriptions.

Real label names with valid, random and hostile values (YAML/JSON/template
metacharacters, newlines, NUL, very long strings, RTL and emoji), unknown
label names and random node group lists. Used by the property tests
(tests/unit/test_properties.py) and the functional invalid-input tests.
"""

from hypothesis import strategies as st

from magnum_capi_rdma import features

# Values that are valid for some labels, so that generated descriptions
# often get past validation and reach the values and manifests.
GOOD_VALUES = {
    "kube_tag": ["v1.33.1", "v1.34.2", "1.33.1"],
    "rdma_mode": list(features.LABELS["rdma_mode"].choices),
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
    st.sampled_from(sorted(features.LABELS)),
    st.sampled_from(sorted(features.DEPRECATED)),
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
    label = features.LABELS.get(name)
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
            "external_network_id":
            "9d3b5b6e-3f7c-4c1e-8b1a-5e2f0c6d7a11",
            "master_flavor_id": "m1.medium",
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
