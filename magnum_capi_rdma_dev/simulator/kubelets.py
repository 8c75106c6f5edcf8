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
"""Simulated kubelets, scheduler, Multus, nv-ipam, the network operator and
perftest of one workload cluster.

SIMULATION for development and tests only: never shipped, never run
against a real cluster. Nothing runs on any node and no RDMA device
exists: this module writes into a real workload API server (see
:mod:`.workload`) what those components would write, so that the driver
reads the same objects as on a real site.

Per step, for one cluster:

- the add-on provider's install of the cluster's Deployed Manifests
  add-ons: their objects (NicClusterPolicy, IPPool, the RDMA network, its
  namespace) are created in the workload cluster;
- the network operator: the NicClusterPolicy's ``status.state`` goes
  ``ready`` after the ``rdma_operator`` delay (fault
  ``rdma_policy_state``: stays at that state); a NetworkAttachmentDefinition
  for each MacvlanNetwork, HostDeviceNetwork and IPoIBNetwork;
- the kubelets: one Node per Machine with a nodeRef (its provider ID,
  addresses, the node group label, ``Ready``), with the RDMA resource of
  the policy's device plugin in its capacity once the policy is ready, on
  the nodes its ``nodeAffinity`` selects (fault ``rdma_resource_missing``:
  never);
- the scheduler: pods are bound to a node that matches their node
  selector, tolerates its taints and has their extended resources left;
  else ``PodScheduled`` is False with the scheduler's kind of message;
- Multus and nv-ipam: a scheduled pod gets an address of the IPPool of
  each network it asks for (``k8s.v1.cni.cncf.io/network-status``), or
  waits in ContainerCreating when the network does not exist;
- perftest: a pod whose container says ``SELFTEST_ROLE`` (the driver's
  self-test) ends after the ``perftest`` delay with the report its script
  would write, marked ``note=simulated``; the faults
  ``rdma_fabric_failure``, ``rdma_bandwidth_gbps``, ``rdma_latency_us``
  and ``rdma_selftest_hang`` make it fail, slow or never end. Other pods
  just run; ``activeDeadlineSeconds`` is enforced; a deleted pod goes at
  once (the kubelet confirms).
"""

import copy
import datetime
import hashlib
import ipaddress
import json
import logging
import time

from magnum_capi_rdma_dev.simulator.objects import deleting
from magnum_capi_rdma_dev.simulator.objects import labels_of
from magnum_capi_rdma_dev.simulator.objects import meta
from magnum_capi_rdma_dev.simulator.objects import name_of
from magnum_capi_rdma_dev.simulator.objects import ns_of
from magnum_capi_rdma_dev.simulator.objects import spec_of
from magnum_capi_rdma_dev.simulator.objects import status_of

LOG = logging.getLogger(__name__)

#: On every Node the simulation makes.
SIMULATED_ANNOTATION = "simulator.magnum-capi-rdma.openstack.org/simulated"
#: What every simulated perftest report says.
NOTE = ("simulated by magnum_capi_rdma_dev: no RDMA hardware, the figures "
        "are made up")

NODE_GROUP_LABEL = "capi.stackhpc.com/node-group"
CONTROL_PLANE_LABEL = "cluster.x-k8s.io/control-plane"
CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane"
NETWORKS = "k8s.v1.cni.cncf.io/networks"
NETWORK_STATUS = "k8s.v1.cni.cncf.io/network-status"
POLICY = ("mellanox.com", "v1alpha1", "nicclusterpolicies",
          "nic-cluster-policy")
NETWORK_KINDS = (("macvlannetworks", "macvlan"),
                 ("hostdevicenetworks", "host-device"),
                 ("ipoibnetworks", "ipoib"))
NAD = ("k8s.cni.cncf.io", "v1", "network-attachment-definitions")
IPPOOL = ("nv-ipam.nvidia.com", "v1alpha1", "ippools")
IPAM_NAMESPACE = "network-operator"
#: Virtual functions a simulated SR-IOV device plugin advertises.
SRIOV_VFS = 8
NODE_CAPACITY = {"cpu": "8", "memory": "32Gi", "pods": "110",
                 "ephemeral-storage": "100Gi"}

BW_HEADER = (" #bytes     #iterations    BW peak[Gb/sec]    "
             "BW average[Gb/sec]   MsgRate[Mpps]")
LAT_HEADER = (" #bytes #iterations    t_min[usec]    t_max[usec]  "
              "t_typical[usec]    t_avg[usec]    t_stdev[usec]   "
              "99% percentile[usec]   99.9% percentile[usec] ")


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _iso(when=None):
    return (when or _now()).strftime("%Y-%m-%dT%H:%M:%SZ")


