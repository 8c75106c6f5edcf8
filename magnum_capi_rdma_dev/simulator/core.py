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
"""The reconcile loop of the Cluster API simulator.

SIMULATION for development and tests only: never shipped, never run
against a real management cluster.

One :meth:`Simulator.step` lists every kind, then reconciles each object
once, in the order the real controllers depend on each other:
OpenStackCluster, Cluster, KubeadmControlPlane, MachineDeployment,
MachineSet, Machine, add-ons. Every write is a JSON merge patch (status
through the status subresource, metadata with the ``resourceVersion`` it
was read at), so a conflict or a vanished object only postpones the change
to the next step. Every write asks for strict field validation: a field
the schema does not have (on the bed: Cluster API's and CAPO's own CRDs)
is refused, logged as an error, kept in ``Simulator.refused`` and raised
from :meth:`Simulator.step`. Objects are found through the references the
chart writes (``spec.clusterName``, ``spec.infrastructureRef``,
``spec.controlPlaneRef``), never through the chart's values.

The controllers themselves are in ``cluster``, ``controlplane``,
``machinedeployment``, ``machine`` and ``addons``; the names and helpers
tests use as ``core.X`` (``KINDS``, ``FIN_CLUSTER``, ``conditions``...)
are re-exported here from ``objects``.
"""

import logging
import random
import threading

from magnum_capi_rdma_dev.simulator.addons import AddonController
from magnum_capi_rdma_dev.simulator import base
from magnum_capi_rdma_dev.simulator.base import refusal
from magnum_capi_rdma_dev.simulator.base import short_error
from magnum_capi_rdma_dev.simulator.base import Skip
from magnum_capi_rdma_dev.simulator.base import Snapshot
from magnum_capi_rdma_dev.simulator.base import tolerated
from magnum_capi_rdma_dev.simulator import capo
from magnum_capi_rdma_dev.simulator.cluster import ClusterController
from magnum_capi_rdma_dev.simulator.controlplane import (
    ControlPlaneController)
from magnum_capi_rdma_dev.simulator import faults as faults_mod
from magnum_capi_rdma_dev.simulator.machine import MachineController
from magnum_capi_rdma_dev.simulator.machinedeployment import (
    MachineDeploymentController)
from magnum_capi_rdma_dev.simulator import objects
from magnum_capi_rdma_dev.simulator.objects import API_VERSION_OPTIONS
from magnum_capi_rdma_dev.simulator.objects import CLUSTER_NAME
from magnum_capi_rdma_dev.simulator.objects import KINDS
from magnum_capi_rdma_dev.simulator.objects import labels_of
from magnum_capi_rdma_dev.simulator.objects import meta
from magnum_capi_rdma_dev.simulator.objects import name_of
from magnum_capi_rdma_dev.simulator.objects import ns_of
from magnum_capi_rdma_dev.simulator.objects import spec_of

LOG = logging.getLogger(__name__)

#: How many distinct refused writes a Simulator keeps (``refused``).
REFUSALS_KEPT = 20

# Names tests and tools use as ``core.X`` (they live in ``objects``).
AUTOSCALER_MAX = objects.AUTOSCALER_MAX
AUTOSCALER_MIN = objects.AUTOSCALER_MIN
DELETE_MACHINE = objects.DELETE_MACHINE
FIN_CLUSTER = objects.FIN_CLUSTER
MERGE_PATCH = objects.MERGE_PATCH
condition_status = objects.condition_status
conditions = objects.conditions
int_or_percent = objects.int_or_percent
label_value = objects.label_value
merge_patch_of = objects.merge_patch_of
scale_down_order = objects.scale_down_order


