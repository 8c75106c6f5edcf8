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
"""The cluster network, the Kubernetes pod and service networks, the DNS
servers, and the ports of node groups."""

import dataclasses
import ipaddress
import re

from magnum_capi_rdma.features import rdma
from magnum_capi_rdma import labels
from magnum_capi_rdma.values import common

DOC_ORDER = 1
AFTER = ("kubernetes", "rdma")
_NET = dict(category="networking")
_IPV4 = "the chart's node, pod and service networks are IPv4"

#: The chart's pod and service networks and DNS domain (openstack-cluster
#: 0.27.0 values.yaml, kubeNetwork): what a cluster gets without labels.
CHART_POD_CIDR = "172.16.0.0/13"
CHART_SERVICE_CIDR = "172.24.0.0/13"
CHART_SERVICE_DOMAIN = "cluster.local"


@dataclasses.dataclass(frozen=True)
class _NetworkList(labels.Label):
    """Networks separated by commas or, without a comma, by blanks.

    magnum-capi-helm separates several networks with spaces; here a value
    with a comma is a comma-separated list (so a name may hold a space)
    and a value without one is split on spaces, as magnum-capi-helm does.
    """

    def parse(self, raw):
        if isinstance(raw, str) and "," not in raw and (
                len(raw) <= labels.MAX_VALUE_LENGTH):
            # Plain spaces only: other blanks stay, and are refused.
            raw = [item for item in raw.split(" ") if item]
        return super().parse(raw)


_DOMAIN = (r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
           r"(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$")


LABELS = (
    labels.label(
        "fixed_subnet_cidr", "cidr", "10.0.0.0/24",
        "CIDR of the subnet the driver creates for the nodes when the "
        "template names no fixed network. Must not overlap the pod and "
        "service networks or rdma_ip_range.", ipv4_only=_IPV4, **_NET),
    _NetworkList(
        name="extra_network_names", kind="string_list", default=(),
        help="Neutron networks (names or UUIDs), separated by commas or, "
        "as magnum-capi-helm reads them, by spaces; every worker node of "
        "the group gets one more port on each.",
        scopes=labels.ALL_SCOPES, category=_NET["category"],
        deprecated_names=("extra_network_name",),
        pattern=labels.NEUTRON_NAME,
        pattern_help="Neutron network names or UUIDs separated by commas "
        "(or, without a comma, by spaces)"),
    labels.label(
        "calico_ipv4pool", "cidr", None,
        "IPv4 CIDR of the pods (the cluster's pod network) when the "
        "template's network_driver is calico. Unset: %s (the chart's). "
        "Must not overlap the service network, the node subnet or "
        "rdma_ip_range." % CHART_POD_CIDR, ipv4_only=_IPV4, **_NET),
    labels.label(
        "cilium_ipv4pool", "cidr", None,
        "IPv4 CIDR of the pods (the cluster's pod network) when the "
        "template's network_driver is cilium. Unset: %s (the chart's). "
        "Must not overlap the service network, the node subnet or "
        "rdma_ip_range." % CHART_POD_CIDR, ipv4_only=_IPV4, **_NET),
    labels.label(
        "service_cluster_ip_range", "cidr", None,
        "IPv4 CIDR of the Kubernetes services. Unset: %s (the chart's). "
        "Must not overlap the pod network, the node subnet or "
        "rdma_ip_range." % CHART_SERVICE_CIDR, ipv4_only=_IPV4, **_NET),
    labels.label(
        "dns_cluster_domain", "string", CHART_SERVICE_DOMAIN,
        "DNS domain of the cluster's services (Service names resolve as "
        "NAME.NAMESPACE.svc.DOMAIN).", pattern=_DOMAIN,
        pattern_help="a DNS domain of lower case letters, digits, '-' and "
        "'.', such as cluster.local (at most 253 characters, labels of at "
        "most 63)", **_NET),
)


@dataclasses.dataclass(frozen=True)
class Networking:
    external_network: str
    fixed_network: str
    fixed_subnet: str
    fixed_subnet_cidr: str
    dns_nameservers: tuple
    #: Set by labels only (None: the chart's).
    pod_cidr: str = None
    service_cidr: str = None
    service_domain: str = CHART_SERVICE_DOMAIN


_UUID = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{12}$")


def _dns(ctx):
    value = ctx.template.get("dns_nameserver")
    if not value:
        return ()
    if isinstance(value, list):
        items = value
    elif isinstance(value, str):
        items = value.split(",")
    else:
        items = [value]
    result = []
    for item in items[:16]:
        try:
            if not isinstance(item, str) or len(item) > 64:
                raise ValueError(item)
            result.append(str(ipaddress.ip_address(item.strip())))
        except ValueError:
            ctx.problem("dns_nameserver", item, "comma-separated IP "
                        "addresses (at most 16)", "", where="template")
    if len(items) > 16:
        ctx.problem("dns_nameserver", value, "at most 16 IP addresses", "",
                    where="template")
    return tuple(result)


def group_part(ctx):
    if ctx.group.role == "master":
        return ()
    return ctx.label("extra_network_names")


