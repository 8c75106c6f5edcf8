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
"""The Cluster API simulator on a real kube-apiserver.

Each test creates, as plain dicts, the objects a release of the
``openstack-cluster`` chart makes (same kinds, names, labels and
references), then steps the simulator and checks what the controllers
would have written.
"""

import base64
import ipaddress
import re
import subprocess
import time
import uuid

from kubernetes import client
from kubernetes.client import exceptions
import pytest
import yaml

from magnum_capi_rdma.adapters import kube as kube_rest
from magnum_capi_rdma_dev.simulator import base
from magnum_capi_rdma_dev.simulator import core
from magnum_capi_rdma_dev.simulator import faults as faults_mod
from tests.support import dev

CAPI = ("cluster.x-k8s.io", "v1beta1")
KCP = ("controlplane.cluster.x-k8s.io", "v1beta1")
INFRA = ("infrastructure.cluster.x-k8s.io", "v1beta1")
BOOT = ("bootstrap.cluster.x-k8s.io", "v1beta1")
ADDONS = ("addons.stackhpc.com", "v1alpha1")
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
KIND_OF = {plural: kind for _o, plural, kind in core.KINDS.values()}
ZERO = {name: 0 for name in faults_mod.DEFAULT_DELAYS}


# -- objects like a release makes --------------------------------------------

def _labels(release, component=None, group=None):
    labels = {"capi.stackhpc.com/cluster": release,
              "capi.stackhpc.com/managed-by": "Helm"}
    if component:
        labels["capi.stackhpc.com/component"] = component
    if group:
        labels["capi.stackhpc.com/node-group"] = group
    return labels


def _ref(group_version, kind, name, namespace=None):
    ref = {"apiVersion": "/".join(group_version), "kind": kind,
           "name": name}
    if namespace:
        ref["namespace"] = namespace
    return ref


def cluster_objects(release, namespace, cp=1, version="v1.33.1",
                    lb=True):
    return [
        (CAPI, "clusters", {
            "metadata": {"name": release, "labels": _labels(release)},
            "spec": {
                "clusterNetwork": {"pods": {"cidrBlocks": ["172.16.0.0/13"]}},
                "controlPlaneRef": _ref(KCP, "KubeadmControlPlane",
                                        release + "-control-plane",
                                        namespace),
                "infrastructureRef": _ref(INFRA, "OpenStackCluster", release,
                                          namespace)}}),
        (INFRA, "openstackclusters", {
            "metadata": {"name": release, "labels": _labels(release)},
            "spec": {"apiServerLoadBalancer": {"enabled": lb},
                     "apiServerPort": 6443,
                     "identityRef": {"cloudName": "openstack",
                                     "name": release + "-creds"},
                     "managedSubnets": [{"cidr": "192.168.3.0/24"}]}}),
        (INFRA, "openstackmachinetemplates", {
            "metadata": {"name": release + "-control-plane-aaaa",
                         "labels": _labels(release, "control-plane")},
            "spec": {"template": {"spec": {
                "flavor": "m1.medium",
                "image": {"filter": {"name": "ubuntu-2404"}}}}}}),
        (KCP, "kubeadmcontrolplanes", {
            "metadata": {"name": release + "-control-plane",
                         "labels": _labels(release, "control-plane")},
            "spec": {
                "replicas": cp, "version": version,
                "machineTemplate": {
                    "metadata": {"labels": _labels(release,
                                                   "control-plane")},
                    "infrastructureRef": _ref(
                        INFRA, "OpenStackMachineTemplate",
                        release + "-control-plane-aaaa", namespace)},
                "rolloutStrategy": {"type": "RollingUpdate",
                                    "rollingUpdate": {"maxSurge": 1}},
                "kubeadmConfigSpec": {}}}),
    ]


def node_group(release, group, replicas=2, version="v1.33.1",
               autoscale=None):
    selector = dict(_labels(release, "worker", group))
    selector.pop("capi.stackhpc.com/managed-by")
    selector["cluster.x-k8s.io/cluster-name"] = release
    template_labels = dict(selector)
    template_labels.pop("cluster.x-k8s.io/cluster-name")
    md = {
        "metadata": {"name": "%s-%s" % (release, group),
                     "labels": _labels(release, "worker", group)},
        "spec": {
            "clusterName": release,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {
                "maxSurge": 0, "maxUnavailable": 1,
                "deletePolicy": "Random"}},
            "template": {
                "metadata": {"labels": template_labels},
                "spec": {
                    "clusterName": release, "version": version,
                    "bootstrap": {"configRef": _ref(
                        BOOT, "KubeadmConfigTemplate",
                        "%s-%s-bbbb" % (release, group))},
                    "infrastructureRef": _ref(
                        INFRA, "OpenStackMachineTemplate",
                        "%s-%s-cccc" % (release, group)),
                    "nodeDrainTimeout": "5m0s"}}}}
    if autoscale:
        md["metadata"]["annotations"] = {
            core.AUTOSCALER_MIN: str(autoscale[0]),
            core.AUTOSCALER_MAX: str(autoscale[1])}
    else:
        md["spec"]["replicas"] = replicas
    return [
        (BOOT, "kubeadmconfigtemplates", {
            "metadata": {"name": "%s-%s-bbbb" % (release, group)},
            "spec": {"template": {"spec": {}}}}),
        (INFRA, "openstackmachinetemplates", {
            "metadata": {"name": "%s-%s-cccc" % (release, group)},
            "spec": {"template": {"spec": {
                "flavor": "m1.small",
                "image": {"filter": {"name": "ubuntu-2404"}}}}}}),
        (CAPI, "machinedeployments", md),
    ]


