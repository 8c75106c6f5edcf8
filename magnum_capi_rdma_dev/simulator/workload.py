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
"""Simulated workload clusters: one real API server per simulated cluster.

SIMULATION for development and tests only: never shipped, never run
against a real management cluster.

Cluster API publishes each workload cluster's API as a kubeconfig Secret,
``<cluster>-kubeconfig``. With :class:`WorkloadServers` given to the
simulator, that Secret points at a real etcd + kube-apiserver (the test
bed's :class:`~magnum_capi_rdma_dev.bed.cluster.ManagementCluster` in a
folder of its own), started lazily once the cluster's infrastructure is
ready (as kubeadm's first control plane node would), with an admin token,
as Cluster API's kubeconfig has an admin certificate. It serves the CRDs
the driver's objects need (NicClusterPolicy, the RDMA networks, IPPool,
NetworkAttachmentDefinition: the pinned upstream ones when
``../shared/upstream`` is there, else permissive stand-ins), and the
:mod:`.kubelets` simulation plays the kubelets, the scheduler, Multus and
the network operator on it. The server stops (and its folder goes) once
the Cluster object is gone.

Why one server per cluster: Nodes, NicClusterPolicies and the other
cluster-scoped kinds cannot be split between tenants of one API server
(RBAC cannot filter a LIST by label, and a cluster-scoped name is unique),
so a shared server would show each cluster the others' nodes. The cost is
one etcd and one kube-apiserver per cluster: about 360 MiB resident on the
bed (kube-apiserver v1.37 about 310 MiB with the upstream CRDs, etcd about
45 MiB) and 3 to 25 s to start on two cores; starts are serialised.

The per-cluster endpoint is the kubeconfig's server, nothing else: when
Cluster API's in-memory provider serves the core kinds and etcd of the
kubeadm control plane, a per-cluster front can send the core API groups
there and the CRD groups here, without the driver or the Secret changing
shape.
"""

import base64
import logging
import os
import pathlib
import shutil
import threading
import time

import yaml

from magnum_capi_rdma_dev.simulator.objects import name_of
from magnum_capi_rdma_dev.simulator.objects import ns_of
from magnum_capi_rdma_dev import upstream as upstream_mod

LOG = logging.getLogger(__name__)

#: CRD folders of ``<upstream>/crds`` a workload cluster serves.
UPSTREAM_CRDS = ("network-operator", "nvidia-k8s-ipam",
                 "network-attachment-definition")

#: Permissive stand-ins when the upstream CRDs are not there:
#: (group, version, kind, plural, scope).
FALLBACK_CRDS = (
    ("mellanox.com", "v1alpha1", "NicClusterPolicy", "nicclusterpolicies",
     "Cluster"),
    ("mellanox.com", "v1alpha1", "MacvlanNetwork", "macvlannetworks",
     "Cluster"),
    ("mellanox.com", "v1alpha1", "HostDeviceNetwork", "hostdevicenetworks",
     "Cluster"),
    ("mellanox.com", "v1alpha1", "IPoIBNetwork", "ipoibnetworks",
     "Cluster"),
    ("nv-ipam.nvidia.com", "v1alpha1", "IPPool", "ippools", "Namespaced"),
    ("nv-ipam.nvidia.com", "v1alpha1", "CIDRPool", "cidrpools",
     "Namespaced"),
    ("k8s.cni.cncf.io", "v1", "NetworkAttachmentDefinition",
     "network-attachment-definitions", "Namespaced"),
)


def fallback_crd(group, version, kind, plural, scope):
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "%s.%s" % (plural, group)},
        "spec": {
            "group": group, "scope": scope,
            "names": {"plural": plural, "singular": kind.lower(),
                      "kind": kind},
            "versions": [{
                "name": version, "served": True, "storage": True,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True}},
            }],
        },
    }


def workload_crds(upstream=None):
    """``(source, [CRD dicts])``: the upstream ones, else the stand-ins."""
    upstream = upstream or upstream_mod.find()
    if upstream is not None:
        found = []
        for folder in UPSTREAM_CRDS:
            for path in sorted((pathlib.Path(upstream) / "crds" /
                                folder).glob("*.yaml")):
                with open(path) as handle:
                    found.extend(doc for doc in yaml.safe_load_all(handle)
                                 if doc and doc.get("kind") ==
                                 "CustomResourceDefinition")
        if found:
            return "upstream %s" % upstream, found
    return "stand-ins", [fallback_crd(*row) for row in FALLBACK_CRDS]


def rss_mib(pid):
    """Resident memory of a process in MiB (0 if gone)."""
    try:
        with open("/proc/%d/status" % pid) as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


