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
"""The RDMA self-test as data and decisions (pure).

A run is a pair of pods in the workload cluster, a server and a client, on
two different RDMA nodes. Each asks for the cluster's RDMA resource and
attaches to its RDMA network (Multus). Both run a POSIX shell script
(:data:`SCRIPT`) around perftest: ``ib_write_bw`` then ``ib_write_lat``;
the client connects to the server's address on the RDMA network. Each pod
writes a short report in a fixed format (:data:`FORMAT`) to its
termination message, so the result comes back through the pod's status,
without kubelet logs. :func:`parse_message` reads it strictly and
:func:`judge` turns it into the ``rdma_selftest`` entry of the health
reason.

The run's state lives where a restarted conductor finds it: a Lease on the
management cluster, ``<release>-rdma-selftest`` in the project namespace
(:func:`record_from_lease`, :func:`lease_body`), and the pods themselves
(labelled with the run). :func:`decide` is the state machine: from the
record, the pods and the nodes it returns what to write, create and
delete; the service in ``services/selftest.py`` does the I/O, the record
first (compare-and-swap on its ``resourceVersion``), so two conductors
never run two tests of one cluster at once.

When: a run is due whenever the cluster is CREATE_COMPLETE or
UPDATE_COMPLETE and the :func:`target` key differs from the key of the
last result. The key covers the RDMA node groups (names, flavors, images,
counts, versions), the fabric settings the test uses and the operator's
request counter (``magnum-capi-rdma selftest``), so a create, a resize or
upgrade of an RDMA node group, or a request starts a run; a change of
another node group does not.
"""

import dataclasses
import datetime
import hashlib
import json
import re
import shlex

from magnum_capi_rdma import contract

#: First line of every report the script writes.
FORMAT = "magnum-capi-rdma-selftest/1"
#: Kubernetes truncates termination messages at 4096 bytes.
MESSAGE_MAX = 4096

RUN_LABEL = "capi-rdma.magnum.openstack.org/selftest-run"
ROLE_LABEL = "capi-rdma.magnum.openstack.org/selftest-role"
#: Label selector of every self-test pod, of any run.
POD_SELECTOR = RUN_LABEL
SERVER = "server"
CLIENT = "client"
CONTAINER = "perftest"

# States of the rdma_selftest entry.
PASSED = "passed"
FAILED = "failed"
BELOW_THRESHOLD = "below-threshold"
TIMED_OUT = "timed-out"
SKIPPED = "skipped"
RUNNING = "running"
WAITING = "waiting"
#: States that make the cluster UNHEALTHY.
BAD_STATES = (FAILED, BELOW_THRESHOLD, TIMED_OUT)

# The record: annotations of the <release>-rdma-selftest Lease.
_PREFIX = "capi-rdma.magnum.openstack.org/selftest-"
REQUEST_KEY = _PREFIX + "request"
RUN_KEY = _PREFIX + "run"
RUN_KEY_KEY = _PREFIX + "run-key"
RUN_STARTED_KEY = _PREFIX + "run-started"
RUN_NODES_KEY = _PREFIX + "run-nodes"
RUN_SETTINGS_KEY = _PREFIX + "run-settings"
RESULT_KEY = _PREFIX + "result"
RESULT_KEY_KEY = _PREFIX + "result-key"

#: Exit status of the script when the pod has no RDMA device.
EXIT_NO_DEVICE = 3

#: The script both pods run (``sh -c``). It writes the report (one
#: ``key=value`` per line) to the termination message file: its role, the
#: RDMA device, and for each test its exit status, perftest's result
#: header and line, and on failure the last lines of perftest's output.
#: The client retries the connection while the server is not listening.
SCRIPT = r"""set -u
out=/dev/termination-log
: > "$out" || exit 2
say() { printf '%s\n' "$1" >> "$out"; }
device="${SELFTEST_DEVICE:-}"
if [ -z "$device" ]; then
  for d in /sys/class/net/net1/device/infiniband/* /sys/class/infiniband/*; do
    if [ -e "$d" ]; then device=$(basename "$d"); break; fi
  done
fi
say "format=magnum-capi-rdma-selftest/1"
say "role=$SELFTEST_ROLE"
say "device=${device:-none}"
if [ -z "$device" ]; then
  say "error=no RDMA device in the pod (/sys/class/infiniband is empty)"
  exit 3
fi
run() {
  name=$1; shift
  tries=1
  while :; do
    if [ "$SELFTEST_ROLE" = client ]; then
      "$@" "$SELFTEST_SERVER" > "/tmp/$name.txt" 2>&1
    else
      "$@" > "/tmp/$name.txt" 2>&1
    fi
    rc=$?
    if [ "$rc" -eq 0 ] || [ "$SELFTEST_ROLE" != client ] || \
       [ "$tries" -ge "$SELFTEST_CONNECT_TRIES" ]; then break; fi
    tries=$((tries + 1)); sleep 2
  done
  say "${name}_exit=$rc"
  awk -v n="$name" 'h { print n "_result=" $0; exit }
    /#bytes/ { print n "_header=" $0; h = 1 }' "/tmp/$name.txt" |
    cut -c1-400 >> "$out"
  if [ "$rc" -ne 0 ]; then
    tail -n 3 "/tmp/$name.txt" | tr -d '\r' | cut -c1-200 |
      sed "s/^/${name}_error=/" >> "$out"
  fi
  return "$rc"
}
# shellcheck disable=SC2086
run bw ib_write_bw -d "$device" $SELFTEST_BW_ARGS || exit 1
# shellcheck disable=SC2086
run lat ib_write_lat -d "$device" $SELFTEST_LAT_ARGS || exit 1
"""


