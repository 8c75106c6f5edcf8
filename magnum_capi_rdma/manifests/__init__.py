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
"""Workload-cluster objects the openstack-cluster chart does not make.

Everything is built as plain data and serialised with ``yaml.safe_dump``
(JSON configs inside objects with ``json.dumps``); nothing is templated.
The rdma feature (``features/rdma.py``) delivers the objects as an
``addons.custom`` Manifests add-on.
"""

from magnum_capi_rdma.manifests import common
from magnum_capi_rdma.manifests import networks
from magnum_capi_rdma.manifests import nicclusterpolicy


def manifest_files(spec, api_versions=None):
    """File name -> object, in apply order; empty without RDMA."""
    if not spec.rdma.enabled:
        return {}
    versions = common.api_versions(api_versions)
    files = {}
    if spec.rdma.creates_namespace:
        files["namespace.yaml"] = networks.namespace(spec, versions)
    files.update({
        "nic-cluster-policy.yaml": nicclusterpolicy.build(spec, versions),
        "ip-pool.yaml": networks.ip_pool(spec, versions),
        "network.yaml": networks.network(spec, versions),
    })
    return files


def build_manifests(spec, api_versions=None):
    """The RDMA objects of the workload cluster, as a list of dicts.

    :param spec: a ``ClusterSpec``.
    :param api_versions: optional overrides of ``common.API_VERSIONS``.
    """
    return list(manifest_files(spec, api_versions).values())