def _time(text):
    try:
        return datetime.datetime.strptime(
            text, "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return None


def matches_terms(labels, terms):
    """A core NodeSelector's terms against a node's labels."""
    if not terms:
        return True
    for term in terms:
        ok = True
        for expr in term.get("matchExpressions") or ():
            value = labels.get(expr.get("key"))
            values = expr.get("values") or ()
            op = expr.get("operator")
            if op == "In":
                ok = value in values
            elif op == "NotIn":
                ok = value not in values
            elif op == "Exists":
                ok = expr.get("key") in labels
            elif op == "DoesNotExist":
                ok = expr.get("key") not in labels
            else:
                ok = False
            if not ok:
                break
        if ok:
            return True
    return False


def device_plugin_resources(policy_spec):
    """{resource: count per node} the policy's device plugin advertises."""
    found = {}
    shared = policy_spec.get("rdmaSharedDevicePlugin")
    if shared:
        try:
            config = json.loads(shared.get("config") or "{}")
        except ValueError:
            config = {}
        for item in config.get("configList") or ():
            if item.get("resourceName"):
                found["rdma/%s" % item["resourceName"]] = int(
                    item.get("rdmaHcaMax") or 1)
    sriov = policy_spec.get("sriovDevicePlugin")
    if sriov:
        try:
            config = json.loads(sriov.get("config") or "{}")
        except ValueError:
            config = {}
        for item in config.get("resourceList") or ():
            if item.get("resourceName"):
                found["%s/%s" % (item.get("resourcePrefix") or
                                 "nvidia.com", item["resourceName"])] = (
                    SRIOV_VFS)
    return found


def infiniband(policy_spec):
    """The policy's fabric is InfiniBand (ipoib, or IB link types)."""
    if (policy_spec.get("secondaryNetwork") or {}).get("ipoib"):
        return True
    return '"infiniband"' in ((policy_spec.get("sriovDevicePlugin") or {})
                              .get("config") or "")


def requested_networks(annotations, namespace):
    """``[(namespace, name)]`` of the Multus networks annotation."""
    text = (annotations or {}).get(NETWORKS) or ""
    if not text.strip():
        return []
    out = []
    if text.strip().startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            return []
        for item in items:
            if isinstance(item, dict) and item.get("name"):
                out.append((item.get("namespace") or namespace,
                            item["name"]))
        return out
    for part in text.split(","):
        part = part.strip().split("@", 1)[0]
        if "/" in part:
            ns, name = part.split("/", 1)
        else:
            ns, name = namespace, part
        if name:
            out.append((ns, name))
    return out


def _env(pod):
    containers = spec_of(pod).get("containers") or ()
    if not containers:
        return {}
    return {e.get("name"): e.get("value") for e in containers[0].get(
        "env") or () if e.get("name")}


def _extended(pod):
    """{resource: count} of extended resources the pod asks for."""
    out = {}
    for container in spec_of(pod).get("containers") or ():
        res = container.get("resources") or {}
        wanted = dict(res.get("requests") or {})
        wanted.update(res.get("limits") or {})
        for name, value in wanted.items():
            if "/" in name:
                try:
                    out[name] = out.get(name, 0) + int(value)
                except (TypeError, ValueError):
                    pass
    return out


def _arg(args, flag, default):
    parts = (args or "").split()
    for index, part in enumerate(parts[:-1]):
        if part == flag and parts[index + 1].isdigit():
            return int(parts[index + 1])
    return default


def _jitter(seed, spread):
    digest = hashlib.sha256(seed.encode()).digest()
    return (digest[0] / 255.0 - 0.5) * 2 * spread


def perftest_report(pod, role, fabric_ib, faults, server_found):
    """``(exit status, report)`` the driver's script would have written."""
    env = _env(pod)
    lines = ["format=magnum-capi-rdma-selftest/1", "role=%s" % role,
             "device=mlx5_0", "note=%s" % NOTE]
    if not any(k.startswith(("rdma/", "nvidia.com/"))
               for k in _extended(pod)):
        lines[2] = "device=none"
        lines.append("error=no RDMA device in the pod (/sys/class/"
                     "infiniband is empty)")
        return 3, "\n".join(lines) + "\n"
    server = env.get("SELFTEST_SERVER") or ""
    if role == "client" and not server_found:
        tries = env.get("SELFTEST_CONNECT_TRIES") or "15"
        lines += ["bw_exit=1",
                  "bw_error= Unable to perform rdma_client function",
                  "bw_error=Couldn't connect to %s:18515 (%s tries; "
                  "simulated: no server pod has that address)"
                  % (server, tries)]
        return 1, "\n".join(lines) + "\n"
    failure = faults.get("rdma_fabric_failure")
    if failure:
        lines += ["bw_exit=1",
                  "bw_error= Failed to modify QP 0x00113 to RTR",
                  "bw_error= Unable to Connect the HCA's through the link",
                  "bw_error=simulated fabric failure: %s" % failure]
        return 1, "\n".join(lines) + "\n"
    seed = name_of(pod)
    bandwidth = faults.get("rdma_bandwidth_gbps")
    if bandwidth is None:
        bandwidth = (196.3 if fabric_ib else 97.4) + _jitter(seed, 0.4)
    latency = faults.get("rdma_latency_us")
    if latency is None:
        latency = (1.87 if fabric_ib else 2.91) + _jitter(seed + "l", 0.05)
    size = _arg(env.get("SELFTEST_BW_ARGS"), "-s", 65536)
    iterations = _arg(env.get("SELFTEST_BW_ARGS"), "-n", 5000)
    rate = bandwidth * 1e9 / 8 / size / 1e6
    lines += [
        "bw_exit=0", "bw_header=" + BW_HEADER,
        "bw_result= %-10d %-16d %-18.2f %-20.2f %.6f" % (
            size, iterations, bandwidth * 1.004, bandwidth, rate),
        "lat_exit=0", "lat_header=" + LAT_HEADER,
        "lat_result= %-7d %-14d %-14.2f %-12.2f %-18.2f %-16.2f %-15.2f "
        "%-22.2f %.2f" % (
            _arg(env.get("SELFTEST_LAT_ARGS"), "-s", 2),
            _arg(env.get("SELFTEST_LAT_ARGS"), "-n", 1000),
            latency * 0.95, latency * 3.2, latency, latency * 1.01, 0.05,
            latency * 1.15, latency * 3.2),
    ]
    return 0, "\n".join(lines) + "\n"


class ClusterSimulation(object):
    """The kubelets and operators of one workload cluster."""

    #: Seconds between two passes over one workload cluster.
    min_interval = 0.25

    def __init__(self, server):
        from kubernetes import client

        self.server = server
        self.api_client = server.api_client
        self.core = client.CoreV1Api(self.api_client)
        self.custom = client.CustomObjectsApi(self.api_client)
        self._clock = {}
        self._resources = {}
        self._applied = {}
        self._last = 0.0

    # -- helpers --------------------------------------------------------

    def _waited(self, uid, stage, seconds):
        started = self._clock.setdefault((uid, stage), time.monotonic())
        return time.monotonic() - started >= seconds

    def _dict(self, obj):
        return self.api_client.sanitize_for_serialization(obj)

    def _get(self, group, version, plural, name, namespace=None):
        from kubernetes.client import exceptions

        try:
            if namespace:
                return self.custom.get_namespaced_custom_object(
                    group, version, namespace, plural, name)
            return self.custom.get_cluster_custom_object(
                group, version, plural, name)
        except exceptions.ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def _list(self, group, version, plural):
        from kubernetes.client import exceptions

        try:
            return self.custom.list_cluster_custom_object(
                group, version, plural).get("items") or []
        except exceptions.ApiException as exc:
            if exc.status == 404:
                return []
            raise

    def _resource(self, api_version, kind):
        """(plural, namespaced) of a kind, from the server's discovery."""
        if api_version not in self._resources:
            found = {}
            if api_version == "v1":
                items = self.core.get_api_resources().resources
            else:
                group, version = api_version.split("/", 1)
                items = self.custom.get_api_resources(
                    group, version).resources
            for item in items:
                if "/" not in item.name:
                    found[item.kind] = (item.name, item.namespaced)
            self._resources[api_version] = found
        return self._resources[api_version].get(kind)

    # -- one pass ---------------------------------------------------------

    def step(self, sim, snap, cluster):
        if time.monotonic() - self._last < self.min_interval:
            return
        self._last = time.monotonic()
        namespace, name = ns_of(cluster), name_of(cluster)
        faults = sim.faults(namespace, name)
        machines = [m for m in snap.items("machine")
                    if ns_of(m) == namespace
                    and spec_of(m).get("clusterName") == name]
        self._service_accounts()
        self._install_addons(sim, snap, namespace, name)
        policy = self._network_operator(sim, faults)
        nodes = self._kubelets(machines, policy, faults)
        self._pods(sim, nodes, policy, faults)

    # -- kube-controller-manager's service account controller ------------

    def _service_accounts(self):
        """A ``default`` ServiceAccount in every namespace.

        The API server refuses pods in a namespace without one.
        """
        from kubernetes.client import exceptions

        have = {sa.metadata.namespace for sa in
                self.core.list_service_account_for_all_namespaces(
                    field_selector="metadata.name=default").items}
        for ns in self.core.list_namespace().items:
            name = ns.metadata.name
            if name in have or ns.status.phase == "Terminating":
                continue
            try:
                self.core.create_namespaced_service_account(
                    name, {"metadata": {"name": "default"}})
            except exceptions.ApiException as exc:
                if exc.status not in (403, 404, 409):
                    raise

    # -- the add-on provider (Manifests) --------------------------------

    def _install_addons(self, sim, snap, namespace, cluster):
        for addon in snap.items("manifests"):
            if ns_of(addon) != namespace or spec_of(addon).get(
                    "clusterName") != cluster or deleting(addon):
                continue
            if status_of(addon).get("phase") != "Deployed":
                continue
            sources = self._sources(sim, addon)
            marker = (meta(addon).get("uid"), meta(addon).get("generation"),
                      tuple(sorted((k, v[0]) for k, v in sources.items())))
            if self._applied.get(marker[0]) == marker:
                continue
            target = spec_of(addon).get("targetNamespace") or "default"
            objects = []
            for _version, text in sources.values():
                objects.extend(self._documents(text))
            objects.sort(key=lambda o: 0 if o.get("kind") == "Namespace"
                         else 1)
            # The add-on provider installs with Helm's --create-namespace.
            self._apply({"apiVersion": "v1", "kind": "Namespace",
                         "metadata": {"name": target}}, target)
            for obj in objects:
                self._apply(obj, target)
            self._applied[marker[0]] = marker
            LOG.info("workload cluster %s/%s: Manifests %s installed (%d "
                     "objects)", namespace, cluster, name_of(addon),
                     len(objects))

    def _sources(self, sim, addon):
        """{secret/key: (resourceVersion, text)} of a Manifests add-on."""
        import base64

        out = {}
        for source in spec_of(addon).get("manifestSources") or ():
            ref = source.get("secret") or {}
            if not ref.get("name"):
                continue
            secret = sim.core.read_namespaced_secret(ref["name"],
                                                     ns_of(addon))
            for key, value in sorted((secret.data or {}).items()):
                if ref.get("key") and key != ref["key"]:
                    continue
                out["%s/%s" % (ref["name"], key)] = (
                    secret.metadata.resource_version,
                    base64.b64decode(value).decode(errors="replace"))
        return out

    @staticmethod
    def _documents(text):
        """The objects of a manifest, rendered as the add-on provider does.

        With Jinja2: the chart wraps the text in a raw block.
        """
        import jinja2
        import yaml

        rendered = jinja2.Environment().from_string(text).render()
        return [doc for doc in yaml.safe_load_all(rendered)
                if isinstance(doc, dict)]

    def _apply(self, obj, namespace):
        from kubernetes.client import exceptions

        obj = copy.deepcopy(obj)
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        found = self._resource(api_version, kind)
        if found is None:
            LOG.warning("workload cluster %s: no %s %s served; not "
                        "installed", self.server.cluster, api_version, kind)
            return
        plural, namespaced = found
        obj.setdefault("metadata", {})
        if namespaced:
            obj["metadata"].setdefault("namespace", namespace)
        try:
            if api_version == "v1" and kind == "Namespace":
                self.core.create_namespace(obj)
            elif api_version == "v1":
                LOG.warning("workload cluster %s: core %s not simulated",
                            self.server.cluster, kind)
            else:
                group, version = api_version.split("/", 1)
                if namespaced:
                    self.custom.create_namespaced_custom_object(
                        group, version, obj["metadata"]["namespace"], plural,
                        obj)
                else:
                    self.custom.create_cluster_custom_object(
                        group, version, plural, obj)
        except exceptions.ApiException as exc:
            if exc.status != 409:
                raise
            if api_version != "v1" and "spec" in obj:
                group, version = api_version.split("/", 1)
                body = {"spec": obj["spec"]}
                if namespaced:
                    self.custom.patch_namespaced_custom_object(
                        group, version, obj["metadata"]["namespace"], plural,
                        obj["metadata"]["name"], body)
                else:
                    self.custom.patch_cluster_custom_object(
                        group, version, plural, obj["metadata"]["name"], body)

    # -- the network operator -------------------------------------------

    def _network_operator(self, sim, faults):
        policy = self._get(*POLICY)
        self._networks()
        if policy is None:
            return None
        wanted = faults.get("rdma_policy_state")
        if wanted is None:
            wanted = "ready" if self._waited(
                meta(policy).get("uid"), "operator",
                sim.delays["rdma_operator"]) else "notReady"
        status = dict(status_of(policy))
        if status.get("state") != wanted:
            status.update(state=wanted, reason=(
                "simulated by magnum_capi_rdma_dev: no operator, driver "
                "container or device plugin runs"))
            group, version, plural, name = POLICY
            self.custom.patch_cluster_custom_object_status(
                group, version, plural, name, {"status": status})
            LOG.info("workload cluster %s: NicClusterPolicy %s",
                     self.server.cluster, wanted)
        spec = spec_of(policy)
        terms = ((spec.get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution") or {}).get(
                "nodeSelectorTerms") or ()
        return {"state": wanted, "terms": terms,
                "resources": device_plugin_resources(spec),
                "infiniband": infiniband(spec)}

    def _networks(self):
        """A NetworkAttachmentDefinition per network object.

        As the network operator makes them, in the network's namespace.
        """
        from kubernetes.client import exceptions

        for plural, cni in NETWORK_KINDS:
            for network in self._list("mellanox.com", "v1alpha1", plural):
                spec = spec_of(network)
                namespace = spec.get("networkNamespace") or "default"
                name = name_of(network)
                if self._get(*NAD, name=name, namespace=namespace) is None:
                    config = {"cniVersion": "0.4.0", "name": name,
                              "type": cni}
                    try:
                        config["ipam"] = json.loads(spec.get("ipam") or
                                                    "{}")
                    except ValueError:
                        config["ipam"] = {}
                    try:
                        self.custom.create_namespaced_custom_object(
                            NAD[0], NAD[1], namespace, NAD[2], {
                                "apiVersion": "%s/%s" % NAD[:2],
                                "kind": "NetworkAttachmentDefinition",
                                "metadata": {"name": name,
                                             "namespace": namespace},
                                "spec": {"config": json.dumps(config)}})
                    except exceptions.ApiException as exc:
                        if exc.status not in (404, 409):
                            raise
                        continue  # its namespace is not there yet
                if (status_of(network).get("state")) != "ready":
                    self.custom.patch_cluster_custom_object_status(
                        "mellanox.com", "v1alpha1", plural, name,
                        {"status": {"state": "ready"}})

    # -- the kubelets -----------------------------------------------------

    def _kubelets(self, machines, policy, faults):
        """Nodes for the Machines; {name: node dict} of what exists."""
        from kubernetes.client import exceptions

        wanted = {}
        for machine in machines:
            ref = (status_of(machine).get("nodeRef") or {}).get("name")
            if ref and not deleting(machine):
                wanted[ref] = machine
        existing = {n["metadata"]["name"]: n for n in (
            self._dict(n) for n in self.core.list_node().items)}
        for name in sorted(set(existing) - set(wanted)):
            try:
                self.core.delete_node(name)
                LOG.info("workload cluster %s: Node %s deleted (its "
                         "Machine is gone)", self.server.cluster, name)
            except exceptions.ApiException as exc:
                if exc.status != 404:
                    raise
            existing.pop(name)
        for name, machine in sorted(wanted.items()):
            node = existing.get(name)
            if node is None:
                node = self._create_node(name, machine)
            existing[name] = self._node_status(node, machine, policy, faults)
        return existing

    def _create_node(self, name, machine):
        labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                  "kubernetes.io/arch": "amd64"}
        group = labels_of(machine).get(NODE_GROUP_LABEL)
        if group:
            labels[NODE_GROUP_LABEL] = group
        spec = {"providerID": spec_of(machine).get("providerID") or ""}
        if CONTROL_PLANE_LABEL in labels_of(machine):
            labels["node-role.kubernetes.io/control-plane"] = ""
            spec["taints"] = [{"key": CONTROL_PLANE_TAINT,
                               "effect": "NoSchedule"}]
        body = {"metadata": {"name": name, "labels": labels, "annotations": {
            SIMULATED_ANNOTATION: "no kubelet runs: the Node is written by "
            "magnum_capi_rdma_dev.simulator"}}, "spec": spec}
        LOG.info("workload cluster %s: Node %s (%s)", self.server.cluster,
                 name, spec["providerID"])
        return self._dict(self.core.create_node(body))

    def _node_status(self, node, machine, policy, faults):
        labels = node["metadata"].get("labels") or {}
        capacity = dict(NODE_CAPACITY)
        if policy and policy["state"] == "ready" and not faults.get(
                "rdma_resource_missing") and matches_terms(
                    labels, policy["terms"]):
            for resource, count in policy["resources"].items():
                capacity[resource] = str(count)
        addresses = [
            {"type": a["type"], "address": a["address"]}
            for a in status_of(machine).get("addresses") or ()
            if a.get("type") == "InternalIP" and a.get("address")]
        addresses.append({"type": "Hostname",
                          "address": node["metadata"]["name"]})
        version = spec_of(machine).get("version") or "v0.0.0"
        info = {"machineID": "", "systemUUID": "", "bootID": "",
                "kernelVersion": "6.8.0-simulated",
                "osImage": "Ubuntu 24.04 (simulated)",
                "containerRuntimeVersion": "containerd://simulated",
                "kubeletVersion": version, "kubeProxyVersion": version,
                "operatingSystem": "linux", "architecture": "amd64"}
        old = node.get("status") or {}
        ready = [c for c in old.get("conditions") or ()
                 if c.get("type") == "Ready" and c.get("status") == "True"]
        if (old.get("capacity") == capacity and old.get(
                "addresses") == addresses and ready and (old.get(
                    "nodeInfo") or {}).get("kubeletVersion") == version):
            return node
        stamp = _iso()
        status = {"capacity": capacity, "allocatable": dict(capacity),
                  "addresses": addresses, "nodeInfo": info,
                  "conditions": [{
                      "type": "Ready", "status": "True",
                      "reason": "KubeletReady",
                      "message": "simulated kubelet is posting ready status",
                      "lastHeartbeatTime": stamp,
                      "lastTransitionTime": (ready[0].get(
                          "lastTransitionTime") if ready else stamp)}]}
        name = node["metadata"]["name"]
        if old.get("capacity") != capacity:
            LOG.info("workload cluster %s: Node %s capacity %s",
                     self.server.cluster, name, ", ".join(
                         "%s=%s" % kv for kv in sorted(capacity.items())
                         if "/" in kv[0]) or "without RDMA")
        return self._dict(self.core.patch_node_status(
            name, {"status": status}))

    # -- pods: scheduler, Multus, kubelet, perftest ----------------------

    def _pods(self, sim, nodes, policy, faults):
        pods = [self._dict(p) for p in
                self.core.list_pod_for_all_namespaces().items]
        used = {}
        for pod in pods:
            node = spec_of(pod).get("nodeName")
            if node and status_of(pod).get("phase") not in (
                    "Succeeded", "Failed"):
                for res, count in _extended(pod).items():
                    used.setdefault(node, {})
                    used[node][res] = used[node].get(res, 0) + count
        for pod in pods:
            phase = status_of(pod).get("phase") or "Pending"
            if meta(pod).get("deletionTimestamp"):
                self._confirm_deletion(pod)
            elif phase in ("Succeeded", "Failed"):
                continue
            elif not spec_of(pod).get("nodeName"):
                self._schedule(pod, nodes, used)
            elif phase == "Pending":
                self._start(sim, pod, nodes)
            elif phase == "Running":
                self._run(sim, pod, pods, policy, faults)

    def _confirm_deletion(self, pod):
        from kubernetes.client import exceptions

        try:
            self.core.delete_namespaced_pod(name_of(pod), ns_of(pod),
                                            grace_period_seconds=0)
        except exceptions.ApiException as exc:
            if exc.status != 404:
                raise

    def _schedule(self, pod, nodes, used):
        selector = spec_of(pod).get("nodeSelector") or {}
        tolerates_all = any(
            t.get("operator") == "Exists" and not t.get("key")
            for t in spec_of(pod).get("tolerations") or ())
        wanted = _extended(pod)
        reasons = {}
        for name in sorted(nodes):
            node = nodes[name]
            labels = node["metadata"].get("labels") or {}
            if any(labels.get(k) != v for k, v in selector.items()):
                reasons["node(s) didn't match Pod's node affinity/"
                        "selector"] = reasons.get(
                    "node(s) didn't match Pod's node affinity/selector",
                    0) + 1
                continue
            taints = [t for t in (node.get("spec") or {}).get(
                "taints") or () if t.get("effect") == "NoSchedule"]
            if taints and not tolerates_all:
                text = "node(s) had untolerated taint {%s: }" % taints[0][
                    "key"]
                reasons[text] = reasons.get(text, 0) + 1
                continue
            allocatable = (node.get("status") or {}).get(
                "allocatable") or {}
            short = [res for res, count in wanted.items()
                     if int(allocatable.get(res) or 0) -
                     used.get(name, {}).get(res, 0) < count]
            if short:
                text = "Insufficient %s" % short[0]
                reasons[text] = reasons.get(text, 0) + 1
                continue
            self._bind(pod, name)
            for res, count in wanted.items():
                used.setdefault(name, {})
                used[name][res] = used[name].get(res, 0) + count
            return
        message = "0/%d nodes are available: %s." % (len(nodes), ", ".join(
            "%d %s" % (count, text) for text, count in sorted(
                reasons.items())) or "no nodes")
        conditions = status_of(pod).get("conditions") or ()
        if any(c.get("type") == "PodScheduled" and c.get("message") ==
               message for c in conditions):
            return
        self.core.patch_namespaced_pod_status(name_of(pod), ns_of(pod), {
            "status": {"phase": "Pending", "conditions": [{
                "type": "PodScheduled", "status": "False",
                "reason": "Unschedulable", "message": message,
                "lastTransitionTime": _iso()}]}})
        LOG.info("workload cluster %s: pod %s/%s unschedulable: %s",
                 self.server.cluster, ns_of(pod), name_of(pod), message)

    def _bind(self, pod, node):
        self.core.create_namespaced_pod_binding(
            name_of(pod), ns_of(pod), {
                "apiVersion": "v1", "kind": "Binding",
                "metadata": {"name": name_of(pod)},
                "target": {"apiVersion": "v1", "kind": "Node",
                           "name": node}},
            _preload_content=False)
        LOG.info("workload cluster %s: pod %s/%s bound to %s",
                 self.server.cluster, ns_of(pod), name_of(pod), node)

    def _start(self, sim, pod, nodes):
        """Sandbox, networks (Multus, nv-ipam), then Running."""
        if not self._waited(meta(pod).get("uid"), "start",
                            sim.delays["workload_pod"]):
            return
        node = spec_of(pod).get("nodeName")
        statuses = [{"name": "k8s-pod-network", "interface": "eth0",
                     "ips": [self._pod_ip(pod, nodes)], "default": True,
                     "dns": {}}]
        for index, (namespace, name) in enumerate(requested_networks(
                (meta(pod).get("annotations") or {}), ns_of(pod))):
            address, problem = self._network_address(pod, namespace, name)
            if problem:
                self._waiting(pod, "ContainerCreating", problem)
                return
            statuses.append({"name": "%s/%s" % (namespace, name),
                             "interface": "net%d" % (index + 1),
                             "ips": [address], "dns": {}})
        notes = {NETWORK_STATUS: json.dumps(statuses, indent=1)}
        self.core.patch_namespaced_pod(name_of(pod), ns_of(pod), {
            "metadata": {"annotations": notes}})
        container = (spec_of(pod).get("containers") or [{}])[0]
        stamp = _iso()
        host = [a["address"] for a in (nodes.get(node, {}).get(
            "status") or {}).get("addresses") or ()
            if a.get("type") == "InternalIP"]
        self.core.patch_namespaced_pod_status(name_of(pod), ns_of(pod), {
            "status": {
                "phase": "Running", "podIP": statuses[0]["ips"][0],
                "podIPs": [{"ip": statuses[0]["ips"][0]}],
                "hostIP": host[0] if host else None, "startTime": stamp,
                "conditions": [
                    {"type": t, "status": "True",
                     "lastTransitionTime": stamp} for t in (
                        "PodScheduled", "Initialized", "ContainersReady",
                        "Ready")],
                "containerStatuses": [{
                    "name": container.get("name") or "main",
                    "image": container.get("image") or "",
                    "imageID": "", "ready": True, "restartCount": 0,
                    "started": True,
                    "state": {"running": {"startedAt": stamp}}}]}})
        LOG.info("workload cluster %s: pod %s/%s running on %s (%s)",
                 self.server.cluster, ns_of(pod), name_of(pod), node,
                 ", ".join("%s %s" % (s["name"], s["ips"][0])
                           for s in statuses[1:]) or "no extra network")

    def _waiting(self, pod, reason, message):
        container = (spec_of(pod).get("containers") or [{}])[0]
        current = ((status_of(pod).get("containerStatuses") or [{}])[0]
                   .get("state") or {}).get("waiting") or {}
        if current.get("message") == message:
            return
        self.core.patch_namespaced_pod_status(name_of(pod), ns_of(pod), {
            "status": {"containerStatuses": [{
                "name": container.get("name") or "main",
                "image": container.get("image") or "", "imageID": "",
                "ready": False, "restartCount": 0,
                "state": {"waiting": {"reason": reason,
                                      "message": message}}}]}})
        LOG.info("workload cluster %s: pod %s/%s waits: %s",
                 self.server.cluster, ns_of(pod), name_of(pod), message)

    def _pod_ip(self, pod, nodes):
        index = sorted(nodes).index(spec_of(pod).get("nodeName")) if (
            spec_of(pod).get("nodeName") in nodes) else 0
        host = int(hashlib.sha256(meta(pod).get("uid", "").encode())
                   .hexdigest()[:4], 16) % 250 + 2
        return "10.244.%d.%d" % (index, host)

    def _network_address(self, pod, namespace, name):
        """(address, None) on a network, or (None, why not)."""
        nad = self._get(*NAD, name=name, namespace=namespace)
        if nad is None:
            return None, (
                "error adding container to network \"%s\": cannot find a "
                "network-attachment-definition (%s) in namespace (%s) "
                "(simulated Multus)" % (name, name, namespace))
        try:
            config = json.loads(spec_of(nad).get("config") or "{}")
        except ValueError:
            config = {}
        ipam = config.get("ipam") or {}
        pool_name = ipam.get("poolName")
        pool = self._get(*IPPOOL, name=pool_name,
                         namespace=IPAM_NAMESPACE) if pool_name else None
        if pool is None:
            return None, ("error adding container to network \"%s\": "
                          "nv-ipam: no IPPool %r in %s (simulated)" % (
                              name, pool_name, IPAM_NAMESPACE))
        subnet = ipaddress.ip_network(spec_of(pool).get("subnet"),
                                      strict=False)
        gateway = spec_of(pool).get("gateway")
        used = self._used_addresses()
        for host in subnet.hosts():
            if str(host) != gateway and str(host) not in used:
                return str(host), None
        return None, "nv-ipam: pool %s is exhausted (simulated)" % pool_name

    def _used_addresses(self):
        used = set()
        for pod in self.core.list_pod_for_all_namespaces().items:
            text = (pod.metadata.annotations or {}).get(NETWORK_STATUS)
            if pod.status.phase in ("Succeeded", "Failed") or not text:
                continue
            try:
                for entry in json.loads(text):
                    if not entry.get("default"):
                        used.update(entry.get("ips") or ())
            except (ValueError, AttributeError):
                pass
        return used

    def _run(self, sim, pod, pods, policy, faults):
        """Deadlines; the self-test's perftest."""
        started = _time(status_of(pod).get("startTime"))
        deadline = spec_of(pod).get("activeDeadlineSeconds")
        if deadline and started and (
                _now() - started).total_seconds() > deadline:
            self._terminate(pod, 137, "DeadlineExceeded", None, "Failed",
                            pod_reason="DeadlineExceeded",
                            pod_message="Pod was active on the node longer "
                            "than the specified deadline")
            return
        role = _env(pod).get("SELFTEST_ROLE")
        if role == "client":
            if faults.get("rdma_selftest_hang") or not self._waited(
                    meta(pod).get("uid"), "perftest",
                    sim.delays["perftest"]):
                return
            server = _env(pod).get("SELFTEST_SERVER")
            found = any(
                _env(p).get("SELFTEST_ROLE") == "server" and
                status_of(p).get("phase") == "Running" and
                server in _addresses(p) for p in pods)
            code, report = perftest_report(
                pod, role, bool(policy and policy["infiniband"]), faults,
                found)
            self._terminate(pod, code, "Completed" if code == 0 else "Error",
                            report, "Succeeded" if code == 0 else "Failed")
        elif role == "server":
            mine = set(_addresses(pod))
            done = [p for p in pods
                    if _env(p).get("SELFTEST_ROLE") == "client"
                    and _env(p).get("SELFTEST_SERVER") in mine
                    and status_of(p).get("phase") == "Succeeded"]
            if done:
                code, report = perftest_report(
                    pod, role, bool(policy and policy["infiniband"]),
                    faults, True)
                self._terminate(pod, code, "Completed" if code == 0 else
                                "Error", report,
                                "Succeeded" if code == 0 else "Failed")

    def _terminate(self, pod, code, reason, message, phase, pod_reason=None,
                   pod_message=None):
        container = (spec_of(pod).get("containers") or [{}])[0]
        old = (status_of(pod).get("containerStatuses") or [{}])[0]
        stamp = _iso()
        terminated = {"exitCode": code, "reason": reason,
                      "startedAt": ((old.get("state") or {}).get(
                          "running") or {}).get("startedAt") or stamp,
                      "finishedAt": stamp}
        if message:
            terminated["message"] = message
        status = {
            "phase": phase,
            "conditions": [{"type": t, "status": "False",
                            "reason": "PodCompleted",
                            "lastTransitionTime": stamp}
                           for t in ("Ready", "ContainersReady")],
            "containerStatuses": [{
                "name": container.get("name") or "main",
                "image": container.get("image") or "", "imageID": "",
                "ready": False, "restartCount": 0, "started": False,
                "state": {"terminated": terminated}}]}
        if pod_reason:
            status.update(reason=pod_reason, message=pod_message)
        self.core.patch_namespaced_pod_status(name_of(pod), ns_of(pod),
                                              {"status": status})
        LOG.info("workload cluster %s: pod %s/%s %s (exit status %d)",
                 self.server.cluster, ns_of(pod), name_of(pod), phase, code)


def _addresses(pod):
    text = (meta(pod).get("annotations") or {}).get(NETWORK_STATUS)
    try:
        entries = json.loads(text) if text else []
    except ValueError:
        return []
    return [ip for e in entries if isinstance(e, dict)
            and not e.get("default") for ip in e.get("ips") or ()]
