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
"""The cluster's OpenStack credentials on the management cluster.

Each cluster gets a restricted application credential of the user who
made (or last rotated) it, written as a ``clouds.yaml`` Secret for the
chart. The Secret's annotation names every user whose credentials may
still exist, so a rotation or a delete removes them all.
"""

from magnum.common import context as magnum_context
from magnum.common import keystone as magnum_keystone
from oslo_config import cfg

from magnum_capi_rdma.adapters import keystone as keystone_adapter
from magnum_capi_rdma import contract
from magnum_capi_rdma import magnum_objects

CONF = cfg.CONF


def credential_owners(secret_metadata):
    """User ids whose application credentials back the cluster."""
    annotations = (secret_metadata or {}).get("annotations") or {}
    return {u for u in (annotations.get(contract.OWNERS_ANNOTATION) or
                        "").split(",") if u}


def default_keystone(context):
    """The Keystone adapter for a request context (user and admin)."""
    admin_ctx = magnum_context.make_admin_context()
    admin_session = magnum_keystone.KeystoneClientV3(admin_ctx).session
    if context is None or context.is_admin and not context.auth_token:
        return keystone_adapter.Keystone(admin_session, admin_session)
    user_session = magnum_keystone.KeystoneClientV3(context).session
    return keystone_adapter.Keystone(user_session, admin_session)


class Credentials(object):
    """Application credentials of clusters and their Secrets.

    :param kube: the Kube adapter.
    :param keystone_factory: ``context -> Keystone adapter`` (``None``:
        the admin's).
    """

    def __init__(self, kube, keystone_factory):
        self.kube = kube
        self.keystone_factory = keystone_factory

    def ensure(self, context, cluster, release, namespace, rotate=False):
        """The clouds.yaml + CA Secret backed by a restricted app cred."""
        name = magnum_objects.credentials_secret_name(release)
        existing = self.kube.get_secret_metadata(namespace, name)
        if existing and not rotate:
            return
        keystone = self.keystone_factory(context)
        cred = keystone.create_app_credential(
            cluster.uuid, context.user_id, cluster.project_id,
            roles=CONF.capi_rdma.app_credential_roles or None)
        clouds = keystone_adapter.clouds_yaml(
            auth_url=keystone.auth_url,
            region=keystone.region,
            interface=CONF.capi_rdma.endpoint_interface,
            app_cred_id=cred["id"],
            app_cred_secret=cred["secret"],
            project_id=cluster.project_id,
            verify=keystone.verify,
        )
        cacert = ""
        if CONF.capi_rdma.ca_file:
            with open(CONF.capi_rdma.ca_file) as f:
                cacert = f.read()
        previous = credential_owners(existing) | {context.user_id}
        self.kube.apply_secret(
            namespace, name,
            keystone_adapter.cloud_credentials_secret(clouds, cacert),
            labels=magnum_objects.ownership_labels(cluster),
            annotations={contract.OWNERS_ANNOTATION: context.user_id})
        # Whatever an earlier, interrupted attempt or the credential being
        # rotated left behind goes now that the new one is in place, also
        # when another user of the project made it.
        for owner in sorted(previous):
            keystone.delete_app_credentials(cluster.uuid, owner,
                                            keep=cred["id"])

    def revoke(self, cluster, release, namespace, namespace_present):
        """Delete every application credential of a deleted cluster.

        Its owner's, and those the Secret (if its namespace is still
        there) names. Raises what Keystone or the management cluster
        raised.
        """
        owners = {cluster.user_id}
        if namespace_present:
            owners |= credential_owners(self.kube.get_secret_metadata(
                namespace, magnum_objects.credentials_secret_name(release)))
        keystone = self.keystone_factory(None)
        for owner in sorted(owners):
            keystone.delete_app_credentials(cluster.uuid, owner)
