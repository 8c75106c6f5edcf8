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
"""Lightweight stand-ins for Magnum's Cluster and NodeGroup objects.

Both drivers' status passes get the same objects, built from the clusters
file the benchmark writes. They carry the attributes the drivers read
(uuid, project_id, stack_id, status, node groups, labels, template) and
``save``/``destroy`` that only count calls: the benchmark times the
drivers' reads of the management cluster, not Magnum's database.

Imports nothing from either driver: it runs in both virtualenvs.
"""

import datetime
import json
import resource
import sys
import time


class FakeTemplate(object):
    def __init__(self, labels):
        self.uuid = "00000000-0000-4000-8000-000000000001"
        self.labels = dict(labels)
        self.image_id = "ubuntu-2404-kube-v1.33.1"
        self.keypair_id = "bench"
        # By UUID: a name makes this driver's spec look it up in Neutron
        # (no Neutron here), magnum-capi-helm's only at create.
        self.external_network_id = "4c0a61e5-47b5-4b5e-9d3a-3e1a2f0b7c11"
        self.fixed_network = None
        self.fixed_subnet = None
        self.dns_nameserver = "8.8.8.8"
        self.master_flavor_id = "m1.medium"
        self.flavor_id = "m1.medium"
        self.master_lb_enabled = True
        self.floating_ip_enabled = True
        self.cluster_distro = "ubuntu"
        self.server_type = "vm"
        self.network_driver = "calico"
        self.volume_driver = "cinder"
        self.docker_volume_size = None


class FakeNodeGroup(object):
    def __init__(self, cluster, name, role, node_count, is_default, status):
        self.uuid = "%s-%s" % (cluster.uuid, name)
        self.cluster_id = cluster.uuid
        self.project_id = cluster.project_id
        self.name = name
        self.role = role
        self.node_count = node_count
        self.min_node_count = 0
        self.max_node_count = None
        self.is_default = is_default
        self.status = status
        self.status_reason = None
        self.node_addresses = []
        self.labels = dict(cluster.labels)
        self.version = None
        self.image_id = cluster.cluster_template.image_id
        self.flavor_id = "m1.medium"
        self.node_labels = None
        self.node_taints = None
        self.saves = 0

    def save(self):
        self.saves += 1

    def destroy(self):
        self.saves += 1


class FakeCluster(object):
    def __init__(self, record, status, labels):
        self.uuid = record["uuid"]
        self.name = record["name"]
        self.project_id = record["project_id"]
        self.user_id = "bench-user"
        self.stack_id = record["release"]
        self.status = status
        self.status_reason = None
        self.health_status = None
        self.health_status_reason = {}
        self.api_address = None
        self.coe_version = None
        self.labels = dict(labels)
        self.cluster_template = FakeTemplate(labels)
        self.cluster_template_id = self.cluster_template.uuid
        self.master_count = 1
        self.node_count = 2
        self.keypair = "bench"
        self.flavor_id = "m1.medium"
        self.master_flavor_id = "m1.medium"
        self.fixed_network = None
        self.fixed_subnet = None
        self.floating_ip_enabled = True
        self.master_lb_enabled = True
        self.create_timeout = 60
        self.created_at = datetime.datetime.now(datetime.timezone.utc)
        self.saves = 0
        FakeCluster.stored[self.uuid] = self
        self.nodegroups = [
            FakeNodeGroup(self, "default-master", "master", 1, True, status),
            FakeNodeGroup(self, "default-worker", "worker", 2, True, status),
            FakeNodeGroup(self, "ng-2", "worker", 2, False, status),
        ]

    # The stored rows, as Magnum's database would return them: the driver
    # re-reads a cluster before saving a status change.
    stored = {}

    @classmethod
    def get_by_uuid(cls, context, uuid):
        return cls.stored[uuid]

    def save(self):
        self.saves += 1
        FakeCluster.stored[self.uuid] = self


def load_clusters(path, status, labels):
    """FakeCluster objects for every record of the clusters file."""
    with open(path) as f:
        records = json.load(f)
    return [FakeCluster(r, status, labels) for r in records]


