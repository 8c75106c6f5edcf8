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

For the development and test bed only (a bare kube-apiserver that the
simulator drives); never shipped with the driver: a real management
cluster gets its CRDs from Cluster API and its providers.

Two sources:

- **upstream** (:func:`upstream_crd_manifests`): Cluster API's and CAPO's
  own CRDs, read from the pinned artefacts (``../shared/upstream/crds``,
  see :mod:`magnum_capi_rdma_dev.upstream`) and served as a bed without
  Cluster API's managers can serve them (:func:`served_as_written`). What
  the chart, the driver and the simulator write is checked against the
  real schemas. The add-on provider's ``HelmRelease`` and ``Manifests``
  always come from here, generated: the provider generates its CRDs at run
  time, there is no file of them to pin.
- **generated** (:func:`crd_manifests`): written by this project as data:
  structural schemas that keep unknown fields in ``spec`` and ``status``,
  the status subresource, and the ``scale`` subresource where Cluster API
  has one. The groups and versions come from the ``[capi_rdma]``
  ``*_api_version`` options. Used for every kind only when the upstream
  folder is absent (a fresh clone running the development tools).
"""

import collections
import copy
import json
import pathlib
import time

import yaml

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
    versions = _full_versions(api_versions)
    return [crd_manifest(kind, versions[kind.api_option]) for kind in KINDS]


def _full_versions(api_versions):
    api_versions = dict(api_versions or {})
    unknown = set(api_versions) - set(API_VERSION_OPTIONS)
    if unknown:
        raise ValueError("unknown apiVersion option(s) %s: expected %s" % (
            ", ".join(sorted(unknown)), ", ".join(API_VERSION_OPTIONS)))
    if set(api_versions) == set(API_VERSION_OPTIONS):
        return api_versions
    return dict(configured_api_versions(), **api_versions)


def served_as_written(crd, version):
    """A copy of an upstream CRD as the bed serves it: ``version`` stored.

    Cluster API's release files serve v1beta1 and v1beta2, store v1beta2
    and have no ``conversion`` stanza: a real management cluster adds one
    that points at the Cluster API manager's conversion webhook. The bed
    runs no manager, so: every version's schema is kept and served as it
    is, the version the chart writes (``version``, from the ``[capi_rdma]``
    options: v1beta1) is the storage version, and ``conversion`` is
    ``{strategy: None}``: the API server then only rewrites ``apiVersion``
    when an object is read at another version, it converts nothing. The
    driver and the simulator read and write at the configured version, so
    every object is validated against that version's real schema.
    """
    crd = copy.deepcopy(crd)
    spec = crd["spec"]
    names = [v["name"] for v in spec["versions"]]
    if version not in names:
        raise CRDError("CRD %s has no version %s (it has %s)" % (
            crd["metadata"]["name"], version, ", ".join(names)))
    for entry in spec["versions"]:
        entry["served"] = True
        entry["storage"] = entry["name"] == version
    spec["conversion"] = {"strategy": "None"}
    return crd


def load_crds(directory):
    """Every CustomResourceDefinition of the ``*.yaml`` files of a folder."""
    # libyaml when there is one: the pure Python loader takes seconds
    # over the 1.7 MB of Cluster API's and CAPO's CRDs.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    found = []
    for path in sorted(pathlib.Path(directory).glob("*.yaml")):
        with open(path) as handle:
            found.extend(doc for doc in yaml.load_all(handle, Loader=loader)
                         if doc and doc.get("kind") ==
                         "CustomResourceDefinition")
    if not found:
        raise CRDError("no CRDs in %s" % directory)
    return found


def upstream_crd_manifests(upstream, api_versions=None):
    """Cluster API's and CAPO's CRDs from ``upstream``, then the add-ons'.

    :param upstream: the pinned artefacts' folder (``crds/cluster-api``
        and ``crds/cluster-api-provider-openstack`` are read).
    :param api_versions: as for :func:`crd_manifests`; each upstream CRD
        stores the configured version of its group
        (:func:`served_as_written`). A kind of :data:`KINDS` that no
        upstream file defines (the add-on provider's) is generated.
    """
    from magnum_capi_rdma_dev import upstream as upstream_mod

    versions = _full_versions(api_versions)
    by_group = {}
    for option, api_version in versions.items():
        group, version = _split(api_version, option)
        by_group.setdefault(group, version)
    manifests = []
    for folder in upstream_mod.MANAGEMENT_CRDS:
        for crd in load_crds(pathlib.Path(upstream) / "crds" / folder):
            group = crd["spec"]["group"]
            if group not in by_group:
                raise CRDError("CRD %s: no [capi_rdma] *_api_version names "
                               "group %s" % (crd["metadata"]["name"], group))
            manifests.append(served_as_written(crd, by_group[group]))
    defined = {(m["spec"]["group"], m["spec"]["names"]["kind"])
               for m in manifests}
    for kind in KINDS:
        group, _ = _split(versions[kind.api_option], kind.api_option)
        if (group, kind.kind) not in defined:
            manifests.append(crd_manifest(kind, versions[kind.api_option]))
    return manifests


def install_crds(api_client, api_versions=None, timeout=180, upstream=None,
                 manifests=None):
    """Create or replace every CRD, then wait until each is Established.

    :param upstream: the pinned artefacts' folder: Cluster API's and CAPO's
        own CRDs from it (:func:`upstream_crd_manifests`); None: generated
        CRDs for every kind (:func:`crd_manifests`).
    :param manifests: exactly these CRDs instead (the bed with Cluster
        API's own managers, ``bed/capi.py``).
    :returns: the CRDs installed.
    """
    from kubernetes import client

    api = client.ApiextensionsV1Api(api_client)
    if manifests is not None:
        pass
    elif upstream is None:
        manifests = crd_manifests(api_versions)
    else:
        manifests = upstream_crd_manifests(upstream, api_versions)
    for manifest in manifests:
        _apply(api, manifest)
    deadline = time.monotonic() + timeout
    for manifest in manifests:
        _wait_established(api, manifest["metadata"]["name"], deadline)
    return manifests


def _apply(api, manifest):
    from kubernetes.client import exceptions

    name = manifest["metadata"]["name"]
    try:
        # Raw answers: the upstream CRDs are large, and turning them into
        # the client's model objects takes seconds.
        api.create_custom_resource_definition(manifest,
                                              _preload_content=False)
        return
    except exceptions.ApiException as exc:
        if exc.status != 409:
            raise CRDError("creating CRD %s failed: %s %s" % (
                name, exc.status, _message(exc))) from None
    current = _read(api, name)
    body = dict(manifest, metadata=dict(
        manifest["metadata"],
        resourceVersion=current["metadata"]["resourceVersion"]))
    api.replace_custom_resource_definition(name, body,
                                           _preload_content=False)


def _message(exc):
    try:
        return json.loads(exc.body)["message"][:500]
    except (TypeError, ValueError, KeyError):
        return exc.reason


def _read(api, name):
    response = api.read_custom_resource_definition(name,
                                                   _preload_content=False)
    return json.loads(response.data)


def _established(crd):
    for condition in (crd.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Established" and (
                condition.get("status") == "True"):
            return True
    return False


def _wait_established(api, name, deadline):
    while True:
        if _established(_read(api, name)):
            return
        if time.monotonic() > deadline:
            raise CRDError("CRD %s not Established in time" % name)
        time.sleep(0.1)
