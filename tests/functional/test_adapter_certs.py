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
"""CA Secrets from Magnum's real cert manager onto a real kube-apiserver."""

from magnum.conductor.handlers.common import cert_manager
from magnum.tests.unit.db import base as db_base
from magnum.tests.unit.objects import utils as obj_utils
import pytest

from magnum_capi_rdma.adapters import certs
from magnum_capi_rdma.adapters import kube as kube_adapter
from magnum_capi_rdma import conf as conf_mod

OWNER = {"magnum.openstack.org/managed-by": "magnum-capi-rdma"}


class TestWriteCaSecrets(db_base.DbTestCase):

    @pytest.fixture(autouse=True)
    def _bed(self, kube_api_client, namespace):
        versions = {option: conf_mod.cfg.CONF.capi_rdma[option]
                    for option, _ in kube_adapter.KINDS.values()}
        self.kube = kube_adapter.Kube(kube_api_client, versions)
        self.namespace = namespace

    def setUp(self):
        super().setUp()
        self.config(cert_manager_type="x509keypair", group="certificates")
        self.cluster = obj_utils.create_test_cluster(self.context)
        cert_manager.generate_certificates_to_cluster(self.cluster,
                                                      self.context)
        self.cluster.save()

    def _versions(self, names):
        return [self.kube.core.read_namespaced_secret(
            name, self.namespace).metadata.resource_version
            for name in names]

    def test_secrets_land_as_capi_expects_and_idempotently(self):
        names = certs.write_ca_secrets(self.kube, self.namespace, "rel",
                                       self.context, self.cluster, OWNER)
        self.assertEqual(["rel-ca", "rel-etcd", "rel-proxy", "rel-sa"],
                         names)
        material = certs.load_ca_material(self.context, self.cluster)
        for name, part in zip(names, certs.PARTS):
            meta = self.kube.get_secret_metadata(self.namespace, name)
            self.assertEqual("cluster.x-k8s.io/secret", meta["type"])
            self.assertEqual("rel", meta["labels"][
                "cluster.x-k8s.io/cluster-name"])
            self.assertEqual("magnum-capi-rdma", meta["labels"][
                "magnum.openstack.org/managed-by"])
            data = self.kube.get_secret(self.namespace, name)
            self.assertEqual({"tls.crt", "tls.key"}, set(data))
            self.assertEqual(material[part], data)

        before = self._versions(names)
        again = certs.write_ca_secrets(self.kube, self.namespace, "rel",
                                       self.context, self.cluster, OWNER)
        self.assertEqual(names, again)
        self.assertEqual(before, self._versions(names))  # nothing changed

    def test_replaces_a_secret_capi_generated_first(self):
        # Cluster API got there first with its own CA (type Opaque here):
        # ours replaces it, type included.
        self.kube.apply_secret(self.namespace, "rel-ca",
                               {"tls.crt": "other", "tls.key": "other"})
        certs.write_ca_secrets(self.kube, self.namespace, "rel",
                               self.context, self.cluster, OWNER)
        material = certs.load_ca_material(self.context, self.cluster)
        self.assertEqual(material["ca"],
                         self.kube.get_secret(self.namespace, "rel-ca"))
        self.assertEqual("cluster.x-k8s.io/secret", self.kube.
                         get_secret_metadata(self.namespace,
                                             "rel-ca")["type"])
