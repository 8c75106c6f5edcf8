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
"""Leaks: many create/delete cycles through the real CLI, with faults.

``MAGNUM_CAPI_RDMA_LEAK_CYCLES`` cycles (default 50) run several at a time
(``MAGNUM_CAPI_RDMA_LEAK_PARALLEL``, default 6) on the local stack, each
with a fault drawn from a seeded random sequence
(``MAGNUM_CAPI_RDMA_LEAK_SEED``, printed):

- none;
- delete during create (the delete right after the create call);
- quota failure (simulator fault: Machines fail, CREATE_FAILED, delete);
- slow machines (simulator fault: 20 s provisioning delay);
- magnum-conductor SIGKILLed and started again right after the create
  call (every cluster in flight shares it);
- the simulator SIGKILLed and started again.

A cycle whose create or delete was lost with a killed conductor is
deleted again after two minutes, as a user would. Afterwards the
application credentials (every user), the driver's Secrets and helm's
release records of the cycles' clusters, and the ``magnum-*`` namespaces
left empty, are counted: all must be 0. The figures are printed and
written to ``artifacts/reliability/leaks.json``.

To inject simulator faults the simulator is restarted once with
``--faults``; the stack's own command line is restored at the end.
"""

import json
import os
import random
import re
import shlex
import signal
import subprocess
import tempfile
import time
import types

import pytest
import yaml

from tests.support import coe as lifecycle
from tests.support import openstack as e2e

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
ARTIFACTS = os.path.join(ROOT, "artifacts", "reliability")
CYCLES = int(os.environ.get("MAGNUM_CAPI_RDMA_LEAK_CYCLES", "50"))
PARALLEL = int(os.environ.get("MAGNUM_CAPI_RDMA_LEAK_PARALLEL", "6"))
SEED = int(os.environ.get("MAGNUM_CAPI_RDMA_LEAK_SEED") or
           random.SystemRandom().randrange(2 ** 32))
FAULTS = (("none", 3), ("delete during create", 2), ("quota failure", 1),
          ("slow machines", 1), ("conductor killed", 1),
          ("simulator restarted", 1))
LOST_AFTER = 120        # seconds without progress: delete (again)
CYCLE_TIMEOUT = 600
POLL = 4
PROCTITLE = re.compile(r"^[^\[\]]+: master process \[(.*)\]\s*$")
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                     r"[0-9a-f]{12}")


class Service(object):
    """A process of the local stack, restarted as tools/stack started it.

    The command line, environment and working folder are read from the
    running process; the new process gets the stack's PID file, so
    ``tools/stack status`` and ``down`` keep managing it.
    """

    def __init__(self, state, name):
        self.state = state
        self.name = name
        self.pidfile = os.path.join(state, "run", name + ".pid")
        pid = self.pid()
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            self.argv = [a.decode() for a in f.read().split(b"\0") if a]
        # oslo.service retitles its master process "NAME: master process
        # [ARGV]": the command line is the part in brackets.
        title = PROCTITLE.match(" ".join(self.argv))
        if title:
            self.argv = shlex.split(title.group(1))
        with open("/proc/%d/environ" % pid, "rb") as f:
            self.env = dict(e.decode(errors="replace").split("=", 1)
                            for e in f.read().split(b"\0") if b"=" in e)
        self.cwd = os.readlink("/proc/%d/cwd" % pid)
        self.original = list(self.argv)
        self.restarts = 0
        self.started = None

    def ours(self):
        """True if the running service is the one this test started."""
        try:
            return self.pid() == self.started
        except (OSError, ValueError):
            return False

    def pid(self):
        with open(self.pidfile) as f:
            return int(f.read().split()[0])

    @staticmethod
    def _start_time(pid):
        for _ in range(100):
            try:
                with open("/proc/%d/stat" % pid) as f:
                    return f.read().rsplit(")", 1)[1].split()[19]
            except (OSError, IndexError):
                time.sleep(0.01)
        return "0"

    def restart(self, argv=None):
        """SIGKILL the service (its whole session) and start it again."""
        pid = self.pid()
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for _ in range(200):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.05)
        self.argv = list(argv or self.argv)
        log = os.path.join(self.state, "logs", self.name + ".log")
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd,
                start_new_session=True)
        with open(self.pidfile, "w") as f:
            f.write("%d %s\n" % (proc.pid, self._start_time(proc.pid)))
        time.sleep(1.0)
        assert proc.poll() is None, "%s did not start again: %s" % (
            self.name, self.argv)
        self.restarts += 1
        self.started = proc.pid
        return proc.pid