def addon(release, kind, suffix, bootstrap=True):
    plural = "helmreleases" if kind == "HelmRelease" else "manifests"
    spec = {"clusterName": release, "bootstrap": bootstrap,
            "targetNamespace": "kube-system", "releaseName": suffix}
    if kind == "HelmRelease":
        spec["chart"] = {"repo": "https://charts.invalid", "name": suffix,
                         "version": "1.0.0"}
    return (ADDONS, plural, {
        "metadata": {"name": "%s-%s" % (release, suffix),
                     "labels": _labels(release, suffix)},
        "spec": spec})


def release(name, namespace, cp=1, workers=2, version="v1.33.1"):
    objs = cluster_objects(name, namespace, cp=cp, version=version)
    objs += node_group(name, "md-0", workers, version=version)
    objs.append(addon(name, "HelmRelease", "cni-calico"))
    objs.append(addon(name, "Manifests", "cloud-config"))
    objs.append(addon(name, "HelmRelease", "monitoring", bootstrap=False))
    return objs


# -- helpers ------------------------------------------------------------------

class Bed(object):
    def __init__(self, api_client, namespace):
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)
        self.namespace = namespace

    def create(self, objs):
        for (group, version), plural, body in objs:
            body = dict(body, apiVersion="%s/%s" % (group, version),
                        kind=KIND_OF[plural])
            self.custom.create_namespaced_custom_object(
                group, version, self.namespace, plural, body,
                field_validation="Strict")

    def list(self, gv, plural, **kw):
        return self.custom.list_namespaced_custom_object(
            gv[0], gv[1], self.namespace, plural, **kw)["items"]

    def get(self, gv, plural, name):
        return self.custom.get_namespaced_custom_object(
            gv[0], gv[1], self.namespace, plural, name)

    def exists(self, gv, plural, name):
        try:
            self.get(gv, plural, name)
            return True
        except exceptions.ApiException as exc:
            if exc.status == 404:
                return False
            raise

    def patch(self, gv, plural, name, body):
        return kube_rest.patch_path(
            self.custom.api_client, kube_rest.custom_path(
                gv[0], gv[1], self.namespace, plural, name),
            body, core.MERGE_PATCH, fieldValidation="Strict")

    def delete(self, gv, plural, name):
        self.custom.delete_namespaced_custom_object(
            gv[0], gv[1], self.namespace, plural, name)

    def machines(self, release, live=True):
        items = self.list(CAPI, "machines",
                          label_selector="cluster.x-k8s.io/cluster-name="
                          + release)
        if live:
            items = [m for m in items
                     if not m["metadata"].get("deletionTimestamp")]
        return items

    def workers(self, release, group="md-0"):
        return [m for m in self.machines(release)
                if m["metadata"]["labels"].get(
                    "capi.stackhpc.com/node-group") == group]


def converge(sim, check, what, steps=300, pause=0.0):
    """Step until ``check()`` is truthy; return its value."""
    last = None
    for _ in range(steps):
        sim.step()
        try:
            last = check()
        except AssertionError as exc:
            last = exc
        else:
            if last:
                return last
        if pause:
            time.sleep(pause)
    pytest.fail("not converged after %d steps: %s (last: %s)" % (
        steps, what, last))


def phase(obj):
    return (obj.get("status") or {}).get("phase")


def cond(obj, type_):
    return core.condition_status(obj, type_)


def ready(bed, name, workers=None, version=None):
    cluster = bed.get(CAPI, "clusters", name)
    if cond(cluster, "Ready") != "True":
        return False
    machines = bed.machines(name, live=False)
    if any(phase(m) != "Running" for m in machines):
        return False
    if version and any(m["spec"]["version"] != version for m in machines):
        return False
    if workers is not None and len(bed.workers(name)) != workers:
        return False
    for md in bed.list(CAPI, "machinedeployments"):
        status = md.get("status") or {}
        if status.get("phase") != "Running" or status.get(
                "readyReplicas") != md["spec"].get("replicas"):
            return False
    return all(phase(a) == "Deployed"
               for plural in ("helmreleases", "manifests")
               for a in bed.list(ADDONS, plural))


@pytest.fixture
def bed(kube_api_client, namespace):
    return Bed(kube_api_client, namespace)


@pytest.fixture
def sim(kube_api_client, namespace):
    return core.Simulator(kube_api_client, namespace=namespace,
                          delays=ZERO, seed=1)


# -- tests --------------------------------------------------------------------

