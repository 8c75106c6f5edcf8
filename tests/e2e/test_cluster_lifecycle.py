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
"""Cluster lifecycle through the real CLI, checked on every side.

``openstack coe`` (python-openstackclient + python-magnumclient) as the
member users of projects ``demo`` and ``demo2`` against the local stack's
real Keystone and Magnum; each step is also checked on the management
cluster (the Cluster API objects the chart made, the driver's Secrets)
and in Keystone (the cluster's application credentials, listed as admin).

One cluster is reused by the ordered tests of this module (create, resize,
node group, upgrade, credential rotation, delete); the bad-label test and
the isolation test each add one small cluster. Magnum syncs the status
every 10 s, so every step takes 10-30 s.
"""

import base64
import os
import time
import uuid

import pytest
import yaml

from tests.e2e.conftest import parse_json

KUBE_TAG = "v1.31.4"
NEXT_KUBE_TAG = "v1.32.2"
RDMA_LABELS = {
    "rdma_mode": "macvlan",
    "rdma_network": "rdma-net",
    "rdma_interface": "ens4",
    "rdma_ip_range": "192.168.100.0/24",
    "gpu_operator_enabled": "true",
    "monitoring_enabled": "true",
}
UUID_LABEL = "magnum.openstack.org/cluster-uuid"
RELEASE_LABEL = "capi.stackhpc.com/cluster"
NODE_GROUP_LABEL = "capi.stackhpc.com/node-group"
CAPI = ("cluster.x-k8s.io", "v1beta1")
ADDONS = ("addons.stackhpc.com", "v1alpha1")
STEP_TIMEOUT = 240


def _labels_arg(labels):
    return ",".join("%s=%s" % item for item in sorted(labels.items()))


def _suffix():
    return uuid.uuid4().hex[:6]


# -- the management cluster -------------------------------------------------

class Management(object):
    """Reads of the management cluster, through its kubeconfig."""

    def __init__(self, kubeconfig):
        from kubernetes import client
        from kubernetes import config

        self.api_client = config.new_client_from_config(
            config_file=kubeconfig)
        self.core = client.CoreV1Api(self.api_client)
        self.custom = client.CustomObjectsApi(self.api_client)

    def secrets_of(self, cluster_uuid):
        """The driver's Secrets of a cluster, in any namespace."""
        return self.core.list_secret_for_all_namespaces(
            label_selector="%s=%s" % (UUID_LABEL, cluster_uuid)).items

    def release_of(self, cluster_uuid):
        """(namespace, release) of a cluster, from its credentials."""
        for secret in self.secrets_of(cluster_uuid):
            name = secret.metadata.name
            if name.endswith("-cloud-credentials"):
                return (secret.metadata.namespace,
                        name[:-len("-cloud-credentials")])
        raise AssertionError("no cloud-credentials Secret of cluster %s"
                             % cluster_uuid)

    def app_cred_id(self, cluster_uuid):
        """The application credential the cluster's clouds.yaml uses."""
        for secret in self.secrets_of(cluster_uuid):
            if secret.metadata.name.endswith("-cloud-credentials"):
                clouds = yaml.safe_load(base64.b64decode(
                    secret.data["clouds.yaml"]))
                (cloud,) = clouds["clouds"].values()
                return cloud["auth"]["application_credential_id"]
        raise AssertionError("no cloud-credentials Secret of cluster %s"
                             % cluster_uuid)

    def machine_deployments(self, namespace, release):
        """{node group: MachineDeployment} of a release."""
        items = self.custom.list_namespaced_custom_object(
            *CAPI, namespace, "machinedeployments",
            label_selector="%s=%s" % (RELEASE_LABEL, release))["items"]
        return {md["metadata"]["labels"][NODE_GROUP_LABEL]: md
                for md in items}

    def addons(self, namespace, release):
        """{component: phase} of the release's add-ons."""
        found = {}
        for plural in ("helmreleases", "manifests"):
            for obj in self.custom.list_namespaced_custom_object(
                    *ADDONS, namespace, plural,
                    label_selector="%s=%s" % (RELEASE_LABEL,
                                              release))["items"]:
                component = obj["metadata"]["labels"][
                    "capi.stackhpc.com/component"]
                found[component] = (obj.get("status") or {}).get("phase")
        return found

    def helm_releases(self, namespace, release):
        """Helm's release Secrets of a release."""
        return [s.metadata.name for s in self.core.list_namespaced_secret(
            namespace, label_selector="owner=helm,name=%s" % release).items]

    def namespace_names(self):
        return {ns.metadata.name for ns in self.core.list_namespace().items}

    def close(self):
        self.api_client.close()


@pytest.fixture(scope="module")
def mgmt(openstack_stack):
    management = Management(os.path.join(openstack_stack.state_dir, "mgmt",
                                         "kubeconfig"))
    yield management
    management.close()


