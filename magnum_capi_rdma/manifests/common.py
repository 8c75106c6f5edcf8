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
"""Names and helpers shared by the manifest builders."""

import json
import re

import yaml

from magnum_capi_rdma import contract

API_VERSIONS = {
    "NicClusterPolicy": "mellanox.com/v1alpha1",
    "MacvlanNetwork": "mellanox.com/v1alpha1",
    "HostDeviceNetwork": "mellanox.com/v1alpha1",
    "IPoIBNetwork": "mellanox.com/v1alpha1",
    "IPPool": "nv-ipam.nvidia.com/v1alpha1",
    "NetworkAttachmentDefinition": "k8s.cni.cncf.io/v1",
    "Namespace": "v1",
}

_JINJA_BLOCK = re.compile(r"\{%|%\}")


def api_versions(overrides=None):
    versions = dict(API_VERSIONS)
    versions.update(overrides or {})
    return versions


def to_json(obj):
    """A CNI or device plugin config as a compact, stable JSON string."""
    return json.dumps(obj, sort_keys=True)


def to_yaml(obj):
    """Serialise one object for a Manifests add-on.

    The addon provider renders manifest text with Jinja2 inside a raw
    block; a Jinja block tag could end that block, so none may appear.
    Label validation already rejects such text; this is the last guard.
    """
    text = yaml.safe_dump(obj, default_flow_style=False, sort_keys=False)
    if _JINJA_BLOCK.search(text):
        raise ValueError("manifest text contains a Jinja2 block tag")
    return text


def node_selector(cluster):
    """A core NodeSelector matching the nodes of the RDMA node groups."""
    return {
        "nodeSelectorTerms": [{
            "matchExpressions": [{
                "key": contract.CHART_NODE_GROUP_LABEL,
                "operator": "In",
                "values": sorted(cluster.rdma_node_group_names),
            }],
        }],
    }


def image(fabric, name, version=None):
    return {
        "image": name,
        "repository": fabric.image_repository,
        "version": version or fabric.component_version,
    }


def pool_name(fabric):
    return "%s-pool" % fabric.attachment_name


def ipam_config(fabric):
    return {"type": "nv-ipam", "poolName": pool_name(fabric)}