def test_machines_look_like_cluster_api_made_them(bed, sim, namespace):
    bed.create(release("demo", namespace, cp=1, workers=2))
    converge(sim, lambda: ready(bed, "demo", workers=2), "Ready")

    cluster = bed.get(CAPI, "clusters", "demo")
    assert cluster["status"]["phase"] == "Provisioned"
    assert cluster["metadata"]["finalizers"] == [core.FIN_CLUSTER]
    for type_ in ("InfrastructureReady", "ControlPlaneReady", "Ready"):
        assert cond(cluster, type_) == "True", type_
    endpoint = cluster["spec"]["controlPlaneEndpoint"]
    assert endpoint["port"] == 6443
    ipaddress.ip_address(endpoint["host"])

    osc = bed.get(INFRA, "openstackclusters", "demo")
    assert osc["status"]["ready"] is True
    assert re.fullmatch(UUID, osc["status"]["network"]["id"])
    assert osc["status"]["network"]["subnets"][0]["cidr"] == (
        "192.168.3.0/24")
    assert osc["status"]["apiServerLoadBalancer"]["ip"] == endpoint["host"]

    kcp = bed.get(KCP, "kubeadmcontrolplanes", "demo-control-plane")
    status = kcp["status"]
    assert (status["replicas"], status["readyReplicas"],
            status["updatedReplicas"]) == (1, 1, 1)
    assert status["version"] == "v1.33.1"
    assert status["ready"] is True and status["initialized"] is True
    for type_ in ("Ready", "Available", "MachinesReady",
                  "EtcdClusterHealthy", "ControlPlaneComponentsHealthy"):
        assert cond(kcp, type_) == "True", type_

    md = bed.get(CAPI, "machinedeployments", "demo-md-0")
    assert md["status"]["phase"] == "Running"
    assert (md["status"]["replicas"], md["status"]["readyReplicas"],
            md["status"]["updatedReplicas"],
            md["status"]["availableReplicas"]) == (2, 2, 2, 2)
    [machine_set] = bed.list(CAPI, "machinesets")
    assert re.fullmatch(r"demo-md-0-[a-z0-9]{5}",
                        machine_set["metadata"]["name"])
    assert machine_set["metadata"]["ownerReferences"][0]["uid"] == (
        md["metadata"]["uid"])

    subnet = ipaddress.ip_network("192.168.3.0/24")
    addresses = set()
    for machine in bed.machines("demo"):
        labels = machine["metadata"]["labels"]
        owner = machine["metadata"]["ownerReferences"][0]
        assert labels["cluster.x-k8s.io/cluster-name"] == "demo"
        assert labels["capi.stackhpc.com/cluster"] == "demo"
        assert machine["spec"]["clusterName"] == "demo"
        assert machine["spec"]["version"] == "v1.33.1"
        assert re.fullmatch("openstack:///" + UUID,
                            machine["spec"]["providerID"])
        assert machine["status"]["nodeRef"]["name"] == (
            machine["metadata"]["name"])
        assert cond(machine, "NodeHealthy") == "True"
        [ip] = [a["address"] for a in machine["status"]["addresses"]
                if a["type"] == "InternalIP"]
        assert ipaddress.ip_address(ip) in subnet
        addresses.add(ip)
        if "cluster.x-k8s.io/control-plane" in labels:
            assert labels["cluster.x-k8s.io/control-plane-name"] == (
                "demo-control-plane")
            assert owner["kind"] == "KubeadmControlPlane"
            assert owner["uid"] == kcp["metadata"]["uid"]
            assert machine["metadata"]["name"].startswith(
                "demo-control-plane-")
        else:
            assert labels["capi.stackhpc.com/node-group"] == "md-0"
            assert labels["cluster.x-k8s.io/deployment-name"] == "demo-md-0"
            assert labels["cluster.x-k8s.io/set-name"] == (
                machine_set["metadata"]["name"])
            assert owner["kind"] == "MachineSet"
            assert owner["uid"] == machine_set["metadata"]["uid"]
            assert machine["spec"]["infrastructureRef"] == {
                "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
                "kind": "OpenStackMachine",
                "name": machine["metadata"]["name"],
                "namespace": namespace}
    assert len(addresses) == 3, "machines share an address"

    secret = bed.core.read_namespaced_secret("demo-kubeconfig", namespace)
    assert secret.type == "cluster.x-k8s.io/secret"
    kubeconfig = yaml.safe_load(base64.b64decode(secret.data["value"]))
    assert kubeconfig["clusters"][0]["cluster"]["server"] == (
        "https://127.0.0.1:1")
    assert sim.refused == []


def v2cond(obj, type_):
    """A v1beta2 condition (status.v1beta2.conditions of v1beta1 objects)."""
    for condition in (obj.get("status") or {}).get("v1beta2", {}).get(
            "conditions") or ():
        if condition["type"] == type_:
            return condition
    return None


