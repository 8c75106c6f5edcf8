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
"""Add-ons that are not a feature of their own: Keystone auth, ingress,
node feature discovery, the cloud controller manager's version, and the
dashboard the chart no longer has."""

import dataclasses

from magnum_capi_rdma import labels

DOC_ORDER = 6
AFTER = ("gpu", "rdma")

LABELS = (
    labels.label(
        "keystone_auth_enabled", "boolean", False,
        "Authenticate Kubernetes API users with Keystone tokens "
        "(k8s-keystone-auth webhook).", category="kubernetes"),
    labels.label(
        "ingress_enabled", "boolean", False,
        "Install an ingress controller.", category="add-ons"),
    labels.label(
        "kube_dashboard_enabled", "boolean", False,
        "magnum-capi-helm's Kubernetes Dashboard switch. openstack-cluster "
        "chart 0.27.0 has no dashboard add-on (neither the Kubernetes "
        "Dashboard nor Headlamp), so false is accepted and true refused. "
        "magnum-capi-helm's default, true, did nothing with this chart "
        "either.", category="add-ons"),
    labels.label(
        "cloud_provider_tag", "string", None,
        "Image tag of the OpenStack cloud controller manager. Unset: the "
        "chart's.", pattern=labels.IMAGE_TAG, pattern_help="an image tag",
        category="add-ons"),
)


@dataclasses.dataclass(frozen=True)
class Addons:
    keystone_auth: bool
    ingress: bool
    cloud_provider_tag: str = None


def cluster_part(ctx):
    if ctx.label("kube_dashboard_enabled"):
        ctx.problem("kube_dashboard_enabled", True, "false (or unset)",
                    "openstack-cluster chart 0.27.0 installs no dashboard "
                    "(its add-ons have neither the Kubernetes Dashboard nor "
                    "Headlamp); install one on the cluster yourself")
    return Addons(ctx.label("keystone_auth_enabled"),
                  ctx.label("ingress_enabled"),
                  ctx.label("cloud_provider_tag"))


def _openstack(addons):
    values = {"enabled": True,
              "k8sKeystoneAuth": {"enabled": addons.keystone_auth}}
    if addons.cloud_provider_tag:
        values["ccm"] = {"values": {"image": {
            "tag": addons.cloud_provider_tag}}}
    return values


def contribute(spec):
    auth = spec.addons.keystone_auth
    nfd = spec.rdma.enabled or spec.gpu.operator_enabled
    return {
        "authWebhook": "k8s-keystone-auth" if auth else "none",
        "addons": {
            "openstack": _openstack(spec.addons),
            "ingress": {"enabled": spec.addons.ingress},
            "nodeFeatureDiscovery": {"enabled": nfd},
        },
    }