class Cycle(object):

    def __init__(self, index, fault):
        self.index = index
        self.fault = fault
        self.name = "leak-%02d-%s" % (index, lifecycle.suffix())
        self.uuid = None
        self.phase = "new"
        self.since = None
        self.began = None
        self.deletes = 0
        self.seen = []

    def to(self, phase):
        self.phase = phase
        self.since = time.monotonic()


def _release_suffix(cluster_uuid):
    return cluster_uuid.replace("-", "")[:10]


def _release(cycle):
    """The release (and Cluster API cluster) name the driver gives it."""
    from magnum_capi_rdma import magnum_objects

    return magnum_objects.new_release_name(types.SimpleNamespace(
        name=cycle.name, uuid=cycle.uuid))


@pytest.fixture(scope="module")
def stack():
    """The running local stack; never brought up or down here."""
    status = e2e.stack_command("status", timeout=120)
    if status.returncode != 0:
        pytest.skip("the local stack is not up (tools/stack status exit %d)"
                    % status.returncode)
    return e2e.LocalStack(e2e.state_dir())


def test_create_delete_cycles_leak_nothing(stack):
    rng = random.Random(SEED)
    names, weights = zip(*FAULTS)
    cycles = [Cycle(i, rng.choices(names, weights)[0])
              for i in range(CYCLES)]
    print("leak run: seed %d (replay with MAGNUM_CAPI_RDMA_LEAK_SEED=%d), "
          "%d cycles, %d at a time" % (SEED, SEED, CYCLES, PARALLEL))
    template = "leak-%s" % lifecycle.suffix()
    lifecycle.create_template(stack, template, lifecycle.KUBE_TAG)
    mgmt = lifecycle.Management(os.path.join(stack.state_dir, "mgmt",
                                             "kubeconfig"))
    conductor = Service(stack.state_dir, "magnum-conductor")
    simulator = Service(stack.state_dir, "simulator")
    faults_file = tempfile.NamedTemporaryFile(
        "w", prefix="leak-faults-", suffix=".yaml", delete=False).name
    sim_faults = {}

    def write_faults():
        with open(faults_file + ".tmp", "w") as out:
            yaml.safe_dump(sim_faults, out)
        os.rename(faults_file + ".tmp", faults_file)

    write_faults()
    simulator.restart(simulator.original + ["--faults", faults_file])
    began = time.monotonic()
    injected = {}
    problems = []
    unreachable = []
    pending = list(cycles)
    active = []
    try:
        while pending or active:
            while pending and len(active) < PARALLEL:
                cycle = pending.pop(0)
                start(stack, cycle, template, conductor, simulator,
                      sim_faults, write_faults, injected)
                active.append(cycle)
            time.sleep(POLL)
            try:
                listing = {c["name"]: c for c in stack.cli(
                    "coe", "cluster", "list", project="demo")}
            except e2e.CLIError as exc:
                # Keystone or Magnum restarting (by this run or by
                # someone else): poll again.
                unreachable.append(str(exc).splitlines()[-1][:200])
                assert len(unreachable) < 60, unreachable[-3:]
                continue
            for cycle in list(active):
                if advance(stack, cycle, listing.get(cycle.name),
                           sim_faults, write_faults):
                    active.remove(cycle)
                elif time.monotonic() - cycle.began > CYCLE_TIMEOUT:
                    problems.append("%s (%s) stuck: %s" % (
                        cycle.name, cycle.fault, cycle.seen[-3:]))
                    active.remove(cycle)
        took = time.monotonic() - began
        leaked = count_leaks(stack, mgmt, cycles)
    finally:
        if simulator.ours():
            simulator.restart(simulator.original)
        os.unlink(faults_file)
        stack.run("coe", "cluster", "template", "delete", template,
                  project="demo", check=False)
        mgmt.close()
    n_faults = sum(n for f, n in injected.items() if f != "none")
    line = ("leak run: %d cycles, %d faults, leaked: app credentials %d, "
            "secrets %d, releases %d, namespaces %d" % (
                CYCLES, n_faults, leaked["app credentials"],
                leaked["secrets"], leaked["releases"],
                leaked["namespaces"]))
    print(line)
    print("leak run: %.0f s, %d at a time, faults %s, conductor restarts %d, "
          "simulator restarts %d, deletes sent again %d" % (
              took, PARALLEL, json.dumps(injected), conductor.restarts,
              simulator.restarts - 2, sum(max(0, c.deletes - 1)
                                          for c in cycles)))
    os.makedirs(ARTIFACTS, exist_ok=True)
    with open(os.path.join(ARTIFACTS, "leaks.json"), "w") as out:
        json.dump({"cycles": CYCLES, "parallel": PARALLEL, "seed": SEED,
                   "seconds": round(took), "faults": injected,
                   "faults_total": n_faults,
                   "conductor_restarts": conductor.restarts,
                   "simulator_restarts": simulator.restarts - 2,
                   "leaked": leaked, "stuck": problems,
                   "details": leaked.pop("details", None)}, out, indent=2)
    assert not problems, problems
    assert leaked == {"app credentials": 0, "secrets": 0, "releases": 0,
                      "namespaces": 0}, leaked


