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
"""The observed objects of every release, compact, and how fresh they are.

Pure: no I/O, no client library. The shell feeds it objects (a LIST, a
watch event) and reads :class:`~magnum_capi_rdma.status.Observed` back;
:mod:`magnum_capi_rdma.adapters.watch` and
:mod:`magnum_capi_rdma.adapters.observer` do the requests.

The compact form (:func:`project`) keeps what status and health read and
drops the rest as an object arrives: managed fields, owner references,
annotations, nested spec (a control plane's kubeadm configuration, an
add-on's values), bulky status (node info, networks) and the timestamps
of conditions. The objects of one release and kind are kept together as
one compressed blob (:func:`encode`), about 200 bytes an object, decoded
when a status or health pass asks for the release. Identical updates
(an object whose projection did not change) cost no re-encoding.

Freshness (:func:`freshness`) is decided from the state of each kind's
source (:class:`SourceState`): listed at least once, and either watching
or not watching for less than the staleness bound.
"""

import collections
import dataclasses
import marshal
import random
import sys
import threading
import zlib

from magnum_capi_rdma import capi
from magnum_capi_rdma import contract
from magnum_capi_rdma import operations
from magnum_capi_rdma import status

#: Kinds status and health read, keyed as the Kube adapter keys them.
KINDS = ("cluster", "openstackcluster", "kubeadmcontrolplane",
         "machinedeployment", "machine", "helmrelease", "manifests")
#: The add-on provider's kinds name their cluster in spec.clusterName.
ADDON_KINDS = ("helmrelease", "manifests")
#: The driver's operation Leases (records, not objects of a release).
LEASES = "lease"

# -- the compact form ------------------------------------------------------

#: Label prefixes kept (the chart's, Cluster API's and the driver's own).
KEPT_LABEL_PREFIXES = ("capi.stackhpc.com/", "cluster.x-k8s.io/",
                       "magnum.openstack.org/")
KEPT_METADATA = ("name", "namespace", "deletionTimestamp", "generation")
#: Nested spec fields kept whole (scalars are always kept).
KEPT_SPEC = ("controlPlaneEndpoint",)
#: Nested status fields kept with the same rules (Cluster API v1beta2
#: fields in a v1beta1 object, v1beta1 fields in a v1beta2 object).
NESTED_STATUS = ("v1beta2", "deprecated", "v1beta1", "initialization")
CONDITION_KEYS = ("type", "status", "reason", "message", "severity")
ADDRESS_KEYS = ("type", "address")
#: Lease fields the operation record reads.
LEASE_SPEC = ("holderIdentity", "renewTime", "acquireTime",
              "leaseDurationSeconds")

_SCALARS = (str, int, float, bool, type(None))


def _condition(cond):
    return {k: cond[k] for k in CONDITION_KEYS
            if cond.get(k) not in (None, "")}


def _status(st):
    out = {}
    for key, value in st.items():
        if isinstance(value, _SCALARS):
            out[key] = value
        elif key == "conditions" and isinstance(value, list):
            out[key] = [_condition(c) for c in value
                        if isinstance(c, dict)]
        elif key == "addresses" and isinstance(value, list):
            out[key] = [{k: a.get(k) for k in ADDRESS_KEYS}
                        for a in value if isinstance(a, dict)]
        elif key == "nodeRef" and isinstance(value, dict):
            out[key] = {"name": value.get("name")}
        elif key in NESTED_STATUS and isinstance(value, dict):
            out[key] = _status(value)
    return out


def project(obj):
    """The compact form of a Cluster API object (a new dict)."""
    meta = capi.metadata(obj)
    kept = {k: meta[k] for k in KEPT_METADATA if k in meta}
    labels = {k: v for k, v in (meta.get("labels") or {}).items()
              if k.startswith(KEPT_LABEL_PREFIXES)}
    if labels:
        kept["labels"] = labels
    out = {"metadata": kept}
    for key in ("apiVersion", "kind"):
        if key in obj:
            out[key] = obj[key]
    spec = obj.get("spec")
    if isinstance(spec, dict):
        out["spec"] = {k: v for k, v in spec.items()
                       if isinstance(v, _SCALARS) or k in KEPT_SPEC}
    st = obj.get("status")
    if isinstance(st, dict):
        out["status"] = _status(st)
    return out


def project_lease(lease):
    """The part of a Lease the operation record reads."""
    meta = capi.metadata(lease)
    spec = lease.get("spec") or {}
    return {"metadata": {k: meta.get(k) for k in (
        "name", "namespace", "annotations", "resourceVersion")
        if meta.get(k) is not None},
        "spec": {k: spec[k] for k in LEASE_SPEC if spec.get(k) is not None}}


