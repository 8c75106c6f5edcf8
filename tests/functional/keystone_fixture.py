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
"""A real Keystone for tests: ``real_keystone`` (session scope), ``member``.

If ``MAGNUM_CAPI_RDMA_KEYSTONE_URL`` is set, that Keystone is used with the
admin credentials from ``MAGNUM_CAPI_RDMA_KEYSTONE_ADMIN_PASSWORD`` (user
``admin`` in project ``admin``, domain ``default``, or the ``..._ADMIN_USER``
/ ``..._ADMIN_PROJECT`` variables).

Otherwise Keystone 30.0.0 runs here: sqlite, fernet tokens, gunicorn on a
free port of 127.0.0.1, in a temporary folder, stopped by its PID at the
end. Its venv is looked for in ``MAGNUM_CAPI_RDMA_KEYSTONE_VENV``, then the
project cache (``venvs/keystone-30.0.0``, then the local stack's
``venvs/openstack-*``); if none has Keystone, ``venvs/keystone-30.0.0`` is
built once with pip (PyPI). ``MAGNUM_CAPI_RDMA_NO_KEYSTONE_BUILD=1`` skips
instead of building.
"""

import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

import pytest

from magnum_capi_rdma_dev.bed import tools

KEYSTONE_VERSION = "30.0.0"
LOOPBACK = "127.0.0.1"
REGION = "RegionOne"

WSGI_MODULE = '''import os
import sys


def application_factory():
    sys.argv = sys.argv[:1]
    os.environ["OS_KEYSTONE_CONFIG_DIR"] = os.environ["KEYSTONE_TEST_CONF"]
    from keystone.server import wsgi
    return wsgi.initialize_public_application()
'''


class RealKeystone(object):
    """Where a Keystone runs and how to get an admin session from it."""

    def __init__(self, url, admin_user, admin_password, admin_project,
                 region=REGION):
        self.url = url.rstrip("/")
        self.v3 = self.url if self.url.endswith("/v3") else self.url + "/v3"
        self.admin_user = admin_user
        self.admin_password = admin_password
        self.admin_project = admin_project
        self.region = region

    def password_session(self, username, password, project_name):
        from keystoneauth1.identity import v3
        from keystoneauth1 import session

        auth = v3.Password(
            auth_url=self.v3, username=username, password=password,
            user_domain_id="default", project_name=project_name,
            project_domain_id="default")
        return session.Session(auth=auth)

    def admin_session(self):
        return self.password_session(self.admin_user, self.admin_password,
                                     self.admin_project)

    def app_credential_session(self, cred_id, cred_secret):
        from keystoneauth1.identity import v3
        from keystoneauth1 import session

        auth = v3.ApplicationCredential(
            auth_url=self.v3, application_credential_id=cred_id,
            application_credential_secret=cred_secret)
        return session.Session(auth=auth)


def _free_port():
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def _has_keystone(venv):
    return all(_runnable(os.path.join(venv, "bin", name))
               for name in ("keystone-manage", "gunicorn"))


def _runnable(script):
    """The script and its ``#!`` interpreter exist.

    A venv moved after pip wrote its scripts keeps the old interpreter
    path in them.
    """
    try:
        with open(script, "rb") as handle:
            first = handle.readline()
    except OSError:
        return False
    words = first[2:].split() if first.startswith(b"#!") else []
    return not words or os.path.exists(os.fsdecode(words[0]))


def find_venv():
    """A venv with keystone-manage and gunicorn, or None."""
    cache = os.path.join(tools.cache_dir(), "venvs")
    candidates = [os.environ.get("MAGNUM_CAPI_RDMA_KEYSTONE_VENV") or "",
                  os.path.join(cache, "keystone-%s" % KEYSTONE_VERSION)]
    candidates += sorted(glob.glob(os.path.join(cache, "openstack-*")))
    for venv in candidates:
        if venv and _has_keystone(venv):
            return venv
    return None


def build_venv():
    """Build venvs/keystone-<version> with pip (once; cached)."""
    venv = os.path.join(tools.cache_dir(), "venvs",
                        "keystone-%s" % KEYSTONE_VERSION)
    # Built in place: pip writes the venv's path into its scripts, so a
    # venv renamed afterwards cannot run them. An interrupted build lacks
    # keystone-manage and is built again.
    shutil.rmtree(venv, ignore_errors=True)
    shutil.rmtree(venv + ".partial", ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q",
                    "keystone==%s" % KEYSTONE_VERSION, "gunicorn"],
                   check=True)
    return venv


def _write_conf(workdir):
    conf = os.path.join(workdir, "keystone.conf")
    keys = os.path.join(workdir, "fernet")
    with open(conf, "w") as out:
        out.write(
            "[DEFAULT]\nmax_token_size = 255\n"
            "[database]\nconnection = sqlite:///%s\n"
            "[token]\nprovider = fernet\n"
            "[fernet_tokens]\nkey_repository = %s\n"
            "[fernet_receipts]\nkey_repository = %s\n"
            "[credential]\nkey_repository = %s\n"
            "[identity]\npassword_hash_rounds = 4\n"
            % (os.path.join(workdir, "keystone.db"), keys, keys,
               os.path.join(workdir, "credential")))
    return conf


