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
"""The Cluster API object readers and the status sync's row plan."""

import datetime
import types

import pytest

from magnum_capi_rdma import capi
from magnum_capi_rdma import contract
from magnum_capi_rdma import operations
from magnum_capi_rdma.services import status_sync
from magnum_capi_rdma import status as st

MACHINE = {
    "metadata": {"name": "m-1", "labels": {
        contract.CHART_CLUSTER_LABEL: "rel",
        contract.CHART_NODE_GROUP_LABEL: "gpu"}},
    "spec": {"providerID": "openstack:///srv-1"},
    "status": {"nodeRef": {"name": "node-1"},
               "addresses": [{"type": "ExternalIP", "address": "203.0.113.5"},
                             {"type": "InternalIP", "address": "10.0.0.5"},
                             {"type": "InternalIP", "address": "10.0.0.5"}],
               "conditions": [{"type": "NodeHealthy", "status": "False"}],
               "failureReason": "Boom", "failureMessage": "it broke"},
}


def test_readers_of_a_machine():
    assert capi.name(MACHINE) == "m-1"
    assert capi.release_of(MACHINE) == "rel"
    assert capi.node_group_of(MACHINE) == "gpu"
    assert not capi.is_control_plane_machine(MACHINE)
    assert capi.machine_addresses(MACHINE) == ["10.0.0.5", "203.0.113.5"]
    assert capi.server_id(MACHINE) == "srv-1"
    assert capi.node_name(MACHINE) == "node-1"
    assert capi.condition(MACHINE, "NodeHealthy")["status"] == "False"
    assert not capi.condition_true(MACHINE, "NodeHealthy")
    assert capi.failure(MACHINE) == "Boom: it broke"


def test_readers_of_nothing():
    for reader in (capi.name, capi.labels, capi.spec, capi.status,
                   capi.conditions, capi.failure, capi.release_of,
                   capi.node_group_of, capi.machine_addresses,
                   capi.server_id, capi.node_name, capi.api_address):
        assert not reader(None)
    assert capi.observed_latest(None)


# A MachineDeployment as Cluster API 1.13 shows it read at v1beta1 (its
# v1beta2 conditions and counters under status.v1beta2), and read at
# v1beta2 (the v1beta1 ones under status.deprecated.v1beta1).
MD_V1BETA1 = {
    "apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "MachineDeployment",
    "metadata": {"name": "md"},
    "status": {
        "replicas": 3, "readyReplicas": 3, "updatedReplicas": 2,
        "availableReplicas": 3, "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True"}],
        "v1beta2": {
            "readyReplicas": 2, "availableReplicas": 2,
            "upToDateReplicas": 2,
            "conditions": [{"type": "Available", "status": "False",
                            "reason": "NotAvailable", "message": "2 of 3"},
                           {"type": "Ready", "status": "False",
                            "reason": "NotReady", "message": ""}]}}}
MD_V1BETA2 = {
    "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "MachineDeployment",
    "metadata": {"name": "md"},
    "status": {
        "replicas": 3, "readyReplicas": 2, "availableReplicas": 2,
        "upToDateReplicas": 2, "phase": "Running",
        "conditions": [{"type": "Available", "status": "False",
                        "reason": "NotAvailable", "message": "2 of 3"}],
        "deprecated": {"v1beta1": {
            "readyReplicas": 3, "updatedReplicas": 2,
            "availableReplicas": 3, "failureMessage": "old failure",
            "conditions": [{"type": "Ready", "status": "True"}]}}}}


def test_the_contract_of_an_object():
    assert not capi.is_v1beta2(MD_V1BETA1)
    assert capi.is_v1beta2(MD_V1BETA2)
    # Without an apiVersion, by its shape.
    assert capi.is_v1beta2({"status": MD_V1BETA2["status"]})
    assert not capi.is_v1beta2({"status": MD_V1BETA1["status"]})
    # CAPO's v1beta1 OpenStackCluster is not Cluster API's contract.
    assert not capi.is_v1beta2({
        "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta2"})


@pytest.mark.parametrize("obj", [MD_V1BETA1, MD_V1BETA2],
                         ids=["v1beta1", "v1beta2"])
def test_conditions_of_both_contracts(obj):
    assert [c["type"] for c in capi.conditions(obj)] == ["Ready"]
    assert capi.v1beta2_conditions(obj)[0]["type"] == "Available"
    # The v1beta1 condition first; its v1beta2 counterpart when absent.
    assert capi.condition_true(obj, "Ready", v1beta2="Available")
    assert capi.condition(obj, "Available")["message"] == "2 of 3"
    # Without the v1beta1 conditions (a later Cluster API drops them).
    v1beta1_place = "deprecated" if capi.is_v1beta2(obj) else "conditions"
    bare = dict(obj, status={k: v for k, v in obj["status"].items()
                             if k != v1beta1_place})
    assert not capi.condition_true(bare, "Ready", v1beta2="Available")
    assert capi.condition(bare, "Ready", v1beta2="Available")[
        "reason"] == "NotAvailable"


def test_replicas_v1beta1_counters_first_then_v1beta2():
    assert capi.replicas(MD_V1BETA1) == capi.Replicas(3, 3, 2, 3)
    assert capi.replicas(MD_V1BETA2) == capi.Replicas(3, 3, 2, 3)
    only_v2 = dict(MD_V1BETA2, status=dict(MD_V1BETA2["status"]))
    del only_v2["status"]["deprecated"]
    assert capi.replicas(only_v2) == capi.Replicas(3, 2, 2, 2)
    v1_without = {"apiVersion": "cluster.x-k8s.io/v1beta1", "status": {
        "replicas": 1, "v1beta2": {"readyReplicas": 1,
                                   "upToDateReplicas": 1}}}
    assert capi.replicas(v1_without) == capi.Replicas(1, 1, 1, None)
    assert capi.replicas(None) == capi.Replicas(None, None, None, None)


