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
"""The driver's whole lifecycle on the real test bed.

Real: Magnum's objects and database (sqlite, Magnum's own test helpers) and
its x509keypair cert manager, the helm binary, etcd + kube-apiserver, the
driver's adapters. Simulated: the Cluster API controllers (the simulator)
and Keystone (an in-memory stand-in with the adapter's interface; the real
Keystone is exercised by the end-to-end tests and test_keystone_real).

The tests themselves are in ``tests/support/lifecycle.py``
(:class:`LifecycleTests`), shared with ``test_least_privilege``, which runs
them again with the shipped RBAC.
"""

import pytest

from tests.support import lifecycle


@pytest.mark.usefixtures("simulator")
class TestLifecycle(lifecycle.LifecycleTests):
    """Create, resize, node groups, upgrade, credentials, delete, failures."""
