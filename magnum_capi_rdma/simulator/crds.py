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
"""CustomResourceDefinitions for the kinds the chart renders and we read.

Written by this project as data: structural schemas that keep unknown
fields in ``spec`` and ``status`` (the simulator and the chart decide what
goes there), the status subresource, and the ``scale`` subresource where
Cluster API has one, so autoscaler-style scaling works. The groups and
versions come from the ``[capi_rdma]`` ``*_api_version`` options.
"""

import collections
import time

API_VERSION_OPTIONS = (
    "cluster_api_version",
    "control_plane_api_version",
    "bootstrap_api_version",
    "infrastructure_api_version",
    "addons_api_version",
)

Kind = collections.namedtuple(
    "Kind", "kind plural short_names api_option scale columns")

_AGE = ("Age", "date", ".metadata.creationTimestamp")
_CLUSTER = ("Cluster", "string", ".spec.clusterName")
_PHASE = ("Phase", "string", ".status.phase")
_REPLICAS = ("Replicas", "integer", ".status.replicas")
_READY = ("Ready", "integer", ".status.readyReplicas")

KINDS = (
    Kind("Cluster", "clusters", ["cl"], "cluster_api_version", False,
         [_PHASE, _AGE]),
    Kind("MachineDeployment", "machinedeployments", ["md"],
         "cluster_api_version", True,
         [_CLUSTER, _REPLICAS, _READY, _PHASE,
          ("Version", "string", ".spec.template.spec.version"), _AGE]),
    Kind("MachineSet", "machinesets", ["ms"], "cluster_api_version", True,
         [_CLUSTER, _REPLICAS, _READY,
          ("Version", "string", ".spec.template.spec.version"), _AGE]),
    Kind("Machine", "machines", ["ma"], "cluster_api_version", False,
         [_CLUSTER, ("NodeName", "string", ".status.nodeRef.name"),
          ("ProviderID", "string", ".spec.providerID"), _PHASE,
          ("Version", "string", ".spec.version"), _AGE]),
    Kind("MachineHealthCheck", "machinehealthchecks", ["mhc"],
         "cluster_api_version", False,
         [_CLUSTER, ("Healthy", "integer", ".status.currentHealthy"),
          _AGE]),
    Kind("KubeadmControlPlane", "kubeadmcontrolplanes", ["kcp"],
         "control_plane_api_version", True,
         [("Initialized", "boolean", ".status.initialized"),
          _REPLICAS, _READY, ("Version", "string", ".spec.version"),
          _AGE]),
    Kind("KubeadmConfigTemplate", "kubeadmconfigtemplates", ["kct"],
         "bootstrap_api_version", False, [_AGE]),
    Kind("KubeadmConfig", "kubeadmconfigs", ["kc"],
         "bootstrap_api_version", False, [_AGE]),
    Kind("OpenStackCluster", "openstackclusters", ["osc"],
         "infrastructure_api_version", False,
         [("Ready", "boolean", ".status.ready"), _AGE]),
    Kind("OpenStackMachineTemplate", "openstackmachinetemplates",
         ["osmt"], "infrastructure_api_version", False, [_AGE]),
    Kind("OpenStackMachine", "openstackmachines", ["osm"],
         "infrastructure_api_version", False,
         [("Ready", "boolean", ".status.ready"), _AGE]),
    Kind("HelmRelease", "helmreleases", [], "addons_api_version", False,
         [_CLUSTER, _PHASE, ("Revision", "integer", ".status.revision"),
          _AGE]),
    Kind("Manifests", "manifests", [], "addons_api_version", False,
         [_CLUSTER, _PHASE, _AGE]),
)


class CRDError(RuntimeError):
    """The CRDs could not be installed."""


def configured_api_versions(config=None):
    """{option: apiVersion} from the ``[capi_rdma]`` options."""
    from magnum_capi_rdma import conf

    group = (config or conf.cfg.CONF)[conf.GROUP]
    return {name: group[name] for name in API_VERSION_OPTIONS}


