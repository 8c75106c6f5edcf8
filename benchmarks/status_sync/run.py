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
"""Status sync at cloud scale: magnum-capi-rdma next to magnum-capi-helm.

Starts its own management cluster (etcd + kube-apiserver on loopback, from
``magnum_capi_rdma_dev/bed``), makes N clusters' worth of Cluster API
objects and times one full status + health pass of each driver over all N
clusters, for each N.
API requests are counted by the API server itself (``/metrics``,
``apiserver_request_total``), scraped before and after each pass.

Objects: the project's test chart is rendered once (``helm template``) for
a seed release with 1 control plane machine, 2 node groups of 2 machines
and 12 add-ons; the simulator reconciles the seed to Ready. Every benchmark
cluster is then a copy of the seed's Cluster, OpenStackCluster,
KubeadmControlPlane, MachineDeployments, Machines, HelmReleases and
Manifests, with the seed's release name and namespace replaced, created
through the API and given the seed's status through the status
subresource: the shape the simulator (and so the controllers) write.
Ten clusters per project namespace.

Usage: ``python benchmarks/status_sync/run.py [--sizes 10,100,1000]``
(see README.md).
"""

import argparse
import base64
import concurrent.futures
import datetime
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import requests
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)

from magnum_capi_rdma import operations  # noqa: E402
from magnum_capi_rdma_dev.bed import cluster as bed_cluster  # noqa: E402
from magnum_capi_rdma_dev.bed import tools as bed_tools  # noqa: E402

THEIR_VERSION = "1.4.0"
THEIR_VENV = os.path.expanduser(
    "~/.cache/magnum-capi-rdma/venvs/magnum-capi-helm-%s" % THEIR_VERSION)
SEED_RELEASE = "zseedrelease"
SEED_NAMESPACE = "magnum-zseedproject"
CLUSTERS_PER_PROJECT = 10
CHART = os.path.join(ROOT, "tests", "charts", "openstack-cluster")

# What each benchmark cluster gets (the kinds both drivers read).
COPIED = {
    "Cluster": ("cluster.x-k8s.io/v1beta1", "clusters"),
    "OpenStackCluster": ("infrastructure.cluster.x-k8s.io/v1beta1",
                         "openstackclusters"),
    "KubeadmControlPlane": ("controlplane.cluster.x-k8s.io/v1beta1",
                            "kubeadmcontrolplanes"),
    "MachineDeployment": ("cluster.x-k8s.io/v1beta1", "machinedeployments"),
    "Machine": ("cluster.x-k8s.io/v1beta1", "machines"),
    "HelmRelease": ("addons.stackhpc.com/v1alpha1", "helmreleases"),
    "Manifests": ("addons.stackhpc.com/v1alpha1", "manifests"),
}

SEED_VALUES = {
    "controlPlane": {"machineCount": 1},
    "nodeGroups": [{"name": "default-worker", "machineCount": 2},
                   {"name": "ng-2", "machineCount": 2}],
    "addons": {
        "monitoring": {"enabled": True},
        "nvidiaGPUOperator": {"enabled": True},
        "mellanoxNetworkOperator": {"enabled": True},
        "openstack": {"k8sKeystoneAuth": {"enabled": True}},
        "custom": {
            name: {"kind": "Manifests",
                   "spec": {"namespace": "kube-system",
                            "manifests": {"cm.yaml": (
                                "apiVersion: v1\nkind: ConfigMap\n"
                                "metadata:\n  name: %s\n" % name)}}}
            for name in ("site-policy", "site-quota", "site-motd")},
    },
}

# The API server's own traffic, not made by either driver. Of Leases only
# the API server's identity-lease GETs and UPDATEs are background: our
# driver LISTs Leases (its operation records) once per pass.
BACKGROUND_RESOURCES = ("endpointslices", "endpoints", "events")
BACKGROUND_REQUESTS = (("GET", "leases"), ("PUT", "leases"),
                       ("UPDATE", "leases"), ("PATCH", "leases"),
                       ("CREATE", "leases"), ("POST", "leases"),
                       ("WATCH", "leases"))


