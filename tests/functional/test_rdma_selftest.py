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
"""The RDMA self-test on the real bed, with real workload API servers.

The simulator runs with :class:`WorkloadServers`: each cluster gets its own
etcd + kube-apiserver behind its ``<release>-kubeconfig`` Secret, on which
the simulation plays the kubelets (Nodes for the Machines), the network
operator (the NicClusterPolicy the driver delivers goes ready, RDMA nodes
advertise the resource), Multus and nv-ipam (addresses on the RDMA
network) and perftest (the self-test's pods end with a report; faults make
it fail, slow or hang). The driver's health poll runs the test through
Magnum's monitor, as magnum-conductor does.

A conductor killed mid-test is a real OS process: this module run as a
script builds the driver on a copy of the test's Magnum database and polls
the cluster's health in a loop, as the conductor's periodic task does,
until the test SIGKILLs it.
"""

import datetime
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def conductor(spec_path):
    """Poll one cluster's health for ever, as the periodic task does."""
    with open(spec_path) as f:
        spec = json.load(f)
    from magnum.common import config as magnum_config
    from magnum.common import context as magnum_context
    import magnum.conf
    from magnum import objects

    from magnum_capi_rdma import driver as capi_driver

    conf = magnum.conf.CONF
    conf.set_default("connection", "sqlite:///" + spec["database"],
                     group="database")
    magnum_config.parse_args([], default_config_files=[])
    for name, value in spec["capi_rdma"].items():
        conf.set_override(name, value, group="capi_rdma")
    context = magnum_context.RequestContext(
        project_id=spec["project_id"], user_id=spec["user_id"],
        is_admin=False)
    driver = capi_driver.Driver()
    print("conductor %d: polling health" % os.getpid(), flush=True)
    while True:
        cluster = objects.Cluster.get_by_uuid(context, spec["cluster"])
        monitor = driver.get_monitor(context, cluster)
        monitor.poll_health_status()
        print("conductor %d: %s" % (os.getpid(), monitor.data.get(
            "health_status_reason", {}).get("rdma_selftest")), flush=True)
        time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(conductor(sys.argv[1]))


# -- the tests --------------------------------------------------------------

from unittest import mock  # noqa: E402

import kubernetes  # noqa: E402
from magnum.objects import fields  # noqa: E402
from oslo_db.sqlalchemy import enginefacade  # noqa: E402
import pytest  # noqa: E402

from magnum_capi_rdma.cmd import cli  # noqa: E402
from magnum_capi_rdma import selftest  # noqa: E402
from magnum_capi_rdma.services import runtime  # noqa: E402
from magnum_capi_rdma_dev.simulator import Simulator  # noqa: E402
from magnum_capi_rdma_dev.simulator import workload as workload_mod  # noqa
from tests.support import lifecycle  # noqa: E402

RESOURCE = "rdma/rdma_shared_device_a"
SELFTEST_LABELS = {"rdma_selftest_enabled": "true",
                   "rdma_selftest_min_bandwidth_gbps": "50"}
DELAYS = {"perftest": 0.3, "rdma_operator": 0.2, "workload_pod": 0.1}


@pytest.fixture(scope="module")
def workload_servers(tmp_path_factory, summary_line):
    servers = workload_mod.WorkloadServers(
        str(tmp_path_factory.mktemp("workloads")))
    try:
        yield servers
    finally:
        if servers.started:
            summary_line(
                "workload API servers (%s CRDs): %d started, in %s s, "
                "resident %s MiB at start" % (
                    servers.crd_source, len(servers.started), ", ".join(
                        "%.1f" % s[2] for s in servers.started), ", ".join(
                        "%.0f" % sum(s[3].values())
                        for s in servers.started)))
        servers.stop_all()


@pytest.fixture
def simulator(kube_api_client, workload_servers):
    """The simulator, each cluster with its real workload API server."""
    sim = Simulator(kube_api_client, delays=DELAYS,
                    workloads=workload_servers)
    sim.start(interval=0.2)
    try:
        yield sim
    finally:
        sim.stop()


