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
"""An RDMA cluster from a Heat template, through the real ``openstack stack``.

examples/heat/rdma-cluster.yaml (``OS::Magnum::ClusterTemplate`` and
``OS::Magnum::Cluster``) on the local stack's real Heat (API and engine),
Keystone, Glance and Magnum; Heat validates the image in Glance and the
flavors, keypair and networks through the Nova / Neutron stubs. Each step
is also checked on Magnum's side, on the management cluster and in
Keystone, with the helpers of the CLI lifecycle tests.

The ordered tests share one Heat stack: create, update (``worker_count``
resizes the cluster), delete. The bad-label test makes its own stack.

The local stack's Heat loads tools/stack.d/heat-plugins/magnum_create_race.py
(an OS::Magnum::Cluster that waits out the moment between Magnum saving a
new cluster and its node groups); without it about one create in two fails
with "Invalid input for field/attribute master_count".
"""

import os
import time
import uuid

import pytest
import yaml

from tests.support.coe import app_creds_of
from tests.support.coe import Management
from tests.support.coe import show as cluster_show
from tests.support.openstack import parse_json

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TEMPLATE = os.path.join(REPO, "examples", "heat", "rdma-cluster.yaml")
STEP_TIMEOUT = 300


def _suffix():
    return uuid.uuid4().hex[:6]


# -- Heat through the CLI ----------------------------------------------------

def stack_show(stack, name):
    """``stack show`` as JSON; None once the stack is gone."""
    result = stack.run("stack", "show", name, "-f", "json",
                       project="demo", check=False)
    if result.returncode != 0:
        if "not found" in result.stderr.lower():
            return None
        raise AssertionError("stack show failed: %s" % result.stderr)
    return parse_json(result.stdout)


def wait_stack(stack, name, wanted, timeout=STEP_TIMEOUT):
    """Poll until the stack's status is one of WANTED (None: gone)."""
    deadline = time.monotonic() + timeout
    shown = None
    while time.monotonic() < deadline:
        shown = stack_show(stack, name)
        status = shown and shown["stack_status"]
        if status in wanted:
            return shown
        if status and status.endswith("_FAILED"):
            raise AssertionError("stack %s is %s: %s" % (
                name, status, shown.get("stack_status_reason")))
        time.sleep(3)
    raise AssertionError("stack %s not %s after %d s; last: %s" % (
        name, "/".join(str(w) for w in wanted), timeout,
        shown and (shown["stack_status"], shown.get("stack_status_reason"))))


def resource_id(stack, name, resource):
    return stack.cli("stack", "resource", "show", name, resource,
                     project="demo")["physical_resource_id"]


def delete_stack(stack, name):
    """``stack delete`` and wait until the stack is gone."""
    if stack_show(stack, name) is None:
        return
    stack.run("stack", "delete", "--yes", name, project="demo")
    wait_stack(stack, name, (None,))


def create_stack(stack, name, template, worker_count=1):
    """``stack create``; the stack once it is CREATE_COMPLETE/_FAILED."""
    stack.run("stack", "create", "-t", template,
              "--parameter", "image=%s" % stack.image,
              "--parameter", "worker_count=%d" % worker_count, name,
              project="demo")
    return wait_stack(stack, name, ("CREATE_COMPLETE", "CREATE_FAILED"))


# -- fixtures -----------------------------------------------------------------

@pytest.fixture(scope="module")
def heat(openstack_stack):
    if "heat" not in openstack_stack.info.get("extras", ()):
        pytest.fail("the local stack runs without Heat (tools/stack up "
                    "--with heat)", pytrace=False)
    return openstack_stack


@pytest.fixture(scope="module")
def mgmt(openstack_stack):
    management = Management(os.path.join(openstack_stack.state_dir, "mgmt",
                                         "kubeconfig"))
    yield management
    management.close()


@pytest.fixture(scope="module")
def demo_user(openstack_stack):
    return openstack_stack.cli("user", "show", "demo")["id"]


@pytest.fixture(scope="module")
def heat_stack(heat):
    """The name of the Heat stack the ordered tests share."""
    name = "e2e-heat-%s" % _suffix()
    yield name
    try:
        delete_stack(heat, name)
    except AssertionError:
        pass


# -- the tests ----------------------------------------------------------------

def test_dry_run_checks_every_parameter(heat):
    types = {entry["Type"] for entry in heat.cli("catalog", "list")}
    assert "orchestration" in types
    # Heat checks the image (Glance), the flavors, keypair and networks
    # (Nova / Neutron stubs) of the parameters, and creates nothing
    preview = heat.cli("stack", "create", "--dry-run", "-t", TEMPLATE,
                       "--parameter", "image=%s" % heat.image,
                       "e2e-heat-dry-%s" % _suffix(), project="demo")
    assert sorted(r["resource_type"] for r in preview["resources"]) == [
        "OS::Magnum::Cluster", "OS::Magnum::ClusterTemplate"]
    assert preview["parameters"]["worker_flavor"] == "g1.rdma"
    bad = heat.run("stack", "create", "--dry-run", "-t", TEMPLATE,
                   "--parameter", "image=%s" % heat.image, "--parameter",
                   "worker_flavor=no-such-flavor", "e2e-heat-dry",
                   project="demo", check=False)
    assert bad.returncode != 0
    assert "worker_flavor" in bad.stderr and "no-such-flavor" in bad.stderr


