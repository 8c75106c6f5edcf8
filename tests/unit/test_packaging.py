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
"""Packaging checks: Magnum's loader, the config sample, the wheel.

Magnum's own loader finds the driver; the config sample is generated from
the code; the wheel holds the driver only (no simulator, no test bed, no
``magnum_capi_rdma_dev``), and the driver never imports the dev package.
"""

import ast
import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile

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


# -- what the wheel holds -----------------------------------------------------

DEV_PACKAGE = "magnum_capi_rdma_dev"
NOT_SOURCES = (".git", ".tox", ".venv", "build", "dist", "*.egg-info",
               "__pycache__", ".pytest_cache", "artifacts", ".kube")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """Every name in the wheel built from this checkout (once, offline).

    Built by ``pip wheel --no-build-isolation`` from a copy of the sources
    (no ``.git``: pbr takes the version from ``PBR_VERSION``), so nothing
    is downloaded and no stale ``build/`` folder can leak into it.
    """
    missing = [name for name in ("pip", "setuptools", "pbr")
               if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip("wheel not built: %s not installed (needed to build it "
                    "offline)" % ", ".join(missing))
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    shutil.copytree(ROOT, source,
                    ignore=shutil.ignore_patterns(*NOT_SOURCES))
    out = work / "out"
    env = dict(os.environ, PBR_VERSION="0.0.1.dev0",
               PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INDEX="1")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps",
         "--no-build-isolation", "-q", "-w", str(out), str(source)],
        cwd=str(work), env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = out.glob("magnum_capi_rdma-*.whl")
    return built


@pytest.fixture(scope="module")
def wheel_names(wheel):
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_wheel_holds_the_driver_only(wheel_names):
    tops = {name.split("/", 1)[0] for name in wheel_names}
    assert "magnum_capi_rdma/driver.py" in wheel_names
    assert {t for t in tops if not t.endswith((".dist-info", ".data"))} == {
        "magnum_capi_rdma"}, sorted(tops)


#: What the wheel installs under <prefix>/share/magnum-capi-rdma/ (pbr
#: data_files in setup.cfg), from these files of the checkout.
SHARED_FILES = {
    "share/magnum-capi-rdma/magnum-capi-rdma.conf.sample":
        "etc/magnum-capi-rdma.conf.sample",
    "share/magnum-capi-rdma/rbac/magnum-capi-rdma.yaml":
        "etc/rbac/magnum-capi-rdma.yaml",
}


def test_wheel_carries_the_sample_config_and_rbac(wheel, wheel_names):
    data = {name.split(".data/data/", 1)[1]: name for name in wheel_names
            if ".data/data/" in name}
    assert sorted(data) == sorted(SHARED_FILES)
    with zipfile.ZipFile(wheel) as archive:
        for installed, source in SHARED_FILES.items():
            with open(os.path.join(ROOT, source), "rb") as handle:
                assert archive.read(data[installed]) == handle.read(), source


def test_wheel_has_no_simulator_bed_or_dev_package(wheel_names):
    assert not [n for n in wheel_names if n.startswith(DEV_PACKAGE)]
    for name in wheel_names:
        parts = name.split("/")
        modules = {os.path.splitext(part)[0] for part in parts}
        assert not modules & {"simulator", "bed", DEV_PACKAGE,
                              "tests"}, name


def test_wheel_entry_points_are_the_drivers(wheel, wheel_names):
    (name,) = [n for n in wheel_names
               if n.endswith(".dist-info/entry_points.txt")]
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(name).decode()
    assert "k8s_capi_rdma = magnum_capi_rdma.driver:Driver" in text
    assert DEV_PACKAGE not in text


def test_no_simulator_in_the_shipped_package():
    package = os.path.join(ROOT, "magnum_capi_rdma")
    assert not os.path.exists(os.path.join(package, "simulator"))
    assert not os.path.exists(os.path.join(package, "simulator.py"))
    assert os.path.isfile(os.path.join(ROOT, DEV_PACKAGE, "simulator",
                                       "core.py"))


def _imports(path):
    with open(path, "rb") as handle:
        tree = ast.parse(handle.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.lineno, node.module


def test_shipped_package_never_imports_dev_or_test_code():
    """The layer rule: the driver imports no dev package and no tests.

    ``magnum_capi_rdma`` may be imported by ``magnum_capi_rdma_dev`` (the
    simulator and the test bed) and the tests, never the other way round.
    """
    found = []
    package = os.path.join(ROOT, "magnum_capi_rdma")
    for folder, _dirs, files in os.walk(package):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            with open(path, encoding="utf-8") as handle:
                if DEV_PACKAGE in handle.read():
                    found.append("%s: names %s" % (path, DEV_PACKAGE))
            for line, module in _imports(path):
                if module.split(".")[0] in (DEV_PACKAGE, "tests"):
                    found.append("%s:%d: imports %s" % (path, line, module))
    assert not found, "\n".join(found)