class Simulator(ClusterController, ControlPlaneController,
                MachineDeploymentController, MachineController,
                AddonController, capo.CapoMirrorController):
    """Writes what the CAPI, CAPO, KCP and addon controllers would write.

    One class per simulated controller (the modules of this package), all
    on :class:`base.Reconciler`; this one holds the state, the faults and
    the reconcile loop.

    :param api_client: a ``kubernetes.client.ApiClient`` for the management
        cluster.
    :param namespace: only this namespace, or all namespaces when None.
    :param faults: ``{cluster name or "ns/name" or "*": {fault: value}}``.
    :param delays: seconds per stage, see ``faults.DEFAULT_DELAYS``.
    :param api_versions: ``{option: "group/version"}`` overriding the
        ``[capi_rdma] *_api_version`` options.
    :param workload_kubeconfig: text written as the workload cluster's
        kubeconfig Secret; by default a kubeconfig for ``workload_server``.
    :param workload_server: server of the generated workload kubeconfig
        (nothing listens there by default).
    :param workloads: a :class:`.workload.WorkloadServers`: each cluster
        gets a real workload API server (its kubeconfig Secret points at
        it) on which :mod:`.kubelets` plays the nodes and operators; the
        caller stops them (``workloads.stop_all()``).
    :param real_capi: the management cluster runs Cluster API's own
        managers (``bed/capi.py``): write no Cluster API kind, play CAPO
        by mirroring onto the in-memory provider (:mod:`.capo`) and the
        add-on provider; the namespace controller is real too.
    """

    def __init__(self, api_client, namespace=None, faults=None, delays=None,
                 api_versions=None, workload_kubeconfig=None,
                 workload_server="https://127.0.0.1:1", seed=None,
                 workloads=None, real_capi=False):
        from kubernetes import client

        self.api_client = api_client
        self.namespace = namespace
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)
        self.delays = faults_mod.validate_delays(delays)
        self.api_versions = self._api_versions(api_versions)
        self.workload_kubeconfig = workload_kubeconfig
        self.workload_server = workload_server
        self.workloads = workloads
        self.real_capi = real_capi
        if real_capi:
            if workloads is not None:
                raise ValueError("real_capi: the workload clusters are "
                                 "Cluster API's in-memory ones")
            self.kinds = dict(KINDS, **capo.MIRROR_KINDS)
        self._faults = faults_mod.validate_faults(faults)
        self._lock = threading.Lock()
        self._clock = {}
        self._rng = random.Random(seed)
        self._missing_kinds = set()
        self._thread = None
        self._stop = threading.Event()
        self._ips = {}
        self.steps = 0
        self.errors = 0
        #: What the API server refused of the simulator's writes:
        #: [(Kind, "namespace/name", message)], at most REFUSALS_KEPT.
        self.refused = []

    # -- configuration ------------------------------------------------------

    @staticmethod
    def _api_versions(overrides):
        from magnum_capi_rdma import conf

        group = conf.cfg.CONF[conf.GROUP]
        versions = {name: group[name] for name in API_VERSION_OPTIONS}
        for name, value in (overrides or {}).items():
            if name not in versions:
                raise ValueError("unknown apiVersion option %r (known: %s)"
                                 % (name, ", ".join(API_VERSION_OPTIONS)))
            versions[name] = value
        for name, value in versions.items():
            group_, sep, version = (value or "").partition("/")
            if not (group_ and sep and version):
                raise ValueError("%s must look like GROUP/VERSION, got %r"
                                 % (name, value))
        return versions

    def set_faults(self, cluster_name, faults):
        """Replace the faults of one cluster (or ``"*"``)."""
        checked = faults_mod.validate_cluster_faults(
            "faults for %r" % cluster_name, faults)
        with self._lock:
            self._faults[cluster_name] = checked
        LOG.info("faults for %s: %s", cluster_name, checked or "none")

    def clear_faults(self, cluster_name):
        with self._lock:
            self._faults.pop(cluster_name, None)
        LOG.info("faults for %s cleared", cluster_name)

    def replace_faults(self, mapping):
        """Replace every fault at once (e.g. a reloaded faults file)."""
        checked = faults_mod.validate_faults(mapping)
        with self._lock:
            self._faults = checked

    def faults(self, namespace, cluster):
        with self._lock:
            return faults_mod.faults_for(self._faults, namespace, cluster)

    # -- running ------------------------------------------------------------

    def start(self, interval=0.2):
        """Reconcile in a background thread until :meth:`stop`."""
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.run, args=(interval,), name="capi-simulator",
            daemon=True)
        self._thread.start()

    def stop(self, timeout=10):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)
            self._thread = None

    def run(self, interval=0.2, before_step=None):
        """Step until stopped; errors are logged, never fatal."""
        while not self._stop.is_set():
            if before_step:
                before_step()
            self.safe_step()
            self._stop.wait(interval)

    def request_stop(self):
        self._stop.set()

    def safe_step(self):
        try:
            self.step()
            return True
        except Exception as exc:  # the apiserver may be restarting
            self.errors += 1
            level = logging.DEBUG if self.errors % 50 else logging.WARNING
            LOG.log(level, "reconcile pass failed (will retry): %s",
                    short_error(exc))
            return False

    # -- one pass -----------------------------------------------------------

    def step(self):
        """One synchronous reconcile pass over everything."""
        snap = self._read()
        self._ips = {}
        seen = set()
        order = (("osc", "osm", "helmrelease", "manifests") if self.real_capi
                 else ("osc", "cluster", "kcp", "md", "ms", "machine",
                       "helmrelease", "manifests"))
        handlers = _MIRROR_HANDLERS if self.real_capi else _HANDLERS
        for kind in order:
            handler = getattr(self, "_reconcile_" + handlers.get(kind, kind))
            for obj in snap.items(kind):
                seen.add(meta(obj).get("uid"))
                cluster = self._cluster_name(snap, kind, obj)
                if cluster and self.faults(ns_of(obj), cluster).get("stall"):
                    continue
                try:
                    handler(snap, kind, obj, cluster)
                except Skip:
                    pass
                except Exception as exc:
                    refused = refusal(exc)
                    if refused:
                        self._record_refusal(kind, obj, refused)
                        raise
                    if not tolerated(exc):
                        raise
                    LOG.debug("%s %s/%s: %s (next step)",
                              self.kinds[kind][2],
                              ns_of(obj), name_of(obj), short_error(exc))
        self._clock = {k: v for k, v in self._clock.items() if k[0] in seen}
        if not self.real_capi:  # else kube-controller-manager does it
            self._finalize_namespaces(snap)
        if self.workloads is not None:
            self.workloads.step(self, snap)
        self.steps += 1

    def _ensure_kubeconfig(self, snap, kcp, cluster, endpoint):
        """The kubeconfig Secret, naming the cluster's workload server.

        With ``workloads`` the Secret waits for the cluster's API server
        (as kubeadm's first node makes it), and follows it if it moved.
        """
        if self.workloads is None:
            return super()._ensure_kubeconfig(snap, kcp, cluster, endpoint)
        text = self.workloads.kubeconfig_for(cluster)
        if text is None:
            return None  # its API server is starting
        self.workloads.refresh_secret(self, snap, cluster, text)
        default, self.workload_kubeconfig = self.workload_kubeconfig, text
        try:
            return super()._ensure_kubeconfig(snap, kcp, cluster, endpoint)
        finally:
            self.workload_kubeconfig = default

    def _record_refusal(self, kind, obj, message):
        """A write the real schemas refused: the simulator is wrong."""
        entry = (self.kinds[kind][2], "%s/%s" % (ns_of(obj), name_of(obj)),
                 message)
        LOG.error("%s %s: the API server refused the simulator's write: %s",
                  *entry)
        if entry not in self.refused and len(self.refused) < REFUSALS_KEPT:
            self.refused.append(entry)

    def _finalize_namespaces(self, snap):
        """Play the namespace controller the bed lacks.

        A bare kube-apiserver leaves a deleted namespace Terminating for
        ever (kube-controller-manager empties and finalizes it), and then
        refuses anything new in it. As the real controller does, every
        object left in a Terminating namespace is deleted (the simulated
        kinds through their finalizers, like the machine templates the
        chart keeps on uninstall and Cluster API had not adopted yet);
        once none is left, its Secrets and ConfigMaps go and the
        ``kubernetes`` finalizer is removed.
        """
        for ns in self.core.list_namespace().items:
            name = ns.metadata.name
            if self.namespace and name != self.namespace:
                continue
            if ns.status.phase != "Terminating" or "kubernetes" not in (
                    ns.spec.finalizers or ()):
                continue
            left = [(kind, o) for kind, items in snap.objects.items()
                    for o in items if ns_of(o) == name]
            for kind, obj in left:
                self._delete(kind, obj)
            if left:
                continue
            self.core.delete_collection_namespaced_secret(name)
            self.core.delete_collection_namespaced_config_map(name)
            self.core.replace_namespace_finalize(name, {
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": name}, "spec": {"finalizers": []}},
                field_validation=base.STRICT)

    def _read(self):
        objects = {}
        for kind in self.kinds:
            objects[kind] = self._list(kind)
        return Snapshot(objects, self._list_secrets())

    def _list(self, kind):
        from kubernetes.client import exceptions

        group, version, plural = self._gvp(kind)
        try:
            if self.namespace:
                result = self.custom.list_namespaced_custom_object(
                    group, version, self.namespace, plural)
            else:
                result = self.custom.list_cluster_custom_object(
                    group, version, plural)
        except exceptions.ApiException as exc:
            if exc.status == 404:
                if kind not in self._missing_kinds:
                    LOG.warning("no %s/%s %s in the API: skipped",
                                group, version, plural)
                    self._missing_kinds.add(kind)
                return []
            raise
        self._missing_kinds.discard(kind)
        items = result.get("items") or []
        api_version = "%s/%s" % (group, version)
        for item in items:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", self.kinds[kind][2])
        return items

    def _list_secrets(self):
        if self.namespace:
            result = self.core.list_namespaced_secret(
                self.namespace, label_selector=CLUSTER_NAME)
        else:
            result = self.core.list_secret_for_all_namespaces(
                label_selector=CLUSTER_NAME)
        return {(s.metadata.namespace, s.metadata.name): s
                for s in result.items}

    def _cluster_name(self, snap, kind, obj):
        if kind == "cluster":
            return name_of(obj)
        if kind == "osm":
            return labels_of(obj).get(CLUSTER_NAME)
        if kind in ("osc", "kcp"):
            for cluster in snap.items("cluster"):
                ref = spec_of(cluster).get(
                    "infrastructureRef" if kind == "osc"
                    else "controlPlaneRef") or {}
                if ns_of(cluster) == ns_of(obj) and (
                        ref.get("name") == name_of(obj)):
                    return name_of(cluster)
            return labels_of(obj).get(CLUSTER_NAME)
        return spec_of(obj).get("clusterName")


_HANDLERS = {"helmrelease": "addon", "manifests": "addon"}
_MIRROR_HANDLERS = dict(_HANDLERS, osc="osc_mirror", osm="osm_mirror")