class TestSelfTest(lifecycle.LifecycleBase):

    @pytest.fixture(autouse=True)
    def _servers(self, workload_servers, tmp_path):
        self.servers = workload_servers
        self.tmp = str(tmp_path)

    # -- helpers --

    def create(self, name, node_count=2, labels=None):
        # Magnum's test template has made-up proxies ("fake_http_proxy"),
        # which the driver refuses: none here.
        real = lifecycle.obj_utils.create_test_cluster_template

        def template(context, **kw):
            for field in ("http_proxy", "https_proxy", "no_proxy"):
                kw.setdefault(field, None)
            return real(context, **kw)
        with mock.patch.object(lifecycle.obj_utils,
                               "create_test_cluster_template", template):
            cluster = self.make_cluster(name=name, node_count=node_count,
                                        labels=dict(SELFTEST_LABELS,
                                                    **(labels or {})))
        self.driver.create_cluster(self.context, cluster, 30)
        cluster.save()
        return self.wait_status(cluster,
                                fields.ClusterStatus.CREATE_COMPLETE)

    def workload(self, cluster):
        """The ApiClient of the cluster's workload API server."""
        key = (self.namespace(cluster), cluster.stack_id)
        lifecycle.wait_for(lambda: key in self.servers.ready(), 120,
                           what="the workload API server of %s" % key[1])
        return self.servers.ready()[key].api_client

    def poll(self, cluster):
        cluster = self.sync(cluster)
        monitor = self.driver.get_monitor(self.context, cluster)
        monitor.poll_health_status()
        return monitor.data["health_status"], monitor.data[
            "health_status_reason"]

    def selftest_state(self, cluster, states, timeout=90, health=None):
        """Poll health until the self-test entry is in ``states``.

        With ``health``, until the cluster's health is that too (the RDMA
        stack of a new cluster takes a few polls to be ready).
        """
        seen = []

        def done():
            status, reason = self.poll(cluster)
            entry = json.loads(reason.get("rdma_selftest") or "null")
            seen.append((status, reason))
            if entry and entry.get("state") in states and (
                    health is None or status == health):
                return status, reason, entry
            return None
        try:
            return lifecycle.wait_for(done, timeout, 0.3,
                                      what="self-test %s" % (states,))
        except AssertionError:
            try:
                pods = [(p.metadata.name, p.status.phase, p.spec.node_name,
                         p.status.conditions, p.status.container_statuses)
                        for p in self.pods(cluster)]
            except Exception as exc:
                pods = exc
            raise AssertionError(
                "self-test never reached %s; last: %s; workload servers: %s;"
                " pods: %s" % (states, seen[-2:], {
                    k: (s.state, s.error) for k, s in
                    self.servers._servers.items()}, pods))

    def pods(self, cluster):
        core = kubernetes.client.CoreV1Api(self.workload(cluster))
        return [p for p in core.list_pod_for_all_namespaces(
            label_selector=selftest.POD_SELECTOR).items]

    def wait_pods(self, cluster, predicate, what, timeout=30):
        """Poll health (the driver's steps) until the pods are so."""
        def done():
            self.poll(cluster)
            return predicate(self.pods(cluster))
        lifecycle.wait_for(done, timeout, 0.3, what=what)

    def record(self, cluster):
        return selftest.record_from_lease(self.kube.get_lease(
            self.namespace(cluster),
            selftest.lease_name(cluster.stack_id)))

    def request_with_cli(self, cluster):
        conf = os.path.join(self.tmp, "magnum.conf")
        with open(conf, "w") as out:
            out.write("[capi_rdma]\nkubeconfig_file = %s\n"
                      % self.driver_kubeconfig())
        before = self.record(cluster).request
        assert cli.main(["selftest", cluster.uuid, "--config-file",
                         conf]) == 0
        assert self.record(cluster).request == before + 1

    def delete(self, cluster):
        self.driver.delete_cluster(self.context, cluster)
        cluster.status = fields.ClusterStatus.DELETE_IN_PROGRESS
        cluster.save()
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.DELETE_COMPLETE)
        assert self.leftovers(cluster) == {}
        key = (self.namespace(cluster), cluster.stack_id)
        lifecycle.wait_for(lambda: key not in self.servers.ready(), 30,
                           what="the workload API server to stop")

    # -- the tests --

    def test_passed_below_threshold_failed_timed_out(self):
        cluster = self.create("selftest")
        release = cluster.stack_id
        api = self.workload(cluster)

        # The simulated kubelets made a Node per Machine, with what CAPI
        # sees, and the RDMA nodes advertise the resource.
        machines = {m["status"]["nodeRef"]["name"]: m
                    for m in self.machines(cluster)}
        assert len(machines) == 3
        core = kubernetes.client.CoreV1Api(api)

        def all_nodes():
            items = core.list_node().items
            return items if len(items) == 3 and all(
                n.status.allocatable for n in items) else None
        nodes = lifecycle.wait_for(all_nodes, 30, what="a Node per Machine")
        assert sorted(n.metadata.name for n in nodes) == sorted(machines)
        for node in nodes:
            machine = machines[node.metadata.name]
            assert node.spec.provider_id == machine["spec"]["providerID"]
            internal = [a.address for a in node.status.addresses
                        if a.type == "InternalIP"]
            assert internal == [a["address"] for a in machine["status"][
                "addresses"] if a["type"] == "InternalIP"]

        # passed
        status, reason, entry = self.selftest_state(cluster, ("passed",),
                                                    health="HEALTHY")
        for node in core.list_node().items:
            worker = "cluster.x-k8s.io/control-plane" not in machines[
                node.metadata.name]["metadata"]["labels"]
            assert (RESOURCE in node.status.allocatable) == worker
        assert reason["rdma"] == ("NicClusterPolicy ready, 2/2 nodes "
                                  "advertise %s" % RESOURCE)
        workers = sorted(n for n, m in machines.items()
                         if "cluster.x-k8s.io/control-plane" not in
                         m["metadata"]["labels"])
        assert entry["nodes"] == workers
        assert entry["network"] == "default/rdma-net"
        assert 90 < entry["bandwidth_gbps"] < 100
        assert 2 < entry["latency_us"] < 4
        assert entry["min_bandwidth_gbps"] == 50
        assert entry["note"].startswith("simulated")
        lifecycle.wait_for(lambda: not self.pods(cluster), 10,
                           what="the self-test's pods to go")
        # Nothing changed: no new run.
        _, again, _ = self.selftest_state(cluster, ("passed",))
        assert json.loads(again["rdma_selftest"])["run"] == entry["run"]

        # below the threshold (label rdma_selftest_min_bandwidth_gbps=50),
        # run again on demand through the operator command
        self.sim.set_faults(release, {"rdma_bandwidth_gbps": 12.5})
        self.request_with_cli(cluster)
        status, reason, entry = self.selftest_state(
            cluster, ("below-threshold",))
        assert status == "UNHEALTHY"
        assert ("bandwidth 12.50 Gbit/s is below the minimum 50 Gbit/s "
                "(rdma_selftest_min_bandwidth_gbps) between %s (server) and "
                "%s (client) on default/rdma-net" % tuple(workers)) in (
                    entry["reason"])

        # a broken fabric
        self.sim.set_faults(release, {
            "rdma_fabric_failure": "port security drops RoCE"})
        self.request_with_cli(cluster)
        status, reason, entry = self.selftest_state(cluster, ("failed",))
        assert status == "UNHEALTHY"
        assert entry["reason"].startswith(
            "ib_write_bw failed between %s (server) and %s (client) on "
            "default/rdma-net: " % tuple(workers))
        assert "simulated fabric failure: port security drops RoCE" in (
            entry["reason"])

        # a client that never reports: timed out once the run is older
        # than [capi_rdma] selftest_timeout (its start moved back)
        self.sim.set_faults(release, {"rdma_selftest_hang": True})
        self.request_with_cli(cluster)
        self.selftest_state(cluster, ("running",))
        self.wait_pods(cluster, lambda pods: any(
            p.metadata.labels[selftest.ROLE_LABEL] == "client" and
            p.status.phase == "Running" for p in pods),
            "the client pod running")
        lease = self.kube.get_lease(self.namespace(cluster),
                                    selftest.lease_name(release))
        lease["metadata"]["annotations"][selftest.RUN_STARTED_KEY] = (
            datetime.datetime.now(datetime.timezone.utc) -
            datetime.timedelta(hours=1)).isoformat()
        self.kube.replace_lease(self.namespace(cluster), lease)
        status, reason, entry = self.selftest_state(cluster, ("timed-out",))
        assert status == "UNHEALTHY"
        assert entry["reason"].startswith("no result after 600 s between")
        assert "client pod Running on %s" % workers[1] in entry["reason"]
        lifecycle.wait_for(lambda: not self.pods(cluster), 10,
                           what="the timed-out run's pods to go")

        # healthy again once the fabric is fixed and the test rerun
        self.sim.clear_faults(release)
        self.request_with_cli(cluster)
        self.selftest_state(cluster, ("passed",), health="HEALTHY")
        self.delete(cluster)

    def test_one_rdma_node_is_skipped_and_health_unaffected(self):
        cluster = self.create("selftest-one", node_count=1)
        status, reason, entry = self.selftest_state(cluster, ("skipped",),
                                                    health="HEALTHY")
        assert reason["rdma"] == ("NicClusterPolicy ready, 1/1 nodes "
                                  "advertise %s" % RESOURCE)
        assert entry["reason"].startswith(
            "fewer than two RDMA nodes (1 in node group default-worker)")
        assert self.pods(cluster) == []
        self.delete(cluster)

    def test_resize_of_the_rdma_group_runs_it_again(self):
        cluster = self.create("selftest-resize")
        _, _, first = self.selftest_state(cluster, ("passed",))
        worker = [ng for ng in cluster.nodegroups if ng.role != "master"][0]
        worker.node_count = 3
        worker.save()
        cluster.status = fields.ClusterStatus.UPDATE_IN_PROGRESS
        cluster.save()
        self.driver.resize_cluster(self.context, cluster, None, 3, None,
                                   worker)
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.UPDATE_COMPLETE)
        _, _, second = self.selftest_state(cluster, ("passed",))
        lifecycle.wait_for(
            lambda: json.loads(self.poll(cluster)[1]["rdma_selftest"])[
                "run"] != first["run"], 60, 0.3, what="a second run")
        assert second["state"] == "passed"
        self.delete(cluster)

    def test_delete_during_a_test_removes_its_pods(self):
        cluster = self.create("selftest-delete")
        release = cluster.stack_id
        self.sim.set_faults(release, {"rdma_selftest_hang": True})
        self.selftest_state(cluster, ("running",))
        self.wait_pods(cluster, lambda pods: len(pods) == 2,
                       "the server and client pods")
        # Keep the Cluster (and its workload server) while we look.
        self.sim.set_faults(release, {"rdma_selftest_hang": True,
                                      "stuck_deletion": True})
        self.driver.delete_cluster(self.context, cluster)
        cluster.status = fields.ClusterStatus.DELETE_IN_PROGRESS
        cluster.save()
        lifecycle.wait_for(lambda: not self.pods(cluster), 10,
                           what="the self-test's pods to go")
        assert self.record(cluster).run is None
        self.sim.clear_faults(release)
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.DELETE_COMPLETE)
        assert self.leftovers(cluster) == {}

    def test_conductor_killed_mid_test(self):
        cluster = self.create("selftest-kill")
        release = cluster.stack_id
        self.sim.set_faults(release, {"rdma_selftest_hang": True})
        proc = self.start_conductor(cluster)
        try:
            lifecycle.wait_for(
                lambda: len(self.pods(cluster)) == 2 or
                proc.poll() is not None, 90, 0.2,
                what="the killed conductor's run to have its two pods")
            assert proc.poll() is None, "the conductor ended on its own"
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        run = self.record(cluster).run
        assert run, "no run in flight when the conductor died"
        runs = {p.metadata.labels[selftest.RUN_LABEL]
                for p in self.pods(cluster)}
        assert runs == {run}

        # A restarted conductor (a fresh driver) picks the run up.
        runtime.reset()
        self.kube = runtime.shared().kube
        self.sim.clear_faults(release)
        seen_runs = set()

        def passed():
            status, reason = self.poll(cluster)
            seen_runs.update(p.metadata.labels[selftest.RUN_LABEL]
                             for p in self.pods(cluster))
            entry = json.loads(reason.get("rdma_selftest") or "null")
            return entry if entry and entry["state"] == "passed" else None
        entry = lifecycle.wait_for(passed, 60, 0.3, what="passed")
        assert entry["run"] == run
        assert seen_runs <= {run}
        lifecycle.wait_for(lambda: not self.pods(cluster), 10,
                           what="no pods left")
        self.delete(cluster)

    def start_conductor(self, cluster):
        database = os.path.join(self.tmp, "magnum.sqlite")
        engine = enginefacade.writer.get_engine()
        raw = engine.raw_connection()
        try:
            target = sqlite3.connect(database)
            raw.driver_connection.backup(target)
            target.close()
        finally:
            raw.close()
        spec = os.path.join(self.tmp, "conductor.json")
        with open(spec, "w") as out:
            json.dump({"database": database, "cluster": cluster.uuid,
                       "project_id": self.context.project_id,
                       "user_id": self.context.user_id,
                       "capi_rdma": {
                           "kubeconfig_file": self.driver_kubeconfig(),
                           "chart_repo": lifecycle.TEST_CHART,
                           "helm_executable": self.helm_bin,
                           "status_max_staleness": 0}}, out)
        log = open(os.path.join(self.tmp, "conductor.log"), "w")
        self.addCleanup(log.close)
        return subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), spec], cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=ROOT), stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
