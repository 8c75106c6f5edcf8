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
"""What a resize needs besides new counts: the machines to remove.

Magnum names the nodes to remove by server UUID or node name; the
machines found are annotated so Cluster API deletes them first when the
chart's new, lower count reaches their MachineSet.
"""

from magnum.common import exception as magnum_exception

from magnum_capi_rdma import capi
from magnum_capi_rdma import contract
from magnum_capi_rdma import errors
from magnum_capi_rdma import magnum_objects as mo
from magnum_capi_rdma import versions


def refuse_autoscaled(spec, nodegroup):
    """A node group the cluster autoscaler sizes is not resized by hand."""
    if nodegroup is None or nodegroup.role == "master":
        return
    group = spec.node_group(mo.group_name(nodegroup))
    if group.autoscale:
        raise errors.InvalidClusterLabels(
            err="Node group %s is sized by the cluster autoscaler "
            "(between %s and %s nodes); change its "
            "min_node_count/max_node_count instead of resizing it"
            % (nodegroup.name, group.min_node_count, group.max_node_count))


def refuse_join_skew(cluster, nodegroup):
    """New machines of ``nodegroup`` must be able to join (kubeadm).

    :raises magnum.common.exception.NotSupported: its version's minor is
        not the control plane's (:func:`versions.join_problem`).
    """
    if nodegroup.role == "master" or not nodegroup.node_count:
        return
    version = mo.field(nodegroup, "version") or cluster.coe_version
    problem = versions.join_problem(cluster.coe_version, version,
                                    nodegroup.name)
    if problem:
        raise magnum_exception.NotSupported(operation=problem)


def select_machines(machines, nodes_to_remove):
    """Machines matching server UUIDs or node/machine names; and misses."""
    chosen = []
    missing = []
    for wanted in nodes_to_remove:
        match = None
        for machine in machines:
            if wanted in (capi.server_id(machine), capi.node_name(machine),
                          capi.name(machine)):
                match = machine
                break
        if match is None:
            missing.append(wanted)
        elif match not in chosen:
            chosen.append(match)
    return chosen, missing


def mark_for_removal(kube, cluster, nodegroup, nodes_to_remove):
    """Annotate the machines of ``nodes_to_remove`` for deletion."""
    if not nodes_to_remove:
        return
    namespace = mo.namespace_for(cluster.project_id)
    machines = kube.list(
        "machine", namespace,
        "%s=%s" % (contract.CHART_CLUSTER_LABEL, mo.release_for(cluster)))
    if nodegroup is not None and nodegroup.role == "master":
        pool = [m for m in machines if capi.is_control_plane_machine(m)]
    else:
        group = nodegroup.name if nodegroup is not None else None
        pool = [m for m in machines
                if not capi.is_control_plane_machine(m) and
                (group is None or capi.node_group_of(m) == group)]
    chosen, missing = select_machines(pool, nodes_to_remove)
    if missing:
        raise errors.InvalidClusterLabels(
            err="nodes_to_remove: %s not found in node group %s "
            "(give server UUIDs or node names)" % (
                ", ".join(sorted(missing)),
                nodegroup.name if nodegroup is not None else "?"))
    for machine in chosen:
        kube.annotate("machine", namespace, capi.name(machine),
                      {contract.CAPI_DELETE_MACHINE_ANNOTATION: "yes"})
