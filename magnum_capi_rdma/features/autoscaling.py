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
"""Autoscaling ranges and machine health checks."""

import dataclasses

from magnum_capi_rdma import labels

DOC_ORDER = 5
_SC = dict(category="autoscaling and healing")

LABELS = (
    labels.label(
        "auto_scaling_enabled", "boolean", False,
        "Let the cluster autoscaler size worker node groups between their "
        "minimum and maximum node counts.",
        **dict(_SC, scopes=labels.ALL_SCOPES)),
    labels.label(
        "auto_healing_enabled", "boolean", True,
        "Replace nodes that stay unhealthy (MachineHealthChecks).", **_SC),
    labels.label(
        "min_node_count", "integer", None,
        "Autoscaling minimum of a node group that has none. Unset: its node "
        "count.", minimum=0, maximum=1000, **_SC),
    labels.label(
        "max_node_count", "integer", None,
        "Autoscaling maximum of a node group that has none. Unset: its node "
        "count.", minimum=1, maximum=1000, **_SC),
)


@dataclasses.dataclass(frozen=True)
class Scaling:
    enabled: bool
    min_node_count: int
    max_node_count: int


@dataclasses.dataclass(frozen=True)
class Healing:
    enabled: bool


def group_part(ctx):
    group = ctx.group
    if group.role == "master":
        return None
    low, high = group.min_node_count, group.max_node_count
    if low is None:
        low = ctx.label("min_node_count")
    if high is None:
        high = ctx.label("max_node_count")
    count = group.node_count
    low = count if low is None else low
    high = count if high is None else high
    if not low <= count <= high:
        ctx.problem("node_count", count, "min_node_count (%s) <= node_count "
                    "<= max_node_count (%s)" % (low, high), "",
                    where=ctx.where)
    return Scaling(bool(ctx.label("auto_scaling_enabled")), low, high)


def cluster_part(ctx):
    return Healing(ctx.label("auto_healing_enabled"))


def contribute(spec):
    healing = {"healthCheck": {"enabled": spec.autoscaling.enabled}}
    values = {"controlPlane": dict(healing),
              "nodeGroupDefaults": dict(healing)}
    groups = [{
        "name": g.name,
        "autoscale": True,
        "machineCountMin": g.autoscaling.min_node_count,
        "machineCountMax": g.autoscaling.max_node_count,
    } for g in spec.node_groups if g.autoscale]
    if groups:
        values["nodeGroups"] = groups
    return values