def encode(objects):
    """One blob for ``{name: compact object}`` (never empty)."""
    return zlib.compress(marshal.dumps(objects), 1)


def decode(blob):
    """The ``{name: compact object}`` of :func:`encode`."""
    return marshal.loads(zlib.decompress(blob))


def release_key(kind, obj):
    """(namespace, release) an object belongs to, or None.

    Interned: every kind's index of a release shares the two strings.
    """
    release = capi.release_of(obj, by_spec=kind in ADDON_KINDS)
    namespace = capi.metadata(obj).get("namespace")
    if not release or not isinstance(namespace, str):
        return None
    return sys.intern(namespace), sys.intern(release)


# -- the store -------------------------------------------------------------

class Store(object):
    """Compact objects of every release, by kind; thread-safe.

    :meth:`builder` fills one kind from a LIST (replacing what was there
    when committed), :meth:`apply` applies one watch event,
    :meth:`observed` and :meth:`operation` answer status and health.
    """

    #: Decoded releases kept for repeated reads (status, then health, of
    #: one cluster).  Small: a decoded release is about 100 KB.
    DECODED = 4

    def __init__(self, kinds=KINDS):
        self.kinds = tuple(kinds)
        self._lock = threading.Lock()
        self._groups = {kind: {} for kind in self.kinds}
        self._counts = {kind: 0 for kind in self.kinds}
        self._bytes = {kind: 0 for kind in self.kinds}
        self._leases = {}
        self._decoded = collections.OrderedDict()
        self.events = 0
        self.unchanged = 0

    # -- writing --

    def builder(self, kind):
        """A :class:`Builder` that replaces ``kind`` when committed."""
        return Builder(self, kind)

    def replace(self, kind, groups, count):
        """Put a kind's encoded groups in place (:meth:`Builder.commit`)."""
        with self._lock:
            if kind == LEASES:
                self._leases = groups
                return
            self._groups[kind] = groups
            self._counts[kind] = count
            self._bytes[kind] = sum(len(b) for b in groups.values())
            self._decoded.clear()

    def apply(self, kind, event_type, obj):
        """Apply one watch event; True if what status reads changed."""
        if kind == LEASES:
            return self._apply_lease(event_type, obj)
        key = release_key(kind, obj)
        if key is None:
            return False
        name = capi.name(obj)
        kept = None if event_type == "DELETED" else project(obj)
        with self._lock:
            self.events += 1
            groups = self._groups[kind]
            blob = groups.get(key)
            objects = decode(blob) if blob is not None else {}
            if kept is None:
                if objects.pop(name, None) is None:
                    return False
                self._counts[kind] -= 1
            else:
                if objects.get(name) == kept:
                    self.unchanged += 1
                    return False
                if name not in objects:
                    self._counts[kind] += 1
                objects[name] = kept
            self._bytes[kind] -= len(blob) if blob is not None else 0
            if objects:
                groups[key] = encode(objects)
                self._bytes[kind] += len(groups[key])
            else:
                del groups[key]
            self._decoded.pop(key, None)
            return True

    def _apply_lease(self, event_type, lease):
        meta = capi.metadata(lease)
        key = (meta.get("namespace"), meta.get("name"))
        with self._lock:
            self.events += 1
            if event_type == "DELETED":
                return self._leases.pop(key, None) is not None
            kept = marshal.dumps(project_lease(lease))
            if self._leases.get(key) == kept:
                self.unchanged += 1
                return False
            self._leases[key] = kept
            return True

    # -- reading --

    def observed(self, namespace, release):
        """The release's :class:`~magnum_capi_rdma.status.Observed`."""
        key = (namespace, release)
        with self._lock:
            blobs = tuple(self._groups[k].get(key) for k in self.kinds)
            cached = self._decoded.get(key)
            if cached is not None and cached[0] == blobs:
                self._decoded.move_to_end(key)
                return cached[1]
        found = {kind: _sorted(decode(blob)) for kind, blob in zip(
            self.kinds, blobs) if blob is not None}
        result = observed_from(found, release)
        with self._lock:
            self._decoded[key] = (blobs, result)
            while len(self._decoded) > self.DECODED:
                self._decoded.popitem(last=False)
        return result

    def operation(self, namespace, release):
        """The release's :class:`~magnum_capi_rdma.operations.Record`."""
        with self._lock:
            kept = self._leases.get(
                (namespace, operations.lease_name(release)))
        if kept is None:
            return operations.Record()
        return operations.from_lease(marshal.loads(kept))

    def stats(self):
        """Objects held and the bytes of their blobs, by kind and in all."""
        with self._lock:
            counts = dict(self._counts)
            sizes = dict(self._bytes)
            leases = len(self._leases)
            lease_bytes = sum(len(v) for v in self._leases.values())
            releases = len({k for g in self._groups.values() for k in g})
        return {
            "objects": sum(counts.values()) + leases,
            "approx_bytes": sum(sizes.values()) + lease_bytes,
            "releases": releases,
            "by_kind": dict(counts, lease=leases),
            "events": self.events,
            "unchanged_events": self.unchanged,
        }