# -- Keystone -----------------------------------------------------------------

def app_creds_of(stack, user_id, cluster_uuid):
    """IDs of the cluster's application credentials (listed as admin)."""
    creds = stack.cli("application", "credential", "list", "--user",
                      user_id)
    return {c["ID"] for c in creds
            if c["Name"].startswith("magnum-capi-rdma-%s" % cluster_uuid)}


@pytest.fixture(scope="module")
def user_ids(openstack_stack):
    return {name: openstack_stack.cli("user", "show", name)["id"]
            for name in ("demo", "demo2")}


# -- Magnum -----------------------------------------------------------------

def show(stack, cluster, project):
    """``coe cluster show`` as JSON; None once the cluster is gone."""
    result = stack.run("coe", "cluster", "show", cluster, "-f", "json",
                       project=project, check=False)
    if result.returncode != 0:
        if "could not be found" in result.stderr:
            return None
        raise AssertionError("cluster show failed: %s" % result.stderr)
    return parse_json(result.stdout)


def wait_for(stack, cluster, wanted, project="demo",
             timeout=STEP_TIMEOUT):
    """Poll until the cluster's status is WANTED (None: gone).

    Fails at once on a *_FAILED status that was not wanted; while
    waiting for a delete only DELETE_FAILED counts (right after the
    delete call, a failed create still shows CREATE_FAILED).
    """
    failed = ("DELETE_FAILED",) if wanted is None else ("_FAILED",)
    deadline = time.monotonic() + timeout
    shown = None
    while time.monotonic() < deadline:
        shown = show(stack, cluster, project)
        status = shown and shown["status"]
        if status == wanted:
            return shown
        if status and status.endswith(failed):
            raise AssertionError("cluster %s is %s: %s" % (
                cluster, status, shown.get("status_reason")))
        time.sleep(3)
    raise AssertionError("cluster %s not %s after %d s; last: %s" % (
        cluster, wanted, timeout,
        shown and (shown["status"], shown.get("status_reason"))))


def create_template(stack, name, kube_tag, project="demo", labels=None):
    all_labels = dict(RDMA_LABELS, kube_tag=kube_tag, **(labels or {}))
    return stack.cli(
        "coe", "cluster", "template", "create", name,
        "--coe", "kubernetes", "--image", stack.image,
        "--external-network", "public", "--flavor", "m1.small",
        "--master-flavor", "m1.small", "--keypair", "demo",
        "--network-driver", "calico", "--master-lb-enabled",
        "--labels", _labels_arg(all_labels), project=project)


def create_cluster(stack, name, template, project="demo", node_count=1,
                   extra=()):
    stack.run("coe", "cluster", "create", name, "--cluster-template",
              template, "--master-count", "1", "--node-count",
              str(node_count), *extra, project=project)


def delete_quietly(stack, cluster, project):
    """Delete a cluster if it is there and wait until it is gone."""
    if show(stack, cluster, project) is None:
        return
    stack.run("coe", "cluster", "delete", cluster, project=project,
              check=False)
    try:
        wait_for(stack, cluster, None, project=project)
    except AssertionError:
        pass


@pytest.fixture(scope="module")
def templates(openstack_stack):
    """Two templates of project demo: KUBE_TAG and one minor up."""
    suffix = _suffix()
    names = {"base": "e2e-rdma-%s" % suffix,
             "next": "e2e-rdma-next-%s" % suffix}
    create_template(openstack_stack, names["base"], KUBE_TAG)
    create_template(openstack_stack, names["next"], NEXT_KUBE_TAG)
    yield names
    for name in names.values():
        openstack_stack.run("coe", "cluster", "template", "delete", name,
                            project="demo", check=False)


@pytest.fixture(scope="module")
def cluster(openstack_stack, templates):
    """The name of the demo cluster the ordered tests share."""
    name = "e2e-%s" % _suffix()
    create_cluster(openstack_stack, name, templates["base"])
    yield name
    delete_quietly(openstack_stack, name, "demo")


# -- the tests ----------------------------------------------------------------

def test_bad_label_fails_the_create_and_names_the_label(
        openstack_stack, templates, mgmt, user_ids):
    name = "e2e-bad-%s" % _suffix()
    create_cluster(openstack_stack, name, templates["base"],
                   extra=("--labels", "rdma_mode=roce_macvlan,rdma_mtu=12",
                          "--merge-labels"))
    try:
        deadline = time.monotonic() + 60
        shown = show(openstack_stack, name, "demo")
        while shown["status"] == "CREATE_IN_PROGRESS" and (
                time.monotonic() < deadline):
            time.sleep(2)
            shown = show(openstack_stack, name, "demo")
        assert shown["status"] == "CREATE_FAILED", shown
        reason = shown["status_reason"]
        assert "rdma_mode" in reason and "roce_macvlan" in reason, reason
        assert "rdma_mtu" in reason, reason
        assert "Traceback" not in reason
        # nothing was made for it anywhere
        assert mgmt.secrets_of(shown["uuid"]) == []
        assert app_creds_of(openstack_stack, user_ids["demo"],
                            shown["uuid"]) == set()
        listed = openstack_stack.cli("coe", "cluster", "list",
                                     project="demo")
        if [c["uuid"] for c in listed] == [shown["uuid"]]:
            # no other cluster of the project: not even its namespace
            assert "magnum-%s" % shown["project_id"] not in (
                mgmt.namespace_names())
    finally:
        delete_quietly(openstack_stack, name, "demo")
    assert show(openstack_stack, name, "demo") is None


