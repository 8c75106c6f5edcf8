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
"""The demo: an RDMA cluster from `openstack coe` on the local stack.

Runs as the `demo` project's member user, through the real CLI
(python-openstackclient + python-magnumclient) against the real Keystone,
Glance and Magnum of tools/stack. Prints each step, the cluster's health
(the RDMA stack's readiness and the RDMA self-test's result, measured on
the simulated workload cluster and labelled so), the wall time and the
peak memory of the whole stack.

``--broken-fabric`` injects a broken RDMA fabric (the simulator's
``rdma_fabric_failure`` fault) into the demo cluster: its self-test fails
and the cluster is UNHEALTHY, with the reason.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

STATE = os.path.abspath(os.environ.get("MAGNUM_CAPI_RDMA_STATE") or
                        os.path.join(os.environ.get("XDG_STATE_HOME") or
                                     os.path.expanduser("~/.local/state"),
                                     "magnum-capi-rdma", "stack"))
T0 = time.monotonic()
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "stack.d"))
import stack as stackd  # noqa: E402  (tools/stack.d/stack.py)

TEMPLATE = "rdma-demo"
CLUSTER = "rdma-demo"
LABELS = {
    "kube_tag": "v1.33.1",
    "rdma_mode": "macvlan",
    "rdma_network": "rdma-net",
    "rdma_interface": "ens4",
    "rdma_mtu": "9000",
    "rdma_ip_range": "192.168.100.0/24",
    "rdma_ofed_enabled": "true",
    "gpu_operator_enabled": "true",
    "monitoring_enabled": "true",
    "rdma_selftest_enabled": "true",
    "rdma_selftest_min_bandwidth_gbps": "50",
}
BROKEN_FABRIC = ("RoCE traffic dropped between the nodes' RDMA ports "
                 "(--broken-fabric)")


def log(message):
    print("[demo %5.1fs] %s" % (time.monotonic() - T0, message), flush=True)


def load_stack():
    with open(os.path.join(STATE, "stack.json")) as f:
        return json.load(f)


class Cli(object):
    def __init__(self, stack, project="demo"):
        self.openstack = stack["openstack"]
        self.env = dict(os.environ, **stack["credentials"][project])
        # magnumclient's `cluster config` picks its output by $SHELL.
        self.env.setdefault("SHELL", "/bin/bash")
        for key in ("OS_CLOUD", "OS_TOKEN"):
            self.env.pop(key, None)

    def __call__(self, *args, parse=True, check=True):
        argv = [self.openstack] + list(args)
        if parse:
            argv += ["-f", "json"]
        proc = subprocess.run(argv, env=self.env, capture_output=True,
                              text=True)
        if check and proc.returncode != 0:
            raise SystemExit("demo: `openstack %s` failed: %s" % (
                " ".join(args), proc.stderr.strip()[-800:]))
        if not parse:
            return proc
        return parse_json(proc.stdout)


def parse_json(out):
    """The JSON document of a CLI's output.

    python-magnumclient prints a line such as "Request to create cluster
    template X accepted" before the document.
    """
    lines = out.splitlines()
    for index, line in enumerate(lines):
        if line.startswith(("{", "[")):
            return json.loads("\n".join(lines[index:]))
    return None


def ensure_image(cli, name):
    images = cli("image", "list", "--name", name)
    if images:
        return images[0]["ID"]
    log("creating image %s (os_distro=ubuntu)" % name)
    image = cli("image", "create", name, "--disk-format", "raw",
                "--container-format", "bare", "--property",
                "os_distro=ubuntu", "--property", "kube_version=v1.33.1")
    return image["id"]


def ensure_template(cli, image):
    existing = cli("coe", "cluster", "template", "list")
    if any(t["name"] == TEMPLATE for t in existing or ()):
        labels = cli("coe", "cluster", "template", "show",
                     TEMPLATE)["labels"]
        in_use = any(c["name"] == CLUSTER
                     for c in cli("coe", "cluster", "list") or ())
        if labels == LABELS or in_use:
            return
        log("template %s of an earlier demo has other labels: made again"
            % TEMPLATE)
        cli("coe", "cluster", "template", "delete", TEMPLATE, parse=False)
    labels = ",".join("%s=%s" % kv for kv in sorted(LABELS.items()))
    log("creating cluster template %s with labels %s" % (TEMPLATE, labels))
    cli("coe", "cluster", "template", "create", TEMPLATE,
        "--coe", "kubernetes", "--image", image,
        "--external-network", "public", "--flavor", "m1.small",
        "--master-flavor", "m1.small", "--keypair", "demo",
        "--network-driver", "calico", "--master-lb-enabled",
        "--labels", labels)


def wait_release(cli, timeout=60):
    """The demo cluster's release (its stack_id), once the driver set it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        show = cli("coe", "cluster", "show", CLUSTER)
        if show.get("stack_id"):
            return show["stack_id"]
        if show["status"].endswith("_FAILED"):
            raise SystemExit("demo: cluster failed: %s" %
                             show.get("status_reason"))
        time.sleep(1)
    raise SystemExit("demo: cluster %s got no stack_id" % CLUSTER)