class MessageError(ValueError):
    """A termination message that is not a report of :data:`SCRIPT`."""


# -- settings and target ---------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Settings:
    """How runs are made and judged (the site's options and labels)."""

    image: str
    bandwidth_args: tuple = ()
    latency_args: tuple = ()
    min_bandwidth_gbps: float = 0.0
    max_latency_us: float = 0.0      # 0: no limit
    timeout_seconds: int = 600
    device: str = ""                 # "": the pod's (first) RDMA device
    connect_tries: int = 15
    pull_policy: str = "IfNotPresent"

    def thresholds(self):
        return {"min_bandwidth_gbps": self.min_bandwidth_gbps,
                "max_latency_us": self.max_latency_us,
                "timeout_seconds": self.timeout_seconds}

    def as_record(self):
        """What a run keeps: its thresholds and how its pods are made."""
        return dict(self.thresholds(), pods={
            "image": self.image, "bandwidth_args": list(self.bandwidth_args),
            "latency_args": list(self.latency_args), "device": self.device,
            "connect_tries": self.connect_tries,
            "pull_policy": self.pull_policy})

    @classmethod
    def from_record(cls, saved):
        saved = dict(saved or {})
        pods = saved.get("pods") or {}
        return cls(
            image=pods.get("image", ""),
            bandwidth_args=tuple(pods.get("bandwidth_args") or ()),
            latency_args=tuple(pods.get("latency_args") or ()),
            min_bandwidth_gbps=float(saved.get("min_bandwidth_gbps") or 0),
            max_latency_us=float(saved.get("max_latency_us") or 0),
            timeout_seconds=int(saved.get("timeout_seconds") or 600),
            device=pods.get("device", ""),
            connect_tries=int(pods.get("connect_tries") or 15),
            pull_policy=pods.get("pull_policy", "IfNotPresent"))


def settings(fabric, image, bandwidth_args, latency_args,
             min_bandwidth_gbps, max_latency_us, timeout_seconds,
             device="", connect_tries=15):
    """:class:`Settings` from the site's options, the labels winning."""
    if fabric.selftest_min_bandwidth_gbps is not None:
        min_bandwidth_gbps = fabric.selftest_min_bandwidth_gbps
    if fabric.selftest_max_latency_us is not None:
        max_latency_us = fabric.selftest_max_latency_us
    return Settings(
        image=image, bandwidth_args=tuple(bandwidth_args or ()),
        latency_args=tuple(latency_args or ()),
        min_bandwidth_gbps=float(min_bandwidth_gbps or 0),
        max_latency_us=float(max_latency_us or 0),
        timeout_seconds=int(timeout_seconds), device=device or "",
        connect_tries=int(connect_tries))


@dataclasses.dataclass(frozen=True)
class Target:
    """What a run of one cluster tests, and the key that says when."""

    key: str
    enabled: bool
    resource: str = None
    network_namespace: str = "default"
    network_name: str = "rdma-net"
    rdma_groups: tuple = ()          # names of the RDMA node groups
    nodes_expected: int = 0          # nodes those groups should have
    skip_reason: str = None          # why no run can be made

    @property
    def network(self):
        return "%s/%s" % (self.network_namespace, self.network_name)


