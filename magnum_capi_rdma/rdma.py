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
"""The RDMA model: modes, the network operator release, fabric settings.

One table says what each ``rdma_mode`` is (fabric, hosting, the objects and
plugins it needs, the rules it imposes); the spec, the chart values and the
workload manifests all read it. One record says which network operator
release the driver targets and derives every component version from it.

Cluster-wide fabric settings (:class:`Fabric`) are separate from what each
node group chooses (:class:`Attachment`: mode, Neutron network, vNIC type,
port security).
"""

import dataclasses
import re

from magnum_capi_rdma.labels import LabelValueError


@dataclasses.dataclass(frozen=True)
class NetworkOperatorRelease:
    """A release of the NVIDIA network operator and its component images.

    Taken from that release's ``hack/release.yaml``; the openstack-cluster
    chart's ``mellanoxNetworkOperator`` add-on installs the chart of the
    same version.
    """

    version: str
    chart_version: str
    repository: str
    component_version: str
    doca_driver_version: str

    @property
    def label(self):
        return "network-operator %s" % self.version


#: The release the driver targets: network-operator v26.1.1 (the version the
#: openstack-cluster 0.27.0 chart's cluster-addons installs), images from
#: its hack/release.yaml (commit d91e0995e87ee7a60029ed8fd31f6445cdab5a21).
NETWORK_OPERATOR = NetworkOperatorRelease(
    version="26.1.1",
    chart_version="26.1.1",
    repository="nvcr.io/nvidia/mellanox",
    component_version="network-operator-v26.1.1",
    doca_driver_version="doca3.3.0-26.01-1.0.0.0-4",
)


@dataclasses.dataclass(frozen=True)
class Mode:
    """What one ``rdma_mode`` is and needs."""

    name: str
    fabric: str                  # "ethernet" (RoCE) or "infiniband"
    bare_metal_only: bool        # a VM cannot split its VF again
    network_kind: str            # the object pods attach to
    device_plugin: str = None    # NicClusterPolicy field, None for ipoib
    resource_prefix: str = None  # of the extended resource pods request
    default_resource: str = None
    needs_interface: bool = False
    takes_mtu: bool = False
    shares_device: bool = False  # pods share the HCA (rdmaHcaMax)
    #: The RDMA subsystem must run in exclusive network-namespace mode so
    #: each pod sees only its own RDMA device.
    isolates_per_pod: bool = False
    takes_pkey: bool = False
    needs_ufm: bool = False
    cni: str = None              # CNI plugin binary the network uses

    @property
    def infiniband(self):
        return self.fabric == "infiniband"


MODES = {m.name: m for m in (
    Mode("macvlan", "ethernet", False, "MacvlanNetwork",
         device_plugin="rdmaSharedDevicePlugin", resource_prefix="rdma",
         default_resource="rdma_shared_device_a", needs_interface=True,
         takes_mtu=True, shares_device=True, cni="macvlan"),
    Mode("sriov", "ethernet", True, "HostDeviceNetwork",
         device_plugin="sriovDevicePlugin", resource_prefix="nvidia.com",
         default_resource="sriov_rdma_vf", isolates_per_pod=True,
         cni="host-device"),
    Mode("ipoib", "infiniband", False, "IPoIBNetwork",
         needs_interface=True, cni="ipoib"),
    Mode("ib-sriov", "infiniband", True, "NetworkAttachmentDefinition",
         device_plugin="sriovDevicePlugin", resource_prefix="nvidia.com",
         default_resource="sriov_ib_vf", isolates_per_pod=True,
         takes_pkey=True, needs_ufm=True, cni="ib-sriov"),
)}

NONE = "none"
MODE_NAMES = (NONE,) + tuple(MODES)

#: Namespaces that exist in every cluster (or that the network operator's
#: release makes); any other attachment namespace is created with the
#: RDMA objects.
EXISTING_NAMESPACES = frozenset((
    "default", "kube-system", "kube-public", "kube-node-lease",
    "network-operator"))


@dataclasses.dataclass(frozen=True)
class Attachment:
    """What one node group chooses: its RDMA port and the mode."""

    mode: str = NONE
    network: str = None
    vnic_type: str = "direct"
    port_security: str = "disabled"

    @property
    def enabled(self):
        return self.mode != NONE


NO_ATTACHMENT = Attachment()


@dataclasses.dataclass(frozen=True)
class Fabric:
    """Cluster-wide RDMA settings (one mode per cluster)."""

    mode: str = NONE
    interface: str = None
    mtu: int = None
    ip_range: str = None
    ip_block_size: int = 32
    ip_gateway: str = None
    resource_name: str = None
    hca_max: int = 63
    attachment_name: str = "rdma-net"
    attachment_namespace: str = "default"
    ofed_enabled: bool = True
    ofed_version: str = NETWORK_OPERATOR.doca_driver_version
    component_version: str = NETWORK_OPERATOR.component_version
    image_repository: str = NETWORK_OPERATOR.repository
    pkey: str = None
    ufm_secret: str = None
    selftest_enabled: bool = False
    #: Thresholds of the self-test set by labels (None: the site's
    #: ``[capi_rdma] selftest_*`` options).
    selftest_min_bandwidth_gbps: int = None
    selftest_max_latency_us: int = None
    #: Where rdma_ip_range was set (for problems other features find).
    ip_range_where: str = dataclasses.field(default=None, compare=False)

    @property
    def enabled(self):
        return self.mode != NONE

    @property
    def info(self):
        return MODES.get(self.mode)

    @property
    def infiniband(self):
        return self.enabled and self.info.infiniband

    @property
    def resource(self):
        """What pods request, e.g. rdma/rdma_shared_device_a (or None)."""
        info = self.info
        if info is None or not info.resource_prefix or not (
                self.resource_name):
            return None
        return "%s/%s" % (info.resource_prefix, self.resource_name)

    @property
    def creates_namespace(self):
        return self.enabled and (
            self.attachment_namespace not in EXISTING_NAMESPACES)


NO_FABRIC = Fabric()

# -- rules of the components that consume the values --

_PKEY = re.compile(r"^0[xX][0-9a-fA-F]+$")
PKEY_MAX = 0x7fff


def check_pkey(text):
    """An InfiniBand partition key in the form ib-kubernetes parses.

    ib-kubernetes (``pkg/utils/utils.go: ParsePKey``, ``pkg/ib-utils:
    IsPKeyValid``; the release of network-operator 26.1.1) takes ``0x`` and
    hexadecimal digits, and only 15-bit keys (the top bit is the
    membership bit). 0x0000 is the invalid key of the InfiniBand
    specification. The key is emitted zero-padded, e.g. ``0x0a12``.
    """
    rule = ("ib-kubernetes (%s) accepts 15-bit partition keys written "
            "0x and hexadecimal digits, from 0x0001 to 0x7fff"
            % NETWORK_OPERATOR.label)
    if not _PKEY.match(text) or len(text) > 10:
        raise LabelValueError("a partition key such as 0x0a12", rule)
    value = int(text[2:], 16)
    if not 0 < value <= PKEY_MAX:
        raise LabelValueError("a partition key such as 0x0a12", rule)
    return "0x%04x" % value
