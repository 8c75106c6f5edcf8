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
"""The local stack through the real CLI.

python-openstackclient, python-magnumclient and python-heatclient of the
stack venv, against real Keystone, Glance, Magnum and Heat, with the Nova /
Neutron / Cinder stubs; Horizon with magnum-ui over plain HTTP (login, the
Container Infra panels, static files). The browser tests are in
test_horizon.py.
"""

import http.cookiejar
import json
import os
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

RDMA_LABELS = {
    "kube_tag": "v1.31.4",
    "rdma_mode": "macvlan",
    "rdma_network": "rdma-net",
    "rdma_interface": "ens4",
    "rdma_ip_range": "192.168.100.0/24",
    "gpu_operator_enabled": "true",
    "monitoring_enabled": "true",
}


def _labels_arg(labels):
    return ",".join("%s=%s" % item for item in sorted(labels.items()))


def _get(url, token=None):
    request = urllib.request.Request(url)
    if token:
        request.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def test_catalog_lists_every_service(openstack_stack):
    types = {entry["Type"] for entry in openstack_stack.cli("catalog",
                                                            "list")}
    assert {"identity", "image", "compute", "network", "block-storage",
            "container-infra"} <= types


def test_stub_flavors_keypair_and_networks(openstack_stack):
    flavors = {f["Name"]: f for f in openstack_stack.cli(
        "flavor", "list", "--long", project="demo")}
    assert {"m1.small", "m1.large", "g1.rdma"} <= set(flavors)
    small = flavors["m1.small"]
    assert (small["VCPUs"], small["RAM"], small["Disk"]) == (2, 4096, 20)
    keypair = openstack_stack.cli("keypair", "show", "demo", project="demo")
    assert keypair["name"] == "demo"
    external = [n["Name"] for n in openstack_stack.cli(
        "network", "list", "--external", project="demo")]
    assert external == ["public"]
    named = openstack_stack.cli("network", "list", "--name", "rdma-net",
                                project="demo")
    assert [n["Name"] for n in named] == ["rdma-net"]


def test_stub_volume_types(openstack_stack):
    names = {t["Name"] for t in openstack_stack.cli(
        "volume", "type", "list", project="demo")}
    assert {"__DEFAULT__", "fast"} <= names


def test_stubs_refuse_requests_without_a_valid_token(openstack_stack):
    ports = openstack_stack.ports
    base = "http://127.0.0.1:%d" % ports["compute"]
    status, body = _get(base + "/")
    assert status == 200 and body["versions"][0]["id"] == "v2.1"
    assert _get(base + "/v2.1/flavors/detail")[0] == 401
    assert _get(base + "/v2.1/flavors/detail", "not-a-token")[0] == 401
    token = openstack_stack.cli("token", "issue", project="demo")["id"]
    status, body = _get(base + "/v2.1/flavors/detail", token)
    assert status == 200
    assert "m1.small" in {f["name"] for f in body["flavors"]}
    network = "http://127.0.0.1:%d" % ports["network"]
    status, body = _get(network + "/v2.0/networks?router:external=True",
                        token)
    assert status == 200
    assert [n["name"] for n in body["networks"]] == ["public"]


@pytest.fixture
def template_name(openstack_stack):
    name = "e2e-%s" % uuid.uuid4().hex[:8]
    yield name
    openstack_stack.run("coe", "cluster", "template", "delete", name,
                        project="demo", check=False)


def test_cluster_template_create_and_show(openstack_stack, template_name):
    created = openstack_stack.cli(
        "coe", "cluster", "template", "create", template_name,
        "--coe", "kubernetes", "--image", openstack_stack.image,
        "--external-network", "public", "--fixed-network", "private",
        "--flavor", "g1.rdma", "--master-flavor", "m1.small",
        "--keypair", "demo", "--network-driver", "calico",
        "--labels", _labels_arg(RDMA_LABELS), project="demo")
    assert created["name"] == template_name
    shown = openstack_stack.cli("coe", "cluster", "template", "show",
                                template_name, project="demo")
    assert shown["uuid"] == created["uuid"]
    assert shown["coe"] == "kubernetes"
    assert shown["flavor_id"] == "g1.rdma"
    assert shown["keypair_id"] == "demo"
    assert shown["network_driver"] == "calico"
    assert shown["driver"] == "k8s_capi_rdma"
    assert {k: shown["labels"].get(k) for k in RDMA_LABELS} == RDMA_LABELS
    # another project does not see a private template
    others = openstack_stack.cli("coe", "cluster", "template", "list",
                                 project="demo2")
    assert template_name not in {t["name"] for t in others}


def test_template_with_unknown_flavor_is_refused(openstack_stack,
                                                 template_name):
    result = openstack_stack.run(
        "coe", "cluster", "template", "create", template_name,
        "--coe", "kubernetes", "--image", openstack_stack.image,
        "--external-network", "public", "--flavor", "no-such-flavor",
        "--keypair", "demo", project="demo", check=False)
    assert result.returncode != 0
    assert "no-such-flavor" in result.stderr