def test_status_has_both_contracts_as_cluster_api_1_13_writes_it(
        bed, sim, namespace):
    """v1beta1 fields and conditions, and ``status.v1beta2`` beside them.

    Written through the real schemas (strict): the v1beta2 conditions
    always carry a reason and a message, the counters are the v1beta2
    ones, and the Cluster says Available where v1beta1 says Ready.
    """
    bed.create(release("both", namespace, cp=1, workers=2))
    converge(sim, lambda: ready(bed, "both", workers=2), "Ready")
    converge(sim, lambda: (v2cond(bed.get(CAPI, "clusters", "both"),
                                  "Available") or {}).get("status")
             == "True", "v1beta2 Available")

    cluster = bed.get(CAPI, "clusters", "both")
    assert cluster["status"]["infrastructureReady"] is True
    assert cluster["status"]["controlPlaneReady"] is True
    for type_ in ("Available", "InfrastructureReady",
                  "ControlPlaneInitialized", "ControlPlaneAvailable",
                  "WorkersAvailable"):
        condition = v2cond(cluster, type_)
        assert condition["status"] == "True", condition
        assert condition["reason"] and "message" in condition
        assert "severity" not in condition
    assert v2cond(cluster, "Deleting")["status"] == "False"
    assert cluster["status"]["v1beta2"]["workers"] == {
        "desiredReplicas": 2, "replicas": 2, "readyReplicas": 2,
        "availableReplicas": 2, "upToDateReplicas": 2}
    assert cluster["status"]["v1beta2"]["controlPlane"][
        "readyReplicas"] == 1

    kcp = bed.get(KCP, "kubeadmcontrolplanes", "both-control-plane")
    assert kcp["status"]["v1beta2"]["readyReplicas"] == 1
    assert kcp["status"]["v1beta2"]["upToDateReplicas"] == 1
    assert v2cond(kcp, "Available")["status"] == "True"
    assert v2cond(kcp, "Initialized")["status"] == "True"

    md = bed.get(CAPI, "machinedeployments", "both-md-0")
    assert {k: md["status"]["v1beta2"][k] for k in (
        "readyReplicas", "availableReplicas", "upToDateReplicas")} == {
        "readyReplicas": 2, "availableReplicas": 2, "upToDateReplicas": 2}
    assert v2cond(md, "Available")["status"] == "True"
    assert v2cond(md, "RollingOut")["status"] == "False"
    [machine_set] = bed.list(CAPI, "machinesets")
    assert machine_set["status"]["v1beta2"]["readyReplicas"] == 2
    assert v2cond(machine_set, "Available") is None

    osc = bed.get(INFRA, "openstackclusters", "both")
    assert osc["status"]["initialization"] == {"provisioned": True}
    for machine in bed.machines("both"):
        for type_ in ("Ready", "Available", "NodeHealthy",
                      "InfrastructureReady", "BootstrapConfigReady"):
            assert v2cond(machine, type_)["status"] == "True", type_
        info = machine["status"]["nodeInfo"]
        assert info["kubeletVersion"] == "v1.33.1"
        assert info["bootID"] and info["machineID"]
    assert sim.refused == []


def test_a_write_the_real_schema_refuses_fails_loudly(
        bed, sim, namespace, monkeypatch):
    """The simulator writes with fieldValidation=Strict: no silent drop.

    A Machine's ``nodeInfo`` as the simulator wrote it before the real
    schemas (three of its ten required fields) and a field Cluster API
    does not have are both refused; the pass raises and the refusal is
    kept with the server's message.
    """
    bed.create(release("strict", namespace, cp=1, workers=0))
    monkeypatch.setattr(sim, "_node_info", lambda machine: {
        "kubeletVersion": "v1.33.1", "operatingSystem": "linux",
        "architecture": "amd64"})
    with pytest.raises(exceptions.ApiException) as caught:
        for _ in range(300):
            sim.step()
    assert caught.value.status == 422
    [(kind, name, message)] = sim.refused
    assert kind == "Machine" and name.startswith(namespace + "/strict-")
    assert "status.nodeInfo.bootID: Required value" in message

    monkeypatch.undo()
    cluster = bed.get(CAPI, "clusters", "strict")
    with pytest.raises(exceptions.ApiException) as caught:
        sim._write_status("cluster", cluster, dict(
            cluster["status"], notAField=True))
    assert base.refusal(caught.value) == (
        'strict decoding error: unknown field "status.notAField"')


def test_machine_phases_in_order_and_provisioning_takes_time(
        kube_api_client, bed, namespace):
    sim = core.Simulator(kube_api_client, namespace=namespace,
                         delays=dict(ZERO, machine_provisioning=0.6))
    bed.create(cluster_objects("slow", namespace, cp=1))
    seen = []

    def running():
        machines = bed.machines("slow")
        if machines and (not seen or seen[-1] != phase(machines[0])):
            seen.append(phase(machines[0]))
        return machines and phase(machines[0]) == "Running"

    started = time.monotonic()
    converge(sim, running, "control plane Running", pause=0.02)
    assert time.monotonic() - started >= 0.6
    assert [p for p in seen if p] == [
        "Pending", "Provisioning", "Provisioned", "Running"]


