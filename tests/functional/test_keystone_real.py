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
"""The keystone adapter against a real Keystone (see keystone_fixture)."""

import uuid

import pytest
import yaml

from magnum_capi_rdma.adapters import keystone as ks
from tests.functional.keystone_fixture import member  # noqa: F401
from tests.functional.keystone_fixture import real_keystone  # noqa: F401


def test_restricted_credential_works_but_cannot_make_more(
        real_keystone, member):  # noqa: F811
    user_id, project_id, session = member
    keystone = ks.Keystone(session, real_keystone.admin_session(),
                           interface="public")
    cluster = str(uuid.uuid4())
    cred = keystone.create_app_credential(cluster, user_id, project_id)
    assert cred["name"] == ks.app_credential_name(cluster)

    app = real_keystone.app_credential_session(cred["id"], cred["secret"])
    assert app.get_project_id() == project_id
    # Restricted: Keystone refuses a further credential (403) and a trust.
    denied = app.post(
        real_keystone.v3 + "/users/%s/application_credentials" % user_id,
        json={"application_credential": {"name": "more"}}, raise_exc=False)
    assert denied.status_code == 403
    trust = app.post(real_keystone.v3 + "/OS-TRUST/trusts", json={"trust": {
        "trustor_user_id": user_id, "trustee_user_id": user_id,
        "project_id": project_id, "impersonation": False,
        "roles": [{"name": "member"}]}}, raise_exc=False)
    assert trust.status_code == 403


def test_clouds_yaml_authenticates(real_keystone, member,  # noqa: F811
                                   tmp_path):
    from openstack import config as os_config
    from openstack import connection

    user_id, project_id, session = member
    keystone = ks.Keystone(session, real_keystone.admin_session(),
                           interface="public")
    assert keystone.auth_url == real_keystone.v3
    assert keystone.region == real_keystone.region
    cred = keystone.create_app_credential(str(uuid.uuid4()), user_id)
    text = ks.clouds_yaml(keystone.auth_url, keystone.region, "public",
                          cred["id"], cred["secret"], project_id,
                          keystone.verify)
    path = tmp_path / "clouds.yaml"
    path.write_text(text)
    cloud = os_config.OpenStackConfig(
        config_files=[str(path)]).get_one("openstack")
    conn = connection.Connection(config=cloud)
    assert conn.session.get_project_id() == project_id
    assert yaml.safe_load(text)["clouds"]["openstack"]["region_name"] == (
        real_keystone.region)


def test_rotation_and_admin_cleanup(real_keystone, member):  # noqa: F811
    from keystoneauth1 import exceptions

    user_id, project_id, session = member
    keystone = ks.Keystone(session, real_keystone.admin_session(),
                           interface="public")
    cluster = str(uuid.uuid4())
    old = keystone.create_app_credential(cluster, user_id)
    new = keystone.create_app_credential(cluster, user_id)
    other = keystone.create_app_credential(str(uuid.uuid4()), user_id)
    assert new["name"].startswith(old["name"] + "-")
    found = {c["id"]
             for c in keystone.find_app_credentials(cluster, user_id)}
    assert found == {old["id"], new["id"]}

    assert keystone.delete_app_credentials(cluster, user_id,
                                           keep=new["id"]) == 1
    with pytest.raises((exceptions.Unauthorized, exceptions.NotFound)):
        real_keystone.app_credential_session(
            old["id"], old["secret"]).get_token()
    real_keystone.app_credential_session(new["id"], new["secret"]).get_token()

    # The user's token is gone: only the admin session is left.
    admin_only = ks.Keystone(None, real_keystone.admin_session(),
                             interface="public")
    assert admin_only.delete_app_credentials(cluster, user_id) == 1
    assert admin_only.delete_app_credentials(cluster, user_id) == 0
    assert [c["id"] for c in admin_only.find_app_credentials(
        str(other["name"])[len(ks.app_credential_name("")):],
        user_id)] == [other["id"]]


def test_user_on_a_restricted_credential_gets_a_clear_error(
        real_keystone, member):  # noqa: F811
    user_id, project_id, session = member
    admin = real_keystone.admin_session()
    first = ks.Keystone(session, admin).create_app_credential(
        str(uuid.uuid4()), user_id)
    app_session = real_keystone.app_credential_session(first["id"],
                                                       first["secret"])
    with pytest.raises(ks.KeystoneError) as caught:
        ks.Keystone(app_session, admin).create_app_credential(
            str(uuid.uuid4()), user_id)
    assert caught.value.status == 403
    assert "restricted application credential" in str(caught.value)
    assert first["secret"] not in str(caught.value)
