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
"""The simulator command drives a release of the *real* chart.

The public ``openstack-cluster`` chart 0.27.0 with its ``cluster-addons``
dependency (``../shared/upstream``, read as it is, or
``MAGNUM_CAPI_RDMA_REAL_CHART``; skipped with one line when absent, failed
in CI), on the bed serving Cluster API's and CAPO's own CRDs. Install,
wait for Ready, scale a node group up with ``helm upgrade``, ``helm
uninstall``, and wait until nothing of the cluster is left; the timings
are printed. helm drops a field the CRDs do not have with a warning: any
such warning fails the test.
"""

import subprocess
import time

from kubernetes import client
import pytest
import yaml

from magnum_capi_rdma.adapters import helm as helm_adapter
from tests.support import dev
from tests.support import upstream

RELEASE = "real"
CAPI = ("cluster.x-k8s.io", "v1beta1")
KCP = ("controlplane.cluster.x-k8s.io", "v1beta1")
INFRA = ("infrastructure.cluster.x-k8s.io", "v1beta1")
ADDONS = ("addons.stackhpc.com", "v1alpha1")


def chart_values(workers):
    return {
        "kubernetesVersion": "1.33.1",
        "machineImageId": "0f2d5b0e-7d4c-4f6a-9c1e-3b8a2d6e5f41",
        "cloudCredentialsSecretName": RELEASE + "-cloud-credentials",
        "controlPlane": {"machineFlavor": "m1.medium", "machineCount": 3},
        "nodeGroups": [
            {"name": "md-0", "machineFlavor": "m1.small",
             "machineCount": workers},
            {"name": "auto", "machineFlavor": "m1.small", "autoscale": True,
             "machineCountMin": 1, "machineCountMax": 3},
        ],
    }


class Release(object):
    def __init__(self, api_client, kubeconfig, helm_bin, namespace, tmp):
        self.custom = client.CustomObjectsApi(api_client)
        self.helm_cmd = [helm_bin, "--kubeconfig", kubeconfig,
                         "--namespace", namespace]
        self.namespace = namespace
        self.tmp = tmp
        self.dropped = []

    def helm(self, *args, values=None):
        argv = self.helm_cmd + list(args)
        if values is not None:
            path = self.tmp / "values.yaml"
            path.write_text(yaml.safe_dump(values))
            argv += ["--values", str(path)]
        done = subprocess.run(argv, capture_output=True, text=True,
                              timeout=180)
        assert done.returncode == 0, "helm %s: %s" % (args[0], done.stderr)
        self.dropped += helm_adapter.dropped_fields(done.stderr)

    def list(self, gv, plural):
        return self.custom.list_namespaced_custom_object(
            gv[0], gv[1], self.namespace, plural)["items"]

    def ready(self, workers):
        clusters = self.list(CAPI, "clusters")
        if not clusters or not any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (clusters[0].get("status") or {}).get(
                    "conditions") or ()):
            return False
        mds = self.list(CAPI, "machinedeployments")
        if len(mds) != 2:
            return False
        for md in mds:
            status = md.get("status") or {}
            if status.get("phase") != "Running" or status.get(
                    "readyReplicas") != md["spec"].get("replicas"):
                return False
        md0 = [md for md in mds if md["metadata"]["name"] == RELEASE
               + "-md-0"]
        addons = self.list(ADDONS, "helmreleases") + self.list(
            ADDONS, "manifests")
        return (md0 and md0[0]["status"]["readyReplicas"] == workers
                and addons and all((a.get("status") or {}).get("phase")
                                   == "Deployed" for a in addons))

    def leftovers(self):
        return {plural: [o["metadata"]["name"] for o in self.list(gv, plural)]
                for gv, plural in ((CAPI, "clusters"), (CAPI, "machines"),
                                   (CAPI, "machinesets"),
                                   (CAPI, "machinedeployments"),
                                   (KCP, "kubeadmcontrolplanes"),
                                   (INFRA, "openstackclusters"))
                if self.list(gv, plural)}


def wait(check, what, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    pytest.fail("timed out after %ss: %s" % (timeout, what))


def test_real_chart_ready_scaled_and_uninstalled(
        kube_api_client, kubeconfig, helm_bin, namespace, tmp_path):
    chart = str(upstream.require_real_chart())
    release = Release(kube_api_client, kubeconfig, helm_bin, namespace,
                      tmp_path)
    log = open(tmp_path / "simulator.log", "w+")
    sim = subprocess.Popen(
        dev.command("simulator", "--kubeconfig", kubeconfig,
                    "--install-crds", "--namespace", namespace,
                    "--interval", "0.2"),
        cwd=dev.REPO, env=dev.env(), stdout=log, stderr=subprocess.STDOUT)
    timings = []
    try:
        started = time.monotonic()
        release.helm("install", RELEASE, chart, values=chart_values(2))
        wait(lambda: release.ready(2), "Ready with 2 workers")
        timings.append(("install -> Ready", time.monotonic() - started))
        machines = release.list(CAPI, "machines")
        assert len(machines) == 3 + 2 + 1
        assert all(m["spec"]["providerID"].startswith("openstack:///")
                   for m in machines)

        started = time.monotonic()
        release.helm("upgrade", RELEASE, chart, values=chart_values(4))
        wait(lambda: release.ready(4), "scaled to 4 workers")
        timings.append(("upgrade (scale 2 -> 4) -> Ready",
                        time.monotonic() - started))

        started = time.monotonic()
        release.helm("uninstall", RELEASE)
        assert release.list(CAPI, "clusters"), (
            "the Cluster went at once: its finalizer did not hold it")
        wait(lambda: not release.leftovers(), "everything gone")
        timings.append(("uninstall -> nothing left",
                        time.monotonic() - started))
    finally:
        sim.terminate()
        sim.wait(20)
        log.seek(0)
        output = log.read()
        log.close()
    for what, seconds in timings:
        print("real chart: %s: %.1fs" % (what, seconds))
    assert sim.returncode == 0, output[-3000:]
    assert "Traceback" not in output
    assert "refused the simulator's write" not in output, output[-3000:]
    assert release.dropped == [], "fields the CRDs do not have"
