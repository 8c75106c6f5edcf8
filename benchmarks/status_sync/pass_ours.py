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
"""One status and health pass of magnum-capi-rdma over every cluster.

Run by ``run.py`` in a fresh process (so peak RSS is this driver's own):
``python pass_ours.py KUBECONFIG CLUSTERS_JSON [MAX_STALENESS]``. A first,
unmeasured pass warms the process up (imports, clients, connections, as
in a long-running conductor); after "ready"/"go" on stdout/stdin (run.py
reads the API server's metrics in between) the measured pass runs, with a
fresh snapshot. Prints one JSON line: wall and CPU seconds of the measured
pass, peak RSS, the statuses it left and the observer's snapshot stats.
"""

import json
import resource
import sys
import time

import fakes

LABELS = {"kube_tag": "v1.33.1", "rdma_mode": "none"}


def main(argv):
    kubeconfig, clusters_file = argv[1], argv[2]
    staleness = float(argv[3]) if len(argv) > 3 else None
    from oslo_config import cfg

    from magnum_capi_rdma import driver as capi_driver
    from magnum_capi_rdma.services import runtime

    conf = cfg.CONF
    conf([], project="magnum")
    conf.set_override("kubeconfig_file", kubeconfig, group="capi_rdma")
    if staleness is not None:
        conf.set_override("status_max_staleness", staleness,
                          group="capi_rdma")
    clusters = fakes.load_clusters(clusters_file, "UPDATE_IN_PROGRESS",
                                   LABELS)
    driver = capi_driver.Driver()
    # Warm-up: a conductor runs for days; imports, clients and connections
    # are made once, not per pass. Not measured.
    began = time.monotonic()
    fakes.run_pass(driver, fakes.load_clusters(
        clusters_file, "UPDATE_IN_PROGRESS", LABELS))
    cold = time.monotonic() - began
    observer = runtime.shared().observer
    # The next pass comes after the snapshot's bound: it lists afresh.
    observer.invalidate()
    snapshots = observer.stats()["snapshots"]
    fakes.wait_for_go()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    health = fakes.run_pass(driver, clusters)
    wall = time.monotonic() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({
        "driver": "magnum-capi-rdma",
        "clusters": len(clusters),
        "wall_s": wall,
        "cold_wall_s": cold,
        "cpu_s": (cpu1.ru_utime - cpu0.ru_utime) +
        (cpu1.ru_stime - cpu0.ru_stime),
        "maxrss_kib": cpu1.ru_maxrss,
        "summary": fakes.summary(clusters, health),
        "observer": dict(observer.stats(),
                         snapshots_in_pass=observer.stats()[
                             "snapshots"] - snapshots),
        "example_reason": clusters[0].status_reason if clusters else None,
    }))


if __name__ == "__main__":
    main(sys.argv)
