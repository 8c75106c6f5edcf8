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
"""Faults on the real bed: kube-apiserver stopped and restarted during
create, during a status pass and during delete; Keystone away during
delete.

The bed here is this module's own (etcd keeps the data across the
apiserver restarts), so the session's shared bed is never disturbed. Each
fault injected is counted; the figures are printed and written to
``artifacts/reliability/faults.json``.
"""

import json
import os

from kubernetes import config as kube_config
from magnum.objects import fields
import pytest

from magnum_capi_rdma import contract
from magnum_capi_rdma import driver as capi_driver
from magnum_capi_rdma import magnum_objects
from magnum_capi_rdma.services import runtime
from tests import conftest as bed_conftest
from tests.support import lifecycle
from tests.support import upstream

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
ARTIFACTS = os.path.join(ROOT, "artifacts", "reliability")
FAULTS = []     # one dict per fault injected, filled by the tests


@pytest.fixture(scope="module", autouse=True)
def _report(summary_line):
    yield
    if not FAULTS:
        return
    survived = sum(1 for f in FAULTS if f["survived"])
    line = ("fault tests: %d faults injected, %d survived (%s)" % (
        len(FAULTS), survived, ", ".join(f["fault"] for f in FAULTS)))
    print("\n" + line)
    summary_line(line)
    os.makedirs(ARTIFACTS, exist_ok=True)
    with open(os.path.join(ARTIFACTS, "faults.json"), "w") as out:
        json.dump({"injected": len(FAULTS), "survived": survived,
                   "faults": FAULTS}, out, indent=2)


@pytest.fixture(scope="module")
def fault_bed(tmp_path_factory):
    """This module's own management cluster and simulator.

    With Cluster API's and CAPO's own CRDs, as the session's bed.
    """
    bed_conftest.require_bed_tools()
    path = upstream.require_upstream()
    from magnum_capi_rdma_dev.bed import cluster
    from magnum_capi_rdma_dev.bed import tools
    from magnum_capi_rdma_dev.simulator import crds
    from magnum_capi_rdma_dev.simulator import Simulator

    # Magnum's test case moves HOME; the apiserver restarts in the tests
    # must still find the binaries.
    saved = os.environ.get("MAGNUM_CAPI_RDMA_CACHE")
    os.environ["MAGNUM_CAPI_RDMA_CACHE"] = tools.cache_dir()
    bed = cluster.ManagementCluster(str(tmp_path_factory.mktemp("fault-bed")))
    bed.start()
    api_client = kube_config.new_client_from_config(bed.kubeconfig)
    sim = Simulator(api_client)
    try:
        crds.install_crds(api_client, upstream=path)
        sim.start(interval=0.2)
        yield bed, sim
    finally:
        sim.stop()
        refused = list(sim.refused)
        api_client.close()
        bed.stop()
        if saved is None:
            os.environ.pop("MAGNUM_CAPI_RDMA_CACHE", None)
        else:
            os.environ["MAGNUM_CAPI_RDMA_CACHE"] = saved
    assert not refused, "the API server refused the simulator's " \
        "writes:\n%s" % "\n".join("%s %s: %s" % r for r in refused)


class FlakyKeystone(lifecycle.InMemoryKeystone):
    """The in-memory Keystone, which can be made unreachable."""

    down = False
    created = 0
    failed_calls = 0

    def _check(self):
        if FlakyKeystone.down:
            FlakyKeystone.failed_calls += 1
            raise ConnectionError("Unable to establish connection to "
                                  "http://127.0.0.1:5000/v3")

    def create_app_credential(self, *args, **kwargs):
        self._check()
        FlakyKeystone.created += 1
        return super().create_app_credential(*args, **kwargs)

    def delete_app_credentials(self, *args, **kwargs):
        self._check()
        return super().delete_app_credentials(*args, **kwargs)


