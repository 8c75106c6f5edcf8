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
Kubernetes client, the status snapshot and the operation records seen
are process-wide: they live here, each made on first use.
"""

import threading

from oslo_config import cfg

from magnum_capi_rdma.adapters import helm as helm_adapter
from magnum_capi_rdma.adapters import kube as kube_adapter
from magnum_capi_rdma.adapters import observer as observer_mod

CONF = cfg.CONF

_LOCK = threading.RLock()
_SHARED = []


class Runtime(object):
    """Adapters made from the configuration, once each."""

    def __init__(self, conf=CONF):
        self._conf = conf
        self._made = {}

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
        return self._get(
            "helm", lambda: helm_adapter.Helm.from_config(self._conf))

    @property
    def observer(self):
        kube = self.kube
        return self._get("observer", lambda: observer_mod.Observer(
            kube, max_age=self._conf.capi_rdma.status_max_staleness))

    @property
    def operation_records(self):
        """The last operation record seen per cluster UUID.

        ``{uuid: (started, timeout_minutes)}``, kept so a status pass can
        time an operation out while the management cluster is unreachable.
        """
        return self._get("operation-records", dict)


def shared():
    """The process's :class:`Runtime`."""
    with _LOCK:
        if not _SHARED:
            _SHARED.append(Runtime())
        return _SHARED[0]


def reset():
    """Forget the process's adapters (tests; configuration changes)."""
    with _LOCK:
        del _SHARED[:]