def _split(api_version, option):
    group, sep, version = (api_version or "").partition("/")
    if not sep or not group or not version or "/" in version:
        raise ValueError(
            "%s must look like GROUP/VERSION (e.g. cluster.x-k8s.io/v1beta1),"
            " got %r" % (option, api_version))
    return group, version


def _schema():
    open_object = {"type": "object",
                   "x-kubernetes-preserve-unknown-fields": True}
    return {"openAPIV3Schema": {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": dict(open_object),
            "status": dict(open_object),
        },
    }}


def _version(kind, version):
    subresources = {"status": {}}
    if kind.scale:
        subresources["scale"] = {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.selector",
        }
    return {
        "name": version,
        "served": True,
        "storage": True,
        "schema": _schema(),
        "subresources": subresources,
        "additionalPrinterColumns": [
            {"name": name, "type": type_, "jsonPath": path}
            for name, type_, path in kind.columns],
    }


def crd_manifest(kind, api_version):
    """The CRD (a dict) of one :class:`Kind` at ``api_version``."""
    group, version = _split(api_version, kind.api_option)
    names = {
        "kind": kind.kind,
        "listKind": kind.kind + "List",
        "plural": kind.plural,
        "singular": kind.kind.lower(),
        "categories": ["capi-rdma-test"],
    }
    if kind.short_names:
        names["shortNames"] = list(kind.short_names)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "%s.%s" % (kind.plural, group)},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": names,
            "versions": [_version(kind, version)],
        },
    }


def crd_manifests(api_versions=None):
    """CRDs for every kind the chart renders and the driver reads.

    :param api_versions: ``{option name: "group/version"}``, e.g.
        ``{"cluster_api_version": "cluster.x-k8s.io/v1beta2"}``; missing
        keys (or None) come from the ``[capi_rdma]`` configuration.
    """
    api_versions = dict(api_versions or {})
    unknown = set(api_versions) - set(API_VERSION_OPTIONS)
    if unknown:
        raise ValueError("unknown apiVersion option(s) %s: expected %s" % (
            ", ".join(sorted(unknown)), ", ".join(API_VERSION_OPTIONS)))
    if set(api_versions) == set(API_VERSION_OPTIONS):
        versions = api_versions
    else:
        versions = dict(configured_api_versions(), **api_versions)
    return [crd_manifest(kind, versions[kind.api_option]) for kind in KINDS]


def install_crds(api_client, api_versions=None, timeout=60):
    """Create or replace every CRD, then wait until each is Established."""
    from kubernetes import client

    api = client.ApiextensionsV1Api(api_client)
    manifests = crd_manifests(api_versions)
    for manifest in manifests:
        _apply(api, manifest)
    deadline = time.monotonic() + timeout
    for manifest in manifests:
        _wait_established(api, manifest["metadata"]["name"], deadline)


def _apply(api, manifest):
    from kubernetes.client import exceptions

    name = manifest["metadata"]["name"]
    try:
        api.create_custom_resource_definition(manifest)
        return
    except exceptions.ApiException as exc:
        if exc.status != 409:
            raise CRDError("creating CRD %s failed: %s %s" % (
                name, exc.status, exc.reason)) from None
    current = api.read_custom_resource_definition(name)
    body = dict(manifest, metadata=dict(
        manifest["metadata"],
        resourceVersion=current.metadata.resource_version))
    api.replace_custom_resource_definition(name, body)


def _established(crd):
    for condition in (crd.status and crd.status.conditions) or ():
        if condition.type == "Established" and condition.status == "True":
            return True
    return False


def _wait_established(api, name, deadline):
    while True:
        if _established(api.read_custom_resource_definition(name)):
            return
        if time.monotonic() > deadline:
            raise CRDError("CRD %s not Established in time" % name)
        time.sleep(0.1)