def test_scale_up_then_down_removes_the_marked_machine(bed, sim,
                                                       namespace):
    bed.create(release("sc", namespace, workers=2))
    converge(sim, lambda: ready(bed, "sc", workers=2), "2 workers")
    bed.patch(CAPI, "machinedeployments", "sc-md-0",
              {"spec": {"replicas": 4}})
    converge(sim, lambda: ready(bed, "sc", workers=4), "4 workers")
    md = bed.get(CAPI, "machinedeployments", "sc-md-0")
    assert md["status"]["readyReplicas"] == 4

    # Mark the newest machine: without the mark, the oldest would go.
    victim = max(bed.workers("sc"), key=lambda m: (
        m["metadata"]["creationTimestamp"], m["metadata"]["name"]))
    bed.patch(CAPI, "machines", victim["metadata"]["name"], {
        "metadata": {"annotations": {core.DELETE_MACHINE: "yes"}}})
    bed.patch(CAPI, "machinedeployments", "sc-md-0",
              {"spec": {"replicas": 3}})
    converge(sim, lambda: ready(bed, "sc", workers=3), "3 workers")
    names = {m["metadata"]["name"] for m in bed.workers("sc")}
    assert victim["metadata"]["name"] not in names
    assert not bed.exists(CAPI, "machines", victim["metadata"]["name"])


def test_autoscaled_group_starts_at_min_and_follows_the_scale_subresource(
        bed, sim, namespace):
    bed.create(cluster_objects("auto", namespace)
               + node_group("auto", "ng", autoscale=(2, 5)))
    converge(sim, lambda: len(bed.workers("auto", "ng")) == 2 and all(
        phase(m) == "Running" for m in bed.workers("auto", "ng")),
        "min size")
    md = bed.get(CAPI, "machinedeployments", "auto-ng")
    assert md["spec"]["replicas"] == 2
    # The cluster autoscaler writes through the scale subresource.
    kube_rest.patch_path(
        bed.custom.api_client, kube_rest.custom_path(
            CAPI[0], CAPI[1], namespace, "machinedeployments", "auto-ng",
            "scale"), {"spec": {"replicas": 3}}, core.MERGE_PATCH)
    converge(sim, lambda: len(bed.workers("auto", "ng")) == 3 and bed.get(
        CAPI, "machinedeployments", "auto-ng")["status"].get(
            "readyReplicas") == 3, "autoscaler size")


def test_version_upgrade_rolls_every_machine(bed, sim, namespace):
    bed.create(release("up", namespace, cp=3, workers=2))
    converge(sim, lambda: ready(bed, "up", workers=2), "Ready")
    before = {m["metadata"]["name"] for m in bed.machines("up")}
    [old_set] = bed.list(CAPI, "machinesets")
    bed.patch(KCP, "kubeadmcontrolplanes", "up-control-plane",
              {"spec": {"version": "v1.34.0"}})
    bed.patch(CAPI, "machinedeployments", "up-md-0", {"spec": {
        "template": {"spec": {"version": "v1.34.0"}}}})
    max_cp = [0]

    def upgraded():
        cps = [m for m in bed.machines("up", live=False)
               if "cluster.x-k8s.io/control-plane"
               in m["metadata"]["labels"]]
        max_cp[0] = max(max_cp[0], len(cps))
        return ready(bed, "up", workers=2, version="v1.34.0") and len(
            bed.list(CAPI, "machinesets")) == 1
    converge(sim, upgraded, "rolled to v1.34.0")
    after = {m["metadata"]["name"] for m in bed.machines("up")}
    assert not before & after, "a machine was upgraded in place"
    assert max_cp[0] == 4, "KCP surges by one machine"
    [new_set] = bed.list(CAPI, "machinesets")
    assert new_set["metadata"]["name"] != old_set["metadata"]["name"]
    kcp = bed.get(KCP, "kubeadmcontrolplanes", "up-control-plane")
    assert kcp["status"]["version"] == "v1.34.0"
    assert kcp["status"]["updatedReplicas"] == 3
    md = bed.get(CAPI, "machinedeployments", "up-md-0")
    assert md["status"]["updatedReplicas"] == 2


def test_addons_deploy_after_the_control_plane_and_upgrade(bed, sim,
                                                           namespace):
    bed.create(release("ad", namespace))
    sim.step()
    for plural in ("helmreleases", "manifests"):
        for item in bed.list(ADDONS, plural):
            assert phase(item) in (None, "Pending"), item["status"]
    converge(sim, lambda: ready(bed, "ad"), "Ready")
    cni = bed.get(ADDONS, "helmreleases", "ad-cni-calico")
    assert cni["status"]["revision"] == 1
    assert cni["metadata"]["labels"]["addons.stackhpc.com/cluster"] == "ad"
    bed.patch(ADDONS, "helmreleases", "ad-cni-calico",
              {"spec": {"values": {"x": 1}}})
    seen = set()

    def upgraded():
        item = bed.get(ADDONS, "helmreleases", "ad-cni-calico")
        seen.add(phase(item))
        return phase(item) == "Deployed" and item["status"]["revision"] == 2
    converge(sim, upgraded, "revision 2")
    assert "Upgrading" in seen


def test_no_worker_at_another_minor_than_the_control_plane(
        bed, sim, namespace):
    # Cluster API's KubeadmVersionSkew preflight check, as upstream.
    bed.create(cluster_objects("skew", namespace, version="v1.34.2")
               + node_group("skew", "md-0", 1, version="v1.33.1"))
    ms = converge(sim, lambda: [
        m for m in bed.list(CAPI, "machinesets")
        if cond(m, "MachinesCreated") == "False"], "the check failed")[0]
    message = [c for c in ms["status"]["conditions"]
               if c["type"] == "MachinesCreated"][0]["message"]
    assert "MachineSet version (1.33.1) and ControlPlane version " \
        "(1.34.2)" in message
    assert "KubeadmVersionSkew" in message
    scaling = [c for c in ms["status"]["v1beta2"]["conditions"]
               if c["type"] == "ScalingUp"][0]
    assert scaling["message"].startswith(
        "Scaling up from 0 to 1 replicas is blocked because:\n* ")
    # Once the control plane is up, still no worker.
    converge(sim, lambda: cond(bed.get(CAPI, "clusters", "skew"),
                               "ControlPlaneReady") == "True",
             "control plane ready")
    for _ in range(5):
        sim.step()
    assert bed.workers("skew") == []
    assert len(bed.machines("skew")) == 1   # the control plane only


