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
"""The driver on the real test bed: base class, helpers, lifecycle tests.

Shared by the functional test modules (no test module imports another).
Real: Magnum's objects and database (sqlite, Magnum's own test helpers) and
its x509keypair cert manager, the helm binary, the public openstack-cluster
chart 0.27.0 (../shared/upstream, or MAGNUM_CAPI_RDMA_REAL_CHART), etcd +
kube-apiserver serving Cluster API's and CAPO's own CRDs, the driver's
adapters. Simulated: the Cluster API controllers (the simulator)
and Keystone (an in-memory stand-in with the adapter's interface; the real
Keystone is exercised by the end-to-end tests and test_keystone_real).

:class:`LifecycleBase` is the driver on the bed with helpers;
:class:`LifecycleTests` adds the lifecycle tests, which
``test_driver_lifecycle`` runs as the admin and ``test_least_privilege``
again with the shipped RBAC. Neither class is collected here (pytest
collects test modules only).
"""

import datetime
import logging
import os
import time
import uuid

import kubernetes
from magnum.conductor.handlers.common import cert_manager
from magnum.drivers.common import driver as magnum_driver
from magnum import objects
from magnum.objects import fields
from magnum.tests.unit.db import base as db_base
from magnum.tests.unit.db import utils as db_utils
from magnum.tests.unit.objects import utils as obj_utils
import pytest

from magnum_capi_rdma.adapters import helm as helm_adapter
from magnum_capi_rdma import driver as capi_driver
from magnum_capi_rdma import magnum_objects
from magnum_capi_rdma import operations
from magnum_capi_rdma.services import runtime
from tests.support import upstream

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

RDMA_LABELS = {
    "kube_tag": "v1.33.1",
    "rdma_mode": "macvlan",
    "rdma_network": "rdma-net",
    "rdma_interface": "ens4",
    "rdma_ip_range": "192.168.100.0/24",
    "gpu_operator_enabled": "true",
    "monitoring_enabled": "true",
}


def chart():
    """The openstack-cluster chart the tests install: the real one.

    Skips the calling test with one line when it is absent (fails in CI).
    """
    return str(upstream.require_real_chart())


def __getattr__(name):
    # ``TEST_CHART``, the name tests used for the chart they install: now
    # the real chart, resolved when read so that a missing one skips.
    if name == "TEST_CHART":
        return chart()
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


#: Magnum's test template has made-up proxies ("fake_http_proxy"), which
#: the driver refuses, and before Magnum 23 cluster_distro fedora-coreos
#: (the Heat driver's), which it does not provide.
TEMPLATE_FIXES = {"http_proxy": None, "https_proxy": None, "no_proxy": None,
                  "cluster_distro": "ubuntu"}


