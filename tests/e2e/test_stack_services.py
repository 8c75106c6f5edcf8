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

python-openstackclient and python-magnumclient of the stack venv, against
real Keystone, Glance and Magnum, with the Nova / Neutron / Cinder stubs.
"""

import json
import os
import subprocess
import urllib.error
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
