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
"""What every simulated controller shares: the snapshot and the writes.

SIMULATION for development and tests only: never shipped, never run
against a real management cluster.

:class:`Snapshot` is everything one reconcile pass read. :class:`Reconciler`
is the base of the controller classes (one module per controller the
simulator plays) that :class:`~magnum_capi_rdma_dev.simulator.core.Simulator`
composes: timing, JSON merge patches of status and metadata, finalizers,
creates and deletes, references and owned objects. A write that loses a
race raises :class:`Skip` or a tolerated API error; the object is
reconciled again on the next pass.
"""

import copy
import logging
import time

# The patch that suits every supported kubernetes client (the driver's).
from magnum_capi_rdma.adapters import kube as kube_rest
from magnum_capi_rdma_dev.simulator.objects import deleting
from magnum_capi_rdma_dev.simulator.objects import KINDS
from magnum_capi_rdma_dev.simulator.objects import labels_of
from magnum_capi_rdma_dev.simulator.objects import MERGE_PATCH
from magnum_capi_rdma_dev.simulator.objects import merge_patch_of
from magnum_capi_rdma_dev.simulator.objects import meta
from magnum_capi_rdma_dev.simulator.objects import name_of
from magnum_capi_rdma_dev.simulator.objects import now_iso
from magnum_capi_rdma_dev.simulator.objects import ns_of
from magnum_capi_rdma_dev.simulator.objects import owned_by
from magnum_capi_rdma_dev.simulator.objects import owner_ref
from magnum_capi_rdma_dev.simulator.objects import spec_of
from magnum_capi_rdma_dev.simulator.objects import status_of

LOG = logging.getLogger(__name__)

#: Every write: a field the object's schema does not have is refused (400
#: or 422), not dropped, so imitating Cluster API wrongly fails the tests.
STRICT = "Strict"


class Snapshot(object):
    """Everything one step read, indexed by kind and namespace/name."""

    def __init__(self, objects, secrets):
        self.objects = objects
        self.secrets = secrets
        self.by_name = {
            kind: {(ns_of(o), name_of(o)): o for o in items}
            for kind, items in objects.items()}

    def get(self, kind, namespace, name):
        return self.by_name[kind].get((namespace, name))

    def items(self, kind):
        return self.objects[kind]

    def of_cluster(self, kind, namespace, cluster):
        return [o for o in self.objects[kind] if ns_of(o) == namespace
                and spec_of(o).get("clusterName") == cluster]


