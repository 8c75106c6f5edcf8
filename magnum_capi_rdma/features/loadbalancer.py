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
"""The API server load balancer and the Octavia settings of the cloud
provider."""

import dataclasses
import ipaddress

from magnum_capi_rdma import labels

DOC_ORDER = 2
_LB = dict(category="load balancer")


def _ipv4(value):
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise labels.LabelValueError("an IPv4 address", "%s is not an "
                                     "IPv4 address" % labels.show(value))
    return str(address)


LABELS = (
    labels.label(
        "master_lb_floating_ip_enabled", "boolean", None,
        "Give the API load balancer a floating IP. Unset: the template's "
        "floating_ip_enabled.", **_LB),
    labels.label(
        "api_master_lb_allowed_cidrs", "cidr_list", (),
        "CIDRs allowed to reach the Kubernetes API through the load "
        "balancer. Empty: anywhere.", **_LB),
    labels.label(
        "octavia_provider", "string", "amphora",
        "Octavia provider of the API and service load balancers.",
        pattern=r"^[a-z][a-z0-9_-]{0,63}$",
        pattern_help="an Octavia provider name such as amphora or ovn",
        **_LB),
    labels.label(
        "octavia_lb_algorithm", "choice", None,
        "Octavia algorithm of service load balancers. Unset: "
        "SOURCE_IP_PORT for the ovn provider, else ROUND_ROBIN.",
        choices=("ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP",
                 "SOURCE_IP_PORT"), **_LB),
    labels.label(
        "octavia_lb_healthcheck", "boolean", True,
        "Create a health monitor for service load balancers.", **_LB),
    labels.label(
        "api_server_floating_ip", "string", None,
        "An existing floating IP (address) for the Kubernetes API. Unset: "
        "a new one, when the API gets a floating IP.",
        pattern=r"^[0-9.]{7,15}$", check=_ipv4,
        pattern_help="an IPv4 address such as 203.0.113.10", **_LB),
)

#: Peers' labels for knobs chart 0.27.0 does not have.
REFUSED = {
    "api_server_lb_flavor": (
        "openstack-cluster chart 0.27.0 has no setting for the Octavia "
        "flavor of the API load balancer; the project's default flavor is "
        "used (an operator can set Octavia's default flavor)"),
    "api_server_lb_availability_zone": (
        "openstack-cluster chart 0.27.0 has no setting for the "
        "availability zone of the API load balancer; Octavia's default is "
        "used"),
}


@dataclasses.dataclass(frozen=True)
class LoadBalancer:
    enabled: bool
    floating_ip: bool
    allowed_cidrs: tuple
    provider: str
    algorithm: str
    healthcheck: bool
    floating_ip_address: str = None


def cluster_part(ctx):
    t, c = ctx.template, ctx.cluster
    provider = ctx.label("octavia_provider")
    fip = ctx.label("master_lb_floating_ip_enabled")
    if fip is None:
        fip = ctx.bool_field(
            c, "floating_ip_enabled", "cluster",
            ctx.bool_field(t, "floating_ip_enabled", "template", True))
    address = ctx.label("api_server_floating_ip")
    if address and not fip:
        ctx.problem("api_server_floating_ip", address, "unset when the API "
                    "gets no floating IP (master_lb_floating_ip_enabled or "
                    "floating_ip_enabled false)",
                    "the Kubernetes API gets no floating IP")
    return LoadBalancer(
        floating_ip_address=address,
        enabled=ctx.bool_field(
            c, "master_lb_enabled", "cluster",
            ctx.bool_field(t, "master_lb_enabled", "template", True)),
        floating_ip=fip,
        allowed_cidrs=ctx.label("api_master_lb_allowed_cidrs"),
        provider=provider,
        algorithm=ctx.label("octavia_lb_algorithm") or (
            "SOURCE_IP_PORT" if provider == "ovn" else "ROUND_ROBIN"),
        healthcheck=ctx.label("octavia_lb_healthcheck"))


def contribute(spec):
    lb = spec.loadbalancer
    api = {"enableLoadBalancer": lb.enabled,
           "associateFloatingIP": lb.floating_ip}
    if lb.floating_ip_address:
        api["floatingIP"] = lb.floating_ip_address
    if lb.enabled:
        api["loadBalancerProvider"] = lb.provider
        if lb.allowed_cidrs:
            api["allowedCIDRs"] = list(lb.allowed_cidrs)
    return {
        "apiServer": api,
        "addons": {"openstack": {"cloudConfig": {"LoadBalancer": {
            "lb-provider": lb.provider,
            "lb-method": lb.algorithm,
            "create-monitor": lb.healthcheck,
        }}}},
    }
