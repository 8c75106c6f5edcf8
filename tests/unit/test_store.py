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
"""The compact store: projection, LISTs, watch events, freshness."""

import ast
import datetime
import os

from magnum_capi_rdma import operations
from magnum_capi_rdma import store

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def machine(name, release="r1", namespace="ns", phase="Running", **extra):
    obj = {
        "apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "Machine",
        "metadata": {
            "name": name, "namespace": namespace, "uid": "u-" + name,
            "resourceVersion": "7", "generation": 2,
            "labels": {"capi.stackhpc.com/cluster": release,
                       "capi.stackhpc.com/node-group": "default-worker",
                       "app.kubernetes.io/managed-by": "Helm"},
            "annotations": {"kubectl.kubernetes.io/last-applied": "x" * 500},
            "managedFields": [{"manager": "capi", "fieldsV1": {"f:x": {}}}],
            "ownerReferences": [{"uid": "owner"}],
        },
        "spec": {"clusterName": release, "providerID": "openstack:///abc",
                 "version": "v1.33.1",
                 "bootstrap": {"configRef": {"name": "big"}}},
        "status": {
            "phase": phase, "bootstrapReady": True,
            "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
            "nodeRef": {"apiVersion": "v1", "kind": "Node", "name": name},
            "nodeInfo": {"kernelVersion": "6.8", "osImage": "Ubuntu"},
            "conditions": [{"type": "Ready", "status": "True",
                            "lastTransitionTime": "2026-01-01T00:00:00Z"}],
            "v1beta2": {"conditions": [{
                "type": "Available", "status": "True", "reason": "Ok",
                "message": "", "observedGeneration": 2,
                "lastTransitionTime": "2026-01-01T00:00:00Z"}]},
        },
    }
    obj.update(extra)
    return obj


def lease(release, namespace="ns", operation="UPDATE", minute=0):
    return {"metadata": {
        "name": operations.lease_name(release), "namespace": namespace,
        "resourceVersion": "9", "labels": {"x": "y"},
        "annotations": {
            operations.OPERATION_KEY: operation,
            operations.STARTED_KEY: "2026-11-23T10:%02d:00+00:00" % minute,
            operations.TIMEOUT_KEY: "60"},
        "managedFields": [{"manager": "driver"}]},
        "spec": {"holderIdentity": "conductor-1",
                 "leaseDurationSeconds": 60,
                 "renewTime": "2026-11-23T10:00:05.000000Z"}}


def filled(*objects, kind="machine"):
    s = store.Store()
    builder = s.builder(kind)
    for obj in objects:
        builder.add(obj)
    builder.commit()
    return s


# -- the compact form --

def test_projection_keeps_what_status_reads_and_drops_the_rest():
    kept = store.project(machine("m1"))
    meta = kept["metadata"]
    assert meta == {"name": "m1", "namespace": "ns", "generation": 2,
                    "labels": {"capi.stackhpc.com/cluster": "r1",
                               "capi.stackhpc.com/node-group":
                               "default-worker"}}
    assert kept["spec"] == {"clusterName": "r1",
                            "providerID": "openstack:///abc",
                            "version": "v1.33.1"}
    st = kept["status"]
    assert st["phase"] == "Running" and st["bootstrapReady"] is True
    assert st["addresses"] == [{"type": "InternalIP",
                                "address": "10.0.0.1"}]
    assert st["nodeRef"] == {"name": "m1"}
    assert "nodeInfo" not in st
    assert st["conditions"] == [{"type": "Ready", "status": "True"}]
    assert st["v1beta2"]["conditions"] == [
        {"type": "Available", "status": "True", "reason": "Ok"}]
    assert kept["apiVersion"] == "cluster.x-k8s.io/v1beta1"


def test_control_plane_endpoint_is_kept_and_nested_spec_is_not():
    cluster = {"metadata": {"name": "r1", "namespace": "ns"},
               "spec": {"controlPlaneEndpoint": {"host": "1.2.3.4",
                                                 "port": 6443},
                        "clusterNetwork": {"pods": {"cidrBlocks": ["x"]}}}}
    assert store.project(cluster)["spec"] == {
        "controlPlaneEndpoint": {"host": "1.2.3.4", "port": 6443}}


def test_blobs_round_trip():
    objects = {"m1": store.project(machine("m1")),
               "m2": store.project(machine("m2"))}
    assert store.decode(store.encode(objects)) == objects


