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
"""The openstack-cluster chart values of a cluster.

Every feature module (``magnum_capi_rdma.features``) contributes a pure
``contribute(spec) -> dict``; the contributions are deep-merged in the
features' derived order. Lists of node groups merge by ``name`` so several
features can add to the same node group.

What the chart has no value for, a feature may own on the objects the
chart renders: :func:`control_plane_fields` merges the features' optional
``control_plane_fields(spec) -> dict``, the fields of the
KubeadmControlPlane's ``spec`` that the driver applies itself (with its
own field manager, after each Helm install or upgrade).
"""

import copy

from magnum_capi_rdma import features


def _named_list(value):
    return (isinstance(value, list) and value
            and all(isinstance(i, dict) and "name" in i for i in value))


def _merge_named(left, right):
    merged = [copy.deepcopy(item) for item in left]
    index = {item["name"]: pos for pos, item in enumerate(merged)}
    for item in right:
        if item["name"] in index:
            pos = index[item["name"]]
            merged[pos] = deep_merge(merged[pos], item)
        else:
            index[item["name"]] = len(merged)
            merged.append(copy.deepcopy(item))
    return merged


def deep_merge(left, right):
    """*right* merged into a copy of *left*.

    Mappings merge recursively; lists of mappings that all have a ``name``
    merge item by item on that name; anything else in *right* wins.
    """
    result = copy.deepcopy(left)
    for key, value in right.items():
        old = result.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            result[key] = deep_merge(old, value)
        elif _named_list(old) and _named_list(value):
            result[key] = _merge_named(old, value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def build_values(spec, cloud_credentials_secret):
    """The chart values for *spec*.

    :param spec: a ``spec.ClusterSpec``.
    :param cloud_credentials_secret: name of the Secret holding the
        workload cluster's ``clouds.yaml``.
    """
    values = {"cloudCredentialsSecretName": cloud_credentials_secret}
    for module in features.FEATURES:
        values = deep_merge(values, module.contribute(spec))
    if values.get("nodeGroups"):
        # In the cluster's order, whichever feature named a group first.
        order = {g.name: pos for pos, g in enumerate(spec.node_groups)}
        values["nodeGroups"].sort(key=lambda g: order.get(g["name"], 0))
    return values


def control_plane_fields(spec):
    """The KubeadmControlPlane ``spec`` fields the driver applies itself.

    Merged from the features' optional ``control_plane_fields(spec)``; an
    empty mapping when the driver owns none (the driver's earlier fields
    are then removed from the object).
    """
    fields = {}
    for module in features.FEATURES:
        contribute = getattr(module, "control_plane_fields", None)
        if contribute is not None:
            fields = deep_merge(fields, contribute(spec))
    return fields
