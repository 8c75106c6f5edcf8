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
"""The control plane and the worker node groups: sizes, images, versions,
zones, node labels and taints."""

import dataclasses

from magnum_capi_rdma import labels
from magnum_capi_rdma.values import common

DOC_ORDER = 4
_NG = dict(category="node groups", scopes=labels.ALL_SCOPES)

LABELS = (
    labels.label(
        "availability_zone", "string", None,
        "Nova availability zone of the nodes (of the control plane when "
        "set on the template or cluster, of a node group when set on it).",
        pattern=labels.NEUTRON_NAME, pattern_help="a zone name", **_NG),
    labels.label(
        "node_labels", "key_value", (),
        "Extra Kubernetes labels on the nodes, key=value pairs.", **_NG),
    labels.label(
        "node_taints", "taints", (),
        "Taints of the nodes, e.g. nvidia.com/gpu=true:NoSchedule.", **_NG),
    labels.label(
        "server_group_id", "string", None,
        "UUID of an existing Nova server group the nodes are created in "
        "(of the control plane when set on the template or cluster, of a "
        "node group when set on it), e.g. one made with openstack server "
        "group create --policy soft-anti-affinity.",
        pattern=r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
        r"[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$",
        pattern_help="a server group UUID", **_NG),
    labels.label(
        "control_plane_availability_zones", "string_list", (),
        "Comma-separated Nova availability zones the control plane nodes "
        "are spread over. Unset: the availability_zone label, else Nova's "
        "choice.", pattern=labels.NEUTRON_NAME,
        pattern_help="comma-separated availability zone names",
        category="node groups"),
)

#: Peers' labels for what chart 0.27.0 cannot do.
REFUSED = {
    "server_group_policies": (
        "openstack-cluster chart 0.27.0 does not create server groups; it "
        "places machines in an existing one: create it (openstack server "
        "group create --policy soft-anti-affinity NAME) and set "
        "server_group_id"),
    "different_failure_domain": (
        "openstack-cluster chart 0.27.0 has no scheduler hints for "
        "vexxhost's failure domain filter; spread nodes with "
        "control_plane_availability_zones, availability_zone per node "
        "group, or server_group_id (an anti-affinity server group)"),
}


@dataclasses.dataclass(frozen=True)
class Placement:
    availability_zone: str = None
    node_labels: tuple = ()
    taints: tuple = ()
    server_group: str = None
    #: The control plane's zones (control_plane_availability_zones).
    zones: tuple = ()


def group_part(ctx):
    master = ctx.group.role == "master"
    return Placement(
        availability_zone=ctx.label("availability_zone"),
        node_labels=ctx.label("node_labels"),
        taints=() if master else ctx.label("node_taints"),
        server_group=ctx.label("server_group_id"),
        zones=ctx.label("control_plane_availability_zones") if master
        else ())


def _taints(group):
    return [{"key": key, "value": value, "effect": effect}
            if value else {"key": key, "effect": effect}
            for key, value, effect in group.placement.taints]


def _group(spec, group):
    placement = group.placement
    values = {"name": group.name, "machineFlavor": group.flavor}
    if not group.autoscale:
        values["machineCount"] = group.node_count
    if group.image and group.image != spec.image:
        values.update(common.image(group.image))
    if group.kube_version and group.kube_version != spec.kube_version:
        values["kubernetesVersion"] = group.kube_version
    if placement.availability_zone:
        values["failureDomain"] = placement.availability_zone
    if placement.server_group:
        values["serverGroupId"] = placement.server_group
    if placement.node_labels:
        values["nodeLabels"] = dict(placement.node_labels)
    if placement.taints:
        values["kubeadmConfigSpec"] = {"joinConfiguration": {
            "nodeRegistration": {"taints": _taints(group)}}}
    return values


def _control_plane(spec):
    cp = spec.control_plane
    values = {"machineFlavor": cp.flavor, "machineCount": cp.node_count}
    if cp.image and cp.image != spec.image:
        values.update(common.image(cp.image))
    zones = cp.placement.zones or (
        (cp.placement.availability_zone,) if
        cp.placement.availability_zone else ())
    if zones:
        values["failureDomains"] = list(zones)
        values["omitFailureDomain"] = False
    if cp.placement.server_group:
        values["serverGroupId"] = cp.placement.server_group
    if cp.placement.node_labels:
        values["nodeLabels"] = dict(cp.placement.node_labels)
    return values


def contribute(spec):
    return {
        "controlPlane": _control_plane(spec),
        "nodeGroups": [_group(spec, g) for g in spec.node_groups],
    }
