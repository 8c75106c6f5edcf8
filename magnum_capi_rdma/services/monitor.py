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
"""Magnum's health monitor: the cluster's objects and its RDMA stack.

Health is computed by :func:`magnum_capi_rdma.health.evaluate` from the
shared snapshot (and, for clusters with RDMA node groups, a short read of
the workload cluster). The poll also carries node counts the cluster
autoscaler chose back to Magnum, and takes one step of the RDMA self-test
of clusters that asked for it (:mod:`.selftest`): Magnum's health poll is
the one periodic call a completed cluster gets.
"""

from magnum.conductor import monitors
from oslo_log import log as logging

from magnum_capi_rdma.adapters import workload
from magnum_capi_rdma import errors
from magnum_capi_rdma import health
from magnum_capi_rdma import magnum_objects as mo
from magnum_capi_rdma.services import selftest
from magnum_capi_rdma import status as st

LOG = logging.getLogger(__name__)


class Monitor(monitors.MonitorBase):
    """Health of a cluster from its Cluster API objects and RDMA stack.

    :param runtime: the process's :class:`.runtime.Runtime`.
    """

    def __init__(self, context, cluster, runtime):
        super().__init__(context, cluster)
        self._runtime = runtime
        self.data = {}

    @property
    def metrics_spec(self):
        return {}

    def pull_data(self):
        pass

    def poll_health_status(self):
        cluster = self.cluster
        try:
            release = mo.release_for(cluster)
            namespace = mo.namespace_for(cluster.project_id)
            observed = self._runtime.observer.observed(namespace, release)
            ngs = tuple(st.NodeGroupView(name=mo.group_name(ng),
                                         role=ng.role,
                                         node_count=ng.node_count,
                                         status=ng.status or "")
                        for ng in cluster.nodegroups)
            rdma, selftest_entry = self._rdma(cluster, namespace, release)
            status, reason = health.evaluate(observed, release, ngs, rdma,
                                             selftest_entry)
            self._sync_node_counts(observed, release, ngs)
        except Exception as exc:
            status, reason = health.UNKNOWN, {
                "management cluster": "unreachable: %s" % errors.short(exc)}
        self.data["health_status"] = status
        self.data["health_status_reason"] = reason

    def _rdma(self, cluster, namespace, release):
        """The RDMA observation and the self-test's ``(entry, ok)``.

        ``(None, None)`` without RDMA node groups. One connection to the
        workload cluster serves both, and one LIST of its nodes.
        """
        try:
            spec = mo.build_spec(cluster)
        except errors.InvalidClusterLabels:
            return None, None
        if not spec.rdma_node_groups:
            return None, None
        expected = sum(ng.node_count for ng in cluster.nodegroups
                       if mo.group_name(ng) in spec.rdma_node_group_names)
        resource = spec.rdma_resource
        tester = selftest.SelfTest(self._runtime.kube)
        try:
            with workload.connect(self._runtime.kube, namespace,
                                  release) as cluster_api:
                nodes = None
                try:
                    nodes = cluster_api.nodes() if resource else None
                except workload.WorkloadError:
                    pass  # observe() says why
                rdma = workload.observe(cluster_api, resource, expected,
                                        nodes)
                reachable = rdma.error is None
                entry = tester.poll(cluster, spec,
                                    cluster_api if reachable else None,
                                    nodes)
        except workload.Unavailable as exc:
            rdma = health.RdmaObservation(resource_name=resource,
                                          nodes_expected=expected,
                                          error=str(exc))
            entry = tester.poll(cluster, spec, None)
        return rdma, entry

    def _sync_node_counts(self, observed, release, ngs):
        """Node counts the cluster autoscaler chose flow back to Magnum.

        Status sync only runs for clusters in progress; the health poll
        runs for every cluster, so it carries the autoscaler's changes.
        """
        if not (self.cluster.status or "").endswith("_COMPLETE"):
            return
        view = st.MagnumView(release=release, status=self.cluster.status,
                             node_groups=ngs)
        counts = st.reconcile(observed, view, None).node_groups
        for ng in self.cluster.nodegroups:
            result = counts.get(mo.group_name(ng))
            if (ng.role != "master" and result is not None and
                    result.node_count != ng.node_count):
                LOG.info("Node group %s of cluster %s: %d nodes (was %d)",
                         ng.name, self.cluster.uuid, result.node_count,
                         ng.node_count)
                ng.node_count = result.node_count
                ng.save()
