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
"""The Heat example's labels pass the driver's validation."""

import os

import yaml

from magnum_capi_rdma import spec

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
HEAT = os.path.join(ROOT, "examples", "heat", "rdma-cluster.yaml")


def _resolve(value, params):
    if isinstance(value, dict) and "get_param" in value:
        return params[value["get_param"]]
    return value


def _resolved(network):
    assert network == "public"
    return "9d3b5b6e-3f7c-4c1e-8b1a-5e2f0c6d7a11"


def test_heat_example_is_a_valid_rdma_cluster():
    with open(HEAT) as f:
        template = yaml.safe_load(f)
    params = {name: p.get("default", "given-" + name)
              for name, p in template["parameters"].items()}
    resources = template["resources"]
    ct = {k: _resolve(v, params)
          for k, v in resources["template"]["properties"].items()}
    labels = {k: str(_resolve(v, params)) for k, v in ct["labels"].items()}
    cluster = resources["cluster"]["properties"]
    assert resources["template"]["type"] == "OS::Magnum::ClusterTemplate"
    assert resources["cluster"]["type"] == "OS::Magnum::Cluster"
    built = spec.build_spec({
        "cluster_template": {
            "image_id": ct["image"], "keypair_id": ct["keypair"],
            # A name here; the driver resolves it through Neutron
            # (magnum_objects.LOOKUP) before the spec, which wants an id.
            "external_network_id": _resolved(ct["external_network"]),
            "master_flavor_id": ct["master_flavor"],
            "flavor_id": ct["flavor"], "network_driver":
            ct["network_driver"], "master_lb_enabled":
            ct["master_lb_enabled"], "labels": labels},
        "cluster": {"name": "heat", "master_count": cluster["master_count"],
                    "node_count": _resolve(cluster["node_count"], params)},
    })
    assert built.rdma.mode == "macvlan"
    assert built.gpu.operator_enabled and built.gpu.direct_rdma
    assert [g.name for g in built.rdma_node_groups] == ["default-worker"]
