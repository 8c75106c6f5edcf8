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
"""Helm failing under the driver, on the real bed with the real helm.

- a helm run that takes longer than ``[capi_rdma] helm_timeout``: the
  driver's ``helm_executable`` is a wrapper that runs the real helm but
  makes it hang inside its pending window (``--wait`` on a Deployment that
  never becomes ready, as a stuck apiserver would);
- the release locked by another helm, alive (a real ``helm upgrade
  --wait`` holding it pending-upgrade) or dead (the same, SIGKILLed).

Magnum's own conductor handlers turn the driver's error into *_FAILED with
the reason; the tests run those handlers. Each attempt helm made is
counted by the wrapper. Figures go to ``artifacts/reliability/
faults-helm.json``.
"""

import json
import os
import signal
import subprocess
import time
from unittest import mock
import uuid

from kubernetes import client as kube_client
from magnum.conductor.handlers import cluster_conductor
from magnum.drivers.common import driver as magnum_driver
from magnum import objects
from magnum.objects import fields
from magnum.tests.unit.objects import utils as obj_utils
import pytest

from magnum_capi_rdma import contract
from magnum_capi_rdma import driver as capi_driver
from magnum_capi_rdma import magnum_objects
from magnum_capi_rdma.services import runtime
from tests.support import faulty_helm
from tests.support import lifecycle

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
ARTIFACTS = os.path.join(ROOT, "artifacts", "reliability")
FAULTS = []
FaultyHelm = faulty_helm.FaultyHelm
NEVER_READY = faulty_helm.NEVER_READY


@pytest.fixture(scope="module", autouse=True)
def _report(summary_line):
    yield
    if not FAULTS:
        return
    survived = sum(1 for f in FAULTS if f["survived"])
    line = ("helm fault tests: %d faults injected, %d survived (%s)" % (
        len(FAULTS), survived, ", ".join(f["fault"] for f in FAULTS)))
    print("\n" + line)
    summary_line(line)
    os.makedirs(ARTIFACTS, exist_ok=True)
    with open(os.path.join(ARTIFACTS, "faults-helm.json"), "w") as out:
        json.dump({"injected": len(FAULTS), "survived": survived,
                   "faults": FAULTS}, out, indent=2)