def _sorted(objects):
    return tuple(objects[name] for name in sorted(objects))


def observed_from(found, release):
    """:class:`Observed` from ``{kind: (compact objects, ...)}``."""

    def one(kind, name):
        for obj in found.get(kind, ()):
            if capi.name(obj) == name:
                return obj
        return None

    return status.Observed(
        cluster=one("cluster", release),
        openstack_cluster=one("openstackcluster", release),
        control_plane=one("kubeadmcontrolplane",
                          contract.CHART_CONTROL_PLANE_NAME % release),
        machine_deployments=found.get("machinedeployment", ()),
        machines=found.get("machine", ()),
        addons=found.get("helmrelease", ()) + found.get("manifests", ()),
    )


class Builder(object):
    """One kind's objects from a LIST, committed into a :class:`Store`.

    Objects are projected as they are added and encoded once
    :attr:`FLUSH` of them are pending and the next belongs to another
    release, so a LIST of any size holds only a few decoded objects.
    """

    FLUSH = 32

    def __init__(self, store, kind):
        self._store = store
        self.kind = kind
        self._pending = {}
        self._pending_count = 0
        self._groups = {}
        self.count = 0

    def add(self, obj):
        if self.kind == LEASES:
            meta = capi.metadata(obj)
            self._groups[(meta.get("namespace"), meta.get("name"))] = (
                marshal.dumps(project_lease(obj)))
            self.count += 1
            return
        key = release_key(self.kind, obj)
        if key is None:
            return
        if key not in self._pending and self._pending_count >= self.FLUSH:
            # A LIST comes sorted by namespace and name, and names start
            # with the release's: a release's objects come together, and
            # the ones before are complete.
            self._flush()
        self._pending.setdefault(key, {})[capi.name(obj)] = project(obj)
        self._pending_count += 1
        self.count += 1

    def _flush(self):
        for key, objects in self._pending.items():
            blob = self._groups.get(key)
            if blob is not None:
                merged = decode(blob)
                merged.update(objects)
                objects = merged
            self._groups[key] = encode(objects)
        self._pending = {}
        self._pending_count = 0

    def commit(self):
        """Replace the kind's objects in the store with these."""
        self._flush()
        self._store.replace(self.kind, self._groups, self.count)


# -- freshness -------------------------------------------------------------

@dataclasses.dataclass
class SourceState:
    """What one kind's reflector knows of its own freshness.

    ``synced``: a LIST has been committed. ``watching``: a watch is open.
    ``down_since``: when it last stopped watching (None while watching).
    """

    synced: bool = False
    watching: bool = False
    down_since: float = None
    error: str = None
    resource_version: str = None
    lists: int = 0
    relists_gone: int = 0
    watches: int = 0
    events: int = 0
    bookmarks: int = 0
    errors: int = 0


def freshness(states, now, max_staleness):
    """(fresh, reason): may status be computed from the store now?

    Fresh when every kind has been listed and is watching, or stopped
    watching at most ``max_staleness`` seconds ago (a reconnect in
    progress). ``reason`` says which kind is not, and why.
    """
    for kind, state in states.items():
        if not state.synced:
            return False, "%s not listed yet%s" % (
                kind, (": " + state.error) if state.error else "")
        if state.watching:
            continue
        down = now - (state.down_since if state.down_since is not None
                      else now)
        if down > max_staleness:
            return False, "watch of %s down for %.0fs%s" % (
                kind, down, (": " + state.error) if state.error else "")
    return True, None


def backoff(attempt, base=0.2, cap=10.0, rand=random.random):
    """Seconds to wait before retry ``attempt`` (1, 2, ...), jittered."""
    delay = min(cap, base * (2 ** max(0, attempt - 1)))
    return delay * (0.5 + rand() / 2)


def is_gone(code):
    """A watch or LIST answer meaning "relist": 410 Gone (Expired)."""
    return code == 410
