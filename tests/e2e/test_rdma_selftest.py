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
"""The RDMA self-test, as a user sees it: ``openstack coe cluster show``.

A cluster of two RDMA workers with ``rdma_selftest_enabled=true`` on the
local stack: once it is CREATE_COMPLETE, Magnum's health poll (every 10 s
here) has the driver run the test in the workload cluster (a real API
server on which the simulator plays the nodes and perftest), and the
result lands in ``health_status_reason["rdma_selftest"]``, labelled as
simulated. The bed's suite covers the failures
(``tests/functional/test_rdma_selftest.py``).
"""

import json
import time

import pytest

from tests.support.coe import create_cluster
from tests.support.coe import create_template
from tests.support.coe import delete_quietly
from tests.support.coe import KUBE_TAG
from tests.support.coe import show
from tests.support.coe import STEP_TIMEOUT
from tests.support.coe import suffix as _suffix
from tests.support.coe import wait_for

SELFTEST_LABELS = {"rdma_selftest_enabled": "true",
                   "rdma_selftest_min_bandwidth_gbps": "50"}
FINAL = ("passed", "failed", "below-threshold", "timed-out", "skipped")


@pytest.fixture(scope="module")
def cluster(openstack_stack):
    suffix = _suffix()
    template, name = "e2e-selftest-%s" % suffix, "e2e-selftest-%s" % suffix
    create_template(openstack_stack, template, KUBE_TAG,
                    labels=SELFTEST_LABELS)
    create_cluster(openstack_stack, name, template, node_count=2)
    yield name
    delete_quietly(openstack_stack, name, "demo")
    openstack_stack.run("coe", "cluster", "template", "delete", template,
                        project="demo", check=False)


def _entry(shown):
    reason = shown.get("health_status_reason") or {}
    return json.loads(reason.get("rdma_selftest") or "null") or {}


def test_the_result_is_in_cluster_show(openstack_stack, cluster):
    wait_for(openstack_stack, cluster, "CREATE_COMPLETE")
    deadline = time.monotonic() + STEP_TIMEOUT
    seen = []
    while time.monotonic() < deadline:
        shown = show(openstack_stack, cluster, "demo")
        entry = _entry(shown)
        seen.append(entry.get("state"))
        if entry.get("state") in FINAL and shown.get("health_status") in (
                "HEALTHY", "UNHEALTHY"):
            break
        time.sleep(3)
    else:
        raise AssertionError("no self-test result after %d s; states seen: "
                             "%s" % (STEP_TIMEOUT, sorted(set(map(str,
                                                                  seen)))))
    assert entry["state"] == "passed", entry
    assert shown["health_status"] == "HEALTHY", shown[
        "health_status_reason"]
    assert entry["bandwidth_gbps"] >= entry["min_bandwidth_gbps"] == 50.0
    assert 0 < entry["latency_us"] <= entry["max_latency_us"]
    assert len(set(entry["nodes"])) == 2
    assert entry["network"] and entry["resource"].startswith("rdma/")
    # Never passed off as a measurement of real hardware.
    assert "simulated" in entry["note"]
    assert "nodes advertise" in shown["health_status_reason"]["rdma"]
