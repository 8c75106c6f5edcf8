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
"""Development and test tooling of magnum-capi-rdma: never shipped.

- ``simulator``: a SIMULATION of the Cluster API controllers (CAPI core,
  CAPO, kubeadm control plane, addon provider) for a management cluster
  that runs only an API server;
- ``bed``: that management cluster, a real etcd + kube-apiserver on
  loopback (``python -m magnum_capi_rdma_dev.bed``).

Used by the tests, ``tools/stack``, ``tools/demo`` and the benchmarks,
from a checkout: run with the repository root on ``PYTHONPATH`` (or as
the current directory). The driver's wheel holds only ``magnum_capi_rdma``
(``setup.cfg`` ``[files] packages``), and ``magnum_capi_rdma`` never
imports this package.
"""