def test_fault_machine_quota(bed, sim, namespace):
    bed.create(cluster_objects("q", namespace))
    sim.set_faults("q", {"machine_quota_failure": True})
    converge(sim, lambda: [m for m in bed.machines("q")
                           if phase(m) == "Failed"], "machine Failed")
    [machine] = bed.machines("q")
    assert machine["status"]["failureReason"] == "InsufficientResources"
    assert "Quota exceeded for instances" in (
        machine["status"]["failureMessage"])
    kcp = converge(sim, lambda: "Quota exceeded" in bed.get(
        KCP, "kubeadmcontrolplanes", "q-control-plane")["status"].get(
            "failureMessage", "") and bed.get(
                KCP, "kubeadmcontrolplanes", "q-control-plane"),
        "KCP reports the failed machine", steps=3)
    assert cond(kcp, "MachinesReady") == "False"
    assert cond(bed.get(CAPI, "clusters", "q"), "Ready") != "True"
    sim.clear_faults("q")
    converge(sim, lambda: cond(bed.get(CAPI, "clusters", "q"),
                               "Ready") == "True", "recovered")
    [machine] = bed.machines("q")
    assert "failureMessage" not in machine["status"]


def test_fault_machine_quota_on_a_scale_up_fails_the_node_group(
        bed, sim, namespace):
    bed.create(release("qw", namespace, workers=1))
    converge(sim, lambda: ready(bed, "qw", workers=1), "Ready")
    sim.set_faults("qw", {"machine_quota_failure": True})
    bed.patch(CAPI, "machinedeployments", "qw-md-0",
              {"spec": {"replicas": 2}})
    converge(sim, lambda: phase(bed.get(
        CAPI, "machinedeployments", "qw-md-0")) == "Failed", "MD Failed")
    phases = sorted(phase(m) for m in bed.workers("qw"))
    assert phases == ["Failed", "Running"]
    md = bed.get(CAPI, "machinedeployments", "qw-md-0")
    assert md["status"]["readyReplicas"] == 1
    assert "Quota exceeded" in [
        c for c in md["status"]["conditions"] if c["type"] == "Ready"][0][
            "message"]
    # The control plane and the cluster stay healthy.
    assert cond(bed.get(CAPI, "clusters", "qw"), "Ready") == "True"


def test_fault_network(bed, sim, namespace):
    sim.set_faults("net", {"network_failure": "no more routers"})
    bed.create(release("net", namespace))
    converge(sim, lambda: phase(bed.get(CAPI, "clusters", "net"))
             == "Failed", "Cluster Failed")
    for _ in range(5):
        sim.step()
    osc = bed.get(INFRA, "openstackclusters", "net")
    assert osc["status"]["ready"] is False
    assert "no more routers" in osc["status"]["failureMessage"]
    assert osc["status"]["failureReason"]
    cluster = bed.get(CAPI, "clusters", "net")
    assert "no more routers" in cluster["status"]["failureMessage"]
    assert cond(cluster, "InfrastructureReady") == "False"
    assert bed.machines("net") == []


def test_fault_addon_failed_only_that_addon(bed, sim, namespace):
    sim.set_faults("*", {"addon_failed": "cni-calico"})
    bed.create(release("af", namespace))
    converge(sim, lambda: phase(bed.get(ADDONS, "helmreleases",
                                        "af-cni-calico")) == "Failed",
             "addon Failed")
    converge(sim, lambda: phase(bed.get(ADDONS, "manifests",
                                        "af-cloud-config")) == "Deployed",
             "the other addons Deployed")
    failed = bed.get(ADDONS, "helmreleases", "af-cni-calico")
    assert "cni-calico" in failed["status"]["failureMessage"]
    sim.clear_faults("*")
    converge(sim, lambda: ready(bed, "af"), "all Deployed")


def test_fault_provision_delay(kube_api_client, bed, namespace):
    sim = core.Simulator(kube_api_client, namespace=namespace, delays=ZERO,
                         faults={"pd": {"provision_delay": 1.0}})
    bed.create(cluster_objects("pd", namespace))
    converge(sim, lambda: [m for m in bed.machines("pd")
                           if phase(m) == "Provisioning"], "Provisioning")
    started = time.monotonic()
    converge(sim, lambda: [m for m in bed.machines("pd")
                           if phase(m) == "Running"], "Running",
             pause=0.05)
    assert time.monotonic() - started >= 0.9


