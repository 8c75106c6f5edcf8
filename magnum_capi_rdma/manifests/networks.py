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
"""The pod network on the RDMA fabric and its address pool.

One object per mode: a MacvlanNetwork (macvlan), HostDeviceNetwork
(sriov), IPoIBNetwork (ipoib) or a NetworkAttachmentDefinition of type
ib-sriov (ib-sriov). The network operator turns the first three into
NetworkAttachmentDefinitions of the same name. Addresses come from an
nv-ipam IPPool limited to the RDMA nodes.
"""

from magnum_capi_rdma.manifests import common

_KINDS = {
    "macvlan": "MacvlanNetwork",
    "sriov": "HostDeviceNetwork",
    "ipoib": "IPoIBNetwork",
    "ib-sriov": "NetworkAttachmentDefinition",
}


def ip_pool(spec, versions):
    """The nv-ipam IPPool the pod network allocates from."""
    body = {
        "subnet": spec.rdma.ip_range,
        "perNodeBlockSize": spec.rdma.ip_block_size,
        "nodeSelector": common.node_selector(spec),
    }
    if spec.rdma.ip_gateway:
        body["gateway"] = spec.rdma.ip_gateway
    return {
        "apiVersion": versions["IPPool"],
        "kind": "IPPool",
        "metadata": {"name": common.pool_name(spec),
                     "namespace": common.OPERATOR_NAMESPACE},
        "spec": body,
    }


def _operator_network(spec, versions, kind):
    rdma = spec.rdma
    body = {"networkNamespace": rdma.attachment_namespace}
    if kind == "MacvlanNetwork":
        body.update({"master": rdma.interface, "mode": "bridge"})
        if rdma.mtu:
            body["mtu"] = rdma.mtu
    elif kind == "IPoIBNetwork":
        body["master"] = rdma.interface
    else:
        body["resourceName"] = "%s/%s" % (common.SRIOV_RESOURCE_PREFIX,
                                          rdma.resource_name)
    body["ipam"] = common.to_json(common.ipam_config(spec))
    return {
        "apiVersion": versions[kind],
        "kind": kind,
        "metadata": {"name": rdma.attachment_name},
        "spec": body,
    }


def ib_sriov_config(spec):
    """The CNI config of the ib-sriov NetworkAttachmentDefinition."""
    config = {
        "cniVersion": "0.3.1",
        "name": spec.rdma.attachment_name,
        "type": "ib-sriov",
        "link_state": "enable",
        "rdmaIsolation": True,
        "ibKubernetesEnabled": True,
        "ipam": common.ipam_config(spec),
    }
    if spec.rdma.pkey:
        config["pkey"] = spec.rdma.pkey
    return config


def _attachment(spec, versions):
    rdma = spec.rdma
    resource = "%s/%s" % (common.SRIOV_RESOURCE_PREFIX, rdma.resource_name)
    return {
        "apiVersion": versions["NetworkAttachmentDefinition"],
        "kind": "NetworkAttachmentDefinition",
        "metadata": {
            "name": rdma.attachment_name,
            "namespace": rdma.attachment_namespace,
            "annotations": {"k8s.v1.cni.cncf.io/resourceName": resource},
        },
        "spec": {"config": common.to_json(ib_sriov_config(spec))},
    }


def network(spec, versions):
    """The network object pods attach to, for the cluster's mode."""
    kind = _KINDS[spec.rdma.mode]
    if kind == "NetworkAttachmentDefinition":
        return _attachment(spec, versions)
    return _operator_network(spec, versions, kind)
