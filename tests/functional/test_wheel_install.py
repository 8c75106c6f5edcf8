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
"""The wheel, installed as an operator does, beside every supported Magnum.

``python -m build`` makes the sdist and the wheel from a copy of the
checkout (with its ``.git``: pbr takes the version and the sdist's files
from git, so a file not yet added to git is not in the sdist). Then, for
each Magnum release of ``setup.cfg`` (``[magnum_capi_rdma]
magnum_releases``), a clean virtualenv gets that Magnum and the wheel with
the release's OpenStack upper constraints (``tools/upper-constraints/``:
what kolla's images and OpenStack-Ansible install with), and, from a
folder outside the checkout:

- Magnum's own loader (``Driver.get_driver``, the ``magnum.drivers``
  entry points through stevedore) returns this driver for every
  (server type, OS, COE) it provides, loaded from the virtualenv;
- ``oslo-config-generator --namespace magnum_capi_rdma`` (the
  ``oslo.config.opts`` entry point) lists the driver's options;
- the ``magnum-capi-rdma`` command runs;
- the sample configuration and the RBAC manifests are in
  ``<venv>/share/magnum-capi-rdma/``.

Needs PyPI. The virtualenvs are installed concurrently (pip spends most
of its time downloading). Times and versions go to
``artifacts/packaging/wheel-install.json``.
"""

import concurrent.futures
import configparser
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
ARTIFACTS = os.path.join(ROOT, "artifacts", "packaging")
NOT_COPIED = (".tox", ".venv", "build", "dist", "*.egg-info", "__pycache__",
              ".pytest_cache", "artifacts", ".kube", ".hypothesis",
              ".import_linter_cache", "doc/build", "releasenotes/build")
INSTALL_TIMEOUT = 1500
RESULTS = []
# Four virtualenvs from PyPI, concurrently: bounded by INSTALL_TIMEOUT.
pytestmark = pytest.mark.timeout(INSTALL_TIMEOUT + 600)

#: Installed by the wheel under <prefix>/share/magnum-capi-rdma/.
SHARED = ("magnum-capi-rdma.conf.sample", "rbac/magnum-capi-rdma.yaml")

CHECK = r'''
import importlib.metadata, json, os, sys, sysconfig
import magnum.conf
from magnum.drivers.common import driver
magnum.conf.CONF([], project="magnum", default_config_files=[])
found = []
for server_type, os_name in (("vm", "ubuntu"), ("vm", "flatcar"),
                             ("bm", "ubuntu")):
    d = driver.Driver.get_driver(server_type, os_name, "kubernetes")
    found.append("%s:%s" % (type(d).__module__, type(d).__name__))
import magnum_capi_rdma
share = os.path.join(sysconfig.get_path("data"), "share", "magnum-capi-rdma")
print(json.dumps({
    "drivers": found,
    "module": magnum_capi_rdma.__file__,
    "magnum": importlib.metadata.version("magnum"),
    "kubernetes": importlib.metadata.version("kubernetes"),
    "oslo.config": importlib.metadata.version("oslo.config"),
    "share": share,
    "python": sys.version.split()[0],
}))
'''


def releases():
    parser = configparser.ConfigParser()
    parser.read(os.path.join(ROOT, "setup.cfg"))
    return [tuple(line.split()) for line in
            parser["magnum_capi_rdma"]["magnum_releases"].splitlines()
            if line.strip()]


