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
"""A real Kubernetes management cluster: etcd + kube-apiserver on loopback.

Only the API server runs (no controllers, no kubelet): Cluster API objects
are plain custom resources that the simulator reconciles. Everything
listens on 127.0.0.1 on free ephemeral ports, in one working directory:

- ``pki/``: a self-made CA, the serving certificate and the service-account
  signing key (so TokenRequest works);
- ``tokens.csv``: bearer tokens; the admin token is in ``system:masters``;
- ``etcd/``: etcd's data (kept across :meth:`restart_apiserver`);
- ``kubeconfig``: an admin kubeconfig; ``bed.json`` and ``pids``: state
  for ``python -m magnum_capi_rdma_dev.bed``.

Only processes this object started are ever stopped, by PID.
"""

import atexit
import base64
import datetime
import http.client
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography import x509
from cryptography.x509.oid import NameOID
import yaml

from magnum_capi_rdma_dev.bed import tools

LOOPBACK = "127.0.0.1"
SERVICE_CIDR = "10.96.0.0/24"


class BedError(RuntimeError):
    """The test bed could not be started or stopped."""


def free_port():
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def port_is_free(port):
    """True if nothing listens on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def pid_alive(pid):
    """True if the process exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def pid_cmdline(pid):
    """The command line of a process, or [] if it is gone."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as cmdline:
            raw = cmdline.read()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0")
            if part]


def _pem_key(key):
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())


def _certificate(subject_cn, key, issuer_cn, issuer_key, ca, sans=()):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]))
        .issuer_name(x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None),
                       critical=True))
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(list(sans)), critical=False)
    cert = builder.sign(issuer_key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM)


def write_pki(pki_dir):
    """Write a CA, a serving cert for 127.0.0.1 and service-account keys."""
    os.makedirs(pki_dir, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate("capi-rdma-test-bed-ca", ca_key,
                           "capi-rdma-test-bed-ca", ca_key, True)
    serving_key = ec.generate_private_key(ec.SECP256R1())
    serving_cert = _certificate(
        "kube-apiserver", serving_key, "capi-rdma-test-bed-ca", ca_key,
        False, sans=(x509.IPAddress(ipaddress.ip_address(LOOPBACK)),
                     x509.DNSName("localhost")))
    sa_key = ec.generate_private_key(ec.SECP256R1())
    files = {
        "ca.crt": ca_cert,
        # Kept (0600, like the others) to sign the webhook serving
        # certificate of Cluster API's managers (bed/capi.py).
        "ca.key": _pem_key(ca_key),
        "apiserver.crt": serving_cert,
        "apiserver.key": _pem_key(serving_key),
        "sa.key": _pem_key(sa_key),
        "sa.pub": sa_key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo),
    }
    for name, data in files.items():
        with open(os.path.join(pki_dir, name), "wb") as out:
            out.write(data)
        os.chmod(os.path.join(pki_dir, name), 0o600)


def write_serving_cert(pki_dir, cert_dir):
    """``tls.crt``/``tls.key`` for 127.0.0.1 signed by the bed's CA.

    For webhook servers on loopback (controller-runtime's file names).
    :returns: the CA certificate, base64 (a ``caBundle``).
    """
    with open(os.path.join(pki_dir, "ca.key"), "rb") as handle:
        ca_key = serialization.load_pem_private_key(handle.read(), None)
    with open(os.path.join(pki_dir, "ca.crt"), "rb") as handle:
        ca_pem = handle.read()
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate(
        "webhooks", key, "capi-rdma-test-bed-ca", ca_key, False,
        sans=(x509.IPAddress(ipaddress.ip_address(LOOPBACK)),
              x509.DNSName("localhost")))
    os.makedirs(cert_dir, exist_ok=True)
    for name, data in (("tls.crt", cert), ("tls.key", _pem_key(key))):
        path = os.path.join(cert_dir, name)
        with open(path, "wb") as out:
            out.write(data)
        os.chmod(path, 0o600)
    return base64.b64encode(ca_pem).decode()


def kubeconfig_dict(server, ca_pem, token, user="admin"):
    """A kubeconfig (as a dict) for a bearer token."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test-bed", "cluster": {
            "server": server,
            "certificate-authority-data":
                base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "test-bed", "context": {
            "cluster": "test-bed", "user": user}}],
        "current-context": "test-bed",
    }