class TestHelmFaults(lifecycle.LifecycleBase):

    @pytest.fixture(autouse=True)
    def _wrapper(self, tmp_path, helm_bin):
        self.faulty = FaultyHelm(str(tmp_path), helm_bin)

    def setUp(self):
        super().setUp()
        self.config(helm_executable=self.faulty.path, helm_retries=2,
                    group="capi_rdma")
        runtime.reset()
        # Magnum's handlers make their own Driver objects.
        patcher = mock.patch.object(
            capi_driver.Driver, "keystone_factory",
            staticmethod(lambda context: lifecycle.InMemoryKeystone()))
        patcher.start()
        self.addCleanup(patcher.stop)
        self.blockers = []
        self.addCleanup(self._stop_blockers)

    def _stop_blockers(self):
        for proc in self.blockers:
            if proc.poll() is None:
                proc.kill()
            proc.wait()

    def record(self, fault, survived, **details):
        FAULTS.append(dict(fault=fault, survived=survived, **details))

    # -- helpers --

    def new_cluster(self, name):
        """A cluster made by Magnum's cluster_create handler.

        The handler saves the row, its node groups and certificates, calls
        the driver, and on an error saves CREATE_FAILED with the reason.
        """
        magnum_driver.Driver.definitions = None
        template = obj_utils.create_test_cluster_template(
            self.context, uuid=str(uuid.uuid4()), labels=lifecycle.RDMA_LABELS,
            name="t-" + uuid.uuid4().hex[:6], image_id="ubuntu-2404",
            project_id=self.context.project_id, master_lb_enabled=False,
            **lifecycle.TEMPLATE_FIXES)
        cluster = objects.Cluster(
            self.context, uuid=str(uuid.uuid4()), name=name,
            cluster_template_id=template.uuid, labels=lifecycle.RDMA_LABELS,
            project_id=self.context.project_id,
            user_id=self.context.user_id, keypair="ops-key",
            master_flavor_id="m1.medium", flavor_id="m1.large",
            create_timeout=60, discovery_url=None, docker_volume_size=None,
            fixed_network=None, fixed_subnet=None, floating_ip_enabled=True,
            master_lb_enabled=False, etcd_ca_cert_ref=None,
            front_proxy_ca_cert_ref=None)
        handler = cluster_conductor.Handler()
        error = None
        try:
            handler.cluster_create(self.context, cluster, 1, 2, 60)
        except Exception as exc:  # noqa: B902 - the handler re-raises
            error = exc
        return objects.Cluster.get_by_uuid(self.context, cluster.uuid), error

    def resize(self, cluster, node_count):
        """Magnum's cluster_resize handler (UPDATE_FAILED on an error)."""
        worker = [ng for ng in cluster.nodegroups if ng.role != "master"][0]
        error = None
        try:
            cluster_conductor.Handler().cluster_resize(
                self.context, cluster, node_count, None, worker)
        except Exception as exc:  # noqa: B902 - the handler re-raises
            error = exc
        return objects.Cluster.get_by_uuid(self.context, cluster.uuid), error

    def release_records(self, cluster):
        """{revision: status} of the cluster's helm release."""
        records = self.kube.list_secrets(
            self.namespace(cluster),
            "owner=helm,name=%s" % magnum_objects.release_for(cluster))
        return {int(r["labels"]["version"]): r["labels"]["status"]
                for r in records}

    def assert_one_of_each(self, cluster):
        """One deployed revision, no pending one, one credential."""
        records = self.release_records(cluster)
        assert list(records.values()).count("deployed") == 1, records
        assert not [s for s in records.values()
                    if s.startswith("pending")], records
        assert len(lifecycle.InMemoryKeystone.credentials[cluster.uuid]) \
            == 1
        secrets = [s["name"] for s in self.kube.list_secrets(
            self.namespace(cluster), "%s=%s" % (
                contract.CLUSTER_UUID_LABEL, cluster.uuid))]
        assert secrets.count(magnum_objects.credentials_secret_name(
            cluster.stack_id)) == 1, secrets
        return records

    def drop_never_ready(self, cluster):
        """Remove the Deployment a blocker or a hung helm left behind."""
        apps = kube_client.AppsV1Api(self.kube.api_client)
        try:
            apps.delete_namespaced_deployment(NEVER_READY,
                                              self.namespace(cluster))
        except kube_client.ApiException as exc:
            assert exc.status == 404

    def delete_and_wait(self, cluster):
        self.driver.delete_cluster(self.context, cluster)
        cluster.status = fields.ClusterStatus.DELETE_IN_PROGRESS
        cluster.save()
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.DELETE_COMPLETE)
        assert self.leftovers(cluster) == {}
        assert lifecycle.InMemoryKeystone.credentials[cluster.uuid] == []

    def blocker(self, cluster, revision, wait="30s"):
        """A real ``helm upgrade --wait`` that holds the release pending.

        Same chart and values, plus a Deployment that never becomes ready
        (no controllers run on the bed): helm keeps revision ``revision``
        pending-upgrade until ``wait`` runs out or it is stopped.
        """
        release = cluster.stack_id
        proc = subprocess.Popen(
            [self.helm_bin, "upgrade", release, self.chart,
             "--namespace", self.namespace(cluster), "--kubeconfig",
             self.bed.kubeconfig, "--reuse-values", "--wait", "--timeout",
             wait, "--post-renderer", self.faulty.renderer],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.blockers.append(proc)
        lifecycle.wait_for(
            lambda: self.release_records(cluster).get(revision) ==
            "pending-upgrade", 30, 0.1, what="revision %d pending" % revision)
        return proc

    def complete(self, name):
        cluster, error = self.new_cluster(name)
        assert error is None, error
        return self.wait_status(cluster,
                                fields.ClusterStatus.CREATE_COMPLETE)

    # -- faults --

    def test_helm_hangs_past_its_timeout_during_create(self):
        self.config(helm_timeout=10, helm_retries=1, group="capi_rdma")
        runtime.reset()
        self.faulty.set(hang=["upgrade"])
        began = time.monotonic()
        cluster, error = self.new_cluster("hang-create")
        took = time.monotonic() - began
        release = cluster.stack_id
        expected = ("helm install/upgrade of release %s timed out after "
                    "10s (gave up after 2 attempts)" % release)
        assert str(error) == expected
        # Magnum's handler saved the cause as the reason.
        assert cluster.status == fields.ClusterStatus.CREATE_FAILED
        assert cluster.status_reason == expected
        attempts = len(self.faulty.calls("upgrade"))
        assert attempts == 2            # one try, one retry: bounded
        assert 20 <= took < 20 + 30, took
        # Each hung helm was stopped with SIGTERM and marked its revision
        # failed: nothing is left pending to lock the release.
        records = self.release_records(cluster)
        assert records and set(records.values()) == {"failed"}, records
        # A status pass keeps the failure (no operation is running).
        cluster = self.sync(cluster)
        assert cluster.status == fields.ClusterStatus.CREATE_FAILED

        # helm is well again: the user deletes the failed cluster and
        # everything it made goes.
        self.faulty.set()
        self.drop_never_ready(cluster)
        self.delete_and_wait(cluster)
        self.record("helm hangs past helm_timeout during create", True,
                    attempts=attempts, seconds=round(took, 1),
                    status_reason=expected)

    def test_release_locked_by_a_live_helm(self):
        cluster = self.complete("locked-live")
        release = cluster.stack_id
        self.blocker(cluster, 2)
        self.faulty.set()
        cluster, error = self.resize(cluster, 3)
        attempts = len(self.faulty.calls("upgrade"))
        assert attempts == 3 + 1    # create, then one try + two retries
        message = str(error)
        assert message.startswith(
            "helm install/upgrade of release %s failed: another operation "
            "(install/upgrade/rollback) is in progress on release %s "
            "(gave up after 3 attempts); its revision 2 has been "
            "pending-upgrade for " % (release, release)), message
        assert "\n" not in message
        assert cluster.status == fields.ClusterStatus.UPDATE_FAILED
        assert cluster.status_reason == message
        # The other helm ends (stopped: it marks its revision failed);
        # the user's next resize goes through.
        self.blockers[0].send_signal(signal.SIGTERM)
        self.blockers[0].wait(30)
        assert self.release_records(cluster)[2] == "failed"
        cluster, error = self.resize(cluster, 3)
        assert error is None, error
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.UPDATE_COMPLETE)
        assert len(cluster.node_addresses) == 3
        records = self.assert_one_of_each(cluster)
        assert records[3] == "deployed"
        self.drop_never_ready(cluster)
        self.delete_and_wait(cluster)
        self.record("release locked by a live helm during resize", True,
                    attempts=attempts - 1, status_reason=message)

    def test_release_left_pending_by_a_killed_helm(self):
        cluster = self.complete("locked-dead")
        release = cluster.stack_id
        helm = runtime.shared().helm
        # Fresh during the first resize, however slow the machine (its
        # three attempts can take longer than a short stale_after).
        helm.stale_after = 600
        blocker = self.blocker(cluster, 2, wait="300s")
        blocker.kill()                  # SIGKILL: revision 2 stays pending
        blocker.wait()
        self.faulty.set()
        cluster, error = self.resize(cluster, 3)
        message = str(error)
        assert "in progress on release %s (gave up after 3 attempts); its " \
            "revision 2 has been pending-upgrade for" % release in message
        assert message.endswith("taken as abandoned after 600s"), message
        assert cluster.status == fields.ClusterStatus.UPDATE_FAILED
        assert cluster.status_reason == message
        assert self.release_records(cluster)[2] == "pending-upgrade"
        # Later, the pending revision is stale (after 8 s here): the next
        # resize marks it failed and upgrades from revision 1 (revision 3).
        helm.stale_after = 8
        lifecycle.wait_for(
            lambda: getattr(helm.pending(release, self.namespace(cluster)),
                            "stale", False),
            60, 0.5, what="revision 2 to be stale (%ds old)" % (
                helm.stale_after))
        cluster, error = self.resize(cluster, 3)
        assert error is None, error
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.UPDATE_COMPLETE)
        assert len(cluster.node_addresses) == 3
        records = self.assert_one_of_each(cluster)
        assert records == {1: "superseded", 2: "failed", 3: "deployed"}
        self.drop_never_ready(cluster)
        self.delete_and_wait(cluster)
        self.record("release left pending-upgrade by a SIGKILLed helm", True,
                    status_reason=message)
