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
"""The status pass's API requests do not grow with the number of clusters.

Real: etcd + kube-apiserver (a bed of its own, so no other test's traffic
is counted), the test chart rendered by helm, the simulator, the driver's
status and health code in a fresh process; requests are counted by the API
server's own ``/metrics``. Same machinery as benchmarks/status_sync (which
also runs the other driver); no timing assertions here.

Why the test chart and generated CRDs, not the real chart and Cluster
API's own (which every other chart test uses): this counts requests per
status pass, which depends on the number of kinds read, not on the
objects' fields; and it shares the benchmark's seed (1 control plane
machine, 2 node groups, 12 add-ons, rendered from the test chart), the
fixed object set the benchmark's published figures, ours and
magnum-capi-helm's, were measured on. The real chart renders a different
set of add-ons; the objects' shape against the real schemas is what
``test_render_real_chart`` and the lifecycle tests check.
"""

import importlib.util
import json
import os
import sys

import pytest

from magnum_capi_rdma.adapters import observer
from tests.conftest import require_bed_tools

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
RUN_PY = os.path.join(ROOT, "benchmarks", "status_sync", "run.py")


def load_benchmark():
    spec = importlib.util.spec_from_file_location("status_sync_run", RUN_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    require_bed_tools()
    from kubernetes import config

    from magnum_capi_rdma_dev.bed import cluster
    from magnum_capi_rdma_dev.bed import tools
    from magnum_capi_rdma_dev.simulator import crds

    run = load_benchmark()
    bed = cluster.ManagementCluster(
        str(tmp_path_factory.mktemp("status-scale-bed")))
    bed.start()
    try:
        api_client = config.new_client_from_config(bed.kubeconfig)
        crds.install_crds(api_client)
        api = run.Api(bed)
        seed = run.make_seed(api, api_client, tools.tool_path("helm"),
                             lambda message: None)
        yield run, bed, api, run.template_of(seed)
    finally:
        bed.stop()


def one_pass(run, bed, api, records, source):
    path = os.path.join(bed.workdir, "clusters-%d.json" % len(records))
    with open(path, "w") as f:
        json.dump(records, f)
    # A long bound: one snapshot serves the whole pass, whatever the
    # machine's load.
    return run.run_pass(api, sys.executable, "pass_ours.py", bed.kubeconfig,
                        path, [source, "60"])


def test_requests_per_pass_do_not_grow_with_clusters(bench):
    run, bed, api, template = bench
    records = [run.cluster_record(i) for i in range(5)]
    run.create_clusters(api, template, records, workers=4)
    small = one_pass(run, bed, api, records, "list")
    small_watch = one_pass(run, bed, api, records, "watch")
    more = [run.cluster_record(i) for i in range(5, 20)]
    run.create_clusters(api, template, more, workers=4)
    large = one_pass(run, bed, api, records + more, "list")
    large_watch = one_pass(run, bed, api, records + more, "watch")

    # Every cluster was found and read as Ready by every pass.
    for result, n in ((small, 5), (small_watch, 5), (large, 20),
                      (large_watch, 20)):
        assert result["summary"]["status"] == {"UPDATE_COMPLETE": n}
        assert result["summary"]["health"] == {"HEALTHY": n}
    # List mode: one LIST per kind plus one of the driver's Leases, per
    # pass.
    per_pass = len(observer.KINDS) + 1
    assert small["requests_total"] == per_pass
    assert large["requests"] == small["requests"]
    assert all(key.startswith("LIST ") for key in large["requests"])
    # Watch mode: the same LISTs once (the first pass), then nothing.
    for result in (small_watch, large_watch):
        assert result["first_requests"] == small["requests"]
        assert result["requests_total"] == 0
        assert result["first_stats"]["adapter_requests_by_verb"] == {
            "LIST": per_pass, "WATCH": per_pass}
    # The snapshot holds what 20 clusters' objects are, and says so.
    assert large["observer"]["objects"] > small["observer"]["objects"]
    assert large_watch["observer"]["objects"] == large["observer"][
        "objects"]
    assert large["observer"]["approx_bytes"] > 0
