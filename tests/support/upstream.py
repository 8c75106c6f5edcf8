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
"""The real upstream charts and CRDs (``../shared/upstream``) in tests.

Shared by ``tests/functional/test_upstream_*.py`` and the
``workload_cluster`` fixture (no test module imports another):

- :func:`require_upstream` finds the pinned artefacts (``<repo>/../shared/
  upstream``, or env ``MAGNUM_CAPI_RDMA_UPSTREAM``; located by
  :mod:`magnum_capi_rdma_dev.upstream`) and skips with one line when they
  are absent, except in CI (env ``CI`` set), where that fails;
  :func:`require_real_chart` does the same for the real
  ``openstack-cluster`` chart (env ``MAGNUM_CAPI_RDMA_REAL_CHART`` wins);
- :class:`Kube`: raw calls to an API server, ``create`` with
  ``fieldValidation=Strict`` (``kubernetes.utils.create_from_dict`` cannot
  pass it), resources resolved through the server's own discovery;
- :class:`WorkloadCluster`: a second bed API server playing a workload
  cluster, with the upstream CRDs of the objects the driver delivers and
  the network operator's HostDeviceNetwork webhook rule as a
  ValidatingAdmissionPolicy;
- :func:`delivered_manifests`: the objects of the driver's Manifests
  add-ons as the chart and the add-on provider hand them to Helm;
- :func:`addon_release_values` and :func:`helm_template`: the values the
  add-on provider composes for an add-on chart, and that chart rendered.

The artefacts are read where they are; nothing is copied into the project.
"""

import json
import os
import pathlib
import subprocess
import time

import jinja2
import pytest
import yaml

from magnum_capi_rdma_dev import upstream as dev_upstream

ENV_VAR = dev_upstream.ENV_VAR
REPO = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_DIR = dev_upstream.DEFAULT_DIR

# The CRDs a workload cluster has for the objects the driver delivers
# there (folders of ``crds/``).
WORKLOAD_CRDS = ("network-operator", "nvidia-k8s-ipam",
                 "network-attachment-definition", "gpu-operator")

# The Kubernetes version the workload cluster reports to ``helm template``
# when a description names none.
DEFAULT_KUBE_VERSION = "v1.33.0"

# Helm installs a release's objects by kind in this order (a transcription
# of InstallOrder in helm v3.22.0, pkg/releaseutil/kind_sorter.go); kinds
# not listed come last, alphabetically, keeping the given order within a
# kind. The add-on provider installs a Manifests add-on as a Helm release.
HELM_INSTALL_ORDER = (
    "PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota",
    "LimitRange", "PodSecurityPolicy", "PodDisruptionBudget",
    "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
    "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition",
    "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
    "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding",
    "RoleBindingList", "Service", "DaemonSet", "Pod",
    "ReplicationController", "ReplicaSet", "Deployment",
    "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob",
    "IngressClass", "Ingress", "APIService",
)

