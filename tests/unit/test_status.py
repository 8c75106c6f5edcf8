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
