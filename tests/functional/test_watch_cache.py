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
"""The watch-fed status cache on the real bed.

Real: etcd + kube-apiserver (this module's own bed: it restarts the API
server and compacts etcd), the real chart through helm, the simulator,
Magnum's objects and database, the driver with ``status_source=watch``
(the default). Requests are counted where the driver makes them: the read
transport (:class:`magnum_capi_rdma.adapters.rest.Connection`) and the
Kube adapter. Figures go to ``artifacts/reliability/watch-cache.json``.
"""

import base64
import json
import os
import time
import urllib.request

from kubernetes import config as kube_config
from magnum.objects import fields
import pytest

from magnum_capi_rdma.adapters import watch
from magnum_capi_rdma.services import runtime
from magnum_capi_rdma import store
from tests import conftest as bed_conftest
from tests.support import lifecycle

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
ARTIFACTS = os.path.join(ROOT, "artifacts", "reliability")
FIGURES = {}

#: Clusters without RDMA: their health reads nothing but the cache.
PLAIN_LABELS = {"kube_tag": "v1.33.1"}


@pytest.fixture(scope="module", autouse=True)
def _report(summary_line):
    yield
    if not FIGURES:
        return
    summary_line("watch cache: %s" % ", ".join(
        "%s %s" % (k, v) for k, v in sorted(FIGURES.items())))
    os.makedirs(ARTIFACTS, exist_ok=True)
    with open(os.path.join(ARTIFACTS, "watch-cache.json"), "w") as out:
        json.dump(FIGURES, out, indent=2, sort_keys=True)


@pytest.fixture(scope="module")
def cache_bed(tmp_path_factory):
    """This module's own management cluster and simulator."""
    bed_conftest.require_bed_tools()
    from magnum_capi_rdma_dev.bed import cluster
    from magnum_capi_rdma_dev.bed import tools
    from magnum_capi_rdma_dev.simulator import crds
    from magnum_capi_rdma_dev.simulator import Simulator

    saved = os.environ.get("MAGNUM_CAPI_RDMA_CACHE")
    os.environ["MAGNUM_CAPI_RDMA_CACHE"] = tools.cache_dir()
    bed = cluster.ManagementCluster(
        str(tmp_path_factory.mktemp("watch-bed")))
    bed.start()
    api_client = kube_config.new_client_from_config(bed.kubeconfig)
    sim = Simulator(api_client)
    try:
        crds.install_crds(api_client)
        sim.start(interval=0.2)
        yield bed, sim, api_client
    finally:
        sim.stop()
        api_client.close()
        bed.stop()
        if saved is None:
            os.environ.pop("MAGNUM_CAPI_RDMA_CACHE", None)
        else:
            os.environ["MAGNUM_CAPI_RDMA_CACHE"] = saved


