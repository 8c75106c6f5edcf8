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
"""

from magnum_capi_rdma import contract

#: Address types of a machine, in the order Magnum shows them.
_ADDRESS_TYPES = ("InternalIP", "ExternalIP")


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


def conditions(obj):
    return tuple(status(obj).get("conditions") or ())


def condition(obj, ctype):
    """The condition of type ``ctype`` (a dict), or None."""
    for cond in conditions(obj):
        if cond.get("type") == ctype:
            return cond
    return None


def condition_true(obj, ctype):
    cond = condition(obj, ctype)
    return bool(cond) and cond.get("status") == "True"


def failure(obj):
    """The controller-reported failure of an object, or None."""
    st = status(obj)
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
