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
"""Names and pure helpers of the Cluster API simulator (no API calls).

SIMULATION for development and tests only: never shipped, never run
against a real management cluster.

The labels, annotations and finalizers the simulated controllers write,
the kinds they reconcile (``KINDS``), and small functions over the objects
as the API returns them (plain dicts): metadata accessors, conditions,
merge patches, stable names and IDs, the scale-down order.
"""

import datetime
import hashlib
import ipaddress
import json
import uuid

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


def v1beta2_conditions(old, wanted, generation):
    """Conditions of the v1beta2 contract from ``wanted``.

    ``wanted``: [(type, ok, reason, message)]. Cluster API 1.13 writes
    these (``metav1.Condition``) under ``status.v1beta2.conditions`` of a
    v1beta1 object: ``reason`` (CamelCase) and ``message`` (may be empty)
    always present, ``observedGeneration``, no ``severity``. A condition
    keeps its ``lastTransitionTime`` while its status does not change.
    """
    previous = {c.get("type"): c for c in old or () if isinstance(c, dict)}
    result = []
    for type_, ok, reason, message in wanted:
        value = {True: "True", False: "False"}.get(ok, "Unknown")
        condition = {"type": type_, "status": value, "reason": reason,
                     "message": message or ""}
        if generation is not None:
            condition["observedGeneration"] = generation
        before = previous.get(type_)
        if before and before.get("status") == value and (
                before.get("lastTransitionTime")):
            condition["lastTransitionTime"] = before["lastTransitionTime"]
        else:
            condition["lastTransitionTime"] = now_iso()
        result.append(condition)
    return result


def v1beta2_of(obj):
    """``status.v1beta2`` of a v1beta1 object (a dict, maybe empty)."""
    return status_of(obj).get("v1beta2") or {}


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


def kind_of(obj):
    for key, (_option, _plural, kind) in KINDS.items():
        if obj.get("kind") == kind:
            return key
    raise ValueError("unknown kind %r" % obj.get("kind"))


def valid_cidr(value, default):
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except (TypeError, ValueError):
        return default


def nth_host(cidr, index):
    """The ``index``-th host address of ``cidr`` (the first if too small)."""
    hosts = ipaddress.ip_network(cidr).hosts()
    first = None
    for position, host in enumerate(hosts):
        first = first or host
        if position == index:
            return str(host)
    return str(first or ipaddress.ip_network(cidr).network_address)


def int_or(value, default):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def version_key(version):
    parts = []
    for part in (version or "").lstrip("v").split("."):
        digits = "".join(c for c in part if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return parts


def selector_string(selector):
    labels = (selector or {}).get("matchLabels") or {}
    return ",".join("%s=%s" % item for item in sorted(labels.items()))
