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
"""A watch-fed cache of what status and health read, one per process.

``[capi_rdma] status_source = watch`` (the default). One
:class:`Reflector` thread per kind (the seven Cluster API kinds of
:data:`magnum_capi_rdma.store.KINDS` and the driver's operation Leases)
keeps a :class:`magnum_capi_rdma.store.Store` current, informer style:

1. LIST the kind across namespaces, paged (250 objects a page), each
   object projected into the store's compact form as it is decoded; one
   thread decodes every LIST of the process, one kind after another, so
   at most one page of raw JSON is held at a time;
2. WATCH from the LIST's resourceVersion with bookmarks, applying each
   event; a watch the server ends (after 10 to 20 minutes) is resumed
   from the last resourceVersion seen (an event or a bookmark);
3. on 410 Gone (the resourceVersion was compacted away, e.g. after an API
   server restart) LIST again; on any other error (API server down,
   connection reset, 5xx) retry with jittered exponential backoff (0.2 s
   doubling to 10 s), resuming the watch or listing as needed.

A watch that delivers nothing, not even the API server's bookmark (sent
every minute), for :data:`IDLE_TIMEOUT` seconds is taken for a dead
connection and reopened.

Freshness (:meth:`WatchObserver.snapshot`): the cache serves a pass when
every kind has been listed and is watching, or stopped watching less than
``status_max_staleness`` seconds ago (a reconnect). Otherwise the pass
falls back to the per-pass LIST (:class:`.observer.Observer`), which
fails with "management cluster unreachable" if it is. After a change the
driver makes itself, the first read of that cluster LISTs its project
namespace (:meth:`WatchObserver.invalidate`), so a status pass never
decides from objects older than the driver's own write.

Life cycle in magnum-conductor: made on first use by the process's
:class:`~magnum_capi_rdma.services.runtime.Runtime` (after oslo.service
forked its workers; a forked child starts its own), the threads are
daemons stopped at process exit (``atexit``) or by
:meth:`WatchObserver.stop`. Each conductor process has its own cache:
eight long-lived watches, the compact objects of every cluster; several
conductors do not coordinate, each is bounded the same way.
"""

import logging
import queue
import random
import threading
import time

from magnum_capi_rdma.adapters import kube as kube_adapter
from magnum_capi_rdma.adapters import rest
from magnum_capi_rdma import contract
from magnum_capi_rdma import store as store_mod

LOG = logging.getLogger(__name__)

#: Seconds a watch may be silent (no event, no bookmark) before reopened.
IDLE_TIMEOUT = 150.0
#: Server-side watch timeout, seconds: picked in this range per watch.
WATCH_SECONDS = (600, 1200)
#: Seconds a first pass waits for the initial LISTs before it falls back.
SYNC_WAIT = 300.0
#: Seconds a namespace LIST made after the driver's own change is served.
OVERLAY_MIN_SECONDS = 2.0


class Stopped(Exception):
    """The cache is stopping."""


