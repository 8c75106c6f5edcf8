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
"""The pod network on the RDMA fabric, its namespace and address pool.

One object per mode (``rdma.MODES[mode].network_kind``): a MacvlanNetwork
(macvlan), HostDeviceNetwork (sriov), IPoIBNetwork (ipoib) or a
NetworkAttachmentDefinition of type ib-sriov (ib-sriov). The network
operator turns the first three into NetworkAttachmentDefinitions of the
same name in ``networkNamespace``. Addresses come from an nv-ipam IPPool
limited to the RDMA nodes.
"""

from magnum_capi_rdma import contract
from magnum_capi_rdma.manifests import common


def namespace(spec, versions):
    """The attachment namespace, when no one else makes it."""
    return {
        "apiVersion": versions["Namespace"],
        "kind": "Namespace",
        "metadata": {"name": spec.rdma.attachment_namespace},
    }


def ip_pool(spec, versions):
    """The nv-ipam IPPool the pod network allocates from."""
    fabric = spec.rdma
    body = {
        "subnet": fabric.ip_range,
        "perNodeBlockSize": fabric.ip_block_size,
        "nodeSelector": common.node_selector(spec),
    }
    if fabric.ip_gateway:
        body["gateway"] = fabric.ip_gateway
    return {
        "apiVersion": versions["IPPool"],
        "kind": "IPPool",
        "metadata": {"name": common.pool_name(fabric),
                     "namespace": contract.NETWORK_OPERATOR_NAMESPACE},
        "spec": body,
    }


def _operator_network(spec, versions, kind):
    fabric = spec.rdma
    body = {"networkNamespace": fabric.attachment_namespace}
    if kind == "MacvlanNetwork":
        body.update({"master": fabric.interface, "mode": "bridge"})
        if fabric.mtu:
            body["mtu"] = fabric.mtu
    elif kind == "IPoIBNetwork":
        body["master"] = fabric.interface
    else:
        # The operator adds the nvidia.com/ prefix itself; its admission
        # webhook refuses a name with one.
        body["resourceName"] = fabric.resource_name
    body["ipam"] = common.to_json(common.ipam_config(fabric))
    return {
        "apiVersion": versions[kind],
        "kind": kind,
        "metadata": {"name": fabric.attachment_name},
        "spec": body,
    }


def ib_sriov_config(spec):
    """The CNI config of the ib-sriov NetworkAttachmentDefinition."""
    fabric = spec.rdma
    config = {
        "cniVersion": "0.3.1",
        "name": fabric.attachment_name,
        "type": fabric.info.cni,
        "link_state": "enable",
        "rdmaIsolation": True,
        "ibKubernetesEnabled": True,
        "ipam": common.ipam_config(fabric),
    }
    if fabric.pkey:
        config["pkey"] = fabric.pkey
    return config


def _attachment(spec, versions):
    fabric = spec.rdma
    return {
        "apiVersion": versions["NetworkAttachmentDefinition"],
        "kind": "NetworkAttachmentDefinition",
        "metadata": {
            "name": fabric.attachment_name,
            "namespace": fabric.attachment_namespace,
            "annotations": {
                "k8s.v1.cni.cncf.io/resourceName": fabric.resource},
        },
        "spec": {"config": common.to_json(ib_sriov_config(spec))},
    }


def network(spec, versions):
    """The network object pods attach to, for the cluster's mode."""
    kind = spec.rdma.info.network_kind
    if kind == "NetworkAttachmentDefinition":
        return _attachment(spec, versions)
    return _operator_network(spec, versions, kind)
