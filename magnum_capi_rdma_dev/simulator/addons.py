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
"""Simulated cluster-api-addon-provider: HelmRelease and Manifests.

SIMULATION for development and tests only: never shipped, never run
against a real management cluster.

Nothing is installed anywhere: bootstrap add-ons go Installing then
Deployed once the control plane is up, the others once the Cluster is
Ready; a changed generation is an upgrade; the ``addon_failed`` fault makes
the named add-on Failed; deletion goes Uninstalling, then the finalizer
goes.
"""

from magnum_capi_rdma_dev.simulator import base
from magnum_capi_rdma_dev.simulator.objects import ADDONS_CLUSTER
from magnum_capi_rdma_dev.simulator.objects import condition_status
from magnum_capi_rdma_dev.simulator.objects import deleting
from magnum_capi_rdma_dev.simulator.objects import FIN_ADDON
from magnum_capi_rdma_dev.simulator.objects import meta
from magnum_capi_rdma_dev.simulator.objects import name_of
from magnum_capi_rdma_dev.simulator.objects import ns_of
from magnum_capi_rdma_dev.simulator.objects import spec_of
from magnum_capi_rdma_dev.simulator.objects import status_of


class AddonController(base.Reconciler):
    """HelmRelease and Manifests (cluster-api-addon-provider)."""

    # -- add-ons (cluster-api-addon-provider) -------------------------------

    def _reconcile_addon(self, snap, kind, addon, cluster_name):
        namespace = ns_of(addon)
        if deleting(addon):
            status = dict(status_of(addon), phase="Uninstalling")
            self._write_status(kind, addon, status)
            if self._waited(addon, "uninstall", self.delays["addon"]):
                self._remove_finalizer(kind, addon, FIN_ADDON,
                                       cluster_name)
            return
        cluster = snap.get("cluster", namespace, cluster_name)
        self._ensure_meta(kind, addon, FIN_ADDON,
                          {ADDONS_CLUSTER: cluster_name} if cluster_name
                          else None, cluster)
        status = dict(status_of(addon))
        phase = status.get("phase")
        generation = meta(addon).get("generation")
        failure = self._addon_failure(addon, cluster_name)
        if cluster is None or deleting(cluster):
            return
        if not self._addon_can_start(addon, cluster):
            status.setdefault("phase", "Pending")
        elif failure:
            status.update(phase="Failed", failureMessage=failure)
        elif phase == "Deployed" and status.get(
                "observedGeneration") == generation:
            return
        elif phase in ("Installing", "Upgrading"):
            if self._waited(addon, "deploy-%s" % generation,
                            self.delays["addon"]):
                status.pop("failureMessage", None)
                status.update(phase="Deployed",
                              revision=int(status.get("revision") or 0) + 1,
                              observedGeneration=generation)
        else:
            status.pop("failureMessage", None)
            status["phase"] = ("Upgrading" if status.get("revision")
                               else "Installing")
        self._write_status(kind, addon, status)

    def _addon_failure(self, addon, cluster_name):
        target = self.faults(ns_of(addon), cluster_name).get("addon_failed")
        name = name_of(addon)
        if not target or not (name == target or name.endswith(
                "-" + target)):
            return None
        spec = spec_of(addon)
        chart = spec.get("chart") or {}
        what = ("chart %s %s" % (chart.get("name"), chart.get("version"))
                if chart else "manifests")
        return ("installing release %s/%s (%s) failed: simulated failure "
                "(fault addon_failed)" % (
                    spec.get("targetNamespace") or "default",
                    spec.get("releaseName") or name, what))

    @staticmethod
    def _addon_can_start(addon, cluster):
        """Bootstrap add-ons need the API server, others a Ready cluster."""
        if spec_of(addon).get("bootstrap"):
            return bool(status_of(cluster).get("controlPlaneReady")
                        or condition_status(
                            cluster, "ControlPlaneInitialized") == "True")
        return condition_status(cluster, "Ready") == "True"
