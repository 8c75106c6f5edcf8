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
"""Simulated CAPI Cluster and CAPO OpenStackCluster controllers.

SIMULATION for development and tests only: never shipped, never run
against a real management cluster.

OpenStackCluster: a finalizer, the network, router, security groups,
load balancer and bastion that CAPO would report (stable fake IDs, TEST-NET
floating IPs), and the ``controlPlaneEndpoint``; or the ``network_failure``
fault. Cluster: the endpoint copied from the infrastructure, phase and
conditions from the OpenStackCluster and KubeadmControlPlane, and deletion
in the controllers' order (workers and add-ons, control plane,
infrastructure, then templates and owned Secrets).
"""

import hashlib
import logging

from magnum_capi_rdma_dev.simulator import base
from magnum_capi_rdma_dev.simulator.objects import CLUSTER_NAME
from magnum_capi_rdma_dev.simulator.objects import condition_status
from magnum_capi_rdma_dev.simulator.objects import conditions
from magnum_capi_rdma_dev.simulator.objects import CONTROL_PLANE
from magnum_capi_rdma_dev.simulator.objects import deleting
from magnum_capi_rdma_dev.simulator.objects import FIN_CLUSTER
from magnum_capi_rdma_dev.simulator.objects import FIN_OSC
from magnum_capi_rdma_dev.simulator.objects import kind_of
from magnum_capi_rdma_dev.simulator.objects import labels_of
from magnum_capi_rdma_dev.simulator.objects import meta
from magnum_capi_rdma_dev.simulator.objects import name_of
from magnum_capi_rdma_dev.simulator.objects import ns_of
from magnum_capi_rdma_dev.simulator.objects import nth_host
from magnum_capi_rdma_dev.simulator.objects import owned_by
from magnum_capi_rdma_dev.simulator.objects import spec_of
from magnum_capi_rdma_dev.simulator.objects import stable_uuid
from magnum_capi_rdma_dev.simulator.objects import status_of
from magnum_capi_rdma_dev.simulator.objects import v1beta2_conditions
from magnum_capi_rdma_dev.simulator.objects import v1beta2_of
from magnum_capi_rdma_dev.simulator.objects import valid_cidr

LOG = logging.getLogger(__name__)