def etcd(bed, path, body):
    """A call to etcd's JSON gateway (the bed's etcd, on loopback)."""
    request = urllib.request.Request(
        "http://127.0.0.1:%d%s" % (bed.etcd_port, path),
        data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def compact_etcd(bed):
    """Compact etcd at its current revision: older ones are gone (410)."""
    revision = etcd(bed, "/v3/kv/range", {
        "key": base64.b64encode(b"/").decode()})["header"]["revision"]
    etcd(bed, "/v3/kv/compaction", {"revision": revision,
                                    "physical": True})
    return int(revision)


class TestWatchCache(lifecycle.LifecycleBase):

    BASE_LABELS = PLAIN_LABELS

    @pytest.fixture(autouse=True)
    def _bed(self, cache_bed, helm_bin):
        self.helm_bin = helm_bin
        self.bed, self.sim, self.api_client = cache_bed
        self.chart = str(lifecycle.upstream.require_real_chart())

    def setUp(self):
        super().setUp()
        self.config(status_source="watch", group="capi_rdma")
        runtime.reset()
        self.driver.keystone_factory = (
            lambda context: lifecycle.InMemoryKeystone())
        self.kube = runtime.shared().kube
        self.addCleanup(self._apiserver_up)
        self.addCleanup(runtime.reset)

    def _apiserver_up(self):
        if not self.bed.healthy():
            self.bed.start_apiserver()

    # -- helpers --

    @property
    def cache(self):
        observer = runtime.shared().observer
        assert isinstance(observer, watch.WatchObserver)
        return observer

    def requests(self):
        """Requests the driver made to the management cluster so far."""
        shared = runtime.shared()
        return shared.connection.requests + shared.kube.requests

    def ready_cluster(self, name):
        cluster = self.make_cluster(name=name)
        self.driver.create_cluster(self.context, cluster, 30)
        cluster.save()
        return self.wait_status(cluster,
                                fields.ClusterStatus.CREATE_COMPLETE)

    def health(self, cluster):
        monitor = self.driver.get_monitor(self.context, cluster)
        monitor.poll_health_status()
        return monitor.data["health_status"], monitor.data[
            "health_status_reason"]

    def steady(self, cluster, passes=10):
        """Requests made by ``passes`` status and health passes."""
        before = self.requests()
        for _ in range(passes):
            self.sync(cluster)
            self.health(cluster)
        return self.requests() - before

    def wait_fresh(self, timeout=60):
        lifecycle.wait_for(
            lambda: self.cache.stats()["fresh"] and all(
                s["watching"] for s in self.cache.stats()["kinds"].values()),
            timeout, 0.1, what="the status cache to watch every kind")

    def set_node_healthy(self, cluster, value):
        """A worker's Node healthy ("True") or reporting a problem.

        Through the simulator (its ``node_unhealthy`` fault), which then
        writes the Machine's NodeHealthy condition as Cluster API does,
        and keeps it so while it reconciles the Machine.
        """
        machine = self.machines(cluster, "default-worker")[0]
        name = machine["metadata"]["name"]
        if value == "True":
            self.sim.clear_faults(cluster.stack_id)
        else:
            self.sim.set_faults(cluster.stack_id, {"node_unhealthy": name})

        def written():
            found = self.kube.get("machine", self.namespace(cluster), name)
            return any(c.get("type") == "NodeHealthy" and
                       c.get("status") == value
                       for c in found["status"].get("conditions") or ())
        lifecycle.wait_for(written, 60, 0.1,
                           what="NodeHealthy %s on %s" % (value, name))
        return name

    # -- tests --

    def test_steady_passes_make_no_request(self):
        cluster = self.ready_cluster("steady")
        self.wait_fresh()
        self.steady(cluster, 2)          # warm-up
        made = self.steady(cluster, 20)
        stats = self.cache.stats()
        FIGURES["steady_requests_per_20_passes"] = made
        FIGURES["warm_up_requests"] = stats["requests"]
        assert made == 0
        assert self.health(cluster)[0] == "HEALTHY"
        assert stats["fallback_snapshots"] == 0
        assert stats["objects"] > 20
        kinds = stats["kinds"]
        assert set(kinds) == set(store.KINDS) | {store.LEASES}
        assert all(k["lists"] == 1 for k in kinds.values()), kinds

    def test_a_machine_becoming_ready_reaches_status(self):
        cluster = self.ready_cluster("grow")
        release = cluster.stack_id
        self.sim.set_faults(release, {"provision_delay": 3600})
        worker = cluster.default_ng_worker
        worker.node_count = 3
        worker.save()
        self.driver.resize_cluster(self.context, cluster, None, 3, [],
                                   worker)
        lifecycle.wait_for(
            lambda: len(self.machines(cluster, "default-worker")) == 3,
            what="the third worker")
        cluster = self.sync(cluster)
        assert cluster.status == fields.ClusterStatus.UPDATE_IN_PROGRESS
        # Waiting for the machine costs no request.
        assert self.steady(cluster, 5) == 0
        assert self.sync(cluster).status == (
            fields.ClusterStatus.UPDATE_IN_PROGRESS)
        before = self.requests()
        began = time.monotonic()
        self.sim.clear_faults(release)
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.UPDATE_COMPLETE,
                                   timeout=60)
        FIGURES["machine_ready_to_update_complete_s"] = round(
            time.monotonic() - began, 2)
        FIGURES["requests_while_waiting_for_ready"] = (
            self.requests() - before)
        assert self.requests() == before
        assert self.cache.stats()["events"] > 0

    def test_apiserver_restart_with_etcd_compacted(self):
        cluster = self.ready_cluster("restart")
        self.wait_fresh()
        states = self.cache.stats()["kinds"]
        gone_before = {k: s["relists_after_gone"] for k, s in states.items()}
        self.bed.stop_apiserver()
        # The watches see their connections close (milliseconds).
        lifecycle.wait_for(lambda: not self.cache.stats()["fresh"], 30, 0.05,
                           what="the cache to see the API server gone")
        cluster = self.sync(cluster)
        assert cluster.status == fields.ClusterStatus.CREATE_COMPLETE
        assert cluster.status_reason.startswith(
            "Waiting for the management cluster"), cluster.status_reason
        assert self.health(cluster)[0] == "UNKNOWN"
        # Every revision the watches had seen is compacted away.
        compact_etcd(self.bed)
        self.bed.start_apiserver()
        # A change made once the API server is back reaches health.
        machine = self.set_node_healthy(cluster, "False")
        lifecycle.wait_for(lambda: self.health(cluster)[0] == "UNHEALTHY",
                           60, 0.2, what="the unhealthy machine")
        self.wait_fresh()
        states = self.cache.stats()["kinds"]
        relisted = {k: s["relists_after_gone"] - gone_before[k]
                    for k, s in states.items()}
        FIGURES["relists_after_restart_and_compaction"] = relisted
        assert all(n >= 1 for n in relisted.values()), relisted
        assert "Waiting for the management cluster" not in (
            self.sync(cluster).status_reason or "")
        self.set_node_healthy(cluster, "True")
        lifecycle.wait_for(lambda: self.health(cluster)[0] == "HEALTHY",
                           60, 0.2, what="%s healthy again" % machine)
        assert self.steady(cluster, 5) == 0

    def test_an_expired_resource_version_relists(self):
        cluster = self.ready_cluster("expired")
        self.wait_fresh()
        reflector = [r for r in self.cache._reflectors
                     if r.kind == "machine"][0]
        state = reflector.state
        lists, gone = state.lists, state.relists_gone
        # Resume from a revision long compacted: the API server answers
        # 410 Gone in the watch stream; the reflector lists again. The
        # next watch of machines asks for revision 1 whatever the
        # reflector saw meanwhile (an event or a bookmark arriving before
        # the stop would otherwise move it on).
        compact_etcd(self.bed)
        conn = reflector._conn
        real_watch = conn.watch
        armed = [True]

        def watch_from_a_compacted_revision(kind, version, *args, **kw):
            if kind == reflector.kind and armed:
                armed.pop()
                version = "1"
            return real_watch(kind, version, *args, **kw)

        conn.watch = watch_from_a_compacted_revision
        try:
            machine = self.set_node_healthy(cluster, "False")
            reflector.stop()      # its current watch; the next is armed
            lifecycle.wait_for(lambda: state.relists_gone == gone + 1, 60,
                               0.1, what="a relist after 410")
        finally:
            del conn.watch
        assert not armed
        assert state.lists == lists + 1
        lifecycle.wait_for(lambda: self.health(cluster)[0] == "UNHEALTHY",
                           30, 0.2, what="the unhealthy machine")
        self.set_node_healthy(cluster, "True")
        lifecycle.wait_for(lambda: self.health(cluster)[0] == "HEALTHY",
                           30, 0.2, what="%s healthy again" % machine)

    def test_conductor_restart(self):
        cluster = self.ready_cluster("conductor")
        self.wait_fresh()
        old = self.cache
        threads = [r.thread for r in old._reflectors]
        runtime.reset()      # the conductor stops: its watches end
        assert not any(t.is_alive() for t in threads)
        # While no conductor runs, a machine goes unhealthy.
        self.set_node_healthy(cluster, "False")
        # The restarted conductor's first pass lists every kind once.
        assert self.health(cluster)[0] == "UNHEALTHY"
        stats = self.cache.stats()
        FIGURES["first_pass_requests_after_restart"] = stats["requests"]
        assert stats["requests_by_verb"]["LIST"] == len(stats["kinds"])
        self.wait_fresh()
        self.set_node_healthy(cluster, "True")
        lifecycle.wait_for(lambda: self.health(cluster)[0] == "HEALTHY",
                           30, 0.2, what="healthy again")
        assert self.steady(cluster, 5) == 0