def test_stack_create_makes_the_cluster(heat, heat_stack, mgmt, demo_user):
    shown = create_stack(heat, heat_stack, TEMPLATE)
    assert shown["stack_status"] == "CREATE_COMPLETE", shown
    cluster_uuid = resource_id(heat, heat_stack, "cluster")
    outputs = {o["output_key"]: o["output_value"] for o in shown["outputs"]}
    assert outputs["cluster_uuid"] == cluster_uuid
    cluster = cluster_show(heat, cluster_uuid, "demo")
    assert cluster["status"] == "CREATE_COMPLETE"
    assert outputs["api_address"] == cluster["api_address"]
    assert cluster["api_address"].startswith("https://")
    assert cluster["node_count"] == 1 and cluster["master_count"] == 1
    template = heat.cli("coe", "cluster", "template", "show",
                        resource_id(heat, heat_stack, "template"),
                        project="demo")
    assert cluster["cluster_template_id"] == template["uuid"]
    assert template["labels"]["rdma_mode"] == "macvlan"
    assert template["labels"]["rdma_network"] == "rdma-net"
    assert (template["flavor_id"], template["master_flavor_id"]) == (
        "g1.rdma", "m1.small")
    namespace, release = mgmt.release_of(cluster_uuid)
    addons = mgmt.addons(namespace, release)
    for component in ("mellanox-network-operator", "rdma-network",
                      "nvidia-gpu-operator", "kube-prometheus-stack"):
        assert addons.get(component) == "Deployed", addons
    assert mgmt.machine_deployments(namespace, release)[
        "default-worker"]["spec"]["replicas"] == 1
    assert mgmt.helm_releases(namespace, release)
    assert app_creds_of(heat, demo_user, cluster_uuid) == {
        mgmt.app_cred_id(cluster_uuid)}


def test_stack_update_resizes_the_cluster(heat, heat_stack, mgmt):
    cluster_uuid = resource_id(heat, heat_stack, "cluster")
    heat.run("stack", "update", "--existing", "--parameter",
             "worker_count=2", heat_stack, project="demo")
    wait_stack(heat, heat_stack, ("UPDATE_COMPLETE",))
    # the same cluster, resized (not replaced)
    assert resource_id(heat, heat_stack, "cluster") == cluster_uuid
    cluster = cluster_show(heat, cluster_uuid, "demo")
    assert cluster["status"] == "UPDATE_COMPLETE"
    assert cluster["node_count"] == 2
    assert len(cluster["node_addresses"]) == 2
    namespace, release = mgmt.release_of(cluster_uuid)
    md = mgmt.machine_deployments(namespace, release)["default-worker"]
    assert md["spec"]["replicas"] == 2


def test_stack_delete_leaves_nothing_behind(heat, heat_stack, mgmt,
                                            demo_user):
    cluster_uuid = resource_id(heat, heat_stack, "cluster")
    template_uuid = resource_id(heat, heat_stack, "template")
    namespace, release = mgmt.release_of(cluster_uuid)
    delete_stack(heat, heat_stack)
    assert cluster_show(heat, cluster_uuid, "demo") is None
    assert app_creds_of(heat, demo_user, cluster_uuid) == set()
    assert mgmt.secrets_of(cluster_uuid) == []
    assert mgmt.helm_releases(namespace, release) == []
    assert mgmt.machine_deployments(namespace, release) == {}
    gone = heat.run("coe", "cluster", "template", "show", template_uuid,
                    project="demo", check=False)
    assert gone.returncode != 0 and "could not be found" in gone.stderr


def test_bad_label_fails_the_stack_and_names_the_label(heat, mgmt,
                                                       demo_user, tmp_path):
    with open(TEMPLATE) as handle:
        template = yaml.safe_load(handle)
    template["resources"]["template"]["properties"]["labels"][
        "rdma_mode"] = "bogus"
    bad = tmp_path / "bad-label.yaml"
    bad.write_text(yaml.safe_dump(template))
    name = "e2e-heat-bad-%s" % _suffix()
    try:
        shown = create_stack(heat, name, str(bad))
        assert shown["stack_status"] == "CREATE_FAILED", shown
        reason = shown["stack_status_reason"]
        assert "rdma_mode" in reason and "bogus" in reason, reason
        assert "Traceback" not in reason
        template_uuid = resource_id(heat, name, "template")
        cluster_uuid = resource_id(heat, name, "cluster")
        failed = cluster_show(heat, cluster_uuid, "demo")
        assert failed["status"] == "CREATE_FAILED"
        assert "rdma_mode" in failed["status_reason"]
        # Heat retried the cluster (action_retry_limit = 1 on the local
        # stack) and deleted the attempt it gave up: one cluster remains
        failed_now = [c["uuid"] for c in heat.cli("coe", "cluster", "list",
                                                  project="demo")
                      if c["status"] == "CREATE_FAILED"]
        mine = [u for u in failed_now if (cluster_show(
            heat, u, "demo") or {}).get("cluster_template_id") ==
            template_uuid]
        assert mine == [cluster_uuid]
        # nothing was made for it anywhere
        assert mgmt.secrets_of(cluster_uuid) == []
        assert app_creds_of(heat, demo_user, cluster_uuid) == set()
    finally:
        delete_stack(heat, name)
    assert stack_show(heat, name) is None
