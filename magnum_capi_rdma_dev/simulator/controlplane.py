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
"""Simulated kubeadm control plane controller (KubeadmControlPlane).

SIMULATION for development and tests only: never shipped, never run
against a real management cluster.

Creates, rolls and removes control-plane Machines one at a time (surge,
delete-machine annotation, template hash), writes the workload cluster's
kubeconfig Secret once the endpoint is known, and the KubeadmControlPlane's
replicas, version and conditions.
"""

import base64
import logging

import yaml

from magnum_capi_rdma_dev.simulator import base
from magnum_capi_rdma_dev.simulator.objects import annotations_of
from magnum_capi_rdma_dev.simulator.objects import CLUSTER_NAME
from magnum_capi_rdma_dev.simulator.objects import conditions
from magnum_capi_rdma_dev.simulator.objects import CONTROL_PLANE
from magnum_capi_rdma_dev.simulator.objects import CONTROL_PLANE_NAME
from magnum_capi_rdma_dev.simulator.objects import DELETE_MACHINE
from magnum_capi_rdma_dev.simulator.objects import deleting
from magnum_capi_rdma_dev.simulator.objects import FIN_KCP
from magnum_capi_rdma_dev.simulator.objects import FIN_MACHINE
from magnum_capi_rdma_dev.simulator.objects import int_or_percent
from magnum_capi_rdma_dev.simulator.objects import KCP_HASH
from magnum_capi_rdma_dev.simulator.objects import label_value
from magnum_capi_rdma_dev.simulator.objects import labels_of
from magnum_capi_rdma_dev.simulator.objects import machine_failed
from magnum_capi_rdma_dev.simulator.objects import machine_ready
from magnum_capi_rdma_dev.simulator.objects import meta
from magnum_capi_rdma_dev.simulator.objects import name_of
from magnum_capi_rdma_dev.simulator.objects import ns_of
from magnum_capi_rdma_dev.simulator.objects import owner_ref
from magnum_capi_rdma_dev.simulator.objects import random_suffix
from magnum_capi_rdma_dev.simulator.objects import scale_down_order
from magnum_capi_rdma_dev.simulator.objects import short_hash
from magnum_capi_rdma_dev.simulator.objects import spec_of
from magnum_capi_rdma_dev.simulator.objects import status_of
from magnum_capi_rdma_dev.simulator.objects import v1beta2_conditions
from magnum_capi_rdma_dev.simulator.objects import v1beta2_of
from magnum_capi_rdma_dev.simulator.objects import version_key

LOG = logging.getLogger(__name__)


