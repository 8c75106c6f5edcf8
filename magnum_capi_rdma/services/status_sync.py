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
"""Magnum's cluster and node group rows from the observed objects.

A status pass reads the cluster's objects from the shared snapshot,
computes the status with :func:`magnum_capi_rdma.status.reconcile`, plans
the row changes (:func:`plan_rows`, pure) and saves them unless another
operation changed the cluster meanwhile. Around that: a create whose
conductor died before Helm installed the release is resumed, what
outlives a deleted release is cleaned up, and an unreachable management
cluster still times operations out.

An operation is complete only when Helm says so, not only its objects:
a conductor killed together with its helm after helm made the Cluster
API objects leaves the release's only revision pending-install while the
objects become ready. When the operation record says nobody saw helm
return (:func:`helm_unconfirmed`), the pass that would complete the
operation asks Helm first (one ``helm get metadata``, only then): a
pending revision keeps the operation in progress, and once it is stale
(the helm writing it is dead) a create is resumed (revision marked
failed, the release installed again) and an update fails, its revision
marked failed, so the next update does not hit Helm's lock.
"""

import dataclasses

from magnum.common import exception as magnum_exception
from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import timeutils

from magnum_capi_rdma import contract
from magnum_capi_rdma import errors
from magnum_capi_rdma import magnum_objects as mo
from magnum_capi_rdma import operations
from magnum_capi_rdma.services import converge as converge_mod
from magnum_capi_rdma import status as st

CONF = cfg.CONF
LOG = logging.getLogger(__name__)


# -- the row changes (pure) --

@dataclasses.dataclass(frozen=True)
class RowPlan:
    """Changes to one cluster's rows.

    ``cluster``: field -> new value. ``groups``: ``(row, changes)``
    pairs, ``changes`` a field -> value dict, or None to delete the row.
    """

    cluster: dict
    groups: tuple

    @property
    def empty(self):
        return not self.cluster and not self.groups


def plan_rows(cluster, result):
    """What :class:`~magnum_capi_rdma.status.StatusResult` changes.

    Only what differs is planned. Magnum derives the cluster's master and
    node addresses from its node groups, so addresses go to the node
    groups only; an unknown API address or version is left alone.
    """
    changes = {}
    for attr, value in (("status", result.status),
                        ("status_reason", result.reason),
                        ("api_address", result.api_address),
                        ("coe_version", result.coe_version)):
        if attr in ("api_address", "coe_version") and value is None:
            continue
        if getattr(cluster, attr) != value:
            changes[attr] = value
    groups = []
    for ng in cluster.nodegroups:
        res = result.node_groups.get(mo.group_name(ng))
        if res is None:
            continue
        if res.delete_row:
            groups.append((ng, None))
            continue
        ng_changes = {attr: value for attr, value in (
            ("status", res.status), ("status_reason", res.reason),
            ("node_count", res.node_count),
            ("node_addresses", list(res.addresses)))
            if getattr(ng, attr) != value}
        if ng_changes:
            groups.append((ng, ng_changes))
    return RowPlan(cluster=changes, groups=tuple(groups))


def apply_rows(cluster, plan):
    """Write a :class:`RowPlan` to Magnum's database."""
    for ng, changes in plan.groups:
        if changes is None:
            ng.destroy()
            continue
        for attr, value in changes.items():
            setattr(ng, attr, value)
        ng.save()
    if plan.cluster:
        for attr, value in plan.cluster.items():
            setattr(cluster, attr, value)
        cluster.save()


def create_interrupted(cluster, observed, record, now, lock_seconds):
    """A create whose conductor died before Helm made the cluster.

    The create took the lock (so it got as far as the project namespace)
    and nobody has held the lock for a whole lock period, yet objects of
    the release are missing: the conductor call that should have
    installed it is gone, and Magnum never calls create again.
    """
    if cluster.status != st.CREATE_IN_PROGRESS:
        return False
    # One Helm install makes all of these (the chart always renders the
    # default worker group); any missing means it never finished.
    if all((observed.cluster, observed.openstack_cluster,
            observed.control_plane, observed.machine_deployments)):
        return False
    if record.operation != "CREATE" or record.started is None:
        return False
    if operations.held_by_other(record, None, now):
        return False
    last = record.renewed or record.started
    return (now - last).total_seconds() > lock_seconds


def helm_unconfirmed(cluster_status, result, record):
    """Whether this pass must ask Helm before saving ``result`` (pure).

    Only when it would complete a create or an update whose operation
    ran helm and nobody saw helm return (the operation record's
    ``helm`` is ``started``: the conductor call died or is still in it).
    """
    if cluster_status not in (st.CREATE_IN_PROGRESS, st.UPDATE_IN_PROGRESS):
        return False
    return (result.status == cluster_status.replace("_IN_PROGRESS",
                                                    "_COMPLETE") and
            record.helm_unconfirmed)


