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
"""The adapters a conductor process shares.

Magnum makes a new driver object per call, while a Helm loop thread, a
Kubernetes client, the status cache (its watch threads) and the
operation records seen are process-wide: they live here, each made on
first use, in the process that uses them. oslo.service forks conductor
workers; a child never uses its parent's runtime (threads do not survive
a fork) but makes its own. The status cache's threads stop at process
exit.
"""

import atexit
import os
import threading

from oslo_config import cfg

from magnum_capi_rdma.adapters import kube as kube_adapter
from magnum_capi_rdma.adapters import observer as observer_mod
from magnum_capi_rdma.adapters import rest
from magnum_capi_rdma.adapters import watch
from magnum_capi_rdma.adapters import workload

CONF = cfg.CONF

_LOCK = threading.RLock()
_SHARED = []
_EXIT = []


class Runtime(object):
    """Adapters made from the configuration, once each."""

    def __init__(self, conf=CONF):
        self._conf = conf
        self._made = {}
        self.pid = os.getpid()

    def _get(self, key, factory):
        with _LOCK:
            if key not in self._made:
                self._made[key] = factory()
            return self._made[key]

    @property
    def kube(self):
        return self._get(
            "kube", lambda: kube_adapter.Kube.from_config(self._conf))

    @property
    def helm(self):
        # Imported on first use: a conductor that only runs status passes
        # never loads pyhelm3.
        from magnum_capi_rdma.adapters import helm as helm_adapter

        return self._get(
            "helm", lambda: helm_adapter.Helm.from_config(self._conf))

    @property
    def connection(self):
        """Reads for status and health (:class:`.rest.Connection`)."""
        return self._get(
            "connection", lambda: rest.Connection.from_config(self._conf))

    @property
    def observer(self):
        """Status and health's view of the management cluster.

        ``[capi_rdma] status_source``: ``watch``, the watch-fed cache
        (started on first use) with the per-pass LIST as its fallback;
        ``list``, the per-pass LIST only.
        """
        group = self._conf.capi_rdma

        def make():
            connection = self.connection
            lister = observer_mod.Observer(
                connection, max_age=group.status_max_staleness)
            if group.status_source == "list":
                return lister
            return watch.WatchObserver(
                connection, max_age=group.status_max_staleness,
                fallback=lister)
        return self._get("observer", make)

    @property
    def operation_records(self):
        """The last operation record seen per cluster UUID.

        ``{uuid: (started, timeout_minutes)}``, kept so a status pass can
        time an operation out while the management cluster is unreachable.
        """
        return self._get("operation-records", dict)

    def close(self):
        """Stop the status cache's threads and drop connections.

        The workload clusters' clients (RDMA health) are closed too.
        """
        with _LOCK:
            made = dict(self._made)
            self._made.clear()
        if os.getpid() != self.pid:
            return      # a forked child: the threads were the parent's
        observer = made.get("observer")
        if hasattr(observer, "stop"):
            observer.stop()
        if "connection" in made:
            made["connection"].close()
        workload.CLIENTS.close()


def shared():
    """The process's :class:`Runtime` (a new one in a forked child)."""
    with _LOCK:
        if _SHARED and _SHARED[0].pid != os.getpid():
            del _SHARED[:]
        if not _SHARED:
            _SHARED.append(Runtime())
            if not _EXIT:
                atexit.register(_close_at_exit)
                _EXIT.append(True)
        return _SHARED[0]


def reset():
    """Forget the process's adapters (tests; configuration changes).

    The forgotten runtime's watch threads are stopped.
    """
    with _LOCK:
        old = list(_SHARED)
        del _SHARED[:]
    for runtime in old:
        runtime.close()


def _close_at_exit():
    with _LOCK:
        old = list(_SHARED)
    for runtime in old:
        try:
            runtime.close()
        except Exception:  # noqa: B902 - exiting anyway
            pass
