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
"""The control plane and the worker node groups: sizes, images, zones,
node labels and taints."""

from magnum_capi_rdma.values import common


def _taints(group):
    return [{"key": key, "value": value, "effect": effect}
            if value else {"key": key, "effect": effect}
            for key, value, effect in group.taints]


def _group(spec, group):
    values = {"name": group.name, "machineFlavor": group.flavor}
    if not group.autoscale:
        values["machineCount"] = group.node_count
    if group.image and group.image != spec.image:
        values.update(common.image(group.image))
    if group.kube_version and group.kube_version != spec.kube_version:
        values["kubernetesVersion"] = group.kube_version
    if group.availability_zone:
        values["failureDomain"] = group.availability_zone
    if group.node_labels:
        values["nodeLabels"] = group.node_labels_dict
    if group.taints:
        values["kubeadmConfigSpec"] = {"joinConfiguration": {
            "nodeRegistration": {"taints": _taints(group)}}}
    return values


def _control_plane(spec):
    cp = spec.control_plane
    values = {"machineFlavor": cp.flavor, "machineCount": cp.node_count}
    if cp.image and cp.image != spec.image:
        values.update(common.image(cp.image))
    if cp.availability_zone:
        values["failureDomains"] = [cp.availability_zone]
        values["omitFailureDomain"] = False
    if cp.node_labels:
        values["nodeLabels"] = cp.node_labels_dict
    return values


def contribute(spec):
    return {
        "controlPlane": _control_plane(spec),
        "nodeGroups": [_group(spec, g) for g in spec.node_groups],
    }
