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
"""Magnum status from observed Cluster API objects: a pure function.

Nothing here performs I/O. The shell (the driver) fetches the objects of one
release, hands them over as plain dicts together with what Magnum currently
believes, and saves what comes back.
"""

import dataclasses
import datetime
from typing import Optional

# Magnum's status strings (magnum.objects.fields.ClusterStatus), repeated
# here so that the core does not import Magnum's objects.
CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
CREATE_COMPLETE = "CREATE_COMPLETE"
CREATE_FAILED = "CREATE_FAILED"
UPDATE_IN_PROGRESS = "UPDATE_IN_PROGRESS"
UPDATE_COMPLETE = "UPDATE_COMPLETE"
UPDATE_FAILED = "UPDATE_FAILED"
DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
DELETE_COMPLETE = "DELETE_COMPLETE"
DELETE_FAILED = "DELETE_FAILED"
ROLLBACK_IN_PROGRESS = "ROLLBACK_IN_PROGRESS"
ROLLBACK_COMPLETE = "ROLLBACK_COMPLETE"
ROLLBACK_FAILED = "ROLLBACK_FAILED"

IN_PROGRESS = (CREATE_IN_PROGRESS, UPDATE_IN_PROGRESS, DELETE_IN_PROGRESS,
               ROLLBACK_IN_PROGRESS)

_ADDON_FAILED_PHASES = ("Failed",)
_ADDON_DONE_PHASES = ("Deployed",)
_MACHINE_FAILED_PHASES = ("Failed",)


@dataclasses.dataclass(frozen=True)
class Observed:
    """The objects of one release, as read from the management cluster.

    Every field is a Kubernetes object as a plain dict (or a list of them);
    ``None`` or an empty list means "not there".
    """

    cluster: Optional[dict] = None
    openstack_cluster: Optional[dict] = None
    control_plane: Optional[dict] = None
    machine_deployments: tuple = ()
    machines: tuple = ()
    addons: tuple = ()


@dataclasses.dataclass(frozen=True)
class NodeGroupView:
    """What Magnum knows about one node group."""

    name: str
    role: str = "worker"  # "master" or "worker"
    node_count: int = 0
    status: str = CREATE_IN_PROGRESS
    is_default: bool = False


@dataclasses.dataclass(frozen=True)
class MagnumView:
    """What Magnum currently believes about the cluster."""

    release: str
    status: str
    node_groups: tuple = ()
    operation_started: Optional[datetime.datetime] = None
    timeout_minutes: Optional[int] = None


@dataclasses.dataclass(frozen=True)
class NodeGroupResult:
    status: str
    reason: str
    node_count: int
    addresses: tuple = ()
    delete_row: bool = False


@dataclasses.dataclass(frozen=True)
class StatusResult:
    status: str
    reason: str
    api_address: Optional[str] = None
    coe_version: Optional[str] = None
    master_addresses: tuple = ()
    node_addresses: tuple = ()
    node_groups: dict = dataclasses.field(default_factory=dict)

    @property
    def finished(self):
        return not self.status.endswith("_IN_PROGRESS")


# -- small readers --

def _status(obj):
    return (obj or {}).get("status") or {}


def _spec(obj):
    return (obj or {}).get("spec") or {}


def _name(obj):
    return ((obj or {}).get("metadata") or {}).get("name", "")


def _labels(obj):
    return ((obj or {}).get("metadata") or {}).get("labels") or {}


def _condition(obj, ctype):
    for cond in _status(obj).get("conditions") or ():
        if cond.get("type") == ctype:
            return cond
    return None


def _condition_true(obj, ctype):
    cond = _condition(obj, ctype)
    return bool(cond) and cond.get("status") == "True"


def _int(value, default=0):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _failure(obj):
    """The controller-reported failure of an object, or None."""
    st = _status(obj)
    message = st.get("failureMessage")
    reason = st.get("failureReason")
    if message or reason:
        if message and reason and reason not in message:
            return "%s: %s" % (reason, message)
        return message or reason
    return None


def _strip_v(version):
    if version and version.startswith("v"):
        return version[1:]
    return version


def machine_addresses(machine):
    """InternalIP addresses first, then the others, without duplicates."""
    addresses = _status(machine).get("addresses") or ()
    ordered = [a.get("address") for a in addresses
               if a.get("type") == "InternalIP"]
    ordered += [a.get("address") for a in addresses
                if a.get("type") in ("ExternalIP",)]
    seen = []
    for addr in ordered:
        if addr and addr not in seen:
            seen.append(addr)
    return seen


