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
"""Packaging checks: Magnum's own loader finds the driver; config sample."""

import os
import subprocess
import sys

from magnum.drivers.common import driver as magnum_driver
import pytest

from magnum_capi_rdma import driver as capi_driver

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


@pytest.fixture(autouse=True)
def _reset_driver_cache():
    magnum_driver.Driver.definitions = None
    yield
    magnum_driver.Driver.definitions = None


@pytest.mark.parametrize("server_type,os_name", [
    ("vm", "ubuntu"), ("vm", "flatcar"), ("bm", "ubuntu")])
def test_magnum_loader_returns_this_driver(server_type, os_name):
    found = magnum_driver.Driver.get_driver(server_type, os_name,
                                            "kubernetes")
    assert isinstance(found, capi_driver.Driver)


def test_unprovided_combination_is_not_ours():
    with pytest.raises(Exception) as info:
        magnum_driver.Driver.get_driver("bm", "flatcar", "kubernetes")
    assert "bm" in str(info.value) or "flatcar" in str(info.value)


def test_sample_config_is_generated_from_the_code(tmp_path):
    out = tmp_path / "sample.conf"
    subprocess.run(
        [sys.executable, "-m", "oslo_config.generator",
         "--config-file",
         os.path.join(ROOT, "etc/oslo-config-generator/"
                      "magnum-capi-rdma.conf"),
         "--output-file", str(out)],
        check=True, cwd=ROOT)
    generated = out.read_text()
    assert "[capi_rdma]" in generated
    assert "[capi_rdma_labels]" in generated
    with open(os.path.join(ROOT, "etc/magnum-capi-rdma.conf.sample")) as f:
        committed = f.read()
    assert committed == generated, (
        "etc/magnum-capi-rdma.conf.sample is stale: run tox -e genconfig")
