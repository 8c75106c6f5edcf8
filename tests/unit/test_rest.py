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
"""The read transport's decoding and kubeconfig (no server here)."""

import base64
import json
import pathlib
import subprocess
import sys
import tempfile

import pytest

from magnum_capi_rdma.adapters import rest


def items_of(text):
    meta = {}
    return list(rest.iter_items(text, meta)), meta


@pytest.mark.parametrize("body", [
    # Custom resources: keys sorted, metadata after the items.
    {"apiVersion": "x/v1", "items": [{"a": 1}, {"b": [1, {"c": "]"}]}],
     "kind": "XList", "metadata": {"continue": "tok",
                                   "resourceVersion": "5"}},
    # Built-in kinds: metadata first.
    {"kind": "LeaseList", "apiVersion": "coordination.k8s.io/v1",
     "metadata": {"resourceVersion": "5", "continue": "tok"},
     "items": [{"a": 1}, {"b": [1, {"c": "]"}]}]},
])
def test_items_are_decoded_one_at_a_time_whatever_the_key_order(body):
    for text in (json.dumps(body, separators=(",", ":")),
                 json.dumps(body, indent=2)):
        items, meta = items_of(text)
        assert items == [{"a": 1}, {"b": [1, {"c": "]"}]}]
        assert meta == {"continue": "tok", "resourceVersion": "5"}


def test_empty_and_null_items():
    assert items_of('{"items":[],"metadata":{"resourceVersion":"1"}}') == (
        [], {"resourceVersion": "1"})
    assert items_of('{"items":null,"metadata":{}}') == ([], {})


def test_a_bearer_token_kubeconfig(tmp_path):
    config = {
        "clusters": [{"name": "c", "cluster": {
            "server": "https://127.0.0.1:6443/",
            "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "secret-token"}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c",
                                                 "user": "u"}}],
        "current-context": "ctx",
    }
    creds = rest.credentials_from_dict(config, str(tmp_path))
    assert creds.server == "https://127.0.0.1:6443"
    assert creds.headers() == {"Authorization": "Bearer secret-token"}


def test_a_token_file_is_read_on_every_request(tmp_path):
    token = tmp_path / "token"
    token.write_text("one\n")
    config = {
        "clusters": [{"name": "c", "cluster": {
            "server": "https://127.0.0.1:6443",
            "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"tokenFile": "token"}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c",
                                                 "user": "u"}}],
        "current-context": "ctx",
    }
    creds = rest.credentials_from_dict(config, str(tmp_path))
    assert creds.headers()["Authorization"] == "Bearer one"
    token.write_text("two\n")     # rotated
    assert creds.headers()["Authorization"] == "Bearer two"


def test_client_certificates_never_stay_on_disk(tmp_path):
    """The certificate and key are loaded and their files removed."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from magnum_capi_rdma_dev.bed import cluster as bed_cluster

    key = ec.generate_private_key(ec.SECP256R1())
    cert = bed_cluster._certificate("user", key, "user", key, False)
    config = {
        "clusters": [{"name": "c", "cluster": {
            "server": "https://127.0.0.1:6443",
            "certificate-authority-data": base64.b64encode(cert).decode()}}],
        "users": [{"name": "u", "user": {
            "client-certificate-data": base64.b64encode(cert).decode(),
            "client-key-data": base64.b64encode(
                bed_cluster._pem_key(key)).decode()}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c",
                                                 "user": "u"}}],
        "current-context": "ctx",
    }

    def private_dirs():
        return set(pathlib.Path(tempfile.gettempdir()).glob("capi-rdma-*"))

    before = private_dirs()
    creds = rest.credentials_from_dict(config, str(tmp_path))
    after = private_dirs()
    assert creds.headers() == {}
    assert after <= before


def test_status_reads_load_neither_kubernetes_nor_pyhelm3():
    """A conductor that only runs status and health passes stays small."""
    code = ("import sys; import magnum_capi_rdma.driver; "
            "from magnum_capi_rdma.adapters import rest, watch; "
            "print(sorted(m for m in ('kubernetes', 'pyhelm3') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
