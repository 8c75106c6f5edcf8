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

from magnum_capi_rdma import capi

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


# -- small readers (the objects themselves: magnum_capi_rdma.capi) --

def _int(value, default=0):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _strip_v(version):
    if version and version.startswith("v"):
        return version[1:]
    return version


# -- component summaries --

@dataclasses.dataclass(frozen=True)
class Count:
    """``done`` of ``wanted`` things (e.g. 2/3 ready machines)."""

    done: int
    wanted: int
    word: str = "ready"

    def __str__(self):
        return "%d/%d %s" % (self.done, self.wanted, self.word)


@dataclasses.dataclass(frozen=True)
class Component:
    """Readiness of one component: ready, failed (reason) or pending.

    How far it has come is ``count`` (when counted) and ``note`` (a state
    such as "not created yet"); :attr:`progress` renders both.
    """

    name: str
    ready: bool
    note: str = ""
    failure: Optional[str] = None
    count: Optional[Count] = None

    @property
    def progress(self):
        return ", ".join(str(part) for part in (self.count, self.note)
                         if part)


def _counts(obj):
    """(ready, up to date, total) replicas of either contract.

    Up to date counts as ready when the object does not say.
    """
    found = capi.replicas(obj)
    ready = found.ready or 0
    updated = ready if found.up_to_date is None else found.up_to_date
    return ready, updated, found.total or 0


def control_plane_component(observed):
    kcp = observed.control_plane
    if kcp is None:
        return Component("control plane", False, "not created yet")
    failure = capi.failure(kcp)
    if failure:
        return Component("control plane", False, failure=failure)
    spec = capi.spec(kcp)
    want = _int(spec.get("replicas"), 1)
    st = capi.status(kcp)
    ready, updated, total = _counts(kcp)
    version_ok = (not spec.get("version") or
                  _strip_v(st.get("version")) == _strip_v(spec.get("version")))
    ok = (ready == want and updated == want and total == want and
          version_ok and capi.initialized(kcp) is not False and
          capi.observed_latest(kcp))
    note = ""
    if not version_ok and ready == want:
        note = "upgrading to %s" % spec.get("version")
    return Component("control plane", ok, note,
                     count=Count(min(ready, want), want))


def node_group_component(name, machine_deployment, machines):
    label = "node group %s" % name
    if machine_deployment is None:
        return Component(label, False, "not created yet")
    failure = capi.failure(machine_deployment)
    st = capi.status(machine_deployment)
    if not failure and st.get("phase") == "Failed":
        failure = "MachineDeployment %s failed" % capi.name(
            machine_deployment)
    if failure:
        return Component(label, False, failure=failure)
    want = _int(capi.spec(machine_deployment).get("replicas"), 0)
    ready, updated, total = _counts(machine_deployment)
    ok = (ready == want and updated == want and total == want and
          capi.observed_latest(machine_deployment))
    return Component(label, ok, count=Count(min(ready, want), want))


def machine_failures(machines, deleting_groups=()):
    """Failures of machines that are meant to stay.

    A machine already being deleted (a resize victim, a remediated node, a
    machine of a node group being deleted) failing is expected.
    """
    failures = []
    for machine in machines:
        if (capi.is_deleting(machine) or
                capi.node_group_of(machine) in deleting_groups):
            continue
        failure = capi.failure(machine)
        if failure is None and (
                capi.status(machine).get("phase") in _MACHINE_FAILED_PHASES):
            failure = "failed"
        if failure:
            failures.append("machine %s: %s" % (capi.name(machine), failure))
    return failures


def addons_component(addons):
    total = len(addons)
    deployed = [a for a in addons
                if capi.status(a).get("phase") in _ADDON_DONE_PHASES]
    failed = [a for a in addons
              if capi.status(a).get("phase") in _ADDON_FAILED_PHASES]
    if failed:
        parts = []
        for addon in sorted(failed, key=capi.name):
            parts.append("add-on %s failed: %s" % (
                capi.name(addon), capi.failure(addon) or "no message"))
        return Component("add-ons", False, failure="; ".join(parts))
    return Component("add-ons", len(deployed) == total,
                     count=Count(len(deployed), total, "deployed"))


def infrastructure_component(observed):
    osc = observed.openstack_cluster
    if osc is None:
        return Component("infrastructure", False, "not created yet")
    failure = capi.failure(osc)
    if failure:
        return Component("infrastructure", False, failure=failure)
    ready = capi.infrastructure_ready(osc)
    return Component("infrastructure", ready,
                     "ready" if ready else "pending")


def cluster_component(observed):
    cluster = observed.cluster
    if cluster is None:
        return Component("cluster", False, "not created yet")
    failure = capi.failure(cluster)
    phase = capi.status(cluster).get("phase")
    if not failure and phase == "Failed":
        failure = "Cluster %s failed" % capi.name(cluster)
    if failure:
        return Component("cluster", False, failure=failure)
    # v1beta1 conditions, or their v1beta2 counterparts.
    ok = all(capi.condition_true(cluster, c, v1beta2) for c, v1beta2 in (
        ("InfrastructureReady", "InfrastructureReady"),
        ("ControlPlaneReady", "ControlPlaneAvailable"),
        ("Ready", "Available")))
    return Component("cluster", ok, phase or "Pending")


def machine_deployment_for(observed, release, node_group):
    """The MachineDeployment of a node group.

    By the chart's name for it, else by its node group label.
    """
    wanted = "%s-%s" % (release, node_group)
    for md in observed.machine_deployments:
        if capi.name(md) == wanted:
            return md
    for md in observed.machine_deployments:
        if capi.node_group_of(md) == node_group:
            return md
    return None


