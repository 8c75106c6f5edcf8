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
"""Complete only when Helm says so: a pending revision holds a status pass.

A conductor killed with its helm after helm made the Cluster API objects
leaves the release's only revision pending-install while the objects
become ready; the status pass must not declare the create complete (the
next update would meet Helm's lock). The operation record says whether
anyone saw helm return; only then is Helm asked. The real helm, bed and
kill are in tests/functional/test_faults_conductor.py.
"""

import copy
import datetime
import types

import pytest

from magnum_capi_rdma.adapters import helm as helm_adapter
from magnum_capi_rdma.adapters import oplock
from magnum_capi_rdma import operations as ops
from magnum_capi_rdma.services import status_sync
from magnum_capi_rdma import status as st

T0 = datetime.datetime(2026, 11, 23, 10, 0, 0, tzinfo=datetime.timezone.utc)


# -- the record --

def test_the_helm_outcome_round_trips_through_the_lease():
    record = ops.Record(operation="CREATE", started=T0, timeout_minutes=30,
                        helm=ops.HELM_STARTED)
    body = ops.lease_body("ns", "r", {}, ops.record_annotations(record),
                          None, None, 60, T0)
    parsed = ops.from_lease(body)
    assert parsed.helm == ops.HELM_STARTED and parsed.helm_unconfirmed
    done = ops.from_lease(ops.lease_body(
        "ns", "r", {}, ops.record_annotations(
            ops.Record(operation="CREATE", started=T0, helm=ops.HELM_DONE)),
        None, None, 60, T0))
    assert done.helm == ops.HELM_DONE and not done.helm_unconfirmed
    # A record of an older driver (no helm annotation) asks nothing.
    assert not ops.from_lease(None).helm_unconfirmed


class FakeLeases(object):
    """The Kube adapter's Lease calls, in memory, with resourceVersion."""

    def __init__(self):
        self.lease = None
        self.writes = []

    def get_lease(self, namespace, name):
        return copy.deepcopy(self.lease)

    def _store(self, body):
        body = copy.deepcopy(body)
        version = int((self.lease or {}).get("metadata", {}).get(
            "resourceVersion") or 0) + 1
        body["metadata"]["resourceVersion"] = str(version)
        self.lease = body
        self.writes.append(copy.deepcopy(body))
        return body

    def create_lease(self, namespace, body):
        return self._store(body)

    def replace_lease(self, namespace, body):
        return self._store(body)


def _lock(kube, **kw):
    return oplock.OperationLock(kube, "ns", "rel", {}, "a create", 60, "c",
                                **kw)


def helm_of(kube):
    return ops.from_lease(kube.lease).helm


def test_a_call_that_runs_helm_says_so_until_helm_returns():
    kube = FakeLeases()
    lock = _lock(kube, operation="CREATE", timeout_minutes=30, helm=True)
    lock.acquire()
    assert helm_of(kube) == ops.HELM_STARTED
    lock.helm_done()
    lock.release()
    record = ops.from_lease(kube.lease)
    assert record.helm == ops.HELM_DONE and record.holder is None
    assert record.operation == "CREATE" and record.timeout_minutes == 30


def test_a_call_whose_helm_failed_leaves_the_outcome_unconfirmed():
    kube = FakeLeases()
    lock = _lock(kube, operation="UPDATE", timeout_minutes=30, helm=True)
    lock.acquire()
    lock.release()              # helm raised: helm_done never called
    assert helm_of(kube) == ops.HELM_STARTED


def test_a_resumed_call_keeps_the_record_and_marks_helm():
    kube = FakeLeases()
    first = _lock(kube, operation="CREATE", timeout_minutes=30, helm=True)
    first.acquire()
    started = ops.from_lease(kube.lease).started
    first.release()
    resumed = _lock(kube, helm=True)
    resumed.acquire()
    record = ops.from_lease(kube.lease)
    assert record.started == started and record.helm == ops.HELM_STARTED
    resumed.helm_done()
    resumed.release()
    assert helm_of(kube) == ops.HELM_DONE


def test_a_call_without_helm_keeps_what_the_record_says():
    kube = FakeLeases()
    create = _lock(kube, operation="CREATE", timeout_minutes=30, helm=True)
    create.acquire()
    create.release()
    rotation = _lock(kube)
    rotation.acquire()
    rotation.release()
    assert helm_of(kube) == ops.HELM_STARTED


# -- when a pass asks Helm --

def _result(status, groups=None):
    return st.StatusResult(status=status, reason="", node_groups=groups or {})


@pytest.mark.parametrize("cluster_status,result_status,helm,asks", [
    ("CREATE_IN_PROGRESS", "CREATE_COMPLETE", ops.HELM_STARTED, True),
    ("UPDATE_IN_PROGRESS", "UPDATE_COMPLETE", ops.HELM_STARTED, True),
    # helm seen returning, or an older driver's record: not asked
    ("CREATE_IN_PROGRESS", "CREATE_COMPLETE", ops.HELM_DONE, False),
    ("CREATE_IN_PROGRESS", "CREATE_COMPLETE", None, False),
    # not completing: nothing to hold back
    ("CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", ops.HELM_STARTED, False),
    ("CREATE_IN_PROGRESS", "CREATE_FAILED", ops.HELM_STARTED, False),
    ("DELETE_IN_PROGRESS", "DELETE_COMPLETE", ops.HELM_STARTED, False),
    ("CREATE_COMPLETE", "CREATE_COMPLETE", ops.HELM_STARTED, False),
])
def test_helm_is_asked_only_before_completing_an_unconfirmed_operation(
        cluster_status, result_status, helm, asks):
    record = ops.Record(operation="CREATE", started=T0, helm=helm)
    assert status_sync.helm_unconfirmed(
        cluster_status, _result(result_status), record) is asks


