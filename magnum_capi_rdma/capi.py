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
"""Reading Cluster API objects (plain dicts): the one place that does.

Pure accessors: every one takes a Kubernetes object as a dict (or None)
and never raises on a missing field. Status, health, the observer and the
driver's services read objects through these, not through each other.

Both contracts of Cluster API are read. Cluster API 1.13 stores v1beta2
objects; read at v1beta1 (the default ``*_api_version``), an object has
the v1beta1 fields and conditions where v1beta1 had them and the v1beta2
ones under ``status.v1beta2`` (conditions, and the ready / available /
up-to-date counters, which count differently). Read at v1beta2, it is the
other way round: the v1beta1 ones are under ``status.deprecated.v1beta1``
and some fields moved (``initialized`` is ``initialization.
controlPlaneInitialized``, ``updatedReplicas`` is ``upToDateReplicas``).
The v1beta1 field or condition is read first; when it is not there, its
v1beta2 counterpart.
"""

import collections

from magnum_capi_rdma import contract

#: Address types of a machine, in the order Magnum shows them.
_ADDRESS_TYPES = ("InternalIP", "ExternalIP")
#: Cluster API's own groups (the ones with a v1beta2 contract).
CAPI_GROUPS = ("cluster.x-k8s.io", "controlplane.cluster.x-k8s.io",
               "bootstrap.cluster.x-k8s.io")

#: Replica counters; a field is None when the object does not say.
Replicas = collections.namedtuple("Replicas",
                                  "total ready up_to_date available")


def metadata(obj):
    return (obj or {}).get("metadata") or {}


def name(obj):
    return metadata(obj).get("name", "")


def labels(obj):
    return metadata(obj).get("labels") or {}


def spec(obj):
    return (obj or {}).get("spec") or {}


def status(obj):
    return (obj or {}).get("status") or {}


def is_deleting(obj):
    """The object has a deletion timestamp."""
    return bool(metadata(obj).get("deletionTimestamp"))


def is_v1beta2(obj):
    """The object was read at a v1beta2 version of Cluster API.

    By its ``apiVersion``; without one, by its shape (only v1beta2 objects
    have ``status.deprecated``).
    """
    group, _, version = ((obj or {}).get("apiVersion") or "").partition(
        "/")
    if version:
        return version == "v1beta2" and group in CAPI_GROUPS
    return "deprecated" in status(obj)


def v1beta1_status(obj):
    """Where the v1beta1 status fields are (``status``, or deprecated)."""
    if is_v1beta2(obj):
        return (status(obj).get("deprecated") or {}).get("v1beta1") or {}
    return status(obj)


def v1beta2_status(obj):
    """Where the v1beta2 status fields are (``status.v1beta2``, or it)."""
    if is_v1beta2(obj):
        return status(obj)
    return status(obj).get("v1beta2") or {}


def conditions(obj):
    """The v1beta1 conditions (with ``severity``)."""
    return tuple(v1beta1_status(obj).get("conditions") or ())


def v1beta2_conditions(obj):
    """The v1beta2 conditions (``metav1.Condition``)."""
    return tuple(v1beta2_status(obj).get("conditions") or ())


def condition(obj, ctype, v1beta2=None):
    """The condition of type ``ctype`` (a dict), or None.

    The v1beta1 condition of that type; when the object has none, the
    v1beta2 condition ``v1beta2`` (the same type when not given: e.g. the
    Cluster's v1beta1 ``Ready`` is its v1beta2 ``Available``).
    """
    for cond in conditions(obj):
        if cond.get("type") == ctype:
            return cond
    wanted = v1beta2 or ctype
    for cond in v1beta2_conditions(obj):
        if cond.get("type") == wanted:
            return cond
    return None


def condition_true(obj, ctype, v1beta2=None):
    cond = condition(obj, ctype, v1beta2)
    return bool(cond) and cond.get("status") == "True"


