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
"""Simulated Machine and OpenStackMachine controllers (CAPI core, CAPO).

SIMULATION for development and tests only: never shipped, never run
against a real management cluster.

No server is created: a Machine goes Pending, Provisioning, Provisioned and
Running after the configured delays, gets a stable fake provider ID,
addresses from the cluster's subnet and a nodeRef; or Failed with Nova's
quota message under the ``machine_quota_failure`` fault. Deletion waits the
deletion delay, then removes the finalizer.
"""

import ipaddress
import logging

from magnum_capi_rdma_dev.simulator import base
from magnum_capi_rdma_dev.simulator.objects import CLUSTER_NAME
from magnum_capi_rdma_dev.simulator.objects import conditions
from magnum_capi_rdma_dev.simulator.objects import CONTROL_PLANE
from magnum_capi_rdma_dev.simulator.objects import deleting
from magnum_capi_rdma_dev.simulator.objects import FIN_MACHINE
from magnum_capi_rdma_dev.simulator.objects import labels_of
from magnum_capi_rdma_dev.simulator.objects import meta
from magnum_capi_rdma_dev.simulator.objects import name_of
from magnum_capi_rdma_dev.simulator.objects import now_iso
from magnum_capi_rdma_dev.simulator.objects import ns_of
from magnum_capi_rdma_dev.simulator.objects import QUOTA_MESSAGE
from magnum_capi_rdma_dev.simulator.objects import spec_of
from magnum_capi_rdma_dev.simulator.objects import stable_uuid
from magnum_capi_rdma_dev.simulator.objects import status_of
from magnum_capi_rdma_dev.simulator.objects import v1beta2_conditions
from magnum_capi_rdma_dev.simulator.objects import v1beta2_of
from magnum_capi_rdma_dev.simulator.objects import valid_cidr

LOG = logging.getLogger(__name__)


