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
"""Horizon's Container Infra panels (magnum-ui) in a real browser.

Headless Chromium (Debian's ``chromium`` + ``chromium-driver``) driven by
Selenium against the local stack's Horizon, as the member user of project
``demo``: log in, create a cluster template with RDMA labels through the
form, create a cluster from it through the form, watch its page until
CREATE_COMPLETE and HEALTHY, and see a bad label's message from the driver
in the page. Each step is cross-checked with the ``openstack coe`` CLI,
and leaves a screenshot in ``artifacts/horizon/`` (a failed test also
leaves its page's HTML and browser console there).

With ``MAGNUM_CAPI_RDMA_HORIZON_DOC_SHOTS=1`` the screenshots the user
guide shows are copied to ``doc/source/_static/horizon/``;
``MAGNUM_CAPI_RDMA_HORIZON_URL`` tests another Horizon (on loopback) on the
same stack instead of the stack's own.

What the tests created is deleted through the CLI at the end.
"""

import json
import os
import time
import uuid

import pytest
from selenium.webdriver.common.by import By

from tests.e2e import horizon_pages as hp

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SHOTS = os.path.join(REPO, "artifacts", "horizon")
DOC_SHOTS = os.path.join(REPO, "doc", "source", "_static", "horizon")
KUBE_TAG = "v1.31.4"
# Labels of a RoCE (macvlan) cluster with the GPU operator, as in
# examples/macvlan-gpu.yaml; the local stack's stubs serve rdma-net.
RDMA_LABELS = {
    "kube_tag": KUBE_TAG,
    "rdma_mode": "macvlan",
    "rdma_network": "rdma-net",
    "rdma_interface": "ens4",
    "rdma_ip_range": "192.168.100.0/24",
    "gpu_operator_enabled": "true",
    "monitoring_enabled": "true",
}
CREATE_TIMEOUT = 300
HEALTH_TIMEOUT = 240
FAIL_TIMEOUT = 120
DOC_PICKS = (
    "03-template-node-spec", "04-template-network", "05-template-labels",
    "06-template-created", "07-cluster-details", "08-cluster-size",
    "10-cluster-in-progress", "11-cluster-complete", "12-cluster-health",
    "13-bad-label-advanced", "14-bad-label-failed",
)


def _suffix():
    return uuid.uuid4().hex[:6]


def _labels_text(labels):
    # magnum-ui splits the Labels field on commas (no spaces, one line).
    return ",".join("%s=%s" % item for item in sorted(labels.items()))


def _poll(condition, timeout, interval=3):
    """Call CONDITION until it returns a true value or TIMEOUT passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


# -- fixtures -----------------------------------------------------------------

@pytest.fixture(scope="module")
def horizon_url(openstack_stack):
    url = (os.environ.get("MAGNUM_CAPI_RDMA_HORIZON_URL") or
           openstack_stack.info.get("horizon"))
    if not url:
        pytest.fail("the local stack serves no Horizon (no \"horizon\" in "
                    "%s/stack.json): tools/stack up --with heat,horizon"
                    % openstack_stack.state_dir, pytrace=False)
    return url


@pytest.fixture(scope="module")
def browser(openstack_stack, horizon_url):
    """Headless Chromium logged in to Horizon as project demo's member."""
    problem = hp.missing_browser()
    if problem:
        pytest.fail(problem, pytrace=False)
    os.makedirs(SHOTS, exist_ok=True)
    driver = hp.start_chromium(os.path.join(SHOTS, "chromedriver.log"))
    horizon = hp.Horizon(driver, horizon_url, SHOTS)
    try:
        creds = openstack_stack.info["credentials"]["demo"]
        horizon.login(creds["OS_USERNAME"], creds["OS_PASSWORD"],
                      next_path="project/cluster_templates/")
        yield horizon
    finally:
        if os.environ.get("MAGNUM_CAPI_RDMA_HORIZON_DOC_SHOTS") == "1":
            hp.copy_for_docs([p for p in horizon.shots if os.path.basename(
                p)[:-4] in DOC_PICKS], DOC_SHOTS)
        horizon.close()


@pytest.fixture(autouse=True)
def _keep_failures(request, browser):
    """A failed test leaves its page (PNG, HTML, console) in SHOTS."""
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        browser.save_failure(request.node.name)


