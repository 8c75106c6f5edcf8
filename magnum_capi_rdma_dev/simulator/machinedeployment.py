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
"""Simulated MachineDeployment and MachineSet controllers (CAPI core).

SIMULATION for development and tests only: never shipped, never run
against a real management cluster.

MachineDeployment: replicas defaulted from the autoscaler annotation, one
MachineSet per template hash, rolling updates within ``maxSurge`` and
``maxUnavailable``, phase and conditions. MachineSet: worker Machines
created once the control plane is initialized and removed by delete
policy.
"""

import copy
import logging

from magnum_capi_rdma_dev.simulator import base
from magnum_capi_rdma_dev.simulator.objects import annotations_of
from magnum_capi_rdma_dev.simulator.objects import AUTOSCALER_MIN
from magnum_capi_rdma_dev.simulator.objects import CLUSTER_NAME
from magnum_capi_rdma_dev.simulator.objects import condition_status
from magnum_capi_rdma_dev.simulator.objects import conditions
from magnum_capi_rdma_dev.simulator.objects import deleting
from magnum_capi_rdma_dev.simulator.objects import DEPLOYMENT_NAME
from magnum_capi_rdma_dev.simulator.objects import FIN_MACHINE
from magnum_capi_rdma_dev.simulator.objects import FIN_MD
from magnum_capi_rdma_dev.simulator.objects import FIN_MS
from magnum_capi_rdma_dev.simulator.objects import int_or
from magnum_capi_rdma_dev.simulator.objects import int_or_percent
from magnum_capi_rdma_dev.simulator.objects import label_value
from magnum_capi_rdma_dev.simulator.objects import labels_of
from magnum_capi_rdma_dev.simulator.objects import machine_failed
from magnum_capi_rdma_dev.simulator.objects import machine_ready
from magnum_capi_rdma_dev.simulator.objects import meta
from magnum_capi_rdma_dev.simulator.objects import name_of
from magnum_capi_rdma_dev.simulator.objects import ns_of
from magnum_capi_rdma_dev.simulator.objects import owned_by
from magnum_capi_rdma_dev.simulator.objects import owner_ref
from magnum_capi_rdma_dev.simulator.objects import random_suffix
from magnum_capi_rdma_dev.simulator.objects import scale_down_order
from magnum_capi_rdma_dev.simulator.objects import selector_string
from magnum_capi_rdma_dev.simulator.objects import SET_NAME
from magnum_capi_rdma_dev.simulator.objects import short_hash
from magnum_capi_rdma_dev.simulator.objects import spec_of
from magnum_capi_rdma_dev.simulator.objects import status_of
from magnum_capi_rdma_dev.simulator.objects import TEMPLATE_HASH
from magnum_capi_rdma_dev.simulator.objects import v1beta2_conditions
from magnum_capi_rdma_dev.simulator.objects import v1beta2_of

LOG = logging.getLogger(__name__)