def target(spec, request=0):
    """The :class:`Target` of a ClusterSpec.

    :param request: the operator's request counter (bumping it changes
        the key, so a run is due).
    """
    fabric = spec.rdma
    groups = []
    expected = 0
    for group in spec.rdma_node_groups:
        count = group.node_count or 0
        expected += count
        groups.append({
            "name": group.name, "flavor": group.flavor,
            "image": group.image, "network": group.rdma.network,
            # An autoscaled group is keyed by its range: the autoscaler's
            # moves are no resize of the operator's.
            "count": ([group.min_node_count, group.max_node_count]
                      if group.autoscale else count),
            "version": group.kube_version or spec.kube_version})
    material = {
        "groups": groups, "mode": fabric.mode,
        "resource": fabric.resource,
        "network": [fabric.attachment_namespace, fabric.attachment_name],
        "request": int(request or 0),
    }
    key = hashlib.sha256(json.dumps(
        material, sort_keys=True).encode()).hexdigest()[:16]
    skip = None
    if fabric.enabled and not fabric.resource:
        skip = ("rdma_mode %s gives pods an IPoIB interface but no RDMA "
                "device; perftest needs one" % fabric.mode)
    elif fabric.enabled and expected < 2:
        skip = ("fewer than two RDMA nodes (%d in node group%s %s); the "
                "test needs a server and a client on two nodes" % (
                    expected, "" if len(groups) == 1 else "s",
                    ", ".join(g["name"] for g in groups) or "-"))
    return Target(
        key=key, enabled=bool(fabric.enabled and fabric.selftest_enabled),
        resource=fabric.resource,
        network_namespace=fabric.attachment_namespace,
        network_name=fabric.attachment_name,
        rdma_groups=tuple(g["name"] for g in groups),
        nodes_expected=expected, skip_reason=skip)


# -- the pods --------------------------------------------------------------

def pod_name(run, role):
    return "magnum-rdma-selftest-%s-%s" % (run, role)


def pod_manifest(run, role, node, tgt, cfg, server_ip=None):
    """The server or client Pod of run ``run`` on node ``node``."""
    args = {SERVER: "", CLIENT: server_ip or ""}
    env = [
        ("SELFTEST_ROLE", role),
        ("SELFTEST_SERVER", args[role]),
        ("SELFTEST_DEVICE", cfg.device),
        ("SELFTEST_BW_ARGS", " ".join(shlex.quote(a)
                                      for a in cfg.bandwidth_args)),
        ("SELFTEST_LAT_ARGS", " ".join(shlex.quote(a)
                                       for a in cfg.latency_args)),
        ("SELFTEST_CONNECT_TRIES", str(cfg.connect_tries)),
    ]
    limits = {tgt.resource: "1"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name(run, role),
            "namespace": tgt.network_namespace,
            "labels": {contract.OWNER_LABEL: contract.OWNER_VALUE,
                       RUN_LABEL: run, ROLE_LABEL: role},
            "annotations": {
                contract.MULTUS_NETWORKS_ANNOTATION: tgt.network},
        },
        "spec": {
            "restartPolicy": "Never",
            "nodeSelector": {contract.HOSTNAME_LABEL: node},
            # The node was chosen: whatever taints its group has.
            "tolerations": [{"operator": "Exists"}],
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": 5,
            # The kubelet ends a pod the driver forgot.
            "activeDeadlineSeconds": cfg.timeout_seconds + 60,
            "containers": [{
                "name": CONTAINER,
                "image": cfg.image,
                "imagePullPolicy": cfg.pull_policy,
                "command": ["/bin/sh", "-c", SCRIPT],
                "env": [{"name": k, "value": v} for k, v in env],
                "resources": {"requests": dict(limits),
                              "limits": dict(limits)},
                # Memory registration pins pages.
                "securityContext": {
                    "capabilities": {"add": ["IPC_LOCK"]}},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
            }],
        },
    }


def render(spec, cfg, run="example", nodes=("node-a", "node-b")):
    """What a run of ``spec`` creates (for ``render`` and tests).

    Empty without the self-test; the thresholds it will be judged by are
    part of it.
    """
    tgt = target(spec)
    if not tgt.enabled or tgt.skip_reason:
        return {}
    return {"thresholds": cfg.thresholds(),
            "pods": [pod_manifest(run, SERVER, nodes[0], tgt, cfg),
                     pod_manifest(run, CLIENT, nodes[1], tgt, cfg,
                                  server_ip="192.0.2.10")]}


# -- reading the workload cluster's objects ---------------------------------

@dataclasses.dataclass(frozen=True)
class NodeView:
    """A workload Node as the self-test sees it."""

    name: str
    group: str = None
    ready: bool = False
    schedulable: bool = True
    allocatable: int = 0             # of the RDMA resource


