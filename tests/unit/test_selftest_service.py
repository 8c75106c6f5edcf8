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
"""The self-test service's order of writes, with fake adapters.

The record is written before pods are made, and a lost compare-and-swap
makes no pod: two conductors never start two runs.
"""

import copy
import datetime
import types

from magnum_capi_rdma.adapters import kube as kube_adapter
from magnum_capi_rdma import contract
from magnum_capi_rdma import selftest as st
from magnum_capi_rdma.services import selftest as service
from tests.unit import test_selftest as pure

NOW = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)


class FakeKube(object):
    """Leases in memory, with resourceVersions."""

    def __init__(self):
        self.leases = {}
        self.calls = []
        self.version = 0
        self.interfere = None       # called before a write

    def get_lease(self, namespace, name):
        lease = self.leases.get((namespace, name))
        return copy.deepcopy(lease)

    def _store(self, namespace, body):
        self.version += 1
        body = copy.deepcopy(body)
        body["metadata"]["resourceVersion"] = str(self.version)
        self.leases[(namespace, body["metadata"]["name"])] = body

    def create_lease(self, namespace, body):
        self.calls.append("create_lease")
        if self.interfere:
            self.interfere()
        if (namespace, body["metadata"]["name"]) in self.leases:
            raise kube_adapter.KubeError("exists", status=409)
        self._store(namespace, body)

    def replace_lease(self, namespace, body):
        self.calls.append("replace_lease")
        if self.interfere:
            self.interfere()
        current = self.leases.get((namespace, body["metadata"]["name"]))
        if current is None or current["metadata"]["resourceVersion"] != (
                body["metadata"].get("resourceVersion")):
            raise kube_adapter.KubeError("conflict", status=409)
        self._store(namespace, body)

    def list_leases_all(self, selector):
        key, _, value = selector.partition("=")
        return [copy.deepcopy(lease) for lease in self.leases.values()
                if lease["metadata"].get("labels", {}).get(key) == value]


class FakeWorkload(object):
    def __init__(self, kube, nodes=(), pods=()):
        self.kube = kube
        self._nodes = list(nodes)
        self._pods = list(pods)

    def nodes(self):
        return list(self._nodes)

    def pods(self, selector):
        return list(self._pods)

    def create_pod(self, body):
        self.kube.calls.append("create_pod " + body["metadata"]["name"])
        return True

    def delete_pod(self, namespace, name):
        self.kube.calls.append("delete_pod " + name)
        return True


def node(name):
    return {"metadata": {"name": name, "labels": {
        contract.CHART_NODE_GROUP_LABEL: "default-worker"}},
        "status": {"allocatable": {pure.RESOURCE: "4"},
                   "conditions": [{"type": "Ready", "status": "True"}]}}


CLUSTER = types.SimpleNamespace(uuid="c-1", project_id="p1", name="c",
                                stack_id="c-rel", status="CREATE_COMPLETE")


def test_record_first_then_the_server_pod():
    kube = FakeKube()
    tester = service.SelfTest(kube, clock=lambda: NOW)
    entry, ok = tester.poll(CLUSTER, pure.spec(), FakeWorkload(
        kube, [node("w-0"), node("w-1")]))
    assert entry["state"] == "running" and ok is None
    assert kube.calls[0] == "create_lease"
    assert kube.calls[1].startswith("create_pod magnum-rdma-selftest-")
    assert kube.calls[1].endswith("-server")
    lease = kube.get_lease("magnum-p1", "c-rel-rdma-selftest")
    assert lease["metadata"]["labels"][contract.CLUSTER_UUID_LABEL] == "c-1"
    record = st.record_from_lease(lease)
    assert record.run and record.run_nodes == ("w-0", "w-1")


def test_a_lost_race_makes_no_pod():
    kube = FakeKube()
    other = st.lease_body("magnum-p1", "c-rel", {}, st.Record(
        run="theirs", run_key="k", run_started=NOW, run_nodes=("a", "b"),
        run_settings={}), NOW)

    def first():
        kube.interfere = None
        kube._store("magnum-p1", other)
    kube.interfere = first
    tester = service.SelfTest(kube, clock=lambda: NOW)
    entry, ok = tester.poll(CLUSTER, pure.spec(), FakeWorkload(
        kube, [node("w-0"), node("w-1")]))
    assert not [c for c in kube.calls if c.startswith("create_pod")]
    assert st.record_from_lease(kube.get_lease(
        "magnum-p1", "c-rel-rdma-selftest")).run == "theirs"
    assert entry is None and ok is None


def test_disabled_costs_no_request():
    kube = FakeKube()
    tester = service.SelfTest(kube)
    spec = pure.spec({"rdma_selftest_enabled": "false"})
    assert tester.poll(CLUSTER, spec, None) == (None, None)
    assert kube.calls == []


def test_request_bumps_the_counter_of_the_cluster_found_by_uuid():
    kube = FakeKube()
    kube._store("magnum-p1", {"metadata": {
        "name": "c-rel-operation", "namespace": "magnum-p1",
        "labels": {contract.CLUSTER_UUID_LABEL: "c-1"}}})
    record = service.request(kube, "c-1", clock=lambda: NOW)
    assert record.request == 1
    record = service.request(kube, "c-1", clock=lambda: NOW)
    assert record.request == 2
    assert service.show(kube, "c-1")[2].request == 2
    assert service.request(kube, "nope") is None


def _conf(tmp_path, kubeconfig):
    path = tmp_path / "magnum.conf"
    path.write_text("[capi_rdma]\nkubeconfig_file = %s\n" % kubeconfig)
    return str(path)


def _kubeconfig(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: m\n  cluster:\n"
        "    server: https://127.0.0.1:1\ncontexts:\n- name: m\n  context:\n"
        "    cluster: m\n    user: u\ncurrent-context: m\nusers:\n"
        "- name: u\n  user:\n    token: t\n")
    return str(path)


def test_cli_exit_codes(tmp_path, monkeypatch, capsys):
    from magnum_capi_rdma.cmd import cli

    missing = _conf(tmp_path, tmp_path / "nope")
    assert cli.main(["selftest", "c-1", "--config-file", missing]) == 2
    assert "cannot reach the management cluster" in capsys.readouterr().err
    conf = _conf(tmp_path, _kubeconfig(tmp_path))
    monkeypatch.setattr(service, "request", lambda kube, uuid: None)
    code = cli.main(["selftest", "c-1", "--config-file", conf])
    err = capsys.readouterr().err
    assert (code, "no cluster c-1" in err) == (1, True), err
    monkeypatch.setattr(service, "request", lambda kube, uuid: st.Record(
        request=4))
    assert cli.main(["selftest", "c-1", "--config-file", conf]) == 0
    assert "requested (request 4)" in capsys.readouterr().out
    monkeypatch.setattr(service, "show", lambda kube, uuid: (
        "magnum-p1", "c-rel", st.Record(result={"state": "passed"})))
    assert cli.main(["selftest", "c-1", "--show", "--config-file",
                     conf]) == 0
    shown = capsys.readouterr().out
    assert '"state": "passed"' in shown and '"running": null' in shown
