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
"""Where a Magnum cluster's add-ons and node groups landed.

Run with the stack venv's Python (it has the kubernetes client and PyYAML)
and KUBECONFIG set to the management cluster:

    placement.py CLUSTER_UUID

Finds the cluster's release through the labels the driver puts on its
Secrets, then prints each add-on (kind, phase, target namespace), the
RDMA objects the rdma-network manifest carries with the node groups they
select, and each node group's replicas.
"""

import base64
import sys

from kubernetes import client
from kubernetes import config
import yaml

UUID_LABEL = "magnum.openstack.org/cluster-uuid"
RELEASE_LABEL = "capi.stackhpc.com/cluster"
ADDONS = ("addons.stackhpc.com", "v1alpha1")
CAPI = ("cluster.x-k8s.io", "v1beta1")


def find_release(core, uuid):
    """(namespace, release) of the cluster, from its credentials Secret."""
    for secret in core.list_secret_for_all_namespaces(
            label_selector="%s=%s" % (UUID_LABEL, uuid)).items:
        name = secret.metadata.name
        if name.endswith("-cloud-credentials"):
            return (secret.metadata.namespace,
                    name[:-len("-cloud-credentials")])
    raise SystemExit("no Secret of cluster %s on the management cluster"
                     % uuid)


def selected_groups(document):
    """Node groups a document's node selector or affinity names."""
    spec = document.get("spec") or {}
    terms = (spec.get("nodeSelector") or {}).get("nodeSelectorTerms") or (
        ((spec.get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution") or {}).get(
                "nodeSelectorTerms") or [])
    groups = []
    for term in terms:
        for expr in term.get("matchExpressions") or ():
            if expr.get("key") == "capi.stackhpc.com/node-group":
                groups.extend(expr.get("values") or ())
    return groups


def manifest_documents(core, namespace, manifest):
    """The Kubernetes objects a Manifests add-on applies."""
    docs = []
    for source in manifest["spec"].get("manifestSources") or ():
        name = (source.get("secret") or {}).get("name")
        if not name:
            continue
        secret = core.read_namespaced_secret(name, namespace)
        for key in sorted(secret.data or {}):
            text = base64.b64decode(secret.data[key]).decode()
            text = text.replace("{%- raw %}", "").replace(
                "{%- endraw %}", "")
            docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


def main(uuid):
    config.load_kube_config()
    core = client.CoreV1Api()
    custom = client.CustomObjectsApi()
    namespace, release = find_release(core, uuid)
    print("  release %s in namespace %s" % (release, namespace))
    selector = "%s=%s" % (RELEASE_LABEL, release)
    for plural in ("helmreleases", "manifests"):
        for obj in custom.list_namespaced_custom_object(
                *ADDONS, namespace, plural,
                label_selector=selector)["items"]:
            name = obj["metadata"]["name"][len(release) + 1:]
            print("  add-on %-28s %-12s %-9s -> namespace %s" % (
                name, obj["kind"], (obj.get("status") or {}).get("phase"),
                obj["spec"].get("targetNamespace")))
            if plural != "manifests":
                continue
            for doc in manifest_documents(core, namespace, obj):
                groups = selected_groups(doc)
                print("      %-16s %-20s %s" % (
                    doc.get("kind"), doc["metadata"].get("name"),
                    "on node groups " + ",".join(groups) if groups
                    else ""))
    for md in custom.list_namespaced_custom_object(
            *CAPI, namespace, "machinedeployments",
            label_selector=selector)["items"]:
        status = md.get("status") or {}
        print("  node group %-24s replicas %s, ready %s" % (
            md["metadata"]["labels"].get("capi.stackhpc.com/node-group"),
            md["spec"].get("replicas"), status.get("readyReplicas", 0)))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: placement.py CLUSTER_UUID")
    sys.exit(main(sys.argv[1]))
