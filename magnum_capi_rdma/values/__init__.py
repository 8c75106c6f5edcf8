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

One module per feature, each a pure ``contribute(spec) -> dict``. The
contributions are deep-merged in ``ORDER``; lists of node groups merge by
``name`` so several modules can add to the same node group.
"""

import copy

from magnum_capi_rdma.values import addons
from magnum_capi_rdma.values import autoscaling
from magnum_capi_rdma.values import base
from magnum_capi_rdma.values import gpu
from magnum_capi_rdma.values import loadbalancer
from magnum_capi_rdma.values import monitoring
from magnum_capi_rdma.values import networking
from magnum_capi_rdma.values import nodegroups
from magnum_capi_rdma.values import rdma
from magnum_capi_rdma.values import storage

ORDER = (base, nodegroups, networking, storage, loadbalancer, autoscaling,
         addons, monitoring, gpu, rdma)


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
    for module in ORDER:
        values = deep_merge(values, module.contribute(spec))
    return values