class ManagementCluster(object):
    """etcd + kube-apiserver on loopback, with an admin kubeconfig.

    ``ManagementCluster(workdir=None)``: a temporary directory is made (and
    removed by :meth:`stop`) when ``workdir`` is None. ``detach=True``
    starts the processes in their own session so they outlive this Python
    process (``python -m magnum_capi_rdma_dev.bed up``).
    """

    def __init__(self, workdir=None, detach=False):
        self._own_dir = workdir is None
        self.workdir = os.path.abspath(
            workdir or tempfile.mkdtemp(prefix="capi-rdma-bed-"))
        self.detach = detach
        self.pki = os.path.join(self.workdir, "pki")
        self.kubeconfig = os.path.join(self.workdir, "kubeconfig")
        self.state_file = os.path.join(self.workdir, "bed.json")
        self.pids_file = os.path.join(self.workdir, "pids")
        self.etcd_port = None
        self.peer_port = None
        self.secure_port = None
        self.admin_token = None
        self.started_in = None
        self._procs = {}  # name -> Popen (only processes we started)
        self._pids = {}   # name -> pid (also those read from ``pids``)
        self._atexit = False

    # -- public API -------------------------------------------------------
    @property
    def server(self):
        """The https URL of the API server."""
        if self.secure_port is None:
            return None
        return "https://%s:%d" % (LOOPBACK, self.secure_port)

    @property
    def ca_file(self):
        return os.path.join(self.pki, "ca.crt")

    #: The cap of every readiness wait: each returns as soon as /readyz
    #: says ok (a couple of seconds on an idle machine); a busy one (the
    #: suite must pass there too) has been seen to need over 30 s.
    READY_TIMEOUT = 180

    def start(self, timeout=READY_TIMEOUT, attempts=3):
        """Start etcd and kube-apiserver and wait until /readyz says ok.

        A port taken by someone else between picking and binding it is
        retried with fresh ports (``attempts`` times in all).
        """
        began = time.monotonic()
        self._prepare()
        for attempt in range(1, attempts + 1):
            self._pick_ports()
            self._start_etcd()
            self._start_apiserver_process()
            self._write_state()
            try:
                self.wait_ready(timeout)
                break
            except BedError as exc:
                self._stop("kube-apiserver")
                self._stop("etcd")
                if attempt == attempts or "address already in use" not in (
                        str(exc)):
                    self.stop()
                    raise
                self.secure_port = None  # pick new ports
        self.started_in = time.monotonic() - began
        self._write_state()
        if not self.detach and not self._atexit:
            atexit.register(self.stop)
            self._atexit = True
        return self

    #: Stopped last, in this order (the controllers go first).
    CORE = ("kube-apiserver", "etcd")

    def stop(self):
        """Stop every process (by PID) and wait for them to exit.

        Controllers started with :meth:`spawn` (Cluster API's managers,
        kube-controller-manager) go first, then kube-apiserver and etcd.
        """
        for name in [n for n in reversed(list(self._pids))
                     if n not in self.CORE] + list(self.CORE):
            self._stop(name)
        if os.path.exists(self.pids_file):
            os.unlink(self.pids_file)
        if self._own_dir and os.path.isdir(self.workdir):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def stop_apiserver(self):
        """Stop kube-apiserver only; etcd keeps the data."""
        self._stop("kube-apiserver")
        self._wait_port_free(self.secure_port)
        self._write_pids()

    def start_apiserver(self, timeout=READY_TIMEOUT):
        """Start kube-apiserver again on the same port and wait for it.

        One that does not get ready in time is stopped, not left holding
        the port for the next attempt.
        """
        self._start_apiserver_process()
        self._write_pids()
        try:
            self.wait_ready(timeout)
        except BedError:
            self._stop("kube-apiserver")
            self._write_pids()
            raise

    def restart_apiserver(self, timeout=READY_TIMEOUT):
        """Stop and start kube-apiserver; the objects stay in etcd."""
        self.stop_apiserver()
        self.start_apiserver(timeout)

    def kubeconfig_for_token(self, token, path, user="token-user"):
        """Write a kubeconfig for ``token`` (e.g. a service account's)."""
        with open(self.ca_file, "rb") as ca:
            ca_pem = ca.read()
        _write_yaml(path, kubeconfig_dict(self.server, ca_pem, token, user))
        return path

    def readyz(self, token=None, path="/readyz"):
        """(status, body) of a GET on the API server, or (None, error)."""
        context = ssl.create_default_context(cafile=self.ca_file)
        conn = http.client.HTTPSConnection(
            LOOPBACK, self.secure_port, context=context, timeout=5)
        headers = {}
        if token or self.admin_token:
            headers["Authorization"] = "Bearer %s" % (
                token or self.admin_token)
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            return response.status, response.read().decode(errors="replace")
        except (OSError, http.client.HTTPException) as exc:
            return None, str(exc)
        finally:
            conn.close()

    def healthy(self):
        """True if both processes run and the API server is ready."""
        return (all(pid_alive(self._pids.get(name, 0) or 0)
                    for name in ("etcd", "kube-apiserver"))
                and self.readyz()[0] == 200)

    def wait_ready(self, timeout=READY_TIMEOUT):
        """Wait until /readyz answers 200; fail early if a process died."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            self._check_running()
            status, body = self.readyz()
            if status == 200:
                return
            last = "%s %s" % (status, body.strip()[-300:])
            time.sleep(0.1)
        raise BedError(
            "kube-apiserver at %s not ready after %ss (last answer: %s); "
            "last lines of %s:\n%s" % (
                self.server, timeout, last, self._log("kube-apiserver"),
                _tail(self._log("kube-apiserver"))))

    def pids(self):
        """{name: pid} of the processes this bed started."""
        return dict(self._pids)

    @classmethod
    def load(cls, workdir):
        """The bed described by ``workdir/bed.json`` (for ``__main__``)."""
        bed = cls(workdir, detach=True)
        with open(bed.state_file) as state:
            data = json.load(state)
        bed.etcd_port = data["etcd_port"]
        bed.peer_port = data["peer_port"]
        bed.secure_port = data["secure_port"]
        bed.admin_token = data["admin_token"]
        bed.started_in = data.get("started_in")
        if os.path.exists(bed.pids_file):
            with open(bed.pids_file) as pids:
                for line in pids:
                    name, _, pid = line.strip().partition(" ")
                    if pid.isdigit():
                        bed._pids[name] = int(pid)
        return bed

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    # -- internals ----------------------------------------------------------
    def _prepare(self):
        os.makedirs(self.workdir, exist_ok=True)
        if not os.path.exists(os.path.join(self.pki, "sa.key")):
            write_pki(self.pki)
        tokens = os.path.join(self.workdir, "tokens.csv")
        if self.admin_token is None and os.path.exists(self.state_file):
            with open(self.state_file) as state:
                self.admin_token = json.load(state).get("admin_token")
        if self.admin_token is None:
            self.admin_token = secrets.token_hex(24)
        with open(tokens, "w") as out:
            out.write('%s,admin,admin-uid,"system:masters"\n'
                      % self.admin_token)
        os.chmod(tokens, 0o600)

    def _pick_ports(self):
        ports = (self.etcd_port, self.peer_port, self.secure_port)
        if all(ports) and all(port_is_free(p) for p in ports):
            return  # same ports as last time: the kubeconfig stays valid
        self.etcd_port, self.peer_port, self.secure_port = (
            free_port(), free_port(), free_port())
        while len({self.etcd_port, self.peer_port, self.secure_port}) < 3:
            self.secure_port = free_port()

    def _log(self, name):
        return os.path.join(self.workdir, "%s.log" % name)

    def spawn(self, name, argv, env=None):
        """Start one more process of the bed (log: ``WORKDIR/NAME.log``).

        :meth:`stop` stops it (before kube-apiserver and etcd);
        :meth:`check_running` reports it if it exits.
        """
        self._spawn(name, argv, env)

    def check_running(self):
        """Raise BedError if a process this object started has exited."""
        self._check_running(list(self._procs))

    def _spawn(self, name, argv, env=None):
        with open(self._log(name), "ab") as log:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, cwd=self.workdir,
                start_new_session=self.detach,
                env=dict(os.environ, **env) if env else None)
        self._procs[name] = proc
        self._pids[name] = proc.pid
        self._write_pids()

    def _start_etcd(self):
        client = "http://%s:%d" % (LOOPBACK, self.etcd_port)
        peer = "http://%s:%d" % (LOOPBACK, self.peer_port)
        self._spawn("etcd", [
            tools.tool_path("etcd"),
            "--name", "default",
            "--data-dir", os.path.join(self.workdir, "etcd"),
            "--listen-client-urls", client,
            "--advertise-client-urls", client,
            "--listen-peer-urls", peer,
            "--initial-advertise-peer-urls", peer,
            "--initial-cluster", "default=%s" % peer,
            "--unsafe-no-fsync",
            "--log-level", "warn",
        ])

    def _start_apiserver_process(self):
        self._spawn("kube-apiserver", [
            tools.tool_path("kube-apiserver"),
            "--etcd-servers", "http://%s:%d" % (LOOPBACK, self.etcd_port),
            "--bind-address", LOOPBACK,
            "--advertise-address", LOOPBACK,
            "--secure-port", str(self.secure_port),
            "--tls-cert-file", os.path.join(self.pki, "apiserver.crt"),
            "--tls-private-key-file", os.path.join(self.pki, "apiserver.key"),
            "--client-ca-file", self.ca_file,
            "--token-auth-file", os.path.join(self.workdir, "tokens.csv"),
            "--authorization-mode", "RBAC",
            "--service-account-key-file", os.path.join(self.pki, "sa.pub"),
            "--service-account-signing-key-file",
            os.path.join(self.pki, "sa.key"),
            "--service-account-issuer", "https://kubernetes.default.svc",
            "--service-cluster-ip-range", SERVICE_CIDR,
            "--endpoint-reconciler-type", "none",
            "--cert-dir", os.path.join(self.workdir, "cert-dir"),
            "--profiling=false",
        ])

    def _check_running(self, names=CORE):
        for name in names:
            proc = self._procs.get(name)
            if proc is not None and proc.poll() is not None:
                raise BedError(
                    "%s exited with code %s while starting; last lines of "
                    "%s:\n%s" % (name, proc.returncode, self._log(name),
                                 _tail(self._log(name))))

    def _stop(self, name, grace=15):
        proc = self._procs.pop(name, None)
        pid = self._pids.pop(name, None)
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(grace)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            return
        if pid and self._owns(pid):
            _terminate_pid(pid, grace)

    def _owns(self, pid):
        """True if ``pid`` is one of our binaries started for this dir."""
        argv = pid_cmdline(pid)
        return (bool(argv) and pid_alive(pid)
                and os.path.basename(argv[0]).startswith(
                    ("etcd", "kube-apiserver", "kube-controller-manager",
                     "capi-"))
                and any(self.workdir in arg for arg in argv))

    def _wait_port_free(self, port, timeout=15):
        deadline = time.monotonic() + timeout
        while not port_is_free(port):
            if time.monotonic() > deadline:
                raise BedError("port %d still busy after %ss" % (
                    port, timeout))
            time.sleep(0.05)

    def _write_pids(self):
        with open(self.pids_file, "w") as out:
            for name, pid in sorted(self._pids.items()):
                out.write("%s %d\n" % (name, pid))

    def _write_state(self):
        with open(self.ca_file, "rb") as ca:
            ca_pem = ca.read()
        _write_yaml(self.kubeconfig, kubeconfig_dict(
            self.server, ca_pem, self.admin_token))
        with open(self.state_file, "w") as out:
            json.dump({
                "etcd_port": self.etcd_port, "peer_port": self.peer_port,
                "secure_port": self.secure_port, "server": self.server,
                "admin_token": self.admin_token,
                "kubeconfig": self.kubeconfig,
                "started_in": self.started_in,
            }, out, indent=2)
        os.chmod(self.state_file, 0o600)


def _terminate_pid(pid, grace):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_alive(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        while pid_alive(pid):
            time.sleep(0.05)


def _tail(path, lines=20):
    try:
        with open(path, errors="replace") as log:
            return "".join(log.readlines()[-lines:])
    except OSError:
        return "(no log)"


def _write_yaml(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        yaml.safe_dump(data, out, default_flow_style=False)