def test_fault_stall_freezes_everything(bed, sim, namespace):
    sim.set_faults("st", {"stall": True})
    bed.create(release("st", namespace))
    for _ in range(10):
        sim.step()
    cluster = bed.get(CAPI, "clusters", "st")
    assert not cluster.get("status")
    assert not cluster["metadata"].get("finalizers")
    assert bed.machines("st") == []
    sim.clear_faults("st")
    converge(sim, lambda: ready(bed, "st"), "Ready after the stall")


def test_delete_children_first_then_the_cluster(kube_api_client, bed,
                                                namespace):
    sim = core.Simulator(kube_api_client, namespace=namespace,
                         delays=dict(ZERO, deletion=0.3))
    bed.create(release("del", namespace, workers=2))
    converge(sim, lambda: ready(bed, "del", workers=2), "Ready")
    bed.delete(CAPI, "clusters", "del")
    order = []

    def gone():
        cluster_there = bed.exists(CAPI, "clusters", "del")
        kcp_there = bed.exists(KCP, "kubeadmcontrolplanes",
                               "del-control-plane")
        workers = [m for m in bed.machines("del", live=False)
                   if "cluster.x-k8s.io/control-plane"
                   not in m["metadata"]["labels"]]
        if workers:
            assert cluster_there and kcp_there, "parents went first"
            assert not bed.get(KCP, "kubeadmcontrolplanes",
                               "del-control-plane")["metadata"].get(
                "deletionTimestamp"), "KCP deleted before the workers"
        if cluster_there:
            cluster = bed.get(CAPI, "clusters", "del")
            if cluster.get("status", {}).get("phase") == "Deleting":
                order.append("Deleting")
        if bed.machines("del", live=False):
            assert cluster_there, "Cluster gone before its machines"
        if bed.exists(INFRA, "openstackclusters", "del"):
            assert cluster_there
        return not cluster_there
    started = time.monotonic()
    converge(sim, gone, "Cluster gone", pause=0.02)
    assert time.monotonic() - started >= 0.6, "deletion took no time"
    assert "Deleting" in order
    for gv, plural in ((CAPI, "machinedeployments"), (CAPI, "machinesets"),
                       (CAPI, "machines"), (KCP, "kubeadmcontrolplanes"),
                       (INFRA, "openstackclusters"),
                       (INFRA, "openstackmachinetemplates"),
                       (BOOT, "kubeadmconfigtemplates"),
                       (ADDONS, "helmreleases"), (ADDONS, "manifests")):
        assert bed.list(gv, plural) == [], plural
    assert not [s for s in bed.core.list_namespaced_secret(namespace).items
                if s.metadata.name.startswith("del-")]


def test_stuck_deletion_keeps_the_cluster(bed, sim, namespace):
    bed.create(release("stuck", namespace, workers=1))
    converge(sim, lambda: ready(bed, "stuck", workers=1), "Ready")
    sim.set_faults("stuck", {"stuck_deletion": True})
    bed.delete(CAPI, "clusters", "stuck")
    for _ in range(20):
        sim.step()
    cluster = bed.get(CAPI, "clusters", "stuck")
    assert cluster["metadata"]["deletionTimestamp"]
    assert cluster["status"]["phase"] == "Deleting"
    assert bed.machines("stuck", live=False), "machines went anyway"
    sim.clear_faults("stuck")
    converge(sim, lambda: not bed.exists(CAPI, "clusters", "stuck"),
             "gone once unstuck")


def test_background_simulator_survives_an_apiserver_restart(
        kube_api_client, management_cluster, bed, namespace):
    sim = core.Simulator(kube_api_client, namespace=namespace)
    sim.start(interval=0.05)
    try:
        management_cluster.restart_apiserver()
        bed.create(release("rs", namespace, workers=1))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not ready(bed, "rs", 1):
            time.sleep(0.1)
        assert ready(bed, "rs", 1)
    finally:
        sim.stop()
    assert sim.steps > 0


# -- configuration and the command -------------------------------------------

def test_faults_are_validated_with_clear_errors(tmp_path):
    with pytest.raises(faults_mod.FaultsError, match="unknown fault"):
        faults_mod.validate_faults({"c": {"quota": True}})
    with pytest.raises(faults_mod.FaultsError, match="must be bool"):
        faults_mod.validate_faults({"c": {"stall": "yes"}})
    with pytest.raises(faults_mod.FaultsError, match="unknown delay"):
        faults_mod.validate_delays({"boot": 1})
    path = tmp_path / "faults.yaml"
    path.write_text("c: [1\n")
    with pytest.raises(faults_mod.FaultsError, match="not valid YAML"):
        faults_mod.load_faults(str(path))
    path.write_text("'*': {stall: true}\nc: {stall: false}\n"
                    "ns/c: {addon_failed: cni}\n")
    mapping = faults_mod.load_faults(str(path))
    assert faults_mod.faults_for(mapping, "ns", "c") == {
        "stall": False, "addon_failed": "cni"}
    assert faults_mod.faults_for(mapping, "other", "d") == {"stall": True}


def _run_cli(*args, timeout=60):
    return subprocess.run(
        dev.command("simulator", *args), cwd=dev.REPO, env=dev.env(),
        capture_output=True, text=True, timeout=timeout)