def _is_control_plane_machine(machine):
    labels = _labels(machine)
    return ("cluster.x-k8s.io/control-plane" in labels or
            labels.get("capi.stackhpc.com/component") == "control-plane")


def _node_group_of(machine):
    return _labels(machine).get("capi.stackhpc.com/node-group")


def api_address(cluster):
    endpoint = _spec(cluster).get("controlPlaneEndpoint") or {}
    host = endpoint.get("host")
    if not host:
        return None
    return "https://%s:%s" % (host, endpoint.get("port") or 6443)


# -- component summaries --

@dataclasses.dataclass(frozen=True)
class Component:
    """Readiness of one component: ready, failed (reason) or pending."""

    name: str
    ready: bool
    progress: str = ""
    failure: Optional[str] = None


def control_plane_component(observed):
    kcp = observed.control_plane
    if kcp is None:
        return Component("control plane", False, "not created yet")
    failure = _failure(kcp)
    if failure:
        return Component("control plane", False, failure=failure)
    want = _int(_spec(kcp).get("replicas"), 1)
    st = _status(kcp)
    ready = _int(st.get("readyReplicas"))
    updated = _int(st.get("updatedReplicas"), ready)
    total = _int(st.get("replicas"))
    version_ok = (not _spec(kcp).get("version") or
                  _strip_v(st.get("version")) ==
                  _strip_v(_spec(kcp).get("version")))
    ok = (ready == want and updated == want and total == want and
          version_ok and bool(st.get("initialized", True)) and
          _observed_latest(kcp))
    progress = "%d/%d ready" % (min(ready, want), want)
    if not version_ok and ready == want:
        progress += ", upgrading to %s" % _spec(kcp).get("version")
    return Component("control plane", ok, progress)


def node_group_component(name, machine_deployment, machines):
    label = "node group %s" % name
    if machine_deployment is None:
        return Component(label, False, "not created yet")
    failure = _failure(machine_deployment)
    if not failure and _status(machine_deployment).get("phase") == "Failed":
        failure = "MachineDeployment %s failed" % _name(machine_deployment)
    if failure:
        return Component(label, False, failure=failure)
    want = _int(_spec(machine_deployment).get("replicas"), 0)
    st = _status(machine_deployment)
    ready = _int(st.get("readyReplicas"))
    updated = _int(st.get("updatedReplicas"), ready)
    total = _int(st.get("replicas"))
    ok = (ready == want and updated == want and total == want and
          _observed_latest(machine_deployment))
    progress = "%d/%d ready" % (min(ready, want), want)
    return Component(label, ok, progress)


def _observed_latest(obj):
    """The controller has reconciled the latest spec (or says nothing)."""
    generation = ((obj or {}).get("metadata") or {}).get("generation")
    observed = _status(obj).get("observedGeneration")
    if generation is None or observed is None:
        return True
    return _int(observed) >= _int(generation)


def machine_failures(machines, deleting_groups=()):
    """Failures of machines that are meant to stay.

    A machine already being deleted (a resize victim, a remediated node, a
    machine of a node group being deleted) failing is expected.
    """
    failures = []
    for machine in machines:
        if ((machine.get("metadata") or {}).get("deletionTimestamp") or
                _node_group_of(machine) in deleting_groups):
            continue
        failure = _failure(machine)
        if failure is None and (
                _status(machine).get("phase") in _MACHINE_FAILED_PHASES):
            failure = "failed"
        if failure:
            failures.append("machine %s: %s" % (_name(machine), failure))
    return failures


def addons_component(addons):
    total = len(addons)
    deployed = [a for a in addons
                if _status(a).get("phase") in _ADDON_DONE_PHASES]
    failed = [a for a in addons
              if _status(a).get("phase") in _ADDON_FAILED_PHASES]
    if failed:
        parts = []
        for addon in sorted(failed, key=_name):
            parts.append("add-on %s failed: %s" % (
                _name(addon), _failure(addon) or "no message"))
        return Component("add-ons", False, failure="; ".join(parts))
    progress = "%d/%d deployed" % (len(deployed), total)
    return Component("add-ons", len(deployed) == total, progress)


def infrastructure_component(observed):
    osc = observed.openstack_cluster
    if osc is None:
        return Component("infrastructure", False, "not created yet")
    failure = _failure(osc)
    if failure:
        return Component("infrastructure", False, failure=failure)
    return Component("infrastructure", bool(_status(osc).get("ready")),
                     "ready" if _status(osc).get("ready") else "pending")


