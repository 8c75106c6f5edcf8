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
"""Simulated CAPO next to Cluster API's *real* controllers: mirroring.

SIMULATION for development and tests only: never shipped, never run
against a real management cluster.

With ``Simulator(real_capi=True)`` on a bed running Cluster API's own
managers (``bed/capi.py``), the simulator no longer writes any Cluster API
kind. It plays CAPO only, by mirroring onto Cluster API's in-memory
provider (the docker provider's ``inMemory`` backend, whose manager serves
a fake workload API server and etcd per cluster on loopback):

- each OpenStackCluster gets a DevCluster of the same name (owner: its
  Cluster); once that has an endpoint, the endpoint is copied to the
  OpenStackCluster with the network, router and security groups CAPO
  would have made, and ``ready``;
- each OpenStackMachine gets a DevMachine of the same name (owner: its
  Machine, zero start-up durations); its provider ID is copied back with
  addresses and ``ready``. The DevMachine is touched when the Machine
  gets its bootstrap data (its controller watches nothing that would
  wake it);
- a deleted OpenStackCluster / OpenStackMachine deletes its mirror and
  keeps CAPO's finalizer until the mirror is gone, as CAPO keeps it until
  the server is gone.

CAPO-shaped faults stay here: ``network_failure`` (the OpenStackCluster
fails, as in ``cluster``) and ``machine_quota_failure`` (servers are
refused: the OpenStackMachine fails as CAPO reports Nova's quota error,
and nothing is mirrored).
"""

import logging

from magnum_capi_rdma_dev.simulator import base
from magnum_capi_rdma_dev.simulator.base import Skip
from magnum_capi_rdma_dev.simulator.objects import annotations_of
from magnum_capi_rdma_dev.simulator.objects import CLUSTER_NAME
from magnum_capi_rdma_dev.simulator.objects import conditions
from magnum_capi_rdma_dev.simulator.objects import deleting
from magnum_capi_rdma_dev.simulator.objects import FIN_OSC
from magnum_capi_rdma_dev.simulator.objects import labels_of
from magnum_capi_rdma_dev.simulator.objects import meta
from magnum_capi_rdma_dev.simulator.objects import name_of
from magnum_capi_rdma_dev.simulator.objects import ns_of
from magnum_capi_rdma_dev.simulator.objects import spec_of
from magnum_capi_rdma_dev.simulator.objects import stable_uuid
from magnum_capi_rdma_dev.simulator.objects import status_of

LOG = logging.getLogger(__name__)

DEV_GROUP = "infrastructure.cluster.x-k8s.io"
DEV_VERSION = "v1beta2"
#: CAPO's finalizer on an OpenStackMachine.
FIN_OSM = "openstackmachine.infrastructure.cluster.x-k8s.io"
#: On every mirror: what it mirrors (the in-memory backend also needs a
#: non-empty annotation map).
MIRROR_OF = "simulator.magnum-capi-rdma.openstack.org/mirror-of"
#: On a DevMachine: the bootstrap data Secret its Machine had when last
#: touched (a change wakes the DevMachine controller).
BOOTSTRAP = "simulator.magnum-capi-rdma.openstack.org/bootstrap-data"

#: The kinds mirroring reads besides objects.KINDS (None: the Dev group).
MIRROR_KINDS = {
    "osm": ("infrastructure_api_version", "openstackmachines",
            "OpenStackMachine"),
    "devcluster": (None, "devclusters", "DevCluster"),
    "devmachine": (None, "devmachines", "DevMachine"),
}
#: Zero start-up durations: the in-memory VM, Node, API server and etcd
#: are "up" as soon as the bootstrap data is there.
IN_MEMORY_MACHINE = {
    part: {"provisioning": {"startupDuration": "0s"}}
    for part in ("vm", "node", "apiServer", "etcd")}


def _owner(obj, kind):
    for ref in meta(obj).get("ownerReferences") or ():
        if ref.get("kind") == kind and ref.get("apiVersion", "").startswith(
                "cluster.x-k8s.io/"):
            return ref
    return None


