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
"""The CNI add-on: the version of Calico or Cilium and Cilium's Hubble UI.

The template's ``network_driver`` (``features.kubernetes``) chooses the
CNI; a label of the other CNI is refused rather than ignored.
"""

import dataclasses

from magnum_capi_rdma import labels

DOC_ORDER = 1
AFTER = ("kubernetes",)
_CNI = dict(category="networking")

LABELS = (
    labels.label(
        "calico_tag", "string", None,
        "Calico version (the tigera-operator chart of that version) when "
        "the template's network_driver is calico, e.g. v3.31.5. Unset: the "
        "version the openstack-cluster chart pins.",
        pattern=r"^v[0-9]+\.[0-9]+\.[0-9]+$",
        pattern_help="a Calico version tag such as v3.31.5", **_CNI),
    labels.label(
        "cilium_tag", "string", None,
        "Cilium version (the cilium chart of that version) when the "
        "template's network_driver is cilium, e.g. v1.19.3. Unset: the "
        "version the openstack-cluster chart pins.",
        pattern=r"^v?[0-9]+\.[0-9]+\.[0-9]+$",
        pattern_help="a Cilium version such as v1.19.3", **_CNI),
    labels.label(
        "cilium_hubble_ui_enabled", "boolean", False,
        "Install Cilium's Hubble relay and UI (network_driver cilium).",
        **_CNI),
)


@dataclasses.dataclass(frozen=True)
class Cni:
    calico_version: str = None
    cilium_version: str = None
    hubble_ui: bool = False


def cluster_part(ctx):
    driver = ctx.parts["kubernetes"].network_driver
    for name, needs in (("calico_tag", "calico"), ("cilium_tag", "cilium"),
                        ("cilium_hubble_ui_enabled", "cilium")):
        value = ctx.label(name)
        # A site default may name the version of the CNI it does not use.
        if value and driver != needs and ctx.source(name) != "site":
            ctx.problem(name, value, "unset unless the template's "
                        "network_driver is %s" % needs,
                        "this cluster's CNI is %s" % driver)
    cilium = ctx.label("cilium_tag")
    return Cni(calico_version=ctx.label("calico_tag"),
               cilium_version=cilium.lstrip("v") if cilium else None,
               hubble_ui=ctx.label("cilium_hubble_ui_enabled"))


def contribute(spec):
    cni, cni_values = spec.cni, {}
    if cni.calico_version:
        cni_values["calico"] = {"chart": {"version": cni.calico_version}}
    cilium = {}
    if cni.cilium_version:
        cilium["chart"] = {"version": cni.cilium_version}
    if cni.hubble_ui:
        cilium["release"] = {"values": {"hubble": {
            "relay": {"enabled": True}, "ui": {"enabled": True}}}}
    if cilium:
        cni_values["cilium"] = cilium
    return {"addons": {"cni": cni_values}} if cni_values else {}
