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
"""Cluster API's own controllers on the bed's management cluster.

Development and tests only. Real processes, built by
``tools/install-test-tools`` from ``sigs.k8s.io/cluster-api`` (and its
``test`` module) at one pinned version, cached outside the clone:

- ``capi-manager``: the core controllers (Cluster, MachineDeployment,
  MachineSet, Machine, MachineHealthCheck...) and their webhooks;
- ``capi-kubeadm-bootstrap-manager`` and
  ``capi-kubeadm-control-plane-manager``: KubeadmConfig and
  KubeadmControlPlane;
- ``capi-dev-manager``: Cluster API's docker provider, used only through
  its in-memory backend (DevCluster / DevMachine): a fake workload API
  server and etcd per cluster on loopback, no Docker;
- ``kube-controller-manager`` (garbage collector and namespace controller),
  as on every real management cluster.

As a release installs them: the CRDs and webhook configurations are those
``kustomize build`` renders from the same module source
(``capi-manifests/``), with every ``service`` client config replaced by a
loopback URL and the bed's CA (as controller-runtime's envtest does);
CAPO's CRDs (not run here: the simulator plays CAPO by mirroring onto the
in-memory provider, see ``simulator/capo.py``) get the contract label
CAPO's release adds. Each manager serves its webhooks over TLS on its own
loopback port with a certificate signed by the bed's CA.
"""

import copy
import http.client
import os
import time

import yaml

from magnum_capi_rdma_dev.bed import tools

#: (process name, provider whose manifests it serves)
MANAGERS = (
    ("capi-manager", "core"),
    ("capi-kubeadm-bootstrap-manager", "bootstrap"),
    ("capi-kubeadm-control-plane-manager", "controlplane"),
    ("capi-dev-manager", "dev"),
)
#: The contract label CAPO's release puts on its CRDs.
CONTRACT_LABELS = {"cluster.x-k8s.io/v1beta1": "v1beta1"}
KCM_CONTROLLERS = "garbage-collector-controller,namespace-controller"


def manifests_dir():
    """The rendered CRDs and webhook manifests of the pinned version."""
    path = os.path.join(tools.bin_dir(), "capi-manifests")
    if not os.path.isfile(os.path.join(path, "VERSION")):
        raise tools.ToolMissing(
            "Cluster API manifests not found at %s: run "
            "tools/install-test-tools first" % path)
    return os.path.realpath(path)


def version():
    with open(os.path.join(manifests_dir(), "VERSION")) as handle:
        return handle.read().strip()


def _load(path):
    with open(path) as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def _loopback(client_config, port, ca_b64):
    """A ``service`` client config turned into a loopback URL."""
    service = client_config.get("service") or {}
    path = service.get("path") or ""
    return {"url": "https://127.0.0.1:%d%s" % (port, path),
            "caBundle": ca_b64}


def provider_crds(provider, port, ca_b64):
    """The provider's CRDs, conversion pointed at ``127.0.0.1:port``."""
    crds = _load(os.path.join(manifests_dir(), "%s-crds.yaml" % provider))
    out = []
    for crd in crds:
        if crd.get("kind") != "CustomResourceDefinition":
            continue
        crd = copy.deepcopy(crd)
        webhook = ((crd.get("spec") or {}).get("conversion") or {}).get(
            "webhook")
        if webhook and "clientConfig" in webhook:
            webhook["clientConfig"] = _loopback(
                webhook["clientConfig"], port, ca_b64)
        annotations = crd.setdefault("metadata", {}).get("annotations") or {}
        annotations.pop("cert-manager.io/inject-ca-from", None)
        crd["metadata"]["annotations"] = annotations
        out.append(crd)
    return out


def provider_webhooks(provider, port, ca_b64):
    """The provider's webhook configurations, named per provider."""
    docs = _load(os.path.join(manifests_dir(), "%s-webhooks.yaml"
                              % provider))
    out = []
    for doc in docs:
        if not doc.get("kind", "").endswith("WebhookConfiguration"):
            continue
        doc = copy.deepcopy(doc)
        doc["metadata"] = {"name": "%s-%s" % (provider,
                                              doc["metadata"]["name"])}
        for hook in doc.get("webhooks") or ():
            hook["clientConfig"] = _loopback(hook["clientConfig"], port,
                                             ca_b64)
        out.append(doc)
    return out


def with_contract_label(crd):
    """A CAPO CRD as CAPO's release installs it (contract label)."""
    crd = copy.deepcopy(crd)
    labels = crd.setdefault("metadata", {}).setdefault("labels", {}) or {}
    labels.update(CONTRACT_LABELS)
    crd["metadata"]["labels"] = labels
    return crd


