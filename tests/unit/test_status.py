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
"""Table-driven tests of the pure status function."""

import datetime

import pytest

from magnum_capi_rdma import status as st
from tests.support.observed import addon
from tests.support.observed import cluster
from tests.support.observed import kcp
from tests.support.observed import machine
from tests.support.observed import md
from tests.support.observed import NGS
from tests.support.observed import osc
from tests.support.observed import R
from tests.support.observed import ready_observed
from tests.support.observed import T0
from tests.support.observed import view

CASES = [
    # (id, observed, view, now, expected status, reason fragments)
    ("all ready -> complete", ready_observed(), view(), T0,
     st.CREATE_COMPLETE, []),
    ("control plane pending", ready_observed(control_plane=kcp(ready=2)),
     view(), T0, st.CREATE_IN_PROGRESS,
     ["control plane 2/3 ready", "workers 2/2 ready", "add-ons 2/2"]),
    ("workers pending", ready_observed(
        machine_deployments=(md("default-worker", 6, 4),)),
     view(), T0, st.CREATE_IN_PROGRESS, ["workers 4/6 ready"]),
    ("addon pending", ready_observed(
        addons=(addon("cni"), addon("monitoring", "Installing"))),
     view(), T0, st.CREATE_IN_PROGRESS, ["add-ons 1/2 deployed"]),
    ("addon failed", ready_observed(
        addons=(addon("cni", "Failed", "chart not found"),)),
     view(), T0, st.CREATE_FAILED,
     ["add-on c-1234-cni failed: chart not found"]),
    ("quota failure on a machine", ready_observed(
        machines=(machine("w-0", "default-worker", failure=(
            "Quota exceeded for instances")),)),
     view(), T0, st.CREATE_FAILED,
     ["machine w-0", "InsufficientResources", "Quota exceeded"]),
    ("network failure", ready_observed(
        openstack_cluster=osc(False, "network not found")),
     view(), T0, st.CREATE_FAILED, ["network not found"]),
    ("control plane failure", ready_observed(
        control_plane=kcp(ready=0, failure="etcd quorum lost")),
     view(), T0, st.CREATE_FAILED, ["etcd quorum lost"]),
    ("missing node group MD", ready_observed(machine_deployments=()),
     view(), T0, st.CREATE_IN_PROGRESS, ["workers 0/0"]),
    ("timed out", ready_observed(control_plane=kcp(ready=1)),
     view(), T0 + datetime.timedelta(minutes=61), st.CREATE_FAILED,
     ["Timed out after 60 minutes", "control plane (1/3 ready)"]),
    ("not timed out at the edge", ready_observed(control_plane=kcp(ready=1)),
     view(), T0 + datetime.timedelta(minutes=59), st.CREATE_IN_PROGRESS,
     []),
    ("nothing created yet", st.Observed(), view(), T0,
     st.CREATE_IN_PROGRESS, ["control plane not created yet"]),
    ("upgrade waits for version", ready_observed(
        control_plane=kcp(version="v1.34.0", have="v1.33.1")),
     view(st.UPDATE_IN_PROGRESS), T0, st.UPDATE_IN_PROGRESS,
     ["upgrading to v1.34.0"]),
    ("update complete", ready_observed(), view(st.UPDATE_IN_PROGRESS), T0,
     st.UPDATE_COMPLETE, []),
    ("delete: cluster gone", st.Observed(), view(st.DELETE_IN_PROGRESS),
     T0, st.DELETE_COMPLETE, []),
    ("delete: machines remain", ready_observed(
        cluster=cluster(phase="Deleting")), view(st.DELETE_IN_PROGRESS), T0,
     st.DELETE_IN_PROGRESS, ["3 machine(s) remaining"]),
    ("delete timed out", ready_observed(cluster=cluster(phase="Deleting")),
     view(st.DELETE_IN_PROGRESS, timeout=10),
     T0 + datetime.timedelta(minutes=11), st.DELETE_FAILED,
     ["Timed out after 10 minutes", "3 machine(s) remaining"]),
]