# A transcription of the network operator's validating webhook for
# HostDeviceNetwork (network-operator v26.1.1,
# api/v1alpha1/validator/hostdevicenetwork_webhook.go,
# isValidHostDeviceNetworkResourceName): spec.resourceName must match this
# pattern on create and update (an absent name is the empty string there,
# which does not match). The CRD alone does not enforce it; the operator
# prefixes ``nvidia.com/`` itself.
HOST_DEVICE_NETWORK_RESOURCE_NAME = (
    r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
HOST_DEVICE_NETWORK_POLICY = (
    "upstream-network-operator-v26.1.1-hostdevicenetwork")

WAIT_TIMEOUT = 60


class UpstreamError(AssertionError):
    """Something about the upstream artefacts or a render went wrong."""


def _skip_or_fail(message):
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def upstream_dir():
    """Where the pinned artefacts should be (they may be absent)."""
    return dev_upstream.upstream_dir()


def require_upstream():
    """The artefacts' folder; skip (locally) or fail (in CI) without it."""
    path = dev_upstream.find()
    if path is not None:
        return path
    _skip_or_fail(dev_upstream.missing_message())


def require_real_chart():
    """The real openstack-cluster chart directory, or skip (fail in CI).

    ``MAGNUM_CAPI_RDMA_REAL_CHART`` when set, else the pinned 0.27.0 copy
    (``../shared/upstream/charts/openstack-cluster``), read as it is.
    """
    chart = dev_upstream.openstack_cluster_chart()
    if chart is None:
        _skip_or_fail("real openstack-cluster chart: "
                      + dev_upstream.missing_message())
    if not (chart / "Chart.yaml").is_file():
        _skip_or_fail("%s (%s) is not a chart directory"
                      % (chart, dev_upstream.CHART_ENV_VAR))
    return chart


def require_bed_tools():
    """Skip (locally) or fail (in CI) without the pinned binaries."""
    from magnum_capi_rdma_dev.bed import tools

    missing = tools.missing_tools()
    if missing:
        _skip_or_fail("test bed binaries missing (%s) in %s: run "
                      "tools/install-test-tools"
                      % (", ".join(missing), tools.bin_dir()))


def load_yaml_documents(path):
    # libyaml when there is one: the pure Python loader takes seconds over
    # the large CRDs.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path) as handle:
        return [doc for doc in yaml.load_all(handle, Loader=loader) if doc]


def load_crds(upstream, folders=WORKLOAD_CRDS):
    """The CustomResourceDefinitions of ``crds/<folder>/``, as they are."""
    found = []
    for folder in folders:
        directory = pathlib.Path(upstream) / "crds" / folder
        files = sorted(directory.glob("*.yaml"))
        if not files:
            raise UpstreamError("no CRDs in %s" % directory)
        for path in files:
            found.extend(doc for doc in load_yaml_documents(path)
                         if doc.get("kind") == "CustomResourceDefinition")
    return found


def crd_kinds(crds):
    """{kind: (group, scope)} of the given CRDs."""
    return {crd["spec"]["names"]["kind"]: (crd["spec"]["group"],
                                           crd["spec"]["scope"])
            for crd in crds}


def wait_for(condition, timeout, what, interval=0.1):
    """Call ``condition`` until it returns a true value, or fail.

    An API error (e.g. 404 while a new kind is not served yet) counts as
    not yet.
    """
    from kubernetes.client import exceptions

    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            result = condition()
        except exceptions.ApiException as exc:
            result, last = None, refusal(exc)
        if result:
            return result
        if time.monotonic() >= deadline:
            raise UpstreamError("%s: not after %ss (last error: %s)"
                                % (what, timeout, last))
        time.sleep(interval)


# -- raw API calls --------------------------------------------------------
def refusal(exc):
    """The API server's message (and HTTP status) in an ApiException."""
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    try:
        status = json.loads(body)
    except (TypeError, ValueError):
        status = None
    message = status.get("message", body) if isinstance(
        status, dict) else body
    return "HTTP %s: %s" % (exc.status, message)


def object_ref(obj):
    meta = obj.get("metadata", {})
    ref = "%s %s" % (obj.get("kind"), meta.get("name"))
    if meta.get("namespace"):
        ref += " (namespace %s)" % meta["namespace"]
    return ref


class Kube(object):
    """Raw JSON calls through a kubernetes ``ApiClient``."""

    def __init__(self, api_client):
        self.api_client = api_client
        self._resources = {}

    def request(self, method, path, body=None, query=None):
        """The decoded JSON answer; ApiException unless it is a 2xx."""
        request = self.api_client.param_serialize(
            method, path, query_params=list(query or ()),
            header_params={"Accept": "application/json",
                           "Content-Type": "application/json"},
            body=body, auth_settings=["BearerToken"])
        response = self.api_client.call_api(*request, _request_timeout=30)
        response.read()
        if not 200 <= response.status <= 299:
            self.api_client.response_deserialize(response, {})  # raises
        return json.loads(response.data) if response.data else None

    def resource(self, api_version, kind, timeout=WAIT_TIMEOUT):
        """(plural, namespaced) of a kind, from the server's discovery.

        Waits (bounded) for a kind whose CRD was just established to be
        served.
        """
        key = (api_version, kind)
        if key not in self._resources:
            base = ("/api/v1" if api_version == "v1"
                    else "/apis/%s" % api_version)

            def find():
                for res in self.request("GET", base)["resources"]:
                    if res["kind"] == kind and "/" not in res["name"]:
                        return res["name"], res["namespaced"]
                return None

            self._resources[key] = wait_for(
                find, timeout, "%s %s served" % (api_version, kind))
        return self._resources[key]

    def path(self, obj, name=True):
        plural, namespaced = self.resource(obj["apiVersion"], obj["kind"])
        api_version = obj["apiVersion"]
        path = ("/api/v1" if api_version == "v1"
                else "/apis/%s" % api_version)
        if namespaced:
            namespace = obj.get("metadata", {}).get("namespace")
            if not namespace:
                raise UpstreamError("%s is namespaced but names no namespace"
                                    % object_ref(obj))
            path += "/namespaces/%s" % namespace
        path += "/" + plural
        if name:
            path += "/" + obj["metadata"]["name"]
        return path

    def namespaced(self, obj):
        return self.resource(obj["apiVersion"], obj["kind"])[1]

    def create(self, obj, strict=True, dry_run=False):
        """POST ``obj``; ``strict``: unknown or duplicate fields refused."""
        query = [("fieldValidation", "Strict" if strict else "Warn")]
        if dry_run:
            query.append(("dryRun", "All"))
        return self.request("POST", self.path(obj, name=False), obj, query)

    def get(self, obj):
        return self.request("GET", self.path(obj))

    def exists(self, obj):
        from kubernetes.client import exceptions

        try:
            self.get(obj)
        except exceptions.ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def delete(self, obj, timeout=WAIT_TIMEOUT):
        """Delete ``obj`` and wait until it is gone.

        The bed runs no controllers: a Namespace is finalized here (the
        objects in it were deleted first by the caller).
        """
        from kubernetes.client import exceptions

        try:
            self.request("DELETE", self.path(obj))
            if obj["kind"] == "Namespace" and obj["apiVersion"] == "v1":
                name = obj["metadata"]["name"]
                self.request(
                    "PUT", "/api/v1/namespaces/%s/finalize" % name,
                    {"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": name},
                     "spec": {"finalizers": []}})
        except exceptions.ApiException as exc:
            if exc.status != 404:
                raise
        wait_for(lambda: not self.exists(obj), timeout,
                 "%s deleted" % object_ref(obj))