class WorkloadServer(object):
    """The API server of one simulated workload cluster."""

    def __init__(self, namespace, cluster, workdir, crds):
        self.namespace = namespace
        self.cluster = cluster
        self.workdir = workdir
        self.crds = crds
        self.state = "new"           # starting, ready, failed, stopped
        self.error = None
        self.failed_at = None
        self.bed = None
        self.api_client = None
        self.kubeconfig = None
        self.started_in = None
        self.simulation = None       # the kubelets' state (kubelets.py)

    @property
    def key(self):
        return (self.namespace, self.cluster)

    def start(self):
        """Start etcd + kube-apiserver, install the CRDs (blocking)."""
        from kubernetes import client
        from kubernetes import config

        from magnum_capi_rdma_dev.bed import cluster as bed_cluster

        began = time.monotonic()
        self.bed = bed_cluster.ManagementCluster(self.workdir)
        self.bed.start()
        self.api_client = config.new_client_from_config(self.bed.kubeconfig)
        ext = client.ApiextensionsV1Api(self.api_client)
        for crd in self.crds:
            try:
                ext.create_custom_resource_definition(crd)
            except client.ApiException as exc:
                if exc.status != 409:
                    raise
        deadline = time.monotonic() + 180
        for crd in self.crds:
            name = crd["metadata"]["name"]
            while not any(
                    c.type == "Established" and c.status == "True"
                    for c in ext.read_custom_resource_definition(
                        name).status.conditions or ()):
                if time.monotonic() > deadline:
                    raise RuntimeError("CRD %s not established" % name)
                time.sleep(0.1)
        with open(self.bed.ca_file, "rb") as ca:
            ca_pem = ca.read()
        user = "%s-admin" % self.cluster
        text = bed_cluster.kubeconfig_dict(self.bed.server, ca_pem,
                                           self.bed.admin_token, user)
        text["clusters"][0]["name"] = self.cluster
        text["contexts"] = [{"name": "%s@%s" % (user, self.cluster),
                             "context": {"cluster": self.cluster,
                                         "user": user}}]
        text["current-context"] = "%s@%s" % (user, self.cluster)
        self.kubeconfig = yaml.safe_dump(text, default_flow_style=False)
        self.started_in = time.monotonic() - began
        self.state = "ready"

    def memory_mib(self):
        """{process: resident MiB} of this server's processes."""
        if self.bed is None:
            return {}
        return {name: rss_mib(pid) for name, pid in self.bed.pids().items()}

    def stop(self, remove=True):
        if self.api_client is not None:
            self.api_client.close()
            self.api_client = None
        if self.bed is not None:
            self.bed.stop()
        if remove and self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.state = "stopped"


