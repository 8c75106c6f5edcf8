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
"""Status and health passes of magnum-capi-helm over every cluster.

Runs in magnum-capi-helm's own virtualenv (made by ``run.py``), through
that driver's public entry points only: ``Driver().update_cluster_status``
and ``Driver().get_monitor(...).poll_health_status()``.
``python pass_theirs.py KUBECONFIG CLUSTERS_JSON``: the same protocol as
``pass_ours.py`` (:func:`fakes.protocol`); prints one JSON line like it.
"""

import json
import logging
import sys

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
    driver = helm_driver.Driver()
    result = fakes.protocol(driver, clusters_file, LABELS)
    result["driver"] = "magnum-capi-helm"
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main(sys.argv)