def _read_keys(path):
    """String keys read with .get("k") or ["k"] in a module."""
    with open(path) as f:
        tree = ast.parse(f.read())
    keys = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func,
                                                      ast.Attribute)
                and node.func.attr == "get" and node.args and
                isinstance(node.args[0], ast.Constant) and
                isinstance(node.args[0].value, str)):
            keys.add(node.args[0].value)
        elif (isinstance(node, ast.Subscript) and
              isinstance(node.slice, ast.Constant) and
              isinstance(node.slice.value, str)):
            keys.add(node.slice.value)
    return keys


# Scalar fields the readers use (the projection keeps every scalar of spec
# and status), and keys of the readers' own dicts (not object fields).
KNOWN_SCALARS = {
    "phase", "ready", "replicas", "readyReplicas", "updatedReplicas",
    "availableReplicas", "upToDateReplicas", "unavailableReplicas",
    "version", "initialized", "failureMessage", "failureReason",
    "observedGeneration", "clusterName", "providerID", "host", "port",
    "controlPlaneReady", "infrastructureReady", "bootstrapReady",
    "controlPlaneInitialized", "infrastructureProvisioned",
    "dataSecretCreated", "provisioned", "available", "lastUpdated",
}
NOT_OBJECT_FIELDS = {
    "api", "nodes", "rdma", "rdma_selftest", "node_count", "summary",
    "state", "allocatable",
}


def test_every_field_the_readers_read_survives_the_projection():
    """A reader of a field the compact form drops fails here.

    Not in production: classify the new key (a scalar: KNOWN_SCALARS; a
    nested field: make :func:`store.project` keep it).
    """
    vocabulary = (set(store.KEPT_METADATA) |
                  {"labels", "metadata", "spec", "status", "apiVersion",
                   "kind", "conditions", "addresses", "nodeRef"} |
                  set(store.KEPT_SPEC) | set(store.NESTED_STATUS) |
                  set(store.CONDITION_KEYS) | set(store.ADDRESS_KEYS) |
                  set(store.LEASE_SPEC) | KNOWN_SCALARS | NOT_OBJECT_FIELDS |
                  {"annotations", "resourceVersion"})  # of Leases
    unknown = {}
    for module in ("capi.py", "status.py", "health.py", "operations.py"):
        path = os.path.join(ROOT, "magnum_capi_rdma", module)
        missing = _read_keys(path) - vocabulary
        if missing:
            unknown[module] = sorted(missing)
    assert not unknown, unknown


# -- LISTs and events --

def test_builder_groups_by_release_and_replaces_on_commit():
    s = filled(machine("a-1", "a"), machine("a-2", "a"), machine("b-1", "b"),
               machine("x", release=None))
    assert [m["metadata"]["name"] for m in s.observed("ns", "a").machines] \
        == ["a-1", "a-2"]
    assert len(s.observed("ns", "b").machines) == 1
    assert s.stats()["by_kind"]["machine"] == 3
    # A relist replaces the kind: b-1 is gone.
    builder = s.builder("machine")
    builder.add(machine("a-1", "a"))
    builder.commit()
    assert s.observed("ns", "b").machines == ()
    assert s.stats()["by_kind"]["machine"] == 1


def test_the_builder_flushes_and_merges_large_lists():
    s = store.Store()
    builder = s.builder("machine")
    builder.FLUSH = 3
    for i in range(10):
        builder.add(machine("r-%02d" % i, "r"))
    builder.commit()
    assert len(s.observed("ns", "r").machines) == 10


def test_events_add_modify_delete():
    s = filled(machine("m1"))
    assert s.apply("machine", "ADDED", machine("m2", phase="Provisioning"))
    assert [m["status"]["phase"] for m in s.observed("ns", "r1").machines] \
        == ["Running", "Provisioning"]
    assert s.apply("machine", "MODIFIED", machine("m2"))
    assert s.observed("ns", "r1").machines[1]["status"]["phase"] == \
        "Running"
    assert s.apply("machine", "DELETED", machine("m1"))
    assert not s.apply("machine", "DELETED", machine("m1"))
    assert [m["metadata"]["name"] for m in
            s.observed("ns", "r1").machines] == ["m2"]
    assert s.apply("machine", "DELETED", machine("m2"))
    assert s.observed("ns", "r1").machines == ()
    assert s.stats()["objects"] == 0 and s.stats()["approx_bytes"] == 0