def _count(fields, key):
    value = fields.get(key)
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def replicas(obj):
    """:class:`Replicas` of a KubeadmControlPlane or MachineDeployment.

    ``ready`` and ``up_to_date``: the v1beta1 ``readyReplicas`` and
    ``updatedReplicas`` where the object has them, else the v1beta2
    ``readyReplicas`` and ``upToDateReplicas``; None when neither says.
    """
    first, second = v1beta1_status(obj), v1beta2_status(obj)

    def pick(v1beta1_key, v1beta2_key):
        found = _count(first, v1beta1_key)
        return found if found is not None else _count(second, v1beta2_key)

    return Replicas(total=_count(status(obj), "replicas"),
                    ready=pick("readyReplicas", "readyReplicas"),
                    up_to_date=pick("updatedReplicas", "upToDateReplicas"),
                    available=pick("availableReplicas",
                                   "availableReplicas"))


def initialized(control_plane):
    """The control plane was initialized: True, False or None (unsaid).

    v1beta1 ``status.initialized``; v1beta2 ``status.initialization.
    controlPlaneInitialized``.
    """
    st = status(control_plane)
    if "initialized" in st:
        return bool(st["initialized"])
    found = (st.get("initialization") or {}).get("controlPlaneInitialized")
    return None if found is None else bool(found)


def infrastructure_ready(infra):
    """An OpenStackCluster is provisioned.

    CAPO 0.14 writes ``status.ready`` (Cluster API's v1beta1 contract) and
    ``status.initialization.provisioned`` (v1beta2); either says so.
    """
    st = status(infra)
    return bool(st.get("ready") or (st.get("initialization") or {}).get(
        "provisioned"))


def failure(obj):
    """The controller-reported failure of an object, or None."""
    st = v1beta1_status(obj)
    message = st.get("failureMessage")
    reason = st.get("failureReason")
    if message or reason:
        if message and reason and reason not in message:
            return "%s: %s" % (reason, message)
        return message or reason
    return None


def observed_latest(obj):
    """The controller has reconciled the latest spec (or says nothing)."""
    generation = metadata(obj).get("generation")
    observed = status(obj).get("observedGeneration")
    if generation is None or observed is None:
        return True
    return _int(observed) >= _int(generation)


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def release_of(obj, by_spec=False):
    """The Helm release (= Cluster API cluster) an object belongs to.

    The chart's label first, then Cluster API's own (machines always carry
    it); with ``by_spec`` (the add-on provider's kinds) then the object's
    ``spec.clusterName``. None if none says.
    """
    found = labels(obj)
    release = (found.get(contract.CHART_CLUSTER_LABEL) or
               found.get(contract.CAPI_CLUSTER_NAME_LABEL))
    if not release and by_spec:
        release = spec(obj).get("clusterName")
    return release or None


def node_group_of(obj):
    """The chart's node group of a machine or MachineDeployment."""
    return labels(obj).get(contract.CHART_NODE_GROUP_LABEL)


def is_control_plane_machine(machine):
    found = labels(machine)
    return (contract.CAPI_CONTROL_PLANE_LABEL in found or
            found.get(contract.CHART_COMPONENT_LABEL) ==
            contract.CHART_CONTROL_PLANE_COMPONENT)


def machine_addresses(machine):
    """InternalIP addresses first, then the others, without duplicates."""
    addresses = status(machine).get("addresses") or ()
    seen = []
    for kind in _ADDRESS_TYPES:
        for item in addresses:
            addr = item.get("address")
            if item.get("type") == kind and addr and addr not in seen:
                seen.append(addr)
    return seen


def server_id(machine):
    """The OpenStack server UUID of a machine (its providerID's tail)."""
    provider = spec(machine).get("providerID") or ""
    return provider.rsplit("/", 1)[-1] or None


def node_name(machine):
    """The workload cluster Node a machine became, or None."""
    return (status(machine).get("nodeRef") or {}).get("name")


def api_address(cluster):
    """The API server URL of a Cluster, once it has an endpoint."""
    endpoint = spec(cluster).get("controlPlaneEndpoint") or {}
    host = endpoint.get("host")
    if not host:
        return None
    return "https://%s:%s" % (host, endpoint.get("port") or 6443)