class Api(object):
    """Thin REST access with one keep-alive session per thread."""

    def __init__(self, bed):
        self.server = bed.server
        self.token = bed.admin_token
        self.ca = bed.ca_file
        self._local = threading.local()

    @property
    def session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["Authorization"] = "Bearer " + self.token
            self._local.session = session
        return session

    def path(self, api_version, plural, namespace, name=None):
        base = "/api/v1" if api_version == "v1" else "/apis/" + api_version
        path = "%s/namespaces/%s/%s" % (base, namespace, plural)
        return path + ("/" + name if name else "")

    def request(self, method, path, body=None, content_type=None,
                ok=(200, 201)):
        headers = {"Content-Type": content_type or "application/json"}
        # verify per request: requests lets REQUESTS_CA_BUNDLE override a
        # session's verify.
        response = self.session.request(
            method, self.server + path, headers=headers, verify=self.ca,
            data=None if body is None else json.dumps(body), timeout=60)
        if response.status_code not in ok:
            raise RuntimeError("%s %s: %s %s" % (
                method, path, response.status_code, response.text[:300]))
        return response

    def create(self, obj, plural):
        meta = obj["metadata"]
        self.request("POST", self.path(obj["apiVersion"], plural,
                                       meta["namespace"]), obj,
                     ok=(201, 409))

    def write_status(self, obj, plural):
        if not obj.get("status"):
            return
        meta = obj["metadata"]
        self.request(
            "PATCH", self.path(obj["apiVersion"], plural, meta["namespace"],
                               meta["name"]) + "/status",
            {"status": obj["status"]},
            content_type="application/merge-patch+json")

    def namespace(self, name):
        self.request("POST", "/api/v1/namespaces",
                     {"apiVersion": "v1", "kind": "Namespace",
                      "metadata": {"name": name}}, ok=(201, 409))

    def list(self, api_version, plural, namespace):
        return self.request(
            "GET", self.path(api_version, plural, namespace)).json()["items"]

    def metrics(self):
        """{(verb, resource): count} of apiserver_request_total."""
        text = self.request("GET", "/metrics").text
        return parse_request_metrics(text)


def parse_request_metrics(text):
    counts = {}
    for line in text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels_text, _, value = line.rpartition(" ")
        labels = {}
        for part in labels_text[len("apiserver_request_total{"):-1].split(
                '",'):
            key, _, val = part.partition("=")
            labels[key] = val.strip('"')
        key = (labels.get("verb", ""), labels.get("resource", ""))
        counts[key] = counts.get(key, 0) + float(value)
    return counts


def request_delta(before, after):
    """Requests between two scrapes, by verb/resource (drivers' only)."""
    delta = {}
    for key, value in after.items():
        diff = int(round(value - before.get(key, 0)))
        verb, resource = key
        if diff <= 0 or not resource or resource in BACKGROUND_RESOURCES:
            continue
        if (verb, resource) in BACKGROUND_REQUESTS:
            continue
        delta["%s %s" % (verb, resource)] = diff
    return delta


# -- the seed cluster ------------------------------------------------------

def plural_of(kind):
    return "manifests" if kind == "Manifests" else kind.lower() + "s"


