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
"""The end-to-end tests' view of a cluster: CLI, Keystone, management.

``openstack coe`` calls as a project's member (``show``, ``wait_for``,
``create_template``...), the cluster's application credentials as listed
by the admin, and reads of the management cluster (:class:`Management`).
Shared by the end-to-end test modules (no test module imports another).
"""

import base64
import time
import uuid

import yaml

from tests.support.openstack import parse_json

KUBE_TAG = "v1.31.4"
NEXT_KUBE_TAG = "v1.32.2"
RDMA_LABELS = {
    "rdma_mode": "macvlan",
    "rdma_network": "rdma-net",
    "rdma_interface": "ens4",
    "rdma_ip_range": "192.168.100.0/24",
    "gpu_operator_enabled": "true",
    "monitoring_enabled": "true",
}
UUID_LABEL = "magnum.openstack.org/cluster-uuid"
RELEASE_LABEL = "capi.stackhpc.com/cluster"
NODE_GROUP_LABEL = "capi.stackhpc.com/node-group"
CAPI = ("cluster.x-k8s.io", "v1beta1")
ADDONS = ("addons.stackhpc.com", "v1alpha1")
STEP_TIMEOUT = 240


def labels_arg(labels):
    return ",".join("%s=%s" % item for item in sorted(labels.items()))


def suffix():
    return uuid.uuid4().hex[:6]


class Management(object):
    """Reads of the management cluster, through its kubeconfig."""

    def __init__(self, kubeconfig):
        from kubernetes import client
        from kubernetes import config

        self.api_client = config.new_client_from_config(
            config_file=kubeconfig)
        self.core = client.CoreV1Api(self.api_client)
        self.custom = client.CustomObjectsApi(self.api_client)

    def secrets_of(self, cluster_uuid):
        """The driver's Secrets of a cluster, in any namespace."""
        return self.core.list_secret_for_all_namespaces(
            label_selector="%s=%s" % (UUID_LABEL, cluster_uuid)).items

    def release_of(self, cluster_uuid):
        """(namespace, release) of a cluster, from its credentials."""
        for secret in self.secrets_of(cluster_uuid):
            name = secret.metadata.name
            if name.endswith("-cloud-credentials"):
                return (secret.metadata.namespace,
                        name[:-len("-cloud-credentials")])
        raise AssertionError("no cloud-credentials Secret of cluster %s"
                             % cluster_uuid)

    def app_cred_id(self, cluster_uuid):
        """The application credential the cluster's clouds.yaml uses."""
        for secret in self.secrets_of(cluster_uuid):
            if secret.metadata.name.endswith("-cloud-credentials"):
                clouds = yaml.safe_load(base64.b64decode(
                    secret.data["clouds.yaml"]))
                (cloud,) = clouds["clouds"].values()
                return cloud["auth"]["application_credential_id"]
        raise AssertionError("no cloud-credentials Secret of cluster %s"
                             % cluster_uuid)

    def machine_deployments(self, namespace, release):
        """{node group: MachineDeployment} of a release."""
        items = self.custom.list_namespaced_custom_object(
            *CAPI, namespace, "machinedeployments",
            label_selector="%s=%s" % (RELEASE_LABEL, release))["items"]
        return {md["metadata"]["labels"][NODE_GROUP_LABEL]: md
                for md in items}

    def addons(self, namespace, release):
        """{component: phase} of the release's add-ons."""
        found = {}
        for plural in ("helmreleases", "manifests"):
            for obj in self.custom.list_namespaced_custom_object(
                    *ADDONS, namespace, plural,
                    label_selector="%s=%s" % (RELEASE_LABEL,
                                              release))["items"]:
                component = obj["metadata"]["labels"][
                    "capi.stackhpc.com/component"]
                found[component] = (obj.get("status") or {}).get("phase")
        return found

    def helm_releases(self, namespace, release):
        """Helm's release Secrets of a release."""
        return [s.metadata.name for s in self.core.list_namespaced_secret(
            namespace, label_selector="owner=helm,name=%s" % release).items]

    def ca_pem(self, namespace, release):
        """The cluster CA certificate Cluster API uses (``<release>-ca``)."""
        secret = self.core.read_namespaced_secret("%s-ca" % release,
                                                  namespace)
        return base64.b64decode(secret.data["tls.crt"]).decode().strip()

    def namespace_names(self):
        return {ns.metadata.name for ns in self.core.list_namespace().items}

    def close(self):
        self.api_client.close()


def app_creds_of(stack, user_id, cluster_uuid):
    """IDs of the cluster's application credentials (listed as admin)."""
    creds = stack.cli("application", "credential", "list", "--user",
                      user_id)
    return {c["ID"] for c in creds
            if c["Name"].startswith("magnum-capi-rdma-%s" % cluster_uuid)}


def show(stack, cluster, project):
    """``coe cluster show`` as JSON; None once the cluster is gone."""
    result = stack.run("coe", "cluster", "show", cluster, "-f", "json",
                       project=project, check=False)
    if result.returncode != 0:
        if "could not be found" in result.stderr:
            return None
        raise AssertionError("cluster show failed: %s" % result.stderr)
    return parse_json(result.stdout)


def wait_for(stack, cluster, wanted, project="demo",
             timeout=STEP_TIMEOUT):
    """Poll until the cluster's status is WANTED (None: gone).

    Fails at once on a *_FAILED status that was not wanted; while
    waiting for a delete only DELETE_FAILED counts (right after the
    delete call, a failed create still shows CREATE_FAILED).
    """
    failed = ("DELETE_FAILED",) if wanted is None else ("_FAILED",)
    deadline = time.monotonic() + timeout
    shown = None
    while time.monotonic() < deadline:
        shown = show(stack, cluster, project)
        status = shown and shown["status"]
        if status == wanted:
            return shown
        if status and status.endswith(failed):
            raise AssertionError("cluster %s is %s: %s" % (
                cluster, status, shown.get("status_reason")))
        time.sleep(3)
    raise AssertionError("cluster %s not %s after %d s; last: %s" % (
        cluster, wanted, timeout,
        shown and (shown["status"], shown.get("status_reason"))))


def create_template(stack, name, kube_tag, project="demo", labels=None):
    all_labels = dict(RDMA_LABELS, kube_tag=kube_tag, **(labels or {}))
    return stack.cli(
        "coe", "cluster", "template", "create", name,
        "--coe", "kubernetes", "--image", stack.image,
        "--external-network", "public", "--flavor", "m1.small",
        "--master-flavor", "m1.small", "--keypair", "demo",
        "--network-driver", "calico", "--master-lb-enabled",
        "--labels", labels_arg(all_labels), project=project)


def create_cluster(stack, name, template, project="demo", node_count=1,
                   extra=()):
    stack.run("coe", "cluster", "create", name, "--cluster-template",
              template, "--master-count", "1", "--node-count",
              str(node_count), *extra, project=project)


def delete_quietly(stack, cluster, project):
    """Delete a cluster if it is there and wait until it is gone."""
    if show(stack, cluster, project) is None:
        return
    stack.run("coe", "cluster", "delete", cluster, project=project,
              check=False)
    try:
        wait_for(stack, cluster, None, project=project)
    except AssertionError:
        pass