class TestApiserverFaults(lifecycle.LifecycleBase):

    @pytest.fixture(autouse=True)
    def _bed(self, fault_bed, helm_bin):
        self.helm_bin = helm_bin
        self.bed, self.sim = fault_bed

    def setUp(self):
        super().setUp()
        self.config(helm_retries=1, operation_lock_seconds=10,
                    group="capi_rdma")
        runtime.reset()
        FlakyKeystone.down = False
        FlakyKeystone.created = 0
        FlakyKeystone.failed_calls = 0
        self.driver.keystone_factory = lambda context: FlakyKeystone()
        self.kube = runtime.shared().kube
        self.addCleanup(self._apiserver_up)

    def _apiserver_up(self):
        if not self.bed.healthy():
            self.bed.start_apiserver()

    def record(self, fault, survived, **details):
        FAULTS.append(dict(fault=fault, survived=survived, **details))

    # -- checks --

    def helm_records(self, cluster):
        """Helm's release Secrets of the cluster's release."""
        return self.kube.list_secrets(
            self.namespace(cluster),
            "owner=helm,name=%s" % magnum_objects.release_for(cluster))

    def assert_no_duplicates(self, cluster):
        ns = self.namespace(cluster)
        records = self.helm_records(cluster)
        deployed = [r for r in records
                    if r["labels"].get("status") == "deployed"]
        assert len(deployed) == 1, [r["name"] for r in records]
        creds = self.kube.list_secrets(
            ns, "%s=%s" % (contract.CLUSTER_UUID_LABEL, cluster.uuid))
        names = sorted(s["name"] for s in creds)
        assert names.count(magnum_objects.credentials_secret_name(
            magnum_objects.release_for(cluster))) == 1, names
        assert len(FlakyKeystone.credentials[cluster.uuid]) == 1
        return len(records)

    def delete_and_wait(self, cluster):
        self.driver.delete_cluster(self.context, cluster)
        cluster.status = fields.ClusterStatus.DELETE_IN_PROGRESS
        cluster.save()
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.DELETE_COMPLETE)
        assert self.leftovers(cluster) == {}
        assert FlakyKeystone.credentials[cluster.uuid] == []
        return cluster

    # -- faults --

    def test_create_while_apiserver_down(self):
        cluster = self.make_cluster(name="down-create")
        self.bed.stop_apiserver()
        with pytest.raises(capi_driver.ClusterOperationFailed) as info:
            self.driver.create_cluster(self.context, cluster, 30)
        message = str(info.value)
        assert "management cluster unreachable" in message, message
        assert "\n" not in message
        # Nothing was created anywhere while it was down.
        assert FlakyKeystone.created == 0
        self.bed.start_apiserver()
        assert not self.namespace_alive(self.namespace(cluster))
        # Magnum's user retries: the second create converges.
        self.driver.create_cluster(self.context, cluster, 30)
        cluster.save()
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.CREATE_COMPLETE)
        self.assert_no_duplicates(cluster)
        assert FlakyKeystone.created == 1
        self.delete_and_wait(cluster)
        self.record("apiserver down before create", True, error=message)

    def test_apiserver_stops_in_the_middle_of_create(self):
        cluster = self.make_cluster(name="mid-create")
        helm = runtime.shared().helm
        real_install = helm.install_or_upgrade
        calls = []

        def install_after_outage(*args, **kwargs):
            # Namespace, credentials and CA Secrets are written; the
            # apiserver goes away just before Helm installs the release.
            calls.append(args[0])
            if len(calls) == 1:
                self.bed.stop_apiserver()
            return real_install(*args, **kwargs)

        helm.install_or_upgrade = install_after_outage
        try:
            with pytest.raises(capi_driver.ClusterOperationFailed) as info:
                self.driver.create_cluster(self.context, cluster, 30)
            message = str(info.value)
            assert "helm install/upgrade of release %s failed: management "\
                "cluster unreachable" % (
                    magnum_objects.release_for(cluster)) in message, message
            self.bed.start_apiserver()
            # The failed call could not free its lock (the apiserver was
            # down): the retry is refused as busy until it expires.
            refused = []

            def retry():
                try:
                    self.driver.create_cluster(self.context, cluster, 30)
                    return True
                except capi_driver.ClusterBusy as exc:
                    refused.append(str(exc))
                    return False
            lifecycle.wait_for(retry, 60, 1.0, what="the lock to expire")
            assert all("is busy: a create is in progress" in r
                       for r in refused), refused
        finally:
            helm.install_or_upgrade = real_install
        cluster.save()
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.CREATE_COMPLETE)
        self.assert_no_duplicates(cluster)
        # The credential made before the outage was reused, not doubled.
        assert FlakyKeystone.created == 1
        self.delete_and_wait(cluster)
        self.record("apiserver down in the middle of create", True,
                    error=message)

    def test_status_pass_while_apiserver_down(self):
        cluster = self.make_cluster(name="down-status")
        self.driver.create_cluster(self.context, cluster, 30)
        cluster.save()
        self.bed.stop_apiserver()
        for _ in range(3):
            cluster = self.sync(cluster)    # must not raise
            assert cluster.status == fields.ClusterStatus.CREATE_IN_PROGRESS
        assert cluster.status_reason.startswith(
            "Waiting for the management cluster"), cluster.status_reason
        assert "\n" not in cluster.status_reason
        self.bed.start_apiserver()
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.CREATE_COMPLETE)
        assert "Waiting for the management cluster" not in (
            cluster.status_reason or "")
        self.assert_no_duplicates(cluster)
        # A COMPLETE cluster stays COMPLETE through another outage.
        self.bed.stop_apiserver()
        cluster = self.sync(cluster)
        assert cluster.status == fields.ClusterStatus.CREATE_COMPLETE
        self.bed.start_apiserver()
        self.delete_and_wait(cluster)
        self.record("apiserver down during status passes (in progress, "
                    "complete)", True)

    def test_delete_while_apiserver_down(self):
        cluster = self.make_cluster(name="down-delete")
        self.driver.create_cluster(self.context, cluster, 30)
        cluster.save()
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.CREATE_COMPLETE)
        self.bed.stop_apiserver()
        with pytest.raises(capi_driver.ClusterOperationFailed) as info:
            self.driver.delete_cluster(self.context, cluster)
        message = str(info.value)
        assert "management cluster unreachable" in message, message
        self.bed.start_apiserver()
        # Nothing was deleted half-way: the cluster is still there.
        assert self.namespace_alive(self.namespace(cluster))
        self.delete_and_wait(cluster)
        self.record("apiserver down at delete", True, error=message)

    def test_apiserver_restarts_while_deleting(self):
        cluster = self.make_cluster(name="mid-delete")
        self.driver.create_cluster(self.context, cluster, 30)
        cluster.save()
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.CREATE_COMPLETE)
        self.driver.delete_cluster(self.context, cluster)
        cluster.status = fields.ClusterStatus.DELETE_IN_PROGRESS
        cluster.save()
        self.bed.stop_apiserver()
        cluster = self.sync(cluster)
        assert cluster.status == fields.ClusterStatus.DELETE_IN_PROGRESS
        assert cluster.status_reason.startswith(
            "Waiting for the management cluster")
        self.bed.start_apiserver()
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.DELETE_COMPLETE)
        assert self.leftovers(cluster) == {}
        assert FlakyKeystone.credentials[cluster.uuid] == []
        self.record("apiserver down while machines are deleted", True)

    def test_keystone_down_during_delete(self):
        cluster = self.make_cluster(name="ks-delete")
        self.driver.create_cluster(self.context, cluster, 30)
        cluster.save()
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.CREATE_COMPLETE)
        FlakyKeystone.down = True
        self.driver.delete_cluster(self.context, cluster)
        cluster.status = fields.ClusterStatus.DELETE_IN_PROGRESS
        cluster.save()

        def waiting_for_keystone():
            c = self.sync(cluster)
            return c if "waiting for Keystone" in (c.status_reason or "") \
                else None
        cluster = lifecycle.wait_for(waiting_for_keystone, 90,
                                     what="waiting for Keystone")
        assert cluster.status == fields.ClusterStatus.DELETE_IN_PROGRESS
        # The credential and its Secret stay until Keystone is back.
        assert len(FlakyKeystone.credentials[cluster.uuid]) == 1
        assert self.kube.get_secret(
            self.namespace(cluster),
            magnum_objects.credentials_secret_name(cluster.stack_id))
        for _ in range(2):
            cluster = self.sync(cluster)
            assert cluster.status == fields.ClusterStatus.DELETE_IN_PROGRESS
        failed = FlakyKeystone.failed_calls
        assert failed >= 3     # it kept trying on every pass
        FlakyKeystone.down = False
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.DELETE_COMPLETE)
        assert FlakyKeystone.credentials[cluster.uuid] == []
        assert self.leftovers(cluster) == {}
        self.record("Keystone down during delete", True,
                    keystone_calls_refused=failed)