class WorkloadServers(object):
    """Real workload API servers for the simulator's clusters.

    :param root: folder of the servers' data (one sub-folder per
        ``<namespace>/<cluster>``), kept across simulator restarts so a
        cluster keeps its objects and, while its ports are free, its
        kubeconfig; None: a temporary folder removed by :meth:`stop_all`.
    :param upstream: the upstream artefacts' folder (default: found as the
        tests find it); without it permissive stand-in CRDs are served.
    :param retry_after: seconds before a server that failed to start is
        tried again.
    """

    def __init__(self, root=None, upstream=None, retry_after=30.0):
        import tempfile

        from magnum_capi_rdma_dev.bed import tools

        # The binaries are found now: a later change of HOME (Magnum's
        # test cases point it at a temporary folder) must not lose them.
        os.environ.setdefault("MAGNUM_CAPI_RDMA_CACHE", tools.cache_dir())
        self._own_root = root is None
        self.root = os.path.abspath(root or tempfile.mkdtemp(
            prefix="capi-rdma-workloads-"))
        os.makedirs(self.root, exist_ok=True)
        self.crd_source, self.crds = workload_crds(upstream)
        self.retry_after = retry_after
        self._servers = {}
        self._lock = threading.Lock()
        self._starting = threading.Semaphore(1)
        self._reaped_leftovers = False
        self.simulated = {}          # key -> kubelets.ClusterSimulation
        #: (namespace, cluster, seconds to start, {process: MiB}) of every
        #: server started, for reports.
        self.started = []
        LOG.info("workload clusters: one API server per cluster under %s "
                 "(CRDs: %s)", self.root, self.crd_source)

    def _dir(self, namespace, cluster):
        return os.path.join(self.root, namespace, cluster)

    def server(self, namespace, cluster):
        with self._lock:
            return self._servers.get((namespace, cluster))

    def ready(self):
        """The servers that are up, by ``(namespace, cluster)``."""
        with self._lock:
            return {k: s for k, s in self._servers.items()
                    if s.state == "ready"}

    def kubeconfig(self, namespace, cluster):
        """The cluster's kubeconfig text; None while it starts.

        The first call starts the server in the background.
        """
        with self._lock:
            server = self._servers.get((namespace, cluster))
            if server is not None and server.state == "failed" and (
                    time.monotonic() - server.failed_at > self.retry_after):
                server = None
            if server is None:
                server = WorkloadServer(namespace, cluster,
                                        self._dir(namespace, cluster),
                                        self.crds)
                server.state = "starting"
                self._servers[server.key] = server
                threading.Thread(target=self._start, args=(server,),
                                 name="workload-%s" % cluster,
                                 daemon=True).start()
            return server.kubeconfig if server.state == "ready" else None

    def _start(self, server):
        with self._starting:
            if server.state != "starting":
                return
            try:
                server.start()
                self.started.append((server.namespace, server.cluster,
                                     server.started_in,
                                     server.memory_mib()))
                LOG.info("workload cluster %s/%s: API server %s ready in "
                         "%.1fs", server.namespace, server.cluster,
                         server.bed.server, server.started_in)
            except Exception as exc:
                server.error = str(exc).splitlines()[0][:300]
                server.failed_at = time.monotonic()
                server.state = "failed"
                LOG.warning("workload cluster %s/%s: API server did not "
                            "start: %s", server.namespace, server.cluster,
                            server.error)
                try:
                    server.stop(remove=False)
                except Exception:  # nothing more to do
                    pass
                server.state = "failed"

    def reap(self, alive):
        """Stop the servers of clusters not in ``alive`` (keys)."""
        with self._lock:
            gone = [s for k, s in self._servers.items()
                    if k not in alive and s.state in ("ready", "failed")]
            for server in gone:
                del self._servers[server.key]
                self.simulated.pop(server.key, None)
            leftovers = []
            if not self._reaped_leftovers:
                self._reaped_leftovers = True
                leftovers = self._leftover_dirs(alive)
        for server in gone:
            LOG.info("workload cluster %s/%s: Cluster gone, stopping its "
                     "API server", server.namespace, server.cluster)
            server.stop()
        for path in leftovers:
            LOG.info("workload cluster folder %s: its Cluster is gone, "
                     "removed", path)
            shutil.rmtree(path, ignore_errors=True)

    def _leftover_dirs(self, alive):
        """Folders of an earlier run whose clusters are gone."""
        found = []
        for namespace in sorted(os.listdir(self.root)):
            ns_dir = os.path.join(self.root, namespace)
            if not os.path.isdir(ns_dir):
                continue
            for cluster in sorted(os.listdir(ns_dir)):
                key = (namespace, cluster)
                if key not in alive and key not in self._servers:
                    found.append(os.path.join(ns_dir, cluster))
        return found

    def memory_mib(self):
        """{"ns/cluster": {process: MiB}} of the running servers."""
        return {"%s/%s" % k: s.memory_mib() for k, s in self.ready().items()}

    def stop_all(self, remove=None):
        """Stop every server (its data stays unless the root is ours)."""
        remove = self._own_root if remove is None else remove
        with self._lock:
            servers = list(self._servers.values())
            self._servers.clear()
            self.simulated.clear()
        for server in servers:
            if server.state in ("ready", "failed", "starting"):
                try:
                    server.stop(remove=remove)
                except Exception as exc:  # keep stopping the others
                    LOG.warning("workload cluster %s/%s: %s",
                                server.namespace, server.cluster, exc)
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- the simulator's hooks ------------------------------------------

    def kubeconfig_for(self, cluster_obj):
        """The kubeconfig the Secret of this Cluster should carry."""
        return self.kubeconfig(ns_of(cluster_obj), name_of(cluster_obj))

    def refresh_secret(self, sim, snap, cluster_obj, text):
        """Rewrite a kubeconfig Secret that names an old server.

        After a simulator restart on other ports the Secret the driver
        reads must follow, as Cluster API rotates it.
        """
        namespace, name = ns_of(cluster_obj), name_of(cluster_obj)
        secret = snap.secrets.get((namespace, "%s-kubeconfig" % name))
        if secret is None:
            return
        data = (secret.get("data") if isinstance(secret, dict)
                else secret.data) or {}
        current = base64.b64decode(data.get("value") or b"").decode(
            errors="replace")
        if current == text:
            return
        sim.core.patch_namespaced_secret(
            "%s-kubeconfig" % name, namespace,
            {"data": {"value": base64.b64encode(text.encode()).decode()}})
        LOG.info("Secret %s/%s-kubeconfig: points at the workload API "
                 "server", namespace, name)

    def step(self, sim, snap):
        """Play the workload clusters' kubelets and operators once."""
        from magnum_capi_rdma_dev.simulator import kubelets

        alive = {(ns_of(c), name_of(c)) for c in snap.items("cluster")}
        self.reap(alive)
        for key, server in self.ready().items():
            cluster = snap.get("cluster", key[0], key[1])
            if cluster is None:
                continue
            simulation = self.simulated.get(key)
            if simulation is None or simulation.server is not server:
                simulation = kubelets.ClusterSimulation(server)
                self.simulated[key] = simulation
            if sim.faults(key[0], key[1]).get("stall"):
                continue
            try:
                simulation.step(sim, snap, cluster)
            except Exception as exc:  # the server may be restarting
                from magnum_capi_rdma_dev.simulator import base

                LOG.log(logging.DEBUG if base.tolerated(exc) else
                        logging.WARNING, "workload cluster %s/%s: %s (next "
                        "step)", key[0], key[1], base.short_error(exc))
