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
"""The RDMA self-test of clusters (rdma_selftest_enabled): the I/O.

Each health poll of a cluster takes one step of its self-test
(:func:`magnum_capi_rdma.selftest.decide`): read the record (the
``<release>-rdma-selftest`` Lease in the project namespace) and the
self-test pods and nodes of the workload cluster, then write the record,
delete and create pods as decided. The record is written first, with the
``resourceVersion`` it was read at: of two conductors stepping the same
cluster, one wins and the other does nothing this time, so a test never
runs twice at once, and a conductor that dies between two writes leaves a
record the next poll continues from. Pods of any run but the recorded one
are deleted.

A request for a new run (``magnum-capi-rdma selftest``) bumps the
record's request counter (:func:`request`).
"""

import dataclasses
import datetime
import uuid

from oslo_config import cfg
from oslo_log import log as logging

from magnum_capi_rdma.adapters import kube as kube_adapter
from magnum_capi_rdma.adapters import workload as workload_adapter
from magnum_capi_rdma import contract
from magnum_capi_rdma import magnum_objects as mo
from magnum_capi_rdma import selftest

CONF = cfg.CONF
LOG = logging.getLogger(__name__)


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def settings_for(spec, conf=CONF):
    """The :class:`selftest.Settings` of a cluster (options, labels)."""
    group = conf.capi_rdma
    return selftest.settings(
        spec.rdma, image=group.selftest_image,
        bandwidth_args=group.selftest_bandwidth_args,
        latency_args=group.selftest_latency_args,
        min_bandwidth_gbps=group.selftest_min_bandwidth_gbps,
        max_latency_us=group.selftest_max_latency_us,
        timeout_seconds=group.selftest_timeout,
        device=group.selftest_rdma_device,
        connect_tries=group.selftest_connect_tries)


def new_run():
    return uuid.uuid4().hex[:8]


class SelfTest(object):
    """Steps the self-test of clusters.

    :param kube: the management cluster's Kube adapter.
    """

    def __init__(self, kube, clock=_utcnow):
        self.kube = kube
        self._clock = clock

    # -- the record --

    def read(self, namespace, release):
        return selftest.record_from_lease(self.kube.get_lease(
            namespace, selftest.lease_name(release)))

    def write(self, cluster, namespace, release, record):
        """Write ``record``; False if someone else wrote meanwhile."""
        body = selftest.lease_body(namespace, release,
                                   mo.ownership_labels(cluster), record,
                                   self._clock())
        try:
            if record.exists:
                self.kube.replace_lease(namespace, body)
            else:
                self.kube.create_lease(namespace, body)
        except kube_adapter.KubeError as exc:
            if exc.status == 409:
                return False
            raise
        return True

    # -- steps --

    def poll(self, cluster, spec, workload, nodes=None):
        """One step; ``(entry, ok)`` for the health reason. Never raises.

        :param workload: an open
            :class:`~magnum_capi_rdma.adapters.workload.WorkloadCluster`,
            or None when it cannot be reached.
        :param nodes: its Node dicts, if already listed.
        """
        release = mo.release_for(cluster)
        namespace = mo.namespace_for(cluster.project_id)
        deleting = (cluster.status or "").startswith("DELETE")
        if not deleting and not spec.rdma.selftest_enabled:
            # Not even a GET. (A run of a test turned off since is ended
            # by its pods' activeDeadlineSeconds, and its pods deleted
            # with the cluster.)
            return None, None
        try:
            record = self.read(namespace, release)
        except kube_adapter.KubeError as exc:
            LOG.warning("Cluster %s: RDMA self-test record not read: %s",
                        cluster.uuid, exc)
            return None, None
        if deleting and not record.run:
            return None, None
        tgt = None if deleting else selftest.target(spec, record.request)
        node_views = pod_views = None
        if workload is not None:
            try:
                if nodes is None:
                    nodes = workload.nodes()
                pods = workload.pods(selftest.POD_SELECTOR)
                network = tgt.network if tgt else ""
                node_views = [selftest.node_view(n, spec.rdma_resource)
                              for n in nodes]
                pod_views = [selftest.pod_view(p, network) for p in pods]
            except workload_adapter.WorkloadError as exc:
                LOG.info("Cluster %s: RDMA self-test waits for the "
                         "workload cluster: %s", cluster.uuid, exc)
        decision = selftest.decide(
            record, tgt, cluster.status, node_views, pod_views,
            settings_for(spec), self._clock(), new_run)
        return self._apply(cluster, namespace, release, record, decision,
                           workload)

    def _apply(self, cluster, namespace, release, record, decision,
               workload):
        if decision.record is not None:
            try:
                written = self.write(cluster, namespace, release,
                                     decision.record)
            except kube_adapter.KubeError as exc:
                LOG.warning("Cluster %s: RDMA self-test record not "
                            "written: %s", cluster.uuid, exc)
                return selftest.shown(record)
            if not written:
                # Another conductor stepped it first: show what it wrote.
                LOG.info("Cluster %s: RDMA self-test stepped by another "
                         "conductor", cluster.uuid)
                try:
                    return selftest.shown(self.read(namespace, release))
                except kube_adapter.KubeError:
                    return None, None
            self._log(cluster, record, decision)
        if workload is not None:
            try:
                for pod_namespace, name in decision.delete:
                    workload.delete_pod(pod_namespace, name)
                for body in decision.create:
                    workload.create_pod(body)
            except workload_adapter.WorkloadError as exc:
                # The record is right; the next poll retries the pods.
                LOG.warning("Cluster %s: RDMA self-test pods: %s",
                            cluster.uuid, exc)
        return decision.entry, decision.ok

    @staticmethod
    def _log(cluster, old, decision):
        new = decision.record
        if new.run and new.run != old.run:
            LOG.info("Cluster %s: RDMA self-test %s started on %s",
                     cluster.uuid, new.run, ", ".join(new.run_nodes))
        elif old.run and not new.run and new.result is not old.result:
            LOG.info("Cluster %s: RDMA self-test %s %s", cluster.uuid,
                     old.run, (new.result or {}).get("state"))
        elif old.run and not new.run:
            LOG.info("Cluster %s: RDMA self-test %s stopped", cluster.uuid,
                     old.run)

    def stop(self, cluster):
        """Stop a run in flight and delete its pods (cluster delete).

        Best effort and bounded: a cluster without a self-test record
        costs one GET; an unreachable workload cluster is left alone (it
        is being deleted).
        """
        release = mo.release_for(cluster)
        namespace = mo.namespace_for(cluster.project_id)
        try:
            record = self.read(namespace, release)
            if not record.exists:
                return
            with workload_adapter.connect(self.kube, namespace,
                                          release) as workload:
                pods = [selftest.pod_view(p, "") for p in workload.pods(
                    selftest.POD_SELECTOR)]
                decision = selftest.decide(record, None, cluster.status, [],
                                           pods, None, self._clock(),
                                           new_run)
                self._apply(cluster, namespace, release, record, decision,
                            workload)
        except (kube_adapter.KubeError, workload_adapter.Unavailable,
                workload_adapter.WorkloadError) as exc:
            LOG.info("Cluster %s: RDMA self-test not stopped: %s",
                     cluster.uuid, exc)