@dataclasses.dataclass(frozen=True)
class PodView:
    """A self-test Pod, reduced to what :func:`decide` reads."""

    name: str
    run: str
    role: str
    namespace: str = None
    phase: str = "Pending"
    node: str = None
    deleting: bool = False
    network_ip: str = None           # on the RDMA network
    exit_code: int = None            # once terminated
    message: str = None              # the termination message
    reason: str = None               # terminated/waiting reason
    detail: str = None               # why it waits (scheduler, kubelet)


def network_ip(annotations, network):
    """The pod's first address on ``network`` (``ns/name``), or None.

    From Multus's network-status annotation; malformed annotations are
    treated as absent.
    """
    text = (annotations or {}).get(contract.MULTUS_NETWORK_STATUS_ANNOTATION)
    if not text:
        return None
    try:
        entries = json.loads(text)
    except ValueError:
        return None
    if not isinstance(entries, list):
        return None
    name = network.split("/", 1)[1] if "/" in network else network
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("default"):
            continue
        if entry.get("name") not in (network, name):
            continue
        ips = entry.get("ips")
        if isinstance(ips, list) and ips and isinstance(ips[0], str):
            return ips[0]
    return None


def pod_view(pod, network):
    """A :class:`PodView` of a Pod dict (API JSON field names)."""
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    view = dict(name=meta.get("name"), run=labels.get(RUN_LABEL),
                role=labels.get(ROLE_LABEL), namespace=meta.get("namespace"),
                phase=status.get("phase") or "Pending",
                node=spec.get("nodeName"),
                deleting=bool(meta.get("deletionTimestamp")),
                network_ip=network_ip(meta.get("annotations"), network))
    for cstatus in status.get("containerStatuses") or ():
        if cstatus.get("name") != CONTAINER:
            continue
        state = cstatus.get("state") or {}
        if state.get("terminated"):
            term = state["terminated"]
            view.update(exit_code=term.get("exitCode"),
                        message=term.get("message"),
                        reason=term.get("reason"))
        elif state.get("waiting"):
            wait = state["waiting"]
            view.update(reason=wait.get("reason"),
                        detail=wait.get("message"))
    if view.get("detail") is None:
        for cond in status.get("conditions") or ():
            if cond.get("type") == "PodScheduled" and cond.get(
                    "status") == "False":
                view.update(reason=cond.get("reason"),
                            detail=cond.get("message"))
    if status.get("phase") == "Failed" and view.get("exit_code") is None:
        view.update(reason=status.get("reason") or view.get("reason"),
                    detail=status.get("message") or view.get("detail"))
    return PodView(**view)


def node_view(node, resource, group_label=contract.CHART_NODE_GROUP_LABEL):
    """A :class:`NodeView` of a Node dict (API JSON field names)."""
    meta = node.get("metadata") or {}
    status = node.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                for c in status.get("conditions") or ())
    return NodeView(
        name=meta.get("name"),
        group=(meta.get("labels") or {}).get(group_label),
        ready=ready,
        schedulable=not (node.get("spec") or {}).get("unschedulable"),
        allocatable=quantity((status.get("allocatable") or {}).get(
            resource)) if resource else 0)


def quantity(value):
    """An integer resource quantity ("2", 2); anything else is 0."""
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


# -- the report ------------------------------------------------------------

_COLUMN = re.compile(
    r"#[A-Za-z_]+|(?:[A-Za-z0-9_.%]+ )?[A-Za-z0-9_.%]+\[[^\]\s]+\]")
_NUMBER = re.compile(r"^[0-9]+(\.[0-9]+)?$")
_KEYS = {"format", "role", "device", "note", "error",
         "bw_exit", "bw_header", "bw_result", "bw_error",
         "lat_exit", "lat_header", "lat_result", "lat_error"}
_REPEATED = {"bw_error", "lat_error", "error"}
BW_COLUMN = "BW average[Gb/sec]"
LAT_COLUMN = "t_typical[usec]"


@dataclasses.dataclass(frozen=True)
class Report:
    """A pod's termination message, parsed."""

    role: str
    device: str
    exits: dict                      # {"bw": int, "lat": int}
    bandwidth_gbps: float = None     # perftest's average
    latency_us: float = None         # perftest's typical (median)
    errors: tuple = ()               # ("bw: ...", "lat: ...", ...)
    note: str = None

    @property
    def ok(self):
        """Both tests ran and succeeded."""
        return self.exits.get("bw") == 0 and self.exits.get("lat") == 0


