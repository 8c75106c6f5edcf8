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

import os
import time

import pytest
import yaml

from tests.support.coe import app_creds_of
from tests.support.coe import create_cluster
from tests.support.coe import create_template
from tests.support.coe import delete_quietly
from tests.support.coe import KUBE_TAG
from tests.support.coe import Management
from tests.support.coe import NEXT_KUBE_TAG
from tests.support.coe import show
from tests.support.coe import STEP_TIMEOUT
from tests.support.coe import suffix as _suffix
from tests.support.coe import wait_for
from tests.support.openstack import parse_json


# -- the management cluster -------------------------------------------------

@pytest.fixture(scope="module")
def mgmt(openstack_stack):
    management = Management(os.path.join(openstack_stack.state_dir, "mgmt",
                                         "kubeconfig"))
    yield management
    management.close()


# -- Keystone -----------------------------------------------------------------

@pytest.fixture(scope="module")
def user_ids(openstack_stack):
    return {name: openstack_stack.cli("user", "show", name)["id"]
            for name in ("demo", "demo2")}


# -- Magnum -----------------------------------------------------------------

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


def test_ca_rotation_is_refused_and_the_ca_kept(
        openstack_stack, cluster, mgmt):
    """Cluster API cannot rotate a cluster's CA: refused, nothing changed.

    Magnum makes new CAs before it asks the driver; the driver puts the
    cluster's references back, so ``coe ca show`` still shows the CA the
    cluster's API server was made with.
    """
    uuid_ = show(openstack_stack, cluster, "demo")["uuid"]
    before = openstack_stack.run("coe", "ca", "show", cluster,
                                 project="demo").stdout
    assert "BEGIN CERTIFICATE" in before
    namespace, release = mgmt.release_of(uuid_)
    refused = openstack_stack.run("coe", "ca", "rotate", cluster,
                                  project="demo", check=False)
    assert refused.returncode != 0
    message = " ".join((refused.stdout + refused.stderr).split())
    assert "Cluster API does not rotate" in message, message
    assert "Traceback" not in message
    after = openstack_stack.run("coe", "ca", "show", cluster,
                                project="demo").stdout
    assert after == before
    # The workload cluster's CA Secret is the one Magnum still shows.
    assert mgmt.ca_pem(namespace, release) in after


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