class DroppedFields(logging.Handler):
    """Collects the helm adapter's warnings of fields the server dropped."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        message = record.getMessage()
        if "dropped field" in message:
            self.messages.append(message)


class InMemoryKeystone(object):
    """Stand-in for adapters.keystone.Keystone (no Keystone on the bed)."""

    credentials = {}

    def __init__(self):
        self.auth_url = "http://127.0.0.1:5000/v3"
        self.region = "RegionOne"
        self.verify = True

    def create_app_credential(self, cluster_uuid, user_id, project_id,
                              roles=None, expires_at=None):
        cred = {"id": uuid.uuid4().hex, "secret": uuid.uuid4().hex,
                "name": "magnum-capi-rdma-%s" % cluster_uuid,
                "user_id": user_id}
        self.credentials.setdefault(cluster_uuid, []).append(cred)
        return cred

    def delete_app_credentials(self, cluster_uuid, user_id, keep=None):
        creds = self.credentials.get(cluster_uuid, [])
        kept = [c for c in creds
                if c["id"] == keep or c["user_id"] != user_id]
        self.credentials[cluster_uuid] = kept
        return len(creds) - len(kept)


def wait_for(predicate, timeout=90, interval=0.5, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout,
                                                                 what))


class LifecycleBase(db_base.DbTestCase):
    """The driver on the bed, and helpers; the tests are in subclasses."""

    #: The labels of every cluster :meth:`make_cluster` makes (plus its
    #: ``labels``).
    BASE_LABELS = RDMA_LABELS

    @pytest.fixture(autouse=True)
    def _bed(self, management_cluster, simulator, helm_bin):
        # Resolved here: Magnum's TestCase points HOME at a temp folder.
        self.helm_bin = helm_bin
        self.bed = management_cluster
        self.sim = simulator

    @pytest.fixture(autouse=True)
    def _real_chart(self):
        """The chart the driver installs, and no field dropped from it.

        The real openstack-cluster chart (0.27.0, ../shared/upstream, or
        MAGNUM_CAPI_RDMA_REAL_CHART); without it the test skips (fails in
        CI) with one line. helm cannot ask for strict field validation: a
        field of the chart's objects that the bed's real CRDs do not have
        is dropped with a warning, which the helm adapter logs; that fails
        the test. (Not in ``_bed``, which subclasses replace.)
        """
        self.chart = chart()
        dropped = DroppedFields()
        helm_adapter.LOG.addHandler(dropped)
        try:
            yield
        finally:
            helm_adapter.LOG.removeHandler(dropped)
        assert not dropped.messages, "\n".join(dropped.messages)

    def setUp(self):
        super().setUp()
        self.config(kubeconfig_file=self.driver_kubeconfig(),
                    chart_repo=self.chart,
                    helm_executable=self.helm_bin,
                    status_max_staleness=0,
                    group="capi_rdma")
        self.config(cert_manager_type="x509keypair", group="certificates")
        magnum_driver.Driver.definitions = None
        runtime.reset()
        InMemoryKeystone.credentials = {}
        self.driver = capi_driver.Driver()
        self.driver.keystone_factory = lambda context: InMemoryKeystone()
        self.context.project_id = "p" + uuid.uuid4().hex[:12]
        self.kube = runtime.shared().kube

    # -- helpers --

    def driver_kubeconfig(self):
        """The kubeconfig the driver uses (admin; subclasses narrow it)."""
        return self.bed.kubeconfig

    def make_cluster(self, labels=None, node_count=2, master_count=1,
                     name="demo", **kw):
        labels = dict(self.BASE_LABELS, **(labels or {}))
        template = obj_utils.create_test_cluster_template(
            self.context, uuid=str(uuid.uuid4()), labels=labels,
            name="t-" + uuid.uuid4().hex[:6], image_id="ubuntu-2404",
            project_id=self.context.project_id,
            master_lb_enabled=master_count > 1, **TEMPLATE_FIXES)
        # As obj_utils.create_test_cluster, but with our own template.
        kw = dict(kw, uuid=str(uuid.uuid4()), name=name,
                  cluster_template_id=template.uuid, labels=labels,
                  project_id=self.context.project_id, node_count=node_count,
                  master_count=master_count, stack_id=None, version=None,
                  status=fields.ClusterStatus.CREATE_IN_PROGRESS,
                  create_timeout=60, coe_version=None, api_address=None,
                  master_addresses=[], node_addresses=[],
                  worker_name="default-worker", master_name="default-master")
        cluster = obj_utils.get_test_cluster(self.context, **kw)
        db_utils.create_nodegroups_for_cluster(cluster_id=cluster.uuid, **kw)
        cluster.create()
        cert_manager.generate_certificates_to_cluster(cluster,
                                                      context=self.context)
        cluster.save()
        return objects.Cluster.get_by_uuid(self.context, cluster.uuid)

    def sync(self, cluster):
        cluster = objects.Cluster.get_by_uuid(self.context, cluster.uuid)
        self.driver.update_cluster_status(self.context, cluster)
        return cluster

    def wait_status(self, cluster, wanted, timeout=90):
        seen = []

        def done():
            c = self.sync(cluster)
            seen.append((c.status, c.status_reason))
            return c if c.status == wanted else None
        try:
            return wait_for(done, timeout, what=wanted)
        except AssertionError:
            raise AssertionError("never reached %s; last: %s" % (
                wanted, seen[-3:]))

    def namespace(self, cluster):
        return magnum_objects.namespace_for(cluster.project_id)

    def machines(self, cluster, group=None):
        selector = "capi.stackhpc.com/cluster=%s" % cluster.stack_id
        if group:
            selector += ",capi.stackhpc.com/node-group=%s" % group
        return self.kube.list("machine", self.namespace(cluster), selector)

    def namespace_alive(self, name):
        """The namespace exists and is not being deleted.

        The bed runs no kube-controller-manager, so a deleted namespace
        stays Terminating instead of disappearing: deletion is what the
        driver controls.
        """
        try:
            ns = self.kube.core.read_namespace(name)
        except kubernetes.client.ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return ns.metadata.deletion_timestamp is None

    def leftovers(self, cluster):
        ns = self.namespace(cluster)
        found = {}
        for kind in ("cluster", "machine", "machinedeployment",
                     "helmrelease", "manifests"):
            objs = self.kube.list(
                kind, ns, "capi.stackhpc.com/cluster=%s" % cluster.stack_id)
            if objs:
                found[kind] = [o["metadata"]["name"] for o in objs]
        if self.namespace_alive(ns):
            secrets = self.kube.list_secrets(ns, None)
            if secrets:
                found["secrets"] = [s["name"] for s in secrets]
            leases = self.kube.coordination.list_namespaced_lease(ns).items
            if leases:
                found["leases"] = [x.metadata.name for x in leases]
            found["namespace"] = ns
        return found


class LifecycleTests(LifecycleBase):
    """The lifecycle tests; subclassed by the test modules that run them."""

    def test_create_resize_nodegroups_upgrade_delete(self):
        cluster = self.make_cluster()
        self.driver.create_cluster(self.context, cluster, 30)
        cluster.save()
        cluster = self.wait_status(cluster, fields.ClusterStatus
                                   .CREATE_COMPLETE)
        assert cluster.api_address.startswith("https://")
        assert cluster.coe_version == "v1.33.1"
        assert len(cluster.master_addresses) == 1
        assert len(cluster.node_addresses) == 2
        ns = self.namespace(cluster)
        ca = self.kube.get_secret(ns, cluster.stack_id + "-ca")
        assert ca and "tls.crt" in ca and "tls.key" in ca
        creds = self.kube.get_secret(
            ns, magnum_objects.credentials_secret_name(cluster.stack_id))
        assert "v3applicationcredential" in creds["clouds.yaml"]

        # resize the default worker group up
        worker = [ng for ng in cluster.nodegroups
                  if ng.role != "master"][0]
        worker.node_count = 3
        worker.save()
        cluster.status = fields.ClusterStatus.UPDATE_IN_PROGRESS
        cluster.save()
        self.driver.resize_cluster(self.context, cluster, None, 3, None,
                                   worker)
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.UPDATE_COMPLETE)
        assert len(cluster.node_addresses) == 3

        # resize down, removing a chosen node by its server UUID
        victim = self.machines(cluster, worker.name)[0]
        server = victim["spec"]["providerID"].rsplit("/", 1)[-1]
        worker = objects.NodeGroup.get(self.context, cluster.uuid,
                                       worker.uuid)
        worker.node_count = 2
        worker.save()
        cluster.status = fields.ClusterStatus.UPDATE_IN_PROGRESS
        cluster.save()
        self.driver.resize_cluster(self.context, cluster, None, 2, [server],
                                   worker)
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.UPDATE_COMPLETE)
        names = [m["metadata"]["name"]
                 for m in self.machines(cluster, worker.name)]
        assert victim["metadata"]["name"] not in names
        assert len(names) == 2

        # add an RDMA-off node group
        ng = obj_utils.create_test_nodegroup(
            self.context, cluster_id=cluster.uuid, uuid=str(uuid.uuid4()),
            name="plain", node_count=1, role="worker", is_default=False,
            labels=dict(cluster.labels, rdma_mode="none"),
            project_id=cluster.project_id, version=None,
            status=fields.ClusterStatus.CREATE_IN_PROGRESS)
        cluster.status = fields.ClusterStatus.UPDATE_IN_PROGRESS
        cluster.save()
        self.driver.create_nodegroup(self.context, cluster, ng)
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.UPDATE_COMPLETE)
        assert len(self.machines(cluster, "plain")) == 1
        ng = objects.NodeGroup.get(self.context, cluster.uuid, ng.uuid)
        assert ng.status == fields.ClusterStatus.CREATE_COMPLETE

        # update it as Magnum's conductor does: the driver gets the changed
        # object, which Magnum saves only after the driver returns
        cluster.status = fields.ClusterStatus.UPDATE_IN_PROGRESS
        cluster.save()
        ng.node_count = 2
        ng.status = fields.ClusterStatus.UPDATE_IN_PROGRESS
        self.driver.update_nodegroup(self.context, cluster, ng)
        ng.save()
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.UPDATE_COMPLETE)
        assert len(self.machines(cluster, "plain")) == 2

        # upgrade one minor version with the extra group present, as
        # Magnum calls it (the default worker group); a skipped minor is
        # refused and leaves everything as it was
        new_template = obj_utils.create_test_cluster_template(
            self.context, id=33, uuid=str(uuid.uuid4()), name="t2",
            project_id=self.context.project_id,
            labels=dict(RDMA_LABELS, kube_tag="v1.34.2"),
            image_id="ubuntu-2404-k134", **TEMPLATE_FIXES)
        bad_template = obj_utils.create_test_cluster_template(
            self.context, id=34, uuid=str(uuid.uuid4()), name="t3",
            project_id=self.context.project_id,
            labels=dict(RDMA_LABELS, kube_tag="v1.36.0"),
            image_id="ubuntu-2404-k136", **TEMPLATE_FIXES)
        default_worker = [n for n in cluster.nodegroups
                          if n.is_default and n.role != "master"][0]
        with pytest.raises(Exception) as info:
            self.driver.upgrade_cluster(self.context, cluster, bad_template,
                                        1, default_worker)
        assert "Skipping minor versions" in str(info.value)
        cluster.status = fields.ClusterStatus.UPDATE_IN_PROGRESS
        cluster.save()
        self.driver.upgrade_cluster(self.context, cluster, new_template, 1,
                                    default_worker)
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.UPDATE_COMPLETE)
        assert cluster.coe_version == "v1.34.2"
        assert cluster.cluster_template_id == new_template.uuid
        assert cluster.labels["kube_tag"] == "v1.34.2"
        machines = self.machines(cluster)
        assert len(machines) == 5  # 1 control plane, 2 default, 2 plain
        for machine in machines:
            assert machine["spec"]["version"] == "v1.34.2"
        for row in objects.NodeGroup.list(self.context, cluster.uuid):
            assert row.version == "v1.34.2"
            assert row.image_id == "ubuntu-2404-k134"

        # remove the extra group
        ng = objects.NodeGroup.get(self.context, cluster.uuid, ng.uuid)
        cluster.status = fields.ClusterStatus.UPDATE_IN_PROGRESS
        cluster.save()
        self.driver.delete_nodegroup(self.context, cluster, ng)
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.UPDATE_COMPLETE)
        assert self.machines(cluster, "plain") == []
        assert "plain" not in [n.name for n in objects.NodeGroup.list(
            self.context, cluster.uuid)]

        # credential rotation by another member of the project replaces
        # the owner's credential too
        old = list(InMemoryKeystone.credentials[cluster.uuid])
        assert [c["user_id"] for c in old] == [self.context.user_id]
        other = self.context.to_dict()
        other["user_id"] = "another-member"
        other_ctx = type(self.context).from_dict(other)
        self.driver.rotate_credential(other_ctx, cluster)
        new = InMemoryKeystone.credentials[cluster.uuid]
        assert [c["user_id"] for c in new] == ["another-member"]
        assert new[0]["id"] != old[0]["id"]
        creds = self.kube.get_secret(
            ns, magnum_objects.credentials_secret_name(cluster.stack_id))
        assert new[0]["id"] in creds["clouds.yaml"]

        # delete: complete only when the Cluster is gone; nothing left
        self.driver.delete_cluster(self.context, cluster)
        cluster.status = fields.ClusterStatus.DELETE_IN_PROGRESS
        cluster.save()
        mid = self.sync(cluster)
        assert mid.status == fields.ClusterStatus.DELETE_IN_PROGRESS
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.DELETE_COMPLETE)
        assert self.leftovers(cluster) == {}
        assert InMemoryKeystone.credentials[cluster.uuid] == []

    def test_quota_failure_is_reported(self):
        cluster = self.make_cluster(name="quota")
        release = magnum_objects.new_release_name(cluster)
        self.sim.set_faults(release, {"machine_quota_failure": True})
        self.driver.create_cluster(self.context, cluster, 30)
        cluster.save()
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.CREATE_FAILED)
        assert "Quota exceeded" in cluster.status_reason
        self.driver.delete_cluster(self.context, cluster)
        cluster.status = fields.ClusterStatus.DELETE_IN_PROGRESS
        cluster.save()
        self.sim.clear_faults(release)
        self.wait_status(cluster, fields.ClusterStatus.DELETE_COMPLETE)
        assert self.leftovers(cluster) == {}

    def test_stalled_create_fails_at_the_timeout(self):
        cluster = self.make_cluster(name="stall")
        release = magnum_objects.new_release_name(cluster)
        self.sim.set_faults(release, {"stall": True})
        self.driver.create_cluster(self.context, cluster, 5)
        cluster.save()
        cluster = self.sync(cluster)
        assert cluster.status == fields.ClusterStatus.CREATE_IN_PROGRESS
        assert "control plane" in cluster.status_reason
        # Five minutes pass: move the recorded start back.
        started = datetime.datetime.now(datetime.timezone.utc) - \
            datetime.timedelta(minutes=6)
        lease = self.kube.get_lease(self.namespace(cluster),
                                    operations.lease_name(release))
        assert lease["metadata"]["annotations"][
            operations.OPERATION_KEY] == "CREATE"
        lease["metadata"]["annotations"][operations.STARTED_KEY] = (
            started.isoformat())
        self.kube.replace_lease(self.namespace(cluster), lease)
        # The status pass reads the record from the watch cache, which
        # sees the change a moment later.
        cluster = self.wait_status(cluster, fields.ClusterStatus.CREATE_FAILED)
        assert cluster.status_reason.startswith("Timed out after 5 minutes")
        self.sim.clear_faults(release)
        self.driver.delete_cluster(self.context, cluster)
        cluster.status = fields.ClusterStatus.DELETE_IN_PROGRESS
        cluster.save()
        self.wait_status(cluster, fields.ClusterStatus.DELETE_COMPLETE)

    def test_invalid_labels_create_nothing(self):
        cluster = self.make_cluster(labels={"rdma_mode": "infiniband",
                                            "rdma_mtu": "huge"})
        with pytest.raises(capi_driver.InvalidClusterLabels) as info:
            self.driver.create_cluster(self.context, cluster, 30)
        message = str(info.value)
        assert "rdma_mode" in message and "infiniband" in message
        assert "rdma_mtu" in message
        assert not self.namespace_alive(self.namespace(cluster))
        assert InMemoryKeystone.credentials == {}

    def test_delete_of_a_cluster_that_never_existed(self):
        cluster = self.make_cluster(name="ghost")
        cluster.stack_id = magnum_objects.new_release_name(cluster)
        cluster.status = fields.ClusterStatus.DELETE_IN_PROGRESS
        cluster.save()
        self.driver.delete_cluster(self.context, cluster)
        cluster = self.sync(cluster)
        assert cluster.status == fields.ClusterStatus.DELETE_COMPLETE, (
            cluster.status_reason)

    def test_a_status_pass_does_not_overwrite_a_failed_create(self):
        # Magnum's periodic task loads the cluster while it is in progress;
        # meanwhile the conductor refuses its labels and saves
        # CREATE_FAILED. The pass must not write its stale view over that.
        cluster = self.make_cluster(name="race")
        stale = objects.Cluster.get_by_uuid(self.context, cluster.uuid)
        failed = objects.Cluster.get_by_uuid(self.context, cluster.uuid)
        failed.status = fields.ClusterStatus.CREATE_FAILED
        failed.status_reason = "Invalid cluster configuration: rdma_mode"
        failed.save()
        self.driver.update_cluster_status(self.context, stale)
        row = objects.Cluster.get_by_uuid(self.context, cluster.uuid)
        assert row.status == fields.ClusterStatus.CREATE_FAILED
        assert row.status_reason == "Invalid cluster configuration: rdma_mode"
