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
"""Least privilege: the shipped RBAC (etc/rbac) and the app credentials.

The RBAC file is applied on the real apiserver (RBAC authorizer on, the
ValidatingAdmissionPolicy admission plugin on by default); a service
account bound only to it gets a token through the TokenRequest API, and
every lifecycle test of test_driver_lifecycle (tests/support/lifecycle.py)
runs again with the driver using that token (the driver binds the
namespaced role in each project namespace itself). Negative checks prove
the service account reaches nothing beyond what the driver needs: no
Secret outside project namespaces, no write outside namespaces named
magnum-*. On a real Keystone, the application credential the driver makes
carries exactly the owner's roles on the cluster's project, none of the
owner's roles elsewhere (restriction against making credentials and trusts
is in test_keystone_real).
"""

import uuid

import kubernetes
from kubernetes import client
from kubernetes import config as kube_config
import pytest

from magnum_capi_rdma.adapters import keystone as ks
from magnum_capi_rdma.adapters import kube as kube_adapter
from magnum_capi_rdma.services import converge
from magnum_capi_rdma_dev.bed import rbac as bed_rbac
from tests.functional.keystone_fixture import member  # noqa: F401
from tests.functional.keystone_fixture import real_keystone  # noqa: F401
from tests.support import lifecycle

RBAC_FILE = bed_rbac.RBAC_FILE
SA_NAMESPACE = bed_rbac.SA_NAMESPACE
SA_NAME = bed_rbac.SA_NAME
rbac_documents = bed_rbac.documents


@pytest.fixture(scope="module")
def driver_kubeconfig(management_cluster, kube_api_client,
                      tmp_path_factory):
    """A kubeconfig for the service account bound only to the RBAC."""
    path = str(tmp_path_factory.mktemp("least-privilege") / "kubeconfig")
    return bed_rbac.driver_kubeconfig(management_cluster, kube_api_client,
                                      path, expiration=3600)


@pytest.fixture(scope="module")
def sa_client(driver_kubeconfig):
    api_client = kube_config.new_client_from_config(driver_kubeconfig)
    yield api_client
    api_client.close()


def _role(name):
    return [d for d in rbac_documents()
            if d["kind"] == "ClusterRole" and d["metadata"]["name"] == name][0]


def test_rbac_file_shape():
    kinds = [(d["kind"], d["metadata"]["name"]) for d in rbac_documents()]
    assert ("ClusterRole", "magnum-capi-rdma") in kinds
    assert ("ClusterRoleBinding", "magnum-capi-rdma") in kinds
    assert ("ClusterRole", "magnum-capi-rdma-namespaced") in kinds
    assert ("ValidatingAdmissionPolicy",
            "magnum-capi-rdma-namespaces") in kinds
    assert ("ValidatingAdmissionPolicyBinding",
            "magnum-capi-rdma-namespaces") in kinds
    # Nobody binds the namespaced role cluster-wide.
    for doc in rbac_documents():
        if doc["kind"] == "ClusterRoleBinding":
            assert doc["roleRef"]["name"] != "magnum-capi-rdma-namespaced"
    for name in ("magnum-capi-rdma", "magnum-capi-rdma-namespaced"):
        for rule in _role(name)["rules"]:
            # No wildcards, no escalation, no impersonation.
            assert "*" not in rule["verbs"] and "*" not in rule["resources"]
            assert not {"escalate", "impersonate"} & set(rule["verbs"])
    cluster_wide = _role("magnum-capi-rdma")["rules"]
    for rule in cluster_wide:
        if "bind" in rule["verbs"]:
            assert rule["resources"] == ["clusterroles"]
            assert rule["resourceNames"] == ["magnum-capi-rdma-namespaced"]
        # Cluster-wide, Secrets are neither read nor written.
        assert "secrets" not in rule["resources"]
        writes = set(rule["verbs"]) - {"get", "list", "watch", "bind"}
        if writes:
            assert rule["resources"] in (["namespaces"], ["rolebindings"])


def _forbidden(call, *args, **kwargs):
    with pytest.raises(kubernetes.client.ApiException) as info:
        call(*args, **kwargs)
    if info.value.status == 422:
        # Refused by the admission policy, not RBAC: say so.
        assert "ValidatingAdmissionPolicy 'magnum-capi-rdma-namespaces'" \
            in info.value.body and "magnum-capi-rdma may only" in \
            info.value.body, info.value.body
    return info.value.status


#: 403: RBAC refuses. 422: RBAC allows the verb, the admission policy
#: refuses the namespace.
POLICY = (422,)


