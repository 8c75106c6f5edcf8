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

import os
import tempfile

import kubernetes
from oslo_config import cfg
import yaml

from magnum_capi_rdma import contract
from magnum_capi_rdma import health

CONF = cfg.CONF


def _client_for(kubeconfig_text, private_dir):
    """An ApiClient whose key and certificate files live in private_dir.

    The kubernetes client writes inline keys to files; keeping them in a
    private temporary folder that the caller removes means no workload
    cluster key outlives the health check.
    """
    config = kubernetes.client.Configuration()
    path = os.path.join(private_dir, "kubeconfig")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(kubeconfig_text)
    kubernetes.config.load_kube_config(
        config_file=path, client_configuration=config,
        temp_file_path=private_dir)
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
    with tempfile.TemporaryDirectory(prefix="capi-rdma-") as private_dir:
        try:
            yaml.safe_load(secret["value"])
            api_client = _client_for(secret["value"], private_dir)
        except Exception:
            return health.RdmaObservation(
                resource_name=resource, nodes_expected=expected_nodes,
                error="workload cluster kubeconfig is not valid")
        return _observe(api_client, resource, expected_nodes)


def _observe(api_client, resource, expected_nodes):
    timeout = CONF.capi_rdma.workload_api_timeout
    group, version = CONF.capi_rdma.nic_cluster_policy_api_version.split(
        "/", 1)
    try:
        with api_client:
            custom = kubernetes.client.CustomObjectsApi(api_client)
            try:
                policy = custom.get_cluster_custom_object(
                    group, version, "nicclusterpolicies",
                    contract.NIC_CLUSTER_POLICY_NAME,
                    _request_timeout=timeout)
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
