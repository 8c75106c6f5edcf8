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
"""Fixtures of the functional tests: the Cluster API simulator."""

import pytest


@pytest.fixture
def simulator(kube_api_client):
    """A :class:`Simulator` reconciling every namespace in the background.

    Faults set through it (``set_faults``) last for the test only: the
    simulator is stopped and dropped afterwards. A write of the simulator
    that the real schemas refused (strict field validation) fails the
    test at teardown, with the API server's message.
    """
    from magnum_capi_rdma_dev.simulator import Simulator

    sim = Simulator(kube_api_client)
    sim.start(interval=0.2)
    try:
        yield sim
    finally:
        sim.stop()
    assert not sim.refused, "the API server refused the simulator's " \
        "writes:\n%s" % "\n".join("%s %s: %s" % r for r in sim.refused)


@pytest.fixture(scope="session")
def workload_cluster(tmp_path_factory, summary_line):
    """A second bed API server playing a workload cluster.

    It has the upstream CRDs (../shared/upstream/crds) of the objects the
    driver delivers to a workload cluster and the network operator's
    HostDeviceNetwork webhook rule as a ValidatingAdmissionPolicy (see
    tests/support/upstream.py). Skipped without the artefacts or the
    binaries, except in CI.
    """
    from tests.support import upstream

    path = upstream.require_upstream()
    upstream.require_bed_tools()
    cluster = upstream.WorkloadCluster(
        tmp_path_factory.mktemp("workload-cluster"), path)
    try:
        cluster.start()
        summary_line("workload bed: kube-apiserver %s with %d upstream CRDs "
                     "ready in %.2fs" % (cluster.bed.server,
                                         len(cluster.crds), cluster.ready_in))
        yield cluster
    finally:
        cluster.stop()
