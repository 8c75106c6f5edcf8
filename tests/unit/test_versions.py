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
"""Tests of the upgrade version rules."""

import pytest

from magnum_capi_rdma import versions


@pytest.mark.parametrize("current,target,fragment", [
    ("v1.33.1", "v1.34.0", None),
    ("v1.33.1", "v1.33.4", None),
    ("1.33.1", "v1.34.2", None),
    (None, "v1.34.2", None),
    ("v1.33.1", "v1.32.9", "Downgrading from v1.33.1 to v1.32.9"),
    ("v1.33.1", "v1.35.0", "Skipping minor versions"),
    ("v1.33.1", "v1.33.1", "already runs"),
    ("v1.33.1", "v2.0.0", "across major versions"),
    ("v1.33.1", "latest", "not a version"),
])
def test_upgrade_problem(current, target, fragment):
    problem = versions.upgrade_problem(current, target)
    if fragment is None:
        assert problem is None
    else:
        assert fragment in problem


def test_same_version_is_an_upgrade_when_something_else_changes():
    # A new image, chart or add-on versions: allowed (issue 16).
    assert versions.upgrade_problem("v1.33.1", "v1.33.1",
                                    other_changes=True) is None
    assert versions.upgrade_problem("1.33.1", "v1.33.1",
                                    other_changes=True) is None
    problem = versions.upgrade_problem("v1.33.1", "v1.33.1")
    assert "already runs" in problem and "nothing else to change" in problem
    # Other changes never excuse what Kubernetes does not support.
    assert "Downgrading" in versions.upgrade_problem(
        "v1.33.1", "v1.32.9", other_changes=True)
    assert "Skipping" in versions.upgrade_problem(
        "v1.33.1", "v1.35.0", other_changes=True)


@pytest.mark.parametrize("control_plane, group", [
    ("v1.34.2", "v1.34.2"),
    ("v1.34.2", "v1.34.0"),   # another patch: kubeadm joins it
    ("1.34.2", "v1.34.9"),
    (None, "v1.33.1"),        # nothing known yet
    ("v1.34.2", "latest"),
])
def test_join_allowed(control_plane, group):
    assert versions.join_problem(control_plane, group, "ng") is None


@pytest.mark.parametrize("control_plane, group", [
    ("v1.34.2", "v1.33.1"),
    ("v1.34.2", "v1.35.0"),
    ("v1.34.2", "v2.34.2"),
])
def test_join_refused_at_another_minor(control_plane, group):
    message = versions.join_problem(control_plane, group, "work<er>")
    assert "node group 'work<er>' at %s" % group in message
    assert "v%d.%d.x" % versions.parse(control_plane)[:2] in message
    assert "upgrade the node group first" in message