def cluster_part(ctx):
    t, c = ctx.template, ctx.cluster
    fixed_network = (ctx.text_field(c, "fixed_network", "cluster")
                     or ctx.text_field(t, "fixed_network", "template"))
    fixed_subnet = (ctx.text_field(c, "fixed_subnet", "cluster")
                    or ctx.text_field(t, "fixed_subnet", "template"))
    if fixed_subnet and not fixed_network:
        ctx.problem("fixed_subnet", fixed_subnet, "",
                    "a fixed subnet needs its fixed network",
                    where="template")
    external = ctx.text_field(t, "external_network_id", "template")
    if external and not _UUID.match(external):
        ctx.problem("external_network_id", external, "the UUID of an "
                    "external Neutron network (CAPO takes only an id; the "
                    "driver looks a name up in Neutron, and this one was "
                    "not found there)", where="template")
    networking = Networking(
        external_network=external,
        fixed_network=fixed_network, fixed_subnet=fixed_subnet,
        fixed_subnet_cidr=ctx.label("fixed_subnet_cidr"),
        dns_nameservers=_dns(ctx),
        pod_cidr=_pod_network(ctx),
        service_cidr=ctx.label("service_cluster_ip_range"),
        service_domain=ctx.label("dns_cluster_domain"))
    _check_overlaps(ctx, networking)
    return networking


def _pod_network(ctx):
    """The pod CIDR label of the cluster's CNI.

    The other CNI's is refused (a site default of it is left alone).
    """
    driver = ctx.parts["kubernetes"].network_driver
    found = None
    for cni in ("calico", "cilium"):
        name = "%s_ipv4pool" % cni
        value = ctx.label(name)
        if cni == driver:
            found = value
        elif value and ctx.source(name) != "site":
            ctx.problem(name, value, "unset unless the template's "
                        "network_driver is %s (use %s_ipv4pool)" % (
                            cni, driver), "this cluster's CNI is %s"
                        % driver)
    return found


def pod_cidr(net):
    """The cluster's pod network (a label's or the chart's)."""
    return net.pod_cidr or CHART_POD_CIDR


def service_cidr(net):
    """The cluster's service network (a label's or the chart's)."""
    return net.service_cidr or CHART_SERVICE_CIDR


def _check_overlaps(ctx, networking):
    """The networks a node and a pod see must not overlap.

    A problem names a range a template, cluster, node group or site set
    (the later one in this order: pod network, service network, node
    subnet, RDMA pod range); defaults never overlap each other.
    """
    driver = ctx.parts["kubernetes"].network_driver
    fabric = ctx.parts["rdma"]
    # (what, label, cidr, where it was set or None for a default)
    ranges = [("pod network", "%s_ipv4pool" % driver, pod_cidr(networking),
               ctx.source("%s_ipv4pool" % driver)
               if networking.pod_cidr else None),
              ("service network", "service_cluster_ip_range",
               service_cidr(networking),
               ctx.source("service_cluster_ip_range")
               if networking.service_cidr else None)]
    if not networking.fixed_network and networking.fixed_subnet_cidr:
        where = ctx.source("fixed_subnet_cidr")
        ranges.append(("node subnet", "fixed_subnet_cidr",
                       networking.fixed_subnet_cidr,
                       None if where == "default" else where))
    if fabric.ip_range:
        ranges.append(("RDMA pod range", "rdma_ip_range", fabric.ip_range,
                       fabric.ip_range_where or "cluster"))
    for pos, this in enumerate(ranges):
        net = ipaddress.ip_network(this[2])
        for other in ranges[:pos]:
            other_net = ipaddress.ip_network(other[2])
            if net.version != other_net.version or not net.overlaps(
                    other_net):
                continue
            blamed, apart = (this, other) if this[3] else (other, this)
            if not blamed[3]:
                continue
            ctx.problem(blamed[1], blamed[2], "a range apart from the %s "
                        "(%s)" % (apart[0], apart[2]), "overlaps the %s%s"
                        % (apart[0], "" if apart[3] else " (its default)"),
                        where=blamed[3])


def _internal_network(net):
    network = {}
    if net.fixed_network:
        network["networkFilter"] = common.neutron_filter(net.fixed_network)
        if net.fixed_subnet:
            network["subnetFilter"] = common.neutron_filter(
                net.fixed_subnet)
    else:
        network["nodeCidr"] = net.fixed_subnet_cidr
    if net.dns_nameservers:
        network["dnsNameservers"] = list(net.dns_nameservers)
    return network


def ports(spec, group):
    """Machine ports of a node group; None when the chart default will do.

    The first port (``{}``) is on the cluster network; extra networks and
    the RDMA port follow.
    """
    extra = [{"network": common.port_network(name)}
             for name in group.networking]
    rdma_port = rdma.port(spec, group)
    if rdma_port:
        extra.append(rdma_port)
    if not extra:
        return None
    return [{}] + extra


def _kube_network(net):
    """kubeNetwork: only what labels set (the rest is the chart's)."""
    values = {}
    if net.pod_cidr:
        values["pods"] = {"cidrBlocks": [net.pod_cidr]}
    if net.service_cidr:
        values["services"] = {"cidrBlocks": [net.service_cidr]}
    if net.service_domain != CHART_SERVICE_DOMAIN:
        values["serviceDomain"] = net.service_domain
    return values


def contribute(spec):
    net = spec.networking
    networking = {"internalNetwork": _internal_network(net)}
    if net.external_network:
        networking["externalNetworkId"] = net.external_network
    groups = []
    for group in spec.node_groups:
        group_ports = ports(spec, group)
        if group_ports:
            groups.append({"name": group.name,
                           "machineNetworking": {"ports": group_ports}})
    values = {"clusterNetworking": networking}
    kube_network = _kube_network(net)
    if kube_network:
        values["kubeNetwork"] = kube_network
    if groups:
        values["nodeGroups"] = groups
    return values
