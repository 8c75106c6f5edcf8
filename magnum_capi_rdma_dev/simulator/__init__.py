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
"""A SIMULATION of the Cluster API controllers, for development and tests.

Part of the development package ``magnum_capi_rdma_dev``, which is never
installed with the driver: it is importable from a checkout only (the
repository root on ``PYTHONPATH``), for the tests, the test bed,
``tools/stack`` and the benchmarks.

It is **not** Cluster API: no server is ever created and no workload
cluster exists. On a management cluster that runs only an API server (the
test bed, ``tools/stack``), it writes what the Cluster API core, CAPO
(OpenStack), kubeadm control plane and cluster-api-addon-provider
controllers would write for the objects a release of the
``openstack-cluster`` chart makes: finalizers, MachineSets and Machines,
phases, conditions, provider IDs, addresses, the workload kubeconfig Secret,
and deletions that take time. Delays and faults (quota, network, add-on
failures, stalls, stuck deletions) are configurable per cluster.

One module per controller it plays: ``cluster`` (Cluster and
OpenStackCluster), ``controlplane`` (KubeadmControlPlane),
``machinedeployment`` (MachineDeployment and MachineSet), ``machine``
(Machine and OpenStackMachine), ``addons`` (HelmRelease and Manifests), on
the shared ``base`` and ``objects``; ``core.Simulator`` composes them and
runs the reconcile loop. ``faults`` holds the faults and delays, ``crds``
the CustomResourceDefinitions of the bed.

Run it as ``python -m magnum_capi_rdma_dev.simulator --kubeconfig FILE``
(from the repository root, or with it on ``PYTHONPATH``) or in-process
through :class:`Simulator`. Never point it at a real management cluster:
it would fight the real controllers.
"""

from magnum_capi_rdma_dev.simulator.core import Simulator  # noqa: F401

__all__ = ["Simulator"]
