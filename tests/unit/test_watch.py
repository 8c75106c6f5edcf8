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
"""The watch-fed cache's logic, on a scripted connection (threads real).

The real API server, its restarts and 410s are in
tests/functional/test_watch_cache.py.
"""

import queue
import threading
import time

import pytest

from magnum_capi_rdma.adapters import kube as kube_adapter
from magnum_capi_rdma.adapters import observer
from magnum_capi_rdma.adapters import rest
from magnum_capi_rdma.adapters import watch
from magnum_capi_rdma import store

KINDS = ("cluster", "machine")


def obj(name, release="r1", namespace="ns", phase="Running", rv="1"):
    return {"metadata": {"name": name, "namespace": namespace,
                         "resourceVersion": rv,
                         "labels": {"capi.stackhpc.com/cluster": release}},
            "status": {"phase": phase}}


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in %ss" % timeout)


class FakeWatch(object):
    def __init__(self, events):
        self.events = events
        self.stopped = False

    def __iter__(self):
        while not self.stopped:
            try:
                item = self.events.get(timeout=0.05)
            except queue.Empty:
                continue
            if isinstance(item, Exception):
                raise item
            if item is None:
                return
            yield item

    def stop(self):
        self.stopped = True


class FakeConnection(object):
    """LISTs from ``objects``; watches fed through ``send``."""

    def __init__(self, objects):
        self.objects = objects
        self.requests = 0
        self.requests_by = {}
        self.lists = []
        self.watches = {}
        self.fail_lists = False
        self.gone = set()
        self._lock = threading.Lock()

    def _count(self, verb):
        with self._lock:
            self.requests += 1
            self.requests_by[verb] = self.requests_by.get(verb, 0) + 1

    def iter_list(self, kind, label_selector=None, namespace=None,
                  meta=None, page_size=None):
        self._count("LIST")
        self.lists.append((kind, namespace))
        if self.fail_lists:
            raise kube_adapter.KubeError("cannot list: unreachable",
                                         transient=True)
        for item in list(self.objects.get(kind, ())):
            if namespace is None or item["metadata"]["namespace"] == (
                    namespace):
                yield item
        if meta is not None:
            meta["resourceVersion"] = "100"

    def list_all(self, kind, label_selector=None):
        return self.iter_list(kind, label_selector)

    def list_leases_all(self, label_selector):
        return self.iter_list("lease", label_selector)

    def watch(self, kind, resource_version, label_selector=None,
              timeout_seconds=None, read_timeout=None):
        self._count("WATCH")
        if kind in self.gone:
            self.gone.discard(kind)
            raise rest.Gone("too old resource version", status=410)
        events = queue.Queue()
        with self._lock:
            self.watches.setdefault(kind, []).append(events)
        return FakeWatch(events)

    def send(self, kind, item):
        self.watches[kind][-1].put(item)


@pytest.fixture
def cache():
    made = []

    def make(objects, max_age=5.0, clock=time.monotonic):
        conn = FakeConnection(objects)
        fallback = observer.Observer(conn, max_age=max_age, clock=clock,
                                     kinds=KINDS)
        obs = watch.WatchObserver(conn, max_age=max_age, fallback=fallback,
                                  clock=clock, kinds=KINDS, sync_wait=10)
        made.append(obs)
        return obs, conn
    yield make
    for obs in made:
        obs.stop()


def synced(obs):
    obs.snapshot()
    wait_for(lambda: all(s.watching for s in obs.states.values()))


def test_first_read_lists_each_kind_once_then_serves_from_memory(cache):
    obs, conn = cache({"cluster": [obj("r1")],
                       "machine": [obj("m1"), obj("m2", "r2")]})
    view = obs.snapshot()
    assert view.observed("ns", "r1").cluster["metadata"]["name"] == "r1"
    wait_for(lambda: all(s.watching for s in obs.states.values()))
    before = conn.requests
    assert conn.requests_by == {"LIST": 3, "WATCH": 3}
    for _ in range(100):
        assert len(obs.observed("ns", "r1").machines) == 1
    assert conn.requests == before
    assert obs.stats()["fresh"]


def test_events_reach_the_next_read(cache):
    obs, conn = cache({"cluster": [], "machine": [obj("m1",
                                                      phase="Pending")]})
    synced(obs)
    conn.send("machine", ("MODIFIED", obj("m1", rv="101")))
    wait_for(lambda: obs.observed("ns", "r1").machines[0]["status"][
        "phase"] == "Running")
    conn.send("machine", ("BOOKMARK", {"metadata": {
        "resourceVersion": "150"}}))
    wait_for(lambda: obs.states["machine"].resource_version == "150")
    conn.send("machine", ("DELETED", obj("m1", rv="151")))
    wait_for(lambda: obs.observed("ns", "r1").machines == ())
    assert obs.states["machine"].bookmarks == 1