def test_status_reports_every_service(openstack_stack):
    stack = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "tools", "stack")
    result = subprocess.run([stack, "status"], stdout=subprocess.PIPE,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout
    for name in ("keystone", "glance", "magnum-api", "magnum-conductor",
                 "rabbitmq", "mariadb", "stubs"):
        line = [row for row in result.stdout.splitlines()
                if row.split()[:1] == [name]]
        assert line and line[0].split()[1] == "up", result.stdout
    assert "peak memory" in result.stdout


# -- the optional services: Heat and Horizon (tools/stack up --with ...) ----

def test_status_reports_heat_and_horizon(openstack_stack):
    stack = os.path.join(openstack_stack.info["repo"], "tools", "stack")
    result = subprocess.run([stack, "status"], stdout=subprocess.PIPE,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout
    states = {row.split()[0]: row.split()[1]
              for row in result.stdout.splitlines()
              if row.startswith("  ")}
    for name in ("heat-api", "heat-engine", "horizon"):
        assert states.get(name) == "up", result.stdout
    assert openstack_stack.heat_url == "http://127.0.0.1:%d/v1" % (
        openstack_stack.ports["heat-api"])
    assert openstack_stack.horizon_url == "http://127.0.0.1:%d/" % (
        openstack_stack.ports["horizon"])


def test_heat_api_needs_a_token_and_lists_stacks(openstack_stack):
    base = "http://127.0.0.1:%d" % openstack_stack.ports["heat-api"]
    status, body = _get(base + "/")
    assert status == 300
    assert "v1.0" in {v["id"] for v in body["versions"]}
    demo = openstack_stack.cli("project", "show", "demo")["id"]
    assert _get("%s/v1/%s/stacks" % (base, demo))[0] == 401
    # the real CLI (python-heatclient) through the catalog
    listed = openstack_stack.cli("stack", "list", project="demo")
    assert isinstance(listed, list)
    # engines stopped by earlier restarts stay listed as "down" a while
    engines = openstack_stack.cli("orchestration", "service", "list")
    assert "up" in {e["Status"] for e in engines}, engines


class _Browser(object):
    """A cookie-keeping HTTP client, as a browser uses Horizon."""

    def __init__(self, base):
        self.base = base.rstrip("/")
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path, ajax=False):
        request = urllib.request.Request(self.base + path)
        if ajax:  # Horizon's REST API answers only what its pages ask
            request.add_header("X-Requested-With", "XMLHttpRequest")
        try:
            with self.opener.open(request, timeout=60) as answer:
                return answer.status, answer.geturl(), answer.read().decode(
                    errors="replace")
        except urllib.error.HTTPError as err:
            return err.code, err.geturl(), err.read().decode(
                errors="replace")

    def login(self, username, password):
        _status, _url, page = self.get("/auth/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"',
                          page).group(1)
        data = urllib.parse.urlencode({
            "csrfmiddlewaretoken": token, "username": username,
            "password": password, "region": "default"}).encode()
        request = urllib.request.Request(
            self.base + "/auth/login/", data=data,
            headers={"Referer": self.base + "/auth/login/"})
        with self.opener.open(request, timeout=60) as answer:
            return answer.geturl(), answer.read().decode(errors="replace")


def test_horizon_login_page_and_static_files(openstack_stack):
    browser = _Browser(openstack_stack.horizon_url)
    status, url, page = browser.get("/")
    assert status == 200 and url.endswith("/auth/login/?next=/")
    assert 'name="username"' in page and 'name="password"' in page
    # compressed offline, served by the stack's gunicorn
    assets = re.findall(r'(?:href|src)="(/static/[^"]+\.(?:css|js))"', page)
    assert assets
    for asset in assets:
        assert browser.get(asset)[0] == 200, asset
    assert browser.get("/static/../../../../etc/passwd")[0] == 404
    assert browser.get("/static/no-such-file.css")[0] == 404


@pytest.mark.parametrize("project", ["demo", "demo2"])
def test_horizon_login_shows_the_container_infra_panels(openstack_stack,
                                                        project):
    credentials = openstack_stack.info["credentials"][project]
    browser = _Browser(openstack_stack.horizon_url)
    wrong_url, _page = browser.login(credentials["OS_USERNAME"], "wrong")
    assert "/auth/login/" in wrong_url
    url, page = browser.login(credentials["OS_USERNAME"],
                              credentials["OS_PASSWORD"])
    assert url.endswith("/project/"), url
    assert "Container Infra" in page
    for panel in ("clusters", "cluster_templates"):
        status, _url, body = browser.get("/project/%s/" % panel)
        assert status == 200, (panel, body[:300])
        assert "Container Infra" in body
    # magnum-ui's REST calls reach Magnum as the logged-in user
    status, _url, body = browser.get("/api/container_infra/clusters/",
                                     ajax=True)
    assert status == 200, body[:300]
    assert "items" in json.loads(body)