def render_seed(helm):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as values:
        yaml.safe_dump(SEED_VALUES, values)
        values.flush()
        out = subprocess.run(
            [helm, "template", SEED_RELEASE, CHART, "-n", SEED_NAMESPACE,
             "-f", values.name], check=True, capture_output=True,
            text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def make_seed(api, api_client, helm, log):
    """The seed release, reconciled to Ready by the simulator."""
    from magnum_capi_rdma_dev.simulator import core as sim_core
    from magnum_capi_rdma_dev.simulator import faults

    api.namespace(SEED_NAMESPACE)
    for obj in render_seed(helm):
        obj["metadata"]["namespace"] = SEED_NAMESPACE
        api.create(obj, plural_of(obj["kind"]))
    sim = sim_core.Simulator(
        api_client, namespace=SEED_NAMESPACE,
        delays={k: 0 for k in faults.DEFAULT_DELAYS})
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        sim.step()
        seed = read_seed(api)
        if seed_ready(seed):
            log("seed release Ready after %d simulator steps" % sim.steps)
            return seed
        time.sleep(0.2)
    raise RuntimeError("the seed release did not become Ready: %s" %
                       seed_state(read_seed(api)))


def read_seed(api):
    return {kind: api.list(version, plural, SEED_NAMESPACE)
            for kind, (version, plural) in COPIED.items()}


def _true(obj, condition):
    for cond in (obj.get("status") or {}).get("conditions") or ():
        if cond.get("type") == condition:
            return cond.get("status") == "True"
    return False


def seed_state(seed):
    return {
        "cluster_ready": bool(seed["Cluster"]) and _true(
            seed["Cluster"][0], "Ready"),
        "machines_running": sum(
            1 for m in seed["Machine"]
            if (m.get("status") or {}).get("phase") == "Running"),
        "addons_deployed": sum(
            1 for a in seed["HelmRelease"] + seed["Manifests"]
            if (a.get("status") or {}).get("phase") == "Deployed"),
        "addons": len(seed["HelmRelease"] + seed["Manifests"]),
        "machine_deployments_running": sum(
            1 for m in seed["MachineDeployment"]
            if (m.get("status") or {}).get("phase") == "Running"),
    }


def seed_ready(seed):
    state = seed_state(seed)
    return (state["cluster_ready"] and state["machines_running"] == 5 and
            state["addons"] == 12 and state["addons_deployed"] == 12 and
            state["machine_deployments_running"] == 2)


def template_of(seed):
    """The seed's objects without server-set metadata, as JSON text."""
    out = []
    for kind, objects in seed.items():
        for obj in objects:
            meta = obj["metadata"]
            for key in ("uid", "resourceVersion", "creationTimestamp",
                        "generation", "managedFields"):
                meta.pop(key, None)
            out.append((COPIED[kind][1], json.dumps(obj)))
    return out


# -- benchmark clusters ----------------------------------------------------

def cluster_record(index):
    project = uuid.UUID(int=(index // CLUSTERS_PER_PROJECT) + 1).hex
    return {
        "uuid": str(uuid.UUID(int=(1 << 64) + index)),
        "name": "bench-%05d" % index,
        "project_id": project,
        "release": "bench-%05d-%s" % (index, project[-6:]),
        "namespace": "magnum-" + project,
    }


def _owner_labels(record):
    return {
        "magnum.openstack.org/managed-by": "magnum-capi-rdma",
        "magnum.openstack.org/cluster-uuid": record["uuid"],
        "magnum.openstack.org/project-id": record["project_id"],
    }


def credentials_secret(record):
    clouds = base64.b64encode(b"clouds: {}\n").decode()
    return {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {
            "name": record["release"] + "-cloud-credentials",
            "namespace": record["namespace"],
            "labels": _owner_labels(record),
        },
        "data": {"clouds.yaml": clouds},
    }


def operation_lease(record):
    """The cluster's operation record, as our driver writes it."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return operations.lease_body(
        record["namespace"], record["release"], _owner_labels(record),
        operations.record_annotations(operations.Record(
            operation="UPDATE", started=now, timeout_minutes=60)),
        None, None, 60, now)


def create_cluster(api, template, record):
    for plural, text in template:
        text = text.replace(SEED_RELEASE, record["release"]).replace(
            SEED_NAMESPACE, record["namespace"])
        obj = json.loads(text)
        api.create(obj, plural)
        api.write_status(obj, plural)
    api.create(credentials_secret(record), "secrets")
    api.create(operation_lease(record), "leases")


def create_clusters(api, template, records, workers=8):
    namespaces = sorted({r["namespace"] for r in records})
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(api.namespace, namespaces))
        list(pool.map(lambda r: create_cluster(api, template, r), records))


# -- creating clusters straight into etcd ----------------------------------

class Etcd(object):
    """etcd's JSON gateway (the bed's own etcd, on loopback)."""

    #: Puts per transaction (etcd's --max-txn-ops is 128).
    BATCH = 100

    def __init__(self, port):
        self.url = "http://127.0.0.1:%d" % port
        self.session = requests.Session()

    def call(self, path, body):
        response = self.session.post(self.url + path, json=body, timeout=120)
        response.raise_for_status()
        return response.json()

    @staticmethod
    def b64(data):
        if isinstance(data, str):
            data = data.encode()
        return base64.b64encode(data).decode()

    def prefix(self, prefix):
        """[(key, value text)] of every key under ``prefix``."""
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        found = self.call("/v3/kv/range", {"key": self.b64(prefix),
                                           "range_end": self.b64(end)})
        return [(base64.b64decode(kv["key"]).decode(),
                 base64.b64decode(kv["value"]).decode())
                for kv in found.get("kvs", [])]

    def put_many(self, items):
        for i in range(0, len(items), self.BATCH):
            self.call("/v3/kv/txn", {"success": [
                {"requestPut": {"key": self.b64(k), "value": self.b64(v)}}
                for k, v in items[i:i + self.BATCH]]})


def stored_seed(etcd):
    """The seed's objects as kube-apiserver stored them.

    Custom resources are stored as JSON, without resourceVersion (etcd's
    revision is that); with each object, the seed uids found in it.
    """
    stored = []
    for version, plural in COPIED.values():
        group = version.split("/")[0]
        stored += etcd.prefix("/registry/%s/%s/%s/" % (
            group, plural, SEED_NAMESPACE))
    uids = sorted({json.loads(text)["metadata"]["uid"]
                   for _, text in stored})
    return [(key, text, [u for u in uids if u in text])
            for key, text in stored]


def create_clusters_etcd(api, etcd, seed, records, workers=8):
    """Clusters' custom resources written into etcd, the rest by the API.

    Each object is the seed's stored JSON with the release, namespace and
    uids replaced (the API server serves it, and its watch cache learns
    it, as if created through the API); the namespaces, credentials
    Secrets and operation Leases (built-in kinds, stored as protobuf) go
    through the API.
    """
    namespaces = sorted({r["namespace"] for r in records})
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(api.namespace, namespaces))
        puts = []
        for record in records:
            for key, text, uids in seed:
                for uid in uids:
                    text = text.replace(uid, str(uuid.uuid5(
                        uuid.NAMESPACE_URL, record["release"] + uid)))
                puts.append((
                    key.replace(SEED_NAMESPACE, record["namespace"]).replace(
                        SEED_RELEASE, record["release"]),
                    text.replace(SEED_NAMESPACE, record["namespace"]).replace(
                        SEED_RELEASE, record["release"])))
            if len(puts) >= 20 * Etcd.BATCH:
                etcd.put_many(puts)
                puts = []
        etcd.put_many(puts)

        def owned(record):
            api.create(credentials_secret(record), "secrets")
            api.create(operation_lease(record), "leases")
        list(pool.map(owned, records))


# -- the change: a Machine becoming ready ----------------------------------

#: The node group whose Machine the change makes ready.
CHANGED_GROUP = "ng-2"


def change_objects(template):
    """(machine name, its ready status, MD name, its ready status).

    Names with the seed's release in them; the statuses are the seed's
    (the simulator's Ready).
    """
    machines = [json.loads(text) for plural, text in template
                if plural == "machines"]
    machine = sorted(
        (m for m in machines if (m["metadata"].get("labels") or {}).get(
            "capi.stackhpc.com/node-group") == CHANGED_GROUP),
        key=lambda m: m["metadata"]["name"])[0]
    md_name = "%s-%s" % (SEED_RELEASE, CHANGED_GROUP)
    md = [json.loads(text) for plural, text in template
          if plural == "machinedeployments" and
          json.loads(text)["metadata"]["name"] == md_name][0]
    return (machine["metadata"]["name"], machine["status"], md_name,
            md["status"])


def not_ready(machine_status, md_status):
    """The same objects one Machine short of ready (still provisioning)."""
    def false(conditions, ready_types):
        return [dict(c, status="False", reason="WaitingForInfrastructure")
                if c.get("type") in ready_types else c
                for c in conditions or ()]

    machine = dict(machine_status, phase="Provisioning")
    machine["conditions"] = false(machine_status.get("conditions"),
                                  ("Ready", "InfrastructureReady",
                                   "NodeHealthy"))
    machine["v1beta2"] = dict(machine_status.get("v1beta2") or {})
    machine["v1beta2"]["conditions"] = false(
        machine["v1beta2"].get("conditions"),
        ("Available", "Ready", "InfrastructureReady", "NodeHealthy",
         "NodeReady"))
    total = md_status.get("replicas") or 2
    md = dict(md_status, phase="ScalingUp", readyReplicas=total - 1,
              availableReplicas=total - 1, unavailableReplicas=1)
    md["conditions"] = false(md_status.get("conditions"),
                             ("Ready", "Available"))
    md["v1beta2"] = dict(md_status.get("v1beta2") or {},
                         readyReplicas=total - 1,
                         availableReplicas=total - 1)
    return machine, md


def set_ready(api, change, record, ready):
    """Write the changed cluster's Machine and MachineDeployment statuses.

    Ready: the Machine first, then its MachineDeployment's counters, as
    Cluster API's controllers write them.
    """
    machine_name, machine_status, md_name, md_status = change
    if not ready:
        machine_status, md_status = not_ready(machine_status, md_status)
    for plural, name, status in (
            ("machines", machine_name, machine_status),
            ("machinedeployments", md_name, md_status)):
        api.request(
            "PATCH", api.path("cluster.x-k8s.io/v1beta1", plural,
                              record["namespace"], name.replace(
                                  SEED_RELEASE, record["release"])) +
            "/status", {"status": status},
            content_type="application/merge-patch+json")


# -- passes ----------------------------------------------------------------

def pass_environment():
    """The environment of a pass, without CA bundle overrides.

    ``requests`` (used by magnum-capi-helm) prefers REQUESTS_CA_BUNDLE and
    CURL_CA_BUNDLE over the CA a session sets from the kubeconfig, which
    would fail every request to the test bed's own CA.
    """
    env = dict(os.environ)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        env.pop(name, None)
    return env


SAMPLE_KEYS = ("wall_s", "cpu_s", "first_wall_s", "first_cpu_s",
               "maxrss_kib", "requests_total", "first_requests_total",
               "change_latency_s", "requests", "first_requests")


def median_pass(samples):
    """The sample with the median steady wall time, with every sample."""
    ordered = sorted(samples, key=lambda r: r["wall_s"])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["samples"] = [{k: r.get(k) for k in SAMPLE_KEYS}
                         for r in samples]
    return chosen


def _expect(proc, wanted, script):
    line = proc.stdout.readline().strip()
    if line != wanted:
        proc.kill()
        out, err = proc.communicate()
        raise RuntimeError("%s said %r, not %r:\n%s" % (
            script, line, wanted, err[-3000:]))


def _say(proc, word):
    proc.stdin.write(word + "\n")
    proc.stdin.flush()


def run_pass(api, python, script, kubeconfig, clusters_file, extra=(),
             change=None):
    """One driver process: first pass, steady pass, change latency.

    Requests of each pass are counted by the API server (/metrics scraped
    between the phases of :func:`fakes.protocol`). ``change()`` makes the
    change whose latency is measured.
    """
    proc = subprocess.Popen(
        [python, os.path.join(HERE, script), kubeconfig, clusters_file] +
        list(extra), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, cwd=HERE,
        env=pass_environment())
    scrapes = []
    for phase in ("loaded", "first-done", "steady-done"):
        _expect(proc, phase, script)
        scrapes.append(api.metrics())
        _say(proc, "go")
    _expect(proc, "ready-change", script)
    _say(proc, "change")
    changed_at = time.time()
    if change is not None:
        change()
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError("%s failed:\n%s" % (script, err[-3000:]))
    result = json.loads(out.strip().splitlines()[-1])
    result["first_requests"] = request_delta(scrapes[0], scrapes[1])
    result["first_requests_total"] = sum(result["first_requests"].values())
    result["requests"] = request_delta(scrapes[1], scrapes[2])
    result["requests_total"] = sum(result["requests"].values())
    seen = result.get("change_seen_at")
    result["change_latency_s"] = (seen - changed_at) if seen else None
    return result


def ensure_their_venv(log):
    python = os.path.join(THEIR_VENV, "bin", "python")
    check = [python, "-c", "import magnum_capi_helm, magnum"]
    if os.path.exists(python) and subprocess.run(
            check, capture_output=True).returncode == 0:
        return python
    log("making %s (magnum-capi-helm %s from PyPI)" % (THEIR_VENV,
                                                       THEIR_VERSION))
    subprocess.run([sys.executable, "-m", "venv", "--clear", THEIR_VENV],
                   check=True)
    subprocess.run([python, "-m", "pip", "install", "-q",
                    "magnum-capi-helm==%s" % THEIR_VERSION,
                    "magnum==23.0.0"], check=True)
    return python


def their_versions(python):
    code = ("import importlib.metadata as m; print(m.version("
            "'magnum-capi-helm'), m.version('magnum'))")
    out = subprocess.run([python, "-c", code], capture_output=True,
                         text=True, check=True).stdout.split()
    return {"magnum-capi-helm": out[0], "magnum": out[1]}


# -- report ----------------------------------------------------------------

def ratio(ours, theirs):
    if not theirs or ours is None:
        return None
    return ours / theirs


def _f(value, fmt):
    return "-" if value is None else fmt % value


def _mib(kib):
    return None if kib is None else kib / 1024.0


def extrapolate(rows, n, key="theirs"):
    """A driver's figures at ``n`` clusters from its two largest runs.

    Requests, wall and CPU time grow linearly with the clusters (every
    cluster costs the same requests); so does peak RSS (the fake Magnum
    rows), from the slope between the two largest measured sizes.
    """
    measured = [r for r in rows if not r[key].get("extrapolated")]
    a, b = measured[-2], measured[-1]
    scale = float(n) / b["n"]
    slope = ((b[key]["maxrss_kib"] - a[key]["maxrss_kib"]) /
             float(b["n"] - a["n"]))
    out = {"driver": b[key]["driver"], "extrapolated": True,
           "extrapolated_from": b["n"], "clusters": n}
    for field in ("wall_s", "cpu_s", "first_wall_s", "first_cpu_s",
                  "requests_total", "first_requests_total"):
        out[field] = b[key][field] * scale
    out["maxrss_kib"] = b[key]["maxrss_kib"] + slope * (n - b["n"])
    out["change_latency_s"] = b[key]["change_latency_s"]
    out["requests"] = {k: v * scale for k, v in b[key]["requests"].items()}
    out["summary"] = {"status": {}, "health": {}}
    return out


def format_results(report):
    lines = [
        "Status sync benchmark (benchmarks/status_sync/run.py)",
        "date: %s  host: %s CPUs, load %s" % (
            report["date"], report["cpus"], report["load"]),
        "magnum-capi-rdma: %s; magnum-capi-helm %s with magnum %s" % (
            report["ours_version"], report["theirs_versions"][
                "magnum-capi-helm"], report["theirs_versions"]["magnum"]),
        "one pass = update_cluster_status + poll_health_status for every "
        "cluster; requests counted by kube-apiserver (/metrics); each "
        "driver in a fresh process: first pass, then the steady pass; "
        "median of the repeats by steady wall time; change = a Machine "
        "and its MachineDeployment written ready, until update_cluster_"
        "status says UPDATE_COMPLETE; * = extrapolated",
        "",
        "%6s %-24s %6s %8s %8s %8s %8s %8s %7s %7s  %s" % (
            "N", "driver", "req", "wall_s", "cpu_s", "1st_req", "1st_wall",
            "1st_cpu", "rss_MiB", "chg_s", "statuses after the pass"),
    ]
    for row in report["rows"]:
        for key in ("ours", "ours_list", "theirs"):
            r = row.get(key)
            if not r:
                continue
            mark = "*" if r.get("extrapolated") else ""
            lines.append(
                "%6d %-24s %6s %8s %8s %8s %8s %8s %7s %7s  %s %s" % (
                    row["n"], r["driver"] + mark,
                    _f(r["requests_total"], "%d"),
                    _f(r["wall_s"], "%.2f"), _f(r["cpu_s"], "%.2f"),
                    _f(r["first_requests_total"], "%d"),
                    _f(r["first_wall_s"], "%.2f"),
                    _f(r["first_cpu_s"], "%.2f"),
                    _f(_mib(r["maxrss_kib"]), "%.1f"),
                    _f(r["change_latency_s"], "%.3f"),
                    json.dumps(r["summary"]["status"], sort_keys=True),
                    json.dumps(r["summary"]["health"], sort_keys=True)))
        for key in ("ours", "ours_list", "theirs"):
            r = row.get(key)
            if not r or r.get("extrapolated"):
                continue
            lines.append("%6s %s, each run: steady wall %s; rss %s; change "
                         "%s" % (
                             "", r["driver"],
                             " ".join("%.2f" % x["wall_s"]
                                      for x in r["samples"]),
                             " ".join("%.0f" % _mib(x["maxrss_kib"])
                                      for x in r["samples"]),
                             " ".join(_f(x["change_latency_s"], "%.3f")
                                      for x in r["samples"])))
        lines.append(
            "%6s ours/theirs: steady requests %s, first-pass requests %s, "
            "steady wall %s, cpu %s, peak RSS %s" % (
                "", _f(row["ratio_requests"], "%.4f"),
                _f(row["ratio_first_requests"], "%.4f"),
                _f(row["ratio_wall"], "%.4f"), _f(row["ratio_cpu"], "%.4f"),
                _f(row["ratio_rss"], "%.3f")))
    lines.append("")
    lines.append("requests by verb and resource (first pass | steady "
                 "pass):")
    for row in report["rows"]:
        for key in ("ours", "ours_list", "theirs"):
            r = row.get(key)
            if not r or r.get("extrapolated"):
                continue
            lines.append("  N=%d %s: %s | %s" % (
                row["n"], r["driver"],
                ", ".join("%s=%d" % kv for kv in sorted(
                    r["first_requests"].items())) or "none",
                ", ".join("%s=%d" % kv for kv in sorted(
                    r["requests"].items())) or "none"))
    lines.append("")
    lines.append("our cache (adapter-counted requests of the first pass, "
                 "watches included; objects held):")
    for row in report["rows"]:
        for key in ("ours", "ours_list"):
            r = row.get(key)
            if not r:
                continue
            first = r.get("first_stats") or {}
            obs = r.get("observer") or {}
            lines.append(
                "  N=%d %s: first pass %s; steady pass %d; %d objects "
                "~%.2f MiB; RSS after import+rows %.1f MiB, after the "
                "first pass %.1f MiB" % (
                    row["n"], r["driver"],
                    json.dumps(first.get("adapter_requests_by_verb"),
                               sort_keys=True),
                    (r.get("steady_stats") or {}).get(
                        "adapter_requests", 0) - first.get(
                            "adapter_requests", 0),
                    obs.get("objects", 0),
                    obs.get("approx_bytes", 0) / 1048576.0,
                    _mib(r["rss_loaded_kib"]),
                    _mib(r["rss_after_first_kib"])))
    lines.append("")
    lines.append("objects per cluster: %s; creation: %s" % (
        report["objects_per_cluster"], ", ".join(
            "N=%d in %.0fs" % (row["n"], row["create_s"])
            for row in report["rows"])))
    if report.get("notes"):
        lines.append("")
        lines.extend(report["notes"])
    return "\n".join(lines) + "\n"


def our_version():
    try:
        out = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short",
                              "HEAD"], capture_output=True, text=True)
        return "commit " + out.stdout.strip()
    except OSError:
        return "unknown"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10,100,1000,10000",
                        help="comma-separated cluster counts, ascending")
    parser.add_argument("--workdir", default=None,
                        help="folder for the management cluster's data "
                        "(default: a temporary folder)")
    parser.add_argument("--out", default=HERE,
                        help="where results.json and results.txt go")
    parser.add_argument("--workers", type=int, default=8,
                        help="threads creating objects")
    parser.add_argument("--create", choices=("etcd", "api"),
                        default="etcd",
                        help="write the clusters' custom resources into "
                        "etcd as the API server stores them (fast), or "
                        "create them through the API (46 requests a "
                        "cluster)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="processes per driver and N; the median (by "
                        "steady wall time) is reported")
    parser.add_argument("--repeat-large", type=int, default=1,
                        help="processes per driver at N >= 10000")
    parser.add_argument("--theirs-max", type=int, default=None,
                        help="above this N, magnum-capi-helm is not run "
                        "but extrapolated from its two largest runs")
    parser.add_argument("--ours-list", default="",
                        help="comma-separated N at which our list mode "
                        "(status_source=list) runs too")
    parser.add_argument("--max-staleness", default=None,
                        help="[capi_rdma] status_max_staleness for our "
                        "passes (default: the option's default)")
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
        args.ours_list = {int(x) for x in args.ours_list.split(",")
                          if x.strip()}
    except ValueError:
        parser.error("--sizes must be integers, e.g. 10,100,1000")
    if not args.sizes or args.sizes != sorted(args.sizes) or min(
            args.sizes) < 1:
        parser.error("--sizes must be positive and ascending")
    return args


def log(message):
    sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), message))
    sys.stderr.flush()


def wait_listed(api, n, timeout=600):
    """Wait until the API server serves ``n`` benchmark Clusters."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = api.request(
            "GET", "/apis/cluster.x-k8s.io/v1beta1/clusters?limit=1").json()
        remaining = found["metadata"].get("remainingItemCount", 0)
        if remaining + len(found["items"]) >= n + 1:   # + the seed
            return
        time.sleep(1)
    raise RuntimeError("the API server does not serve %d clusters" % n)


def _row(n, created, ours, theirs, ours_list=None):
    row = {"n": n, "create_s": created, "ours": ours, "theirs": theirs}
    if ours_list:
        row["ours_list"] = ours_list
    row.update({
        "ratio_requests": ratio(ours["requests_total"],
                                theirs["requests_total"]),
        "ratio_first_requests": ratio(ours["first_requests_total"],
                                      theirs["first_requests_total"]),
        "ratio_wall": ratio(ours["wall_s"], theirs["wall_s"]),
        "ratio_cpu": ratio(ours["cpu_s"], theirs["cpu_s"]),
        "ratio_rss": ratio(ours["maxrss_kib"], theirs["maxrss_kib"]),
    })
    return row


def measure(args, bed, their_python):
    from kubernetes import config

    from magnum_capi_rdma_dev.simulator import crds

    api_client = config.new_client_from_config(bed.kubeconfig)
    crds.install_crds(api_client)
    api = Api(bed)
    seed = make_seed(api, api_client, bed_tools.tool_path("helm"), log)
    template = template_of(seed)
    change = change_objects(template)
    etcd = Etcd(bed.etcd_port)
    stored = stored_seed(etcd) if args.create == "etcd" else None
    extra = [] if args.max_staleness is None else [args.max_staleness]
    records, rows = [], []
    clusters_file = os.path.join(bed.workdir, "clusters.json")
    for n in args.sizes:
        if records:
            set_ready(api, change, records[-1], True)
        new = [cluster_record(i) for i in range(len(records), n)]
        began = time.monotonic()
        if stored is not None:
            create_clusters_etcd(api, etcd, stored, new, args.workers)
            wait_listed(api, n)
        else:
            create_clusters(api, template, new, args.workers)
        records += new
        created = time.monotonic() - began
        log("N=%d: created %d clusters' objects in %.0fs" % (
            n, len(new), created))
        with open(clusters_file, "w") as f:
            json.dump(records, f)
        changed = records[-1]
        run_theirs = args.theirs_max is None or n <= args.theirs_max
        repeat = args.repeat if n < 10000 else args.repeat_large
        drivers = [("ours", sys.executable, "pass_ours.py",
                    ["watch"] + extra)]
        if n in args.ours_list:
            drivers.append(("ours_list", sys.executable, "pass_ours.py",
                            ["list"] + extra))
        if run_theirs:
            drivers.append(("theirs", their_python, "pass_theirs.py", []))
        samples = {key: [] for key, _, _, _ in drivers}
        for _ in range(repeat):
            # Alternated, so all see the same background load.
            for key, python, script, argv in drivers:
                set_ready(api, change, changed, False)
                samples[key].append(run_pass(
                    api, python, script, bed.kubeconfig, clusters_file,
                    argv, change=lambda: set_ready(api, change, changed,
                                                   True)))
                r = samples[key][-1]
                log("N=%d %s: first %d requests %.2fs, steady %d "
                    "requests %.2fs, rss %.0f MiB, change %s s" % (
                        n, key, r["first_requests_total"], r["first_wall_s"],
                        r["requests_total"], r["wall_s"],
                        r["maxrss_kib"] / 1024.0, r["change_latency_s"]))
        ours = median_pass(samples["ours"])
        ours_list = (median_pass(samples["ours_list"])
                     if "ours_list" in samples else None)
        if run_theirs:
            theirs = median_pass(samples["theirs"])
            rows.append(_row(n, created, ours, theirs, ours_list))
        else:
            rows.append(_row(n, created, ours, extrapolate(rows, n),
                             ours_list))
    return rows, len(template) + 2   # + credentials Secret, operation Lease


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    missing = bed_tools.missing_tools()
    if missing:
        sys.exit("missing test tools %s: run tools/install-test-tools" %
                 ", ".join(missing))
    their_python = ensure_their_venv(log)
    bed = bed_cluster.ManagementCluster(args.workdir)
    bed.start()
    log("management cluster at %s" % bed.server)
    try:
        rows, per_cluster = measure(args, bed, their_python)
    finally:
        bed.stop()
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "load": "%.1f %.1f %.1f" % os.getloadavg(),
        "ours_version": our_version(),
        "theirs_versions": their_versions(their_python),
        "objects_per_cluster": per_cluster,
        "repeat": args.repeat,
        "repeat_large": args.repeat_large,
        "rows": rows,
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)
    text = format_results(report)
    with open(os.path.join(args.out, "results.txt"), "w") as f:
        f.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
