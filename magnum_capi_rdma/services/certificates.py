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
"""CA rotation: refused, and Magnum's CA left as it was.

Cluster API does not rotate a cluster's certificate authorities (its book
says so, and recommends replacing clusters before their CA expires).
Magnum's conductor makes new CAs *before* it asks the driver, and saves
the cluster whatever the driver answers; so besides refusing, the driver
puts the cluster's CA references back to the ones the cluster runs with
and removes the CAs Magnum has just made, so nothing changes and nothing
is left behind.
"""

from oslo_log import log as logging

from magnum_capi_rdma import errors

LOG = logging.getLogger(__name__)

#: The cluster's certificate references Magnum's rotation replaces.
CA_REFS = ("ca_cert_ref", "magnum_cert_ref", "etcd_ca_cert_ref",
           "front_proxy_ca_cert_ref")

MESSAGE = (
    "Rotating the CA of cluster %s is not supported: Cluster API does not "
    "rotate a cluster's certificate authorities, so the cluster keeps its "
    "CA and Magnum's record of it is unchanged. Before the CA expires, "
    "create a new cluster and move the workloads to it. Leaf certificates "
    "(API server, kubelets, etcd) are renewed by Cluster API when machines "
    "are replaced: control plane machines automatically before their "
    "certificates expire (label certificate_renewal_days), and by "
    "upgrades.")


def refuse_ca_rotation(context, cluster, stored=None, delete_cert=None):
    """Undo what Magnum did before asking, then refuse.

    :param stored: the cluster as saved before the rotation (its
        references are the CAs in use); loaded when not given.
    :param delete_cert: ``delete_cert(ref, cluster_uuid)`` for the CAs
        Magnum made for the rotation; Magnum's certificate manager when
        not given.
    """
    if stored is None:
        stored = type(cluster).get_by_uuid(context, cluster.uuid)
    if delete_cert is None:
        delete_cert = _magnum_delete_cert(context)
    for ref in CA_REFS:
        new, old = getattr(cluster, ref, None), getattr(stored, ref, None)
        if new and new != old:
            try:
                delete_cert(new, cluster.uuid)
            except Exception as exc:  # the refusal matters more
                LOG.warning("Cluster %s: the CA Magnum made for a refused "
                            "rotation was not removed (%s): %s",
                            cluster.uuid, ref, errors.short(exc))
        setattr(cluster, ref, old)
    raise errors.OperationNotSupported(
        reason=MESSAGE % (cluster.name or cluster.uuid))


def _magnum_delete_cert(context):
    from magnum.common.x509 import operations  # noqa: F401  (loads certs)
    from magnum.conductor.handlers.common import cert_manager

    def delete(ref, cluster_uuid):
        cert_manager.cert_manager.get_backend().CertManager.delete_cert(
            ref, resource_ref=cluster_uuid, context=context)
    return delete