BIND_NAMESPACED = {
    "metadata": {"name": "magnum-capi-rdma-namespaced"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole", "name": "magnum-capi-rdma-namespaced"},
    "subjects": [{"kind": "ServiceAccount", "name": SA_NAME,
                  "namespace": SA_NAMESPACE}]}


@pytest.mark.parametrize("what", [
    "create-clusterrole", "create-clusterrolebinding", "create-crd",
    "list-nodes", "create-pod", "impersonate", "token-for-other-sa",
    "read-configmaps-kube-system", "read-secret-kube-system",
    "list-secrets-all-namespaces", "list-secrets-default",
    "create-namespace-without-prefix", "delete-other-namespace",
    "bind-namespaced-role-in-kube-system", "bind-cluster-admin",
    "create-lease-kube-system", "namespace-without-pod-security",
    "namespace-allowing-privileged-pods", "delete-own-namespace",
    "secret-in-own-namespace"])
def test_service_account_cannot(what, sa_client, kube_api_client):
    rbac = client.RbacAuthorizationV1Api(sa_client)
    core = client.CoreV1Api(sa_client)
    expected = (403,)
    if what == "read-secret-kube-system":
        status = _forbidden(core.read_namespaced_secret, "any", "kube-system")
    elif what == "list-secrets-all-namespaces":
        status = _forbidden(core.list_secret_for_all_namespaces)
    elif what == "list-secrets-default":
        status = _forbidden(core.list_namespaced_secret, "default")
    elif what == "create-namespace-without-prefix":
        # RBAC allows namespaces; the admission policy confines the name.
        expected = POLICY
        status = _forbidden(core.create_namespace,
                            {"metadata": {"name": "not-magnum"}})
    elif what == "delete-other-namespace":
        # (Not "default": Kubernetes itself refuses to delete that one.)
        expected = POLICY
        victim = "victim-" + uuid.uuid4().hex[:8]
        admin = client.CoreV1Api(kube_api_client)
        admin.create_namespace({"metadata": {"name": victim}})
        try:
            status = _forbidden(core.delete_namespace, victim)
            assert admin.read_namespace(victim).metadata.deletion_timestamp \
                is None
        finally:
            admin.delete_namespace(victim)
    elif what == "bind-namespaced-role-in-kube-system":
        expected = POLICY
        status = _forbidden(rbac.create_namespaced_role_binding,
                            "kube-system", BIND_NAMESPACED)
    elif what == "bind-cluster-admin":
        # In a project namespace, binding anything but the namespaced
        # role is escalation, refused by RBAC.
        ns = "magnum-lp" + uuid.uuid4().hex[:8]
        admin = client.CoreV1Api(kube_api_client)
        admin.create_namespace({"metadata": {"name": ns}})
        try:
            binding = dict(BIND_NAMESPACED, roleRef={
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole", "name": "cluster-admin"})
            status = _forbidden(rbac.create_namespaced_role_binding, ns,
                                binding)
        finally:
            admin.delete_namespace(ns)
    elif what == "namespace-without-pod-security":
        expected = POLICY
        status = _forbidden(core.create_namespace, {"metadata": {
            "name": "magnum-lp" + uuid.uuid4().hex[:8]}})
    elif what == "namespace-allowing-privileged-pods":
        expected = POLICY
        status = _forbidden(core.create_namespace, {"metadata": {
            "name": "magnum-lp" + uuid.uuid4().hex[:8], "labels": {
                "pod-security.kubernetes.io/enforce": "privileged"}}})
    elif what == "delete-own-namespace":
        # Its own namespace is not a project namespace.
        expected = POLICY
        status = _forbidden(core.delete_namespace, SA_NAMESPACE)
    elif what == "secret-in-own-namespace":
        status = _forbidden(core.list_namespaced_secret, SA_NAMESPACE)
    elif what == "create-lease-kube-system":
        status = _forbidden(
            client.CoordinationV1Api(sa_client).create_namespaced_lease,
            "kube-system", {"metadata": {"name": "x"}, "spec": {}})
    elif what == "create-clusterrole":
        status = _forbidden(rbac.create_cluster_role, {
            "metadata": {"name": "capi-rdma-escalate"},
            "rules": [{"apiGroups": ["*"], "resources": ["*"],
                       "verbs": ["*"]}]})
    elif what == "create-clusterrolebinding":
        status = _forbidden(rbac.create_cluster_role_binding, {
            "metadata": {"name": "capi-rdma-escalate"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": SA_NAME,
                          "namespace": SA_NAMESPACE}]})
    elif what == "create-crd":
        ext = client.ApiextensionsV1Api(sa_client)
        status = _forbidden(ext.create_custom_resource_definition, {
            "metadata": {"name": "things.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                     "names": {"plural": "things", "kind": "Thing"},
                     "versions": [{"name": "v1", "served": True,
                                   "storage": True, "schema": {
                                       "openAPIV3Schema": {
                                           "type": "object"}}}]}})
    elif what == "list-nodes":
        status = _forbidden(core.list_node)
    elif what == "create-pod":
        status = _forbidden(core.create_namespaced_pod, "default", {
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "x"}]}})
    elif what == "impersonate":
        status = _forbidden(core.list_namespace, _request_timeout=10,
                            _headers={"Impersonate-User": "admin"})
    elif what == "token-for-other-sa":
        status = _forbidden(core.create_namespaced_service_account_token,
                            "default", "kube-system",
                            {"spec": {"expirationSeconds": 600}})
    else:
        status = _forbidden(core.list_namespaced_config_map, "kube-system")
    assert status in expected