@pytest.fixture(scope="module")
def created(openstack_stack):
    """Names of what the tests made; deleted through the CLI at the end."""
    made = {"clusters": [], "templates": []}
    yield made
    for name in made["clusters"]:
        openstack_stack.run("coe", "cluster", "delete", name,
                            project="demo", check=False)
    for name in made["clusters"]:
        _poll(lambda: _cluster(openstack_stack, name) is None, 300)
    for name in made["templates"]:
        openstack_stack.run("coe", "cluster", "template", "delete", name,
                            project="demo", check=False)


def _cluster(stack, name):
    """``coe cluster show NAME`` as JSON; None once it is gone."""
    result = stack.run("coe", "cluster", "show", name, "-f", "json",
                       project="demo", check=False)
    if result.returncode != 0:
        if "could not be found" in result.stderr:
            return None
        raise AssertionError("cluster show failed: %s" % result.stderr)
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def template(openstack_stack, browser, created):
    """A cluster template made through magnum-ui's form; (name, uuid)."""
    name = "hz-rdma-%s" % _suffix()
    created["templates"].append(name)
    with browser.step("template-form"):
        browser.open_form("project/cluster_templates/",
                          "Create Cluster Template")
        browser.type_into("name", name)
        browser.choose("coe", "Kubernetes")
        browser.screenshot("02-template-info")

        browser.tab("Node Spec")
        browser.choose("image_id", openstack_stack.image)
        browser.choose("flavor_id", "g1.rdma")
        browser.choose("master_flavor_id", "m1.small")
        browser.choose("keypair_id", "demo")
        browser.screenshot("03-template-node-spec")

        browser.tab("Network")
        browser.choose("network_driver", "Calico")
        browser.choose("external_network_id", "public")
        browser.check("master_lb_enabled")
        browser.screenshot("04-template-network")

        browser.tab("Labels")
        browser.type_into("labels", _labels_text(RDMA_LABELS))
        browser.screenshot("05-template-labels")

        toast = browser.submit(
            r"Cluster template .* was successfully created")
        toast_uuid = hp.uuid_in(toast)
    return name, toast_uuid


@pytest.fixture(scope="module")
def cluster(openstack_stack, browser, template, created):
    """A cluster made from TEMPLATE through the form; (name, uuid)."""
    name = "hz-rdma-%s" % _suffix()
    created["clusters"].append(name)
    with browser.step("cluster-form"):
        uuid_ = _create_cluster(browser, name, template[0], labels="",
                                shots=("07-cluster-details",
                                       "08-cluster-size",
                                       "09-cluster-advanced"))
    return name, uuid_


def _create_cluster(browser, name, template_name, labels, shots):
    browser.open_form("project/clusters/", "Create Cluster")
    browser.type_into("name", name)
    browser.choose("cluster_template_id", template_name)
    browser.choose("availability_zone", "nova")
    browser.choose("keypair", "demo")
    browser.screenshot(shots[0])

    browser.tab("Size")
    browser.type_into("master_count", "1")
    browser.choose("master_flavor_id", "m1.small")
    browser.type_into("node_count", "1")
    browser.choose("flavor_id", "g1.rdma")
    browser.screenshot(shots[1])

    browser.tab("Advanced")
    if labels:
        browser.type_into("labels", labels)
        # the label is also in the template: say the cluster's wins
        browser.check("override_labels")
    browser.screenshot(shots[2])

    toast = browser.submit(r"Cluster .* was successfully created")
    return hp.uuid_in(toast)


# -- the tests ----------------------------------------------------------------

def test_login_lands_on_container_infra(browser):
    browser.open_panel("project/cluster_templates/", "Create Cluster Template")
    nav = browser.driver.find_element(By.CSS_SELECTOR, "#sidebar")
    for panel in ("Container Infra", "Clusters", "Cluster Templates"):
        assert panel in nav.get_attribute("textContent"), panel
    browser.screenshot("01-logged-in")


def test_template_form_stores_the_rdma_labels(openstack_stack, browser,
                                              template):
    name, template_uuid = template
    shown = openstack_stack.cli("coe", "cluster", "template", "show", name,
                                project="demo")
    assert shown["uuid"] == template_uuid
    assert shown["image_id"] == openstack_stack.image
    assert shown["flavor_id"] == "g1.rdma"
    assert shown["master_flavor_id"] == "m1.small"
    assert shown["keypair_id"] == "demo"
    assert shown["network_driver"] == "calico"
    assert shown["master_lb_enabled"] is True
    assert {k: shown["labels"].get(k) for k in RDMA_LABELS} == RDMA_LABELS

    page = browser.open_details("ClusterTemplate", template_uuid, "ID")
    assert page["ID"] == template_uuid
    for key, value in RDMA_LABELS.items():
        assert page.get(key) == value, (key, page)
    browser.scroll_to_text("Labels")
    browser.screenshot("06-template-created")


