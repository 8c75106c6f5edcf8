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
"""Per-pass LISTs of what status and health read (``status_source=list``).

The fallback of the watch-fed cache (:mod:`.watch`), and the whole story
with ``[capi_rdma] status_source = list``. Rather than several GETs per
cluster, one LIST per kind is shared by every cluster of a pass and
indexed by release, so the API cost of a pass does not grow with the
number of clusters: seven custom-resource LISTs plus one LIST of the
driver's own Leases (the operation records, see
:mod:`magnum_capi_rdma.operations`), whatever the number of clusters. No
Secret is ever listed.

Bounds:

- age: a snapshot is served for at most ``[capi_rdma]
  status_max_staleness`` seconds after its LISTs returned, and the driver
  drops it after any change it makes itself. (Counting from when the LISTs
  returned, not when they started, means a snapshot that took longer to
  list than the bound still serves the pass that asked for it, instead of
  every cluster relisting.) A deleted object is simply absent from the
  next LIST.
- memory: the LISTs are paged and decoded one object at a time by the
  source (:class:`.rest.Connection`), at most :data:`LIST_WORKERS` kinds at
  once, and each object is reduced to the compact form of
  :mod:`magnum_capi_rdma.store` as it arrives. :meth:`Observer.stats`
  reports the object count and the bytes held.
"""

import concurrent.futures
import threading
import time

from magnum_capi_rdma import contract
from magnum_capi_rdma import store as store_mod

# Kinds read for status and health, one LIST each per snapshot.
KINDS = store_mod.KINDS
ADDON_KINDS = store_mod.ADDON_KINDS

#: Kinds listed at once: one decodes while the API server serves another,
#: and only two pages of raw JSON are held.
LIST_WORKERS = 2


class Snapshot(object):
    """One LIST of every kind, as a compact store."""

    def __init__(self, store, taken_at):
        self.store = store
        self.taken_at = taken_at

    @property
    def objects(self):
        return self.store.stats()["objects"]

    @property
    def bytes(self):
        return self.store.stats()["approx_bytes"]

    def observed(self, namespace, release):
        return self.store.observed(namespace, release)

    def operation(self, namespace, release):
        """The release's :class:`operations.Record` (empty if none)."""
        return self.store.operation(namespace, release)


def fill(store, source, kind, owner_selector):
    """LIST one kind (or the driver's Leases) from ``source`` into ``store``.

    ``source`` has ``list_all(kind, label_selector)`` and
    ``list_leases_all(selector)`` returning iterables of objects.
    """
    builder = store.builder(kind)
    if kind == store_mod.LEASES:
        items = source.list_leases_all(owner_selector)
    else:
        items = source.list_all(kind, label_selector=None)
    for obj in items:
        builder.add(obj)
    builder.commit()


class Observer(object):
    """Shared, bounded-age snapshots of the management cluster.

    :param kube: the source of LISTs: a :class:`.rest.Connection` (or
        anything with its ``list_all`` and ``list_leases_all``).
    :param max_age: seconds a snapshot may be served after its LISTs.
    :param owner_selector: label selector of the driver's own Leases.
    """

    def __init__(self, kube, max_age=5.0, clock=time.monotonic,
                 owner_selector=contract.OWNER_SELECTOR, kinds=KINDS):
        self._kube = kube
        self._kinds = tuple(kinds)
        self._max_age = max_age
        self._clock = clock
        self._owner_selector = owner_selector
        self._lock = threading.Lock()
        self._snapshot = None
        self.lists = 0
        self.snapshots = 0
        self.last_list_seconds = None

    def invalidate(self, namespace=None, release=None):
        with self._lock:
            self._snapshot = None

    def snapshot(self):
        with self._lock:
            now = self._clock()
            snap = self._snapshot
            if snap is None or now - snap.taken_at > self._max_age:
                # The old snapshot goes before the new one is listed.
                self._snapshot = snap = None
                snap = self._take(now)
                self._snapshot = snap
            return snap

    def _take(self, started):
        store = store_mod.Store(self._kinds)
        kinds = self._kinds + (store_mod.LEASES,)
        with concurrent.futures.ThreadPoolExecutor(LIST_WORKERS) as pool:
            for future in [pool.submit(fill, store, self._kube, kind,
                                       self._owner_selector)
                           for kind in kinds]:
                future.result()
        self.lists += len(kinds)
        self.snapshots += 1
        listed = self._clock()
        self.last_list_seconds = listed - started
        return Snapshot(store, listed)

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
        held = snap.store.stats() if snap else {}
        out = {
            "source": "list",
            "objects": held.get("objects", 0),
            "approx_bytes": held.get("approx_bytes", 0),
            "age_seconds": (now - snap.taken_at) if snap else None,
            "max_age_seconds": self._max_age,
            "snapshots": self.snapshots,
            "lists": self.lists,
            "last_list_seconds": self.last_list_seconds,
        }
        requests = getattr(self._kube, "requests", None)
        if isinstance(requests, int):
            out["requests"] = requests
        return out
