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
"""The cluster network and the ports of every node group."""

from magnum_capi_rdma.values import common
from magnum_capi_rdma.values import rdma


def _internal_network(spec):
    network = {}
    if spec.fixed_network:
        network["networkFilter"] = common.neutron_filter(spec.fixed_network)
        if spec.fixed_subnet:
            network["subnetFilter"] = common.neutron_filter(
                spec.fixed_subnet)
    else:
        network["nodeCidr"] = spec.fixed_subnet_cidr
    if spec.dns_nameservers:
        network["dnsNameservers"] = list(spec.dns_nameservers)
    return network


def ports(group):
    """Machine ports of a node group; None when the chart default will do.

    The first port (``{}``) is on the cluster network; extra networks and
    the RDMA port follow.
    """
    extra = [{"network": common.port_network(name)}
             for name in group.extra_networks]
    rdma_port = rdma.port(group)
    if rdma_port:
        extra.append(rdma_port)
    if not extra:
        return None
    return [{}] + extra


def contribute(spec):
    networking = {"internalNetwork": _internal_network(spec)}
    if spec.external_network:
        networking["externalNetworkId"] = spec.external_network
    groups = []
    for group in spec.node_groups:
        group_ports = ports(group)
        if group_ports:
            groups.append({"name": group.name,
                           "machineNetworking": {"ports": group_ports}})
    values = {"clusterNetworking": networking}
    if groups:
        values["nodeGroups"] = groups
    return values
