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
"""The observer indexes one LIST per kind by namespace and release."""

import datetime

from magnum_capi_rdma.adapters import observer
from magnum_capi_rdma import contract
from magnum_capi_rdma import operations


def obj(kind_name, namespace, release, **extra):
    labels = {"capi.stackhpc.com/cluster": release} if release else {}
    return dict({"metadata": {"name": kind_name, "namespace": namespace,
                              "labels": labels}}, **extra)


class CountingKube(object):
    def __init__(self, objects, leases=()):
        self.objects = objects
        self.leases = list(leases)
        self.calls = []
        self.selectors = []

    def list_all(self, kind, label_selector=None):
        self.calls.append(kind)
        return list(self.objects.get(kind, ()))

    def list_leases_all(self, label_selector):
        self.calls.append("lease")
        self.selectors.append(label_selector)
        return list(self.leases)


def test_releases_are_kept_apart_and_addon_kinds_combine():
    kube = CountingKube({
        "cluster": [obj("r1", "ns-a", "r1"), obj("r1", "ns-b", "r1")],
        "kubeadmcontrolplane": [obj("r1-control-plane", "ns-a", "r1")],
        # only one add-on kind present for r1 in ns-a
        "manifests": [obj("r1-rdma", "ns-a", "r1")],
        "helmrelease": [obj("r1-cni", "ns-b", "r1")],
        # Machines found by CAPI's own cluster label too.
        "machine": [{"metadata": {"name": "m1", "namespace": "ns-a",
                                  "labels": {"cluster.x-k8s.io/cluster-name":
                                             "r1"}}}],
    })
    obs = observer.Observer(kube, max_age=60)
    a = obs.observed("ns-a", "r1")
    b = obs.observed("ns-b", "r1")
    assert a.cluster["metadata"]["namespace"] == "ns-a"
    assert a.control_plane["metadata"]["name"] == "r1-control-plane"
    assert [x["metadata"]["name"] for x in a.addons] == ["r1-rdma"]
    assert [x["metadata"]["name"] for x in b.addons] == ["r1-cni"]
    assert [m["metadata"]["name"] for m in a.machines] == ["m1"]
    assert b.machines == () and b.control_plane is None
    assert obs.observed("ns-a", "other").cluster is None


def test_one_list_per_kind_per_snapshot_however_many_clusters():
    clock = [0.0]
    kube = CountingKube({"cluster": [obj("r%d" % i, "ns", "r%d" % i)
                                     for i in range(50)]})
    obs = observer.Observer(kube, max_age=5, clock=lambda: clock[0])
    for i in range(50):
        assert obs.observed("ns", "r%d" % i).cluster is not None
    per_snapshot = len(observer.KINDS) + 1  # + the driver's Leases
    assert len(kube.calls) == per_snapshot
    clock[0] = 6.0  # older than max_age: one fresh LIST per kind
    obs.observed("ns", "r1")
    assert len(kube.calls) == 2 * per_snapshot
    obs.invalidate()
    obs.observed("ns", "r1")
    assert len(kube.calls) == 3 * per_snapshot
    assert obs.stats()["lists"] == 3 * per_snapshot


def test_only_the_fields_status_reads_are_kept():
    big = obj("r1", "ns", "r1", spec={"replicas": 1},
              status={"phase": "Running"})
    big["metadata"]["managedFields"] = [{"manager": "x" * 1000}]
    big["metadata"]["ownerReferences"] = [{"uid": "u"}]
    big["metadata"]["uid"] = "abc"
    kube = CountingKube({"cluster": [big]})
    obs = observer.Observer(kube, max_age=60)
    seen = obs.observed("ns", "r1").cluster
    assert seen["spec"] == {"replicas": 1}
    assert seen["status"] == {"phase": "Running"}
    assert "managedFields" not in seen["metadata"]
    assert "ownerReferences" not in seen["metadata"]
    assert seen["metadata"]["labels"] == big["metadata"]["labels"]
    stats = obs.stats()
    assert stats["objects"] == 1
    # The 1000-character managed field is not held.
    assert 0 < stats["approx_bytes"] < 1000


def test_operation_records_come_from_one_selected_lease_list():
    leases = [{"metadata": {
        "name": "r%d-operation" % i, "namespace": "ns",
        "annotations": {
            operations.OPERATION_KEY: "UPDATE",
            operations.STARTED_KEY: "2026-11-23T10:00:%02d+00:00" % i,
            operations.TIMEOUT_KEY: str(i + 1)}},
        "spec": {"holderIdentity": None, "leaseDurationSeconds": 60}}
        for i in range(20)]
    kube = CountingKube({}, leases)
    obs = observer.Observer(kube, max_age=60)
    for i in range(20):
        record = obs.operation("ns", "r%d" % i)
        assert record.operation == "UPDATE"
        assert record.started == datetime.datetime(
            2026, 11, 23, 10, 0, i, tzinfo=datetime.timezone.utc)
        assert record.timeout_minutes == i + 1
    assert obs.operation("ns", "missing") == operations.Record()
    assert obs.operation("other-ns", "r1").started is None
    assert kube.calls.count("lease") == 1
    assert kube.selectors == [contract.OWNER_SELECTOR]


def test_stats_before_any_snapshot():
    obs = observer.Observer(CountingKube({}), max_age=3)
    stats = obs.stats()
    assert stats["objects"] == 0 and stats["age_seconds"] is None
    assert stats["max_age_seconds"] == 3 and stats["lists"] == 0


def test_a_snapshot_slower_to_list_than_the_bound_still_serves_the_pass():
    clock = [0.0]

    class SlowKube(CountingKube):
        def list_all(self, kind, label_selector=None):
            clock[0] += 1.0  # every LIST takes a second
            return super().list_all(kind, label_selector)

    kube = SlowKube({"cluster": [obj("r%d" % i, "ns", "r%d" % i)
                                 for i in range(3)]})
    obs = observer.Observer(kube, max_age=5, clock=lambda: clock[0])
    for i in range(3):
        assert obs.observed("ns", "r%d" % i).cluster is not None
    assert kube.calls.count("cluster") == 1
    assert obs.stats()["last_list_seconds"] == len(observer.KINDS)
    clock[0] += 6.0
    obs.observed("ns", "r0")
    assert kube.calls.count("cluster") == 2


def test_deleted_objects_are_gone_from_the_next_snapshot():
    clock = [0.0]
    kube = CountingKube({"cluster": [obj("r1", "ns", "r1")]})
    obs = observer.Observer(kube, max_age=5, clock=lambda: clock[0])
    assert obs.observed("ns", "r1").cluster is not None
    kube.objects["cluster"] = []
    clock[0] = 5.5
    assert obs.observed("ns", "r1").cluster is None


def test_a_failed_list_never_serves_the_stale_snapshot():
    clock = [0.0]

    class FlakyKube(CountingKube):
        fail = False

        def list_all(self, kind, label_selector=None):
            if self.fail:
                raise RuntimeError("apiserver unreachable")
            return super().list_all(kind, label_selector)

    kube = FlakyKube({"cluster": [obj("r1", "ns", "r1")]})
    obs = observer.Observer(kube, max_age=5, clock=lambda: clock[0])
    obs.observed("ns", "r1")
    kube.fail = True
    clock[0] = 6.0
    for _ in range(2):
        try:
            obs.observed("ns", "r1")
        except RuntimeError as exc:
            assert "unreachable" in str(exc)
        else:
            raise AssertionError("a stale snapshot was served")
    kube.fail = False
    assert obs.observed("ns", "r1").cluster is not None
