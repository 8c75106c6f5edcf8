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
"""Kubernetes version rules for upgrades (pure)."""

import re

from magnum_capi_rdma.labels import show

# Digits are ASCII and bounded: no int() of a huge or non-ASCII number.
_VERSION = re.compile(r"^v?([0-9]{1,6})\.([0-9]{1,6})\.([0-9]{1,6})$")


def parse(version):
    """``(major, minor, patch)`` of ``v1.33.1`` or ``1.33.1``, else None."""
    if not isinstance(version, str) or len(version) > 64:
        return None
    match = _VERSION.match(version.strip())
    if not match:
        return None
    return tuple(int(x) for x in match.groups())


def upgrade_problem(current, target, other_changes=False):
    """Why upgrading from ``current`` to ``target`` is refused, or None.

    Kubernetes supports moving one minor version at a time and never
    backwards. The same version is allowed when the upgrade changes
    something else (``other_changes``: a new machine image, chart or
    add-on versions); without that it is a no-op, refused so that the
    user learns nothing would happen.
    """
    new = parse(target)
    if new is None:
        return "Upgrading to %s (not a version like v1.33.1)" % (
            show(target),)
    old = parse(current)
    if old is None:
        return None  # nothing known yet: the chart decides
    fmt = "v%d.%d.%d"
    if new < old:
        return "Downgrading from %s to %s" % (fmt % old, fmt % new)
    if new == old:
        if other_changes:
            return None
        return ("Upgrading to %s, the version it already runs, with "
                "nothing else to change (machine image, chart or add-on "
                "versions)," % (fmt % new))
    if new[0] != old[0]:
        return "Upgrading across major versions (%s to %s)" % (
            fmt % old, fmt % new)
    if new[1] - old[1] > 1:
        return ("Skipping minor versions (%s to %s; upgrade to v%d.%d.x "
                "first)" % (fmt % old, fmt % new, old[0], old[1] + 1))
    return None


def join_problem(control_plane, group_version, group):
    """Why new machines of node group ``group`` could not join, or None.

    Cluster API's kubeadm bootstrap joins a machine only at the control
    plane's minor version: its MachineSet preflight check
    (``KubeadmVersionSkew``) creates no machine otherwise, and the
    operation would wait until it times out. A group may still *run* an
    older minor (Magnum upgrades node groups one at a time); it cannot
    get new machines until it is upgraded.
    """
    cp = parse(control_plane)
    ng = parse(group_version)
    if cp is None or ng is None or cp[:2] == ng[:2]:
        return None
    return ("Adding nodes to node group %s at v%d.%d.%d while the control "
            "plane runs v%d.%d.%d (Cluster API's kubeadm bootstrap joins "
            "nodes only at the control plane's minor version, v%d.%d.x; "
            "upgrade the node group first)" % (
                (show(group),) + ng + cp + cp[:2]))