def find_cluster(kube, cluster_uuid):
    """``(namespace, release)`` of a cluster, from its operation Lease."""
    selector = "%s=%s" % (contract.CLUSTER_UUID_LABEL, cluster_uuid)
    for lease in kube.list_leases_all(selector):
        meta = lease.get("metadata") or {}
        name = meta.get("name") or ""
        if name.endswith("-operation"):
            return meta.get("namespace"), name[:-len("-operation")], (
                meta.get("labels") or {})
    return None


def request(kube, cluster_uuid, clock=_utcnow, attempts=5):
    """Ask for a new run of a cluster's self-test; the new Record.

    Bumps the request counter of the record (made if missing): the
    cluster's next health poll starts a run once the cluster is
    CREATE_COMPLETE or UPDATE_COMPLETE (after a run in flight ends).
    Returns None if no cluster has that UUID.
    """
    found = find_cluster(kube, cluster_uuid)
    if found is None:
        return None
    namespace, release, labels = found
    for _ in range(attempts):
        record = selftest.record_from_lease(kube.get_lease(
            namespace, selftest.lease_name(release)))
        bumped = dataclasses.replace(record, request=record.request + 1)
        body = selftest.lease_body(namespace, release, labels, bumped,
                                   clock())
        try:
            if record.exists:
                kube.replace_lease(namespace, body)
            else:
                kube.create_lease(namespace, body)
            return bumped
        except kube_adapter.KubeError as exc:
            if exc.status != 409:
                raise
    raise kube_adapter.KubeError("the self-test record of %s kept changing"
                                 % cluster_uuid)


def show(kube, cluster_uuid):
    """``(namespace, release, Record)`` of a cluster, or None."""
    found = find_cluster(kube, cluster_uuid)
    if found is None:
        return None
    namespace, release, _ = found
    return namespace, release, selftest.record_from_lease(kube.get_lease(
        namespace, selftest.lease_name(release)))
