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
"""The management cluster through the ``kubernetes`` client.

Kinds are addressed by a short key ("cluster", "machine", ...); their
group and version come from the ``[capi_rdma]`` ``*_api_version`` options
and their plurals from :data:`KINDS`. API errors become :class:`KubeError`
naming the object. Every write asks for strict field validation
(:data:`STRICT`): a field the server's schema does not have is an error
naming the field, not silently dropped. Secret data is never logged.
"""

import base64
import json
import logging
import threading
import time

from oslo_config import cfg
import yaml

from magnum_capi_rdma import conf as _conf  # noqa: F401 - options
from magnum_capi_rdma import contract

LOG = logging.getLogger(__name__)


#: short key -> (apiVersion option, plural)
KINDS = {
    "cluster": ("cluster_api_version", "clusters"),
    "machinedeployment": ("cluster_api_version", "machinedeployments"),
    "machineset": ("cluster_api_version", "machinesets"),
    "machine": ("cluster_api_version", "machines"),
    "machinehealthcheck": ("cluster_api_version", "machinehealthchecks"),
    "kubeadmcontrolplane": ("control_plane_api_version",
                            "kubeadmcontrolplanes"),
    "kubeadmconfigtemplate": ("bootstrap_api_version",
                              "kubeadmconfigtemplates"),
    "openstackcluster": ("infrastructure_api_version", "openstackclusters"),
    "openstackmachinetemplate": ("infrastructure_api_version",
                                 "openstackmachinetemplates"),
    "openstackmachine": ("infrastructure_api_version", "openstackmachines"),
    "helmrelease": ("addons_api_version", "helmreleases"),
    "manifests": ("addons_api_version", "manifests"),
}

#: short key -> the object's ``kind`` (a server-side apply names it).
KIND_NAMES = {
    "cluster": "Cluster",
    "machinedeployment": "MachineDeployment",
    "machineset": "MachineSet",
    "machine": "Machine",
    "machinehealthcheck": "MachineHealthCheck",
    "kubeadmcontrolplane": "KubeadmControlPlane",
    "kubeadmconfigtemplate": "KubeadmConfigTemplate",
    "openstackcluster": "OpenStackCluster",
    "openstackmachinetemplate": "OpenStackMachineTemplate",
    "openstackmachine": "OpenStackMachine",
    "helmrelease": "HelmRelease",
    "manifests": "Manifests",
}

#: Kinds whose presence keeps a namespace from being "empty".
CAPI_KINDS = ("cluster", "machinedeployment", "machine",
              "kubeadmcontrolplane", "openstackcluster", "helmrelease",
              "manifests")

HELM_RELEASE_SECRET_SELECTOR = "owner=helm"
MERGE_PATCH = "application/merge-patch+json"
#: Server-side apply (a JSON body is YAML too).
APPLY_PATCH = "application/apply-patch+yaml"
#: ``fieldValidation`` of every write: a field the object's schema does not
#: have (e.g. one Cluster API does not have) is refused, never dropped.
STRICT = "Strict"
TRANSIENT_STATUSES = (429, 500, 502, 503, 504)


def patch_path(api_client, path, body, content_type, **query):
    """PATCH ``path`` with ``content_type``; the response as a dict.

    The same on both generations of the client this driver supports: up to
    36 (2025.1's upper constraints have 32) the generated ``patch_*``
    methods take no ``_content_type`` and choose a type themselves; from
    37 the client is generated anew, with another ``call_api``. ``query``
    uses the API's names (``fieldValidation``, ``fieldManager``,
    ``force``). The client sends the body as JSON, for an apply too (JSON
    is YAML).
    """
    query_params = [(key, value) for key, value in query.items()
                    if value is not None]
    headers = {"Content-Type": content_type, "Accept": "application/json"}
    if hasattr(api_client, "param_serialize"):        # client 37 and later
        request = api_client.param_serialize(
            method="PATCH", resource_path=path, query_params=query_params,
            header_params=headers, body=body, auth_settings=["BearerToken"])
        response = api_client.call_api(*request)
        response.read()
        return api_client.response_deserialize(
            response_data=response,
            response_types_map={"200": "object", "201": "object"}).data
    return api_client.call_api(
        path, "PATCH", query_params=query_params, header_params=headers,
        body=body, response_type="object", auth_settings=["BearerToken"],
        _return_http_data_only=True, _preload_content=True)


