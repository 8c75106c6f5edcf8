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
"""Per-cluster application credentials and the cloud credentials Secret.

Each cluster gets its own application credential, created with the user's
session and ``unrestricted: false`` (so it cannot create further
application credentials or trusts). Its name starts with
:func:`app_credential_name` so it can always be found and removed, even
with an admin session after the user's token is gone.

Idempotency: Keystone never shows a secret again, so an existing
credential is useless once its secret is lost. :meth:`Keystone.create_app_
credential` therefore never reuses one: it makes a new credential (the
plain name if free, else the name plus a short random suffix) and leaves
removing the others to :meth:`Keystone.delete_app_credentials` with
``keep=<new id>`` once the new secret is stored. Nothing else is deleted.
"""

import secrets

from oslo_config import cfg
import yaml

from magnum_capi_rdma import conf as _conf  # noqa: F401 - options

#: The chart's default cloud name in clouds.yaml (``cloudName`` value).
CLOUD_NAME = "openstack"


class KeystoneError(Exception):
    """A Keystone call failed; the message never contains a secret."""

    def __init__(self, message, status=None):
        self.status = status
        super().__init__(message)


def app_credential_name(cluster_uuid, conf=cfg.CONF):
    """``<app_credential_prefix><cluster uuid>``."""
    return "%s%s" % (conf.capi_rdma.app_credential_prefix, cluster_uuid)


def _is_ours(name, base):
    return name == base or (name or "").startswith(base + "-")


def clouds_yaml(auth_url, region, interface, app_cred_id, app_cred_secret,
                project_id=None, verify=True):
    """clouds.yaml text for one application credential (pure).

    ``verify`` False turns TLS verification off; a CA bundle travels in
    the Secret's ``cacert`` key (see :func:`cloud_credentials_secret`).
    ``project_id`` is not written: an application credential is bound to
    its project, and a project in clouds.yaml makes clients request a
    scope, which Keystone refuses for application credentials (401).
    """
    cloud = {
        "auth_type": "v3applicationcredential",
        "auth": {
            "auth_url": auth_url,
            "application_credential_id": app_cred_id,
            "application_credential_secret": app_cred_secret,
        },
        "identity_api_version": 3,
        "interface": interface,
    }
    if region:
        cloud["region_name"] = region
    if verify is False:
        cloud["verify"] = False
    return yaml.safe_dump({"clouds": {CLOUD_NAME: cloud}},
                          default_flow_style=False)


def cloud_credentials_secret(clouds, cacert=""):
    """String data of the Secret named by ``cloudCredentialsSecretName``.

    The chart (and CAPO) read ``clouds.yaml`` and ``cacert`` from it.
    """
    return {"clouds.yaml": clouds, "cacert": cacert or ""}


