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
"""CA rotation is refused and leaves Magnum's CA as it was."""

import types

import pytest

from magnum_capi_rdma import errors
from magnum_capi_rdma.services import certificates


def _cluster(**refs):
    values = dict(uuid="c-uuid", name="hpc")
    values.update(refs)
    return types.SimpleNamespace(**values)


def test_refusal_restores_the_cas_in_use_and_removes_the_new_ones():
    stored = _cluster(ca_cert_ref="ca-old", magnum_cert_ref="client-old",
                      etcd_ca_cert_ref="etcd-old",
                      front_proxy_ca_cert_ref="fp-old")
    # What Magnum's conductor hands over: new CAs already generated.
    rotated = _cluster(ca_cert_ref="ca-new", magnum_cert_ref="client-new",
                       etcd_ca_cert_ref="etcd-new",
                       front_proxy_ca_cert_ref="fp-new")
    deleted = []
    with pytest.raises(errors.OperationNotSupported) as err:
        certificates.refuse_ca_rotation(
            None, rotated, stored=stored,
            delete_cert=lambda ref, uuid: deleted.append((ref, uuid)))
    for ref in certificates.CA_REFS:
        assert getattr(rotated, ref) == getattr(stored, ref)
    assert sorted(deleted) == sorted(
        (new, "c-uuid") for new in ("ca-new", "client-new", "etcd-new",
                                    "fp-new"))
    text = str(err.value)
    assert "Cluster API does not rotate" in text
    assert "create a new cluster" in text
    assert err.value.code == 400


def test_refusal_survives_a_failed_clean_up():
    stored = _cluster(ca_cert_ref="ca-old", magnum_cert_ref=None,
                      etcd_ca_cert_ref=None, front_proxy_ca_cert_ref=None)
    rotated = _cluster(ca_cert_ref="ca-new", magnum_cert_ref=None,
                       etcd_ca_cert_ref=None, front_proxy_ca_cert_ref=None)

    def broken(ref, uuid):
        raise RuntimeError("barbican down")

    with pytest.raises(errors.OperationNotSupported):
        certificates.refuse_ca_rotation(None, rotated, stored=stored,
                                        delete_cert=broken)
    assert rotated.ca_cert_ref == "ca-old"


def test_the_driver_refuses_through_the_service(monkeypatch):
    from magnum_capi_rdma import driver

    seen = []
    monkeypatch.setattr(certificates, "refuse_ca_rotation",
                        lambda context, cluster: seen.append(cluster))
    cluster = _cluster()
    driver.Driver().rotate_ca_certificate(None, cluster)
    assert seen == [cluster]