class ClusterController(base.Reconciler):
    """Cluster (CAPI core) and OpenStackCluster (CAPO)."""

    # -- OpenStackCluster (CAPO) --------------------------------------------

    def _reconcile_osc(self, snap, kind, osc, cluster_name):
        namespace = ns_of(osc)
        faults = self.faults(namespace, cluster_name or name_of(osc))
        if deleting(osc):
            if self._waited(osc, "delete", self.delays["deletion"]):
                self._remove_finalizer(kind, osc, FIN_OSC, cluster_name)
            return
        cluster = snap.get("cluster", namespace, cluster_name)
        self._ensure_meta(
            kind, osc, FIN_OSC,
            {CLUSTER_NAME: cluster_name} if cluster_name else None, cluster)
        status = dict(status_of(osc))
        if self._network_failed(kind, osc, status, faults):
            return
        status.pop("failureReason", None)
        status.pop("failureMessage", None)
        if cluster is None or not self._waited(
                osc, "ready", self.delays["infrastructure"]):
            status.setdefault("ready", False)
            status["initialization"] = {"provisioned": False}
            status["conditions"] = conditions(status.get("conditions"), [
                ("Ready", None, "WaitingForInfrastructure", None)])
            self._write_status(kind, osc, status)
            return
        status.update(self._osc_status(osc, cluster_name))
        status["conditions"] = conditions(status.get("conditions"), [
            ("Ready", True, None, None)])
        spec = spec_of(osc)
        endpoint = spec.get("controlPlaneEndpoint") or {}
        if not endpoint.get("host"):
            host = self._api_host(osc, status)
            port = int(spec.get("apiServerPort") or 6443)
            self._patch(kind, osc, {"spec": {"controlPlaneEndpoint": {
                "host": host, "port": port}}}, guarded=False)
        self._write_status(kind, osc, status)

    def _network_failed(self, kind, osc, status, faults):
        """The ``network_failure`` fault: the OpenStackCluster fails."""
        if not faults.get("network_failure"):
            return False
        message = ("failed to reconcile network: %s"
                   % faults["network_failure"])
        status.update(ready=False, failureReason="CreateError",
                      failureMessage=message,
                      initialization={"provisioned": False},
                      conditions=conditions(status.get("conditions"), [
                          ("Ready", False, "NetworkCreateFailed",
                           message)]))
        self._write_status(kind, osc, status)
        return True

    def _osc_status(self, osc, cluster_name):
        spec = spec_of(osc)
        key = (ns_of(osc), name_of(osc), meta(osc).get("uid"))
        net_name = "k8s-clusterapi-cluster-%s-%s" % (ns_of(osc),
                                                     cluster_name)
        subnets = spec.get("managedSubnets") or [{}]
        cidr = valid_cidr(subnets[0].get("cidr"), "10.0.0.0/24")
        network = {
            "id": stable_uuid(*key, "network"), "name": net_name,
            "subnets": [{"id": stable_uuid(*key, "subnet"),
                         "name": net_name, "cidr": cidr}]}
        # CAPO 0.14 writes both readiness fields of the two contracts.
        status = {
            "ready": True,
            "initialization": {"provisioned": True},
            "network": network,
            "router": {"id": stable_uuid(*key, "router"),
                       "name": net_name},
            "failureDomains": {"nova": {"controlPlane": True}},
            "controlPlaneSecurityGroup": {
                "id": stable_uuid(*key, "sg-cp"),
                "name": net_name + "-secgroup-controlplane"},
            "workerSecurityGroup": {
                "id": stable_uuid(*key, "sg-w"),
                "name": net_name + "-secgroup-worker"},
        }
        vip = nth_host(cidr, 4)
        if (spec.get("apiServerLoadBalancer") or {}).get("enabled"):
            status["apiServerLoadBalancer"] = {
                "id": stable_uuid(*key, "lb"), "name": net_name + "-kubeapi",
                "internalIP": vip, "ip": self._floating_ip(osc) or vip,
                "allowedCIDRs": (spec.get("apiServerLoadBalancer") or {}).get(
                    "allowedCIDRs") or []}
        if (spec.get("bastion") or {}).get("enabled"):
            status["bastion"] = {
                "id": stable_uuid(*key, "bastion"),
                "name": net_name + "-bastion", "state": "ACTIVE",
                "ip": vip, "floatingIP": self._floating_ip(osc, "bastion")}
        return status

    def _floating_ip(self, osc, what="api"):
        spec = spec_of(osc)
        if what == "api" and spec.get("disableAPIServerFloatingIP"):
            return None
        if what == "api" and spec.get("apiServerFloatingIP"):
            return spec["apiServerFloatingIP"]
        # TEST-NET-3 (RFC 5737): data only, never routed.
        index = int(hashlib.sha256(("%s/%s/%s" % (
            ns_of(osc), name_of(osc), what)).encode()).hexdigest(), 16)
        return "203.0.113.%d" % (index % 250 + 2)

    def _api_host(self, osc, status):
        lb = status.get("apiServerLoadBalancer") or {}
        return self._floating_ip(osc) or lb.get("internalIP") or (
            status["network"]["subnets"][0]["cidr"].split("/")[0])

    # -- Cluster (CAPI) -----------------------------------------------------

    def _reconcile_cluster(self, snap, kind, cluster, _name):
        namespace = ns_of(cluster)
        if deleting(cluster):
            self._delete_cluster(snap, cluster)
            return
        self._ensure_meta(kind, cluster, FIN_CLUSTER)
        spec = spec_of(cluster)
        osc = self._ref(snap, "osc", cluster, "infrastructureRef")
        kcp = self._ref(snap, "kcp", cluster, "controlPlaneRef")
        infra_ready = bool(osc and status_of(osc).get("ready"))
        endpoint = (spec_of(osc).get("controlPlaneEndpoint") or {}) if (
            osc) else {}
        if infra_ready and endpoint.get("host") and not (
                spec.get("controlPlaneEndpoint") or {}).get("host"):
            self._patch(kind, cluster, {"spec": {"controlPlaneEndpoint": {
                "host": endpoint["host"],
                "port": int(endpoint.get("port") or 6443)}}})
            LOG.info("Cluster %s/%s: controlPlaneEndpoint %s:%s", namespace,
                     name_of(cluster), endpoint["host"],
                     endpoint.get("port") or 6443)
            raise base.Skip()
        has_endpoint = bool((spec.get("controlPlaneEndpoint") or {}).get(
            "host"))
        cp_ready = bool(kcp and status_of(kcp).get("ready"))
        cp_ready_cond = condition_status(kcp, "Ready") == "True" if kcp \
            else False
        failure = osc and status_of(osc).get("failureMessage")
        status = dict(status_of(cluster))
        status.pop("failureReason", None)
        status.pop("failureMessage", None)
        if failure:
            status.update(phase="Failed", failureMessage=failure,
                          failureReason=status_of(osc).get("failureReason")
                          or "CreateError")
        elif infra_ready and has_endpoint:
            status["phase"] = "Provisioned"
        elif spec.get("infrastructureRef"):
            status["phase"] = "Provisioning"
        else:
            status["phase"] = "Pending"
        infra_msg = failure or "waiting for the OpenStackCluster"
        cp_msg = self._kcp_message(kcp)
        status.update(
            infrastructureReady=infra_ready,
            controlPlaneReady=cp_ready,
            observedGeneration=meta(cluster).get("generation"),
            conditions=conditions(status.get("conditions"), [
                ("Ready", infra_ready and cp_ready_cond or (
                    False if failure else None),
                 "Failed" if failure else "WaitingForControlPlane",
                 failure or cp_msg or infra_msg),
                ("ControlPlaneInitialized", bool(
                    kcp and status_of(kcp).get("initialized")) or None,
                 "WaitingForControlPlaneProviderInitialized", None),
                ("ControlPlaneReady", cp_ready_cond or None,
                 "WaitingForControlPlane", cp_msg),
                ("InfrastructureReady", infra_ready or (
                    False if failure else None),
                 "Failed" if failure else "WaitingForInfrastructure",
                 infra_msg),
            ]))
        status["v1beta2"] = self._cluster_v1beta2(
            snap, cluster, kcp, infra_ready, failure or (
                None if infra_ready else infra_msg))
        self._write_status(kind, cluster, status)

    @staticmethod
    def _cluster_v1beta2(snap, cluster, kcp, infra_ready, infra_msg):
        """``status.v1beta2`` as Cluster API 1.13 writes it (v1beta1).

        The conditions of the v1beta2 contract (Available, not Ready; the
        control plane's and the workers' Available mirrored; reasons always
        given) and the replica counters of the control plane and workers.
        """
        kcp_v2 = v1beta2_of(kcp) if kcp else {}
        cp_available = any(
            c.get("type") == "Available" and c.get("status") == "True"
            for c in kcp_v2.get("conditions") or ())
        initialized = bool(kcp and status_of(kcp).get("initialized"))
        mds = [md for md in snap.of_cluster("md", ns_of(cluster),
                                            name_of(cluster))
               if not deleting(md)]
        not_available = [
            name_of(md) for md in mds
            if not any(c.get("type") == "Available" and c.get("status") ==
                       "True" for c in v1beta2_of(md).get("conditions")
                       or ())]
        workers_available = not not_available
        available = infra_ready and cp_available and workers_available
        missing = [what for what, ok in (
            ("InfrastructureReady", infra_ready),
            ("ControlPlaneAvailable", cp_available),
            ("WorkersAvailable", workers_available)) if not ok]
        workers = {"desiredReplicas": 0, "replicas": 0, "readyReplicas": 0,
                   "availableReplicas": 0, "upToDateReplicas": 0}
        for md in mds:
            v2 = v1beta2_of(md)
            workers["desiredReplicas"] += int(
                spec_of(md).get("replicas") or 0)
            workers["replicas"] += int(status_of(md).get("replicas") or 0)
            for key in ("readyReplicas", "availableReplicas",
                        "upToDateReplicas"):
                workers[key] += int(v2.get(key) or 0)
        result = {
            "conditions": v1beta2_conditions(
                v1beta2_of(cluster).get("conditions"), [
                    ("Available", available,
                     "Available" if available else "NotAvailable",
                     "" if available else "not available: %s"
                     % ", ".join(missing)),
                    ("InfrastructureReady", infra_ready,
                     "Ready" if infra_ready else "NotReady",
                     "" if infra_ready else infra_msg or ""),
                    ("ControlPlaneInitialized", initialized,
                     "Initialized" if initialized else "NotInitialized",
                     ""),
                    ("ControlPlaneAvailable", cp_available,
                     "Available" if cp_available else "NotAvailable", ""),
                    ("WorkersAvailable", workers_available,
                     ("NoWorkers" if not mds else "Available"
                      if workers_available else "NotAvailable"),
                     "" if workers_available else
                     "not available: %s" % ", ".join(not_available)),
                    ("Deleting", False, "NotDeleting", ""),
                ], meta(cluster).get("generation")),
            "workers": workers,
        }
        if kcp:
            result["controlPlane"] = {
                "desiredReplicas": int(spec_of(kcp).get("replicas") or 1),
                "replicas": int(status_of(kcp).get("replicas") or 0),
                "readyReplicas": int(kcp_v2.get("readyReplicas") or 0),
                "availableReplicas": int(
                    kcp_v2.get("availableReplicas") or 0),
                "upToDateReplicas": int(kcp_v2.get("upToDateReplicas")
                                        or 0)}
        return result

    @staticmethod
    def _kcp_message(kcp):
        if not kcp:
            return "waiting for the KubeadmControlPlane"
        for condition in status_of(kcp).get("conditions") or ():
            if condition.get("type") == "Ready":
                return condition.get("message")
        return None

    def _delete_cluster(self, snap, cluster):
        namespace, name = ns_of(cluster), name_of(cluster)
        if status_of(cluster).get("phase") != "Deleting":
            status = dict(status_of(cluster), phase="Deleting")
            status["conditions"] = conditions(
                status.get("conditions"), [
                    ("Ready", False, "Deleting", "the cluster is being "
                     "deleted")] + [
                    (c.get("type"), c.get("status") == "True" or (
                        False if c.get("status") == "False" else None),
                     c.get("reason"), c.get("message"))
                    for c in status.get("conditions") or ()
                    if c.get("type") != "Ready"])
            v2 = dict(v1beta2_of(cluster))
            v2["conditions"] = v1beta2_conditions(v2.get("conditions"), [
                ("Available", False, "NotAvailable", "the cluster is being "
                 "deleted"),
                ("Deleting", True, "Deleting", "the cluster is being "
                 "deleted")] + [
                (c.get("type"), c.get("status") == "True" or (
                    False if c.get("status") == "False" else None),
                 c.get("reason"), c.get("message"))
                for c in v2.get("conditions") or ()
                if c.get("type") not in ("Available", "Deleting")],
                meta(cluster).get("generation"))
            status["v1beta2"] = v2
            self._write_status("cluster", cluster, status)
        # Descendants first: worker MachineDeployments, sets, machines.
        workers = [o for kind in ("md", "ms", "machine")
                   for o in snap.of_cluster(kind, namespace, name)
                   if not (kind == "machine" and CONTROL_PLANE in labels_of(
                       o))]
        addons = [(k, o) for k in ("helmrelease", "manifests")
                  for o in snap.of_cluster(k, namespace, name)]
        for obj in workers:
            self._delete(kind_of(obj), obj)
        for addon_kind, addon in addons:
            self._delete(addon_kind, addon)
        if workers:
            return
        kcp = self._ref(snap, "kcp", cluster, "controlPlaneRef")
        if kcp is not None:
            self._delete("kcp", kcp)
            return
        osc = self._ref(snap, "osc", cluster, "infrastructureRef")
        if osc is not None:
            self._delete("osc", osc)
            return
        if any(m for m in snap.of_cluster("machine", namespace, name)):
            return
        self._collect_secrets(namespace, [cluster])
        if self._waited(cluster, "delete", self.delays["deletion"]):
            for kind in ("osmt", "kct"):
                for template in snap.items(kind):
                    if ns_of(template) == namespace and owned_by(
                            template, cluster):
                        self._delete(kind, template)
            self._remove_finalizer("cluster", cluster, FIN_CLUSTER, name)