def cluster_component(observed):
    cluster = observed.cluster
    if cluster is None:
        return Component("cluster", False, "not created yet")
    failure = _failure(cluster)
    if not failure and _status(cluster).get("phase") == "Failed":
        failure = "Cluster %s failed" % _name(cluster)
    if failure:
        return Component("cluster", False, failure=failure)
    ok = all(_condition_true(cluster, c) for c in
             ("InfrastructureReady", "ControlPlaneReady", "Ready"))
    return Component("cluster", ok, _status(cluster).get("phase") or
                     "Pending")


def _machine_deployment_for(observed, release, node_group):
    wanted = "%s-%s" % (release, node_group)
    for md in observed.machine_deployments:
        if _name(md) == wanted:
            return md
    for md in observed.machine_deployments:
        if _labels(md).get("capi.stackhpc.com/node-group") == node_group:
            return md
    return None


def _machines_of_group(observed, node_group):
    return [m for m in observed.machines if _node_group_of(m) == node_group
            and not _is_control_plane_machine(m)]


def _control_plane_machines(observed):
    return [m for m in observed.machines if _is_control_plane_machine(m)]


# -- the reconciliation --

def _operation(status):
    return status.rsplit("_", 2)[0] if status.endswith("_IN_PROGRESS") \
        else None


def timed_out(view, now):
    """The in-progress operation has outlived its timeout."""
    if view.operation_started is None or not view.timeout_minutes:
        return False
    elapsed = now - view.operation_started
    return elapsed > datetime.timedelta(minutes=view.timeout_minutes)


def _addresses(machines):
    out = []
    for machine in sorted(machines, key=_name):
        for addr in machine_addresses(machine)[:1]:
            out.append(addr)
    return tuple(out)


def reconcile(observed, view, now):
    """Compute the Magnum status of one cluster from its observed objects.

    :param observed: :class:`Observed` objects of the release.
    :param view: :class:`MagnumView`, what Magnum currently believes.
    :param now: the current time (timezone-aware, same zone as
        ``view.operation_started``).
    :returns: :class:`StatusResult`.
    """
    operation = _operation(view.status)
    if operation is None:
        # Not in progress: only refresh derived fields, keep the status.
        return _steady(observed, view)
    if operation == "DELETE":
        return _deleting(observed, view, now)
    return _creating_or_updating(observed, view, now, operation)


def _derived(observed, view):
    cp_machines = _control_plane_machines(observed)
    ng_results = {}
    node_addresses = []
    for ng in view.node_groups:
        if ng.role == "master":
            ng_results[ng.name] = dict(
                node_count=ng.node_count,
                addresses=_addresses(cp_machines))
            continue
        md = _machine_deployment_for(observed, view.release, ng.name)
        count = ng.node_count
        if md is not None and _spec(md).get("replicas") is not None:
            count = _int(_spec(md).get("replicas"), ng.node_count)
        addresses = _addresses(_machines_of_group(observed, ng.name))
        node_addresses.extend(addresses)
        ng_results[ng.name] = dict(node_count=count, addresses=addresses)
    kcp_version = _strip_v(_status(observed.control_plane).get("version"))
    return dict(
        api_address=api_address(observed.cluster),
        coe_version=("v%s" % kcp_version) if kcp_version else None,
        master_addresses=_addresses(cp_machines),
        node_addresses=tuple(node_addresses),
        node_groups=ng_results,
    )


def _steady(observed, view):
    derived = _derived(observed, view)
    node_groups = {
        name: NodeGroupResult(
            status=_ng_status(view, name), reason="",
            node_count=d["node_count"], addresses=d["addresses"])
        for name, d in derived.pop("node_groups").items()}
    return StatusResult(status=view.status, reason="",
                        node_groups=node_groups, **derived)


def _ng_status(view, name):
    for ng in view.node_groups:
        if ng.name == name:
            return ng.status
    return view.status