class ControlPlaneController(base.Reconciler):
    """KubeadmControlPlane (kubeadm control plane provider)."""

    # -- KubeadmControlPlane ------------------------------------------------

    def _reconcile_kcp(self, snap, kind, kcp, cluster_name):
        namespace = ns_of(kcp)
        machines = [m for m in snap.items("machine")
                    if ns_of(m) == namespace
                    and labels_of(m).get(CONTROL_PLANE_NAME) == label_value(
                        name_of(kcp))]
        if deleting(kcp):
            self._delete_kcp(snap, kcp, cluster_name, machines)
            return
        cluster = snap.get("cluster", namespace, cluster_name)
        self._ensure_meta(
            kind, kcp, FIN_KCP,
            {CLUSTER_NAME: cluster_name} if cluster_name else None, cluster)
        if cluster is None or deleting(cluster):
            return
        self._adopt_templates(snap, cluster, [
            (spec_of(kcp).get("machineTemplate") or {}).get(
                "infrastructureRef")], ns_of(kcp))
        endpoint = spec_of(cluster).get("controlPlaneEndpoint") or {}
        if status_of(cluster).get("infrastructureReady") and endpoint.get(
                "host"):
            self._ensure_kubeconfig(snap, kcp, cluster, endpoint)
            self._scale_kcp(kcp, cluster, machines)
        self._kcp_status(kcp, machines)

    def _kcp_hash(self, kcp):
        spec = spec_of(kcp)
        template = spec.get("machineTemplate") or {}
        ref = template.get("infrastructureRef") or {}
        return short_hash({"version": spec.get("version"),
                           "infra": [ref.get("kind"), ref.get("name")]}, 10)

    def _scale_kcp(self, kcp, cluster, machines):
        spec = spec_of(kcp)
        desired = int(spec.get("replicas") or 1)
        current = self._kcp_hash(kcp)
        live = [m for m in machines if not deleting(m)]
        if len(live) != len(machines):
            return  # one change at a time, as KCP does
        outdated = [m for m in live
                    if annotations_of(m).get(KCP_HASH) != current]
        all_ready = all(machine_ready(m) for m in live)
        surge = int_or_percent(
            ((spec.get("rolloutStrategy") or {}).get("rollingUpdate")
             or {}).get("maxSurge"), desired, 1, True)
        if len(live) < desired or (outdated and len(live) < desired + max(
                surge, 0) and surge > 0):
            if all_ready:
                self._create_cp_machine(kcp, cluster, {name_of(m)
                                                       for m in machines})
            return
        if len(live) > desired or (outdated and surge <= 0):
            marked = [m for m in live if DELETE_MACHINE in annotations_of(m)]
            victim = scale_down_order(marked or outdated or live)[0]
            if all_ready or not machine_ready(victim):
                self._delete("machine", victim)

    def _create_cp_machine(self, kcp, cluster, taken):
        spec = spec_of(kcp)
        template = spec.get("machineTemplate") or {}
        tmeta = template.get("metadata") or {}
        name = random_suffix(self._rng, taken, name_of(kcp))
        labels = dict(tmeta.get("labels") or {})
        labels.update({CLUSTER_NAME: name_of(cluster), CONTROL_PLANE: "",
                       CONTROL_PLANE_NAME: label_value(name_of(kcp))})
        annotations = dict(tmeta.get("annotations") or {})
        annotations[KCP_HASH] = self._kcp_hash(kcp)
        infra = dict(template.get("infrastructureRef") or {})
        infra_api = infra.get("apiVersion") or self.api_versions[
            "infrastructure_api_version"]
        body = {
            "metadata": {
                "name": name, "labels": labels, "annotations": annotations,
                "ownerReferences": [owner_ref(kcp)],
                "finalizers": [FIN_MACHINE]},
            "spec": {
                "clusterName": name_of(cluster),
                "version": spec.get("version"),
                "bootstrap": {"configRef": {
                    "apiVersion": self.api_versions["bootstrap_api_version"],
                    "kind": "KubeadmConfig", "name": name,
                    "namespace": ns_of(kcp)}},
                "infrastructureRef": {
                    "apiVersion": infra_api,
                    "kind": (infra.get("kind") or "OpenStackMachineTemplate"
                             ).replace("Template", ""),
                    "name": name, "namespace": ns_of(kcp)},
            }}
        for key in ("nodeDrainTimeout", "nodeDeletionTimeout",
                    "nodeVolumeDetachTimeout"):
            if template.get(key):
                body["spec"][key] = template[key]
        self._create("machine", ns_of(kcp), body)

    def _kcp_status(self, kcp, machines):
        spec = spec_of(kcp)
        desired = int(spec.get("replicas") or 1)
        current = self._kcp_hash(kcp)
        live = [m for m in machines if not deleting(m)]
        ready = [m for m in live if machine_ready(m)]
        updated = [m for m in live
                   if annotations_of(m).get(KCP_HASH) == current]
        failed = [m for m in machines if machine_failed(m)]
        old = status_of(kcp)
        initialized = bool(old.get("initialized") or ready)
        versions = sorted((m["spec"].get("version") or "" for m in ready),
                          key=version_key)
        settled = (len(ready) == desired == len(live) == len(updated)
                   and len(machines) == len(live))
        if settled:
            message = None
        elif failed:
            message = "machine %s failed: %s" % (
                name_of(failed[0]), status_of(failed[0]).get(
                    "failureMessage"))
        elif len(updated) < len(live):
            message = "rolling %d of %d machines to %s" % (
                len(live) - len(updated), len(live), spec.get("version"))
        else:
            message = "scaling to %d replicas (%d ready)" % (desired,
                                                             len(ready))
        reason = ("RollingUpdateInProgress" if len(updated) < len(live)
                  else "ScalingUp" if len(live) < desired else
                  "ScalingDown" if len(machines) > desired else
                  "WaitingForMachines")
        status = dict(old)
        status.update(
            replicas=len(machines), readyReplicas=len(ready),
            updatedReplicas=len(updated),
            unavailableReplicas=len(machines) - len(ready),
            initialized=initialized, ready=bool(ready),
            selector="%s,%s=%s" % (CONTROL_PLANE, CONTROL_PLANE_NAME,
                                   label_value(name_of(kcp))),
            observedGeneration=meta(kcp).get("generation"),
            conditions=conditions(old.get("conditions"), [
                ("Ready", settled or (False if failed else None),
                 "Failed" if failed else reason, message),
                ("Available", initialized or None,
                 "WaitingForKubeadmInit", None),
                ("CertificatesAvailable", True, None, None),
                ("ControlPlaneComponentsHealthy",
                 bool(ready) and len(ready) == len(live) or None,
                 "ControlPlaneComponentsUnhealthy", None),
                ("EtcdClusterHealthy",
                 bool(ready) and len(ready) == len(live) or None,
                 "EtcdClusterUnhealthy", None),
                ("MachinesCreated", True, None, None),
                ("MachinesReady", (len(ready) == len(machines)) or (
                    False if failed else None),
                 "Failed" if failed else "WaitingForMachines", message),
                ("MachinesSpecUpToDate", len(updated) == len(live) or None,
                 "RollingUpdateInProgress", None),
                ("Resized", len(live) == desired or None, reason, None),
            ]))
        status["v1beta2"] = self._kcp_v1beta2(
            kcp, desired, machines, live, ready, updated, initialized,
            message)
        if versions:
            status["version"] = versions[0]
        if failed:
            status["failureMessage"] = message
        else:
            status.pop("failureMessage", None)
        self._write_status("kcp", kcp, status)

    @staticmethod
    def _kcp_v1beta2(kcp, desired, machines, live, ready, updated,
                     initialized, message):
        """``status.v1beta2`` as KCP 1.13 writes it into v1beta1 objects.

        Counters of the v1beta2 contract (ready: Machine Ready; available:
        Ready for minReadySeconds, 0 here; up to date: current template) and
        its conditions (Available, not Ready; reasons always given).
        """
        healthy = bool(ready) and len(ready) == len(live)
        rolling = len(updated) < len(live)
        available = initialized and bool(ready)
        return {
            "readyReplicas": len(ready),
            "availableReplicas": len(ready),
            "upToDateReplicas": len(updated),
            "conditions": v1beta2_conditions(
                v1beta2_of(kcp).get("conditions"), [
                    ("Available", available,
                     "Available" if available else "NotAvailable",
                     "" if available else (message or "no ready machine")),
                    ("Initialized", initialized,
                     "Initialized" if initialized else "NotInitialized",
                     ""),
                    ("CertificatesAvailable", True, "Available", ""),
                    ("EtcdClusterHealthy", healthy,
                     "Healthy" if healthy else "NotHealthy", ""),
                    ("ControlPlaneComponentsHealthy", healthy,
                     "Healthy" if healthy else "NotHealthy", ""),
                    ("MachinesReady", len(ready) == len(machines),
                     ("NoReplicas" if not machines else "Ready"
                      if len(ready) == len(machines) else "NotReady"),
                     message or "" if len(ready) < len(machines) else ""),
                    ("MachinesUpToDate", not rolling,
                     "NotUpToDate" if rolling else "UpToDate", ""),
                    ("RollingOut", rolling,
                     "RollingOut" if rolling else "NotRollingOut",
                     message or "" if rolling else ""),
                    ("ScalingUp", len(live) < desired,
                     "ScalingUp" if len(live) < desired
                     else "NotScalingUp", ""),
                    ("ScalingDown", len(machines) > desired,
                     "ScalingDown" if len(machines) > desired
                     else "NotScalingDown", ""),
                    ("Remediating", False, "NotRemediating", ""),
                    ("Deleting", deleting(kcp),
                     "Deleting" if deleting(kcp) else "NotDeleting", ""),
                ], meta(kcp).get("generation")),
        }

    def _delete_kcp(self, snap, kcp, cluster_name, machines):
        namespace = ns_of(kcp)
        workers = [m for m in snap.of_cluster("machine", namespace,
                                              cluster_name)
                   if CONTROL_PLANE not in labels_of(m)]
        self._kcp_status(kcp, machines)
        if workers:
            return  # KCP waits for the workers to go first
        for machine in machines:
            self._delete("machine", machine)
        if machines:
            return
        self._collect_secrets(namespace, [kcp])
        self._remove_finalizer("kcp", kcp, FIN_KCP, cluster_name)

    def _ensure_kubeconfig(self, snap, kcp, cluster, endpoint):
        namespace, name = ns_of(cluster), name_of(cluster)
        secret_name = "%s-kubeconfig" % name
        if (namespace, secret_name) in snap.secrets:
            return
        from kubernetes.client import exceptions

        text = self.workload_kubeconfig or self._kubeconfig_text(name)
        body = {
            "metadata": {"name": secret_name, "namespace": namespace,
                         "labels": {CLUSTER_NAME: name},
                         "ownerReferences": [owner_ref(kcp)]},
            "type": "cluster.x-k8s.io/secret",
            "data": {"value": base64.b64encode(text.encode()).decode()}}
        try:
            self.core.create_namespaced_secret(
                namespace, body, field_validation=base.STRICT)
        except exceptions.ApiException as exc:
            if exc.status != 409:
                raise
            return
        snap.secrets[(namespace, secret_name)] = body
        LOG.info("Secret %s/%s: workload kubeconfig written", namespace,
                 secret_name)

    def _kubeconfig_text(self, name):
        user = "%s-admin" % name
        context = "%s@%s" % (user, name)
        return yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": name, "cluster": {
                "server": self.workload_server}}],
            "users": [{"name": user, "user": {
                "token": "simulated-" + short_hash(name, 12)}}],
            "contexts": [{"name": context, "context": {
                "cluster": name, "user": user}}],
            "current-context": context}, default_flow_style=False)
