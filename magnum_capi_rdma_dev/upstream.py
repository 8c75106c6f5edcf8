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
"""Where the pinned upstream artefacts are (``../shared/upstream``).

Unmodified copies of the real ``openstack-cluster`` chart and of the CRDs
of Cluster API and CAPO (see that folder's README.md). They are read where
they are, never copied into the project; a fresh clone has no
``../shared``, so every caller decides what to do without them (the tests
skip, or fail in CI; the development tools fall back to the test chart and
generated CRDs and say so).

- env ``MAGNUM_CAPI_RDMA_UPSTREAM``: another folder of the same layout;
- env ``MAGNUM_CAPI_RDMA_REAL_CHART``: another ``openstack-cluster`` chart
  directory (it wins over the one of the folder).
"""

import os
import pathlib

ENV_VAR = "MAGNUM_CAPI_RDMA_UPSTREAM"
CHART_ENV_VAR = "MAGNUM_CAPI_RDMA_REAL_CHART"
REPO = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_DIR = REPO.parent / "shared" / "upstream"
#: The folders of ``crds/`` a management cluster has: Cluster API's
#: (core, kubeadm bootstrap and control plane) and CAPO's.
MANAGEMENT_CRDS = ("cluster-api", "cluster-api-provider-openstack")
#: The project's own imitation of the chart (tests/charts/openstack-cluster).
TEST_CHART = REPO / "tests" / "charts" / "openstack-cluster"


def upstream_dir():
    """Where the artefacts should be (they may be absent)."""
    explicit = os.environ.get(ENV_VAR)
    return pathlib.Path(explicit) if explicit else DEFAULT_DIR


def find():
    """The artefacts' folder, or None when it is not there."""
    path = upstream_dir()
    if (path / "crds").is_dir() and (path / "charts").is_dir():
        return path
    return None


def openstack_cluster_chart():
    """The real ``openstack-cluster`` chart directory, or None.

    ``MAGNUM_CAPI_RDMA_REAL_CHART`` when set, else the pinned copy.
    """
    explicit = os.environ.get(CHART_ENV_VAR)
    if explicit:
        return pathlib.Path(explicit)
    path = find()
    if path is None:
        return None
    chart = path / "charts" / "openstack-cluster"
    return chart if (chart / "Chart.yaml").is_file() else None


def missing_message():
    """One line saying what is missing and how to get it."""
    return ("upstream artefacts not found at %s: see "
            "../shared/upstream/README.md (or set %s)"
            % (upstream_dir(), ENV_VAR))