class MachineController(base.Reconciler):
    """Machine (CAPI core) and its OpenStackMachine (CAPO)."""

    # -- Machine ------------------------------------------------------------

    def _reconcile_machine(self, snap, kind, machine, cluster_name):
        namespace = ns_of(machine)
        if deleting(machine):
            self._delete_machine(machine, cluster_name)
            return
        cluster = snap.get("cluster", namespace, cluster_name)
        self._ensure_meta(kind, machine, FIN_MACHINE,
                          {CLUSTER_NAME: cluster_name} if cluster_name
                          else None)
        if cluster is None:
            return
        faults = self.faults(namespace, cluster_name)
        status = dict(status_of(machine))
        phase = status.get("phase")
        if phase == "Failed" and not faults.get("machine_quota_failure"):
            # The fault was cleared: CAPO would retry the server.
            phase = "Provisioning"
            status.pop("failureReason", None)
            status.pop("failureMessage", None)
        next_phase = self._next_machine_phase(snap, machine, cluster,
                                              phase, faults)
        if next_phase == "Failed":
            status.update(
                failureReason="InsufficientResources",
                failureMessage="Failed to create server %s: %s" % (
                    name_of(machine), QUOTA_MESSAGE))
        if next_phase in ("Provisioned", "Running") and not spec_of(
                machine).get("providerID"):
            self._set_provider_id(machine)
            raise base.Skip()
        status.update(self._machine_fields(
            snap, machine, next_phase,
            node_problem=faults.get("node_unhealthy") == name_of(machine)))
        self._write_status(kind, machine, status)

    def _next_machine_phase(self, snap, machine, cluster, phase, faults):
        cstatus = status_of(cluster)
        if not phase:
            return "Pending"
        if phase == "Pending":
            if not cstatus.get("infrastructureReady"):
                return "Pending"
            is_cp = CONTROL_PLANE in labels_of(machine)
            kcp = self._ref(snap, "kcp", cluster, "controlPlaneRef")
            if not is_cp and not (kcp and status_of(kcp).get(
                    "initialized")):
                return "Pending"  # workers join an initialized cluster
            if self._waited(machine, "bootstrap",
                            self.delays["machine_bootstrap"]):
                return "Provisioning"
            return "Pending"
        if phase == "Provisioning":
            if faults.get("machine_quota_failure"):
                return "Failed"
            delay = faults.get("provision_delay")
            if delay is None:
                delay = self.delays["machine_provisioning"]
            if self._waited(machine, "provision", delay):
                return "Provisioned"
            return "Provisioning"
        if phase == "Provisioned":
            if self._waited(machine, "node", self.delays["machine_node"]):
                return "Running"
            return "Provisioned"
        return phase

    def _set_provider_id(self, machine):
        server = stable_uuid(ns_of(machine), name_of(machine),
                             meta(machine).get("uid") or "", "server")
        self._patch("machine", machine, {"spec": {
            "providerID": "openstack:///%s" % server}})
        LOG.info("Machine %s/%s: server %s", ns_of(machine),
                 name_of(machine), server)

    def _machine_fields(self, snap, machine, phase, node_problem=False):
        ok = phase in ("Provisioned", "Running")
        # A Running machine's Node is healthy unless it reports a problem;
        # before, there is no Node (Unknown).
        node_healthy = (not node_problem) if phase == "Running" else None
        failed = phase == "Failed"
        fields = {
            "phase": phase,
            "bootstrapReady": phase not in ("Pending", None),
            "infrastructureReady": ok,
            "observedGeneration": meta(machine).get("generation"),
            "lastUpdated": status_of(machine).get("lastUpdated")
            if status_of(machine).get("phase") == phase else now_iso(),
        }
        if ok:
            fields["addresses"] = [
                {"type": "InternalIP",
                 "address": self._machine_ip(snap, machine)},
                {"type": "InternalDNS", "address": name_of(machine)}]
        if phase == "Running":
            # As CAPI 1.13 shows a v1beta2 MachineNodeReference (a name)
            # through a v1beta1 object.
            fields["nodeRef"] = {
                "apiVersion": "v1", "kind": "Node", "name": name_of(machine)}
            fields["nodeInfo"] = self._node_info(machine)
        fields["conditions"] = conditions(
            status_of(machine).get("conditions"), [
                ("Ready", phase == "Running" or (False if failed else None),
                 "InstanceCreateFailed" if failed else "WaitingForNode",
                 QUOTA_MESSAGE if failed else None),
                ("BootstrapReady", fields["bootstrapReady"] or None,
                 "WaitingForControlPlaneAvailable", None),
                ("InfrastructureReady", ok or (False if failed else None),
                 "InstanceCreateFailed" if failed else "WaitingForInstance",
                 QUOTA_MESSAGE if failed else None),
                ("NodeHealthy", node_healthy,
                 "NodeConditionsFailed" if node_problem else
                 "WaitingForNodeRef", None),
            ])
        fields["v1beta2"] = {"conditions": self._machine_v1beta2(
            machine, phase, fields["bootstrapReady"], ok, node_problem)}
        status = dict(status_of(machine))
        for key in ("addresses", "nodeRef", "nodeInfo"):
            if key not in fields and key in status and phase != "Deleting":
                fields[key] = None
        return {k: v for k, v in fields.items() if v is not None}

    @staticmethod
    def _node_info(machine):
        """The Node's ``nodeInfo`` as CAPI copies it (all required)."""
        version = spec_of(machine).get("version") or ""
        ids = stable_uuid(ns_of(machine), name_of(machine), "node")
        return {
            "machineID": ids.replace("-", ""), "systemUUID": ids,
            "bootID": stable_uuid(ids, "boot"),
            "kernelVersion": "6.8.0-60-generic",
            "osImage": "Ubuntu 24.04.2 LTS",
            "containerRuntimeVersion": "containerd://1.7.27",
            "kubeletVersion": version, "kubeProxyVersion": version,
            "operatingSystem": "linux", "architecture": "amd64"}

    @staticmethod
    def _machine_v1beta2(machine, phase, bootstrap_ready, infra_ready,
                         node_problem=False):
        """The v1beta2 conditions CAPI 1.13 writes into a v1beta1 Machine.

        Ready and Available (not only Ready), the bootstrap config's and
        the infrastructure's readiness mirrored, the Node's health;
        reasons always given.
        """
        running = phase == "Running"
        failed = phase == "Failed"
        infra_message = ""
        if failed:
            infra_message = "Failed to create server %s: %s" % (
                name_of(machine), QUOTA_MESSAGE)
        return v1beta2_conditions(
            v1beta2_of(machine).get("conditions"), [
                ("Available", running,
                 "Available" if running else "NotAvailable", ""),
                ("Ready", running, "Ready" if running else "NotReady",
                 infra_message),
                ("UpToDate", True, "UpToDate", ""),
                ("BootstrapConfigReady", bool(bootstrap_ready),
                 "Ready" if bootstrap_ready else "NotReady", ""),
                ("InfrastructureReady", infra_ready or (
                    False if failed else None),
                 "Ready" if infra_ready else (
                     "InstanceCreateFailed" if failed else "NotReady"),
                 infra_message),
                ("NodeHealthy", (not node_problem) if running else None,
                 ("NodeNotHealthy" if node_problem else "NodeHealthy")
                 if running else "NodeDoesNotExist", ""),
                ("NodeReady", running or None,
                 "NodeReady" if running else "NodeDoesNotExist", ""),
                ("Deleting", False, "NotDeleting", ""),
            ], meta(machine).get("generation"))

    def _machine_ip(self, snap, machine):
        for address in status_of(machine).get("addresses") or ():
            if address.get("type") == "InternalIP":
                return address["address"]
        namespace = ns_of(machine)
        cluster_name = spec_of(machine).get("clusterName")
        used = self._ips.setdefault((namespace, cluster_name), {
            a.get("address")
            for m in snap.of_cluster("machine", namespace, cluster_name)
            for a in status_of(m).get("addresses") or ()})
        cluster = snap.get("cluster", namespace, cluster_name)
        osc = cluster and self._ref(snap, "osc", cluster,
                                    "infrastructureRef")
        subnets = (status_of(osc).get("network") or {}).get(
            "subnets") if osc else None
        cidr = valid_cidr(subnets and subnets[0].get("cidr"),
                          "10.0.0.0/24")
        for index, host in enumerate(ipaddress.ip_network(cidr).hosts()):
            if index >= 9 and str(host) not in used:
                used.add(str(host))
                return str(host)
        return "10.0.0.%d" % self._rng.randint(2, 254)

    def _delete_machine(self, machine, cluster_name):
        status = dict(status_of(machine))
        if status.get("phase") != "Deleting":
            status["phase"] = "Deleting"
            status["conditions"] = conditions(status.get("conditions"), [
                ("Ready", False, "Deleting", "the machine is being "
                 "deleted"),
                ("DrainingSucceeded", True, None, None)])
            v2 = [c for c in v1beta2_of(machine).get("conditions") or ()
                  if c.get("type") not in ("Ready", "Available",
                                           "Deleting")]
            status["v1beta2"] = {"conditions": v1beta2_conditions(
                v1beta2_of(machine).get("conditions"), [
                    ("Ready", False, "NotReady", "the machine is being "
                     "deleted"),
                    ("Available", False, "NotAvailable", ""),
                    ("Deleting", True, "WaitingForInfrastructureDeletion",
                     "the machine is being deleted")],
                meta(machine).get("generation")) + v2}
            self._write_status("machine", machine, status)
        if self._waited(machine, "delete", self.delays["deletion"]):
            self._remove_finalizer("machine", machine, FIN_MACHINE,
                                   cluster_name)
