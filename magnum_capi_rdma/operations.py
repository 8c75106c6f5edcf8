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
"""A cluster's operation record and lock, as data (pure).

Each cluster has one ``coordination.k8s.io/v1`` Lease, ``<release>-operation``,
in its project namespace. It carries two things:

- the **operation record** (annotations): which operation Magnum last
  started (CREATE, UPDATE, DELETE), when, and its timeout in minutes. Status
  passes read it to apply the timeout of the operation in progress;
- whether **Helm's outcome** of the operation is known (annotation): an
  operation that installs writes ``started`` when it takes the lock and
  ``done`` once helm has returned the new revision. A conductor killed
  in between (with its helm, or leaving helm running) leaves
  ``started``: a status pass then asks Helm before it declares the
  operation complete, since Cluster API objects helm made before it died
  can all be ready while the release's revision is still pending;
- the **lock** (``spec``): while a conductor runs a driver call on the
  cluster it holds the Lease (``holderIdentity``) and renews it. A second
  call on the same cluster, from any conductor, finds it held and is
  refused (or, for a delete, waits), so two operations never interleave
  their Helm upgrades. A conductor that dies stops renewing; the lock
  expires ``leaseDurationSeconds`` after its last renewal.

This module decides; :mod:`magnum_capi_rdma.adapters.oplock` does the
I/O.
"""

import dataclasses
import datetime

OPERATION_KEY = "capi-rdma.magnum.openstack.org/operation"
STARTED_KEY = "capi-rdma.magnum.openstack.org/operation-started"
TIMEOUT_KEY = "capi-rdma.magnum.openstack.org/operation-timeout"
#: What the holder is doing (for the message a refused caller gets).
HOLDER_OPERATION_KEY = "capi-rdma.magnum.openstack.org/holder-operation"
#: Helm's outcome of the operation: HELM_STARTED or HELM_DONE.
HELM_KEY = "capi-rdma.magnum.openstack.org/helm"
HELM_STARTED = "started"
HELM_DONE = "done"


def lease_name(release):
    return "%s-operation" % release


@dataclasses.dataclass(frozen=True)
class Record(object):
    """What a Lease says, parsed. Every field may be None."""

    operation: str = None
    started: datetime.datetime = None
    timeout_minutes: int = None
    holder: str = None
    holder_operation: str = None
    renewed: datetime.datetime = None
    duration_seconds: int = None
    resource_version: str = None
    #: HELM_STARTED, HELM_DONE or None (no installing operation recorded).
    helm: str = None

    @property
    def helm_unconfirmed(self):
        """The operation ran helm and nobody saw helm return."""
        return self.helm == HELM_STARTED


def _time(text):
    if not text:
        return None
    if isinstance(text, datetime.datetime):
        value = text
    else:
        try:
            value = datetime.datetime.fromisoformat(str(text))
        except ValueError:
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def from_lease(lease):
    """The :class:`Record` of a Lease dict (None or {} gives an empty one)."""
    lease = lease or {}
    meta = lease.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    spec = lease.get("spec") or {}
    started = _time(annotations.get(STARTED_KEY))
    return Record(
        operation=annotations.get(OPERATION_KEY) or None,
        started=started,
        timeout_minutes=(_int(annotations.get(TIMEOUT_KEY))
                         if started else None),
        holder=spec.get("holderIdentity") or None,
        holder_operation=annotations.get(HOLDER_OPERATION_KEY) or None,
        renewed=_time(spec.get("renewTime") or spec.get("acquireTime")),
        duration_seconds=_int(spec.get("leaseDurationSeconds")),
        resource_version=meta.get("resourceVersion"),
        helm=annotations.get(HELM_KEY) or None,
    )


def held_by_other(record, me, now):
    """True if someone other than ``me`` holds an unexpired lock."""
    if not record.holder or record.holder == me:
        return False
    if record.renewed is None or record.duration_seconds is None:
        # A holder without a renewal time can never expire: treat the
        # lock as abandoned rather than blocking the cluster forever.
        return False
    expires = record.renewed + datetime.timedelta(
        seconds=record.duration_seconds)
    return now < expires


def busy_message(cluster_name, record, now):
    """One line for a caller refused because the lock is held."""
    doing = record.holder_operation or "another operation"
    since = ""
    if record.renewed is not None:
        since = " (still running, last seen %ds ago)" % max(
            0, int((now - record.renewed).total_seconds()))
    return ("Cluster %s is busy: %s is in progress on it%s. Try again "
            "when it has finished." % (cluster_name, doing, since))


def _micro(when):
    return when.astimezone(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


def lease_body(namespace, release, labels, record_annotations, holder,
               holder_operation, duration_seconds, now,
               resource_version=None, acquire=True):
    """The Lease to write: the lock taken by ``holder`` (or released).

    ``record_annotations`` is the operation record to keep (see
    :func:`record_annotations`). With ``holder`` None the lock is free.
    """
    annotations = dict(record_annotations or {})
    if holder:
        annotations[HOLDER_OPERATION_KEY] = holder_operation or ""
    # renewTime is written when the lock is freed too: it is the last
    # sign of life of the call that held it.
    spec = {"leaseDurationSeconds": int(duration_seconds),
            "renewTime": _micro(now)}
    if holder:
        spec["holderIdentity"] = holder
        if acquire:
            spec["acquireTime"] = _micro(now)
    body = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": lease_name(release), "namespace": namespace,
                     "labels": dict(labels or {}),
                     "annotations": annotations},
        "spec": spec,
    }
    if resource_version:
        body["metadata"]["resourceVersion"] = resource_version
    return body


def record_annotations(record):
    """The annotations that carry ``record``'s operation record."""
    if not record.operation or record.started is None:
        return {}
    out = {OPERATION_KEY: record.operation,
           STARTED_KEY: record.started.isoformat()}
    if record.timeout_minutes is not None:
        out[TIMEOUT_KEY] = str(record.timeout_minutes)
    if record.helm:
        out[HELM_KEY] = record.helm
    return out