def node_group_machines(observed, node_group):
    """The (worker) machines of a node group."""
    return [m for m in observed.machines
            if capi.node_group_of(m) == node_group and
            not capi.is_control_plane_machine(m)]


def control_plane_machines(observed):
    return [m for m in observed.machines
            if capi.is_control_plane_machine(m)]


@dataclasses.dataclass(frozen=True)
class Progress:
    """How far an operation in progress has come; text only at the end."""

    control_plane: Component
    addons: Component
    workers: Optional[Count] = None     # None: no worker node group
    deleting: tuple = ()                # node groups being deleted
    infrastructure_pending: bool = False

    @classmethod
    def of(cls, control_plane, groups, addons, deleting=(),
           infrastructure_pending=False):
        workers = None
        if groups:
            counts = [c.count for c in groups if c.count is not None]
            workers = Count(sum(c.done for c in counts),
                            sum(c.wanted for c in counts))
        return cls(control_plane, addons, workers, tuple(deleting),
                   infrastructure_pending)

    def __str__(self):
        parts = ["control plane %s" % self.control_plane.progress]
        if self.workers is not None:
            parts.append("workers %s" % self.workers)
        parts.append("add-ons %s" % self.addons.progress)
        text = ", ".join(parts)
        if self.deleting:
            text += "; " + ", ".join("%s %s" % (c.name, c.progress)
                                     for c in self.deleting)
        if self.infrastructure_pending:
            text = "infrastructure pending; " + text
        return text


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
    for machine in sorted(machines, key=capi.name):
        for addr in capi.machine_addresses(machine)[:1]:
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
    cp_machines = control_plane_machines(observed)
    ng_results = {}
    node_addresses = []
    for ng in view.node_groups:
        if ng.role == "master":
            ng_results[ng.name] = dict(
                node_count=ng.node_count,
                addresses=_addresses(cp_machines))
            continue
        md = machine_deployment_for(observed, view.release, ng.name)
        count = ng.node_count
        replicas = capi.spec(md).get("replicas")
        if md is not None and replicas is not None:
            count = _int(replicas, ng.node_count)
        addresses = _addresses(node_group_machines(observed, ng.name))
        node_addresses.extend(addresses)
        ng_results[ng.name] = dict(node_count=count, addresses=addresses)
    kcp_version = _strip_v(capi.status(observed.control_plane).get(
        "version"))
    return dict(
        api_address=capi.api_address(observed.cluster),
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
        md = machine_deployment_for(observed, view.release, ng.name)
        groups[ng.name] = node_group_component(
            ng.name, md, node_group_machines(observed, ng.name))
    addons = addons_component(observed.addons)

    failures = [c.failure for c in (infra, cluster, control_plane)
                if c.failure]
    failures += machine_failures(
        observed.machines,
        [ng.name for ng in view.node_groups if ng.status.startswith("DELETE")])
    failures += [c.failure for c in groups.values() if c.failure]
    if addons.failure:
        failures.append(addons.failure)

    deleting = []
    for ng in view.node_groups:
        if ng.status.startswith("DELETE"):
            left = len(node_group_machines(observed, ng.name))
            md = machine_deployment_for(observed, view.release, ng.name)
            if left or md is not None:
                deleting.append(Component(
                    "node group %s" % ng.name, False,
                    "deleting, %d machine(s) left" % left))
    components = [cluster, control_plane, *groups.values(), addons,
                  *deleting]
    pending = [c for c in components if not c.ready]

    failed_status = "%s_FAILED" % operation
    done_status = "%s_COMPLETE" % operation

    ng_results = {}
    for ng in view.node_groups:
        d = ng_derived.get(ng.name, dict(node_count=ng.node_count,
                                         addresses=()))
        if ng.status.startswith("DELETE"):
            md = machine_deployment_for(observed, view.release, ng.name)
            gone = md is None and not node_group_machines(observed,
                                                          ng.name)
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

    if timed_out(view, now):
        waiting = ", ".join(
            "%s (%s)" % (c.name, c.progress) for c in pending)
        reason = "Timed out after %d minutes waiting for %s" % (
            view.timeout_minutes, waiting)
        return StatusResult(status=failed_status, reason=reason,
                            node_groups=_fail_in_progress(ng_results),
                            **derived)
    progress = Progress.of(
        control_plane, list(groups.values()), addons, deleting,
        infrastructure_pending=(not infra.ready and
                                observed.openstack_cluster is not None))
    return StatusResult(status=view.status, reason=str(progress),
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


def held_back(result, view, reason, status=None):
    """``result`` kept from completing its operation, for ``reason``.

    What the objects say (addresses, versions, counts) stays; the cluster
    keeps ``status`` (by default its status in ``view``: still in
    progress). Node groups ``result`` completed go back to their status in
    the view, or, when ``status`` is a failure, fail with the cluster.
    """
    status = status or view.status
    groups = {}
    for name, res in result.node_groups.items():
        if res.status.endswith("_COMPLETE") and not res.delete_row:
            res = dataclasses.replace(res, status=_ng_status(view, name),
                                      reason=reason)
        groups[name] = res
    if status.endswith("_FAILED"):
        groups = _fail_in_progress(groups)
    return dataclasses.replace(result, status=status, reason=reason,
                               node_groups=groups)


def _deleting(observed, view, now):
    if observed.cluster is None:
        return StatusResult(status=DELETE_COMPLETE, reason="")
    if capi.status(observed.cluster).get("phase") == "Deleting":
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