def capo_crds(upstream):
    """CAPO's own CRDs from the pinned artefacts, with the label."""
    from magnum_capi_rdma_dev.simulator import crds as crds_mod

    folder = os.path.join(str(upstream), "crds",
                          "cluster-api-provider-openstack")
    # No CAPO manager serves conversion here: the version the chart
    # writes is stored (see crds.served_as_written).
    return [crds_mod.served_as_written(with_contract_label(crd), "v1beta1")
            for crd in crds_mod.load_crds(folder)]


def all_crds(upstream, ports, ca_b64):
    """Every CRD of a management cluster with Cluster API's managers.

    :param ports: ``{provider: webhook port}`` for :data:`MANAGERS`.
    """
    from magnum_capi_rdma_dev.simulator import crds as crds_mod

    manifests = []
    for _name, provider in MANAGERS:
        manifests += provider_crds(provider, ports[provider], ca_b64)
    manifests += capo_crds(upstream)
    defined = {(m["spec"]["group"], m["spec"]["names"]["kind"])
               for m in manifests}
    versions = crds_mod.configured_api_versions()
    for kind in crds_mod.KINDS:  # the add-on provider's (generated)
        api_version = versions[kind.api_option]
        if (api_version.split("/")[0], kind.kind) not in defined:
            manifests.append(crds_mod.crd_manifest(kind, api_version))
    return manifests


def apply_webhook_configuration(api_client, doc):
    """Create or replace one (Mutating|Validating)WebhookConfiguration."""
    from kubernetes import client
    from kubernetes.client import exceptions

    api = client.AdmissionregistrationV1Api(api_client)
    mutating = doc["kind"] == "MutatingWebhookConfiguration"
    create = (api.create_mutating_webhook_configuration if mutating
              else api.create_validating_webhook_configuration)
    replace = (api.replace_mutating_webhook_configuration if mutating
               else api.replace_validating_webhook_configuration)
    read = (api.read_mutating_webhook_configuration if mutating
            else api.read_validating_webhook_configuration)
    try:
        create(doc)
    except exceptions.ApiException as exc:
        if exc.status != 409:
            raise
        current = read(doc["metadata"]["name"])
        doc = dict(doc, metadata=dict(
            doc["metadata"],
            resourceVersion=current.metadata.resource_version))
        replace(doc["metadata"]["name"], doc)


def health_ok(port):
    """True if a manager's health endpoint says it is ready."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/readyz")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def wait_until(predicate, timeout, what, check=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check:
            check()
        if predicate():
            return
        time.sleep(0.2)
    raise TimeoutError("%s not reached after %ss" % (what, timeout))


class ClusterAPI(object):
    """Cluster API's managers and kube-controller-manager on a bed.

    ``ClusterAPI(bed).start()`` after ``bed.start()``: makes the webhook
    certificate, installs the CRDs and webhook configurations, starts the
    processes through the bed (so ``bed.stop()`` stops them too, by PID)
    and waits until every manager is ready.
    """

    def __init__(self, bed, upstream):
        self.bed = bed
        self.upstream = upstream
        self.cert_dir = os.path.join(bed.workdir, "capi-webhook-certs")
        self.ports = {}

    def start(self, timeout=180):
        from kubernetes import config

        from magnum_capi_rdma_dev.bed import cluster
        from magnum_capi_rdma_dev.simulator import crds as crds_mod

        ca_b64 = cluster.write_serving_cert(self.bed.pki, self.cert_dir)
        for _name, provider in MANAGERS:
            self.ports[provider] = (cluster.free_port(),
                                    cluster.free_port(),
                                    cluster.free_port())
        webhook = {p: ports[0] for p, ports in self.ports.items()}
        api_client = config.new_client_from_config(self.bed.kubeconfig)
        try:
            crds_mod.install_crds(
                api_client, timeout=timeout,
                manifests=all_crds(self.upstream, webhook, ca_b64))
            for _name, provider in MANAGERS:
                for doc in provider_webhooks(provider, webhook[provider],
                                             ca_b64):
                    apply_webhook_configuration(api_client, doc)
        finally:
            api_client.close()
        self.bed.spawn("kube-controller-manager", [
            tools.tool_path("kube-controller-manager"),
            "--kubeconfig", self.bed.kubeconfig,
            "--controllers", KCM_CONTROLLERS,
            "--leader-elect=false",
            "--secure-port=0",
        ])
        for name, provider in MANAGERS:
            port, health, diagnostics = self.ports[provider]
            env = {"POD_IP": "127.0.0.1"} if provider == "dev" else None
            self.bed.spawn(name, [
                tools.tool_path(name),
                "--kubeconfig", self.bed.kubeconfig,
                "--webhook-port", str(port),
                "--webhook-cert-dir", self.cert_dir,
                "--health-addr", "127.0.0.1:%d" % health,
                "--diagnostics-address", "127.0.0.1:%d" % diagnostics,
                "--insecure-diagnostics",
            ], env=env)
        for name, provider in MANAGERS:
            wait_until(lambda: health_ok(self.ports[provider][1]), timeout,
                       "%s ready" % name, check=self.bed.check_running)
        return self
