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
"""A workload cluster, reached as Cluster API publishes it (shell).

The workload cluster is reached through the kubeconfig Secret that Cluster
API writes (``<release>-kubeconfig``, key ``value``). :func:`connect`
gives the cluster's :class:`WorkloadCluster`; health reads the
NicClusterPolicy's state and the nodes' allocatable RDMA resource
(:func:`rdma_observation`), and the RDMA self-test lists, creates and
deletes its pods. Every request is bounded by ``[capi_rdma]
workload_api_timeout``.

One client per workload cluster is reused from pass to pass
(:class:`Clients`): the kubeconfig Secret is read once, and the client's
keep-alive connection spares a TLS handshake per pass. Its key stays in
memory only (an SSL context loaded from a private temporary folder that is
removed at once). The Secret is read again when the client fails (the
API refused its credentials, or could not be reached: Cluster API may
have rotated the kubeconfig) and at the latest after
:data:`CLIENT_MAX_AGE` seconds. The driver cannot watch Secrets: its
cluster-wide role reads no Secret anywhere (etc/rbac), so the Secret's
changes are not followed as they happen.
"""

import contextlib
import json
import os
import tempfile
import threading
import time

from oslo_config import cfg
import urllib3
import yaml

from magnum_capi_rdma.adapters import lazy
from magnum_capi_rdma.adapters import rest
from magnum_capi_rdma import contract
from magnum_capi_rdma import health

CONF = cfg.CONF
# Imported on first use (see .lazy).
kubernetes = lazy.Module("kubernetes")


class Unavailable(Exception):
    """The workload cluster cannot be reached (the message says why)."""


class WorkloadError(Exception):
    """A request to the workload cluster failed."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


#: Seconds a workload client is reused before its kubeconfig is read again.
CLIENT_MAX_AGE = 3600.0
#: Seconds an unused client is kept (a deleted cluster's goes).
CLIENT_MAX_IDLE = 900.0


def _read(path):
    if not path:
        return None
    with open(path, "rb") as f:
        return f.read()


def _client_for(kubeconfig_text, private_dir):
    """An ApiClient of a kubeconfig, its key in memory only.

    The kubernetes client writes inline keys to files in private_dir
    (removed by the caller) and would read them again for every new
    connection; its connection pool is replaced by one whose SSL context
    has them loaded already.
    """
    config = kubernetes.client.Configuration()
    path = os.path.join(private_dir, "kubeconfig")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(kubeconfig_text)
    kubernetes.config.load_kube_config(
        config_file=path, client_configuration=config,
        temp_file_path=private_dir)
    config.retries = 0
    api_client = kubernetes.client.ApiClient(config)
    context = rest.ssl_context(
        _read(config.ssl_ca_cert), _read(config.cert_file),
        _read(config.key_file), insecure=not config.verify_ssl)
    api_client.rest_client.pool_manager = urllib3.PoolManager(
        num_pools=2, maxsize=4, retries=False, ssl_context=context,
        server_hostname=getattr(config, "tls_server_name", None))
    return api_client


class _Entry(object):
    def __init__(self, workload, made):
        self.workload = workload
        self.made = made
        self.used = made


class Clients(object):
    """One :class:`WorkloadCluster` per workload cluster, reused.

    ``secret_reads`` and ``made`` count kubeconfig reads and clients made;
    :meth:`connections` counts the TLS connections the clients opened.
    """

    def __init__(self, clock=time.monotonic, max_age=CLIENT_MAX_AGE,
                 max_idle=CLIENT_MAX_IDLE):
        self._clock = clock
        self._max_age = max_age
        self._max_idle = max_idle
        self._lock = threading.Lock()
        self._entries = {}
        self._pid = os.getpid()
        self.secret_reads = 0
        self.made = 0
        self.dropped = 0

    def get(self, kube, namespace, release):
        """The release's client; Unavailable without a usable kubeconfig."""
        key = (namespace, release)
        now = self._clock()
        with self._lock:
            if self._pid != os.getpid():    # forked: not our sockets
                self._entries, self._pid = {}, os.getpid()
            old = [k for k, e in self._entries.items()
                   if now - e.used > self._max_idle and k != key]
            idle = [self._entries.pop(k) for k in old]
            entry = self._entries.get(key)
            if entry is not None and now - entry.made <= self._max_age:
                entry.used = now
                fresh = entry.workload
            else:
                fresh = None
        for gone in idle:
            gone.workload.close()
        if fresh is not None:
            return fresh
        self.secret_reads += 1
        secret = kube.get_secret(namespace, "%s-kubeconfig" % release)
        if not secret or not secret.get("value"):
            raise Unavailable("workload cluster kubeconfig not available yet")
        with tempfile.TemporaryDirectory(prefix="capi-rdma-") as private_dir:
            try:
                yaml.safe_load(secret["value"])
                api_client = _client_for(secret["value"], private_dir)
            except Exception:
                raise Unavailable("workload cluster kubeconfig is not valid")
        workload = WorkloadCluster(api_client)
        with self._lock:
            replaced = self._entries.pop(key, None)
            self._entries[key] = _Entry(workload, now)
            self.made += 1
        if replaced is not None:
            replaced.workload.close()
        return workload

    def drop(self, namespace, release, workload=None):
        """Forget a release's client (the next use reads the Secret)."""
        with self._lock:
            entry = self._entries.get((namespace, release))
            if entry is None or (workload is not None and
                                 entry.workload is not workload):
                return
            del self._entries[(namespace, release)]
            self.dropped += 1
        entry.workload.close()

    def connections(self, namespace=None, release=None):
        """TLS connections opened by the clients (of one release)."""
        with self._lock:
            entries = [e for k, e in self._entries.items()
                       if release is None or k == (namespace, release)]
        return sum(e.workload.connections() for e in entries)

    def stats(self):
        with self._lock:
            clients = len(self._entries)
        return {"clients": clients, "secret_reads": self.secret_reads,
                "made": self.made, "dropped": self.dropped,
                "connections": self.connections()}

    def close(self):
        with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
        for entry in entries:
            entry.workload.close()