def _run(argv, what, timeout=INSTALL_TIMEOUT, **kw):
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run(argv, capture_output=True, text=True,
                          timeout=timeout, env=env, **kw)
    assert done.returncode == 0, "%s failed (%d):\n%s\n%s" % (
        what, done.returncode, done.stdout[-3000:], done.stderr[-3000:])
    return done.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(sdist, wheel) made by ``python -m build`` from a copy."""
    pytest.importorskip("build")
    work = tmp_path_factory.mktemp("build")
    source = work / "src"
    shutil.copytree(ROOT, source, symlinks=True,
                    ignore=shutil.ignore_patterns(*NOT_COPIED))
    out = work / "dist"
    began = time.monotonic()
    _run([sys.executable, "-m", "build", "--outdir", str(out), str(source)],
         "python -m build", cwd=str(work))
    (sdist,) = out.glob("magnum_capi_rdma-*.tar.gz")
    (wheel,) = out.glob("magnum_capi_rdma-*.whl")
    RESULTS.append({"build_seconds": round(time.monotonic() - began, 1),
                    "sdist": sdist.name, "wheel": wheel.name})
    return sdist, wheel


@pytest.fixture(scope="module", autouse=True)
def _report(summary_line):
    yield
    if not RESULTS:
        return
    os.makedirs(ARTIFACTS, exist_ok=True)
    with open(os.path.join(ARTIFACTS, "wheel-install.json"), "w") as out:
        json.dump(RESULTS, out, indent=2)
    installs = [r for r in RESULTS if "magnum" in r]
    if installs:
        summary_line("wheel installed and loaded by Magnum's loader: %s" % (
            ", ".join("Magnum %s (%ss)" % (r["magnum"], r["install_seconds"])
                      for r in installs)))


def test_the_sdist_and_wheel_hold_what_an_operator_needs(built):
    sdist, wheel = built
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames()
                 if "/" in name}
    for needed in ("setup.cfg", "requirements.txt", "LICENSE",
                   "magnum_capi_rdma/driver.py",
                   "etc/magnum-capi-rdma.conf.sample",
                   "etc/rbac/magnum-capi-rdma.yaml"):
        assert needed in names, needed
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        requires = [line for line in archive.read(metadata).decode()
                    .splitlines() if line.startswith("Requires-Dist:")]
    majors = [int(major) for major, _ in releases()]
    assert "Requires-Dist: magnum<%d.0.0,>=%d.0.0" % (
        majors[-1] + 1, majors[0]) in requires, requires
    for shared in SHARED:
        assert [n for n in names
                if n.endswith(".data/data/share/magnum-capi-rdma/" + shared)]


def _install(wheel, folder, major, series):
    """A clean virtualenv with Magnum ``major``.x and the wheel."""
    constraints = os.path.join(ROOT, "tools", "upper-constraints",
                               series + ".txt")
    venv = folder / ("magnum%s" % major)
    began = time.monotonic()
    _run([sys.executable, "-m", "venv", str(venv)], "python -m venv")
    magnum = "magnum>=%s.0.0,<%d.0.0" % (major, int(major) + 1)
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
          "--no-compile", "-c", constraints, magnum, str(wheel)],
         "pip install of Magnum %s.x and the wheel" % major,
         cwd=str(folder))
    return venv, time.monotonic() - began


@pytest.fixture(scope="module")
def venvs(built, tmp_path_factory):
    """{major: future of (venv, seconds)}, one per supported release."""
    _, wheel = built
    folder = tmp_path_factory.mktemp("venvs")
    pool = concurrent.futures.ThreadPoolExecutor(len(releases()))
    futures = {major: pool.submit(_install, wheel, folder, major, series)
               for major, series in releases()}
    yield futures
    pool.shutdown(wait=True)


@pytest.mark.parametrize("major,series", releases())
def test_the_wheel_installs_beside_magnum_and_magnum_loads_it(
        venvs, tmp_path, major, series):
    venv, installed = venvs[major].result(timeout=INSTALL_TIMEOUT)
    python = str(venv / "bin" / "python")
    # Outside the checkout, so nothing is imported from it.
    found = json.loads(_run([python, "-c", CHECK], "the loader check",
                            timeout=120, cwd=str(tmp_path)))
    assert found["drivers"] == ["magnum_capi_rdma.driver:Driver"] * 3
    assert found["module"].startswith(str(venv)), found["module"]
    assert found["magnum"].split(".")[0] == major
    for shared in SHARED:
        assert os.path.isfile(os.path.join(found["share"], shared)), shared
    assert found["share"].startswith(str(venv))
    options = _run([str(venv / "bin" / "oslo-config-generator"),
                    "--namespace", "magnum_capi_rdma"],
                   "oslo-config-generator", timeout=120, cwd=str(tmp_path))
    assert "[capi_rdma]" in options and "kubeconfig_file" in options
    usage = _run([str(venv / "bin" / "magnum-capi-rdma"), "--help"],
                 "magnum-capi-rdma --help", timeout=120, cwd=str(tmp_path))
    assert "render" in usage
    RESULTS.append(dict(found, series=series,
                        install_seconds=round(installed, 1)))
