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
"""Unit tests of the driver's pure helpers."""

import types

import pytest

from magnum_capi_rdma import contract
from magnum_capi_rdma import magnum_objects
from magnum_capi_rdma.services import credentials
from magnum_capi_rdma.services import resize
from magnum_capi_rdma import spec


def ng(name, role="worker", is_default=False, **kw):
    fields = dict(uuid="u-" + name, name=name, role=role,
                  is_default=is_default, node_count=1, labels={},
                  status="CREATE_COMPLETE", flavor_id=None, image_id=None,
                  min_node_count=None, max_node_count=None, version=None,
                  node_labels=None, node_taints=None)
    fields.update(kw)
    return types.SimpleNamespace(**fields)


def cluster(groups, labels=None, template_labels=None):
    template = types.SimpleNamespace(uuid="t1", labels=template_labels or {},
                                     image_id="img")
    return types.SimpleNamespace(
        uuid="6f1c1a7e-0000-4000-8000-000000000001", name="My Cluster!",
        project_id="p1", labels=labels or {}, cluster_template=template,
        nodegroups=groups, master_count=1, node_count=1)


def test_release_name_is_dns_safe_unique_and_short():
    c = cluster([])
    name = magnum_objects.new_release_name(c)
    assert name == "my-cluster-6f1c1a7e00"
    c.name = "9" * 80
    assert magnum_objects.new_release_name(c).startswith("c-9")
    assert len(magnum_objects.new_release_name(c)) <= 31


def test_labels_follow_the_new_template_but_keep_own_choices():
    old = {"kube_tag": "v1.33.1", "monitoring_enabled": "false",
           "rdma_mode": "macvlan"}
    new = {"kube_tag": "v1.34.2", "monitoring_enabled": "true",
           "rdma_mode": "macvlan", "logging_enabled": "true"}
    mine = dict(old, rdma_mode="none", kube_tag="v1.33.1")
    out = magnum_objects.labels_after_template_change(mine, old, new)
    assert out == {"kube_tag": "v1.34.2", "monitoring_enabled": "true",
                   "rdma_mode": "none", "logging_enabled": "true"}


def test_describe_skips_groups_being_deleted_and_keeps_own_labels():
    groups = [ng("default-master", "master", True, node_count=3),
              ng("default-worker", is_default=True, node_count=4),
              ng("gpu", labels={"rdma_mode": "macvlan", "kube_tag": "x"}),
              ng("old", status="DELETE_IN_PROGRESS")]
    c = cluster(groups, labels={"kube_tag": "x", "rdma_mode": "none"})
    desc = magnum_objects.describe(c)
    assert desc["cluster"]["master_count"] == 3
    assert desc["cluster"]["node_count"] == 4
    assert [g["name"] for g in desc["node_groups"]] == ["gpu"]
    # kube_tag is a copy of the cluster's: not the group's own choice
    assert desc["node_groups"][0]["labels"] == {"rdma_mode": "macvlan"}


def test_describe_turns_magnum_node_labels_and_taints_into_labels():
    groups = [ng("gpu", node_labels={"a": "b"},
                 node_taints=[{"key": "k", "value": None,
                               "effect": "NoSchedule"}])]
    desc = magnum_objects.describe(cluster(groups))
    labels = desc["node_groups"][0]["labels"]
    # Magnum's taints go on as mappings: no text form parsed back.
    assert labels == {"node_labels": {"a": "b"},
                      "node_taints": [{"key": "k", "value": None,
                                       "effect": "NoSchedule"}]}


def test_magnum_taints_become_the_node_groups_taints():
    groups = [ng("gpu", node_taints=[
        {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"},
        {"key": "dedicated", "value": None, "effect": "NoExecute"}])]
    desc = magnum_objects.describe(cluster(groups))
    desc["cluster_template"]["labels"] = {"kube_tag": "v1.33.1"}
    desc["cluster_template"].update(image_id="img", master_flavor_id="m",
                                    flavor_id="f")
    desc["cluster"]["name"] = "c"
    built = spec.build_spec(desc)
    assert built.node_group("gpu").placement.taints == (
        ("nvidia.com/gpu", "true", "NoSchedule"),
        ("dedicated", "", "NoExecute"))


def test_group_name_of_default_rows():
    assert magnum_objects.group_name(ng("whatever", is_default=True)) == \
        "default-worker"
    assert magnum_objects.group_name(ng("x", "master", True)) == \
        "default-master"
    assert magnum_objects.group_name(ng("gpu")) == "gpu"


@pytest.mark.parametrize("wanted", ["0b1c", "node-a", "m-a"])
def test_select_machines_by_server_uuid_node_or_machine_name(wanted):
    machines = [{"metadata": {"name": "m-a"},
                 "spec": {"providerID": "openstack:///0b1c"},
                 "status": {"nodeRef": {"name": "node-a"}}},
                {"metadata": {"name": "m-b"}, "spec": {}, "status": {}}]
    chosen, missing = resize.select_machines(machines, [wanted, "nope"])
    assert [m["metadata"]["name"] for m in chosen] == ["m-a"]
    assert missing == ["nope"]


def test_credential_owners():
    assert credentials.credential_owners(None) == set()
    meta = {"annotations": {contract.OWNERS_ANNOTATION: "u1,u2"}}
    assert credentials.credential_owners(meta) == {"u1", "u2"}


class _Lookup(object):
    def __init__(self, networks=None, images=None):
        self.networks, self.images, self.asked = networks or {}, \
            images or {}, []

    def external_network_id(self, name):
        self.asked.append(("network", name))
        return self.networks.get(name)

    def image_properties(self, image):
        self.asked.append(("image", image))
        return self.images.get(image)


def test_describe_resolves_external_network_names_and_image_version(
        monkeypatch):
    lookup = _Lookup({"public": "9d3b5b6e-3f7c-4c1e-8b1a-5e2f0c6d7a11"},
                     {"img": {"kube_version": "v1.34.2"}})
    monkeypatch.setattr(magnum_objects, "LOOKUP", lookup)
    c = cluster([])
    c.cluster_template.external_network_id = "public"
    desc = magnum_objects.describe(c)
    template = desc["cluster_template"]
    assert template["external_network_id"] == (
        "9d3b5b6e-3f7c-4c1e-8b1a-5e2f0c6d7a11")
    assert template["image_properties"] == {"kube_version": "v1.34.2"}


def test_describe_asks_nothing_it_does_not_need(monkeypatch):
    lookup = _Lookup()
    monkeypatch.setattr(magnum_objects, "LOOKUP", lookup)
    c = cluster([], template_labels={"kube_tag": "v1.33.1"})
    c.cluster_template.external_network_id = (
        "9d3b5b6e-3f7c-4c1e-8b1a-5e2f0c6d7a11")
    magnum_objects.describe(c)
    assert lookup.asked == []


def test_an_unknown_external_network_name_is_refused_in_words(
        monkeypatch):
    monkeypatch.setattr(magnum_objects, "LOOKUP", _Lookup())
    desc = {"cluster_template": {
        "image_id": "img", "master_flavor_id": "m", "flavor_id": "f",
        "external_network_id": "nowhere", "labels": {"kube_tag": "v1.33.1"}},
        "cluster": {"name": "c"}}
    with pytest.raises(spec.InvalidSpec) as err:
        spec.build_spec(desc)
    text = str(err.value)
    assert "external_network_id" in text and "UUID" in text
