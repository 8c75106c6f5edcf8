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
"""One status and health pass of magnum-capi-helm over every cluster.

Runs in magnum-capi-helm's own virtualenv (made by ``run.py``), through
that driver's public entry points only: ``Driver().update_cluster_status``
and ``Driver().get_monitor(...).poll_health_status()``.
``python pass_theirs.py KUBECONFIG CLUSTERS_JSON``: a warm-up pass, then
the measured pass, as in ``pass_ours.py``; prints one JSON line like it.
"""

import json
import logging
import resource
import sys
import time

import fakes

LABELS = {"kube_tag": "v1.33.1"}


def main(argv):
    kubeconfig, clusters_file = argv[1], argv[2]
    logging.basicConfig(level=logging.WARNING)
    from oslo_config import cfg

    from magnum_capi_helm import driver as helm_driver

    conf = cfg.CONF
    conf([], project="magnum")
    conf.set_override("kubeconfig_file", kubeconfig, group="capi_helm")
    clusters = fakes.load_clusters(clusters_file, "UPDATE_IN_PROGRESS",
                                   LABELS)
    driver = helm_driver.Driver()
    # Warm-up: a conductor runs for days; imports, clients and connections
    # are made once, not per pass. Not measured.
    began = time.monotonic()
    fakes.run_pass(driver, fakes.load_clusters(
        clusters_file, "UPDATE_IN_PROGRESS", LABELS))
    cold = time.monotonic() - began
    fakes.wait_for_go()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    health = fakes.run_pass(driver, clusters)
    wall = time.monotonic() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({
        "driver": "magnum-capi-helm",
        "clusters": len(clusters),
        "wall_s": wall,
        "cold_wall_s": cold,
        "cpu_s": (cpu1.ru_utime - cpu0.ru_utime) +
        (cpu1.ru_stime - cpu0.ru_stime),
        "maxrss_kib": cpu1.ru_maxrss,
        "summary": fakes.summary(clusters, health),
        "example_reason": clusters[0].status_reason if clusters else None,
    }))


if __name__ == "__main__":
    main(sys.argv)