def test_an_update_that_changes_nothing_status_reads_is_not_applied():
    s = filled(machine("m1"))
    before = s.observed("ns", "r1")
    noise = machine("m1")
    noise["metadata"]["resourceVersion"] = "8"
    noise["metadata"]["managedFields"] = [{"manager": "other"}]
    noise["status"]["conditions"][0]["lastTransitionTime"] = "later"
    assert not s.apply("machine", "MODIFIED", noise)
    assert s.stats()["unchanged_events"] == 1
    # The decoded release is reused as is.
    assert s.observed("ns", "r1") is before


def test_addons_are_found_by_spec_cluster_name():
    addon = {"metadata": {"name": "r1-cni", "namespace": "ns"},
             "spec": {"clusterName": "r1"}, "status": {"phase": "Deployed"}}
    s = filled(addon, kind="helmrelease")
    assert [a["metadata"]["name"] for a in s.observed("ns", "r1").addons] \
        == ["r1-cni"]


def test_observed_picks_the_release_objects():
    s = store.Store()
    for kind, obj in (
            ("cluster", {"metadata": {"name": "r1", "namespace": "ns",
                                      "labels": {"capi.stackhpc.com/"
                                                 "cluster": "r1"}}}),
            ("kubeadmcontrolplane", {"metadata": {
                "name": "r1-control-plane", "namespace": "ns",
                "labels": {"capi.stackhpc.com/cluster": "r1"}}})):
        assert s.apply(kind, "ADDED", obj)
    seen = s.observed("ns", "r1")
    assert seen.cluster["metadata"]["name"] == "r1"
    assert seen.control_plane["metadata"]["name"] == "r1-control-plane"
    assert s.observed("other", "r1").cluster is None


def test_operation_records_from_leases():
    s = filled(lease("r1"), lease("r2", minute=5), kind=store.LEASES)
    record = s.operation("ns", "r2")
    assert record.operation == "UPDATE"
    assert record.started == datetime.datetime(
        2026, 11, 23, 10, 5, tzinfo=datetime.timezone.utc)
    assert record.holder == "conductor-1" and record.duration_seconds == 60
    assert s.operation("ns", "missing") == operations.Record()
    assert s.apply(store.LEASES, "MODIFIED", lease("r1", operation="DELETE"))
    assert s.operation("ns", "r1").operation == "DELETE"
    assert not s.apply(store.LEASES, "MODIFIED",
                       lease("r1", operation="DELETE"))
    assert s.apply(store.LEASES, "DELETED", lease("r1"))
    assert s.operation("ns", "r1") == operations.Record()


def test_compact_size_per_object():
    s = filled(*[machine("m%03d" % i, "r%d" % (i // 5)) for i in range(500)])
    stats = s.stats()
    assert stats["objects"] == 500
    # The raw objects are about 1.5 KB each; held, a fraction of that.
    assert stats["approx_bytes"] / 500 < 300, stats


# -- freshness --

def test_fresh_only_when_every_kind_is_listed_and_watching():
    states = {"cluster": store.SourceState(), "machine": store.SourceState()}
    fresh, reason = store.freshness(states, 100.0, 5)
    assert not fresh and reason == "cluster not listed yet"
    states["cluster"].error = "cannot list clusters: HTTP 403"
    assert store.freshness(states, 100.0, 5)[1] == (
        "cluster not listed yet: cannot list clusters: HTTP 403")
    for state in states.values():
        state.synced, state.watching, state.error = True, True, None
    assert store.freshness(states, 100.0, 5) == (True, None)


def test_a_watch_down_is_served_for_the_staleness_bound_only():
    states = {"machine": store.SourceState(synced=True, watching=False,
                                           down_since=100.0,
                                           error="connection refused")}
    assert store.freshness(states, 104.9, 5)[0]
    fresh, reason = store.freshness(states, 106.0, 5)
    assert not fresh
    assert reason == "watch of machine down for 6s: connection refused"
    # Listed, watch not opened yet: fresh.
    states["machine"] = store.SourceState(synced=True)
    assert store.freshness(states, 106.0, 0)[0]


def test_backoff_doubles_up_to_the_cap_with_jitter():
    assert store.backoff(1, rand=lambda: 1.0) == 0.2
    assert store.backoff(3, rand=lambda: 1.0) == 0.8
    assert store.backoff(30, rand=lambda: 1.0) == 10.0
    assert store.backoff(30, rand=lambda: 0.0) == 5.0
    assert store.is_gone(410) and not store.is_gone(500)
