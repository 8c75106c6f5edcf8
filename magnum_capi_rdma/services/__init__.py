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
"""What the driver does, one service per responsibility.

- :mod:`.runtime`: the process's shared adapters.
- :mod:`.credentials`: the cluster's application credential and its
  ``clouds.yaml`` Secret.
- :mod:`.converge`: the management cluster brought to a spec: project
  namespace and role binding, operation lock, credentials, CA Secrets,
  Helm release; and the uninstall.
- :mod:`.resize`: machines chosen for removal; autoscaled groups.
- :mod:`.upgrade`: the checks and row changes of an upgrade.
- :mod:`.status_sync`: Magnum's rows from the observed objects.
- :mod:`.monitor`: Magnum's health monitor.

Services import the core and the adapters; the core imports neither.
"""