#: The process's clients.
CLIENTS = Clients()


@contextlib.contextmanager
def connect(kube, namespace, release, clients=None):
    """The :class:`WorkloadCluster` of a release; Unavailable if none.

    The client is the one :class:`Clients` keeps for the release; one that
    failed during the ``with`` block is dropped, so that the next use
    reads the kubeconfig Secret again.
    """
    clients = CLIENTS if clients is None else clients
    workload = clients.get(kube, namespace, release)
    try:
        yield workload
    finally:
        if workload.failed:
            clients.drop(namespace, release, workload)


class WorkloadCluster(object):
    """Short requests to one workload cluster (dicts in, dicts out)."""

    def __init__(self, api_client):
        self.api_client = api_client
        self.core = kubernetes.client.CoreV1Api(api_client)
        self.custom = kubernetes.client.CustomObjectsApi(api_client)
        self.timeout = CONF.capi_rdma.workload_api_timeout
        #: A request failed for want of the server or of credentials.
        self.failed = False

    def connections(self):
        """Connections (TLS handshakes) the client has opened."""
        pools = self.api_client.rest_client.pool_manager.pools
        return sum(pools[key].num_connections for key in list(pools.keys()))

    def close(self):
        self.api_client.rest_client.pool_manager.clear()
        self.api_client.close()

    def _dict(self, obj):
        return self.api_client.sanitize_for_serialization(obj)

    def _call(self, what, func, *args, **kwargs):
        try:
            return func(*args, _request_timeout=self.timeout, **kwargs)
        except kubernetes.client.ApiException as exc:
            if exc.status in (401, 403):
                self.failed = True
            raise WorkloadError("%s: HTTP %s %s%s" % (
                what, exc.status, exc.reason, _message(exc)),
                status=exc.status)
        except Exception as exc:
            self.failed = True
            raise WorkloadError("%s: workload cluster API unreachable (%s)"
                                % (what, exc.__class__.__name__))

    def policy_state(self):
        """The NicClusterPolicy's status.state; None if there is none."""
        group, version = CONF.capi_rdma.nic_cluster_policy_api_version.split(
            "/", 1)
        try:
            policy = self._call(
                "reading the NicClusterPolicy",
                self.custom.get_cluster_custom_object, group, version,
                "nicclusterpolicies", contract.NIC_CLUSTER_POLICY_NAME)
        except WorkloadError as exc:
            if exc.status == 404:
                return None
            raise
        return (policy.get("status") or {}).get("state") or "unknown"

    def nodes(self):
        """Every Node, as dicts."""
        result = self._call("listing nodes", self.core.list_node)
        return [self._dict(node) for node in result.items]

    def pods(self, label_selector):
        """Matching Pods of every namespace, as dicts."""
        result = self._call("listing pods",
                            self.core.list_pod_for_all_namespaces,
                            label_selector=label_selector)
        return [self._dict(pod) for pod in result.items]

    def create_pod(self, body):
        """Create a Pod; False if it exists already."""
        meta = body["metadata"]
        try:
            self._call("creating pod %s/%s" % (meta["namespace"],
                                               meta["name"]),
                       self.core.create_namespaced_pod, meta["namespace"],
                       body)
        except WorkloadError as exc:
            if exc.status == 409:
                return False
            raise
        return True

    def delete_pod(self, namespace, name):
        """Delete a Pod; False if it was gone."""
        try:
            self._call("deleting pod %s/%s" % (namespace, name),
                       self.core.delete_namespaced_pod, name, namespace)
        except WorkloadError as exc:
            if exc.status == 404:
                return False
            raise
        return True


def _message(exc):
    """The API server's message in an ApiException, as ": ..." or ""."""
    try:
        body = json.loads(exc.body or "{}")
    except (TypeError, ValueError):
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return ": %s" % " ".join(str(message).split())[:300] if message else ""


def observe(workload, resource, expected_nodes, nodes=None):
    """An :class:`~magnum_capi_rdma.health.RdmaObservation` (never raises).

    ``nodes``: the Node dicts if already listed.
    """
    try:
        state = workload.policy_state()
        advertising = None
        if resource:
            if nodes is None:
                nodes = workload.nodes()
            advertising = sum(
                1 for node in nodes
                if _quantity(((node.get("status") or {}).get(
                    "allocatable") or {}).get(resource)) > 0)
    except WorkloadError as exc:
        return health.RdmaObservation(
            resource_name=resource, nodes_expected=expected_nodes,
            error=_unreachable(exc))
    return health.RdmaObservation(
        policy_state=state, resource_name=resource,
        nodes_expected=expected_nodes, nodes_advertising=advertising)


def _unreachable(exc):
    text = str(exc)
    if "unreachable" in text:
        return "workload cluster API unreachable (%s)" % text.rsplit(
            "(", 1)[-1].rstrip(")")
    return text


def rdma_observation(kube, namespace, release, spec, expected_nodes):
    """An :class:`magnum_capi_rdma.health.RdmaObservation` for a cluster."""
    resource = getattr(spec, "rdma_resource", None)
    try:
        with connect(kube, namespace, release) as workload:
            return observe(workload, resource, expected_nodes)
    except Unavailable as exc:
        return health.RdmaObservation(
            resource_name=resource, nodes_expected=expected_nodes,
            error=str(exc))


def _quantity(value):
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0
