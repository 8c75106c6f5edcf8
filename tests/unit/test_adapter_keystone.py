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
"""Request shapes of the keystone adapter (keystoneauth1 fixtures).

The same adapter runs against a real Keystone in
tests/functional/test_keystone_real.py.
"""

from keystoneauth1 import fixture
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
import pytest
import requests_mock
import yaml

from magnum_capi_rdma.adapters import keystone as ks
from magnum_capi_rdma import conf as conf_mod

AUTH = "http://127.0.0.1:5000"
V3 = AUTH + "/v3"
USER = "u" * 32
PROJECT = "p" * 32
UUID = "0b5e1a0c-5d5e-4c0e-9d6e-2f1f6a5f2c11"


def _session(mock, token_id, project_id=PROJECT, region="RegionOne"):
    token = fixture.V3Token(user_id=USER, project_id=project_id)
    service = token.add_service("identity")
    service.add_standard_endpoints(public=V3, internal=V3, admin=V3,
                                   region=region)
    mock.post(V3 + "/auth/tokens", json=token,
              headers={"X-Subject-Token": token_id})
    from keystoneauth1.identity import v3
    auth = v3.Password(auth_url=V3, username="x", password="y",
                       user_domain_id="default", project_id=project_id)
    return ks_session.Session(auth=auth)


@pytest.fixture
def mock():
    with requests_mock.Mocker() as m:
        m.get(V3, json=fixture.V3Discovery(V3))
        yield m


@pytest.fixture
def keystone(mock):
    user = _session(mock, "user-token")
    # The admin session is a different token: requests prove which is used.
    admin = ks_session.Session(auth=token_endpoint.Token(V3, "admin-token"))
    return ks.Keystone(user, admin, interface="public")


def _listing(*names):
    return {"application_credentials": [
        {"id": "id-%d" % i, "name": name} for i, name in enumerate(names)]}


def test_name_is_prefix_and_uuid():
    prefix = conf_mod.cfg.CONF.capi_rdma.app_credential_prefix
    assert ks.app_credential_name(UUID) == prefix + UUID


def test_create_is_restricted_and_named(keystone, mock):
    base = ks.app_credential_name(UUID)
    listing = mock.get(V3 + "/users/%s/application_credentials" % USER,
                       json=_listing("unrelated"))
    created = mock.post(
        V3 + "/users/%s/application_credentials" % USER, status_code=201,
        json={"application_credential": {
            "id": "new", "secret": "s3cr3t", "name": base}})
    cred = keystone.create_app_credential(
        UUID, USER, PROJECT, roles=["member", "a" * 32],
        expires_at="2030-01-01T00:00:00")
    assert cred == {"id": "new", "secret": "s3cr3t", "name": base}
    body = created.last_request.json()["application_credential"]
    assert body["unrestricted"] is False
    assert body["name"] == base
    assert body["roles"] == [{"name": "member"}, {"id": "a" * 32}]
    assert body["expires_at"] == "2030-01-01T00:00:00"
    assert created.last_request.headers["X-Auth-Token"] == "user-token"
    assert listing.called


def test_create_when_name_taken_adds_suffix(keystone, mock):
    base = ks.app_credential_name(UUID)
    mock.get(V3 + "/users/%s/application_credentials" % USER,
             json=_listing(base))
    created = mock.post(
        V3 + "/users/%s/application_credentials" % USER, status_code=201,
        json={"application_credential": {"id": "n", "secret": "s",
                                         "name": "whatever"}})
    keystone.create_app_credential(UUID, USER)
    name = created.last_request.json()["application_credential"]["name"]
    assert name.startswith(base + "-") and len(name) == len(base) + 9
    assert "roles" not in created.last_request.json()[
        "application_credential"]


def test_create_for_another_project_is_refused(keystone, mock):
    mock.get(V3 + "/users/%s/application_credentials" % USER,
             json=_listing())
    with pytest.raises(ks.KeystoneError) as caught:
        keystone.create_app_credential(UUID, USER, "q" * 32)
    assert "q" * 32 in str(caught.value)


def test_create_error_is_clear_and_secret_free(keystone, mock):
    mock.get(V3 + "/users/%s/application_credentials" % USER,
             json=_listing())
    mock.post(V3 + "/users/%s/application_credentials" % USER,
              status_code=403,
              json={"error": {"message": "You are not authorized",
                              "code": 403}})
    with pytest.raises(ks.KeystoneError) as caught:
        keystone.create_app_credential(UUID, USER)
    assert caught.value.status == 403
    assert "not authorized" in str(caught.value)
    assert USER in str(caught.value)


def test_delete_uses_admin_session_and_keeps(keystone, mock):
    base = ks.app_credential_name(UUID)
    listing = mock.get(
        V3 + "/users/%s/application_credentials" % USER,
        json=_listing(base, base + "-abcd1234", "other", base + "x"))
    gone = mock.delete(
        V3 + "/users/%s/application_credentials/id-0" % USER,
        status_code=204)
    missing = mock.delete(
        V3 + "/users/%s/application_credentials/id-1" % USER,
        status_code=404)
    assert keystone.delete_app_credentials(UUID, USER) == 1
    assert gone.last_request.headers["X-Auth-Token"] == "admin-token"
    assert missing.called
    assert listing.last_request.headers["X-Auth-Token"] == "admin-token"
    # Neither "other" nor "<base>x" (another uuid's prefix) is touched.
    assert keystone.delete_app_credentials(UUID, USER, keep="id-0") == 0
    assert gone.call_count == 1


def test_delete_for_unknown_user_is_fine(keystone, mock):
    mock.get(V3 + "/users/%s/application_credentials" % USER,
             status_code=404, json={"error": {"message": "no user"}})
    assert keystone.delete_app_credentials(UUID, USER) == 0


def test_auth_url_and_region_from_catalog(keystone, mock):
    assert keystone.auth_url == V3
    assert keystone.region == "RegionOne"
    assert keystone.verify is True


def test_clouds_yaml_shape():
    text = ks.clouds_yaml(V3, "RegionOne", "internal", "cid", "csecret",
                          PROJECT, verify=False)
    cloud = yaml.safe_load(text)["clouds"]["openstack"]
    assert cloud["auth_type"] == "v3applicationcredential"
    assert cloud["auth"] == {"auth_url": V3,
                             "application_credential_id": "cid",
                             "application_credential_secret": "csecret"}
    assert cloud["region_name"] == "RegionOne"
    assert cloud["interface"] == "internal"
    assert cloud["verify"] is False
    verified = yaml.safe_load(ks.clouds_yaml(V3, None, "public", "c", "s"))
    assert "verify" not in verified["clouds"]["openstack"]
    assert "region_name" not in verified["clouds"]["openstack"]


def test_cloud_credentials_secret_keys():
    assert ks.cloud_credentials_secret("x: 1\n", "PEM") == {
        "clouds.yaml": "x: 1\n", "cacert": "PEM"}
    assert ks.cloud_credentials_secret("x: 1\n", None)["cacert"] == ""