def test_service_account_can_what_the_driver_needs(sa_client,
                                                   kube_api_client):
    """SelfSubjectAccessReview of each permission the driver relies on."""
    authz = client.AuthorizationV1Api(sa_client)

    def allowed(group, resource, verb, namespace=None):
        attrs = {"group": group, "resource": resource, "verb": verb}
        if namespace:
            attrs["namespace"] = namespace
        return authz.create_self_subject_access_review(
            {"spec": {"resourceAttributes": attrs}}).status.allowed

    cluster_wide = [
        ("", "namespaces", "create"),
        ("", "namespaces", "delete"),
        ("coordination.k8s.io", "leases", "list"),   # status passes
        ("cluster.x-k8s.io", "clusters", "list"),
        ("rbac.authorization.k8s.io", "rolebindings", "create"),
    ]
    for group, resource, verb in cluster_wide:
        assert allowed(group, resource, verb), (group, resource, verb)
    # Namespaced rights exist only where the driver bound them.
    ns = "magnum-lp" + uuid.uuid4().hex[:8]
    in_namespace = [
        ("", "secrets", "create"),
        ("coordination.k8s.io", "leases", "update"),
        ("cluster.x-k8s.io", "machines", "patch"),
        # Server-side apply of the driver's own fields (certificates).
        ("controlplane.cluster.x-k8s.io", "kubeadmcontrolplanes", "get"),
        ("controlplane.cluster.x-k8s.io", "kubeadmcontrolplanes", "patch"),
        ("addons.stackhpc.com", "manifests", "create"),
        ("rbac.authorization.k8s.io", "roles", "create"),
    ]
    for group, resource, verb in in_namespace:
        assert not allowed(group, resource, verb, ns)
    kube = kube_adapter.Kube(sa_client, {})
    kube.ensure_namespace(ns, converge.NAMESPACE_LABELS)
    try:
        # A binding an earlier identity made under the old fixed name
        # does not stand in for the driver's own.
        admin_rbac = client.RbacAuthorizationV1Api(kube_api_client)
        admin_rbac.create_namespaced_role_binding(ns, {
            "metadata": {"name": "magnum-capi-rdma-namespaced"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": "magnum-capi-rdma-namespaced"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io",
                          "kind": "User", "name": "admin"}]})
        name = converge.role_binding_name("magnum-capi-rdma-namespaced",
                                          kube.username())
        assert kube.ensure_role_binding(
            ns, name, "magnum-capi-rdma-namespaced", kube.username()) is True
        assert kube.ensure_role_binding(
            ns, name, "magnum-capi-rdma-namespaced",
            kube.username()) is False           # idempotent
        for group, resource, verb in in_namespace:
            assert allowed(group, resource, verb, ns), (group, resource)
        for group, resource, verb in in_namespace:
            assert not allowed(group, resource, verb, "kube-system")
    finally:
        kube.core.delete_namespace(ns)


@pytest.mark.usefixtures("simulator")
class TestLifecycleLeastPrivilege(lifecycle.LifecycleTests):
    """Every lifecycle test, the driver holding only the shipped role."""

    @pytest.fixture(autouse=True)
    def _narrow(self, driver_kubeconfig):
        self._driver_kubeconfig = driver_kubeconfig

    def driver_kubeconfig(self):
        return self._driver_kubeconfig

    def test_driver_runs_as_the_service_account(self):
        who = client.AuthenticationV1Api(
            self.kube.core.api_client).create_self_subject_review(
                {"apiVersion": "authentication.k8s.io/v1",
                 "kind": "SelfSubjectReview"})
        assert who.status.user_info.username == (
            "system:serviceaccount:%s:%s" % (SA_NAMESPACE, SA_NAME))


def test_app_credential_carries_only_the_owners_project_roles(
        real_keystone, member):  # noqa: F811
    user_id, project_id, session = member
    admin = real_keystone.admin_session()
    v3 = real_keystone.v3
    # The owner is admin of another project: that must not leak in.
    other = admin.post(v3 + "/projects", json={"project": {
        "name": "other-" + uuid.uuid4().hex[:8],
        "domain_id": "default"}}).json()["project"]
    admin_role = admin.get(v3 + "/roles?name=admin").json()["roles"][0]
    assert admin.put(v3 + "/projects/%s/users/%s/roles/%s" % (
        other["id"], user_id, admin_role["id"])).status_code == 204
    try:
        keystone = ks.Keystone(session, admin, interface="public")
        cred = keystone.create_app_credential(str(uuid.uuid4()), user_id,
                                              project_id)
        app = real_keystone.app_credential_session(cred["id"],
                                                   cred["secret"])
        app_access = app.auth.get_access(app)
        owner_access = session.auth.get_access(session)
        assert app_access.project_id == project_id
        assert sorted(app_access.role_names) == sorted(
            owner_access.role_names)
        assert "admin" not in app_access.role_names
        assert "member" in app_access.role_names
    finally:
        admin.delete(v3 + "/projects/%s" % other["id"])