def _columns(header):
    names = _COLUMN.findall(header)
    if not names or names[0] != "#bytes":
        raise MessageError("not a perftest result header: %r" % header[:80])
    return names


def _table(header, result, wanted):
    names = _columns(header)
    values = result.split()
    if len(values) != len(names):
        raise MessageError("perftest result has %d values for %d columns: "
                           "%r" % (len(values), len(names), result[:80]))
    for value in values:
        if not _NUMBER.match(value):
            raise MessageError("not a number in the perftest result: %r"
                               % value[:20])
    table = dict(zip(names, (float(v) for v in values)))
    if wanted not in table:
        raise MessageError("no %r column in the perftest result header "
                           "(pass --report_gbits to ib_write_bw)" % wanted
                           if wanted == BW_COLUMN else
                           "no %r column in the perftest result header"
                           % wanted)
    return table[wanted]


def parse_message(text):
    """The :class:`Report` in a termination message; MessageError if bad.

    Strict: the first line names :data:`FORMAT`; every line is a known
    ``key=value``, each at most once (error lines may repeat); exit
    statuses are integers; perftest's result is read by its header's
    column names.
    """
    if not text or not text.strip():
        raise MessageError("empty termination message")
    if len(text.encode("utf-8", "replace")) > MESSAGE_MAX:
        raise MessageError("termination message longer than %d bytes"
                           % MESSAGE_MAX)
    fields = {}
    repeated = {k: [] for k in _REPEATED}
    lines = [line for line in text.splitlines() if line.strip()]
    if lines[0].strip() != "format=" + FORMAT:
        raise MessageError("termination message does not start with "
                           "format=%s" % FORMAT)
    for line in lines[1:]:
        key, sep, value = line.partition("=")
        if not sep or key not in _KEYS or key == "format":
            raise MessageError("unexpected line in the termination "
                               "message: %r" % line[:80])
        if key in _REPEATED:
            repeated[key].append(value.strip())
        elif key in fields:
            raise MessageError("%s given twice" % key)
        else:
            fields[key] = value
    if fields.get("role") not in (SERVER, CLIENT):
        raise MessageError("role is %r, not server or client"
                           % fields.get("role"))
    exits = {}
    for test in ("bw", "lat"):
        raw = fields.get(test + "_exit")
        if raw is None:
            continue
        if not re.match(r"^-?[0-9]{1,3}$", raw.strip()):
            raise MessageError("%s_exit is not an exit status: %r"
                               % (test, raw[:20]))
        exits[test] = int(raw)
    bandwidth = latency = None
    if exits.get("bw") == 0 and "bw_result" in fields:
        bandwidth = _table(fields.get("bw_header", ""), fields["bw_result"],
                           BW_COLUMN)
    if exits.get("lat") == 0 and "lat_result" in fields:
        latency = _table(fields.get("lat_header", ""), fields["lat_result"],
                         LAT_COLUMN)
    for test, value in (("bw", bandwidth), ("lat", latency)):
        if exits.get(test) == 0 and value is None:
            raise MessageError("%s exited 0 without a result line" % test)
    errors = tuple(repeated["error"]) + tuple(
        "%s: %s" % (name, line) for test, name in (
            ("bw_error", "ib_write_bw"), ("lat_error", "ib_write_lat"))
        for line in repeated[test] if line)
    note = fields.get("note")
    return Report(role=fields["role"], device=fields.get("device") or "",
                  exits=exits, bandwidth_gbps=bandwidth, latency_us=latency,
                  errors=errors, note=note.strip()[:200] if note else None)


# -- the record ------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Record:
    """The self-test state of one cluster (its Lease), parsed."""

    request: int = 0
    run: str = None
    run_key: str = None
    run_started: datetime.datetime = None
    run_nodes: tuple = ()
    run_settings: dict = None
    result: dict = None
    result_key: str = None
    resource_version: str = None
    exists: bool = False


def lease_name(release):
    return "%s-rdma-selftest" % release


def _time(text):
    try:
        value = datetime.datetime.fromisoformat(str(text))
    except (TypeError, ValueError):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value


def _json(text):
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def record_from_lease(lease):
    """The :class:`Record` of a Lease dict (None: an empty record)."""
    if not lease:
        return Record()
    meta = lease.get("metadata") or {}
    notes = meta.get("annotations") or {}
    try:
        request = int(notes.get(REQUEST_KEY) or 0)
    except ValueError:
        request = 0
    run = notes.get(RUN_KEY) or None
    return Record(
        request=request, run=run,
        run_key=notes.get(RUN_KEY_KEY) if run else None,
        run_started=_time(notes.get(RUN_STARTED_KEY)) if run else None,
        run_nodes=tuple(n for n in (notes.get(RUN_NODES_KEY) or "").split(
            ",") if n) if run else (),
        run_settings=_json(notes.get(RUN_SETTINGS_KEY)) if run else None,
        result=_json(notes.get(RESULT_KEY)),
        result_key=notes.get(RESULT_KEY_KEY) or None,
        resource_version=meta.get("resourceVersion"), exists=True)