def test_create_reaches_create_complete(openstack_stack, cluster, mgmt,
                                        user_ids):
    shown = wait_for(openstack_stack, cluster, "CREATE_COMPLETE")
    assert shown["coe_version"] == KUBE_TAG
    assert shown["api_address"].startswith("https://")
    assert len(shown["master_addresses"]) == 1
    assert len(shown["node_addresses"]) == 1
    namespace, release = mgmt.release_of(shown["uuid"])
    assert namespace == "magnum-%s" % shown["project_id"]
    addons = mgmt.addons(namespace, release)
    for component in ("mellanox-network-operator", "rdma-network",
                      "nvidia-gpu-operator", "kube-prometheus-stack"):
        assert addons.get(component) == "Deployed", addons
    mds = mgmt.machine_deployments(namespace, release)
    assert mds["default-worker"]["spec"]["replicas"] == 1
    assert mgmt.helm_releases(namespace, release)
    creds = app_creds_of(openstack_stack, user_ids["demo"], shown["uuid"])
    assert creds == {mgmt.app_cred_id(shown["uuid"])}


def test_cluster_config_is_a_kubeconfig(openstack_stack, cluster,
                                        tmp_path):
    openstack_stack.run("coe", "cluster", "config", cluster, "--dir",
                        str(tmp_path), "--force", project="demo")
    config = yaml.safe_load((tmp_path / "config").read_text())
    shown = show(openstack_stack, cluster, "demo")
    servers = [c["cluster"]["server"] for c in config["clusters"]]
    assert servers == [shown["api_address"]]


def test_resize(openstack_stack, cluster, mgmt):
    openstack_stack.run("coe", "cluster", "resize", cluster, "2",
                        project="demo")
    shown = wait_for(openstack_stack, cluster, "UPDATE_COMPLETE")
    assert shown["node_count"] == 2
    assert len(shown["node_addresses"]) == 2
    namespace, release = mgmt.release_of(shown["uuid"])
    md = mgmt.machine_deployments(namespace, release)["default-worker"]
    assert md["spec"]["replicas"] == 2
    assert (md.get("status") or {}).get("readyReplicas") == 2


def _nodegroup(stack, cluster, name):
    result = stack.run("coe", "nodegroup", "show", cluster, name, "-f",
                       "json", project="demo", check=False)
    if result.returncode != 0:
        assert "could not be found" in result.stderr, result.stderr
        return None
    return parse_json(result.stdout)


def _wait_nodegroup(stack, cluster, name, wanted):
    deadline = time.monotonic() + STEP_TIMEOUT
    shown = None
    while time.monotonic() < deadline:
        shown = _nodegroup(stack, cluster, name)
        status = shown and shown["status"]
        if status == wanted:
            return shown
        assert not (status or "").endswith("_FAILED"), shown
        time.sleep(3)
    raise AssertionError("node group %s not %s; last %s" % (
        name, wanted, shown))


def test_nodegroup_create_and_delete(openstack_stack, cluster, mgmt):
    uuid_ = show(openstack_stack, cluster, "demo")["uuid"]
    namespace, release = mgmt.release_of(uuid_)
    openstack_stack.run("coe", "nodegroup", "create", cluster, "gpu",
                        "--node-count", "1", "--flavor", "g1.rdma",
                        "--role", "worker", project="demo")
    shown = _wait_nodegroup(openstack_stack, cluster, "gpu",
                            "CREATE_COMPLETE")
    assert shown["node_count"] == 1 and shown["flavor_id"] == "g1.rdma"
    mds = mgmt.machine_deployments(namespace, release)
    assert mds["gpu"]["spec"]["replicas"] == 1
    assert mds["default-worker"]["spec"]["replicas"] == 2
    openstack_stack.run("coe", "nodegroup", "delete", cluster, "gpu",
                        project="demo")
    _wait_nodegroup(openstack_stack, cluster, "gpu", None)
    mds = mgmt.machine_deployments(namespace, release)
    assert "gpu" not in mds and "default-worker" in mds
    assert show(openstack_stack, cluster, "demo")["status"].endswith(
        "_COMPLETE")


