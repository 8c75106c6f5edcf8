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
"""RDMA: the network operator, the RDMA port of RDMA node groups and the
workload objects (NicClusterPolicy, IPPool, network) as a Manifests
add-on."""

from magnum_capi_rdma import manifests
from magnum_capi_rdma.manifests import common as manifest_common
from magnum_capi_rdma.values import common

ADDON_NAME = "rdma-network"


def port(group):
    """The extra CAPO port of an RDMA node group, or None."""
    settings = group.rdma
    if not settings.enabled:
        return None
    value = {
        "network": common.port_network(settings.network),
        "vnicType": settings.vnic_type,
        "nameSuffix": "rdma",
    }
    if settings.port_security == "disabled":
        value["disablePortSecurity"] = True
        value["securityGroups"] = []
    else:
        value["allowedAddressPairs"] = [{"ipAddress": settings.ip_range}]
    return value


def addon(spec, api_versions=None):
    """The ``addons.custom`` entry carrying the RDMA objects."""
    files = manifests.manifest_files(spec, api_versions)
    return {
        "kind": "Manifests",
        "spec": {
            "namespace": manifest_common.OPERATOR_NAMESPACE,
            "manifests": {name: manifest_common.to_yaml(obj)
                          for name, obj in files.items()},
        },
    }


def contribute(spec):
    operator = {"enabled": spec.rdma_enabled}
    if not spec.rdma_enabled:
        return {"addons": {"mellanoxNetworkOperator": operator}}
    operator["release"] = {
        "namespace": manifest_common.OPERATOR_NAMESPACE,
        # The policy comes from the Manifests add-on below.
        "values": {"deployCR": False},
    }
    return {"addons": {
        "mellanoxNetworkOperator": operator,
        "custom": {ADDON_NAME: addon(spec)},
    }}