def _iso(when):
    return when.astimezone(datetime.timezone.utc).isoformat(
        timespec="seconds")


def record_annotations(record):
    notes = {REQUEST_KEY: str(record.request)}
    if record.run:
        notes.update({
            RUN_KEY: record.run, RUN_KEY_KEY: record.run_key or "",
            RUN_STARTED_KEY: _iso(record.run_started),
            RUN_NODES_KEY: ",".join(record.run_nodes),
            RUN_SETTINGS_KEY: json.dumps(record.run_settings or {},
                                         sort_keys=True)})
    if record.result is not None:
        notes[RESULT_KEY] = json.dumps(record.result, sort_keys=True)
        notes[RESULT_KEY_KEY] = record.result_key or ""
    return notes


def lease_body(namespace, release, labels, record, now):
    """The Lease that stores ``record``.

    Its holder is the run in flight (none between runs), held for the
    run's timeout: ``kubectl get lease`` shows which test runs.
    """
    spec = {"renewTime": now.astimezone(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")}
    if record.run:
        spec["holderIdentity"] = "rdma-selftest-%s" % record.run
        spec["leaseDurationSeconds"] = int(
            (record.run_settings or {}).get("timeout_seconds") or 600)
    body = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": lease_name(release), "namespace": namespace,
                     "labels": dict(labels or {}),
                     "annotations": record_annotations(record)},
        "spec": spec,
    }
    if record.resource_version:
        body["metadata"]["resourceVersion"] = record.resource_version
    return body


# -- judging a run ----------------------------------------------------------

def _round(value):
    return None if value is None else round(float(value), 2)


def _entry(state, now, tgt, nodes, run=None, **extra):
    entry = {"state": state, "at": _iso(now), "network": tgt.network,
             "resource": tgt.resource, "nodes": list(nodes)}
    if run:
        entry["run"] = run
    entry.update({k: v for k, v in extra.items() if v is not None})
    return entry


def judge(report, server_report, run, nodes, tgt, thresholds, now):
    """The result entry of a finished client (``report`` may be None).

    ``thresholds`` are those fixed when the run started.
    """
    server, client = (list(nodes) + [None, None])[:2]
    between = "between %s (server) and %s (client) on %s" % (
        server, client, tgt.network)
    min_bw = float(thresholds.get("min_bandwidth_gbps") or 0)
    max_lat = float(thresholds.get("max_latency_us") or 0)
    common = dict(min_bandwidth_gbps=min_bw or None,
                  max_latency_us=max_lat or None)
    if report is None:
        return _entry(FAILED, now, tgt, nodes, run, reason=(
            "the client pod ended without a readable report %s" % between),
            **common)
    measured = dict(bandwidth_gbps=_round(report.bandwidth_gbps),
                    latency_us=_round(report.latency_us),
                    device=report.device or None, note=report.note)
    if not report.ok:
        errors = list(report.errors)
        if server_report is not None:
            errors += ["server: %s" % e for e in server_report.errors]
        failed = [t for t, code in sorted(report.exits.items()) if code]
        what = (", ".join({"bw": "ib_write_bw", "lat": "ib_write_lat"}[t]
                          for t in failed) or "the test script")
        reason = (
            "%s failed %s%s. Check the RDMA network (Neutron port security, "
            "MTU, partition key), the device plugin and the NIC on both "
            "nodes." % (what, between,
                        (": " + "; ".join(errors[:4])) if errors else ""))
        return _entry(FAILED, now, tgt, nodes, run, reason=reason,
                      **dict(common, **measured))
    problems = []
    if min_bw and report.bandwidth_gbps < min_bw:
        problems.append("bandwidth %.2f Gbit/s is below the minimum %g "
                        "Gbit/s (rdma_selftest_min_bandwidth_gbps)" % (
                            report.bandwidth_gbps, min_bw))
    if max_lat and report.latency_us > max_lat:
        problems.append("latency %.2f us is above the maximum %g us "
                        "(rdma_selftest_max_latency_us)" % (
                            report.latency_us, max_lat))
    if problems:
        return _entry(BELOW_THRESHOLD, now, tgt, nodes, run, reason=(
            "%s %s. Check the links' speed and MTU, the NICs' firmware and "
            "that the pods got the RDMA device of the fast port." % (
                "; ".join(problems), between)),
            **dict(common, **measured))
    return _entry(PASSED, now, tgt, nodes, run, **dict(common, **measured))


