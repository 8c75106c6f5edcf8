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
"""RDMA readiness read from a workload cluster (shell).

The workload cluster is reached through the kubeconfig Secret that Cluster
API writes (``<release>-kubeconfig``, key ``value``). Two reads, both short:
the NicClusterPolicy's state and the nodes' allocatable RDMA resource.
"""

import tempfile

import kubernetes
from oslo_config import cfg
import yaml

from magnum_capi_rdma import health

CONF = cfg.CONF

NIC_CLUSTER_POLICY = "nic-cluster-policy"


def _client_for(kubeconfig_text):
    config = kubernetes.client.Configuration()
    with tempfile.NamedTemporaryFile("w", suffix=".kubeconfig") as f:
        f.write(kubeconfig_text)
        f.flush()
        kubernetes.config.load_kube_config(
            config_file=f.name, client_configuration=config)
    config.retries = 0
    return kubernetes.client.ApiClient(config)


def rdma_observation(kube, namespace, release, spec, expected_nodes):
    """An :class:`magnum_capi_rdma.health.RdmaObservation` for a cluster."""
    resource = getattr(spec, "rdma_resource", None)
    secret = kube.get_secret(namespace, "%s-kubeconfig" % release)
    if not secret or not secret.get("value"):
        return health.RdmaObservation(
            resource_name=resource, nodes_expected=expected_nodes,
            error="workload cluster kubeconfig not available yet")
    try:
        yaml.safe_load(secret["value"])
        api_client = _client_for(secret["value"])
    except Exception:
        return health.RdmaObservation(
            resource_name=resource, nodes_expected=expected_nodes,
            error="workload cluster kubeconfig is not valid")
    timeout = CONF.capi_rdma.workload_api_timeout
    group, version = CONF.capi_rdma.nic_cluster_policy_api_version.split(
        "/", 1)
    try:
        with api_client:
            custom = kubernetes.client.CustomObjectsApi(api_client)
            try:
                policy = custom.get_cluster_custom_object(
                    group, version, "nicclusterpolicies",
                    NIC_CLUSTER_POLICY, _request_timeout=timeout)
                state = (policy.get("status") or {}).get("state") or \
                    "unknown"
            except kubernetes.client.ApiException as exc:
                if exc.status != 404:
                    raise
                state = None
            advertising = None
            if resource:
                nodes = kubernetes.client.CoreV1Api(api_client).list_node(
                    _request_timeout=timeout)
                advertising = sum(
                    1 for node in nodes.items
                    if _quantity((node.status.allocatable or {}).get(
                        resource)) > 0)
    except Exception as exc:
        return health.RdmaObservation(
            resource_name=resource, nodes_expected=expected_nodes,
            error="workload cluster API unreachable (%s)" %
            exc.__class__.__name__)
    return health.RdmaObservation(
        policy_state=state, resource_name=resource,
        nodes_expected=expected_nodes, nodes_advertising=advertising)


def _quantity(value):
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0
