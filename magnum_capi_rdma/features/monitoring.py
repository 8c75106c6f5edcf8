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
"""Monitoring (kube-prometheus-stack) and logging (Loki)."""

import dataclasses

from magnum_capi_rdma import labels

DOC_ORDER = 7
_MON = dict(category="monitoring")

LABELS = (
    labels.label(
        "monitoring_enabled", "boolean", False,
        "Install Prometheus, Alertmanager and Grafana "
        "(kube-prometheus-stack).", **_MON),
    labels.label(
        "logging_enabled", "boolean", False,
        "Collect container logs in Loki (needs monitoring_enabled).",
        **_MON),
)


@dataclasses.dataclass(frozen=True)
class Monitoring:
    enabled: bool
    logging: bool


def cluster_part(ctx):
    enabled, logging = ctx.label("monitoring_enabled"), ctx.label(
        "logging_enabled")
    if logging and not enabled:
        ctx.problem("logging_enabled", True, "true only with "
                    "monitoring_enabled", "Loki is part of the monitoring "
                    "stack")
    return Monitoring(enabled, logging)


def contribute(spec):
    return {"addons": {"monitoring": {
        "enabled": spec.monitoring.enabled,
        "lokiStack": {"enabled": spec.monitoring.logging},
    }}}
