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
"""Names fixed by the components the driver talks to, in one place.

Chart-contract strings (labels the ``openstack-cluster`` chart puts on
what it renders), Cluster API's own labels and annotations, the network
operator's fixed names, and the driver's ownership labels. Nothing else
in the package spells these strings.
"""

# -- the openstack-cluster chart (azimuth-cloud/capi-helm-charts) --
#: On every Cluster API object the chart renders: the Helm release name.
CHART_CLUSTER_LABEL = "capi.stackhpc.com/cluster"
#: On machines and MachineDeployments of a node group, and on its Nodes.
CHART_NODE_GROUP_LABEL = "capi.stackhpc.com/node-group"
#: ``control-plane`` on the control plane's machines.
CHART_COMPONENT_LABEL = "capi.stackhpc.com/component"
CHART_CONTROL_PLANE_COMPONENT = "control-plane"
#: The name of a release's KubeadmControlPlane (``% release``).
CHART_CONTROL_PLANE_NAME = "%s-control-plane"

# -- Cluster API --
CAPI_CLUSTER_NAME_LABEL = "cluster.x-k8s.io/cluster-name"
CAPI_CONTROL_PLANE_LABEL = "cluster.x-k8s.io/control-plane"
#: MachineSets delete annotated machines first on scale-down.
CAPI_DELETE_MACHINE_ANNOTATION = "cluster.x-k8s.io/delete-machine"
CAPI_SECRET_TYPE = "cluster.x-k8s.io/secret"

# -- NVIDIA network operator --
#: The operator reconciles only the NicClusterPolicy of this name.
NIC_CLUSTER_POLICY_NAME = "nic-cluster-policy"
#: Release namespace of the chart's mellanoxNetworkOperator add-on; nv-ipam
#: reads IPPools from it and ib-kubernetes the UFM Secret.
NETWORK_OPERATOR_NAMESPACE = "network-operator"
#: PCI vendor id of Mellanox / NVIDIA networking.
MELLANOX_VENDOR = "15b3"

# -- Multus (the network operator's secondary networks) --
#: On a pod: the networks to attach, ``<namespace>/<name>`` of each.
MULTUS_NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks"
#: Written by Multus on a pod: its interfaces and addresses (JSON list).
MULTUS_NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status"

# -- the driver's own marks --
OWNER_LABEL = "magnum.openstack.org/managed-by"
OWNER_VALUE = "magnum-capi-rdma"
OWNER_SELECTOR = "%s=%s" % (OWNER_LABEL, OWNER_VALUE)
#: The field manager of the fields the driver applies itself (server-side
#: apply) on objects the chart renders.
FIELD_MANAGER = "magnum-capi-rdma"
CLUSTER_UUID_LABEL = "magnum.openstack.org/cluster-uuid"
PROJECT_LABEL = "magnum.openstack.org/project-id"
#: On the cloud credentials Secret: the users whose application
#: credentials back the cluster, comma separated.
OWNERS_ANNOTATION = "capi-rdma.magnum.openstack.org/app-credential-owner"

# -- Kubernetes --
#: Pod Security admission's enforced level of a namespace.
POD_SECURITY_ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
#: Well-known label of a Node: its host name (the kubelet sets it).
HOSTNAME_LABEL = "kubernetes.io/hostname"