def _creating_or_updating(observed, view, now, operation):
    derived = _derived(observed, view)
    ng_derived = derived.pop("node_groups")

    infra = infrastructure_component(observed)
    cluster = cluster_component(observed)
    control_plane = control_plane_component(observed)
    groups = {}
    for ng in view.node_groups:
        if ng.role == "master":
            continue
        if ng.status.startswith("DELETE"):
            continue
        md = _machine_deployment_for(observed, view.release, ng.name)
        groups[ng.name] = node_group_component(
            ng.name, md, _machines_of_group(observed, ng.name))
    addons = addons_component(observed.addons)

    failures = [c.failure for c in (infra, cluster, control_plane)
                if c.failure]
    failures += machine_failures(
        observed.machines,
        [ng.name for ng in view.node_groups if ng.status.startswith("DELETE")])
    failures += [c.failure for c in groups.values() if c.failure]
    if addons.failure:
        failures.append(addons.failure)

    components = [cluster, control_plane, *groups.values(), addons]
    for ng in view.node_groups:
        if ng.status.startswith("DELETE"):
            left = len(_machines_of_group(observed, ng.name))
            md = _machine_deployment_for(observed, view.release, ng.name)
            if left or md is not None:
                components.append(Component(
                    "node group %s" % ng.name, False,
                    "deleting, %d machine(s) left" % left))
    pending = [c for c in components if not c.ready]

    failed_status = "%s_FAILED" % operation
    done_status = "%s_COMPLETE" % operation

    ng_results = {}
    for ng in view.node_groups:
        d = ng_derived.get(ng.name, dict(node_count=ng.node_count,
                                         addresses=()))
        if ng.status.startswith("DELETE"):
            md = _machine_deployment_for(observed, view.release, ng.name)
            gone = md is None and not _machines_of_group(observed, ng.name)
            ng_results[ng.name] = NodeGroupResult(
                status="DELETE_COMPLETE" if gone else ng.status,
                reason="" if gone else "deleting",
                node_count=d["node_count"], addresses=d["addresses"],
                delete_row=gone)
            continue
        if ng.role == "master":
            comp = control_plane
        else:
            comp = groups[ng.name]
        ng_results[ng.name] = _node_group_result(ng, comp, d)

    if failures:
        reason = "; ".join(failures)
        return StatusResult(
            status=failed_status, reason=reason,
            node_groups=_fail_in_progress(ng_results),
            **derived)

    if not pending:
        return StatusResult(status=done_status, reason="",
                            node_groups=ng_results, **derived)

    progress = _progress(control_plane, groups, addons)
    deleting = [c for c in pending if c.progress.startswith("deleting")]
    if deleting:
        progress += "; " + ", ".join("%s %s" % (c.name, c.progress)
                                     for c in deleting)
    if timed_out(view, now):
        waiting = ", ".join(
            "%s (%s)" % (c.name, c.progress) for c in pending)
        reason = "Timed out after %d minutes waiting for %s" % (
            view.timeout_minutes, waiting)
        return StatusResult(status=failed_status, reason=reason,
                            node_groups=_fail_in_progress(ng_results),
                            **derived)
    if not infra.ready and observed.openstack_cluster is not None:
        progress = "infrastructure pending; " + progress
    return StatusResult(status=view.status, reason=progress,
                        node_groups=ng_results, **derived)


def _node_group_result(ng, component, derived):
    status = ng.status
    reason = ""
    op = _operation(ng.status)
    if op is not None and op != "DELETE":
        if component.failure:
            status, reason = "%s_FAILED" % op, component.failure
        elif component.ready:
            status = "%s_COMPLETE" % op
        else:
            reason = component.progress
    return NodeGroupResult(status=status, reason=reason,
                           node_count=derived["node_count"],
                           addresses=derived["addresses"])


def _fail_in_progress(ng_results):
    out = {}
    for name, res in ng_results.items():
        op = _operation(res.status)
        if op is not None and op != "DELETE":
            res = dataclasses.replace(res, status="%s_FAILED" % op,
                                      reason=res.reason or "cluster failed")
        out[name] = res
    return out


def _progress(control_plane, groups, addons):
    want = ready = 0
    for comp in groups.values():
        r, _, w = comp.progress.partition(" ")[0].partition("/")
        if r.isdigit() and w.isdigit():
            ready += int(r)
            want += int(w)
    parts = ["control plane %s" % control_plane.progress]
    if groups:
        parts.append("workers %d/%d ready" % (ready, want))
    parts.append("add-ons %s" % addons.progress)
    return ", ".join(parts)


def _deleting(observed, view, now):
    if observed.cluster is None:
        return StatusResult(status=DELETE_COMPLETE, reason="")
    if _status(observed.cluster).get("phase") == "Deleting":
        waiting = "%d machine(s) remaining" % len(observed.machines)
    else:
        waiting = "waiting for the cluster to start deleting"
    if timed_out(view, now):
        return StatusResult(
            status=DELETE_FAILED,
            reason="Timed out after %d minutes: %s" % (view.timeout_minutes,
                                                       waiting))
    return StatusResult(status=DELETE_IN_PROGRESS,
                        reason="Deleting: %s" % waiting)
