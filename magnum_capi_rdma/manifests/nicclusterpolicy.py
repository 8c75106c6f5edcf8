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
"""The NicClusterPolicy: drivers, device plugins, CNI and IPAM for RDMA.

The network operator acts only on the policy named ``nic-cluster-policy``.
Its DaemonSets are limited to the nodes of the RDMA node groups through
``spec.nodeAffinity``. Which device plugin and CNI a mode needs comes from
``rdma.MODES``.
"""

from magnum_capi_rdma import contract
from magnum_capi_rdma.manifests import common


def _ofed(fabric):
    driver = common.image(fabric, "doca-driver", fabric.ofed_version)
    driver.update({
        "startupProbe": {"initialDelaySeconds": 10, "periodSeconds": 20},
        "livenessProbe": {"initialDelaySeconds": 30, "periodSeconds": 30},
        "readinessProbe": {"initialDelaySeconds": 10, "periodSeconds": 30},
        "upgradePolicy": {
            "autoUpgrade": True,
            "maxParallelUpgrades": 1,
            "drain": {
                "enable": True,
                "force": True,
                "deleteEmptyDir": True,
                "podSelector": "",
                "timeoutSeconds": 300,
            },
        },
    })
    return driver


def shared_device_config(fabric):
    """Config of the RDMA shared device plugin (macvlan)."""
    selectors = {"vendors": [contract.MELLANOX_VENDOR]}
    if fabric.interface:
        selectors["ifNames"] = [fabric.interface]
    return {"configList": [{
        "resourceName": fabric.resource_name,
        "rdmaHcaMax": fabric.hca_max,
        "selectors": selectors,
    }]}


def sriov_device_config(fabric):
    """Config of the SR-IOV device plugin (sriov, ib-sriov)."""
    link = "infiniband" if fabric.infiniband else "ether"
    selectors = {
        "vendors": [contract.MELLANOX_VENDOR],
        "isRdma": True,
        "linkTypes": [link],
    }
    if fabric.interface:
        selectors["pfNames"] = [fabric.interface]
    return {"resourceList": [{
        "resourcePrefix": fabric.info.resource_prefix,
        "resourceName": fabric.resource_name,
        "selectors": selectors,
    }]}


_PLUGINS = {
    "rdmaSharedDevicePlugin": ("k8s-rdma-shared-dev-plugin",
                               shared_device_config),
    "sriovDevicePlugin": ("sriov-network-device-plugin",
                          sriov_device_config),
}


def _secondary_network(fabric):
    network = {
        "multus": common.image(fabric, "multus-cni"),
        "cniPlugins": common.image(fabric, "plugins"),
    }
    if fabric.info.cni == "ipoib":
        network["ipoib"] = common.image(fabric, "ipoib-cni")
    return network


def _ib_kubernetes(fabric):
    config = common.image(fabric, "ib-kubernetes")
    config.update({
        "periodicUpdateSeconds": 5,
        "pKeyGUIDPoolRangeStart": "02:00:00:00:00:00:00:00",
        "pKeyGUIDPoolRangeEnd": "02:FF:FF:FF:FF:FF:FF:FF",
        "ufmSecret": fabric.ufm_secret,
    })
    return config


def build(spec, versions):
    """The NicClusterPolicy of an RDMA cluster."""
    fabric = spec.rdma
    info = fabric.info
    body = {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution":
            common.node_selector(spec),
    }}
    if fabric.ofed_enabled:
        body["ofedDriver"] = _ofed(fabric)
    if info.device_plugin:
        image, config = _PLUGINS[info.device_plugin]
        plugin = common.image(fabric, image)
        plugin["config"] = common.to_json(config(fabric))
        body[info.device_plugin] = plugin
    body["secondaryNetwork"] = _secondary_network(fabric)
    ipam = common.image(fabric, "nvidia-k8s-ipam")
    ipam["enableWebhook"] = False
    body["nvIpam"] = ipam
    if info.needs_ufm:
        body["ibKubernetes"] = _ib_kubernetes(fabric)
    return {
        "apiVersion": versions["NicClusterPolicy"],
        "kind": "NicClusterPolicy",
        "metadata": {"name": contract.NIC_CLUSTER_POLICY_NAME},
        "spec": body,
    }