class CapoMirrorController(base.Reconciler):
    """OpenStackCluster and OpenStackMachine, mirrored (see module doc)."""

    # -- OpenStackCluster -----------------------------------------------

    def _reconcile_osc_mirror(self, snap, kind, osc, cluster_name):
        namespace = ns_of(osc)
        dev = snap.get("devcluster", namespace, name_of(osc))
        if deleting(osc):
            if dev is not None:
                self._delete("devcluster", dev)
                return
            self._remove_finalizer(kind, osc, FIN_OSC, cluster_name)
            return
        self._ensure_meta(kind, osc, FIN_OSC)
        faults = self.faults(namespace, cluster_name or name_of(osc))
        status = dict(status_of(osc))
        if self._network_failed(kind, osc, status, faults):
            return
        owner = _owner(osc, "Cluster")
        if owner is None:
            return  # Cluster API sets it first
        if dev is None:
            self._create("devcluster", namespace, {
                "metadata": {
                    "name": name_of(osc),
                    "labels": {CLUSTER_NAME: cluster_name or name_of(osc)},
                    "annotations": {MIRROR_OF: "OpenStackCluster/%s"
                                    % name_of(osc)},
                    "ownerReferences": [dict(owner, controller=True)]},
                "spec": {"backend": {"inMemory": {}}}})
            return
        endpoint = spec_of(dev).get("controlPlaneEndpoint") or {}
        if not endpoint.get("host"):
            return  # its fake API server is starting
        if (spec_of(osc).get("controlPlaneEndpoint") or {}) != endpoint:
            self._patch(kind, osc, {"spec": {"controlPlaneEndpoint": {
                "host": endpoint["host"], "port": endpoint["port"]}}},
                guarded=False)
            raise Skip()
        status.pop("failureReason", None)
        status.pop("failureMessage", None)
        status.update(self._osc_status(osc, cluster_name))
        status["conditions"] = conditions(status.get("conditions"), [
            ("Ready", True, None, None)])
        self._write_status(kind, osc, status)

    # -- OpenStackMachine -----------------------------------------------

    def _reconcile_osm_mirror(self, snap, kind, osm, cluster_name):
        namespace = ns_of(osm)
        dev = snap.get("devmachine", namespace, name_of(osm))
        if deleting(osm):
            if dev is not None:
                self._delete("devmachine", dev)
                return
            self._remove_finalizer(kind, osm, FIN_OSM, cluster_name)
            return
        self._ensure_meta(kind, osm, FIN_OSM)
        owner = _owner(osm, "Machine")
        if owner is None:
            return  # Cluster API sets it first
        machine = snap.get("machine", namespace, owner["name"])
        faults = self.faults(namespace, cluster_name)
        if faults.get("machine_quota_failure"):
            message = ("Failed to create server: Quota exceeded for "
                       "instances: Requested 1, but already used 10 of 10 "
                       "instances (simulated fault machine_quota_failure)")
            self._write_status(kind, osm, dict(
                status_of(osm), ready=False, instanceState="ERROR",
                failureReason="InsufficientResources",
                failureMessage=message,
                initialization={"provisioned": False},
                conditions=conditions(status_of(osm).get("conditions"), [
                    ("Ready", False, "InstanceCreateFailed", message),
                    ("InstanceReady", False, "InstanceCreateFailed",
                     message)])))
            return
        bootstrap = ((spec_of(machine).get("bootstrap") or {}).get(
            "dataSecretName") if machine else None) or ""
        if dev is None:
            self._create("devmachine", namespace, {
                "metadata": {
                    "name": name_of(osm),
                    "labels": {k: v for k, v in labels_of(osm).items()},
                    "annotations": {MIRROR_OF: "OpenStackMachine/%s"
                                    % name_of(osm), BOOTSTRAP: bootstrap},
                    "ownerReferences": [dict(owner, controller=True)]},
                "spec": {"backend": {"inMemory": IN_MEMORY_MACHINE}}})
            return
        if annotations_of(dev).get(BOOTSTRAP, "") != bootstrap:
            self._patch("devmachine", dev, {"metadata": {"annotations": {
                BOOTSTRAP: bootstrap}}}, guarded=False)
        provider_id = spec_of(dev).get("providerID")
        if not provider_id:
            return
        if spec_of(osm).get("providerID") != provider_id:
            self._patch(kind, osm, {"spec": {"providerID": provider_id}},
                        guarded=False)
            raise Skip()
        addresses = status_of(dev).get("addresses") or [
            {"type": "InternalIP", "address": self._mirror_ip(snap, osm)}]
        status = dict(status_of(osm))
        status.update(
            ready=True, instanceState="ACTIVE",
            instanceID=stable_uuid(namespace, name_of(osm),
                                   meta(osm).get("uid"), "server"),
            addresses=addresses, initialization={"provisioned": True},
            conditions=conditions(status.get("conditions"), [
                ("Ready", True, None, None),
                ("InstanceReady", True, None, None)]))
        status.pop("failureReason", None)
        status.pop("failureMessage", None)
        self._write_status(kind, osm, status)

    def _mirror_ip(self, snap, osm):
        """A stable address on the cluster's network (as Neutron gives)."""
        index = sum(ord(c) for c in name_of(osm)) % 200 + 20
        return "10.0.0.%d" % index