class Keystone(object):
    """Application credentials through keystoneauth1 sessions.

    ``user_session`` creates (Keystone only lets users create their own);
    ``admin_session`` lists and deletes, so cleanup works after the
    user's token has expired.
    """

    def __init__(self, user_session, admin_session, interface=None,
                 region=None, conf=cfg.CONF):
        self.user_session = user_session
        self.admin_session = admin_session or user_session
        self.interface = interface or conf.capi_rdma.endpoint_interface
        self._region = region
        self.conf = conf

    # -- plumbing ---------------------------------------------------------
    def _adapter(self, session):
        from keystoneauth1 import adapter

        return adapter.Adapter(session, service_type="identity",
                               interface=self.interface,
                               region_name=self._region,
                               version=(3, 0))

    def _request(self, session, method, path, what, ok=(200, 201, 204),
                 **kwargs):
        from keystoneauth1 import exceptions

        try:
            response = self._adapter(session).request(
                path, method, raise_exc=False, **kwargs)
        except exceptions.ClientException as exc:
            raise KeystoneError("cannot %s: %s: %s" % (
                what, type(exc).__name__, exc))
        if response.status_code not in ok:
            raise KeystoneError(
                "cannot %s: Keystone answered %d %s" % (
                    what, response.status_code, _error_text(response)),
                status=response.status_code)
        return response

    # -- facts for clouds.yaml ----------------------------------------------
    @property
    def auth_url(self):
        """Keystone's URL in the catalog for ``interface``."""
        data = self._endpoint_data()
        url = data.catalog_url or data.url
        return url.rstrip("/")

    @property
    def region(self):
        """The region given, else the identity endpoint's region."""
        if self._region:
            return self._region
        return getattr(self._endpoint_data(), "region_name", None)

    @property
    def verify(self):
        """TLS verification of the user's session (True/False/CA path)."""
        return getattr(self.user_session, "verify", True)

    def _endpoint_data(self):
        data = self.user_session.get_endpoint_data(
            service_type="identity", interface=self.interface,
            region_name=self._region)
        if data is None:
            raise KeystoneError("no %s identity endpoint in the catalog"
                                % self.interface)
        return data

    # -- application credentials ---------------------------------------------
    def create_app_credential(self, cluster_uuid, user_id, project_id=None,
                              roles=None, expires_at=None):
        """A new restricted credential: {id, secret, name}.

        ``roles``: names or ids to delegate (default: all the token's
        roles). ``project_id`` is implied by the user session's scope and
        only checked against it when given.
        """
        base = app_credential_name(cluster_uuid, self.conf)
        taken = {cred["name"] for cred in self.find_app_credentials(
            cluster_uuid, user_id, session=self.user_session)}
        name = base if base not in taken else "%s-%s" % (
            base, secrets.token_hex(4))
        body = {
            "name": name,
            "description": "Magnum cluster %s (magnum-capi-rdma)"
                           % cluster_uuid,
            "unrestricted": False,
        }
        if roles:
            body["roles"] = [_role_ref(role) for role in roles]
        if expires_at:
            body["expires_at"] = expires_at
        if project_id:
            scoped = self.user_session.get_project_id()
            if scoped and scoped != project_id:
                raise KeystoneError(
                    "cannot create an application credential for project "
                    "%s with a token scoped to project %s"
                    % (project_id, scoped))
        try:
            response = self._request(
                self.user_session, "POST",
                "/users/%s/application_credentials" % user_id,
                "create application credential %s for user %s" % (
                    name, user_id),
                json={"application_credential": body})
        except KeystoneError as exc:
            if exc.status == 403 and self._token_is_app_credential():
                raise KeystoneError(
                    "%s. The request was authenticated with a restricted "
                    "application credential, which Keystone does not let "
                    "create another; use a password or an unrestricted "
                    "application credential" % exc, status=403) from None
            raise
        cred = response.json()["application_credential"]
        return {"id": cred["id"], "secret": cred["secret"],
                "name": cred["name"]}

    def _token_is_app_credential(self):
        """True if the user's token came from an application credential."""
        try:
            access = self.user_session.auth.get_access(self.user_session)
            return bool(getattr(access, "application_credential_id", None))
        except Exception:  # noqa: B902 - only refines an error message
            return False

    def find_app_credentials(self, cluster_uuid, user_id, session=None):
        """This cluster's credentials of the user (no secrets)."""
        base = app_credential_name(cluster_uuid, self.conf)
        response = self._request(
            session or self.admin_session, "GET",
            "/users/%s/application_credentials" % user_id,
            "list application credentials of user %s" % user_id,
            ok=(200, 404))
        if response.status_code == 404:
            return []
        return [
            {"id": cred["id"], "name": cred["name"],
             "expires_at": cred.get("expires_at")}
            for cred in response.json().get("application_credentials", [])
            if _is_ours(cred.get("name"), base)
        ]

    def delete_app_credentials(self, cluster_uuid, user_id, keep=None):
        """Delete this cluster's credentials except ``keep``; a count.

        Uses the admin session; a credential or user already gone is fine.
        """
        count = 0
        for cred in self.find_app_credentials(cluster_uuid, user_id):
            if cred["id"] == keep:
                continue
            response = self._request(
                self.admin_session, "DELETE",
                "/users/%s/application_credentials/%s" % (
                    user_id, cred["id"]),
                "delete application credential %s" % cred["name"],
                ok=(204, 404))
            if response.status_code == 204:
                count += 1
        return count


def _role_ref(role):
    if isinstance(role, dict):
        return role
    text = str(role)
    if len(text) == 32 and all(c in "0123456789abcdef" for c in text):
        return {"id": text}
    return {"name": text}


def _error_text(response):
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.reason or ""
    return " ".join(str(message).split())[:300]