def namespace_object(name):
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name}}


# -- the workload cluster -------------------------------------------------
def host_device_network_policy():
    """The webhook rule as a ValidatingAdmissionPolicy and its binding."""
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": HOST_DEVICE_NETWORK_POLICY},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{
                "apiGroups": ["mellanox.com"],
                "apiVersions": ["v1alpha1"],
                "operations": ["CREATE", "UPDATE"],
                "resources": ["hostdevicenetworks"],
            }]},
            "validations": [{
                "expression": (
                    "has(object.spec) && has(object.spec.resourceName) && "
                    "object.spec.resourceName.matches('%s')"
                    % HOST_DEVICE_NETWORK_RESOURCE_NAME),
                "message": (
                    "Invalid Resource name, it must consist of alphanumeric "
                    "characters, '-', '_' or '.', and must start and end "
                    "with an alphanumeric character (network-operator "
                    "v26.1.1 webhook rule, regex '%s')"
                    % HOST_DEVICE_NETWORK_RESOURCE_NAME),
                "reason": "Invalid",
            }],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": HOST_DEVICE_NETWORK_POLICY},
        "spec": {"policyName": HOST_DEVICE_NETWORK_POLICY,
                 "validationActions": ["Deny"]},
    }
    return policy, binding


def host_device_network(name, resource_name):
    """A minimal HostDeviceNetwork (for probing the policy)."""
    return {"apiVersion": "mellanox.com/v1alpha1",
            "kind": "HostDeviceNetwork",
            "metadata": {"name": name},
            "spec": {"networkNamespace": "default",
                     "resourceName": resource_name}}


