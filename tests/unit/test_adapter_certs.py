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
"""The certs adapter with Magnum's real cert manager (x509keypair, sqlite).

Also proves the point of it all: a client certificate Magnum signs for the
cluster (what ``openstack coe cluster config`` fetches) verifies against
the ``-ca`` Secret's certificate.
"""

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography import x509
from cryptography.x509.oid import NameOID
from magnum.conductor.handlers.common import cert_manager
from magnum.tests.unit.db import base as db_base
from magnum.tests.unit.objects import utils as obj_utils
import pytest

from magnum_capi_rdma.adapters import certs


def _verify_signed_by(cert_pem, ca_pem):
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    ca = x509.load_pem_x509_certificate(ca_pem.encode())
    key = ca.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(cert.signature, cert.tbs_certificate_bytes,
                   padding.PKCS1v15(), cert.signature_hash_algorithm)
    else:
        key.verify(cert.signature, cert.tbs_certificate_bytes,
                   ec.ECDSA(cert.signature_hash_algorithm))
    assert cert.issuer == ca.subject


def _same_public_key(cert_or_pub_pem, key_pem):
    key = serialization.load_pem_private_key(key_pem.encode(), None)
    if "CERTIFICATE" in cert_or_pub_pem:
        public = x509.load_pem_x509_certificate(
            cert_or_pub_pem.encode()).public_key()
    else:
        public = serialization.load_pem_public_key(cert_or_pub_pem.encode())
    fmt = (serialization.Encoding.DER,
           serialization.PublicFormat.SubjectPublicKeyInfo)
    return public.public_bytes(*fmt) == key.public_key().public_bytes(*fmt)


class MagnumCertsCase(db_base.DbTestCase):
    """A cluster in Magnum's sqlite DB with real generated certificates."""

    def setUp(self):
        super().setUp()
        self.config(cert_manager_type="x509keypair", group="certificates")
        self.cluster = obj_utils.create_test_cluster(self.context)
        cert_manager.generate_certificates_to_cluster(self.cluster,
                                                      self.context)
        self.cluster.save()


class TestLoadCaMaterial(MagnumCertsCase):

    def test_three_cas_and_the_service_account_pair(self):
        material = certs.load_ca_material(self.context, self.cluster)
        self.assertEqual({"ca", "etcd", "proxy", "sa"}, set(material))
        crts = set()
        for part in ("ca", "etcd", "proxy"):
            pem = material[part]["tls.crt"]
            cert = x509.load_pem_x509_certificate(pem.encode())
            self.assertTrue(cert.extensions.get_extension_for_class(
                x509.BasicConstraints).value.ca)
            self.assertTrue(_same_public_key(pem, material[part]["tls.key"]))
            self.assertNotIn("ENCRYPTED", material[part]["tls.key"])
            crts.add(pem)
        self.assertEqual(3, len(crts))  # three distinct CAs
        self.assertIn("PUBLIC KEY", material["sa"]["tls.crt"])
        self.assertTrue(_same_public_key(material["sa"]["tls.crt"],
                                         material["sa"]["tls.key"]))

    def test_certificates_magnum_signs_verify_against_ca_secret(self):
        material = certs.load_ca_material(self.context, self.cluster)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        csr = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([
                   x509.NameAttribute(NameOID.COMMON_NAME, "admin"),
                   x509.NameAttribute(NameOID.ORGANIZATION_NAME,
                                      "system:masters")]))
               .sign(key, hashes.SHA256()))
        signed = cert_manager.sign_node_certificate(
            self.cluster, csr.public_bytes(serialization.Encoding.PEM)
            .decode(), context=self.context)
        _verify_signed_by(certs._text(signed), material["ca"]["tls.crt"])

    def test_missing_reference_is_named(self):
        self.cluster.front_proxy_ca_cert_ref = None
        # pytest.raises: testtools' assertRaises (Magnum 20, 21) is no
        # context manager.
        with pytest.raises(certs.CertsError) as caught:
            certs.load_ca_material(self.context, self.cluster)
        self.assertIn("proxy", str(caught.value))
        self.assertIn(self.cluster.uuid, str(caught.value))

    def test_unknown_reference_is_a_clear_error(self):
        self.cluster.etcd_ca_cert_ref = "no-such-cert"
        with pytest.raises(certs.CertsError) as caught:
            certs.load_ca_material(self.context, self.cluster)
        self.assertIn("cert manager", str(caught.value))


MATERIAL = {part: {"tls.crt": "crt-" + part, "tls.key": "key-" + part}
            for part in certs.PARTS}


def test_ca_secrets_names_types_labels():
    secrets = certs.ca_secrets("r1", MATERIAL, {"owner": "us"})
    assert [s["name"] for s in secrets] == ["r1-ca", "r1-etcd", "r1-proxy",
                                            "r1-sa"]
    for secret, part in zip(secrets, certs.PARTS):
        assert secret["type"] == "cluster.x-k8s.io/secret"
        assert secret["labels"] == {"owner": "us",
                                    "cluster.x-k8s.io/cluster-name": "r1"}
        assert secret["string_data"] == MATERIAL[part]


def test_ca_secrets_refuses_incomplete_material():
    broken = dict(MATERIAL, etcd={"tls.crt": "x"})
    with pytest.raises(certs.CertsError) as caught:
        certs.ca_secrets("r1", broken)
    assert "etcd" in str(caught.value)