class MachineDeploymentController(base.Reconciler):
    """MachineDeployment and MachineSet (CAPI core)."""

    # -- MachineDeployment --------------------------------------------------

    def _reconcile_md(self, snap, kind, md, cluster_name):
        namespace = ns_of(md)
        sets = [s for s in snap.items("ms")
                if ns_of(s) == namespace and owned_by(s, md)]
        machines = [m for m in snap.items("machine")
                    if ns_of(m) == namespace
                    and labels_of(m).get(DEPLOYMENT_NAME) == label_value(
                        name_of(md))]
        if deleting(md):
            for machine_set in sets:
                self._delete("ms", machine_set)
            if not sets and not machines:
                self._remove_finalizer(kind, md, FIN_MD, cluster_name)
            return
        cluster = snap.get("cluster", namespace, cluster_name)
        self._ensure_meta(kind, md, FIN_MD, {CLUSTER_NAME: cluster_name},
                          cluster)
        spec = spec_of(md)
        if spec.get("replicas") is None:
            replicas = int_or(annotations_of(md).get(AUTOSCALER_MIN), 1)
            self._patch(kind, md, {"spec": {"replicas": replicas}})
            LOG.info("MachineDeployment %s/%s: replicas defaulted to %d",
                     namespace, name_of(md), replicas)
            raise base.Skip()
        if cluster is None or deleting(cluster):
            return
        tspec = (spec.get("template") or {}).get("spec") or {}
        self._adopt_templates(snap, cluster, [
            tspec.get("infrastructureRef"),
            (tspec.get("bootstrap") or {}).get("configRef")], namespace)
        desired = int(spec["replicas"])
        current_hash = self._md_hash(md)
        current_name = "%s-%s" % (name_of(md), current_hash)
        current = next((s for s in sets if name_of(s) == current_name),
                       None)
        old = [s for s in sets if s is not current]
        if current is None:
            start = desired if not old else 0
            self._create_ms(md, current_name, current_hash, start)
            return
        self._roll(md, desired, current, old, machines)
        self._md_status(md, desired, current, machines)

    @staticmethod
    def _md_hash(md):
        template = copy.deepcopy(spec_of(md).get("template") or {})
        tspec = template.get("spec") or {}
        for key in ("nodeDrainTimeout", "nodeDeletionTimeout",
                    "nodeVolumeDetachTimeout", "minReadySeconds"):
            tspec.pop(key, None)
        return short_hash(tspec)

    def _create_ms(self, md, name, template_hash, replicas):
        spec = spec_of(md)
        template = copy.deepcopy(spec.get("template") or {})
        tmeta = template.setdefault("metadata", {})
        tlabels = tmeta.setdefault("labels", {})
        tlabels.update({CLUSTER_NAME: spec.get("clusterName"),
                        DEPLOYMENT_NAME: label_value(name_of(md)),
                        TEMPLATE_HASH: template_hash})
        selector = copy.deepcopy(spec.get("selector") or {})
        selector.setdefault("matchLabels", {}).update(
            {TEMPLATE_HASH: template_hash})
        labels = dict(tlabels)
        body = {
            "metadata": {"name": name, "labels": labels,
                         "ownerReferences": [owner_ref(md)],
                         "finalizers": [FIN_MS]},
            "spec": {"clusterName": spec.get("clusterName"),
                     "replicas": replicas, "selector": selector,
                     "template": template,
                     "deletePolicy": ((spec.get("strategy") or {}).get(
                         "rollingUpdate") or {}).get("deletePolicy")
                     or "Random"}}
        self._create("ms", ns_of(md), body)

    def _roll(self, md, desired, current, old, machines):
        """Scale the current set up and old sets down (RollingUpdate)."""
        cur_replicas = int(spec_of(current).get("replicas") or 0)
        if not old:
            if cur_replicas != desired:
                self._scale_ms(current, desired)
            return
        rolling = (spec_of(md).get("strategy") or {}).get(
            "rollingUpdate") or {}
        surge = int_or_percent(rolling.get("maxSurge"), desired, 1, True)
        unavailable = int_or_percent(rolling.get("maxUnavailable"), desired,
                                     0, False)
        if surge <= 0 and unavailable <= 0:
            unavailable = 1
        total = cur_replicas + sum(int(spec_of(s).get("replicas") or 0)
                                   for s in old)
        if cur_replicas < desired and total < desired + surge:
            self._scale_ms(current, min(desired, cur_replicas + (
                desired + surge - total)))
            return
        if cur_replicas > desired:
            self._scale_ms(current, desired)
        available = sum(1 for m in machines if machine_ready(m))
        can_remove = available - (desired - unavailable)
        for machine_set in old:
            replicas = int(spec_of(machine_set).get("replicas") or 0)
            if replicas == 0:
                if not any(labels_of(m).get(SET_NAME) == label_value(
                        name_of(machine_set)) for m in machines):
                    self._delete("ms", machine_set)
                continue
            unhealthy = sum(
                1 for m in machines
                if labels_of(m).get(SET_NAME) == label_value(
                    name_of(machine_set)) and not machine_ready(m))
            step = min(replicas, max(can_remove, 0) + unhealthy)
            if step > 0:
                self._scale_ms(machine_set, replicas - step)
                can_remove -= step
            if can_remove <= 0:
                break

    def _scale_ms(self, machine_set, replicas):
        self._patch("ms", machine_set, {"spec": {"replicas": replicas}},
                    guarded=False)
        LOG.info("MachineSet %s/%s: replicas %s -> %d", ns_of(machine_set),
                 name_of(machine_set), spec_of(machine_set).get("replicas"),
                 replicas)
        machine_set.setdefault("spec", {})["replicas"] = replicas

    def _md_status(self, md, desired, current, machines):
        live = [m for m in machines if not deleting(m)]
        ready = [m for m in live if machine_ready(m)]
        failed = [m for m in live if machine_failed(m)]
        updated = [m for m in live if labels_of(m).get(SET_NAME)
                   == label_value(name_of(current))]
        rolling = (spec_of(md).get("strategy") or {}).get(
            "rollingUpdate") or {}
        unavailable = int_or_percent(rolling.get("maxUnavailable"), desired,
                                     0, False)
        if failed:
            phase = "Failed"
        elif len(machines) < desired:
            phase = "ScalingUp"
        elif len(machines) > desired:
            phase = "ScalingDown"
        elif len(ready) == desired:
            phase = "Running"
        else:
            phase = "ScalingUp"
        old = status_of(md)
        available = len(ready) >= desired - unavailable
        message = None
        if failed:
            message = "machine %s failed: %s" % (
                name_of(failed[0]), status_of(failed[0]).get(
                    "failureMessage"))
        elif len(ready) < desired:
            message = "%d of %d machines ready" % (len(ready), desired)
        status = dict(old)
        status.update(
            phase=phase, replicas=len(machines),
            readyReplicas=len(ready), availableReplicas=len(ready),
            updatedReplicas=len(updated),
            unavailableReplicas=max(desired - len(ready), 0),
            selector=selector_string(spec_of(md).get("selector")),
            observedGeneration=meta(md).get("generation"),
            conditions=conditions(old.get("conditions"), [
                ("Ready", (len(ready) == desired == len(machines)) or (
                    False if failed else None),
                 "Failed" if failed else "WaitingForMachines", message),
                ("Available", available or False,
                 "WaitingForAvailableMachines", message),
                ("MachineSetReady", (len(ready) == len(live)) or (
                    False if failed else None),
                 "Failed" if failed else "WaitingForMachines", message),
            ]))
        status["v1beta2"] = replicas_v1beta2(
            md, desired, machines, ready, updated, message,
            available=available)
        self._write_status("md", md, status)

    # -- MachineSet ---------------------------------------------------------

    def _reconcile_ms(self, snap, kind, ms, cluster_name):
        namespace = ns_of(ms)
        machines = [m for m in snap.items("machine")
                    if ns_of(m) == namespace and owned_by(m, ms)]
        if deleting(ms):
            for machine in machines:
                self._delete("machine", machine)
            if not machines:
                self._remove_finalizer(kind, ms, FIN_MS, cluster_name)
            return
        cluster = snap.get("cluster", namespace, cluster_name)
        if cluster is None or deleting(cluster):
            return
        desired = int(spec_of(ms).get("replicas") or 0)
        live = [m for m in machines if not deleting(m)]
        # Preflight checks: new workers wait for an initialized control
        # plane, and kubeadm joins them only at its minor version.
        initialized = condition_status(
            cluster, "ControlPlaneInitialized") == "True"
        blocked = self._kubeadm_version_skew(snap, cluster, ms)
        if len(live) < desired and initialized and not blocked:
            taken = {name_of(m) for m in snap.items("machine")
                     if ns_of(m) == namespace}
            for _ in range(desired - len(live)):
                self._create_worker(ms, taken)
        elif len(live) > desired:
            policy = spec_of(ms).get("deletePolicy") or "Random"
            for machine in scale_down_order(live, policy)[
                    :len(live) - desired]:
                self._delete("machine", machine)
        ready = [m for m in live if machine_ready(m)]
        status = dict(status_of(ms))
        status.update(
            replicas=len(machines), fullyLabeledReplicas=len(machines),
            readyReplicas=len(ready), availableReplicas=len(ready),
            selector=selector_string(spec_of(ms).get("selector")),
            observedGeneration=meta(ms).get("generation"),
            v1beta2=replicas_v1beta2(ms, desired, machines, ready, live,
                                     None))
        if blocked and len(live) < desired:
            # As Cluster API 1.13 reports a failed preflight check.
            status["conditions"] = conditions(status.get("conditions"), [
                ("MachinesCreated", False, "PreflightCheckFailed",
                 blocked)])
            for condition in status["v1beta2"]["conditions"]:
                if condition["type"] == "ScalingUp":
                    condition["message"] = (
                        "Scaling up from %d to %d replicas is blocked "
                        "because:\n* %s" % (len(live), desired, blocked))
        self._write_status(kind, ms, status)

    def _kubeadm_version_skew(self, snap, cluster, ms):
        """Cluster API's ``KubeadmVersionSkew`` preflight check, or None.

        A MachineSet bootstrapped by kubeadm creates machines only at the
        control plane's major.minor version.
        """
        tspec = (spec_of(ms).get("template") or {}).get("spec") or {}
        ref = (tspec.get("bootstrap") or {}).get("configRef") or {}
        if ref.get("kind") != "KubeadmConfigTemplate":
            return None
        kcp = self._ref(snap, "kcp", cluster, "controlPlaneRef")
        cp_version = spec_of(kcp).get("version") if kcp else None
        ms_version = tspec.get("version")
        cp, mine = _semver(cp_version), _semver(ms_version)
        if cp is None or mine is None or cp[:2] == mine[:2]:
            return None
        return ("MachineSet version (%s) and ControlPlane version (%s) do "
                "not conform to kubeadm version skew policy as kubeadm only "
                "supports joining with the same major+minor version as the "
                "control plane (\"KubeadmVersionSkew\" preflight check "
                "failed)" % (".".join(map(str, mine)),
                             ".".join(map(str, cp))))

    def _create_worker(self, ms, taken):
        spec = spec_of(ms)
        template = copy.deepcopy(spec.get("template") or {})
        tmeta = template.get("metadata") or {}
        tspec = template.get("spec") or {}
        name = random_suffix(self._rng, taken, name_of(ms))
        labels = dict(tmeta.get("labels") or {})
        labels[SET_NAME] = label_value(name_of(ms))
        labels[CLUSTER_NAME] = spec.get("clusterName")
        mspec = copy.deepcopy(tspec)
        mspec["clusterName"] = spec.get("clusterName")
        bootstrap = (tspec.get("bootstrap") or {}).get("configRef") or {}
        mspec["bootstrap"] = {"configRef": {
            "apiVersion": bootstrap.get("apiVersion")
            or self.api_versions["bootstrap_api_version"],
            "kind": (bootstrap.get("kind") or "KubeadmConfigTemplate"
                     ).replace("Template", ""),
            "name": name, "namespace": ns_of(ms)}}
        infra = tspec.get("infrastructureRef") or {}
        mspec["infrastructureRef"] = {
            "apiVersion": infra.get("apiVersion")
            or self.api_versions["infrastructure_api_version"],
            "kind": (infra.get("kind") or "OpenStackMachineTemplate"
                     ).replace("Template", ""),
            "name": name, "namespace": ns_of(ms)}
        body = {
            "metadata": {"name": name, "labels": labels,
                         "annotations": dict(tmeta.get("annotations") or {}),
                         "ownerReferences": [owner_ref(ms)],
                         "finalizers": [FIN_MACHINE]},
            "spec": mspec}
        self._create("machine", ns_of(ms), body)