class Reconciler(object):
    """Shared state and writes of the simulated controllers.

    The composing class (``core.Simulator``) sets ``custom`` and ``core``
    (the Kubernetes APIs), ``api_versions``, ``delays``, ``workload_*``,
    ``_clock``, ``_rng`` and ``_ips``, and provides ``faults()``.
    """

    #: Every kind this reconciler reads: {key: (option, plural, Kind)};
    #: an option of None is Cluster API's in-memory provider (capo.py).
    kinds = KINDS

    def _gvp(self, kind):
        option, plural, _kind = self.kinds[kind]
        if option is None:
            return "infrastructure.cluster.x-k8s.io", "v1beta2", plural
        group, _, version = self.api_versions[option].partition("/")
        return group, version, plural

    # -- timing -------------------------------------------------------------

    def _waited(self, obj, stage, seconds):
        """True once ``seconds`` passed since this was first asked."""
        key = (meta(obj).get("uid"), stage)
        started = self._clock.setdefault(key, time.monotonic())
        return time.monotonic() - started >= seconds

    # -- writes -------------------------------------------------------------

    def _write_status(self, kind, obj, status):
        old = status_of(obj)
        patch = merge_patch_of(old, status)
        if not patch:
            return False
        group, version, plural = self._gvp(kind)
        kube_rest.patch_path(
            self.api_client, kube_rest.custom_path(
                group, version, ns_of(obj), plural, name_of(obj), "status"),
            {"status": patch}, MERGE_PATCH, fieldValidation=STRICT)
        phase = status.get("phase")
        if phase and phase != old.get("phase"):
            LOG.info("%s %s/%s: phase %s -> %s", self.kinds[kind][2],
                     ns_of(obj),
                     name_of(obj), old.get("phase") or "-", phase)
        obj["status"] = status
        return True

    def _patch(self, kind, obj, body, guarded=True):
        group, version, plural = self._gvp(kind)
        body = copy.deepcopy(body)
        if guarded:
            body.setdefault("metadata", {})["resourceVersion"] = meta(
                obj).get("resourceVersion")
        return kube_rest.patch_path(
            self.api_client, kube_rest.custom_path(
                group, version, ns_of(obj), plural, name_of(obj)),
            body, MERGE_PATCH, fieldValidation=STRICT)

    def _ensure_meta(self, kind, obj, finalizer=None, labels=None,
                     owner=None):
        """Add a finalizer, labels and an owner reference if missing."""
        body = {}
        finalizers = list(meta(obj).get("finalizers") or ())
        if finalizer and finalizer not in finalizers:
            body["finalizers"] = finalizers + [finalizer]
        missing = {k: v for k, v in (labels or {}).items()
                   if labels_of(obj).get(k) != v}
        if missing:
            body["labels"] = missing
        if owner is not None and meta(owner).get("uid") and not owned_by(
                obj, owner):
            refs = list(meta(obj).get("ownerReferences") or ())
            controller = not any(r.get("controller") for r in refs)
            body["ownerReferences"] = refs + [owner_ref(owner, controller)]
        if not body:
            return
        self._patch(kind, obj, {"metadata": body})
        raise Skip()  # re-read before acting on the new resourceVersion

    def _remove_finalizer(self, kind, obj, finalizer, cluster_name):
        finalizers = list(meta(obj).get("finalizers") or ())
        if finalizer not in finalizers:
            return
        if self.faults(ns_of(obj), cluster_name or name_of(obj)).get(
                "stuck_deletion"):
            return
        finalizers.remove(finalizer)
        self._patch(kind, obj, {"metadata": {"finalizers": finalizers}})
        LOG.info("%s %s/%s: finalizer removed, gone", self.kinds[kind][2],
                 ns_of(obj), name_of(obj))

    def _create(self, kind, namespace, body):
        group, version, plural = self._gvp(kind)
        body = dict(body, apiVersion="%s/%s" % (group, version),
                    kind=self.kinds[kind][2])
        self.custom.create_namespaced_custom_object(
            group, version, namespace, plural, body,
            field_validation=STRICT)
        LOG.info("%s %s/%s: created", self.kinds[kind][2], namespace,
                 name_of(body))

    def _delete(self, kind, obj):
        from kubernetes.client import exceptions

        if deleting(obj):
            return
        group, version, plural = self._gvp(kind)
        try:
            self.custom.delete_namespaced_custom_object(
                group, version, ns_of(obj), plural, name_of(obj))
        except exceptions.ApiException as exc:
            if exc.status != 404:
                raise
        LOG.info("%s %s/%s: deleting", self.kinds[kind][2], ns_of(obj),
                 name_of(obj))
        obj.setdefault("metadata", {})["deletionTimestamp"] = now_iso()

    # -- references and owned objects ---------------------------------------

    def _ref(self, snap, kind, cluster, field):
        ref = spec_of(cluster).get(field) or {}
        if not ref.get("name"):
            return None
        return snap.get(kind, ref.get("namespace") or ns_of(cluster),
                        ref["name"])

    def _adopt_templates(self, snap, cluster, refs, namespace):
        """Give referenced machine templates an owner ref to the Cluster."""
        for ref in refs:
            ref = ref or {}
            for kind in ("osmt", "kct"):
                if ref.get("kind") != self.kinds[kind][2]:
                    continue
                template = snap.get(kind, ref.get("namespace") or namespace,
                                    ref.get("name"))
                if template is None or owned_by(template, cluster):
                    continue
                refs_ = list(meta(template).get("ownerReferences") or ())
                refs_.append(owner_ref(cluster, controller=False))
                self._patch(kind, template, {"metadata": {
                    "ownerReferences": refs_}})
                template.setdefault("metadata", {})[
                    "ownerReferences"] = refs_

    def _collect_secrets(self, namespace, owners):
        """Delete Secrets owned by ``owners`` (what the GC would do)."""
        from kubernetes.client import exceptions

        uids = {meta(o).get("uid") for o in owners}
        for secret in self.core.list_namespaced_secret(namespace).items:
            refs = secret.metadata.owner_references or ()
            if any(ref.uid in uids for ref in refs):
                try:
                    self.core.delete_namespaced_secret(
                        secret.metadata.name, namespace)
                    LOG.info("Secret %s/%s: deleted with its owner",
                             namespace, secret.metadata.name)
                except exceptions.ApiException as exc:
                    if exc.status != 404:
                        raise


class Skip(Exception):
    """The object changed; reconcile it again on the next step."""


def tolerated(exc):
    """A lost race (gone, conflict, no new finalizer while deleting)."""
    from kubernetes.client import exceptions

    return isinstance(exc, exceptions.ApiException) and exc.status in (
        404, 409, 422) and not refusal(exc)


def refusal(exc):
    """The API server's message when it refused what was written, or None.

    Strict field validation (an unknown or duplicate field: 400, or 422
    for a patch) or the schema (a missing required field, a value out of
    its enum or pattern: 422). A 422 about ``metadata`` only (a finalizer
    added while the object is being deleted) is a lost race, not this.
    """
    import json

    from kubernetes.client import exceptions

    if not isinstance(exc, exceptions.ApiException) or exc.status not in (
            400, 422):
        return None
    try:
        body = json.loads(exc.body or "{}")
    except (TypeError, ValueError):
        body = {}
    message = str(body.get("message") or exc.reason or "")
    if exc.status == 400:
        found = any(text in message for text in (
            "strict decoding error", "unknown field", "duplicate field"))
        return _shortened(message) if found else None
    causes = (body.get("details") or {}).get("causes") or ()
    fields = [c.get("field") or "" for c in causes]
    if fields and all(f.startswith("metadata.") for f in fields):
        return None
    return _shortened(message)


def _shortened(message):
    # A refused patch quotes the whole object before the reason.
    marker = message.find("strict decoding error")
    if marker > 0:
        message = message[marker:]
    return message[:1000]


def short_error(exc):
    from kubernetes.client import exceptions

    if isinstance(exc, exceptions.ApiException):
        return "%s %s" % (exc.status, exc.reason)
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