def start(stack, cycle, template, conductor, simulator, sim_faults,
          write_faults, injected):
    """Send the cycle's create (and its fault)."""
    cycle.began = time.monotonic()
    out = stack.run("coe", "cluster", "create", cycle.name,
                    "--cluster-template", template, "--master-count", "1",
                    "--node-count", "1", "--timeout", "10",
                    project="demo").stdout
    found = UUID_RE.search(out)
    cycle.uuid = found.group(0) if found else None
    cycle.to("creating")
    injected[cycle.fault] = injected.get(cycle.fault, 0) + 1
    if cycle.fault == "delete during create":
        delete(stack, cycle)
    elif cycle.fault == "conductor killed":
        conductor.restart()
    elif cycle.fault == "simulator restarted":
        simulator.restart()
    elif cycle.fault in ("quota failure", "slow machines") and cycle.uuid:
        sim_faults[_release(cycle)] = (
            {"machine_quota_failure": True}
            if cycle.fault == "quota failure" else {"provision_delay": 20})
        write_faults()


def delete(stack, cycle):
    cycle.deletes += 1
    stack.run("coe", "cluster", "delete", cycle.name, project="demo",
              check=False)
    cycle.to("deleting")


def advance(stack, cycle, shown, sim_faults, write_faults):
    """One step of the cycle; True when it is over (the cluster is gone)."""
    status = shown and shown["status"]
    cycle.seen.append(status)
    waited = time.monotonic() - cycle.since
    if cycle.phase == "creating":
        if status in ("CREATE_COMPLETE", "CREATE_FAILED") or (
                shown is None and waited > 30) or waited > LOST_AFTER:
            delete(stack, cycle)
        return False
    if shown is None:
        if cycle.uuid:
            sim_faults.pop(_release(cycle), None)
            write_faults()
        return True
    if status == "DELETE_FAILED" or waited > LOST_AFTER:
        delete(stack, cycle)
    return False


def count_leaks(stack, mgmt, cycles):
    """What the cycles' clusters left behind, counted on every side."""
    uuids = {c.uuid for c in cycles if c.uuid}
    suffixes = {_release_suffix(u) for u in uuids}
    details = {}
    creds = []
    for user in stack.cli("user", "list"):
        for cred in stack.cli("application", "credential", "list",
                              "--user", user["ID"]):
            if any(cred["Name"].startswith("magnum-capi-rdma-%s" % u)
                   for u in uuids):
                creds.append(cred["Name"])
    details["app credentials"] = creds
    secrets = [s for s in mgmt.core.list_secret_for_all_namespaces(
        label_selector=lifecycle.UUID_LABEL).items
        if s.metadata.labels[lifecycle.UUID_LABEL] in uuids]
    details["secrets"] = ["%s/%s" % (s.metadata.namespace, s.metadata.name)
                          for s in secrets]
    releases = [s for s in mgmt.core.list_secret_for_all_namespaces(
        label_selector="owner=helm").items
        if s.metadata.labels.get("name", "").rsplit("-", 1)[-1] in suffixes]
    details["releases"] = sorted({"%s/%s" % (
        s.metadata.namespace, s.metadata.labels["name"]) for s in releases})
    # A namespace of the driver that nothing uses any more must go (the
    # project's other clusters, e.g. other tests', keep theirs).
    deadline = time.monotonic() + 60
    while True:
        empty = []
        # The driver's own project namespaces (not, e.g., the
        # magnum-capi-rdma namespace of its service account).
        for ns in mgmt.core.list_namespace(
                label_selector="magnum.openstack.org/managed-by="
                "magnum-capi-rdma").items:
            name = ns.metadata.name
            used = mgmt.core.list_namespaced_secret(
                name, label_selector="owner=helm").items or \
                mgmt.core.list_namespaced_secret(
                    name, label_selector=lifecycle.UUID_LABEL).items
            if not used:
                empty.append(name)
        if not empty or time.monotonic() > deadline:
            break
        time.sleep(3)
    details["namespaces"] = empty
    counts = {k: len(v) for k, v in details.items()}
    counts["details"] = details
    return counts