def custom_path(group, version, namespace, plural, name, subresource=None):
    """The API path of a namespaced custom object."""
    path = "/apis/%s/%s/namespaces/%s/%s/%s" % (group, version, namespace,
                                                plural, name)
    return path + "/" + subresource if subresource else path


class KubeError(Exception):
    """A Kubernetes API call failed.

    ``status`` is the HTTP status (None when the server was not reached);
    ``transient`` is True for connection errors, 429 and 5xx.
    """

    def __init__(self, message, status=None, transient=False):
        self.status = status
        self.transient = transient
        super().__init__(message)


#: Where the API server says which field strict validation refused; a
#: refused patch quotes the whole patched object before it.
_STRICT_ERROR = "strict decoding error"


def _reason(exc):
    """The API server's message from an ApiException, shortened."""
    body = getattr(exc, "body", None)
    message = None
    if body:
        try:
            message = json.loads(body).get("message")
        except (ValueError, TypeError, AttributeError):
            message = None
    message = message or getattr(exc, "reason", None) or str(exc)
    message = " ".join(str(message).split())
    if _STRICT_ERROR in message:
        message = message[message.index(_STRICT_ERROR):]
    return message[:300]


def _describe(what, namespace, name):
    if namespace and name:
        return "%s %s/%s" % (what, namespace, name)
    return "%s %s" % (what, name or namespace or "")


def map_error(exc, action, what, namespace=None, name=None):
    """A KubeError for ``exc`` naming the object; other errors pass."""
    from kubernetes.client import exceptions
    import urllib3

    target = _describe(what, namespace, name).strip()
    if isinstance(exc, exceptions.ApiException) and exc.status:
        status = int(exc.status)
        return KubeError(
            "cannot %s %s: %s (HTTP %d)" % (action, target, _reason(exc),
                                            status),
            status=status, transient=status in TRANSIENT_STATUSES)
    if isinstance(exc, (urllib3.exceptions.HTTPError, OSError,
                        exceptions.ApiException)):
        return KubeError("cannot %s %s: management cluster unreachable "
                         "(%s)" % (action, target, type(exc).__name__),
                         transient=True)
    return None


def _encode(data):
    return {key: base64.b64encode(
        value if isinstance(value, bytes) else str(value).encode()).decode()
        for key, value in (data or {}).items()}


def _decode(data):
    out = {}
    for key, value in (data or {}).items():
        raw = base64.b64decode(value)
        try:
            out[key] = raw.decode()
        except UnicodeDecodeError:
            out[key] = raw
    return out


def with_default_timeout(api_client, seconds):
    """Give every request of ``api_client`` a timeout unless it has one.

    The kubernetes client waits forever by default; one hung connection
    would then block every status pass of the conductor. The client passes
    ``timeout=None`` explicitly, which overrides urllib3's pool default, so
    the default is supplied at the client's own request method.
    """
    if not seconds:
        return api_client
    rest_client = api_client.rest_client
    request = rest_client.request

    def request_with_timeout(*args, **kwargs):
        if not kwargs.get("_request_timeout"):
            kwargs["_request_timeout"] = seconds
        return request(*args, **kwargs)

    rest_client.request = request_with_timeout
    return api_client


def _count_requests(api_client, count):
    """Call ``count()`` on every request of ``api_client``."""
    rest_client = api_client.rest_client
    request = rest_client.request

    def counted(*args, **kwargs):
        count()
        return request(*args, **kwargs)

    rest_client.request = counted


