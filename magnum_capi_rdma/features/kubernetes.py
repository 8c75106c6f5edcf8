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
"""Kubernetes itself: its version, the chart version, the CNI, the image."""

import dataclasses
import re

from magnum_capi_rdma import labels
from magnum_capi_rdma.values import common

DOC_ORDER = 0
_KUBE = dict(category="kubernetes")

LABELS = (
    labels.label(
        "kube_tag", "string", None,
        "Kubernetes version of the cluster, e.g. v1.33.1. The machine image "
        "must carry this version. Unset: the kube_version property of the "
        "template's image (as magnum-capi-helm reads it); one of the two is "
        "required, and when both are set they must agree.",
        pattern=r"^v[0-9]+\.[0-9]+\.[0-9]+$",
        pattern_help="a version tag such as v1.33.1", **_KUBE),
    labels.label(
        "capi_helm_chart_version", "string", None,
        "Version of the openstack-cluster chart for clusters of this "
        "template. Unset: the site's [capi_rdma] chart_version.",
        scopes=labels.TEMPLATE_ONLY, site_default=False,
        pattern=r"^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$",
        pattern_help="a chart version such as 0.27.0", **_KUBE),
)


@dataclasses.dataclass(frozen=True)
class Kubernetes:
    version: str            # without the leading "v"
    chart_version: str
    network_driver: str


#: The image property magnum-capi-helm takes the version from.
IMAGE_VERSION_PROPERTY = "kube_version"
_IMAGE_VERSION = re.compile(r"^v?([0-9]+\.[0-9]+\.[0-9]+)$")
_IMAGE_VERSION_HELP = ("a version such as v1.33.1 or 1.33.1 in the image's "
                       "kube_version property")


def _image_version(ctx):
    """The image's kube_version property without the "v", or None.

    The description carries the properties of the template's image as
    ``cluster_template.image_properties`` (the driver reads them from
    Glance).
    """
    properties = ctx.template.get("image_properties")
    if properties is None:
        return None
    if not isinstance(properties, dict):
        ctx.problem("image_properties", properties, "a mapping of the "
                    "image's property names to values", "", where="template")
        return None
    raw = properties.get(IMAGE_VERSION_PROPERTY)
    if raw is None or raw == "":
        return None
    found = _IMAGE_VERSION.match(raw) if isinstance(raw, str) else None
    if not found:
        ctx.problem("image_properties", {IMAGE_VERSION_PROPERTY: raw},
                    _IMAGE_VERSION_HELP, "not a Kubernetes version",
                    where="template")
        return None
    return found.group(1)


def _version(ctx):
    """The cluster's version: kube_tag, else the image's property."""
    tag = ctx.label("kube_tag")
    image = _image_version(ctx)
    if tag is None:
        if image is None and not ctx.has_problem("kube_tag") and (
                not ctx.has_problem("image_properties")):
            ctx.problem(
                "kube_tag", None, LABELS[0].allowed(),
                "the Kubernetes version is required: set the kube_tag label "
                "(template, cluster or site default) or the kube_version "
                "property of the template's image (openstack image set "
                "--property kube_version=v1.33.1 IMAGE)", where="template")
        return image
    if image is not None and image != tag[1:]:
        ctx.problem("kube_tag", tag, "v%s (the image's kube_version) or an "
                    "image that carries %s" % (image, tag),
                    "the template's image says it carries Kubernetes v%s"
                    % image)
    return tag[1:]


def cluster_part(ctx):
    version = _version(ctx)
    driver = ctx.choice_field(ctx.template, "network_driver", "template",
                              ("calico", "cilium"), "calico")
    return Kubernetes(version=version or "",
                      chart_version=ctx.label("capi_helm_chart_version"),
                      network_driver=driver)


def contribute(spec):
    values = {
        "kubernetesVersion": spec.kube_version,
        "osDistro": spec.os_distro,
        "addons": {"cni": {"enabled": True,
                           "type": spec.kubernetes.network_driver}},
    }
    values.update(common.image(spec.image))
    if spec.keypair:
        values["machineSSHKeyName"] = spec.keypair
    return values
