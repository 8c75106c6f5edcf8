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
"""Magnum's cluster CAs written as the Secrets Cluster API expects.

Cluster API generates ``<cluster>-ca``, ``-etcd``, ``-proxy`` and ``-sa``
when they are missing; writing Magnum's own CAs there first makes the
workload cluster trust the CA Magnum signs user certificates with, so
``openstack coe cluster config`` works.

Each Secret has type ``cluster.x-k8s.io/secret``, keys ``tls.crt`` and
``tls.key``, and the ``cluster.x-k8s.io/cluster-name`` label. For ``-sa``
the pair is the service-account signing key: ``tls.key`` the private key
and ``tls.crt`` its public key (PEM), derived from Magnum's per-cluster
client key pair. Key material is never logged.
"""

import logging

from magnum_capi_rdma import contract

LOG = logging.getLogger(__name__)

#: Secret suffix -> Magnum CA type (None: the cluster CA).
CAS = (("ca", None), ("etcd", "etcd"), ("proxy", "front_proxy"))
PARTS = ("ca", "etcd", "proxy", "sa")


class CertsError(Exception):
    """The cluster's certificates could not be read or written."""


def ca_secrets(release, ca_material, labels=None):
    """The four Secrets (as dicts) for ``release`` (pure).

    ``ca_material``: {"ca"|"etcd"|"proxy"|"sa": {"tls.crt": PEM,
    "tls.key": PEM}}. Returns [{name, type, labels, string_data}] in the
    order ca, etcd, proxy, sa.
    """
    missing = [part for part in PARTS
               if not (ca_material.get(part) or {}).get("tls.crt")
               or not (ca_material.get(part) or {}).get("tls.key")]
    if missing:
        raise CertsError("cluster %s: no certificate or key for %s"
                         % (release, ", ".join(missing)))
    secret_labels = dict(labels or {})
    secret_labels[contract.CAPI_CLUSTER_NAME_LABEL] = release
    return [{
        "name": "%s-%s" % (release, part),
        "type": contract.CAPI_SECRET_TYPE,
        "labels": dict(secret_labels),
        "string_data": {"tls.crt": ca_material[part]["tls.crt"],
                        "tls.key": ca_material[part]["tls.key"]},
    } for part in PARTS]


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def public_key_pem(private_key_pem):
    """The SubjectPublicKeyInfo PEM of a PEM private key."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(
        private_key_pem.encode() if isinstance(private_key_pem, str)
        else private_key_pem, password=None)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _pair(cert):
    """(certificate PEM, decrypted private key PEM) of a Magnum cert."""
    from magnum.common.x509 import operations as x509

    key = x509.decrypt_key(cert.get_private_key(),
                           cert.get_private_key_passphrase())
    return _text(cert.get_certificate()), _text(key)


def load_ca_material(context, cluster):
    """Read the cluster's CAs and service-account key from Magnum."""
    from magnum.conductor.handlers.common import cert_manager

    refs = {"ca": cluster.ca_cert_ref,
            "etcd": cluster.etcd_ca_cert_ref,
            "proxy": cluster.front_proxy_ca_cert_ref,
            "sa": cluster.magnum_cert_ref}
    missing = [part for part, ref in refs.items() if not ref]
    if missing:
        raise CertsError("cluster %s has no %s certificate in Magnum"
                         % (cluster.uuid, ", ".join(missing)))
    material = {}
    try:
        for part, ca_type in CAS:
            cert = cert_manager.get_cluster_ca_certificate(
                cluster, context, ca_type)
            crt, key = _pair(cert)
            material[part] = {"tls.crt": crt, "tls.key": key}
        _, sa_key = _pair(cert_manager.get_cluster_magnum_cert(cluster,
                                                               context))
        material["sa"] = {"tls.crt": public_key_pem(sa_key),
                          "tls.key": sa_key}
    except CertsError:
        raise
    except Exception as exc:  # noqa: B902 - any backend failure
        raise CertsError("cannot read the certificates of cluster %s from "
                         "Magnum's cert manager: %s"
                         % (cluster.uuid, type(exc).__name__)) from None
    return material


def write_ca_secrets(kube, namespace, release, context, cluster,
                     labels=None):
    """Write ``<release>-ca/-etcd/-proxy/-sa`` (idempotent); their names."""
    names = []
    for secret in ca_secrets(release, load_ca_material(context, cluster),
                             labels):
        kube.apply_secret(namespace, secret["name"], secret["string_data"],
                          labels=secret["labels"], type=secret["type"])
        names.append(secret["name"])
    LOG.debug("Wrote CA secrets %s in %s", ", ".join(names), namespace)
    return names
