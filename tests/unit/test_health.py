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
"""Tests of the pure health function."""

from magnum_capi_rdma import health
from magnum_capi_rdma import status as st
from tests.support import observed as ts


def test_healthy_cluster():
    status, reason = health.evaluate(ts.ready_observed(), ts.R, ts.NGS)
    assert status == health.HEALTHY
    assert reason["api"].startswith("ok")
    assert reason["node group default-worker"] == "ok"
    assert reason["add-ons"] == "ok"


def test_unknown_without_cluster():
    status, reason = health.evaluate(st.Observed(), ts.R, ts.NGS)
    assert status == health.UNKNOWN
    assert "no Cluster object" in reason["cluster"]


def test_unhealthy_node_is_named():
    m = ts.machine("w-0", "default-worker")
    m["status"]["conditions"] = [{"type": "NodeHealthy", "status": "False",
                                  "reason": "NodeNotReady"}]
    observed = ts.ready_observed(machines=(m,))
    status, reason = health.evaluate(observed, ts.R, ts.NGS)
    assert status == health.UNHEALTHY
    assert "w-0 (NodeNotReady)" in reason["nodes"]


def test_failed_addon_is_unhealthy():
    observed = ts.ready_observed(addons=(ts.addon("cni", "Failed", "x"),))
    status, reason = health.evaluate(observed, ts.R, ts.NGS)
    assert status == health.UNHEALTHY
    assert reason["add-ons"].startswith("failed:")


def test_rdma_readiness():
    rdma = health.RdmaObservation(
        policy_state="ready", resource_name="rdma/rdma_shared_device_a",
        nodes_expected=2, nodes_advertising=2)
    status, reason = health.evaluate(ts.ready_observed(), ts.R, ts.NGS,
                                     rdma)
    assert status == health.HEALTHY
    assert reason["rdma"] == ("NicClusterPolicy ready, 2/2 nodes advertise "
                              "rdma/rdma_shared_device_a")
    rdma = health.RdmaObservation(policy_state="notReady",
                                  nodes_expected=2, nodes_advertising=1)
    status, reason = health.evaluate(ts.ready_observed(), ts.R, ts.NGS,
                                     rdma)
    assert status == health.UNHEALTHY
    assert "notReady" in reason["rdma"] and "1/2" in reason["rdma"]


def test_rdma_unreadable_does_not_flip_health():
    rdma = health.RdmaObservation(error="workload API unreachable")
    status, reason = health.evaluate(ts.ready_observed(), ts.R, ts.NGS,
                                     rdma)
    assert status == health.HEALTHY
    assert reason["rdma"].startswith("unknown:")