def _waiting_detail(pod):
    if pod is None:
        return "not created"
    where = " on %s" % pod.node if pod.node else ""
    text = "%s%s" % (pod.phase, where)
    if pod.reason:
        text += " (%s%s)" % (pod.reason,
                             ": %s" % pod.detail if pod.detail else "")
    return text


def timed_out(server, client, run, nodes, tgt, timeout, now):
    """The entry of a run that did not finish in time."""
    parts = ["server pod %s" % _waiting_detail(server)]
    if server is not None and server.phase == "Running" and (
            not server.network_ip):
        parts.append("the server has no address on %s (no Multus "
                     "network-status for it: is the network there?)"
                     % tgt.network)
    parts.append("client pod %s" % _waiting_detail(client))
    return _entry(TIMED_OUT, now, tgt, nodes, run, reason=(
        "no result after %d s between %s and %s on %s: %s." % (
            timeout, (list(nodes) + ["?"])[0], (list(nodes) + ["?", "?"])[1],
            tgt.network, "; ".join(parts))))


# -- the state machine -----------------------------------------------------

COMPLETE = ("CREATE_COMPLETE", "UPDATE_COMPLETE")


@dataclasses.dataclass
class Decision:
    """What :func:`decide` wants done, and what health shows.

    ``record``: the record to write first (None: unchanged); ``create``:
    pods to create; ``delete``: ``(namespace, name)`` of pods to delete;
    ``entry``/``ok``: the health entry (None: none) and its verdict
    (False: unhealthy, None: no say).
    """

    entry: dict = None
    ok: bool = None
    record: Record = None
    create: list = dataclasses.field(default_factory=list)
    delete: list = dataclasses.field(default_factory=list)


def shown(record):
    """Entry and verdict of the last result (none: (None, None))."""
    if not record.result:
        return None, None
    state = record.result.get("state")
    return dict(record.result), (False if state in BAD_STATES else True)


def choose_nodes(nodes, tgt):
    """Two RDMA nodes for a run (server first), or None."""
    usable = sorted(n.name for n in nodes
                    if n.group in tgt.rdma_groups and n.ready
                    and n.schedulable and n.allocatable > 0)
    return tuple(usable[:2]) if len(usable) >= 2 else None


def _without_run(record):
    return dataclasses.replace(record, run=None, run_key=None,
                               run_started=None, run_nodes=(),
                               run_settings=None)


def _finish(record, entry):
    return dataclasses.replace(_without_run(record), result=entry,
                               result_key=record.run_key)


def _names(pods):
    return [(p.namespace, p.name) for p in pods if p is not None]


def decide(record, tgt, status, nodes, pods, cfg, now, new_run):
    """The next step of a cluster's self-test (see the module's doc).

    :param record: the :class:`Record`.
    :param tgt: the :class:`Target`; None when the cluster is being
        deleted or has no RDMA (any run is stopped, its pods deleted).
    :param status: Magnum's status of the cluster.
    :param nodes: :class:`NodeView` of the workload cluster (None: not
        readable).
    :param pods: :class:`PodView` of every self-test pod, of any namespace
        (None: not readable).
    :param cfg: :class:`Settings` for a new run.
    :param new_run: a function returning a fresh run id.
    """
    live = [p for p in pods or () if not p.deleting]
    if tgt is None or not tgt.enabled:
        return _stop(record, live)
    if pods is None or nodes is None:
        entry, ok = shown(record)
        return Decision(entry=entry, ok=ok)
    orphans = [p for p in live if p.run != record.run]
    if record.run is None:
        decision = _idle(record, tgt, status, nodes, cfg, now, new_run)
    elif status not in COMPLETE:
        # An update is changing the nodes under the test: stop it; the
        # next complete state starts a new one.
        decision = _stop(record, live)
        decision.entry, decision.ok = shown(record)
        return decision
    else:
        decision = _running(record, tgt, live, now)
    decision.delete = _names(orphans) + decision.delete
    return decision


def _stop(record, live):
    return Decision(delete=_names(live),
                    record=_without_run(record) if record.run else None)