class WorkloadCluster(object):
    """A bed API server standing in for a workload cluster.

    Only the API server runs: it validates what it is given (schemas,
    strict field validation, admission policies, namespaces), which is what
    these tests ask of it; no operator acts on the objects.
    """

    def __init__(self, workdir, upstream):
        from magnum_capi_rdma_dev.bed import cluster

        self.upstream = pathlib.Path(upstream)
        self.bed = cluster.ManagementCluster(str(workdir))
        self.api_client = None
        self.kube = None
        self.crds = load_crds(self.upstream)
        self.kinds = crd_kinds(self.crds)
        self.ready_in = None

    def start(self):
        from kubernetes import config

        began = time.monotonic()
        # Bounded by /readyz; a loaded machine can take over 30 s.
        self.bed.start(timeout=180)
        self.api_client = config.new_client_from_config(self.bed.kubeconfig)
        self.kube = Kube(self.api_client)
        self._install_crds()
        self._install_policy()
        self.ready_in = time.monotonic() - began
        return self

    def stop(self):
        if self.api_client is not None:
            self.api_client.close()
        self.bed.stop()

    def _install_crds(self):
        for crd in self.crds:
            # As they are: no strict validation of upstream's own files.
            self.kube.create(crd, strict=False)
        for crd in self.crds:
            wait_for(lambda: _established(self.kube.get(crd)), WAIT_TIMEOUT,
                     "CRD %s Established" % crd["metadata"]["name"])
        for crd in self.crds:
            version = next(v["name"] for v in crd["spec"]["versions"]
                           if v.get("served"))
            self.kube.resource("%s/%s" % (crd["spec"]["group"], version),
                               crd["spec"]["names"]["kind"])

    def _install_policy(self):
        from kubernetes.client import exceptions

        for obj in host_device_network_policy():
            self.kube.create(obj)
        bad = host_device_network("policy-probe", "nvidia.com/probe")

        def refused():
            try:
                self.kube.create(bad, dry_run=True)
            except exceptions.ApiException as exc:
                return HOST_DEVICE_NETWORK_POLICY in refusal(exc)
            return False

        wait_for(refused, WAIT_TIMEOUT,
                 "ValidatingAdmissionPolicy %s in force"
                 % HOST_DEVICE_NETWORK_POLICY, interval=0.2)


def _established(crd):
    return any(c["type"] == "Established" and c["status"] == "True"
               for c in (crd.get("status") or {}).get("conditions") or ())


# -- what the driver delivers ---------------------------------------------
def helm_install_order(objects):
    """``objects`` stably sorted by kind the way Helm installs them."""
    rank = {kind: index for index, kind in enumerate(HELM_INSTALL_ORDER)}
    unknown = len(HELM_INSTALL_ORDER)
    return sorted(objects, key=lambda o: (
        rank.get(o.get("kind"), unknown),
        "" if o.get("kind") in rank else o.get("kind", "")))


def delivered_manifests(values):
    """{add-on name: (release namespace, [objects])} of Manifests add-ons.

    Each value of ``spec.manifests`` is YAML text; the chart writes them
    into the add-on's Secret by key (Go templates range over map keys in
    sorted order) and the add-on provider installs the documents as a
    Helm release in ``spec.namespace``, so they come back here in Helm's
    install order. Namespaced objects without a namespace get the release
    namespace, as Helm gives them.
    """
    found = {}
    custom = values.get("addons", {}).get("custom") or {}
    for name, addon in sorted(custom.items()):
        if addon.get("kind") != "Manifests":
            continue
        namespace = addon["spec"]["namespace"]
        objects = []
        for key in sorted(addon["spec"].get("manifests") or {}):
            text = addon["spec"]["manifests"][key]
            objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
        found[name] = (namespace, helm_install_order(objects))
    return found


def with_namespace(kube, obj, namespace):
    """A copy of ``obj`` in ``namespace`` if namespaced and it names none."""
    obj = json.loads(json.dumps(obj))
    if kube.namespaced(obj):
        obj.setdefault("metadata", {}).setdefault("namespace", namespace)
    return obj


# -- charts ----------------------------------------------------------------
def helm_template(helm, release, chart_dir, namespace, values,
                  kube_version=DEFAULT_KUBE_VERSION, workdir=None):
    """Documents ``helm template`` renders (the chart dir read as it is)."""
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    values_file = workdir / ("%s-values.yaml" % release)
    values_file.write_text(yaml.safe_dump(values))
    argv = [str(helm), "template", release, str(chart_dir),
            "--namespace", namespace, "--kube-version", kube_version,
            "-f", str(values_file)]
    env = dict(os.environ, HELM_CACHE_HOME=str(workdir / "helm-cache"),
               HELM_CONFIG_HOME=str(workdir / "helm-config"),
               HELM_DATA_HOME=str(workdir / "helm-data"))
    result = subprocess.run(argv, capture_output=True, text=True,
                            timeout=240, env=env)
    if result.returncode != 0:
        raise UpstreamError("helm template %s %s failed (exit %d):\n%s"
                            % (release, chart_dir, result.returncode,
                               result.stderr[-4000:]))
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def of_kind(docs, kind):
    return [doc for doc in docs if doc.get("kind") == kind]


