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

One :meth:`Simulator.step` lists every kind, then reconciles each object
once, in the order the real controllers depend on each other:
OpenStackCluster, Cluster, KubeadmControlPlane, MachineDeployment,
MachineSet, Machine, add-ons. Every write is a JSON merge patch (status
through the status subresource, metadata with the ``resourceVersion`` it
was read at), so a conflict or a vanished object only postpones the change
to the next step. Objects are found through the references the chart
writes (``spec.clusterName``, ``spec.infrastructureRef``,
``spec.controlPlaneRef``), never through the chart's values.
"""

import base64
import copy
import datetime
import hashlib
import ipaddress
import json
import logging
import random
import threading
import time
import uuid

import yaml

from magnum_capi_rdma.simulator import faults as faults_mod

LOG = logging.getLogger(__name__)

MERGE_PATCH = "application/merge-patch+json"

# Labels and annotations Cluster API writes or reads.
CLUSTER_NAME = "cluster.x-k8s.io/cluster-name"
DEPLOYMENT_NAME = "cluster.x-k8s.io/deployment-name"
SET_NAME = "cluster.x-k8s.io/set-name"
TEMPLATE_HASH = "machine-template-hash"
CONTROL_PLANE = "cluster.x-k8s.io/control-plane"
CONTROL_PLANE_NAME = "cluster.x-k8s.io/control-plane-name"
DELETE_MACHINE = "cluster.x-k8s.io/delete-machine"
AUTOSCALER_MIN = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size"
AUTOSCALER_MAX = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size"
ADDONS_CLUSTER = "addons.stackhpc.com/cluster"
# Where the simulator remembers a control-plane Machine's template.
KCP_HASH = "simulator.magnum-capi-rdma.openstack.org/template-hash"

# Finalizers, one per controller.
FIN_CLUSTER = "cluster.cluster.x-k8s.io"
FIN_MACHINE = "machine.cluster.x-k8s.io"
FIN_MD = "cluster.x-k8s.io/machinedeployment"
FIN_MS = "cluster.x-k8s.io/machineset"
FIN_KCP = "kubeadm.controlplane.cluster.x-k8s.io"
FIN_OSC = "openstackcluster.infrastructure.cluster.x-k8s.io"
FIN_ADDON = "addons.stackhpc.com/uninstall"
OUR_FINALIZERS = (FIN_CLUSTER, FIN_MACHINE, FIN_MD, FIN_MS, FIN_KCP,
                  FIN_OSC, FIN_ADDON)

QUOTA_MESSAGE = ("Quota exceeded for instances: Requested 1, but already "
                 "used 10 of 10 instances")

#: simulator kind -> (apiVersion option, plural, Kind)
KINDS = {
    "cluster": ("cluster_api_version", "clusters", "Cluster"),
    "osc": ("infrastructure_api_version", "openstackclusters",
            "OpenStackCluster"),
    "kcp": ("control_plane_api_version", "kubeadmcontrolplanes",
            "KubeadmControlPlane"),
    "md": ("cluster_api_version", "machinedeployments",
           "MachineDeployment"),
    "ms": ("cluster_api_version", "machinesets", "MachineSet"),
    "machine": ("cluster_api_version", "machines", "Machine"),
    "helmrelease": ("addons_api_version", "helmreleases", "HelmRelease"),
    "manifests": ("addons_api_version", "manifests", "Manifests"),
    # Read only: adopted by the Cluster, removed with it.
    "osmt": ("infrastructure_api_version", "openstackmachinetemplates",
             "OpenStackMachineTemplate"),
    "kct": ("bootstrap_api_version", "kubeadmconfigtemplates",
            "KubeadmConfigTemplate"),
}
API_VERSION_OPTIONS = ("cluster_api_version", "control_plane_api_version",
                       "bootstrap_api_version", "infrastructure_api_version",
                       "addons_api_version")

_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


# -- small pure helpers -----------------------------------------------------

def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def meta(obj):
    return obj.get("metadata") or {}


def name_of(obj):
    return meta(obj).get("name")


def ns_of(obj):
    return meta(obj).get("namespace")


def labels_of(obj):
    return meta(obj).get("labels") or {}


def annotations_of(obj):
    return meta(obj).get("annotations") or {}


def deleting(obj):
    return bool(meta(obj).get("deletionTimestamp"))


def status_of(obj):
    return obj.get("status") or {}


def spec_of(obj):
    return obj.get("spec") or {}


def stable_uuid(*parts):
    """A UUID that is the same for the same object on every step."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