def _idle(record, tgt, status, nodes, cfg, now, new_run):
    entry, ok = shown(record)
    if status not in COMPLETE or record.result_key == tgt.key:
        return Decision(entry=entry, ok=ok)
    if tgt.skip_reason:
        skipped = _entry(SKIPPED, now, tgt, (), reason=tgt.skip_reason)
        return Decision(entry=skipped, ok=True, record=dataclasses.replace(
            record, result=skipped, result_key=tgt.key))
    chosen = choose_nodes(nodes, tgt)
    if chosen is None:
        usable = sorted(n.name for n in nodes if n.group in tgt.rdma_groups
                        and n.ready and n.allocatable > 0)
        waiting = _entry(WAITING, now, tgt, usable, reason=(
            "%d of the %d RDMA nodes are Ready and advertise %s; the test "
            "starts when two do" % (len(usable), tgt.nodes_expected,
                                    tgt.resource)))
        return Decision(entry=waiting, ok=None)
    run = new_run()
    started = dataclasses.replace(
        record, run=run, run_key=tgt.key, run_started=now,
        run_nodes=chosen, run_settings=cfg.as_record())
    return Decision(
        entry=_entry(RUNNING, now, tgt, chosen, run, started=_iso(now)),
        ok=None, record=started,
        create=[pod_manifest(run, SERVER, chosen[0], tgt, cfg)])


def _ended(pod):
    """The pod ended (exit status, or failed without one)."""
    return pod is not None and (pod.exit_code is not None or pod.phase in (
        "Succeeded", "Failed"))


def _running(record, tgt, live, now):
    run, nodes = record.run, record.run_nodes
    mine = {p.role: p for p in live if p.run == run}
    server, client = mine.get(SERVER), mine.get(CLIENT)
    cfg = Settings.from_record(record.run_settings)
    thresholds = cfg.thresholds()
    started = record.run_started or now
    names = _names((server, client))

    def done(entry):
        return Decision(entry=entry, ok=entry["state"] not in BAD_STATES,
                        record=_finish(record, entry), delete=names)

    if _ended(client):
        return done(_judged(client, server, record, tgt, thresholds, now))
    if _ended(server) and (server.exit_code != 0):
        return done(_server_failed(server, record, tgt, thresholds, now))
    if (now - started).total_seconds() > cfg.timeout_seconds:
        return done(timed_out(server, client, run, nodes, tgt,
                              cfg.timeout_seconds, now))
    running = Decision(entry=_entry(RUNNING, now, tgt, nodes, run,
                                    started=_iso(started)), ok=None)
    if server is None:
        # Not made yet (a conductor stopped after writing the record), or
        # gone (evicted): the pair starts again.
        running.create.append(pod_manifest(run, SERVER, nodes[0], tgt, cfg))
        running.delete = names
    elif client is None and server.phase == "Running" and server.network_ip:
        running.create.append(pod_manifest(run, CLIENT, nodes[1], tgt, cfg,
                                           server_ip=server.network_ip))
    return running


def _report(pod):
    try:
        return parse_message(pod.message)
    except MessageError:
        return None


def _how_it_ended(pod):
    text = "exit status %s" % pod.exit_code if pod.exit_code is not None \
        else "phase %s" % pod.phase
    if pod.reason:
        text += ", %s" % pod.reason
    if pod.detail:
        text += ": %s" % pod.detail
    return text


def _judged(client, server, record, tgt, thresholds, now):
    run, nodes = record.run, record.run_nodes
    try:
        report, problem = parse_message(client.message), None
    except MessageError as exc:
        report, problem = None, str(exc)
    server_report = _report(server) if server is not None else None
    entry = judge(report, server_report, run, nodes, tgt, thresholds, now)
    if problem or (report is not None and not report.ok):
        entry["reason"] += " (client %s%s)" % (
            _how_it_ended(client), "; %s" % problem if problem else "")
    return entry


def _server_failed(server, record, tgt, thresholds, now):
    run, nodes = record.run, record.run_nodes
    report = _report(server)
    if report is not None and not report.ok:
        entry = judge(report, None, run, nodes, tgt, thresholds, now)
        entry["reason"] = "the server pod ended first (%s): %s" % (
            _how_it_ended(server), entry["reason"])
        return entry
    return _entry(FAILED, now, tgt, nodes, run, reason=(
        "the server pod on %s ended before the client reported (%s), "
        "without a readable report; the test on %s did not run." % (
            server.node or nodes[0], _how_it_ended(server), tgt.network)))


def entry_text(entry):
    """The entry as the health reason's value, in JSON.

    Magnum keeps a string per key of ``health_status_reason``.
    """
    return json.dumps(entry, sort_keys=True, separators=(", ", ": "))
