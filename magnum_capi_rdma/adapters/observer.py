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
"""Reads the Cluster API objects of releases from the management cluster.

Status sync runs for every cluster in progress about every 10 s, and health
for every cluster every minute. Rather than several GETs per cluster, one
LIST per kind is shared by every cluster of a pass and indexed by release, so
the API cost of a pass does not grow with the number of clusters: seven
custom-resource LISTs plus one LIST of the driver's own Leases (the
operation records, see :mod:`magnum_capi_rdma.operations`), whatever the
number of clusters. No Secret is ever listed.

Bounds:

- age: a snapshot is served for at most ``[capi_rdma]
  status_max_staleness`` seconds after its LISTs returned, and the driver
  drops it after any change it makes itself. (Counting from when the LISTs
  returned, not when they started, means a snapshot that took longer to
  list than the bound still serves the pass that asked for it, instead of
  every cluster relisting.) A snapshot is a fresh LIST, so relists, watch
  expiry and reconnects do not arise; a deleted object is simply absent
  from the next LIST. The LISTs of a snapshot run concurrently.
- memory: only the fields status and health read are kept (name,
  namespace, labels, annotations, deletion time, spec, status); managed
  fields, owner references and the rest are dropped when indexing, and of a
  Lease only its operation record is kept. :meth:`Observer.stats`
  reports the object count and approximate bytes of the current snapshot.
"""

import concurrent.futures
import json
import threading
import time

from magnum_capi_rdma import capi
from magnum_capi_rdma import contract
from magnum_capi_rdma import operations
from magnum_capi_rdma import status

# Kinds read for status and health, one LIST each per snapshot.
KINDS = ("cluster", "openstackcluster", "kubeadmcontrolplane",
         "machinedeployment", "machine", "helmrelease", "manifests")
# The add-on provider's kinds name their cluster in spec.clusterName.
ADDON_KINDS = ("helmrelease", "manifests")

# One object in SAMPLE is serialised to estimate a snapshot's size.
SAMPLE = 8
# Every LIST of a snapshot in flight at once (the kubernetes client's
# connection pool holds 5 per CPU), so the API server serialises one kind
# while this process decodes another.
LIST_WORKERS = 8

# The metadata fields status and health read; the rest is dropped.
_KEPT_METADATA = ("name", "namespace", "labels", "annotations",
                  "deletionTimestamp", "creationTimestamp", "generation")


def slim(obj):
    """The object with only what status and health read."""
    meta = capi.metadata(obj)
    out = {"metadata": {k: meta[k] for k in _KEPT_METADATA if k in meta}}
    for key in ("apiVersion", "kind", "spec", "status"):
        if key in obj:
            out[key] = obj[key]
    return out


class Snapshot(object):
    """One LIST of every kind, indexed by (namespace, release)."""

    def __init__(self, objects_by_kind, taken_at, leases=()):
        self.taken_at = taken_at
        self._index = {}
        self._operations = {}
        self.objects = 0
        self.bytes = 0
        for kind, objects in objects_by_kind.items():
            for obj in objects:
                release = capi.release_of(obj, by_spec=kind in ADDON_KINDS)
                if not release:
                    continue
                kept = slim(obj)
                self._count(kept)
                key = (kept["metadata"].get("namespace"), release)
                self._index.setdefault(key, {}).setdefault(kind, []).append(
                    kept)
        for lease in leases:
            meta = capi.metadata(lease)
            record = operations.from_lease(lease)
            self._count({"metadata": meta})
            self._operations[(meta.get("namespace"), meta.get("name"))] = (
                record)

    def _count(self, obj):
        # Approximate size: every SAMPLE-th object serialised, scaled up.
        self.objects += 1
        if self.objects % SAMPLE == 1 or SAMPLE == 1:
            self.bytes += SAMPLE * len(json.dumps(
                obj, separators=(",", ":"), default=str))

    def operation(self, namespace, release):
        """The release's :class:`operations.Record` (empty if none)."""
        return self._operations.get(
            (namespace, operations.lease_name(release)),
            operations.Record())

    def observed(self, namespace, release):
        found = self._index.get((namespace, release), {})

        def one(kind, name):
            for obj in found.get(kind, ()):
                if capi.name(obj) == name:
                    return obj
            return None

        return status.Observed(
            cluster=one("cluster", release),
            openstack_cluster=one("openstackcluster", release),
            control_plane=one("kubeadmcontrolplane",
                              release + "-control-plane"),
            machine_deployments=tuple(found.get("machinedeployment", ())),
            machines=tuple(found.get("machine", ())),
            addons=tuple(found.get("helmrelease", [])) +
            tuple(found.get("manifests", [])),
        )


class Observer(object):
    """Shared, bounded-age snapshots of the management cluster.

    :param kube: the Kube adapter (``list_all``; the operation Leases
        through ``Kube.list_leases_all``).
    :param max_age: seconds a snapshot may be served after its LISTs.
    :param owner_selector: label selector of the driver's own Leases.
    """

    def __init__(self, kube, max_age=5.0, clock=time.monotonic,
                 owner_selector=contract.OWNER_SELECTOR):
        self._kube = kube
        self._max_age = max_age
        self._clock = clock
        self._owner_selector = owner_selector
        self._lock = threading.Lock()
        self._snapshot = None
        self.lists = 0
        self.snapshots = 0
        self.last_list_seconds = None

    def invalidate(self):
        with self._lock:
            self._snapshot = None

    def snapshot(self):
        with self._lock:
            now = self._clock()
            snap = self._snapshot
            if snap is None or now - snap.taken_at > self._max_age:
                snap = self._take(now)
                self._snapshot = snap
            return snap

    def _take(self, started):
        with concurrent.futures.ThreadPoolExecutor(LIST_WORKERS) as pool:
            futures = {kind: pool.submit(self._kube.list_all, kind,
                                         label_selector=None)
                       for kind in KINDS}
            leases = pool.submit(self._kube.list_leases_all,
                                 self._owner_selector)
            objects = {kind: f.result() for kind, f in futures.items()}
            leases = leases.result()
        self.lists += len(KINDS) + 1
        self.snapshots += 1
        listed = self._clock()
        self.last_list_seconds = listed - started
        return Snapshot(objects, listed, leases)

    def observed(self, namespace, release):
        return self.snapshot().observed(namespace, release)

    def operation(self, namespace, release):
        """The release's operation record, from the snapshot."""
        return self.snapshot().operation(namespace, release)

    def stats(self):
        """Size of the current snapshot and LISTs made so far."""
        with self._lock:
            snap = self._snapshot
            now = self._clock()
        return {
            "objects": snap.objects if snap else 0,
            "approx_bytes": snap.bytes if snap else 0,
            "age_seconds": (now - snap.taken_at) if snap else None,
            "max_age_seconds": self._max_age,
            "snapshots": self.snapshots,
            "lists": self.lists,
            "last_list_seconds": self.last_list_seconds,
        }