def summary(clusters, health):
    """Counts of the statuses the pass left, for comparing the drivers."""
    out = {"status": {}, "nodegroup_status": {}, "health": {}}
    for cluster in clusters:
        out["status"][cluster.status] = out["status"].get(
            cluster.status, 0) + 1
        for ng in cluster.nodegroups:
            out["nodegroup_status"][ng.status] = out[
                "nodegroup_status"].get(ng.status, 0) + 1
    for value in health:
        out["health"][value] = out["health"].get(value, 0) + 1
    return out


def wait_for_go(phase="ready"):
    """Tell run.py a phase is done; wait until it has read /metrics."""
    sys.stdout.write(phase + "\n")
    sys.stdout.flush()
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("run.py did not say go")


def maxrss_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def timed(func, *args):
    """(result, wall seconds, CPU seconds) of ``func(*args)``."""
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    result = func(*args)
    wall = time.monotonic() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    return result, wall, (cpu1.ru_utime - cpu0.ru_utime) + (
        cpu1.ru_stime - cpu0.ru_stime)


def run_pass(driver, clusters):
    """update_cluster_status then poll_health_status for every cluster."""
    health = []
    for cluster in clusters:
        # The pass works on the rows as they are now.
        FakeCluster.stored[cluster.uuid] = cluster
        driver.update_cluster_status(None, cluster)
        monitor = driver.get_monitor(None, cluster)
        monitor.poll_health_status()
        health.append(monitor.data.get("health_status"))
    return health


def change_latency(driver, cluster, wanted="UPDATE_COMPLETE", timeout=120,
                   interval=0.005):
    """Seconds until a status call sees the change run.py makes.

    Says "ready-change", reads "change" (run.py then writes a Machine and
    its MachineDeployment as ready), and calls ``update_cluster_status``
    on the changed cluster every ``interval`` seconds until its status is
    ``wanted``. Returns (time.time() when seen, calls made).
    """
    sys.stdout.write("ready-change\n")
    sys.stdout.flush()
    if sys.stdin.readline().strip() != "change":
        raise SystemExit("run.py did not say change")
    deadline = time.monotonic() + timeout
    calls = 0
    while time.monotonic() < deadline:
        FakeCluster.stored[cluster.uuid] = cluster
        driver.update_cluster_status(None, cluster)
        calls += 1
        if cluster.status == wanted:
            return time.time(), calls
        time.sleep(interval)
    return None, calls


def protocol(driver, clusters_file, labels, stats=None, between=None):
    """The measured life of one driver process, as run.py drives it.

    1. "loaded": imports done, the driver made (run.py reads /metrics);
    2. the first pass, as a conductor's first (clients, connections,
       for this driver the cache's LISTs and watches); "first-done";
    3. ``between()`` if given, then the steady pass: what every later
       pass costs; "steady-done";
    4. the change: see :func:`change_latency`, on the last cluster.

    Returns the dict printed as the process's last line.
    """
    first_clusters = load_clusters(clusters_file, "UPDATE_IN_PROGRESS",
                                   labels)
    clusters = load_clusters(clusters_file, "UPDATE_IN_PROGRESS", labels)
    rss_loaded = maxrss_kib()
    wait_for_go("loaded")
    _, first_wall, first_cpu = timed(run_pass, driver, first_clusters)
    rss_first = maxrss_kib()
    first_stats = stats() if stats else None
    del first_clusters
    wait_for_go("first-done")
    if between is not None:
        between()
    health, wall, cpu = timed(run_pass, driver, clusters)
    steady_stats = stats() if stats else None
    # The statuses this pass left (the change below completes one more).
    left = summary(clusters, health)
    wait_for_go("steady-done")
    changed = clusters[-1]
    seen, calls = change_latency(driver, changed)
    return {
        "clusters": len(clusters),
        "first_wall_s": first_wall,
        "first_cpu_s": first_cpu,
        "wall_s": wall,
        "cpu_s": cpu,
        "maxrss_kib": maxrss_kib(),
        "rss_loaded_kib": rss_loaded,
        "rss_after_first_kib": rss_first,
        "summary": left,
        "change_seen_at": seen,
        "change_calls": calls,
        "first_stats": first_stats,
        "steady_stats": steady_stats,
        "example_reason": clusters[0].status_reason if clusters else None,
    }
