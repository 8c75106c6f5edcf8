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
"""The migration guide cannot drift from the label table.

``doc/source/install/migrating.rst`` has one table per peer driver. Every
label and option of magnum-capi-helm 1.4.0 and every label of
magnum-cluster-api (tests/support/peers.py) has exactly one row, and each
row's "Here" cell is what the driver really does: the declared label and
its current default, the old name of a declared label, or "refused" for a
label in ``features.REFUSED``; option rows name options that exist. The
magnum-capi-helm defaults are kept, except the ones the guide explains.
"""

import pathlib
import re

import pytest

from magnum_capi_rdma.cmd import cli
from magnum_capi_rdma import conf
from magnum_capi_rdma import features
from tests.support import peers

GUIDE = (pathlib.Path(__file__).resolve().parents[2] / "doc" / "source" /
         "install" / "migrating.rst")
INDEX = GUIDE.parents[1] / "index.rst"
_LITERAL = re.compile(r"``([^`]+)``")


def list_table(name):
    """The body rows of the list-table named *name*, cells as text."""
    lines = GUIDE.read_text().splitlines()
    start = lines.index("   :name: %s" % name)
    rows, row = [], None
    for line in lines[start + 1:]:
        if line and not line.startswith(" "):
            break
        if line.startswith("   * - "):
            row = [line[7:].strip()]
            rows.append(row)
        elif line.startswith("     - ") and row is not None:
            row.append(line[7:].strip())
        elif line.startswith("       ") and row is not None:
            row[-1] += " " + line.strip()
    assert rows, "no table %s in %s" % (name, GUIDE)
    return rows[1:]          # without the header row


def first_literal(cell):
    found = _LITERAL.match(cell)
    assert found, "cell %r does not start with ``name``" % cell
    return found.group(1)


def shown(value):
    """A default as the guide shows it (the label reference's words)."""
    if value is None or value == ():
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_here(name, cell):
    """The "Here" cell says what this driver does with label *name*."""
    if name in features.REFUSED:
        assert cell == "refused", (name, cell)
        return
    canonical = features.canonical_name(name)
    assert canonical in features.LABELS, (
        "%s is neither declared nor refused" % name)
    if canonical != name:
        assert cell == "``%s`` (old name of) ``%s``" % (name, canonical), (
            name, cell)
        return
    label = features.LABELS[canonical]
    assert cell == "``%s``, default ``%s``" % (
        canonical, cli._default(label)), (name, cell)


def test_magnum_capi_helm_labels_table():
    rows = list_table("magnum-capi-helm-labels")
    names = [first_literal(row[0]) for row in rows]
    assert sorted(names) == sorted(peers.MAGNUM_CAPI_HELM_LABELS)
    for row, name in zip(rows, names):
        assert len(row) == 4, row
        assert row[1] == "``%s``" % shown(
            peers.MAGNUM_CAPI_HELM_LABELS[name]), row
        check_here(name, row[2])


def test_every_magnum_capi_helm_label_is_declared():
    """Parity: none of them is refused, each keeps its name."""
    for name in peers.MAGNUM_CAPI_HELM_LABELS:
        assert name in features.LABELS or name in features.DEPRECATED, name


@pytest.mark.parametrize("name", sorted(peers.MAGNUM_CAPI_HELM_LABELS))
def test_magnum_capi_helm_default_kept(name):
    if name in peers.DEFAULT_DIFFERENCES:
        # Explained in the guide, in the label's row and above the table.
        assert "``%s``" % name in GUIDE.read_text().split(
            "magnum-capi-helm labels\n")[0], name
        return
    theirs = peers.MAGNUM_CAPI_HELM_LABELS[name]
    ours = features.LABELS[features.canonical_name(name)].default
    if isinstance(theirs, str) and isinstance(ours, str):
        theirs, ours = theirs.lower(), ours.lower()
    assert ours == theirs, (name, ours, theirs)


def test_csi_cinder_reclaim_policy_keeps_retain():
    assert features.LABELS["csi_cinder_reclaim_policy"].default == "Retain"


def _options():
    found = {}
    for group, opts in conf.list_opts():
        found[getattr(group, "name", group)] = {opt.name for opt in opts}
    return found


def test_magnum_capi_helm_options_table():
    rows = list_table("magnum-capi-helm-options")
    ours = _options()
    seen = []
    for row in rows:
        assert len(row) == 3, row
        group, name = re.match(r"^``\[(\w+)\] (\S+)``$", row[0]).groups()
        seen.append((group, name))
        if row[1] == "none":
            assert len(row[2]) > 20, row   # says why
            continue
        here_group, here_name = re.match(r"^``\[(\w+)\] (\S+)``$",
                                         row[1]).groups()
        if here_name == "<label>":
            assert here_group == conf.LABELS_GROUP
            continue
        assert here_name in ours[here_group], row
    assert sorted(seen) == sorted(peers.MAGNUM_CAPI_HELM_OPTIONS)


def test_magnum_cluster_api_labels_table():
    rows = list_table("magnum-cluster-api-labels")
    names = [first_literal(row[0]) for row in rows]
    assert sorted(names) == sorted(peers.MAGNUM_CLUSTER_API_LABELS)
    for row, name in zip(rows, names):
        assert len(row) == 3, row
        check_here(name, row[1])


def test_other_labels_and_fields_table():
    rows = list_table("other-labels-and-fields")
    labels, fields = [], []
    for row in rows:
        assert len(row) == 3, row
        name = first_literal(row[0])
        if "field)" in row[0]:
            fields.append(name)
        else:
            labels.append(name)
            check_here(name, row[1])
    assert sorted(labels) == sorted(peers.REQUESTED_LABELS)
    assert sorted(fields) == sorted(peers.REQUESTED_FIELDS)


def test_every_refused_label_is_in_the_guide():
    text = GUIDE.read_text()
    for name in features.REFUSED:
        assert "   * - ``%s``" % name in text, name


def test_guide_is_in_the_documentation():
    index = INDEX.read_text()
    assert "install/*" in index or "install/migrating" in index