def merge_values(*layers):
    """Layers of Helm values merged the way the add-on provider does.

    The same rule as ``mergeconcat`` in cluster-api-addon-provider
    (capi_addons/utils.py): maps merge key by key, lists concatenate,
    anything else is replaced unless the later value is null.
    """
    def merge(base, override):
        if isinstance(base, dict) and isinstance(override, dict):
            merged = dict(base)
            for key, value in override.items():
                merged[key] = merge(base[key], value) if key in base else (
                    value)
            return merged
        if isinstance(base, (list, tuple)) and isinstance(
                override, (list, tuple)):
            return list(base) + list(override)
        return base if override is None else override

    result = {}
    for layer in layers:
        result = merge(result, layer or {})
    return result


def addon_release_values(chart_docs, release_name):
    """(chart, target namespace, values) of one add-on HelmRelease.

    ``chart_docs`` is the openstack-cluster chart rendered with the
    driver's values. The values are composed as the add-on provider does:
    each values source (a Secret key) rendered as a Jinja2 template, read
    as YAML and merged in order.
    """
    releases = [doc for doc in of_kind(chart_docs, "HelmRelease")
                if doc["spec"].get("releaseName") == release_name]
    if len(releases) != 1:
        raise UpstreamError("expected one HelmRelease %r, found %d"
                            % (release_name, len(releases)))
    spec = releases[0]["spec"]
    secrets = {doc["metadata"]["name"]: doc
               for doc in of_kind(chart_docs, "Secret")}
    env = jinja2.Environment()
    layers = []
    for source in spec.get("valuesSources", []):
        ref = source["secret"]
        text = secrets[ref["name"]]["stringData"][
            ref.get("key", "values.yaml")]
        layers.append(yaml.safe_load(env.from_string(text).render()))
    return spec["chart"], spec["targetNamespace"], merge_values(*layers)


def chart_defaults(chart_dir):
    """A chart's values.yaml with its subcharts' under their names.

    A subchart reads its section of the parent's values over its own
    values.yaml; the result has both, the parent's on top.
    """
    chart_dir = pathlib.Path(chart_dir)
    with open(chart_dir / "values.yaml") as handle:
        values = yaml.safe_load(handle) or {}
    with open(chart_dir / "Chart.yaml") as handle:
        meta = yaml.safe_load(handle)
    for dep in meta.get("dependencies") or []:
        sub_dir = chart_dir / "charts" / dep["name"]
        if not (sub_dir / "values.yaml").is_file():
            continue
        key = dep.get("alias") or dep["name"]
        sub = chart_defaults(sub_dir)
        values[key] = _overlay(sub, values.get(key) or {})
    return values


def _overlay(base, override):
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _overlay(base.get(key), value)
        return merged
    return override


def key_paths(values, prefix=()):
    """Every leaf key path of a values dict (a list is a leaf)."""
    for key, value in values.items():
        path = prefix + (key,)
        if isinstance(value, dict) and value:
            yield from key_paths(value, path)
        else:
            yield path


def missing_key_paths(values, defaults):
    """The key paths of ``values`` that ``defaults`` does not have.

    Below a map the chart leaves empty (``{}`` or null: free-form, like
    ``nodeSelector: {}``) any key is accepted.
    """
    missing = []
    for path in key_paths(values):
        node = defaults
        for depth, key in enumerate(path):
            if not isinstance(node, dict) or key not in node:
                missing.append(".".join(str(k) for k in path[:depth + 1]))
                break
            node = node[key]
            if node in ({}, None) and depth + 1 < len(path):
                break  # free-form below this key
    return missing


# -- descriptions and renders ---------------------------------------------
KUBE_TAG = "v1.33.1"
RDMA_MODES = ("macvlan", "sriov", "ipoib", "ib-sriov")
# Where the workloads' network attachments go: a namespace of the users',
# not one the driver or the add-ons create.
ATTACHMENT_NAMESPACE = "rdma-jobs"
RDMA_LABELS = {
    "rdma_network": "fabric",
    "rdma_ip_range": "10.50.0.0/16",
    "rdma_ofed_version": "doca3.2.0-25.10-1.2.8.0-2",
    "rdma_attachment_namespace": ATTACHMENT_NAMESPACE,
}
MODE_LABELS = {
    "macvlan": {"rdma_interface": "ens6", "rdma_mtu": "9000"},
    "sriov": {"rdma_interface": "enp1s0f0", "rdma_vnic_type": "baremetal"},
    "ipoib": {"rdma_interface": "ib0"},
    "ib-sriov": {"rdma_interface": "ibp1s0", "rdma_pkey": "0x0a12",
                 "rdma_ufm_secret": "ufm-creds",
                 "rdma_vnic_type": "baremetal"},
}
BARE_METAL_MODES = ("sriov", "ib-sriov")
# Site settings ([capi_rdma]): the node images carry the ib-sriov CNI, which
# the driver requires for rdma_mode ib-sriov.
SITE_OPTIONS = {"ib_sriov_cni_in_image": True}
CHART_RELEASE = "upstream"
CHART_NAMESPACE = "magnum-upstream"
GPU_OPERATOR_RELEASE = "nvidia-gpu-operator"
NETWORK_OPERATOR_RELEASE = "mellanox-network-operator"


