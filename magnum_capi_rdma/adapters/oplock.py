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
"""Holding a cluster's operation lock (the I/O of :mod:`operations`).

``lock.acquire()`` takes the cluster's Lease; ``with lock.renewing():``
renews it from a background thread while the body runs and frees it
afterwards. Writes use
the Lease's ``resourceVersion``, so two conductors racing for it cannot both
win: the loser re-reads and finds it held.
"""

import contextlib
import datetime
import logging
import os
import socket
import threading
import time
import uuid

from magnum_capi_rdma.adapters import kube as kube_adapter
from magnum_capi_rdma import operations as ops

LOG = logging.getLogger(__name__)


def new_holder():
    """An identity unique to one driver call of one process."""
    return "%s/%d/%s" % (socket.gethostname(), os.getpid(),
                         uuid.uuid4().hex[:8])


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


class Busy(Exception):
    """Another driver call holds the cluster's lock."""


class OperationLock(object):
    """The lock of one cluster, held for one driver call.

    :param operation: if given, the operation record (``operation``,
        started now, ``timeout_minutes``) is written with the lock; else
        the record already there is kept.
    :param wait: seconds to wait for a held lock before :class:`Busy`.
    :param helm: the call runs helm: the record says Helm's outcome is
        unknown (``started``) until :meth:`helm_done`.
    """

    def __init__(self, kube, namespace, release, labels, description,
                 duration, cluster_name, operation=None,
                 timeout_minutes=None, wait=0.0, clock=_utcnow,
                 monotonic=time.monotonic, sleep=time.sleep, helm=False):
        self.kube = kube
        self.namespace = namespace
        self.release_name = release
        self.name = ops.lease_name(release)
        self.labels = dict(labels)
        self.description = description
        self.duration = int(duration)
        self.cluster_name = cluster_name
        self.operation = operation
        self.timeout_minutes = timeout_minutes
        self.wait = float(wait)
        self.helm = helm
        self.holder = new_holder()
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._record = {}
        self._stop = threading.Event()
        self._thread = None
        self._lost = threading.Event()
        self._last_renewal = None
        self.renewals = 0

    @property
    def lost(self):
        """True once the lock may be held by someone else.

        A renewal found another holder, or none has succeeded for a whole
        lock period (another call may have taken the expired lock).
        """
        if self._lost.is_set():
            return True
        return self._last_renewal is not None and (
            self._monotonic() - self._last_renewal > self.duration)

    # -- protocol --

    def _write(self, current, holder, record, acquire):
        body = ops.lease_body(
            self.namespace, self.release_name, self.labels, record, holder,
            self.description, self.duration, self._clock(),
            resource_version=(current or {}).get("metadata", {}).get(
                "resourceVersion"),
            acquire=acquire)
        if current is None:
            return self.kube.create_lease(self.namespace, body)
        return self.kube.replace_lease(self.namespace, body)

    def acquire(self):
        deadline = self._monotonic() + self.wait
        while True:
            current = self.kube.get_lease(self.namespace, self.name)
            record = ops.from_lease(current)
            if ops.held_by_other(record, self.holder, self._clock()):
                left = deadline - self._monotonic()
                if left <= 0:
                    raise Busy(ops.busy_message(self.cluster_name, record,
                                                self._clock()))
                LOG.info("Cluster %s: waiting for %s to finish",
                         self.cluster_name,
                         record.holder_operation or "another operation")
                self._sleep(min(2.0, left))
                continue
            if self.operation:
                self._record = ops.record_annotations(ops.Record(
                    operation=self.operation, started=self._clock(),
                    timeout_minutes=self.timeout_minutes))
            else:
                self._record = ops.record_annotations(record)
            if self.helm and self._record:
                self._record[ops.HELM_KEY] = ops.HELM_STARTED
            try:
                self._write(current, self.holder, self._record, True)
            except kube_adapter.KubeError as exc:
                if exc.status == 409:   # another conductor won the race
                    continue
                # The write may have reached the server even though the
                # answer did not: free what might be ours.
                self.release()
                raise
            self._last_renewal = self._monotonic()
            return

    def helm_done(self):
        """Helm returned: the record says so when the lock is freed."""
        if self._record:
            self._record[ops.HELM_KEY] = ops.HELM_DONE

    def renew(self):
        """Push the expiry forward; False if the lock was lost."""
        for _ in range(3):
            current = self.kube.get_lease(self.namespace, self.name)
            record = ops.from_lease(current)
            if current is None or record.holder != self.holder:
                LOG.warning("Cluster %s: lost the operation lock (now "
                            "held by %s)", self.cluster_name,
                            record.holder or "nobody")
                return False
            try:
                self._write(current, self.holder, self._record, False)
                self.renewals += 1
                self._last_renewal = self._monotonic()
                return True
            except kube_adapter.KubeError as exc:
                if exc.status != 409:
                    raise
        return False

    def release(self):
        """Free the lock, keeping the operation record. Never raises."""
        try:
            for _ in range(3):
                current = self.kube.get_lease(self.namespace, self.name)
                record = ops.from_lease(current)
                if current is None or record.holder != self.holder:
                    return
                # Ours: the record as this call last wrote it, with
                # Helm's outcome if it has returned since.
                try:
                    self._write(current, None, {
                        **ops.record_annotations(record), **self._record},
                        False)
                    return
                except kube_adapter.KubeError as exc:
                    if exc.status != 409:
                        raise
        except Exception as exc:  # the lock expires on its own
            LOG.warning("Cluster %s: could not free the operation lock "
                        "(it expires in %ds): %s", self.cluster_name,
                        self.duration, exc)

    # -- heartbeat --

    def _heartbeat(self):
        interval = max(1.0, self.duration / 3.0)
        while not self._stop.wait(interval):
            try:
                if not self.renew():
                    self._lost.set()
                    return
            except Exception as exc:
                LOG.warning("Cluster %s: renewing the operation lock "
                            "failed: %s", self.cluster_name, exc)

    @contextlib.contextmanager
    def renewing(self):
        """Keep the (acquired) lock while the body runs, then free it."""
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._heartbeat, name="oplock-%s" % self.release_name,
            daemon=True)
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=30)
            self.release()
