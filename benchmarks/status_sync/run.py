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


def median_pass(samples):
    """The sample with the median wall time, with every sample's numbers."""
    ordered = sorted(samples, key=lambda r: r["wall_s"])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["samples"] = [
        {k: r[k] for k in ("wall_s", "cpu_s", "maxrss_kib",
                           "requests_total", "requests")} for r in samples]
    return chosen


def run_pass(api, python, script, kubeconfig, clusters_file, extra=()):
    """One measured pass in a fresh process, after its warm-up pass."""
    proc = subprocess.Popen(
        [python, os.path.join(HERE, script), kubeconfig, clusters_file] +
        list(extra), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, cwd=HERE,
        env=pass_environment())
    ready = proc.stdout.readline().strip()
    before = api.metrics()
    if ready == "ready":
        proc.stdin.write("go\n")
        proc.stdin.flush()
    out, err = proc.communicate()
    after = api.metrics()
    if proc.returncode != 0 or ready != "ready":
        raise RuntimeError("%s failed:\n%s" % (script, err[-3000:]))
    result = json.loads(out.strip().splitlines()[-1])
    result["requests"] = request_delta(before, after)
    result["requests_total"] = sum(result["requests"].values())
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
    if not theirs:
        return None
    return ours / theirs


def format_results(report):
    lines = [
        "Status sync benchmark (benchmarks/status_sync/run.py)",
        "date: %s  host: %s CPUs, load %s" % (
            report["date"], report["cpus"], report["load"]),
        "magnum-capi-rdma: %s; magnum-capi-helm %s with magnum %s" % (
            report["ours_version"], report["theirs_versions"][
                "magnum-capi-helm"], report["theirs_versions"]["magnum"]),
        "one pass = update_cluster_status + poll_health_status for every "
        "cluster; requests counted by kube-apiserver (/metrics); "
        "median of %d passes each" % report["repeat"],
        "",
        "%6s %-17s %9s %8s %8s %9s  %s" % (
            "N", "driver", "requests", "wall_s", "cpu_s", "rss_MiB",
            "statuses after the pass"),
    ]
    for row in report["rows"]:
        for key in ("ours", "theirs"):
            r = row[key]
            lines.append("%6d %-17s %9d %8.2f %8.2f %9.1f  %s %s" % (
                row["n"], r["driver"], r["requests_total"], r["wall_s"],
                r["cpu_s"], r["maxrss_kib"] / 1024.0,
                json.dumps(r["summary"]["status"], sort_keys=True),
                json.dumps(r["summary"]["health"], sort_keys=True)))
        lines.append("%6s requests of each pass: ours %s; theirs %s" % (
            "", " ".join("%d" % x["requests_total"] for x in row["ours"].get(
                "samples", [])), " ".join(
                    "%d" % x["requests_total"] for x in row["theirs"].get(
                        "samples", []))))
        lines.append("%6s wall of each pass: ours %s; theirs %s" % (
            "", " ".join("%.2f" % x["wall_s"] for x in row["ours"].get(
                "samples", [])), " ".join("%.2f" % x["wall_s"] for x in row[
                    "theirs"].get("samples", []))))
        lines.append(
            "%6s ours/theirs: requests %.4f, wall %.3f, cpu %.3f" % (
                "", row["ratio_requests"], row["ratio_wall"],
                row["ratio_cpu"]))
    lines.append("")
    lines.append("requests by verb and resource:")
    for row in report["rows"]:
        for key in ("ours", "theirs"):
            r = row[key]
            lines.append("  N=%d %s: %s" % (
                row["n"], r["driver"],
                ", ".join("%s=%d" % kv for kv in sorted(
                    r["requests"].items()))))
    lines.append("")
    lines.append("objects per cluster: %s; creation: %s" % (
        report["objects_per_cluster"], ", ".join(
            "N=%d in %.0fs" % (row["n"], row["create_s"])
            for row in report["rows"])))
    lines.append("our snapshot: %s" % ", ".join(
        "N=%d %d objects ~%.1f MiB, %d snapshot(s) in the pass" % (
            row["n"], row["ours"]["observer"]["objects"],
            row["ours"]["observer"]["approx_bytes"] / 1048576.0,
            row["ours"]["observer"].get(
                "snapshots_in_pass", row["ours"]["observer"]["snapshots"]))
        for row in report["rows"]))
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
    parser.add_argument("--sizes", default="10,100,1000",
                        help="comma-separated cluster counts, ascending")
    parser.add_argument("--workdir", default=None,
                        help="folder for the management cluster's data "
                        "(default: a temporary folder)")
    parser.add_argument("--out", default=HERE,
                        help="where results.json and results.txt go")
    parser.add_argument("--workers", type=int, default=8,
                        help="threads creating objects")
    parser.add_argument("--repeat", type=int, default=3,
                        help="passes per driver and N; the median (by wall "
                        "time) is reported")
    parser.add_argument("--max-staleness", default=None,
                        help="[capi_rdma] status_max_staleness for our "
                        "pass (default: the option's default)")
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    except ValueError:
        parser.error("--sizes must be integers, e.g. 10,100,1000")
    if not args.sizes or args.sizes != sorted(args.sizes) or min(
            args.sizes) < 1:
        parser.error("--sizes must be positive and ascending")
    return args


def log(message):
    sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), message))
    sys.stderr.flush()


def measure(args, bed, their_python):
    from kubernetes import config

    from magnum_capi_rdma_dev.simulator import crds

    api_client = config.new_client_from_config(bed.kubeconfig)
    crds.install_crds(api_client)
    api = Api(bed)
    seed = make_seed(api, api_client, bed_tools.tool_path("helm"), log)
    template = template_of(seed)
    extra = [] if args.max_staleness is None else [args.max_staleness]
    records, rows = [], []
    clusters_file = os.path.join(bed.workdir, "clusters.json")
    for n in args.sizes:
        new = [cluster_record(i) for i in range(len(records), n)]
        began = time.monotonic()
        create_clusters(api, template, new, args.workers)
        records += new
        created = time.monotonic() - began
        log("N=%d: created %d clusters' objects in %.0fs" % (
            n, len(new), created))
        with open(clusters_file, "w") as f:
            json.dump(records, f)
        samples = {"ours": [], "theirs": []}
        for _ in range(args.repeat):
            # Alternated, so both see the same background load.
            samples["ours"].append(run_pass(
                api, sys.executable, "pass_ours.py", bed.kubeconfig,
                clusters_file, extra))
            samples["theirs"].append(run_pass(
                api, their_python, "pass_theirs.py", bed.kubeconfig,
                clusters_file))
            for key in ("ours", "theirs"):
                log("N=%d %s: %d requests, %.2fs" % (
                    n, key, samples[key][-1]["requests_total"],
                    samples[key][-1]["wall_s"]))
        ours = median_pass(samples["ours"])
        theirs = median_pass(samples["theirs"])
        rows.append({
            "n": n, "create_s": created, "ours": ours, "theirs": theirs,
            "ratio_requests": ratio(ours["requests_total"],
                                    theirs["requests_total"]),
            "ratio_wall": ratio(ours["wall_s"], theirs["wall_s"]),
            "ratio_cpu": ratio(ours["cpu_s"], theirs["cpu_s"]),
        })
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