def test_a_broken_watch_is_resumed_and_served_meanwhile(cache):
    obs, conn = cache({"cluster": [], "machine": []})
    synced(obs)
    conn.send("machine", kube_adapter.KubeError("connection reset",
                                                transient=True))
    wait_for(lambda: len(conn.watches["machine"]) == 2)
    wait_for(lambda: obs.states["machine"].watching)
    # Resumed from its resourceVersion: no second LIST.
    assert obs.states["machine"].lists == 1
    assert obs.states["machine"].errors == 1
    assert obs.fallbacks == 0


def test_gone_relists(cache):
    obs, conn = cache({"cluster": [], "machine": [obj("m1")]})
    synced(obs)
    conn.objects["machine"] = [obj("m2")]
    conn.gone.add("machine")
    conn.send("machine", None)       # the server ends the watch
    wait_for(lambda: obs.states["machine"].lists == 2)
    wait_for(lambda: [m["metadata"]["name"] for m in obs.observed(
        "ns", "r1").machines] == ["m2"])
    assert obs.states["machine"].relists_gone == 1


def test_a_watch_down_past_the_bound_falls_back_to_a_list(cache):
    now = [1000.0]
    obs, conn = cache({"cluster": [], "machine": [obj("m1")]}, max_age=5,
                      clock=lambda: now[0])
    synced(obs)
    state = obs.states["machine"]
    state.watching, state.down_since = False, 1000.0
    state.error = "cannot watch machines: unreachable"
    now[0] = 1004.0
    lists = len(conn.lists)
    assert obs.observed("ns", "r1").machines
    assert len(conn.lists) == lists          # within the bound: the cache
    now[0] = 1006.0
    assert obs.observed("ns", "r1").machines
    assert len(conn.lists) == lists + 3      # past it: one LIST per kind
    assert obs.fallbacks == 1
    # The fallback fails like list mode when the server is unreachable.
    conn.fail_lists = True
    now[0] = 1020.0
    with pytest.raises(kube_adapter.KubeError):
        obs.observed("ns", "r1")


def test_the_drivers_change_is_read_back_from_its_namespace(cache):
    obs, conn = cache({"cluster": [], "machine": [
        obj("m1", phase="Pending"), obj("x1", "r9", namespace="other")]})
    synced(obs)
    # The driver wrote; the watch has not delivered it yet.
    conn.objects["machine"][0] = obj("m1")
    obs.invalidate("ns", "r1")
    lists = len(conn.lists)
    assert obs.observed("ns", "r1").machines[0]["status"]["phase"] == \
        "Running"
    assert conn.lists[lists:] == [("cluster", "ns"), ("machine", "ns"),
                                  ("lease", "ns")]
    # Served from that LIST for a while; other clusters from the cache.
    assert obs.observed("ns", "r1").machines[0]["status"]["phase"] == \
        "Running"
    assert obs.observed("other", "r9").machines
    assert len(conn.lists) == lists + 3
    assert obs.stats()["overlay_lists"] == 1


def test_invalidate_without_a_release_lists_everything_once(cache):
    obs, conn = cache({"cluster": [], "machine": [obj("m1")]})
    synced(obs)
    lists = len(conn.lists)
    obs.invalidate()
    obs.observed("ns", "r1")
    assert len(conn.lists) == lists + 3
    obs.observed("ns", "r1")
    assert len(conn.lists) == lists + 3


def test_an_unreachable_server_at_start_falls_back_at_once(cache):
    obs, conn = cache({"cluster": [], "machine": []})
    conn.fail_lists = True
    with pytest.raises(kube_adapter.KubeError):
        obs.observed("ns", "r1")
    conn.fail_lists = False
    wait_for(lambda: all(s.synced for s in obs.states.values()), 15)
    assert obs.observed("ns", "r1").machines == ()


def test_stop_ends_every_thread(cache):
    obs, conn = cache({"cluster": [], "machine": []})
    synced(obs)
    obs.stop()
    assert not any(r.thread.is_alive() for r in obs._reflectors)


def test_stats_before_start():
    conn = FakeConnection({})
    obs = watch.WatchObserver(conn, 5, observer.Observer(conn), kinds=KINDS)
    stats = obs.stats()
    assert stats["objects"] == 0 and not stats["fresh"]
    assert stats["not_fresh_because"] == "not started"
    assert store.LEASES not in stats["kinds"]