def test_failure_of_a_v1beta2_object_is_its_deprecated_one():
    assert capi.failure(MD_V1BETA2) == "old failure"
    assert capi.failure(MD_V1BETA1) is None


def test_initialized_and_provisioned_of_either_contract():
    assert capi.initialized({"status": {"initialized": True}}) is True
    assert capi.initialized({"status": {"initialization": {
        "controlPlaneInitialized": False}}}) is False
    assert capi.initialized({"status": {}}) is None
    assert capi.infrastructure_ready({"status": {"ready": True}})
    assert capi.infrastructure_ready({"status": {"initialization": {
        "provisioned": True}}})
    assert not capi.infrastructure_ready({"status": {"ready": False}})


def test_release_of_an_add_on_by_its_spec_only_when_asked():
    addon = {"metadata": {"name": "a"}, "spec": {"clusterName": "rel"}}
    assert capi.release_of(addon) is None
    assert capi.release_of(addon, by_spec=True) == "rel"


def test_control_plane_machines_by_either_label():
    for labels in ({contract.CAPI_CONTROL_PLANE_LABEL: ""},
                   {contract.CHART_COMPONENT_LABEL:
                    contract.CHART_CONTROL_PLANE_COMPONENT}):
        assert capi.is_control_plane_machine({"metadata": {"labels": labels}})


def test_progress_is_counted_and_rendered_at_the_end():
    cp = st.Component("control plane", False, count=st.Count(1, 3))
    groups = [st.Component("node group a", False, count=st.Count(1, 2)),
              st.Component("node group b", False, "not created yet"),
              st.Component("node group c", True, count=st.Count(3, 3))]
    addons = st.Component("add-ons", False, count=st.Count(
        2, 5, "deployed"))
    deleting = [st.Component("node group old", False,
                             "deleting, 1 machine(s) left")]
    progress = st.Progress.of(cp, groups, addons, deleting, True)
    assert progress.workers == st.Count(4, 5)
    assert str(progress) == (
        "infrastructure pending; control plane 1/3 ready, workers 4/5 "
        "ready, add-ons 2/5 deployed; node group old deleting, 1 "
        "machine(s) left")
    assert str(st.Progress.of(cp, [], addons)) == (
        "control plane 1/3 ready, add-ons 2/5 deployed")


def _row(**fields):
    row = types.SimpleNamespace(saved=0, destroyed=0, **fields)
    row.save = lambda: setattr(row, "saved", row.saved + 1)
    row.destroy = lambda: setattr(row, "destroyed", row.destroyed + 1)
    return row


def test_row_plan_lists_only_what_changed_and_applies_it():
    same = _row(name="default-worker", is_default=True, role="worker",
                status="UPDATE_COMPLETE", status_reason="", node_count=2,
                node_addresses=["10.0.0.1", "10.0.0.2"])
    grown = _row(name="gpu", is_default=False, role="worker",
                 status="UPDATE_IN_PROGRESS", status_reason="", node_count=1,
                 node_addresses=[])
    gone = _row(name="old", is_default=False, role="worker",
                status="DELETE_IN_PROGRESS", status_reason="", node_count=1,
                node_addresses=[])
    cluster = _row(status="UPDATE_IN_PROGRESS", status_reason="",
                   api_address="https://192.0.2.1:6443", coe_version=None,
                   nodegroups=[same, grown, gone])
    result = st.StatusResult(
        status="UPDATE_COMPLETE", reason="", api_address=None,
        coe_version="v1.33.1", node_groups={
            "default-worker": st.NodeGroupResult(
                "UPDATE_COMPLETE", "", 2, ("10.0.0.1", "10.0.0.2")),
            "gpu": st.NodeGroupResult("UPDATE_COMPLETE", "", 2,
                                      ("10.0.1.1", "10.0.1.2")),
            "old": st.NodeGroupResult("DELETE_COMPLETE", "", 0,
                                      delete_row=True)})
    plan = status_sync.plan_rows(cluster, result)
    assert plan.cluster == {"status": "UPDATE_COMPLETE",
                            "coe_version": "v1.33.1"}
    assert plan.groups == (
        (grown, {"status": "UPDATE_COMPLETE", "node_count": 2,
                 "node_addresses": ["10.0.1.1", "10.0.1.2"]}),
        (gone, None))
    status_sync.apply_rows(cluster, plan)
    assert (cluster.status, cluster.saved) == ("UPDATE_COMPLETE", 1)
    assert (grown.node_count, grown.saved) == (2, 1)
    assert (gone.destroyed, same.saved) == (1, 0)
    assert status_sync.plan_rows(cluster, result).cluster == {}


def test_a_create_is_interrupted_once_its_lock_has_lapsed():
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    cluster = types.SimpleNamespace(status="CREATE_IN_PROGRESS")
    record = operations.Record(operation="CREATE",
                               started=now - datetime.timedelta(seconds=90),
                               timeout_minutes=60)
    nothing = st.Observed()
    assert status_sync.create_interrupted(cluster, nothing, record, now, 60)
    assert not status_sync.create_interrupted(cluster, nothing, record, now,
                                              120)
    assert not status_sync.create_interrupted(
        cluster, nothing, operations.Record(), now, 60)
    cluster.status = "UPDATE_IN_PROGRESS"
    assert not status_sync.create_interrupted(cluster, nothing, record, now,
                                              60)
