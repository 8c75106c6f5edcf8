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
"""``[capi_rdma] trusted_ca_files``: read by conf, judged by the spec.

The real chart's rendering of them is in
``tests/functional/test_render_peer_labels.py``.
"""

from oslo_config import cfg
import pytest

from magnum_capi_rdma import conf as capi_conf
from magnum_capi_rdma.features import registries

BODY = "MIIBszCCAVmgAwIBAgIBATAKBggqhkjOPQQDAjAWMRQwEgYDVQQDDAtyZWdpc3Ry\n"
PEM = ("-----BEGIN CERTIFICATE-----\n" + BODY +
       "-----END CERTIFICATE-----\n")


def _site(tmp_path, *paths):
    conf = cfg.ConfigOpts()
    capi_conf.register_opts(conf)
    conf([], project="magnum-capi-rdma-test")
    conf.set_override("trusted_ca_files", [str(p) for p in paths],
                      group="capi_rdma")
    return capi_conf.site_options(conf)["trusted_ca_files"]


def test_files_are_read_with_a_bound(tmp_path):
    (tmp_path / "ok.pem").write_text(PEM)
    (tmp_path / "huge.pem").write_text(PEM * 5000)
    found = _site(tmp_path, tmp_path / "ok.pem", tmp_path / "huge.pem",
                  tmp_path / "gone.pem")
    assert found[0] == (str(tmp_path / "ok.pem"), PEM, None)
    assert found[1] == (str(tmp_path / "huge.pem"), None,
                        "larger than 256 KiB")
    assert found[2][1] is None and "No such file" in found[2][2]
    assert _site(tmp_path) == ()


@pytest.mark.parametrize("text, why", [
    (PEM, None),
    (PEM.replace("\n", "\r\n"), None),
    (PEM + PEM, None),
    ("", "no PEM certificate in it"),
    ("just text", "no PEM certificate in it"),
    (PEM + "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
     "something else than certificates"),
    (PEM.replace(BODY, "MIIB=szCC\n"), "not valid base64"),
    (PEM.replace(BODY, "MIIBs\n"), "not valid base64"),
])
def test_only_certificates(text, why):
    problem = registries._pem_problem(text)
    if why is None:
        assert problem is None
    else:
        assert why in problem


@pytest.mark.parametrize("path, name", [
    ("/etc/magnum/ca/registry.pem", "registry"),
    ("/etc/magnum/ca/proxy.CRT", "proxy"),
    ("ca.cer", "ca"),
    ("/x/bundle", "bundle"),
    ("/x/two.dots.pem", "two.dots"),
])
def test_the_name_on_the_nodes(path, name):
    assert registries._ca_name(path) == name


def test_a_file_is_read_again_only_once_it_changed(tmp_path, monkeypatch):
    """Health polls build the spec of every cluster: no read per poll."""
    path = tmp_path / "ca.pem"
    path.write_text(PEM)
    reads = []
    real = capi_conf._read_uncached
    monkeypatch.setattr(capi_conf, "_read_uncached",
                        lambda p: reads.append(p) or real(p))
    for _ in range(3):
        assert _site(tmp_path, path)[0][1] == PEM
    assert len(reads) == 1
    path.write_text(PEM + PEM)
    assert _site(tmp_path, path)[0][1] == PEM + PEM
    assert len(reads) == 2