def _view(status="CREATE_IN_PROGRESS", started=None, timeout=60):
    return st.MagnumView(
        release="rel", status=status, operation_started=started,
        timeout_minutes=timeout, node_groups=(
            st.NodeGroupView(name="default-master", role="master",
                             node_count=1, status=status),
            st.NodeGroupView(name="default-worker", node_count=2,
                             status=status)))


def _completed(status="CREATE_COMPLETE"):
    groups = {name: st.NodeGroupResult(status=status, reason="",
                                       node_count=n, addresses=("10.0.0.1",))
              for name, n in (("default-master", 1), ("default-worker", 2))}
    return st.StatusResult(status=status, reason="",
                           api_address="https://10.0.0.9:6443",
                           coe_version="v1.33.1", node_groups=groups)


def test_held_back_keeps_what_the_objects_say_but_not_the_completion():
    held = st.held_back(_completed(), _view(), "waiting for Helm")
    assert held.status == "CREATE_IN_PROGRESS"
    assert held.reason == "waiting for Helm"
    assert held.api_address == "https://10.0.0.9:6443"
    assert {r.status for r in held.node_groups.values()} == {
        "CREATE_IN_PROGRESS"}
    assert held.node_groups["default-worker"].node_count == 2


def test_held_back_as_a_failure_fails_the_node_groups_too():
    held = st.held_back(_completed("UPDATE_COMPLETE"),
                        _view("UPDATE_IN_PROGRESS"), "interrupted",
                        status="UPDATE_FAILED")
    assert held.status == "UPDATE_FAILED"
    assert {r.status for r in held.node_groups.values()} == {"UPDATE_FAILED"}


# -- what the pass does with Helm's answer --

class FakeHelm(object):
    stale_after = 600

    def __init__(self, pending):
        self._pending = pending
        self.freed = []

    def pending(self, release, namespace):
        return self._pending

    def free_abandoned(self, release, namespace):
        self.freed.append(release)
        return True


def _sync(helm, resumed=None):
    sync = status_sync.StatusSync(types.SimpleNamespace(helm=helm), None)
    calls = []

    def resume(context, cluster, when):
        calls.append(when)
        return st.StatusResult(status="CREATE_IN_PROGRESS",
                               reason="Resumed")
    sync._resume_create = resume
    return sync, calls


def _confirm(sync, status, pending_record=None, started=None):
    cluster = types.SimpleNamespace(status=status, uuid="u")
    record = pending_record or ops.Record(operation=status.split("_")[0],
                                          started=T0, helm=ops.HELM_STARTED)
    view = _view(status, started=started or datetime.datetime.now(
        datetime.timezone.utc))
    return sync._confirm_helm(None, cluster, "rel", "ns", view,
                              _completed(status.replace("_IN_PROGRESS",
                                                        "_COMPLETE")),
                              record)


def _pending(status="pending-install", age=30, stale=False):
    return helm_adapter.Pending(revision=1, status=status, age=age,
                                stale=stale)


def test_a_deployed_release_lets_the_operation_complete():
    sync, resumed = _sync(FakeHelm(None))
    result = _confirm(sync, "CREATE_IN_PROGRESS")
    assert result.status == "CREATE_COMPLETE" and not resumed


def test_a_fresh_pending_revision_keeps_the_operation_in_progress():
    helm = FakeHelm(_pending(age=30))
    sync, resumed = _sync(helm)
    result = _confirm(sync, "CREATE_IN_PROGRESS")
    assert result.status == "CREATE_IN_PROGRESS"
    assert result.reason == (
        "Waiting for Helm: the release's revision 1 has been "
        "pending-install for 30s (taken as abandoned after 600s)")
    assert not resumed and not helm.freed


def test_a_stale_pending_install_resumes_the_create():
    helm = FakeHelm(_pending(age=900, stale=True))
    sync, resumed = _sync(helm)
    result = _confirm(sync, "CREATE_IN_PROGRESS")
    assert result.status == "CREATE_IN_PROGRESS"
    assert resumed == ["while Helm installed the release (revision 1 has "
                       "been pending-install for 900s)"]


def test_a_stale_pending_revision_under_a_live_lock_waits():
    helm = FakeHelm(_pending(age=900, stale=True))
    sync, resumed = _sync(helm)
    now = datetime.datetime.now(datetime.timezone.utc)
    record = ops.Record(operation="CREATE", started=T0, helm=ops.HELM_STARTED,
                        holder="other", renewed=now, duration_seconds=60)
    result = _confirm(sync, "CREATE_IN_PROGRESS", record)
    assert result.status == "CREATE_IN_PROGRESS" and not resumed


def test_a_stale_pending_upgrade_fails_the_update_and_frees_the_release():
    helm = FakeHelm(_pending("pending-upgrade", age=900, stale=True))
    sync, resumed = _sync(helm)
    result = _confirm(sync, "UPDATE_IN_PROGRESS")
    assert result.status == "UPDATE_FAILED"
    assert "Run the update again" in result.reason
    assert helm.freed == ["rel"] and not resumed


def test_a_pending_revision_past_the_timeout_fails_the_operation():
    helm = FakeHelm(_pending(age=30))
    sync, resumed = _sync(helm)
    result = _confirm(sync, "CREATE_IN_PROGRESS",
                      started=T0 - datetime.timedelta(days=1))
    assert result.status == "CREATE_FAILED"
    assert result.reason.startswith("Timed out after 60 minutes. Waiting "
                                    "for Helm")