def test_upgrade(openstack_stack, cluster, templates, mgmt):
    template = openstack_stack.cli("coe", "cluster", "template", "show",
                                   templates["next"], project="demo")
    openstack_stack.run("coe", "cluster", "upgrade", cluster,
                        templates["next"], project="demo")
    shown = wait_for(openstack_stack, cluster, "UPDATE_COMPLETE")
    deadline = time.monotonic() + STEP_TIMEOUT
    while shown["coe_version"] != NEXT_KUBE_TAG and (
            time.monotonic() < deadline):
        time.sleep(3)
        shown = wait_for(openstack_stack, cluster, "UPDATE_COMPLETE")
    assert shown["coe_version"] == NEXT_KUBE_TAG
    assert shown["cluster_template_id"] == template["uuid"]
    namespace, release = mgmt.release_of(shown["uuid"])
    md = mgmt.machine_deployments(namespace, release)["default-worker"]
    assert md["spec"]["template"]["spec"]["version"] == NEXT_KUBE_TAG


def test_credential_rotation(openstack_stack, cluster, mgmt, user_ids):
    uuid_ = show(openstack_stack, cluster, "demo")["uuid"]
    old = mgmt.app_cred_id(uuid_)
    assert old in app_creds_of(openstack_stack, user_ids["demo"], uuid_)
    openstack_stack.run("coe", "credential", "rotate", cluster,
                        project="demo")
    new = mgmt.app_cred_id(uuid_)
    assert new != old
    assert app_creds_of(openstack_stack, user_ids["demo"],
                        uuid_) == {new}
    assert show(openstack_stack, cluster, "demo")["status"].endswith(
        "_COMPLETE")


def test_two_projects_do_not_see_or_collide(openstack_stack, cluster,
                                            templates, mgmt, user_ids):
    """demo2 makes a cluster with the very same name as demo's."""
    template = "e2e-demo2-%s" % _suffix()
    mine = show(openstack_stack, cluster, "demo")
    create_template(openstack_stack, template, KUBE_TAG, project="demo2")
    try:
        create_cluster(openstack_stack, cluster, template,
                       project="demo2")
        theirs = wait_for(openstack_stack, cluster, "CREATE_COMPLETE",
                          project="demo2")
        assert theirs["uuid"] != mine["uuid"]
        for project, own in (("demo", mine), ("demo2", theirs)):
            listed = openstack_stack.cli("coe", "cluster", "list",
                                         project=project)
            assert own["uuid"] in {c["uuid"] for c in listed}
            other = theirs if own is mine else mine
            assert other["uuid"] not in {c["uuid"] for c in listed}
            assert show(openstack_stack, other["uuid"], project) is None
        ns_mine, rel_mine = mgmt.release_of(mine["uuid"])
        ns_theirs, rel_theirs = mgmt.release_of(theirs["uuid"])
        assert ns_mine != ns_theirs and rel_mine != rel_theirs
        assert mgmt.machine_deployments(ns_theirs, rel_theirs)
        assert app_creds_of(openstack_stack, user_ids["demo2"],
                            mine["uuid"]) == set()
        openstack_stack.run("coe", "cluster", "delete", theirs["uuid"],
                            project="demo2")
        wait_for(openstack_stack, theirs["uuid"], None, project="demo2")
        assert mgmt.secrets_of(theirs["uuid"]) == []
        # demo's cluster did not notice
        again = show(openstack_stack, cluster, "demo")
        assert again["status"].endswith("_COMPLETE")
        assert mgmt.release_of(mine["uuid"]) == (ns_mine, rel_mine)
        assert mgmt.machine_deployments(ns_mine, rel_mine)
    finally:
        delete_quietly(openstack_stack, cluster, "demo2")
        openstack_stack.run("coe", "cluster", "template", "delete",
                            template, project="demo2", check=False)


def test_delete_leaves_nothing_behind(openstack_stack, cluster, mgmt,
                                      user_ids):
    shown = show(openstack_stack, cluster, "demo")
    namespace, release = mgmt.release_of(shown["uuid"])
    openstack_stack.run("coe", "cluster", "delete", cluster,
                        project="demo")
    wait_for(openstack_stack, shown["uuid"], None)
    assert app_creds_of(openstack_stack, user_ids["demo"],
                        shown["uuid"]) == set()
    assert mgmt.secrets_of(shown["uuid"]) == []
    others = openstack_stack.cli("coe", "cluster", "list", project="demo")
    if others:  # the namespace is shared with them
        assert mgmt.helm_releases(namespace, release) == []
        assert mgmt.machine_deployments(namespace, release) == {}
        return
    deadline = time.monotonic() + 30
    while namespace in mgmt.namespace_names() and (
            time.monotonic() < deadline):
        time.sleep(1)
    assert namespace not in mgmt.namespace_names()