def description(rdma_mode=None, gpu=False, **labels):
    """A cluster description (the driver's input), RDMA and/or GPU."""
    template_labels = {"kube_tag": KUBE_TAG}
    desc = {
        "cluster_template": {
            "image_id": "ubuntu-2404-kube-v1.33.1",
            "keypair_id": "ops-key",
            "external_network_id": "9d3b5b6e-3f7c-4c1e-8b1a-5e2f0c6d7a11",
            "master_flavor_id": "m1.medium",
            "flavor_id": "m1.large",
            "labels": template_labels,
        },
        "cluster": {"name": "upstream", "master_count": 1, "node_count": 2},
        "node_groups": [],
    }
    if rdma_mode:
        template_labels.update(RDMA_LABELS)
        template_labels.update(MODE_LABELS[rdma_mode])
        template_labels["rdma_mode"] = rdma_mode
        if rdma_mode in BARE_METAL_MODES:
            desc["cluster_template"]["server_type"] = "bm"
    if gpu:
        template_labels["gpu_operator_enabled"] = "true"
    template_labels.update(labels)
    return desc


def example(name):
    """One of ``examples/*.yaml``."""
    with open(REPO / "examples" / ("%s.yaml" % name)) as handle:
        return yaml.safe_load(handle)


def kube_version(desc):
    """The workload cluster's version, as ``helm template`` wants it."""
    labels = dict(desc["cluster_template"].get("labels") or {})
    labels.update(desc["cluster"].get("labels") or {})
    tag = labels.get("kube_tag") or DEFAULT_KUBE_VERSION
    return tag if tag.startswith("v") else "v" + tag


def driver_values(desc):
    """The chart values the driver builds for a description.

    The site is one where every RDMA mode is possible (``SITE_OPTIONS``).
    """
    from magnum_capi_rdma import spec
    from magnum_capi_rdma import values

    cluster_spec = spec.build_spec(desc, site_options=dict(SITE_OPTIONS))
    return values.build_values(cluster_spec, "x-cloud-credentials")


def render_cluster_chart(helm, upstream, values, workdir, version):
    """The openstack-cluster chart rendered with the driver's values."""
    return helm_template(
        helm, CHART_RELEASE,
        pathlib.Path(upstream) / "charts" / "openstack-cluster",
        CHART_NAMESPACE, values, version, workdir)


def render_addon(helm, upstream, chart_docs, release_name, workdir,
                 version):
    """(target namespace, values, docs) of an add-on chart rendered.

    The chart is the pinned upstream copy of the one the HelmRelease
    names; the values are those the add-on provider composes.
    """
    chart, namespace, values = addon_release_values(chart_docs,
                                                    release_name)
    chart_dir = pathlib.Path(upstream) / "charts" / chart["name"]
    if not (chart_dir / "Chart.yaml").is_file():
        raise UpstreamError("no upstream copy of chart %s at %s"
                            % (chart["name"], chart_dir))
    docs = helm_template(helm, release_name, chart_dir, namespace, values,
                         version, workdir)
    return namespace, values, docs


def rendered_cluster_policy(helm, upstream, desc, workdir):
    """The gpu-operator's ClusterPolicy for a description, rendered."""
    version = kube_version(desc)
    chart_docs = render_cluster_chart(helm, upstream, driver_values(desc),
                                      workdir, version)
    _, _, docs = render_addon(helm, upstream, chart_docs,
                              GPU_OPERATOR_RELEASE, workdir, version)
    policies = of_kind(docs, "ClusterPolicy")
    if len(policies) != 1:
        raise UpstreamError("gpu-operator rendered %d ClusterPolicy objects"
                            % len(policies))
    return policies[0]
