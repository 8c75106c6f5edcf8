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
"""The imperative shell's narrow adapters, each tested on the real thing.

- :mod:`.helm`: pyhelm3 on one asyncio loop thread; chart pulled once.
- :mod:`.kube`: the management cluster; kinds by short key, apiVersions
  from ``[capi_rdma]``.
- :mod:`.keystone`: restricted per-cluster application credentials and
  the ``clouds.yaml`` Secret.
- :mod:`.certs`: Magnum's cluster CAs as Cluster API Secrets.
- :mod:`.observer`: shared, bounded-age snapshots of the Cluster API
  objects of every release (one LIST per kind).
- :mod:`.oplock`: a cluster's operation lock (a Lease) held for one
  driver call.
- :mod:`.workload`: RDMA readiness read from a workload cluster.
"""