@pytest.mark.parametrize("observed,magnum,now,expected,fragments",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_reconcile_table(observed, magnum, now, expected, fragments):
    result = st.reconcile(observed, magnum, now)
    assert result.status == expected, result.reason
    for fragment in fragments:
        assert fragment in result.reason


def test_complete_sets_addresses_version_and_counts():
    result = st.reconcile(ready_observed(), view(), T0)
    assert result.api_address == "https://192.0.2.10:6443"
    assert result.coe_version == "v1.33.1"
    assert result.master_addresses == ("10.0.0.1",)
    assert result.node_addresses == ("10.0.0.2", "10.0.0.3")
    assert result.node_groups["default-worker"].status == \
        st.CREATE_COMPLETE
    assert result.node_groups["default-master"].status == \
        st.CREATE_COMPLETE


def test_autoscaler_count_flows_back_to_magnum():
    steady = view(st.CREATE_COMPLETE,
                  ngs=(NGS[0], st.NodeGroupView(
                      "default-worker", "worker", 2, st.CREATE_COMPLETE)))
    observed = ready_observed(machine_deployments=(md("default-worker", 5,
                                                      5),))
    result = st.reconcile(observed, steady, T0)
    assert result.status == st.CREATE_COMPLETE
    assert result.node_groups["default-worker"].node_count == 5


def test_failure_marks_in_progress_node_groups_failed():
    observed = ready_observed(openstack_cluster=osc(False, "boom"),
                              machine_deployments=(md("default-worker", 2,
                                                      0),))
    result = st.reconcile(observed, view(), T0)
    assert result.status == st.CREATE_FAILED
    assert result.node_groups["default-worker"].status == st.CREATE_FAILED


def test_node_group_delete_completes_when_machines_gone():
    ngs = (NGS[0], NGS[1], st.NodeGroupView("gpu", "worker", 2,
                                            st.DELETE_IN_PROGRESS))
    observed = ready_observed()
    result = st.reconcile(observed, view(st.UPDATE_IN_PROGRESS, ngs=ngs), T0)
    assert result.node_groups["gpu"].delete_row is True
    assert result.status == st.UPDATE_COMPLETE
    observed = ready_observed(machines=ready_observed().machines + (
        machine("gpu-0", "gpu"),))
    result = st.reconcile(observed, view(st.UPDATE_IN_PROGRESS, ngs=ngs), T0)
    assert result.node_groups["gpu"].delete_row is False
    assert result.node_groups["gpu"].status == st.DELETE_IN_PROGRESS
    # The cluster's update is not complete while the group's machines go.
    assert result.status == st.UPDATE_IN_PROGRESS
    assert "node group gpu deleting, 1 machine(s) left" in result.reason
    timed_out = st.reconcile(observed, view(st.UPDATE_IN_PROGRESS, ngs=ngs,
                                            timeout=1),
                             T0 + datetime.timedelta(minutes=2))
    assert "node group gpu (deleting, 1 machine(s) left)" in \
        timed_out.reason


def test_new_node_group_progress_and_completion():
    ngs = (st.NodeGroupView("default-master", "master", 3,
                            st.UPDATE_COMPLETE),
           st.NodeGroupView("default-worker", "worker", 2,
                            st.UPDATE_COMPLETE),
           st.NodeGroupView("gpu", "worker", 1, st.CREATE_IN_PROGRESS))
    observed = ready_observed(machine_deployments=(
        md("default-worker"), md("gpu", 1, 0)))
    result = st.reconcile(observed, view(st.UPDATE_IN_PROGRESS, ngs=ngs), T0)
    assert result.status == st.UPDATE_IN_PROGRESS
    assert result.node_groups["gpu"].status == st.CREATE_IN_PROGRESS
    assert result.node_groups["gpu"].reason == "0/1 ready"
    observed = ready_observed(machine_deployments=(
        md("default-worker"), md("gpu", 1, 1)))
    result = st.reconcile(observed, view(st.UPDATE_IN_PROGRESS, ngs=ngs), T0)
    assert result.node_groups["gpu"].status == st.CREATE_COMPLETE
    assert result.status == st.UPDATE_COMPLETE


def test_a_deleting_machine_failing_is_not_a_cluster_failure():
    victim = machine("w-9", "default-worker", failure="instance gone")
    victim["metadata"]["deletionTimestamp"] = "2026-11-01T12:00:00Z"
    observed = ready_observed(machines=ready_observed().machines + (victim,))
    result = st.reconcile(observed, view(st.UPDATE_IN_PROGRESS), T0)
    assert result.status == st.UPDATE_COMPLETE


def test_not_ready_until_the_controller_saw_the_latest_spec():
    stale = md("default-worker")
    stale["metadata"]["generation"] = 3
    stale["status"]["observedGeneration"] = 2
    observed = ready_observed(machine_deployments=(stale,))
    result = st.reconcile(observed, view(st.UPDATE_IN_PROGRESS), T0)
    assert result.status == st.UPDATE_IN_PROGRESS
    stale["status"]["observedGeneration"] = 3
    result = st.reconcile(observed, view(st.UPDATE_IN_PROGRESS), T0)
    assert result.status == st.UPDATE_COMPLETE


# -- the two contracts of Cluster API -----------------------------------------
#
# The builders above write v1beta1 objects. Cluster API 1.13 stores v1beta2
# and adds the v1beta2 conditions and counters under ``status.v1beta2`` of
# an object read at v1beta1; read at v1beta2, the v1beta1 ones are under
# ``status.deprecated.v1beta1`` (which a later release drops). The same
# cases must read the same in every shape.

#: v1beta1 condition -> its v1beta2 counterpart, per kind.
V1BETA2_TYPES = {
    "Cluster": {"ControlPlaneReady": "ControlPlaneAvailable",
                "Ready": "Available"},
    "KubeadmControlPlane": {"Ready": "Available"},
    "MachineDeployment": {"Ready": "Available"},
    "Machine": {},
}
API = {"Cluster": "cluster.x-k8s.io", "MachineDeployment": "cluster.x-k8s.io",
       "Machine": "cluster.x-k8s.io",
       "KubeadmControlPlane": "controlplane.cluster.x-k8s.io"}
#: v1beta1 status fields that are not where they were in v1beta2.
DEPRECATED = ("conditions", "failureReason", "failureMessage",
              "readyReplicas", "updatedReplicas", "availableReplicas",
              "unavailableReplicas", "initialized", "ready",
              "infrastructureReady", "controlPlaneReady", "bootstrapReady")


def _v1beta2_conditions(kind, old):
    renamed = V1BETA2_TYPES[kind]
    return [{"type": renamed.get(c["type"], c["type"]),
             "status": c["status"],
             "reason": "Available" if c["status"] == "True" else
             "NotAvailable", "message": c.get("message") or "",
             "lastTransitionTime": "2026-11-01T12:00:00Z"}
            for c in old]


def _v1beta2_counters(status):
    found = {}
    if "readyReplicas" in status:
        found["readyReplicas"] = found["availableReplicas"] = status[
            "readyReplicas"]
    if "updatedReplicas" in status:
        found["upToDateReplicas"] = status["updatedReplicas"]
    return found


def as_written_by_capi_1_13(kind, obj):
    """A v1beta1 object as CAPI 1.13 shows it: plus ``status.v1beta2``."""
    out = dict(obj, apiVersion=API[kind] + "/v1beta1", kind=kind)
    status = dict(obj["status"])
    v2 = _v1beta2_counters(status)
    v2["conditions"] = _v1beta2_conditions(kind, status.get(
        "conditions") or ())
    status["v1beta2"] = v2
    out["status"] = status
    return out


def as_read_at_v1beta2(kind, obj, deprecated=True):
    """The same object read at v1beta2 (``deprecated``: as 1.13 has it)."""
    old = dict(obj["status"])
    status = {k: v for k, v in old.items() if k not in DEPRECATED}
    status.update(_v1beta2_counters(old))
    status["conditions"] = _v1beta2_conditions(kind, old.get(
        "conditions") or ())
    if "initialized" in old:
        status["initialization"] = {
            "controlPlaneInitialized": old["initialized"]}
    if deprecated:
        status["deprecated"] = {"v1beta1": {
            k: v for k, v in old.items() if k in DEPRECATED
            and k not in ("initialized", "ready", "infrastructureReady",
                          "controlPlaneReady", "bootstrapReady")}}
    return dict(obj, apiVersion=API[kind] + "/v1beta2", kind=kind,
                status=status)


SHAPES = {
    "v1beta1 as CAPI 1.13 writes it": as_written_by_capi_1_13,
    "read at v1beta2": as_read_at_v1beta2,
    "v1beta2 without deprecated fields": lambda kind, obj:
        as_read_at_v1beta2(kind, obj, deprecated=False),
}


def shaped(shape, observed):
    """``observed`` with every Cluster API object in ``shape``."""
    convert = SHAPES[shape]
    return st.Observed(
        cluster=observed.cluster and convert("Cluster", observed.cluster),
        openstack_cluster=observed.openstack_cluster,
        control_plane=observed.control_plane and convert(
            "KubeadmControlPlane", observed.control_plane),
        machine_deployments=tuple(convert("MachineDeployment", m)
                                  for m in observed.machine_deployments),
        machines=tuple(convert("Machine", m) for m in observed.machines),
        addons=observed.addons)


SHAPE_CASES = [
    ("all ready", ready_observed(), st.CREATE_COMPLETE, []),
    ("control plane pending", ready_observed(control_plane=kcp(ready=2)),
     st.CREATE_IN_PROGRESS, ["control plane 2/3 ready"]),
    ("workers pending", ready_observed(
        machine_deployments=(md("default-worker", 6, 4),)),
     st.CREATE_IN_PROGRESS, ["workers 4/6 ready"]),
    ("cluster not available", ready_observed(cluster=cluster(ready=False)),
     st.CREATE_IN_PROGRESS, ["control plane 3/3 ready"]),
    ("upgrade waits for version", ready_observed(
        control_plane=kcp(version="v1.34.0", have="v1.33.1")),
     st.CREATE_IN_PROGRESS, ["upgrading to v1.34.0"]),
]


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("observed,expected,fragments",
                         [c[1:] for c in SHAPE_CASES],
                         ids=[c[0] for c in SHAPE_CASES])
def test_both_contracts_read_the_same(shape, observed, expected,
                                      fragments):
    result = st.reconcile(shaped(shape, observed), view(), T0)
    assert result.status == expected, result.reason
    for fragment in fragments:
        assert fragment in result.reason
    assert result.coe_version == "v1.33.1"


@pytest.mark.parametrize("shape", ["v1beta1 as CAPI 1.13 writes it",
                                   "read at v1beta2"])
def test_failures_of_either_contract(shape):
    observed = shaped(shape, ready_observed(
        control_plane=kcp(ready=0, failure="etcd quorum lost"),
        machines=(machine("w-0", "default-worker",
                          failure="Quota exceeded for instances"),)))
    result = st.reconcile(observed, view(), T0)
    assert result.status == st.CREATE_FAILED
    assert "etcd quorum lost" in result.reason
    assert "machine w-0: InsufficientResources: Quota exceeded" in (
        result.reason)


def test_v1beta2_counters_count_not_the_v1beta1_ones():
    """Read at v1beta2, ``readyReplicas`` is v1beta2's (Machine Ready)."""
    ready = as_read_at_v1beta2("MachineDeployment", md("default-worker", 2,
                                                       2))
    ready["status"]["readyReplicas"] = 1
    ready["status"]["deprecated"]["v1beta1"]["readyReplicas"] = 2
    result = st.reconcile(ready_observed(machine_deployments=(ready,)),
                          view(), T0)
    # The deprecated v1beta1 counter is read first: 2/2.
    assert result.status == st.CREATE_COMPLETE
    del ready["status"]["deprecated"]
    result = st.reconcile(ready_observed(machine_deployments=(ready,)),
                          view(), T0)
    assert "workers 1/2 ready" in result.reason


def test_control_plane_not_initialized_in_v1beta2_terms():
    pending = as_read_at_v1beta2("KubeadmControlPlane", kcp(),
                                 deprecated=False)
    pending["status"]["initialization"] = {"controlPlaneInitialized": False}
    result = st.reconcile(ready_observed(control_plane=pending), view(), T0)
    assert result.status == st.CREATE_IN_PROGRESS


def test_infrastructure_provisioned_in_v1beta2_terms():
    infra = osc()
    infra["status"] = {"initialization": {"provisioned": True}}
    assert st.infrastructure_component(
        ready_observed(openstack_cluster=infra)).ready
    infra["status"] = {"ready": False, "initialization": {}}
    assert not st.infrastructure_component(
        ready_observed(openstack_cluster=infra)).ready


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_health_reads_both_contracts(shape):
    from magnum_capi_rdma import health

    observed = shaped(shape, ready_observed())
    status, reason = health.evaluate(observed, R, NGS)
    assert status == health.HEALTHY, reason
    assert reason["api"] == "ok (https://192.0.2.10:6443)"
    down = shaped(shape, ready_observed(cluster=cluster(ready=False)))
    status, reason = health.evaluate(down, R, NGS)
    assert status == health.UNHEALTHY
    assert reason["api"].startswith("unreachable: ")
