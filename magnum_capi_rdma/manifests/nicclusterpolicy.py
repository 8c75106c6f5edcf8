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
``spec.nodeAffinity``.
"""

from magnum_capi_rdma.manifests import common

NAME = "nic-cluster-policy"


def _ofed(spec):
    driver = common.image(spec, "doca-driver", spec.rdma.ofed_version)
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


def shared_device_config(spec):
    """Config of the RDMA shared device plugin (macvlan)."""
    selectors = {"vendors": [common.MELLANOX_VENDOR]}
    if spec.rdma.interface:
        selectors["ifNames"] = [spec.rdma.interface]
    return {"configList": [{
        "resourceName": spec.rdma.resource_name,
        "rdmaHcaMax": spec.rdma.hca_max,
        "selectors": selectors,
    }]}


def sriov_device_config(spec):
    """Config of the SR-IOV device plugin (sriov, ib-sriov)."""
    link = "infiniband" if spec.rdma.infiniband else "ether"
    selectors = {
        "vendors": [common.MELLANOX_VENDOR],
        "isRdma": True,
        "linkTypes": [link],
    }
    if spec.rdma.interface:
        selectors["pfNames"] = [spec.rdma.interface]
    return {"resourceList": [{
        "resourcePrefix": common.SRIOV_RESOURCE_PREFIX,
        "resourceName": spec.rdma.resource_name,
        "selectors": selectors,
    }]}


def _secondary_network(spec):
    network = {
        "multus": common.image(spec, "multus-cni"),
        "cniPlugins": common.image(spec, "plugins"),
    }
    if spec.rdma.mode == "ipoib":
        network["ipoib"] = common.image(spec, "ipoib-cni")
    return network


def _ib_kubernetes(spec):
    config = common.image(spec, "ib-kubernetes")
    config.update({
        "periodicUpdateSeconds": 5,
        "pKeyGUIDPoolRangeStart": "02:00:00:00:00:00:00:00",
        "pKeyGUIDPoolRangeEnd": "02:FF:FF:FF:FF:FF:FF:FF",
        "ufmSecret": spec.rdma.ufm_secret,
    })
    return config


def build(spec, versions):
    """The NicClusterPolicy of an RDMA cluster."""
    mode = spec.rdma.mode
    body = {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution":
            common.node_selector(spec),
    }}
    if spec.rdma.ofed_enabled:
        body["ofedDriver"] = _ofed(spec)
    if mode == "macvlan":
        plugin = common.image(spec, "k8s-rdma-shared-dev-plugin")
        plugin["config"] = common.to_json(shared_device_config(spec))
        body["rdmaSharedDevicePlugin"] = plugin
    elif mode in ("sriov", "ib-sriov"):
        plugin = common.image(spec, "sriov-network-device-plugin")
        plugin["config"] = common.to_json(sriov_device_config(spec))
        body["sriovDevicePlugin"] = plugin
    body["secondaryNetwork"] = _secondary_network(spec)
    ipam = common.image(spec, "nvidia-k8s-ipam")
    ipam["enableWebhook"] = False
    body["nvIpam"] = ipam
    if mode == "ib-sriov":
        body["ibKubernetes"] = _ib_kubernetes(spec)
    return {
        "apiVersion": versions["NicClusterPolicy"],
        "kind": "NicClusterPolicy",
        "metadata": {"name": NAME},
        "spec": body,
    }