def _semver(version):
    """(major, minor, patch) of ``v1.34.2`` / ``1.34.2``, else None."""
    parts = str(version or "").lstrip("v").split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return tuple(int(p) for p in parts)


def replicas_v1beta2(obj, desired, machines, ready, updated, message,
                     available=None):
    """``status.v1beta2`` of a MachineDeployment or MachineSet (CAPI 1.13).

    Counters of the v1beta2 contract (ready: Machine Ready; available:
    Ready for minReadySeconds, the same here; up to date: current
    template) and its conditions, reasons always given; a MachineSet has
    no Available nor RollingOut condition.
    """
    all_ready = len(ready) == len(machines)
    up_to_date = len(updated) == len(machines)
    wanted = []
    if available is not None:
        wanted.append(("Available", available,
                       "Available" if available else "NotAvailable",
                       "" if available else message or ""))
    wanted += [
        ("MachinesReady", all_ready,
         "NoReplicas" if not machines else "Ready" if all_ready
         else "NotReady", "" if all_ready else message or ""),
        ("MachinesUpToDate", up_to_date,
         "UpToDate" if up_to_date else "NotUpToDate", ""),
    ]
    if available is not None:
        wanted.append(("RollingOut", not up_to_date,
                       "NotRollingOut" if up_to_date else "RollingOut",
                       ""))
    wanted += [
        ("ScalingUp", len(machines) < desired,
         "ScalingUp" if len(machines) < desired else "NotScalingUp", ""),
        ("ScalingDown", len(machines) > desired,
         "ScalingDown" if len(machines) > desired else "NotScalingDown",
         ""),
        ("Remediating", False, "NotRemediating", ""),
        ("Deleting", deleting(obj),
         "Deleting" if deleting(obj) else "NotDeleting", ""),
    ]
    return {
        "readyReplicas": len(ready),
        "availableReplicas": len(ready),
        "upToDateReplicas": len(updated),
        "conditions": v1beta2_conditions(
            v1beta2_of(obj).get("conditions"), wanted,
            meta(obj).get("generation")),
    }