def wait_cluster(cli, wanted, timeout=300):
    """Poll `cluster show` until WANTED; None once a deleted one is gone."""
    last = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc = cli("coe", "cluster", "show", CLUSTER, "-f", "json",
                   parse=False,
                   check=False)
        if proc.returncode != 0:
            if wanted == "DELETE_COMPLETE" and "could not be found" in (
                    proc.stderr):
                log("cluster %s: deleted" % CLUSTER)
                return None
            raise SystemExit("demo: cluster show failed: %s" %
                             proc.stderr.strip()[-400:])
        show = parse_json(proc.stdout)
        line = "%s %s" % (show["status"], show.get("status_reason") or "")
        if line != last:
            log("cluster %s: %s" % (CLUSTER, line))
            last = line
        if show["status"] == wanted:
            return show
        if show["status"].endswith("_FAILED"):
            raise SystemExit("demo: cluster failed: %s" %
                             show.get("status_reason"))
        time.sleep(2)
    raise SystemExit("demo: timed out waiting for %s" % wanted)


def set_fault(release, fault):
    """The simulator's faults for the demo cluster (None: none).

    tools/stack runs the simulator with this file; it re-reads it when it
    changes.
    """
    path = os.path.join(STATE, "simulator-faults.yaml")
    faults = {}
    if fault:
        faults[release] = {"rdma_fabric_failure": fault}
    with open(path, "w") as out:
        json.dump(faults, out)   # JSON is YAML
    log("simulator faults for %s: %s" % (release, json.dumps(
        faults.get(release) or "none")))


def wait_selftest(cli, uuid, timeout=240, previous=None):
    """Poll `cluster show` until health has a finished RDMA self-test.

    ``previous``: the run to wait past (a requested rerun).
    """
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        show = cli("coe", "cluster", "show", uuid)
        reason = show.get("health_status_reason") or {}
        entry = json.loads(reason.get("rdma_selftest") or "null") or {}
        line = "health %s; rdma: %s; rdma_selftest: %s" % (
            show.get("health_status"), reason.get("rdma", "-"),
            entry.get("state", "-"))
        if line != last:
            log(line)
            last = line
        done = entry.get("state") not in (None, "running", "waiting")
        if done and entry.get("run") != previous and (
                show.get("health_status") != "UNKNOWN"):
            return show, entry
        time.sleep(3)
    raise SystemExit("demo: no RDMA self-test result after %d s" % timeout)


def show_health(show, entry):
    reason = show.get("health_status_reason") or {}
    log("health_status %s; health_status_reason:" % show["health_status"])
    for key in sorted(reason):
        if key != "rdma_selftest":
            print("    %-26s %s" % (key, reason[key]), flush=True)
    print("    %-26s %s" % ("rdma_selftest", json.dumps(
        entry, indent=2, sort_keys=True).replace("\n", "\n    ")),
        flush=True)
    if entry.get("note"):
        log("the workload cluster is simulated (magnum_capi_rdma_dev): %s"
            % entry["note"])


def request_selftest(stack, uuid):
    """Run the self-test again: the operator command on the stack's conf."""
    command = os.path.join(stack["venv"], "bin", "magnum-capi-rdma")
    conf = os.path.join(STATE, "magnum", "magnum.conf")
    log("magnum-capi-rdma selftest %s --config-file %s" % (uuid, conf))
    subprocess.run([command, "selftest", uuid, "--config-file", conf],
                   check=True)


def show_rdma_placement(stack, show):
    """Where the RDMA add-ons landed, read from the management cluster."""
    env = dict(os.environ,
               KUBECONFIG=os.path.join(STATE, "mgmt", "kubeconfig"))
    python = os.path.join(stack["venv"], "bin", "python")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "placement.py")
    log("where the add-ons and node groups of %s landed:" % CLUSTER)
    subprocess.run([python, script, show["uuid"]], env=env, check=False)


