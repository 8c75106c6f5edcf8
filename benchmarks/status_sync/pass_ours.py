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

Run by ``run.py`` in a fresh process (so peak RSS is this pass's own):
``python pass_ours.py KUBECONFIG CLUSTERS_JSON [MAX_STALENESS]``. Prints
one JSON line: wall and CPU seconds of the pass, peak RSS, the statuses
the pass left and the observer's snapshot stats.
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

    conf = cfg.CONF
    conf([], project="magnum")
    conf.set_override("kubeconfig_file", kubeconfig, group="capi_rdma")
    if staleness is not None:
        conf.set_override("status_max_staleness", staleness,
                          group="capi_rdma")
    clusters = fakes.load_clusters(clusters_file, "UPDATE_IN_PROGRESS",
                                   LABELS)
    driver = capi_driver.Driver()
    health = []
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    for cluster in clusters:
        driver.update_cluster_status(None, cluster)
        monitor = driver.get_monitor(None, cluster)
        monitor.poll_health_status()
        health.append(monitor.data.get("health_status"))
    wall = time.monotonic() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({
        "driver": "magnum-capi-rdma",
        "clusters": len(clusters),
        "wall_s": wall,
        "cpu_s": (cpu1.ru_utime - cpu0.ru_utime) +
        (cpu1.ru_stime - cpu0.ru_stime),
        "maxrss_kib": cpu1.ru_maxrss,
        "summary": fakes.summary(clusters, health),
        "observer": driver._observer.stats(),
        "example_reason": clusters[0].status_reason if clusters else None,
    }))


if __name__ == "__main__":
    main(sys.argv)