def test_cli_bad_input_is_a_clear_error_not_a_traceback(
        tmp_path, kubeconfig):
    done = _run_cli("--kubeconfig", str(tmp_path / "missing"))
    assert done.returncode == 2
    assert "missing: no such file" in done.stderr
    assert "Traceback" not in done.stderr
    faults = tmp_path / "faults.yaml"
    faults.write_text("c: {explode: true}\n")
    done = _run_cli("--kubeconfig", kubeconfig, "--faults", str(faults))
    assert done.returncode == 2
    assert "unknown fault 'explode'" in done.stderr
    assert "Traceback" not in done.stderr
    done = _run_cli("--kubeconfig", kubeconfig, "--delay", "deletion")
    assert done.returncode == 2 and "NAME=SECONDS" in done.stderr


def test_cli_runs_until_sigterm(bed, kubeconfig, namespace, tmp_path):
    bed.create(cluster_objects("cli", namespace))
    proc = subprocess.Popen(
        dev.command("simulator", "--kubeconfig", kubeconfig, "--namespace",
                    namespace, "--interval", "0.1"),
        cwd=dev.REPO, env=dev.env(), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and cond(
                bed.get(CAPI, "clusters", "cli"), "Ready") != "True":
            time.sleep(0.2)
        assert cond(bed.get(CAPI, "clusters", "cli"), "Ready") == "True"
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, output
    assert "stopping" in output and "Traceback" not in output
    assert re.search(r"Machine %s/cli-control-plane-\w+: phase "
                     r"Provisioned -> Running" % namespace, output)


# -- pure helpers (no bed) ---------------------------------------------------

def _machine(name, created, phase_=None, marked=False, deleting=False):
    meta = {"name": name, "creationTimestamp": created}
    if marked:
        meta["annotations"] = {core.DELETE_MACHINE: ""}
    if deleting:
        meta["deletionTimestamp"] = created
    return {"metadata": meta, "status": {"phase": phase_}}


def test_scale_down_order_marked_then_failed_then_oldest():
    old = _machine("a", "2026-01-01T00:00:00Z", "Running")
    new = _machine("b", "2026-01-02T00:00:00Z", "Running")
    failed = _machine("c", "2026-01-03T00:00:00Z", "Failed")
    marked = _machine("d", "2026-01-04T00:00:00Z", "Running", marked=True)
    names = [m["metadata"]["name"] for m in core.scale_down_order(
        [new, old, failed, marked])]
    assert names == ["d", "c", "a", "b"]
    names = [m["metadata"]["name"] for m in core.scale_down_order(
        [old, new], policy="Newest")]
    assert names == ["b", "a"]


def test_conditions_keep_transition_time_while_unchanged():
    first = core.conditions(None, [("Ready", False, "Waiting", "m")])
    first[0]["lastTransitionTime"] = "2000-01-01T00:00:00Z"
    same = core.conditions(first, [("Ready", False, "Waiting", "m")])
    assert same[0]["lastTransitionTime"] == "2000-01-01T00:00:00Z"
    flipped = core.conditions(first, [("Ready", True, None, None)])
    assert flipped[0]["status"] == "True"
    assert flipped[0]["lastTransitionTime"] != "2000-01-01T00:00:00Z"
    assert "reason" not in flipped[0]


def test_merge_patch_removes_what_is_gone_and_names_are_label_safe():
    assert core.merge_patch_of({"a": 1, "b": 2}, {"a": 1, "c": 3}) == {
        "b": None, "c": 3}
    assert core.merge_patch_of({"a": 1}, {"a": 1}) == {}
    long_name = "x" * 80
    value = core.label_value(long_name)
    assert len(value) <= 63 and value == core.label_value(long_name)
    assert core.label_value("short") == "short"
    assert core.int_or_percent("25%", 4, 0, True) == 1
    assert core.int_or_percent("30%", 4, 0, False) == 1
    assert core.int_or_percent(None, 4, 1, True) == 1


def test_a_deleted_namespace_is_emptied_then_finalized(kube_api_client):
    """The namespace controller's part: everything in it goes, then it.

    Machine templates the chart keeps on uninstall and that nothing
    adopted are deleted with the namespace, as kube-controller-manager
    deletes every object of a Terminating namespace.
    """
    core_v1 = client.CoreV1Api(kube_api_client)
    name = "ns-finalize-%s" % uuid.uuid4().hex[:6]
    core_v1.create_namespace({"metadata": {"name": name}})
    bed = Bed(kube_api_client, name)
    sim = core.Simulator(kube_api_client, namespace=name, delays=ZERO,
                         seed=1)
    bed.create(release("gone", name, workers=1))
    converge(sim, lambda: ready(bed, "gone", workers=1), "Ready")
    orphan = node_group("gone", "old")[1]     # an unreferenced template
    bed.create([orphan])
    core_v1.delete_namespace(name)

    def namespace_gone():
        try:
            core_v1.read_namespace(name)
        except exceptions.ApiException as exc:
            if exc.status == 404:
                return True
            raise
        return False
    converge(sim, namespace_gone, "namespace %s gone" % name, pause=0.02)
    assert bed.list(INFRA, "openstackmachinetemplates") == []
    assert bed.list(CAPI, "clusters") == []
    assert core_v1.list_namespaced_secret(name).items == []
