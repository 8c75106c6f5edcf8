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
"""Faults and delays of the simulator: their names, types and validation.

Part of the SIMULATION for development and tests (never shipped).

Faults are set per cluster name (``"<name>"`` or ``"<namespace>/<name>"``)
or for every cluster (``"*"``); the most specific entry wins key by key.
"""

import yaml

#: fault name -> (accepted types, what it does)
FAULTS = {
    "machine_quota_failure": (
        (bool,), "Machines fail with InsufficientResources (Nova quota)"),
    "network_failure": (
        (str,), "OpenStackCluster fails with this message, never ready"),
    "addon_failed": (
        (str,), "the HelmRelease/Manifests of this name or name suffix "
        "goes Failed"),
    "provision_delay": (
        (int, float), "seconds Machines stay Provisioning"),
    "stall": ((bool,), "nothing of the cluster progresses"),
    "stuck_deletion": ((bool,), "finalizers are never removed"),
    "node_unhealthy": (
        (str,), "the Node of the Machine of this name reports a problem: "
        "the Machine's NodeHealthy condition is False (as Cluster API "
        "mirrors the Node's conditions)"),
    # The workload cluster (simulator.workload, simulator.kubelets).
    "rdma_policy_state": (
        (str,), "the NicClusterPolicy's status.state stays this"),
    "rdma_resource_missing": (
        (bool,), "no node advertises the RDMA resource (device plugin "
        "broken)"),
    "rdma_fabric_failure": (
        (str,), "the self-test's ib_write_bw fails with this message (a "
        "broken fabric)"),
    "rdma_bandwidth_gbps": (
        (int, float), "bandwidth the self-test measures (a slow fabric)"),
    "rdma_latency_us": (
        (int, float), "latency the self-test measures"),
    "rdma_selftest_hang": (
        (bool,), "the self-test's client never ends (timeouts)"),
}

#: Faults that take a number of at least zero.
_NON_NEGATIVE = ("provision_delay", "rdma_bandwidth_gbps", "rdma_latency_us")

#: delay name -> default seconds
DEFAULT_DELAYS = {
    "infrastructure": 0.2,
    "machine_bootstrap": 0.0,
    "machine_provisioning": 0.5,
    "machine_node": 0.0,
    "addon": 0.2,
    "deletion": 0.5,
    # The workload cluster (simulator.kubelets).
    "rdma_operator": 0.5,
    "workload_pod": 0.2,
    "perftest": 1.0,
}


class FaultsError(ValueError):
    """A faults or delays specification is not valid."""


def _check_fault(where, name, value):
    if name not in FAULTS:
        raise FaultsError("%s: unknown fault %r (known: %s)" % (
            where, name, ", ".join(sorted(FAULTS))))
    types, _help = FAULTS[name]
    if value is None:
        return
    if isinstance(value, bool) and bool not in types:
        ok = False
    else:
        ok = isinstance(value, types)
    if not ok:
        raise FaultsError("%s: fault %r must be %s, got %r" % (
            where, name, " or ".join(t.__name__ for t in types), value))
    if name in _NON_NEGATIVE and value < 0:
        raise FaultsError("%s: %s must be >= 0, got %r" % (
            where, name, value))


def validate_cluster_faults(where, faults):
    """Check one cluster's faults; return them as a plain dict."""
    if faults is None:
        return {}
    if not isinstance(faults, dict):
        raise FaultsError("%s: faults must be a mapping of fault name to "
                          "value, got %r" % (where, faults))
    for name, value in faults.items():
        _check_fault(where, name, value)
    return {k: v for k, v in faults.items() if v is not None}


def validate_faults(mapping):
    """Check ``{cluster: {fault: value}}``; return a validated copy."""
    if mapping is None:
        return {}
    if not isinstance(mapping, dict):
        raise FaultsError("faults must be a mapping of cluster name (or "
                          "'*') to faults, got %s" % type(mapping).__name__)
    result = {}
    for cluster, faults in mapping.items():
        if not isinstance(cluster, str) or not cluster:
            raise FaultsError("cluster names in faults must be non-empty "
                              "strings, got %r" % (cluster,))
        result[cluster] = validate_cluster_faults(
            "faults for %r" % cluster, faults)
    return result


def load_faults(path):
    """Read and validate a faults YAML file."""
    try:
        with open(path) as handle:
            data = yaml.safe_load(handle)
    except OSError as exc:
        raise FaultsError("cannot read faults file %s: %s" % (
            path, exc.strerror or exc)) from None
    except yaml.YAMLError as exc:
        raise FaultsError("faults file %s is not valid YAML: %s" % (
            path, exc)) from None
    try:
        return validate_faults(data)
    except FaultsError as exc:
        raise FaultsError("faults file %s: %s" % (path, exc)) from None


def validate_delays(delays):
    """Defaults overlaid with ``delays`` ({name: seconds >= 0})."""
    result = dict(DEFAULT_DELAYS)
    for name, value in (delays or {}).items():
        if name not in DEFAULT_DELAYS:
            raise FaultsError("unknown delay %r (known: %s)" % (
                name, ", ".join(sorted(DEFAULT_DELAYS))))
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or value < 0:
            raise FaultsError("delay %r must be a number of seconds >= 0, "
                              "got %r" % (name, value))
        result[name] = float(value)
    return result


def faults_for(mapping, namespace, name):
    """The faults in force for cluster ``namespace/name``."""
    merged = dict(mapping.get("*") or {})
    merged.update(mapping.get(name) or {})
    merged.update(mapping.get("%s/%s" % (namespace, name)) or {})
    return merged