# -- the pass --

class StatusSync(object):
    """One status pass of one cluster.

    :param runtime: the process's :class:`.runtime.Runtime`.
    :param converge: a :class:`.converge.Converge` (resumed creates,
        credentials of deleted clusters).
    """

    def __init__(self, runtime, converge):
        self._runtime = runtime
        self._converge = converge

    def sync(self, context, cluster):
        """Sync Magnum with the management cluster; never raises."""
        try:
            self._update(context, cluster)
        except Exception as exc:  # the periodic task must go on
            LOG.warning("Status of cluster %s not updated: %s",
                        cluster.uuid, exc)
            self._unreachable(context, cluster, exc)

    def _update(self, context, cluster):
        release = mo.release_for(cluster)
        namespace = mo.namespace_for(cluster.project_id)
        snapshot = self._runtime.observer.snapshot()
        observed = snapshot.observed(namespace, release)
        view = self._view(cluster, release, namespace, snapshot)

        def moved_on():
            return self._moved_on(context, cluster, view.status)

        now = timeutils.utcnow(True)
        if not st.timed_out(view, now) and create_interrupted(
                cluster, observed, snapshot.operation(namespace, release),
                now, CONF.capi_rdma.operation_lock_seconds):
            self._save(cluster, self._resume_create(context, cluster),
                       moved_on)
            return
        result = st.reconcile(observed, view, timeutils.utcnow(True))
        record = snapshot.operation(namespace, release)
        if helm_unconfirmed(cluster.status, result, record):
            result = self._confirm_helm(context, cluster, release, namespace,
                                        view, result, record)
        if result.status == st.DELETE_COMPLETE:
            pending = self._cleanup_after_delete(cluster, release, namespace)
            if pending and st.timed_out(view, timeutils.utcnow(True)):
                result = st.StatusResult(
                    status=st.DELETE_FAILED,
                    reason="Timed out after %d minutes. %s" % (
                        view.timeout_minutes, pending))
            elif pending:
                result = st.StatusResult(status=st.DELETE_IN_PROGRESS,
                                         reason=pending)
        self._save(cluster, result, moved_on)

    def _unreachable(self, context, cluster, exc):
        """The pass failed: say so, and time the operation out."""
        reason = "Waiting for the management cluster: %s" % (
            errors.short(exc))
        view = self._last_view(cluster)
        status = cluster.status
        if st.timed_out(view, timeutils.utcnow(True)):
            # An unreachable management cluster must not keep the
            # cluster in progress for ever.
            status = (cluster.status or "").replace(
                "_IN_PROGRESS", "_FAILED")
            reason = "Timed out after %d minutes. %s" % (
                view.timeout_minutes, reason)
        if cluster.status_reason == reason and cluster.status == status:
            return
        if self._moved_on(context, cluster, cluster.status):
            return
        cluster.status_reason = reason
        cluster.status = status
        cluster.save()

    # -- what Magnum believes --

    def _view(self, cluster, release, namespace, snapshot):
        op_started = None
        timeout = None
        if (cluster.status or "").endswith("_IN_PROGRESS"):
            # The operation record, from the snapshot's one LIST of the
            # driver's Leases (not a GET per cluster).
            record = snapshot.operation(namespace, release)
            if record.started is not None:
                op_started = record.started
                timeout = record.timeout_minutes or 0
        if op_started is None and cluster.status == st.CREATE_IN_PROGRESS:
            op_started = cluster.created_at
            timeout = (cluster.create_timeout or
                       CONF.capi_rdma.default_create_timeout)
        records = self._runtime.operation_records
        if op_started is not None:
            records[cluster.uuid] = (op_started, timeout)
        else:
            records.pop(cluster.uuid, None)
        ngs = tuple(
            st.NodeGroupView(name=mo.group_name(ng), role=ng.role,
                             node_count=ng.node_count,
                             status=ng.status or cluster.status,
                             is_default=ng.is_default)
            for ng in cluster.nodegroups)
        return st.MagnumView(release=release, status=cluster.status,
                             node_groups=ngs, operation_started=op_started,
                             timeout_minutes=timeout)

    def _last_view(self, cluster):
        """What is known of the operation without the management cluster.

        A create is timed from the row's creation; other operations from
        the record the last successful status pass read, or else from the
        row's last change.
        """
        started, timeout = self._runtime.operation_records.get(
            cluster.uuid, (None, None))
        if cluster.status == st.CREATE_IN_PROGRESS and started is None:
            started = cluster.created_at
            timeout = (cluster.create_timeout or
                       CONF.capi_rdma.default_create_timeout)
        elif started is None:
            # No record read in this process (it restarted during the
            # outage): time the operation from the row's last change.
            started = cluster.updated_at
            timeout = (CONF.capi_rdma.delete_timeout
                       if cluster.status == st.DELETE_IN_PROGRESS
                       else CONF.capi_rdma.update_timeout)
        if not (cluster.status or "").endswith("_IN_PROGRESS"):
            started = None
        return st.MagnumView(release=cluster.stack_id, status=cluster.status,
                             node_groups=(), operation_started=started,
                             timeout_minutes=timeout)

    def _moved_on(self, context, cluster, status):
        """The row's status changed since this pass loaded the cluster.

        Magnum's periodic task works on a copy loaded before the pass; if a
        conductor operation meanwhile failed the cluster (e.g. its labels
        were refused) or started another operation, saving this pass's
        result would overwrite what that operation wrote.
        """
        try:
            fresh = type(cluster).get_by_uuid(context, cluster.uuid)
        except magnum_exception.ClusterNotFound:
            return True
        if fresh.status != status:
            LOG.debug("Cluster %s moved from %s to %s during the status "
                      "pass; not saving it", cluster.uuid, status,
                      fresh.status)
            return True
        return False

    def _save(self, cluster, result, moved_on):
        """Write the result unless nothing changed or the row moved on."""
        plan = plan_rows(cluster, result)
        if plan.empty or moved_on():
            return
        apply_rows(cluster, plan)

    # -- around the reconciliation --

    def _confirm_helm(self, context, cluster, release, namespace, view,
                      result, record):
        """``result`` (a completion) unless Helm's revision is pending."""
        helm = self._runtime.helm
        pending = helm.pending(release, namespace)
        if pending is None:
            return result
        now = timeutils.utcnow(True)
        waiting = ("Waiting for Helm: the release's %s (taken as abandoned "
                   "after %ds)" % (pending, helm.stale_after))
        if st.timed_out(view, now):
            return st.held_back(
                result, view, "Timed out after %d minutes. %s" % (
                    view.timeout_minutes, waiting),
                status=cluster.status.replace("_IN_PROGRESS", "_FAILED"))
        if not pending.stale or operations.held_by_other(record, None, now):
            return st.held_back(result, view, waiting)
        if cluster.status == st.CREATE_IN_PROGRESS:
            # Its helm died after making the objects: install again.
            return self._resume_create(
                context, cluster, "while Helm installed the release (%s)"
                % pending)
        LOG.warning("Cluster %s: its update was interrupted while Helm "
                    "applied it (%s); marking the revision failed",
                    cluster.uuid, pending)
        helm.free_abandoned(release, namespace)
        return st.held_back(
            result, view, "The update was interrupted (the conductor "
            "stopped while Helm applied it: the release's %s); that "
            "revision is now marked failed. Run the update again."
            % pending, status=st.UPDATE_FAILED)

    def _resume_create(self, context, cluster,
                       when="before Helm installed the release"):
        """Finish an interrupted create; the status to save."""
        release = mo.release_for(cluster)
        namespace = mo.namespace_for(cluster.project_id)
        if not self._runtime.kube.get_secret_metadata(
                namespace, mo.credentials_secret_name(release)):
            # Its application credential can only be made with the
            # owner's token, which a status pass does not have.
            return st.StatusResult(
                status=st.CREATE_FAILED,
                reason="The create was interrupted (the conductor stopped) "
                "before the cluster's credentials were made; delete the "
                "cluster and create it again.")
        LOG.warning("Cluster %s: its create was interrupted %s; resuming "
                    "it", cluster.uuid, when)
        in_progress = st.CREATE_IN_PROGRESS
        try:
            self._converge.resume_create(context, cluster,
                                         mo.build_spec(cluster))
        except errors.InvalidClusterLabels as exc:
            return st.StatusResult(status=st.CREATE_FAILED, reason=str(exc))
        except errors.ClusterBusy:
            return st.StatusResult(status=in_progress,
                                   reason=cluster.status_reason or "")
        except errors.ClusterOperationFailed as exc:
            return st.StatusResult(
                status=in_progress,
                reason="Resuming the create interrupted by a conductor "
                "restart: %s" % errors.short(exc))
        return st.StatusResult(
            status=in_progress,
            reason="Resumed the create interrupted by a conductor restart: "
            "the Helm release is installed")

    def _cleanup_after_delete(self, cluster, release, namespace):
        """Remove what outlives the release; return what is still pending."""
        kube = self._runtime.kube
        present = converge_mod.prepare_namespace(kube, namespace,
                                                 create=False)
        try:
            self._converge.credentials.revoke(cluster, release, namespace,
                                              present)
        except Exception as exc:
            return ("Cluster deleted; waiting for Keystone to remove the "
                    "application credential: %s" % errors.short(exc))
        if not present:
            return None
        selector = "%s=%s" % (contract.CLUSTER_UUID_LABEL, cluster.uuid)
        kube.delete_secrets(namespace, selector)
        kube.delete_leases(namespace, selector)
        kube.delete_namespace_if_empty(namespace)
        return None
