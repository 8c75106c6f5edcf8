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
"""Cluster health from observed objects: a pure function.

Magnum's health monitor stores ``health_status`` (HEALTHY, UNHEALTHY or
UNKNOWN) and ``health_status_reason`` (a dict of strings). The reason here
has one key per component, each a short human string, so an operator sees
at a glance what is wrong; the RDMA self-test's entry (``rdma_selftest``)
is a JSON object in its string, for programs to read too.
"""

import dataclasses
from typing import Optional

from magnum_capi_rdma import capi
from magnum_capi_rdma import selftest as selftest_mod
from magnum_capi_rdma import status as st

HEALTHY = "HEALTHY"
UNHEALTHY = "UNHEALTHY"
UNKNOWN = "UNKNOWN"


@dataclasses.dataclass(frozen=True)
class RdmaObservation:
    """What the workload cluster says about RDMA (None fields: unknown)."""

    policy_state: Optional[str] = None      # NicClusterPolicy status.state
    resource_name: Optional[str] = None     # e.g. rdma/rdma_shared_device_a
    nodes_expected: int = 0                 # nodes of the RDMA node groups
    nodes_advertising: Optional[int] = None
    error: Optional[str] = None             # why it could not be read


def _component_text(component):
    if component.failure:
        return "failed: %s" % component.failure
    if component.ready:
        return "ok"
    return component.progress or "pending"


def evaluate(observed, release, node_groups, rdma=None, selftest=None):
    """Return ``(health_status, reason_dict)``.

    :param observed: :class:`magnum_capi_rdma.status.Observed`.
    :param release: the release name.
    :param node_groups: :class:`magnum_capi_rdma.status.NodeGroupView`
        of the cluster.
    :param rdma: optional :class:`RdmaObservation`; None when the cluster
        has no RDMA node group.
    :param selftest: optional ``(entry, ok)`` of the RDMA self-test
        (:mod:`magnum_capi_rdma.selftest`): the entry goes under
        ``rdma_selftest`` as JSON; ``ok`` False makes the cluster
        UNHEALTHY, None or True leave it as the rest says.
    """
    if observed.cluster is None:
        return UNKNOWN, {"cluster": "no Cluster object for %s" % release}

    reason = {}
    healthy = True

    api = capi.api_address(observed.cluster)
    cp_cond = capi.condition(observed.cluster, "ControlPlaneReady",
                             v1beta2="ControlPlaneAvailable")
    if api and cp_cond and cp_cond.get("status") == "True":
        reason["api"] = "ok (%s)" % api
    else:
        healthy = False
        reason["api"] = ("unreachable: %s" % (
            (cp_cond or {}).get("message") or "control plane not ready")
        ) if api else "no API endpoint yet"

    components = [st.infrastructure_component(observed),
                  st.control_plane_component(observed)]
    for ng in node_groups:
        if ng.role == "master":
            continue
        md = st.machine_deployment_for(observed, release, ng.name)
        components.append(st.node_group_component(
            ng.name, md, st.node_group_machines(observed, ng.name)))
    components.append(st.addons_component(observed.addons))
    for comp in components:
        reason[comp.name] = _component_text(comp)
        if not comp.ready:
            healthy = False

    unhealthy_nodes = _unhealthy_nodes(observed.machines)
    if unhealthy_nodes:
        healthy = False
        reason["nodes"] = "not healthy: %s" % ", ".join(unhealthy_nodes)

    status = HEALTHY if healthy else UNHEALTHY
    if rdma is not None:
        text, ok = _rdma_text(rdma)
        reason["rdma"] = text
        # Unknown RDMA state (None) leaves the health as the rest says.
        if ok is False:
            status = UNHEALTHY
    if selftest is not None and selftest[0] is not None:
        entry, ok = selftest
        reason["rdma_selftest"] = selftest_mod.entry_text(entry)
        if ok is False:
            status = UNHEALTHY
    return status, reason


def _unhealthy_nodes(machines):
    out = []
    for machine in machines:
        cond = capi.condition(machine, "NodeHealthy")
        if cond is not None and cond.get("status") == "False":
            out.append("%s (%s)" % (capi.name(machine),
                                    cond.get("reason") or "NodeHealthy "
                                    "False"))
    return sorted(out)


def _rdma_text(rdma):
    """A reason string and True/False/None for ok/bad/unknown."""
    if rdma.error:
        return "unknown: %s" % rdma.error, None
    parts = []
    ok = True
    if rdma.policy_state is None:
        parts.append("NicClusterPolicy not found")
        ok = False
    else:
        parts.append("NicClusterPolicy %s" % rdma.policy_state)
        if rdma.policy_state != "ready":
            ok = False
    if rdma.nodes_advertising is not None:
        parts.append("%d/%d nodes advertise %s" % (
            rdma.nodes_advertising, rdma.nodes_expected,
            rdma.resource_name or "the RDMA resource"))
        if rdma.nodes_advertising < rdma.nodes_expected:
            ok = False
    return ", ".join(parts), ok