class Kube(object):
    """Narrow access to the management cluster."""

    def __init__(self, api_client, api_versions, plurals=None):
        from kubernetes import client

        self.api_client = api_client
        self.requests = 0
        self._count_lock = threading.Lock()
        _count_requests(api_client, self._count)
        self.api_versions = dict(api_versions)
        self.plurals = dict(plurals or {})
        self.core = client.CoreV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.coordination = client.CoordinationV1Api(api_client)
        self.rbac = client.RbacAuthorizationV1Api(api_client)
        self._username = None

    @classmethod
    def from_config(cls, conf=cfg.CONF):
        """From ``kubeconfig_file``; empty: in-cluster, then default."""
        from kubernetes import config

        group = conf.capi_rdma
        path = group.kubeconfig_file
        try:
            if path:
                api_client = config.new_client_from_config(path)
            else:
                api_client = cls._default_client()
        except (config.ConfigException, OSError, ValueError, TypeError,
                yaml.YAMLError) as exc:
            raise KubeError(
                "cannot load the management cluster's kubeconfig %s: %s"
                % (path or "(in-cluster or ~/.kube/config)", exc))
        versions = {option: group[option]
                    for option, _ in KINDS.values()}
        with_default_timeout(api_client, group.kube_request_timeout)
        return cls(api_client, versions)

    @staticmethod
    def _default_client():
        from kubernetes import client
        from kubernetes import config

        try:
            configuration = client.Configuration()
            config.load_incluster_config(client_configuration=configuration)
            return client.ApiClient(configuration)
        except config.ConfigException:
            return config.new_client_from_config()

    def _count(self):
        """One more request (:attr:`requests` counts them)."""
        with self._count_lock:
            self.requests += 1

    # -- custom resources -------------------------------------------------
    def gvp(self, kind):
        """(group, version, plural) of a short kind key."""
        try:
            option, plural = KINDS[kind]
        except KeyError:
            raise KubeError("unknown kind %r: expected one of %s"
                            % (kind, ", ".join(sorted(KINDS))))
        api_version = self.api_versions.get(option) or ""
        group, sep, version = api_version.partition("/")
        if not (sep and group and version):
            raise KubeError("[capi_rdma] %s must be GROUP/VERSION, got %r"
                            % (option, api_version))
        return group, version, self.plurals.get(kind, plural)

    def _call(self, action, what, namespace, name, func, *args, **kwargs):
        try:
            return func(*args, **kwargs)
        except Exception as exc:  # noqa: B902 - mapped below
            error = map_error(exc, action, what, namespace, name)
            if error is None:
                raise
            raise error from None

    def get(self, kind, namespace, name):
        """The object as a dict, or None if it does not exist."""
        group, version, plural = self.gvp(kind)
        try:
            return self._call(
                "read", kind, namespace, name,
                self.custom.get_namespaced_custom_object,
                group, version, namespace, plural, name)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, kind, namespace, label_selector=None):
        """Objects of ``kind`` in ``namespace`` (a list of dicts)."""
        group, version, plural = self.gvp(kind)
        kwargs = {"label_selector": label_selector} if label_selector else {}
        result = self._call(
            "list", kind + "s", namespace, None,
            self.custom.list_namespaced_custom_object,
            group, version, namespace, plural, **kwargs)
        return result.get("items", [])

    def list_all(self, kind, label_selector=None):
        """Objects of ``kind`` in every namespace."""
        group, version, plural = self.gvp(kind)
        kwargs = {"label_selector": label_selector} if label_selector else {}
        result = self._call(
            "list", kind + "s", "all namespaces", None,
            self.custom.list_cluster_custom_object,
            group, version, plural, **kwargs)
        return result.get("items", [])

    def patch(self, kind, namespace, name, body):
        """JSON merge patch of an object; returns the patched object."""
        group, version, plural = self.gvp(kind)
        return self._call(
            "patch", kind, namespace, name, patch_path, self.api_client,
            custom_path(group, version, namespace, plural, name), body,
            MERGE_PATCH, fieldValidation=STRICT)

    def apply_fields(self, kind, namespace, name, fields, manager):
        """Server-side apply of ``fields`` to an existing object.

        ``fields`` are the object's top-level keys the ``manager`` owns
        (``{"spec": {...}}``), the whole of what it wants there: fields
        other managers own (Helm's, the controllers') stay as they are,
        fields this manager applied before and leaves out now are
        removed. The manager takes over a field another one set (force):
        whoever calls this owns these fields by design. Returns the
        object; None, with nothing sent, when it does not exist (an
        apply would create it).
        """
        if self.get(kind, namespace, name) is None:
            return None
        group, version, plural = self.gvp(kind)
        body = {"apiVersion": "%s/%s" % (group, version),
                "kind": KIND_NAMES[kind],
                "metadata": {"name": name, "namespace": namespace}}
        body.update({key: value for key, value in fields.items()
                     if value not in (None, {})})
        return self._call(
            "apply fields of", kind, namespace, name, patch_path,
            self.api_client,
            custom_path(group, version, namespace, plural, name), body,
            APPLY_PATCH, fieldManager=manager, force=True,
            fieldValidation=STRICT)

    def annotate(self, kind, namespace, name, annotations):
        """Set (or with a None value remove) annotations of an object."""
        return self.patch(kind, namespace, name,
                          {"metadata": {"annotations": dict(annotations)}})

    def delete(self, kind, namespace, name):
        """Delete an object; False if it was already gone."""
        group, version, plural = self.gvp(kind)
        try:
            self._call("delete", kind, namespace, name,
                       self.custom.delete_namespaced_custom_object,
                       group, version, namespace, plural, name)
        except KubeError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # -- namespaces -----------------------------------------------------------
    def _read_namespace(self, name):
        try:
            return self._call("read", "namespace", None, name,
                              self.core.read_namespace, name)
        except KubeError as exc:
            if exc.status != 404:
                raise
            return None

    def namespace_exists(self, name, terminating=True):
        """True if the namespace exists.

        With ``terminating`` False, a namespace being deleted counts as
        gone.
        """
        current = self._read_namespace(name)
        if current is None:
            return False
        return terminating or not current.metadata.deletion_timestamp

    def ensure_namespace(self, name, labels=None, terminating_wait=60.0,
                         interval=1.0, clock=time.monotonic,
                         sleep=time.sleep):
        """Create the namespace if needed; add missing labels.

        A namespace still being deleted (the project's previous last
        cluster went moments ago) is waited for, up to ``terminating_wait``
        seconds, rather than failing the new cluster.
        """
        current = self._read_namespace(name)
        deadline = clock() + terminating_wait
        while current is not None and current.metadata.deletion_timestamp:
            if clock() >= deadline:
                raise KubeError(
                    "namespace %s is still being deleted after %.0f s; "
                    "try again later" % (name, terminating_wait),
                    status=409, transient=True)
            sleep(interval)
            current = self._read_namespace(name)
        if current is None:
            body = {"metadata": {"name": name, "labels": dict(labels or {})}}
            try:
                self._call("create", "namespace", None, name,
                           self.core.create_namespace, body,
                           field_validation=STRICT)
                return
            except KubeError as exc:
                if exc.status != 409:
                    raise
                return
        have = current.metadata.labels or {}
        missing = {k: v for k, v in (labels or {}).items()
                   if have.get(k) != v}
        if missing:
            self._call("label", "namespace", None, name, patch_path,
                       self.api_client, "/api/v1/namespaces/%s" % name,
                       {"metadata": {"labels": missing}}, MERGE_PATCH,
                       fieldValidation=STRICT)

    def namespace_is_empty(self, name, secret_selector=None):
        """True if nothing of ours is left in the namespace.

        Ours: Secrets matching ``secret_selector`` (if given), helm
        release Secrets, and every Cluster API kind of :data:`CAPI_KINDS`.
        """
        if secret_selector and self.list_secrets(name, secret_selector):
            return False
        if self.list_secrets(name, HELM_RELEASE_SECRET_SELECTOR):
            return False
        for kind in CAPI_KINDS:
            try:
                if self.list(kind, name):
                    return False
            except KubeError as exc:
                if exc.status != 404:  # 404: that CRD is not installed
                    raise
        return True

    def delete_namespace_if_empty(self, name, secret_selector=None):
        """Delete the namespace when :meth:`namespace_is_empty`.

        ``secret_selector`` defaults to the driver's ownership label.
        Returns True if a delete was sent; False if it is not empty or
        already gone.
        """
        if secret_selector is None:
            # Secrets the driver owns.
            secret_selector = contract.OWNER_SELECTOR
        try:
            if not self.namespace_is_empty(name, secret_selector):
                return False
        except KubeError as exc:
            if exc.status == 404:
                return False
            raise
        try:
            self._call("delete", "namespace", None, name,
                       self.core.delete_namespace, name)
        except KubeError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # -- secrets --------------------------------------------------------
    def apply_secret(self, namespace, name, string_data=None, labels=None,
                     type=None, data=None, annotations=None):
        """Create or replace a Secret (idempotent).

        ``string_data`` values are text (or bytes); ``data`` values are
        bytes or text, stored base64-encoded as given.
        """
        payload = _encode(string_data)
        payload.update(_encode(data))
        body = {
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": dict(labels or {})},
            "data": payload,
        }
        if annotations:
            body["metadata"]["annotations"] = dict(annotations)
        if type:
            body["type"] = type
        try:
            current = self._call("read", "secret", namespace, name,
                                 self.core.read_namespaced_secret,
                                 name, namespace)
        except KubeError as exc:
            if exc.status != 404:
                raise
            current = None
        if current is None:
            try:
                self._call("create", "secret", namespace, name,
                           self.core.create_namespaced_secret,
                           namespace, body, field_validation=STRICT)
                LOG.debug("Created secret %s/%s", namespace, name)
                return
            except KubeError as exc:
                if exc.status != 409:
                    raise
                current = self.core.read_namespaced_secret(name, namespace)
        if type and current.type and current.type != type:
            # The type of a Secret is immutable: replace it.
            self.delete_secret(namespace, name)
            self._call("create", "secret", namespace, name,
                       self.core.create_namespaced_secret, namespace, body,
                       field_validation=STRICT)
            return
        if not type and current.type:
            body["type"] = current.type
        kept = dict(current.metadata.annotations or {})
        kept.update(body["metadata"].get("annotations") or {})
        if kept:
            body["metadata"]["annotations"] = kept
        body["metadata"]["resourceVersion"] = (
            current.metadata.resource_version)
        self._call("replace", "secret", namespace, name,
                   self.core.replace_namespaced_secret, name, namespace,
                   body, field_validation=STRICT)
        LOG.debug("Replaced secret %s/%s", namespace, name)

    def _read_secret(self, namespace, name):
        try:
            return self._call("read", "secret", namespace, name,
                              self.core.read_namespaced_secret,
                              name, namespace)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    def get_secret(self, namespace, name):
        """The Secret's data decoded ({key: str or bytes}), or None."""
        secret = self._read_secret(namespace, name)
        return None if secret is None else _decode(secret.data)

    def get_secret_metadata(self, namespace, name):
        """{name, labels, annotations, type} of a Secret, or None."""
        secret = self._read_secret(namespace, name)
        if secret is None:
            return None
        return {"name": secret.metadata.name,
                "labels": dict(secret.metadata.labels or {}),
                "annotations": dict(secret.metadata.annotations or {}),
                "type": secret.type}

    def delete_secret(self, namespace, name):
        """Delete a Secret; False if it did not exist."""
        try:
            self._call("delete", "secret", namespace, name,
                       self.core.delete_namespaced_secret, name, namespace)
        except KubeError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def list_secrets(self, namespace, label_selector):
        """Metadata of matching Secrets (never their data)."""
        kwargs = {"label_selector": label_selector} if label_selector else {}
        result = self._call("list", "secrets", namespace, None,
                            self.core.list_namespaced_secret, namespace,
                            **kwargs)
        return [{"name": item.metadata.name,
                 "labels": dict(item.metadata.labels or {}),
                 "type": item.type} for item in result.items]

    def delete_secrets(self, namespace, label_selector):
        """Delete every matching Secret; returns how many went."""
        if not label_selector:
            raise KubeError("refusing to delete every secret in %s: no "
                            "label selector" % namespace)
        count = 0
        for secret in self.list_secrets(namespace, label_selector):
            if self.delete_secret(namespace, secret["name"]):
                count += 1
        return count

    # -- leases (the operation record and lock) --------------------------
    def _lease_dict(self, lease):
        return self.api_client.sanitize_for_serialization(lease)

    def get_lease(self, namespace, name):
        """The Lease as a dict, or None."""
        try:
            lease = self._call("read", "lease", namespace, name,
                               self.coordination.read_namespaced_lease,
                               name, namespace)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise
        return self._lease_dict(lease)

    def create_lease(self, namespace, body):
        """Create a Lease; KubeError with status 409 if it exists."""
        name = body["metadata"]["name"]
        return self._lease_dict(self._call(
            "create", "lease", namespace, name,
            self.coordination.create_namespaced_lease, namespace, body,
            field_validation=STRICT))

    def replace_lease(self, namespace, body):
        """Replace a Lease; status 409 if ``resourceVersion`` is stale."""
        name = body["metadata"]["name"]
        return self._lease_dict(self._call(
            "replace", "lease", namespace, name,
            self.coordination.replace_namespaced_lease, name, namespace,
            body, field_validation=STRICT))

    def list_leases_all(self, label_selector):
        """Matching Leases of every namespace, in one LIST (dicts)."""
        result = self._call(
            "list", "leases", "all namespaces", None,
            self.coordination.list_lease_for_all_namespaces,
            label_selector=label_selector)
        return [self._lease_dict(item) for item in result.items]

    def delete_leases(self, namespace, label_selector):
        """Delete every matching Lease of a namespace; how many went."""
        if not label_selector:
            raise KubeError("refusing to delete every lease in %s: no "
                            "label selector" % namespace)
        result = self._call("list", "leases", namespace, None,
                            self.coordination.list_namespaced_lease,
                            namespace, label_selector=label_selector)
        count = 0
        for item in result.items:
            try:
                self._call("delete", "lease", namespace, item.metadata.name,
                           self.coordination.delete_namespaced_lease,
                           item.metadata.name, namespace)
                count += 1
            except KubeError as exc:
                if exc.status != 404:
                    raise
        return count

    # -- identity and the per-namespace role -------------------------------
    def username(self):
        """Who the driver is on the management cluster (SelfSubjectReview).

        Cached: the identity of a kubeconfig does not change while the
        process runs.
        """
        if self._username is None:
            from kubernetes import client

            review = self._call(
                "create", "selfsubjectreview", None, None,
                client.AuthenticationV1Api(
                    self.api_client).create_self_subject_review,
                {"apiVersion": "authentication.k8s.io/v1",
                 "kind": "SelfSubjectReview"}, field_validation=STRICT)
            self._username = review.status.user_info.username
        return self._username

    def allowed(self, namespace, verb, resource, group=""):
        """SelfSubjectAccessReview: may the driver do this?"""
        from kubernetes import client

        review = self._call(
            "create", "selfsubjectaccessreview", namespace, None,
            client.AuthorizationV1Api(
                self.api_client).create_self_subject_access_review,
            {"spec": {"resourceAttributes": {
                "namespace": namespace, "verb": verb,
                "resource": resource, "group": group}}},
            field_validation=STRICT)
        return bool(review.status.allowed)

    def ensure_role_binding(self, namespace, name, cluster_role, user,
                            labels=None, settle=10.0, interval=0.2,
                            clock=time.monotonic, sleep=time.sleep):
        """Bind ``cluster_role`` to ``user`` in ``namespace`` (idempotent).

        A new binding takes a moment to reach the API server's authorizer:
        when one is created, this waits (up to ``settle`` seconds) until
        the driver may create Secrets in the namespace.
        Returns True if it created the binding.
        """
        body = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": dict(labels or {})},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole", "name": cluster_role},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io",
                          "kind": "User", "name": user}],
        }
        try:
            self._call("create", "rolebinding", namespace, name,
                       self.rbac.create_namespaced_role_binding, namespace,
                       body, field_validation=STRICT)
        except KubeError as exc:
            if exc.status == 409:
                return False
            raise
        deadline = clock() + settle
        while not self.allowed(namespace, "create", "secrets"):
            if clock() >= deadline:
                raise KubeError(
                    "the role binding %s/%s (ClusterRole %s) does not let "
                    "%s create Secrets in %s after %.0f s; check the "
                    "ClusterRole exists (etc/rbac)" % (
                        namespace, name, cluster_role, user, namespace,
                        settle))
            sleep(interval)
        return True
