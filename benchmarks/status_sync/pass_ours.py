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
"""Status and health passes of magnum-capi-rdma over every cluster.

Run by ``run.py`` in a fresh process (so peak RSS is this driver's own):
``python pass_ours.py KUBECONFIG CLUSTERS_JSON [SOURCE [MAX_STALENESS]]``
with SOURCE ``watch`` (the default ``[capi_rdma] status_source``) or
``list``. It follows :func:`fakes.protocol`: a first pass (for watch, the
cache's paged LISTs and its watches), the steady pass (for list, after its
snapshot is dropped, so it lists afresh as a pass every 10 s with a 5 s
bound does), the change latency. Prints one JSON line.
"""

import json
import sys

import fakes

LABELS = {"kube_tag": "v1.33.1", "rdma_mode": "none"}


def main(argv):
    kubeconfig, clusters_file = argv[1], argv[2]
    source = argv[3] if len(argv) > 3 else "watch"
    staleness = float(argv[4]) if len(argv) > 4 else None
    from oslo_config import cfg

    from magnum_capi_rdma import driver as capi_driver
    from magnum_capi_rdma.services import runtime

    conf = cfg.CONF
    conf([], project="magnum")
    conf.set_override("kubeconfig_file", kubeconfig, group="capi_rdma")
    conf.set_override("status_source", source, group="capi_rdma")
    if staleness is not None:
        conf.set_override("status_max_staleness", staleness,
                          group="capi_rdma")
    driver = capi_driver.Driver()
    shared = runtime.shared()

    def stats():
        return dict(shared.observer.stats(),
                    adapter_requests=shared.connection.requests,
                    adapter_requests_by_verb=dict(
                        shared.connection.requests_by))

    def between():
        if source == "list":
            shared.observer.invalidate()

    result = fakes.protocol(driver, clusters_file, LABELS, stats=stats,
                            between=between)
    result["driver"] = "magnum-capi-rdma" + (
        "" if source == "watch" else " (list)")
    result["observer"] = stats()
    result["loaded_kubernetes"] = "kubernetes" in sys.modules
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main(sys.argv)
