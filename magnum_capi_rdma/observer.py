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
"""Reads the Cluster API objects of releases from the management cluster.

Status sync runs for every cluster in progress about every 10 s, and health
for every cluster every minute. Rather than several GETs per cluster, one
LIST per kind is shared by every cluster of a pass and indexed by release, so
the API cost of a pass does not grow with the number of clusters. A snapshot
is never older than ``[capi_rdma] status_max_staleness`` seconds, and the
driver drops it after any change it makes itself.
"""

import threading
import time

from magnum_capi_rdma import status

CLUSTER_LABEL = "capi.stackhpc.com/cluster"

# Kinds read for status, and the Observed field each one fills.
KINDS = ("cluster", "openstackcluster", "kubeadmcontrolplane",
         "machinedeployment", "machine", "helmrelease", "manifests")


class Snapshot(object):
    """One LIST of every kind, indexed by (namespace, release)."""

    def __init__(self, objects_by_kind, taken_at):
        self.taken_at = taken_at
        self._index = {}
        for kind, objects in objects_by_kind.items():
            for obj in objects:
                meta = obj.get("metadata") or {}
                release = _release_of(kind, obj)
                if not release:
                    continue
                key = (meta.get("namespace"), release)
                self._index.setdefault(key, {}).setdefault(kind, []).append(
                    obj)

    def observed(self, namespace, release):
        found = self._index.get((namespace, release), {})

        def one(kind, name):
            for obj in found.get(kind, ()):
                if obj["metadata"].get("name") == name:
                    return obj
            return None

        return status.Observed(
            cluster=one("cluster", release),
            openstack_cluster=one("openstackcluster", release),
            control_plane=one("kubeadmcontrolplane",
                              release + "-control-plane"),
            machine_deployments=tuple(found.get("machinedeployment", ())),
            machines=tuple(found.get("machine", ())),
            addons=tuple(found.get("helmrelease", [])) +
            tuple(found.get("manifests", [])),
        )


def _release_of(kind, obj):
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    release = labels.get(CLUSTER_LABEL)
    if release:
        return release
    # Machines always carry CAPI's own cluster label.
    release = labels.get("cluster.x-k8s.io/cluster-name")
    if release:
        return release
    if kind in ("helmrelease", "manifests"):
        return (obj.get("spec") or {}).get("clusterName")
    return None


class Observer(object):
    """Shared, bounded-age snapshots of the management cluster."""

    def __init__(self, kube, max_age=5.0, clock=time.monotonic):
        self._kube = kube
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot = None

    def invalidate(self):
        with self._lock:
            self._snapshot = None

    def snapshot(self):
        with self._lock:
            now = self._clock()
            snap = self._snapshot
            if snap is None or now - snap.taken_at > self._max_age:
                objects = {}
                for kind in KINDS:
                    objects[kind] = self._kube.list_all(
                        kind, label_selector=None)
                snap = Snapshot(objects, now)
                self._snapshot = snap
            return snap

    def observed(self, namespace, release):
        return self.snapshot().observed(namespace, release)
