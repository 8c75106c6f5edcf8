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
"""Files, disks and commands on the machines, from every feature.

Several features put something on the nodes through kubeadm (the RDMA
modes' kernel setting, the API server's audit policy, the proxy settings
of containerd, the containerd volume). They are lists in a
``kubeadmConfigSpec`` (``files``, ``preKubeadmCommands``, ``mounts``,
``diskSetup.filesystems``), and lists of chart values do not merge: the
last feature to write one would drop the others'. So no feature writes
them; each may define ``host_settings(spec, group) -> dict`` (``group`` is
``spec.control_plane`` or a worker group) and this module, the only
writer, puts them together in the features' order. Node group settings go
on each node group, never in ``nodeGroupDefaults`` (the chart lets a
group's list replace the default's).

This module reads no label.
"""

from magnum_capi_rdma import features

DOC_ORDER = 99
LABELS = ()

#: The kubeadmConfigSpec lists features may add to.
LIST_KEYS = ("files", "preKubeadmCommands", "mounts")


def _providers():
    return [module for module in features.FEATURES
            if getattr(module, "host_settings", None) is not None]


def settings(spec, group):
    """The kubeadmConfigSpec additions for *group*, all features'."""
    merged = {}
    filesystems = []
    for module in _providers():
        found = module.host_settings(spec, group) or {}
        unknown = set(found) - set(LIST_KEYS) - {"filesystems"}
        if unknown:
            raise AssertionError("feature %s: unknown host settings %s" % (
                features.feature_name(module), sorted(unknown)))
        for key in LIST_KEYS:
            if found.get(key):
                merged.setdefault(key, []).extend(found[key])
        filesystems.extend(found.get("filesystems") or ())
    if filesystems:
        merged["diskSetup"] = {"filesystems": filesystems}
    return merged


def contribute(spec):
    values = {}
    control = settings(spec, spec.control_plane)
    if control:
        values["controlPlane"] = {"kubeadmConfigSpec": control}
    groups = []
    for group in spec.node_groups:
        found = settings(spec, group)
        if found:
            groups.append({"name": group.name, "kubeadmConfigSpec": found})
    if groups:
        values["nodeGroups"] = groups
    return values