def _manage(venv, conf, *args):
    subprocess.run(
        [os.path.join(venv, "bin", "keystone-manage"), "--config-file",
         conf] + list(args), check=True, capture_output=True,
        cwd=os.path.dirname(conf))


def _wait_ready(url, proc, log, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            with open(log, errors="replace") as handle:
                raise RuntimeError("keystone exited (%s):\n%s" % (
                    proc.returncode, handle.read()[-2000:]))
        try:
            with urllib.request.urlopen(url + "/v3", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("keystone at %s not ready after %ss" % (url, timeout))


def start_local(workdir):
    """Set up and start Keystone in ``workdir``: (RealKeystone, Popen)."""
    venv = find_venv()
    if venv is None:
        if os.environ.get("MAGNUM_CAPI_RDMA_NO_KEYSTONE_BUILD"):
            pytest.skip("no Keystone venv and building one is disabled")
        venv = build_venv()
    conf = _write_conf(workdir)
    user = os.environ.get("USER") or subprocess.run(
        ["id", "-un"], capture_output=True, text=True).stdout.strip()
    group = subprocess.run(["id", "-gn"], capture_output=True,
                           text=True).stdout.strip()
    port = _free_port()
    url = "http://%s:%d" % (LOOPBACK, port)
    password = secrets.token_hex(12)
    _manage(venv, conf, "db_sync")
    for what in ("fernet_setup", "credential_setup"):
        _manage(venv, conf, what, "--keystone-user", user,
                "--keystone-group", group)
    _manage(venv, conf, "bootstrap", "--bootstrap-password", password,
            "--bootstrap-admin-url", url + "/v3/",
            "--bootstrap-internal-url", url + "/v3/",
            "--bootstrap-public-url", url + "/v3/",
            "--bootstrap-region-id", REGION)
    with open(os.path.join(workdir, "wsgi_keystone_test.py"), "w") as out:
        out.write(WSGI_MODULE)
    log = os.path.join(workdir, "keystone.log")
    env = dict(os.environ, KEYSTONE_TEST_CONF=workdir)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [os.path.join(venv, "bin", "gunicorn"), "--no-control-socket",
             "--pythonpath", workdir, "--workers", "1", "--threads", "4",
             "--bind", "%s:%d" % (LOOPBACK, port),
             "wsgi_keystone_test:application_factory()"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=workdir, env=env)
    try:
        _wait_ready(url, proc, log)
    except Exception:
        stop(proc)
        raise
    return RealKeystone(url, "admin", password, "admin"), proc


def stop(proc, grace=10):
    """Stop the gunicorn we started (by its PID)."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def real_keystone():
    """A RealKeystone: the one in the environment, or one started here."""
    url = os.environ.get("MAGNUM_CAPI_RDMA_KEYSTONE_URL")
    if url:
        password = os.environ.get("MAGNUM_CAPI_RDMA_KEYSTONE_ADMIN_PASSWORD")
        if not password:
            pytest.skip("MAGNUM_CAPI_RDMA_KEYSTONE_URL is set but "
                        "MAGNUM_CAPI_RDMA_KEYSTONE_ADMIN_PASSWORD is not")
        yield RealKeystone(
            url,
            os.environ.get("MAGNUM_CAPI_RDMA_KEYSTONE_ADMIN_USER", "admin"),
            password,
            os.environ.get("MAGNUM_CAPI_RDMA_KEYSTONE_ADMIN_PROJECT",
                           "admin"),
            os.environ.get("MAGNUM_CAPI_RDMA_KEYSTONE_REGION", REGION))
        return
    workdir = tempfile.mkdtemp(prefix="capi-rdma-keystone-")
    proc = None
    try:
        keystone, proc = start_local(workdir)
        yield keystone
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


def _json(response):
    assert response.status_code < 300, response.text
    return response.json()


@pytest.fixture
def member(real_keystone):
    """A fresh project with a member user: (user_id, project_id, session)."""
    admin = real_keystone.admin_session()
    v3 = real_keystone.v3
    suffix = uuid.uuid4().hex[:8]
    project = _json(admin.post(v3 + "/projects", json={"project": {
        "name": "p-" + suffix, "domain_id": "default"}}))["project"]
    password = secrets.token_hex(8)
    user = _json(admin.post(v3 + "/users", json={"user": {
        "name": "u-" + suffix, "domain_id": "default",
        "password": password}}))["user"]
    role = _json(admin.get(v3 + "/roles?name=member"))["roles"][0]
    assert admin.put(v3 + "/projects/%s/users/%s/roles/%s" % (
        project["id"], user["id"], role["id"])).status_code == 204
    session = real_keystone.password_session(
        user["name"], password, project["name"])
    yield user["id"], project["id"], session
    # Delete the credentials one by one first: Keystone's bulk delete on
    # user removal relies on foreign-key cascades, which sqlite (the local
    # Keystone's database) does not enforce, leaving rows that collide
    # with the next credential's.
    listing = admin.get(v3 + "/users/%s/application_credentials" % user["id"])
    for cred in listing.json().get("application_credentials", []):
        admin.delete(v3 + "/users/%s/application_credentials/%s" % (
            user["id"], cred["id"]))
    admin.delete(v3 + "/users/%s" % user["id"])
    admin.delete(v3 + "/projects/%s" % project["id"])