def short_hash(data, length=5):
    """A short, stable, name-safe hash of JSON-able ``data``."""
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode())
    number = int.from_bytes(digest.digest()[:8], "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(_NAME_ALPHABET))
        chars.append(_NAME_ALPHABET[index])
    return "".join(chars)


def label_value(value):
    """``value`` as a label value (<= 63 chars), hashed when too long."""
    if len(value) <= 63:
        return value
    return "hash_%s_z" % short_hash(value, 10)


def random_suffix(rng, taken, prefix):
    while True:
        name = "%s-%s" % (prefix, "".join(
            rng.choice(_NAME_ALPHABET) for _ in range(5)))
        if name not in taken:
            taken.add(name)
            return name


def conditions(old, wanted):
    """Conditions from ``wanted`` [(type, ok, reason, message)].

    ``ok`` is True, False or None (Unknown). A condition keeps its
    ``lastTransitionTime`` while its status does not change.
    """
    previous = {c.get("type"): c for c in old or () if isinstance(c, dict)}
    result = []
    for type_, ok, reason, message in wanted:
        value = {True: "True", False: "False"}.get(ok, "Unknown")
        condition = {"type": type_, "status": value}
        if value != "True":
            condition["reason"] = reason or "Waiting"
            condition["severity"] = "Error" if ok is False and (
                "Fail" in (reason or "")) else "Info"
            if message:
                condition["message"] = message
        before = previous.get(type_)
        if before and before.get("status") == value and (
                before.get("lastTransitionTime")):
            condition["lastTransitionTime"] = before["lastTransitionTime"]
        else:
            condition["lastTransitionTime"] = now_iso()
        result.append(condition)
    return result


def condition_status(obj, type_):
    for condition in status_of(obj).get("conditions") or ():
        if condition.get("type") == type_:
            return condition.get("status")
    return None


def merge_patch_of(old, new):
    """The merge patch turning dict ``old`` into ``new`` (top level)."""
    patch = {k: v for k, v in new.items() if old.get(k) != v}
    for key in old:
        if key not in new:
            patch[key] = None
    return patch


def int_or_percent(value, total, default, round_up):
    if value is None:
        return default
    if isinstance(value, str) and value.endswith("%"):
        try:
            percent = int(value[:-1])
        except ValueError:
            return default
        amount = total * percent / 100.0
        return int(-(-amount // 1)) if round_up else int(amount)
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def owner_ref(obj, controller=True):
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
            "name": name_of(obj), "uid": meta(obj).get("uid"),
            "controller": controller, "blockOwnerDeletion": True}


def owned_by(obj, owner):
    uid = meta(owner).get("uid")
    return any(ref.get("uid") == uid
               for ref in meta(obj).get("ownerReferences") or ())


def machine_phase(machine):
    return status_of(machine).get("phase")


def machine_ready(machine):
    return machine_phase(machine) == "Running" and not deleting(machine)


def machine_failed(machine):
    return machine_phase(machine) == "Failed"


def scale_down_order(machines, policy="Random"):
    """Machines in the order they should go.

    Machines marked with the delete-machine annotation first, then failed
    ones, then not-ready ones, then by age (oldest first, or newest first
    for the ``Newest`` delete policy).
    """
    ordered = sorted(machines, key=lambda m: (
        meta(m).get("creationTimestamp") or "", name_of(m)),
        reverse=(policy == "Newest"))
    return sorted(ordered, key=lambda m: (
        DELETE_MACHINE not in annotations_of(m), not machine_failed(m),
        machine_ready(m)))


# -- the simulator ----------------------------------------------------------

class Snapshot(object):
    """Everything one step read, indexed by kind and namespace/name."""

    def __init__(self, objects, secrets):
        self.objects = objects
        self.secrets = secrets
        self.by_name = {
            kind: {(ns_of(o), name_of(o)): o for o in items}
            for kind, items in objects.items()}

    def get(self, kind, namespace, name):
        return self.by_name[kind].get((namespace, name))

    def items(self, kind):
        return self.objects[kind]

    def of_cluster(self, kind, namespace, cluster):
        return [o for o in self.objects[kind] if ns_of(o) == namespace
                and spec_of(o).get("clusterName") == cluster]


class Simulator(object):
    """Writes what the CAPI, CAPO, KCP and addon controllers would write.

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
    """

    def __init__(self, api_client, namespace=None, faults=None, delays=None,
                 api_versions=None, workload_kubeconfig=None,
                 workload_server="https://127.0.0.1:1", seed=None):
        from kubernetes import client

        self.api_client = api_client
        self.namespace = namespace
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)
        self.delays = faults_mod.validate_delays(delays)
        self.api_versions = self._api_versions(api_versions)
        self.workload_kubeconfig = workload_kubeconfig
        self.workload_server = workload_server
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
                    _short_error(exc))
            return False

    # -- one pass -----------------------------------------------------------

    def step(self):
        """One synchronous reconcile pass over everything."""
        snap = self._read()
        self._ips = {}
        seen = set()
        for kind in ("osc", "cluster", "kcp", "md", "ms", "machine",
                     "helmrelease", "manifests"):
            handler = getattr(self, "_reconcile_" + _HANDLERS.get(kind, kind))
            for obj in snap.items(kind):
                seen.add(meta(obj).get("uid"))
                cluster = self._cluster_name(snap, kind, obj)
                if cluster and self.faults(ns_of(obj), cluster).get("stall"):
                    continue
                try:
                    handler(snap, kind, obj, cluster)
                except _Skip:
                    pass
                except Exception as exc:
                    if not _tolerated(exc):
                        raise
                    LOG.debug("%s %s/%s: %s (next step)", KINDS[kind][2],
                              ns_of(obj), name_of(obj), _short_error(exc))
        self._clock = {k: v for k, v in self._clock.items() if k[0] in seen}
        self._finalize_namespaces(snap)
        self.steps += 1

    def _finalize_namespaces(self, snap):
        """Play the namespace controller the bed lacks.

        A bare kube-apiserver leaves a deleted namespace Terminating for
        ever (kube-controller-manager empties and finalizes it), and then
        refuses anything new in it. Once no simulated object is left in a
        Terminating namespace, its Secrets and ConfigMaps go and the
        ``kubernetes`` finalizer is removed, as the real controller would.
        """
        for ns in self.core.list_namespace().items:
            name = ns.metadata.name
            if self.namespace and name != self.namespace:
                continue
            if ns.status.phase != "Terminating" or "kubernetes" not in (
                    ns.spec.finalizers or ()):
                continue
            if any(ns_of(o) == name for items in snap.objects.values()
                   for o in items):
                continue
            self.core.delete_collection_namespaced_secret(name)
            self.core.delete_collection_namespaced_config_map(name)
            self.core.replace_namespace_finalize(name, {
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": name}, "spec": {"finalizers": []}})

    def _read(self):
        objects = {}
        for kind in KINDS:
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
            item.setdefault("kind", KINDS[kind][2])
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

    def _gvp(self, kind):
        option, plural, _kind = KINDS[kind]
        group, _, version = self.api_versions[option].partition("/")
        return group, version, plural

    def _cluster_name(self, snap, kind, obj):
        if kind == "cluster":
            return name_of(obj)
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

    # -- timing -------------------------------------------------------------

    def _waited(self, obj, stage, seconds):
        """True once ``seconds`` passed since this was first asked."""
        key = (meta(obj).get("uid"), stage)
        started = self._clock.setdefault(key, time.monotonic())
        return time.monotonic() - started >= seconds

    # -- writes -------------------------------------------------------------

    def _write_status(self, kind, obj, status):
        old = status_of(obj)
        patch = merge_patch_of(old, status)
        if not patch:
            return False
        group, version, plural = self._gvp(kind)
        self.custom.patch_namespaced_custom_object_status(
            group, version, ns_of(obj), plural, name_of(obj),
            {"status": patch}, _content_type=MERGE_PATCH)
        phase = status.get("phase")
        if phase and phase != old.get("phase"):
            LOG.info("%s %s/%s: phase %s -> %s", KINDS[kind][2], ns_of(obj),
                     name_of(obj), old.get("phase") or "-", phase)
        obj["status"] = status
        return True

    def _patch(self, kind, obj, body, guarded=True):
        group, version, plural = self._gvp(kind)
        body = copy.deepcopy(body)
        if guarded:
            body.setdefault("metadata", {})["resourceVersion"] = meta(
                obj).get("resourceVersion")
        return self.custom.patch_namespaced_custom_object(
            group, version, ns_of(obj), plural, name_of(obj), body,
            _content_type=MERGE_PATCH)

    def _ensure_meta(self, kind, obj, finalizer=None, labels=None,
                     owner=None):
        """Add a finalizer, labels and an owner reference if missing."""
        body = {}
        finalizers = list(meta(obj).get("finalizers") or ())
        if finalizer and finalizer not in finalizers:
            body["finalizers"] = finalizers + [finalizer]
        missing = {k: v for k, v in (labels or {}).items()
                   if labels_of(obj).get(k) != v}
        if missing:
            body["labels"] = missing
        if owner is not None and meta(owner).get("uid") and not owned_by(
                obj, owner):
            refs = list(meta(obj).get("ownerReferences") or ())
            controller = not any(r.get("controller") for r in refs)
            body["ownerReferences"] = refs + [owner_ref(owner, controller)]
        if not body:
            return
        self._patch(kind, obj, {"metadata": body})
        raise _Skip()  # re-read before acting on the new resourceVersion

    def _remove_finalizer(self, kind, obj, finalizer, cluster_name):
        finalizers = list(meta(obj).get("finalizers") or ())
        if finalizer not in finalizers:
            return
        if self.faults(ns_of(obj), cluster_name or name_of(obj)).get(
                "stuck_deletion"):
            return
        finalizers.remove(finalizer)
        self._patch(kind, obj, {"metadata": {"finalizers": finalizers}})
        LOG.info("%s %s/%s: finalizer removed, gone", KINDS[kind][2],
                 ns_of(obj), name_of(obj))

    def _create(self, kind, namespace, body):
        group, version, plural = self._gvp(kind)
        body = dict(body, apiVersion="%s/%s" % (group, version),
                    kind=KINDS[kind][2])
        self.custom.create_namespaced_custom_object(
            group, version, namespace, plural, body)
        LOG.info("%s %s/%s: created", KINDS[kind][2], namespace,
                 name_of(body))

    def _delete(self, kind, obj):
        from kubernetes.client import exceptions

        if deleting(obj):
            return
        group, version, plural = self._gvp(kind)
        try:
            self.custom.delete_namespaced_custom_object(
                group, version, ns_of(obj), plural, name_of(obj))
        except exceptions.ApiException as exc:
            if exc.status != 404:
                raise
        LOG.info("%s %s/%s: deleting", KINDS[kind][2], ns_of(obj),
                 name_of(obj))
        obj.setdefault("metadata", {})["deletionTimestamp"] = now_iso()

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
        if faults.get("network_failure"):
            status.update(ready=False, failureReason="CreateError",
                          failureMessage="failed to reconcile network: %s"
                          % faults["network_failure"])
            self._write_status(kind, osc, status)
            return
        status.pop("failureReason", None)
        status.pop("failureMessage", None)
        if cluster is None or not self._waited(
                osc, "ready", self.delays["infrastructure"]):
            status.setdefault("ready", False)
            self._write_status(kind, osc, status)
            return
        status.update(self._osc_status(osc, cluster_name))
        spec = spec_of(osc)
        endpoint = spec.get("controlPlaneEndpoint") or {}
        if not endpoint.get("host"):
            host = self._api_host(osc, status)
            port = int(spec.get("apiServerPort") or 6443)
            self._patch(kind, osc, {"spec": {"controlPlaneEndpoint": {
                "host": host, "port": port}}}, guarded=False)
        self._write_status(kind, osc, status)

    def _osc_status(self, osc, cluster_name):
        spec = spec_of(osc)
        key = (ns_of(osc), name_of(osc), meta(osc).get("uid"))
        net_name = "k8s-clusterapi-cluster-%s-%s" % (ns_of(osc),
                                                     cluster_name)
        subnets = spec.get("managedSubnets") or [{}]
        cidr = _valid_cidr(subnets[0].get("cidr"), "10.0.0.0/24")
        network = {
            "id": stable_uuid(*key, "network"), "name": net_name,
            "subnets": [{"id": stable_uuid(*key, "subnet"),
                         "name": net_name, "cidr": cidr}]}
        status = {
            "ready": True,
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
        vip = _host(cidr, 4)
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
            raise _Skip()
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
        self._write_status(kind, cluster, status)

    @staticmethod
    def _kcp_message(kcp):
        if not kcp:
            return "waiting for the KubeadmControlPlane"
        for condition in status_of(kcp).get("conditions") or ():
            if condition.get("type") == "Ready":
                return condition.get("message")
        return None

    def _ref(self, snap, kind, cluster, field):
        ref = spec_of(cluster).get(field) or {}
        if not ref.get("name"):
            return None
        return snap.get(kind, ref.get("namespace") or ns_of(cluster),
                        ref["name"])

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
            self._write_status("cluster", cluster, status)
        # Descendants first: worker MachineDeployments, sets, machines.
        workers = [o for kind in ("md", "ms", "machine")
                   for o in snap.of_cluster(kind, namespace, name)
                   if not (kind == "machine" and CONTROL_PLANE in labels_of(
                       o))]
        addons = [(k, o) for k in ("helmrelease", "manifests")
                  for o in snap.of_cluster(k, namespace, name)]
        for obj in workers:
            self._delete(_kind_of(obj), obj)
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

    def _adopt_templates(self, snap, cluster, refs, namespace):
        """Give referenced machine templates an owner ref to the Cluster."""
        for ref in refs:
            ref = ref or {}
            for kind in ("osmt", "kct"):
                if ref.get("kind") != KINDS[kind][2]:
                    continue
                template = snap.get(kind, ref.get("namespace") or namespace,
                                    ref.get("name"))
                if template is None or owned_by(template, cluster):
                    continue
                refs_ = list(meta(template).get("ownerReferences") or ())
                refs_.append(owner_ref(cluster, controller=False))
                self._patch(kind, template, {"metadata": {
                    "ownerReferences": refs_}})
                template.setdefault("metadata", {})[
                    "ownerReferences"] = refs_

    def _collect_secrets(self, namespace, owners):
        """Delete Secrets owned by ``owners`` (what the GC would do)."""
        from kubernetes.client import exceptions

        uids = {meta(o).get("uid") for o in owners}
        for secret in self.core.list_namespaced_secret(namespace).items:
            refs = secret.metadata.owner_references or ()
            if any(ref.uid in uids for ref in refs):
                try:
                    self.core.delete_namespaced_secret(
                        secret.metadata.name, namespace)
                    LOG.info("Secret %s/%s: deleted with its owner",
                             namespace, secret.metadata.name)
                except exceptions.ApiException as exc:
                    if exc.status != 404:
                        raise

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
                          key=_version_key)
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
        if versions:
            status["version"] = versions[0]
        if failed:
            status["failureMessage"] = message
        else:
            status.pop("failureMessage", None)
        self._write_status("kcp", kcp, status)

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
            self.core.create_namespaced_secret(namespace, body)
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
            replicas = _int(annotations_of(md).get(AUTOSCALER_MIN), 1)
            self._patch(kind, md, {"spec": {"replicas": replicas}})
            LOG.info("MachineDeployment %s/%s: replicas defaulted to %d",
                     namespace, name_of(md), replicas)
            raise _Skip()
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
            selector=_selector_string(spec_of(md).get("selector")),
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
        # Preflight check: new workers wait for an initialized control plane.
        initialized = condition_status(
            cluster, "ControlPlaneInitialized") == "True"
        if len(live) < desired and initialized:
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
            selector=_selector_string(spec_of(ms).get("selector")),
            observedGeneration=meta(ms).get("generation"))
        self._write_status(kind, ms, status)

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
            raise _Skip()
        status.update(self._machine_fields(snap, machine, next_phase))
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

    def _machine_fields(self, snap, machine, phase):
        ok = phase in ("Provisioned", "Running")
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
            fields["nodeRef"] = {
                "apiVersion": "v1", "kind": "Node", "name": name_of(machine),
                "uid": stable_uuid(name_of(machine), "node")}
            fields["nodeInfo"] = {
                "kubeletVersion": spec_of(machine).get("version"),
                "operatingSystem": "linux", "architecture": "amd64"}
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
                ("NodeHealthy", phase == "Running" or None,
                 "WaitingForNodeRef", None),
            ])
        status = dict(status_of(machine))
        for key in ("addresses", "nodeRef", "nodeInfo"):
            if key not in fields and key in status and phase != "Deleting":
                fields[key] = None
        return {k: v for k, v in fields.items() if v is not None}

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
        cidr = _valid_cidr(subnets and subnets[0].get("cidr"),
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
            self._write_status("machine", machine, status)
        if self._waited(machine, "delete", self.delays["deletion"]):
            self._remove_finalizer("machine", machine, FIN_MACHINE,
                                   cluster_name)

    # -- add-ons (cluster-api-addon-provider) -------------------------------

    def _reconcile_addon(self, snap, kind, addon, cluster_name):
        namespace = ns_of(addon)
        if deleting(addon):
            status = dict(status_of(addon), phase="Uninstalling")
            self._write_status(kind, addon, status)
            if self._waited(addon, "uninstall", self.delays["addon"]):
                self._remove_finalizer(kind, addon, FIN_ADDON,
                                       cluster_name)
            return
        cluster = snap.get("cluster", namespace, cluster_name)
        self._ensure_meta(kind, addon, FIN_ADDON,
                          {ADDONS_CLUSTER: cluster_name} if cluster_name
                          else None, cluster)
        status = dict(status_of(addon))
        phase = status.get("phase")
        generation = meta(addon).get("generation")
        failure = self._addon_failure(addon, cluster_name)
        if cluster is None or deleting(cluster):
            return
        if not self._addon_can_start(addon, cluster):
            status.setdefault("phase", "Pending")
        elif failure:
            status.update(phase="Failed", failureMessage=failure)
        elif phase == "Deployed" and status.get(
                "observedGeneration") == generation:
            return
        elif phase in ("Installing", "Upgrading"):
            if self._waited(addon, "deploy-%s" % generation,
                            self.delays["addon"]):
                status.pop("failureMessage", None)
                status.update(phase="Deployed",
                              revision=int(status.get("revision") or 0) + 1,
                              observedGeneration=generation)
        else:
            status.pop("failureMessage", None)
            status["phase"] = ("Upgrading" if status.get("revision")
                               else "Installing")
        self._write_status(kind, addon, status)

    def _addon_failure(self, addon, cluster_name):
        target = self.faults(ns_of(addon), cluster_name).get("addon_failed")
        name = name_of(addon)
        if not target or not (name == target or name.endswith(
                "-" + target)):
            return None
        spec = spec_of(addon)
        chart = spec.get("chart") or {}
        what = ("chart %s %s" % (chart.get("name"), chart.get("version"))
                if chart else "manifests")
        return ("installing release %s/%s (%s) failed: simulated failure "
                "(fault addon_failed)" % (
                    spec.get("targetNamespace") or "default",
                    spec.get("releaseName") or name, what))

    @staticmethod
    def _addon_can_start(addon, cluster):
        """Bootstrap add-ons need the API server, others a Ready cluster."""
        if spec_of(addon).get("bootstrap"):
            return bool(status_of(cluster).get("controlPlaneReady")
                        or condition_status(
                            cluster, "ControlPlaneInitialized") == "True")
        return condition_status(cluster, "Ready") == "True"


_HANDLERS = {"helmrelease": "addon", "manifests": "addon"}


class _Skip(Exception):
    """The object changed; reconcile it again on the next step."""


def _kind_of(obj):
    for key, (_option, _plural, kind) in KINDS.items():
        if obj.get("kind") == kind:
            return key
    raise ValueError("unknown kind %r" % obj.get("kind"))


def _tolerated(exc):
    from kubernetes.client import exceptions

    return isinstance(exc, exceptions.ApiException) and exc.status in (
        404, 409, 422)


def _short_error(exc):
    from kubernetes.client import exceptions

    if isinstance(exc, exceptions.ApiException):
        return "%s %s" % (exc.status, exc.reason)
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


def _valid_cidr(value, default):
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except (TypeError, ValueError):
        return default


def _host(cidr, index):
    """The ``index``-th host address of ``cidr`` (the first if too small)."""
    hosts = ipaddress.ip_network(cidr).hosts()
    first = None
    for position, host in enumerate(hosts):
        first = first or host
        if position == index:
            return str(host)
    return str(first or ipaddress.ip_network(cidr).network_address)


def _int(value, default):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _version_key(version):
    parts = []
    for part in (version or "").lstrip("v").split("."):
        digits = "".join(c for c in part if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return parts


def _selector_string(selector):
    labels = (selector or {}).get("matchLabels") or {}
    return ",".join("%s=%s" % item for item in sorted(labels.items()))