class Lister(object):
    """One thread that runs every LIST of the cache, one after another.

    Decoding a LIST is the cache's one big allocation; done in one thread,
    one page at a time, it never overlaps another.
    """

    def __init__(self, stop_event):
        self._stop = stop_event
        self._queue = queue.Queue()
        self._lock = threading.Lock()
        self._thread = None

    def run(self, func):
        """``func()`` on the lister thread; its result, or its exception."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="capi-rdma-watch-lister",
                    daemon=True)
                self._thread.start()
        done, box = threading.Event(), {}
        self._queue.put((func, done, box))
        while not done.wait(0.5):
            if self._stop.is_set():
                raise Stopped()
        if "error" in box:
            raise box["error"]
        return box.get("result")

    def _serve(self):
        while not self._stop.is_set():
            try:
                func, done, box = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                box["result"] = func()
            except BaseException as exc:  # noqa: B902 - handed back
                box["error"] = exc
            finally:
                done.set()

    def join(self, timeout):
        if self._thread is not None:
            self._thread.join(timeout)


class Reflector(object):
    """One kind: LIST, then WATCH, into a store; recovers by itself."""

    def __init__(self, connection, store, kind, state, stop_event,
                 lister, label_selector=None, clock=time.monotonic,
                 on_synced=None):
        self._conn = connection
        self._store = store
        self.kind = kind
        self.state = state
        self._stop = stop_event
        self._lister = lister
        self._selector = label_selector
        self._clock = clock
        self._on_synced = on_synced
        self._watch = None
        self.thread = threading.Thread(
            target=self._run, name="capi-rdma-watch-%s" % kind, daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        watch = self._watch
        if watch is not None:
            watch.stop()

    def _run(self):
        attempt = 0
        while not self._stop.is_set():
            began = self._clock()
            try:
                if self.state.resource_version is None:
                    self._list()
                self._watch_once()
                attempt = 0
            except rest.Gone as exc:
                self.state.relists_gone += 1
                self.state.resource_version = None
                self._down(exc)
                LOG.info("Status cache: %s", exc)
            except Exception as exc:  # noqa: B902 - retried, never fatal
                if self._stop.is_set():
                    break
                if self._clock() - began > 30:
                    attempt = 0
                attempt += 1
                self.state.errors += 1
                was_up = self.state.error is None
                self._down(exc)
                (LOG.warning if was_up else LOG.debug)(
                    "Status cache: %s; retrying", self.state.error)
                self._stop.wait(store_mod.backoff(attempt))

    def _down(self, exc):
        if self.state.watching or self.state.down_since is None:
            self.state.down_since = self._clock()
        self.state.watching = False
        if exc is not None:
            self.state.error = str(exc) if isinstance(
                exc, kube_adapter.KubeError) else "%s: %s" % (
                    type(exc).__name__, exc)

    def _list(self):
        meta = self._lister.run(self._list_now)
        self.state.resource_version = meta.get("resourceVersion")
        self.state.lists += 1
        self.state.synced = True
        if self._on_synced is not None:
            self._on_synced()

    def _list_now(self):
        builder = self._store.builder(self.kind)
        meta = {}
        for obj in self._conn.iter_list(self.kind, self._selector,
                                        meta=meta):
            if self._stop.is_set():
                raise Stopped()
            builder.add(obj)
        builder.commit()
        return meta

    def _watch_once(self):
        if self._stop.is_set():
            return
        watch = self._conn.watch(
            self.kind, self.state.resource_version, self._selector,
            timeout_seconds=random.randint(*WATCH_SECONDS),
            read_timeout=IDLE_TIMEOUT)
        self._watch = watch
        events = iter(watch)
        try:
            self.state.watching = True
            self.state.down_since = None
            self.state.error = None
            self.state.watches += 1
            for etype, obj in events:
                version = (obj.get("metadata") or {}).get("resourceVersion")
                if etype == "BOOKMARK":
                    self.state.bookmarks += 1
                else:
                    self._apply(etype, obj)
                if version:
                    self.state.resource_version = version
                if self._stop.is_set():
                    break
        finally:
            self._watch = None
            events.close()
        self._down(None)

    def _apply(self, etype, obj):
        self.state.events += 1
        try:
            self._store.apply(self.kind, etype, obj)
        except Exception:  # noqa: B902 - one bad object must not stall
            LOG.exception("Status cache: cannot apply a %s event of %s %s",
                          etype, self.kind, (obj.get("metadata") or {}).get(
                              "name"))


class View(object):
    """What a status or health read sees.

    The store, or for a cluster the driver has just changed, a fresh LIST
    of its project namespace.
    """

    def __init__(self, observer, store):
        self._observer = observer
        self._store = store

    def observed(self, namespace, release):
        overlay = self._observer.overlay(namespace, release)
        return (overlay or self._store).observed(namespace, release)

    def operation(self, namespace, release):
        overlay = self._observer.overlay(namespace, release)
        return (overlay or self._store).operation(namespace, release)


class WatchObserver(object):
    """The watch-fed cache, with the :class:`.observer.Observer` interface.

    :param connection: a :class:`.rest.Connection`.
    :param max_age: ``status_max_staleness``: seconds a kind whose watch
        is down may still be served.
    :param fallback: the per-pass LIST observer, used while the cache is
        not fresh.
    """

    def __init__(self, connection, max_age, fallback, clock=time.monotonic,
                 owner_selector=contract.OWNER_SELECTOR, sync_wait=SYNC_WAIT,
                 kinds=store_mod.KINDS):
        self._conn = connection
        self._max_age = max_age
        self._fallback = fallback
        self._clock = clock
        self._owner_selector = owner_selector
        self._sync_wait = sync_wait
        self._kinds = tuple(kinds)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._synced = threading.Condition(self._lock)
        self._reflectors = []
        self._lister = None
        self._barrier = False
        self._overlays = {}
        self.store = None
        self.states = {}
        self.started = False
        self.fallbacks = 0
        self.overlay_lists = 0
        self._last_reason = None

    # -- life cycle --

    def start(self):
        """Start the reflectors (once; later calls do nothing)."""
        with self._lock:
            if self.started:
                return
            self.started = True
            self.store = store_mod.Store(self._kinds)
            self._lister = Lister(self._stop)
            for kind in self._kinds + (store_mod.LEASES,):
                self.states[kind] = store_mod.SourceState()
                self._reflectors.append(Reflector(
                    self._conn, self.store, kind, self.states[kind],
                    self._stop, self._lister,
                    label_selector=(self._owner_selector
                                    if kind == store_mod.LEASES else None),
                    clock=self._clock, on_synced=self._notify))
        for reflector in self._reflectors:
            reflector.start()
        LOG.info("Status cache: watching %d kinds of the management "
                 "cluster", len(self._reflectors))

    def stop(self, timeout=5.0):
        """Stop every reflector and wait (bounded) for its thread."""
        self._stop.set()
        for reflector in self._reflectors:
            reflector.stop()
        deadline = time.monotonic() + timeout
        for reflector in self._reflectors:
            if reflector.thread.is_alive():
                reflector.thread.join(max(0.0, deadline - time.monotonic()))
        if self._lister is not None:
            self._lister.join(max(0.0, deadline - time.monotonic()))

    def _notify(self):
        with self._synced:
            self._synced.notify_all()

    # -- reading --

    def invalidate(self, namespace=None, release=None):
        """The driver changed something: read it back before serving it.

        With a release, the next read of that release LISTs its project
        namespace (8 small requests); without, the next snapshot is a
        full per-pass LIST.
        """
        with self._lock:
            if release is None:
                self._barrier = True
                self._overlays.clear()
            else:
                self._overlays[(namespace, release)] = None
        if release is None:
            self._fallback.invalidate()

    def snapshot(self):
        self.start()
        with self._lock:
            barrier, self._barrier = self._barrier, False
        if barrier:
            return self._fallback.snapshot()
        fresh, reason = self._fresh()
        if not fresh and self._loading():
            self._wait_synced()
            fresh, reason = self._fresh()
        if fresh:
            if self._last_reason is not None:
                LOG.info("Status cache: serving from the watches again")
                self._last_reason = None
            return View(self, self.store)
        self.fallbacks += 1
        if reason != self._last_reason:
            LOG.warning("Status cache not fresh (%s): listing instead",
                        reason)
            self._last_reason = reason
        return self._fallback.snapshot()

    def _fresh(self):
        return store_mod.freshness(self.states, self._clock(),
                                   self._max_age)

    def _loading(self):
        """Some kind was never listed and none has failed yet."""
        states = self.states.values()
        return (any(not s.synced for s in states) and
                not any(s.error for s in states))

    def _wait_synced(self):
        deadline = self._clock() + self._sync_wait
        with self._synced:
            while self._loading() and self._clock() < deadline:
                self._synced.wait(min(1.0, max(0.0,
                                               deadline - self._clock())))

    def overlay(self, namespace, release):
        """The namespace LIST served for a release the driver changed.

        See :meth:`invalidate`; None when there is none (or no more).
        """
        key = (namespace, release)
        with self._lock:
            if key not in self._overlays:
                return None
            entry = self._overlays[key]
        if entry is not None:
            taken, overlay = entry
            if self._clock() - taken <= max(self._max_age,
                                            OVERLAY_MIN_SECONDS):
                return overlay
            with self._lock:
                if self._overlays.get(key) is entry:
                    del self._overlays[key]
            return None
        overlay = self._list_namespace(namespace)
        with self._lock:
            if key in self._overlays:
                self._overlays[key] = (self._clock(), overlay)
        return overlay

    def _list_namespace(self, namespace):
        overlay = store_mod.Store(self._kinds)
        for kind in self._kinds + (store_mod.LEASES,):
            builder = overlay.builder(kind)
            try:
                for obj in self._conn.iter_list(
                        kind, self._owner_selector
                        if kind == store_mod.LEASES else None,
                        namespace=namespace):
                    builder.add(obj)
            except kube_adapter.KubeError as exc:
                if exc.status != 404:   # 404: that CRD is not installed
                    raise
            builder.commit()
        self.overlay_lists += 1
        return overlay

    def observed(self, namespace, release):
        return self.snapshot().observed(namespace, release)

    def operation(self, namespace, release):
        return self.snapshot().operation(namespace, release)

    def stats(self):
        """The cache's size and the state of each kind's watch."""
        now = self._clock()
        out = dict(self.store.stats()) if self.store is not None else {
            "objects": 0, "approx_bytes": 0}
        fresh, reason = (self._fresh() if self.started
                         else (False, "not started"))
        out.update({
            "source": "watch",
            "fresh": fresh,
            "not_fresh_because": reason,
            "max_age_seconds": self._max_age,
            "fallback_snapshots": self.fallbacks,
            "overlay_lists": self.overlay_lists,
            "requests": self._conn.requests,
            "requests_by_verb": dict(self._conn.requests_by),
            "kinds": {kind: {
                "synced": s.synced, "watching": s.watching,
                "down_seconds": (now - s.down_since
                                 if s.down_since is not None else None),
                "resource_version": s.resource_version, "lists": s.lists,
                "relists_after_gone": s.relists_gone,
                "watches": s.watches, "events": s.events,
                "bookmarks": s.bookmarks, "errors": s.errors,
                "error": s.error} for kind, s in self.states.items()},
        })
        return out
