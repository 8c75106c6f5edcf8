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
"""The control plane and upgrades with the simulated controllers.

The tests are in ``tests/support/control_plane.py`` (``test_real_capi``
runs them again with Cluster API's own controllers).
"""

import pytest

from tests.support import control_plane


@pytest.mark.usefixtures("simulator")
class TestControlPlaneAndUpgrades(control_plane.ControlPlaneTests):
    """Resize of the control plane, scoped upgrades, certificate renewal."""