def test_cluster_reaches_create_complete_in_the_page(openstack_stack,
                                                     browser, cluster):
    name, cluster_uuid = cluster
    seen = []

    def complete(page):
        seen.append((page["Status"], page.get("Status Reason")))
        if page["Status"].endswith("_FAILED"):
            raise hp.PageError("cluster %s is %s: %s" % (
                name, page["Status"], page.get("Status Reason")))
        if (page["Status"] == "CREATE_IN_PROGRESS" and
                "control plane" in page.get("Status Reason", "") and
                "10-cluster-in-progress" not in " ".join(browser.shots)):
            browser.screenshot_block("Record Properties",
                                     "10-cluster-in-progress")
        return page["Status"] == "CREATE_COMPLETE"

    page = browser.watch_details(
        "Cluster", cluster_uuid, complete,
        "cluster %s not CREATE_COMPLETE in the page" % name,
        timeout=CREATE_TIMEOUT, poll=3)
    browser.scroll_to_text("Record Properties")
    browser.screenshot("11-cluster-complete")
    assert seen[0][0] in ("CREATE_IN_PROGRESS", "CREATE_COMPLETE"), seen
    # while in progress the reason is the driver's (release install, then
    # "control plane 0/1 ready, workers 0/1 ready, add-ons 0/9 deployed")
    progress = [reason for status, reason in seen
                if status == "CREATE_IN_PROGRESS" and reason != "-"]
    assert progress, seen
    assert not [r for r in progress if "Traceback" in r], seen
    # the page says what the API says
    shown = _cluster(openstack_stack, name)
    assert shown["uuid"] == cluster_uuid
    assert shown["status"] == "CREATE_COMPLETE"
    assert page["Status Reason"] == (shown["status_reason"] or "-")
    assert page["Node Count"] == "1" and page["Master Count"] == "1", page
    assert page["Node Flavor ID"] == "g1.rdma", page
    assert page.get("rdma_mode") == "macvlan", page
    assert page["Kubernetes Version"] == KUBE_TAG, page


def test_cluster_health_in_the_page(openstack_stack, browser, cluster):
    name, cluster_uuid = cluster

    def healthy(page):
        return page.get("Health Status") == "HEALTHY"

    page = browser.watch_details(
        "Cluster", cluster_uuid, healthy,
        "cluster %s not HEALTHY in the page" % name,
        timeout=HEALTH_TIMEOUT)
    browser.screenshot_block("Record Properties", "12-cluster-health")
    reason = page["Health Status Reason"]
    # one entry per component, RDMA included (the local stack has no
    # workload cluster to read the NicClusterPolicy from: its state shows
    # as unknown there, which leaves the health to the other components)
    for component in ('"api"', '"control plane"', '"add-ons"', '"rdma"'):
        assert component in reason, reason
    shown = _cluster(openstack_stack, name)
    assert shown["health_status"] == "HEALTHY"
    assert set(shown["health_status_reason"]) >= {"api", "rdma"}
    assert shown["health_status_reason"]["rdma"] in reason


def test_bad_label_shows_the_drivers_message(openstack_stack, browser,
                                             template, created):
    name = "hz-bad-%s" % _suffix()
    created["clusters"].append(name)
    cluster_uuid = _create_cluster(
        browser, name, template[0], labels="rdma_mode=bogus",
        shots=("13-bad-label-details", "13-bad-label-size",
               "13-bad-label-advanced"))

    def failed(page):
        if page["Status"] == "CREATE_COMPLETE":
            raise hp.PageError("cluster %s with rdma_mode=bogus was "
                               "created" % name)
        return page["Status"] == "CREATE_FAILED"

    page = browser.watch_details(
        "Cluster", cluster_uuid, failed,
        "cluster %s with a bad label not CREATE_FAILED in the page" % name,
        timeout=FAIL_TIMEOUT, poll=2)
    browser.screenshot_block("Record Properties", "14-bad-label-failed")
    reason = page["Status Reason"]
    assert "rdma_mode" in reason and "bogus" in reason, reason
    assert "macvlan" in reason, reason  # the allowed values are listed
    assert "Traceback" not in reason
    shown = _cluster(openstack_stack, name)
    assert shown["status_reason"] == reason