def report(peak):
    """Wall time and peak memory of the stack and the demo."""
    demo = time.monotonic() - T0
    started = os.environ.get("MAGNUM_CAPI_RDMA_DEMO_T0")
    total = time.time() - float(started) if started else None
    metrics = {}
    metrics_path = os.path.join(STATE, "metrics.json")
    if os.path.exists(metrics_path):
        with open(metrics_path) as f:
            metrics = json.load(f)
    log("demo done in %.1f s%s" % (
        demo, "; with `tools/stack up` %.1f s in all" % total
        if total else ""))
    if metrics:
        log("tools/stack up: %.1f s wall time, peak memory %.0f MiB" % (
            metrics["wall_seconds"], metrics["peak_rss_bytes"] / 1048576.0))
    log("peak memory during the demo: %.0f MiB (the stack's processes and"
        " the CLI calls)" % (peak / 1048576.0))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", action="store_true",
                        help="leave the demo cluster running")
    parser.add_argument("--broken-fabric", action="store_true",
                        help="inject a broken RDMA fabric (simulated): "
                        "the self-test fails, the cluster is UNHEALTHY")
    args = parser.parse_args(argv)
    sampler = stackd.PeakSampler()
    sampler.start()
    stack = load_stack()
    cli = Cli(stack)
    image = ensure_image(cli, stack.get("image") or "ubuntu-2404-kube")
    ensure_template(cli, image)
    log("template: %s" % json.dumps(
        cli("coe", "cluster", "template", "show", TEMPLATE)["labels"],
        sort_keys=True))
    existing = [c for c in cli("coe", "cluster", "list")
                if c["name"] == CLUSTER]
    if existing and existing[0]["status"].endswith("_FAILED"):
        log("removing the failed cluster %s of an earlier run" % CLUSTER)
        cli("coe", "cluster", "delete", CLUSTER, parse=False)
        wait_cluster(cli, "DELETE_COMPLETE")
        existing = []
    fault = BROKEN_FABRIC if args.broken_fabric else None
    if not existing:
        log("creating cluster %s (1 master, 2 workers)" % CLUSTER)
        cli("coe", "cluster", "create", CLUSTER, "--cluster-template",
            TEMPLATE, "--master-count", "1", "--node-count", "2",
            parse=False)
        # The fault is set before the cluster completes: its first
        # self-test meets the broken fabric.
        set_fault(wait_release(cli), fault)
    show = wait_cluster(cli, "CREATE_COMPLETE")
    log("api_address %s, coe_version %s, masters %s, nodes %s, health %s" %
        (show["api_address"], show["coe_version"],
         show["master_addresses"], show["node_addresses"],
         show.get("health_status")))
    show_rdma_placement(stack, show)
    previous = None
    if existing:
        # A cluster of an earlier run (--keep): test it again, with this
        # run's fabric.
        if (show.get("labels") or {}).get("rdma_selftest_enabled") != "true":
            raise SystemExit(
                "demo: cluster %s of an earlier demo has no RDMA self-test;"
                " delete it (openstack coe cluster delete %s) and run the "
                "demo again" % (CLUSTER, CLUSTER))
        set_fault(show["stack_id"], fault)
        shown = cli("coe", "cluster", "show", CLUSTER)
        previous = (json.loads((shown.get("health_status_reason") or {}).get(
            "rdma_selftest") or "null") or {}).get("run")
        request_selftest(stack, show["uuid"])
    log("waiting for the RDMA self-test (Magnum's health poll runs it)")
    show, entry = wait_selftest(cli, show["uuid"], previous=previous)
    show_health(show, entry)
    if args.broken_fabric and show["health_status"] != "UNHEALTHY":
        raise SystemExit("demo: the broken fabric was not reported")
    if not args.broken_fabric and (show["health_status"] != "HEALTHY" or
                                   entry.get("state") != "passed"):
        raise SystemExit("demo: the cluster is not HEALTHY")
    with tempfile.TemporaryDirectory() as tmp:
        cli("coe", "cluster", "config", CLUSTER, "--dir", tmp, "--force",
            parse=False)
        with open(os.path.join(tmp, "config")) as f:
            config = f.read()
        server = [line.strip() for line in config.splitlines()
                  if line.strip().startswith("server:")]
        log("openstack coe cluster config: kubeconfig with %s, %d bytes" %
            (server[0] if server else "no server", len(config)))
    if not args.keep:
        log("deleting cluster %s" % CLUSTER)
        cli("coe", "cluster", "delete", CLUSTER, parse=False)
        wait_cluster(cli, "DELETE_COMPLETE")
        set_fault(show["stack_id"], None)
    report(sampler.finish())
    return 0


if __name__ == "__main__":
    sys.exit(main())
