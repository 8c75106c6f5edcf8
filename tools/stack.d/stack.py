#!/usr/bin/env python3
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
"""The local OpenStack stack: ``tools/stack up|down|status``.

Runs with the system python3 and the standard library only. Everything the
stack writes (configuration, databases, logs, PID files) lives in one state
folder; the services' Python venv lives in the cache, keyed by a hash of
``requirements.txt`` beside this file. All services listen on 127.0.0.1.

Heat (API and engine) and Horizon (with magnum-ui) are optional extras:
``tools/stack up --with heat,horizon`` (or ``MAGNUM_CAPI_RDMA_STACK_WITH``)
starts them too; a later plain ``up`` keeps running extras running.
"""

import argparse
import concurrent.futures
import fcntl
import hashlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
# The development package (test bed, Cluster API simulator): run from this
# checkout with REPO on PYTHONPATH, never installed with the driver.
DEV = "magnum_capi_rdma_dev"
HOST = "127.0.0.1"
REGION = "RegionOne"
IMAGE = {"name": "ubuntu-jammy-kube-v1.31.4", "os_distro": "ubuntu",
         "kube_version": "v1.31.4", "disk_format": "qcow2",
         "container_format": "bare"}
DEBS = ("mariadb-server", "rabbitmq-server")
OPTIONAL_DEBS = ("kubernetes-client",)
PROJECTS = ("demo", "demo2")

PORTS = {
    "mariadb": 3306, "epmd": 4369, "rabbitmq": 5672, "keystone": 5000,
    "glance": 9292, "stubs": 8774, "magnum-api": 9511,
    "heat-api": 8004, "horizon": 8080,
}
STUB_PORTS = {"compute": 8774, "network": 9696, "volume": 8776}
RABBIT_DIST_PORT = 25672
# stop order (the reverse of the start order)
SERVICES = ("horizon", "heat-api", "heat-engine", "simulator",
            "magnum-conductor", "magnum-api", "glance", "stubs", "keystone",
            "rabbitmq", "epmd", "mariadb")
KILL_AFTER = {"magnum-conductor": 2.0, "heat-engine": 5.0}
# optional parts: `tools/stack up --with heat,horizon`
EXTRAS = {"heat": ("heat-engine", "heat-api"), "horizon": ("horizon",)}
EXTRA_SERVICES = tuple(n for names in EXTRAS.values() for n in names)
HEAT_DOMAIN = "heat"
HEAT_DOMAIN_ADMIN = "heat_domain_admin"
HEAT_ROLES = ("heat_stack_owner", "heat_stack_user")


class StackError(Exception):
    """A failure to report in one line, without a traceback."""


def _default_state():
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "magnum-capi-rdma", "stack")


def _default_cache():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache")
    return os.path.join(base, "magnum-capi-rdma")


STATE = os.path.abspath(os.environ.get("MAGNUM_CAPI_RDMA_STATE")
                        or _default_state())
CACHE = os.path.abspath(os.environ.get("MAGNUM_CAPI_RDMA_CACHE")
                        or _default_cache())
T0 = time.monotonic()
_LOG_LOCK = threading.Lock()


def log(message):
    line = "[stack %5.1fs] %s\n" % (time.monotonic() - T0, message)
    with _LOG_LOCK:
        sys.stdout.write(line)
        sys.stdout.flush()


def path(*parts):
    return os.path.join(STATE, *parts)


# ------------------------------------------------------------ processes

def _start_time(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        if fields[0] in ("Z", "X"):
            _reap(pid)
            return None
        return fields[19]
    except (OSError, IndexError):
        return None


def _read_pidfile(name):
    try:
        with open(path("run", name + ".pid")) as handle:
            pid, started = handle.read().split()
        return int(pid), started
    except (OSError, ValueError):
        return None, None


def running_pid(name):
    """The PID of our process NAME if it still runs, else None."""
    pid, started = _read_pidfile(name)
    if pid and _start_time(pid) == started:
        return pid
    return None


def dev_env(extra=None):
    """``extra`` plus a PYTHONPATH that starts with the checkout (DEV)."""
    paths = [REPO] + [p for p in os.environ.get("PYTHONPATH", "").split(
        os.pathsep) if p and p != REPO]
    env = dict(extra or {})
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def spawn(name, argv, env=None, cwd=None):
    """Start a service in its own session, logging to logs/NAME.log."""
    os.makedirs(path("run"), exist_ok=True)
    os.makedirs(path("logs"), exist_ok=True)
    full_env = dict(os.environ)
    full_env.update(env or {})
    with open(path("logs", name + ".log"), "ab") as out:
        try:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, env=full_env, cwd=cwd,
                start_new_session=True)
        except OSError as err:
            raise StackError("cannot start %s (%s): %s"
                             % (name, argv[0], err))
    started = None
    for _ in range(50):
        started = _start_time(proc.pid)
        if started:
            break
        time.sleep(0.01)
    with open(path("run", name + ".pid"), "w") as handle:
        handle.write("%d %s\n" % (proc.pid, started))
    return proc.pid


def stop(name, grace=10.0):
    """Stop our process NAME (its whole session) by its PID file."""
    pid = running_pid(name)
    pidfile = path("run", name + ".pid")
    if pid is None:
        if os.path.exists(pidfile):
            os.unlink(pidfile)
        return False
    kill_after = KILL_AFTER.get(name, grace)
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + kill_after
    while time.monotonic() < deadline and _start_time(pid):
        time.sleep(0.1)
    if _start_time(pid):
        _signal_group(pid, signal.SIGKILL)
        for _ in range(50):
            if not _start_time(pid):
                break
            time.sleep(0.1)
    _reap(pid)
    os.unlink(pidfile)
    return True


def _signal_group(pid, sig):
    try:
        os.killpg(pid, sig)
    except OSError:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def _reap(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except OSError:
        pass


def port_open(port):
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((HOST, port)) == 0


def wait_port(name, port, timeout, closed=False):
    deadline = time.monotonic() + timeout
    while port_open(port) == closed:
        if not closed and PROCS.get(name) and not running_pid(name):
            raise StackError("%s exited while starting; see %s"
                             % (name, path("logs", name + ".log")))
        if time.monotonic() > deadline:
            state = "close" if closed else "open"
            raise StackError("port %d of %s did not %s within %ds; see %s"
                             % (port, name, state, timeout,
                                path("logs", name + ".log")))
        time.sleep(0.1)


def wait_http(name, port, timeout):
    """Wait until the service answers HTTP on PORT (any status counts).

    gunicorn opens its port before its worker has loaded the application,
    so an open port is not yet a working service.
    """
    wait_port(name, port, timeout)
    deadline = time.monotonic() + timeout
    url = "http://%s:%d/" % (HOST, port)
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                break
        except urllib.error.HTTPError:
            break
        except OSError:
            pass
        if not running_pid(name):
            raise StackError("%s exited while starting; see %s"
                             % (name, path("logs", name + ".log")))
        if time.monotonic() > deadline:
            raise StackError("%s did not answer on port %d within %ds; see "
                             "%s" % (name, port, timeout,
                                     path("logs", name + ".log")))
        time.sleep(0.2)
    log("%s answers on port %d" % (name, port))


def run(argv, what, env=None, cwd=None, capture=False):
    """Run a setup command, its output to logs/setup.log."""
    os.makedirs(path("logs"), exist_ok=True)
    full_env = dict(os.environ)
    full_env.update(env or {})
    with open(path("logs", "setup.log"), "ab") as out:
        out.write(("\n$ %s\n" % " ".join(argv)).encode())
        out.flush()
        try:
            result = subprocess.run(
                argv, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if capture else out,
                stderr=out, env=full_env, cwd=cwd)
        except OSError as err:
            raise StackError("%s: cannot run %s: %s" % (what, argv[0], err))
    if result.returncode != 0:
        raise StackError("%s failed (exit %d); see %s"
                         % (what, result.returncode,
                            path("logs", "setup.log")))
    return result.stdout.decode() if capture else ""


# --------------------------------------------------------------- memory

def _rss_and_parents():
    rss, parents, cmdlines = {}, {}, {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            with open("/proc/%s/stat" % entry) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            with open("/proc/%s/cmdline" % entry, "rb") as handle:
                cmdlines[pid] = handle.read()
        except OSError:
            continue
        parents[pid] = int(fields[1])
        rss[pid] = int(fields[21]) * page
    return rss, parents, cmdlines


def stack_rss():
    """Bytes of RSS of the whole stack.

    Counts our children, our services and whatever names the state folder
    on its command line (the management cluster), with their descendants.
    """
    rss, parents, cmdlines = _rss_and_parents()
    roots = {os.getpid()}
    for name in SERVICES:
        pid = running_pid(name)
        if pid:
            roots.add(pid)
    marker = STATE.encode()
    members = {p for p, cmd in cmdlines.items() if marker in cmd} | roots
    changed = True
    while changed:
        changed = False
        for pid, parent in parents.items():
            if parent in members and pid not in members:
                members.add(pid)
                changed = True
    members.discard(os.getpid())
    return sum(rss.get(p, 0) for p in members)


class PeakSampler(threading.Thread):
    """Samples stack_rss() until stopped, remembering the peak."""

    def __init__(self, interval=0.25):
        super().__init__(daemon=True)
        self.interval = interval
        self.peak = 0
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            try:
                self.peak = max(self.peak, stack_rss())
            except OSError:
                pass
            self._halt.wait(self.interval)

    def finish(self):
        self._halt.set()
        self.join()
        self.peak = max(self.peak, stack_rss())
        return self.peak


# ---------------------------------------------------------------- setup

def ensure_debs():
    missing = [d for d in DEBS if not _deb_installed(d)]
    optional = [] if shutil.which("kubectl") else [
        d for d in OPTIONAL_DEBS if not _deb_installed(d)]
    if not missing and not optional:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        if missing:
            raise StackError("missing Debian packages: %s (install them, "
                             "or run as root)" % " ".join(missing))
        return
    for group, required in ((missing, True), (optional, False)):
        if not group:
            continue
        log("installing Debian packages: %s" % " ".join(group))
        try:
            _apt_install(group)
        except StackError:
            if required:
                raise
            log("optional packages not installed: %s" % " ".join(group))


def _deb_installed(name):
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", name],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return b"install ok installed" in result.stdout


POLICY_RC_D = "/usr/sbin/policy-rc.d"


def _apt_install(packages):
    """apt-get install, without letting the packages start daemons.

    The stack starts MariaDB and RabbitMQ itself; daemons started by the
    packages would hold their ports. A policy-rc.d that denies every start
    is put in place for the install when the machine has none.
    """
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    argv = ["apt-get", "install", "-y", "-q", "--no-install-recommends"]
    ours = not os.path.exists(POLICY_RC_D)
    if ours:
        with open(POLICY_RC_D, "w") as handle:
            handle.write("#!/bin/sh\n# tools/stack: no daemon starts\n"
                         "exit 101\n")
        os.chmod(POLICY_RC_D, 0o755)
    try:
        try:
            run(argv + list(packages), "apt-get install", env=env)
        except StackError:
            run(["apt-get", "update", "-q"], "apt-get update", env=env)
            run(argv + list(packages), "apt-get install", env=env)
    finally:
        if ours:
            os.unlink(POLICY_RC_D)


def install_test_tools():
    out = run([os.path.join(REPO, "tools", "install-test-tools")],
              "tools/install-test-tools", capture=True)
    lines = [line for line in out.splitlines() if line.strip()]
    if not lines or not os.path.isdir(lines[-1].strip()):
        raise StackError("tools/install-test-tools printed no bin folder")
    return lines[-1].strip()


# the venvs: name prefix -> requirements file beside this script
VENVS = {"openstack": "requirements.txt",
         "horizon": "requirements-horizon.txt"}


def venv_path(kind="openstack"):
    with open(os.path.join(HERE, VENVS[kind]), "rb") as handle:
        data = handle.read()
    data += ("py%d.%d" % sys.version_info[:2]).encode()
    digest = hashlib.sha256(data).hexdigest()[:12]
    return os.path.join(CACHE, "venvs", "%s-%s" % (kind, digest))


def _build_venv(kind):
    venv = venv_path(kind)
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(os.path.join(venv, ".stack-complete")):
        log("building the %s venv %s (pip, once)" % (kind, venv))
        shutil.rmtree(venv, ignore_errors=True)
        run([sys.executable, "-m", "venv", venv], "python3 -m venv")
        run([python, "-m", "pip", "install", "-q", "-r",
             os.path.join(HERE, VENVS[kind])], "pip install (%s)" % kind)
        open(os.path.join(venv, ".stack-complete"), "w").close()
    return venv


def ensure_horizon_venv():
    """Horizon's own venv (magnum-ui 19 needs python-magnumclient < 5)."""
    return _build_venv("horizon")


def ensure_venv():
    venv = _build_venv("openstack")
    python = os.path.join(venv, "bin", "python")
    _ensure_project(venv, python)
    with open(path("venv"), "w") as handle:
        handle.write(venv + "\n")
    return venv


def _ensure_project(venv, python):
    """pip install -e the checkout when its metadata changed.

    The install is editable, so code changes are live at the next service
    start; only a change of setup.cfg / requirements.txt (entry points,
    dependencies) or of the checkout's location needs pip again.
    """
    digest = hashlib.sha256(REPO.encode())
    for name in ("setup.cfg", "setup.py", "requirements.txt"):
        with open(os.path.join(REPO, name), "rb") as handle:
            digest.update(handle.read())
    marker = os.path.join(venv, ".project-" + digest.hexdigest()[:12])
    if os.path.exists(marker):
        return
    log("installing this checkout into the venv (pip install -e)")
    run([python, "-m", "pip", "install", "-q", "-e", REPO],
        "pip install -e %s" % REPO)
    for old in os.listdir(venv):
        if old.startswith(".project-"):
            os.unlink(os.path.join(venv, old))
    open(marker, "w").close()


def secrets_file():
    """Passwords of this state folder, made once."""
    target = path("secrets.json")
    values = {}
    if os.path.exists(target):
        with open(target) as handle:
            values = json.load(handle)
    names = ("admin", "mariadb_keystone", "mariadb_magnum", "glance",
             "magnum", "mariadb_heat", "heat", HEAT_DOMAIN_ADMIN,
             "horizon_secret_key") + PROJECTS
    missing = [name for name in names if name not in values]
    if missing:
        # a state folder made before a part was added gets its new ones
        values.update({name: secrets.token_urlsafe(18) for name in missing})
        write(target, json.dumps(values, indent=1), 0o600)
    return values


def write(target, text, mode=0o644):
    """Write TEXT to TARGET if it differs; True when it changed."""
    try:
        with open(target) as handle:
            if handle.read() == text:
                return False
    except OSError:
        pass
    os.makedirs(os.path.dirname(target), exist_ok=True)
    fd = os.open(target + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                 mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(target + ".tmp", target)
    return True


def ini(sections):
    out = []
    for section, options in sections.items():
        out.append("[%s]" % section)
        out.extend("%s = %s" % (k, v) for k, v in options.items())
        out.append("")
    return "\n".join(out)


def done(marker):
    return os.path.exists(path("done", marker))


def mark(marker):
    os.makedirs(path("done"), exist_ok=True)
    open(path("done", marker), "w").close()


# ------------------------------------------------------------- services

def keystone_url():
    return "http://%s:%d" % (HOST, PORTS["keystone"])


def authtoken(user, password):
    return {
        "www_authenticate_uri": keystone_url(),
        "auth_url": keystone_url(),
        "auth_type": "password",
        "username": user, "password": password,
        "project_name": "service",
        "user_domain_name": "Default", "project_domain_name": "Default",
        "region_name": REGION,
    }


class Stack(object):
    """Configuration and start of each part, given the secrets and venv."""

    def __init__(self, venv, bindir, pw):
        self.venv = venv
        self.bindir = bindir
        self.pw = pw
        self.user = pwd.getpwuid(os.geteuid()).pw_name
        self.horizon_venv = None

    def bin(self, name):
        return os.path.join(self.venv, "bin", name)

    # -- MariaDB
    def start_mariadb(self):
        if running_pid("mariadb"):
            return
        data = path("mariadb", "data")
        if not os.path.isdir(os.path.join(data, "mysql")):
            log("initialising MariaDB in %s" % data)
            shutil.rmtree(data, ignore_errors=True)
            os.makedirs(data)
            run(["mariadb-install-db", "--no-defaults", "--user=" + self.user,
                 "--datadir=" + data, "--skip-test-db",
                 "--auth-root-authentication-method=socket"],
                "mariadb-install-db")
        self._check_free("mariadb")
        spawn("mariadb", [
            "mariadbd", "--no-defaults", "--user=" + self.user,
            "--datadir=" + data, "--socket=" + self.mariadb_socket(),
            "--pid-file=" + path("mariadb", "mariadbd.pid"),
            "--bind-address=" + HOST, "--port=%d" % PORTS["mariadb"],
            "--skip-name-resolve", "--innodb-buffer-pool-size=64M",
            "--performance-schema=OFF", "--max-connections=300",
            "--innodb-flush-log-at-trx-commit=2"])

    def mariadb_socket(self):
        return path("mariadb", "mysqld.sock")

    def setup_databases(self, names=("keystone", "magnum")):
        marker = "databases" if names == ("keystone", "magnum") else \
            "databases-" + "-".join(names)
        if done(marker):
            return
        statements = []
        for db in names:
            password = self.pw["mariadb_" + db]
            statements += [
                "CREATE DATABASE IF NOT EXISTS %s" % db,
                "CREATE USER IF NOT EXISTS '%s'@'%s' IDENTIFIED BY '%s'"
                % (db, HOST, password),
                "ALTER USER '%s'@'%s' IDENTIFIED BY '%s'"
                % (db, HOST, password),
                "GRANT ALL PRIVILEGES ON %s.* TO '%s'@'%s'" % (db, db, HOST),
            ]
        run(["mariadb", "--no-defaults", "-S", self.mariadb_socket(),
             "-u", "root", "-e", "; ".join(statements)],
            "creating the databases")
        mark(marker)

    def db_url(self, db):
        return "mysql+pymysql://%s:%s@%s:%d/%s?charset=utf8" % (
            db, self.pw["mariadb_" + db], HOST, PORTS["mariadb"], db)

    # -- RabbitMQ
    def rabbit_env(self):
        base = path("rabbitmq")
        dist = "-kernel inet_dist_use_interface {127,0,0,1}"
        return {
            "HOME": os.path.join(base, "home"),
            "RABBITMQ_NODENAME": "rabbit@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": HOST,
            "RABBITMQ_NODE_PORT": str(PORTS["rabbitmq"]),
            "RABBITMQ_DIST_PORT": str(RABBIT_DIST_PORT),
            "ERL_EPMD_ADDRESS": HOST,
            "ERL_EPMD_PORT": str(PORTS["epmd"]),
            "RABBITMQ_MNESIA_BASE": os.path.join(base, "mnesia"),
            "RABBITMQ_LOG_BASE": os.path.join(base, "log"),
            "RABBITMQ_PID_FILE": os.path.join(base, "rabbitmq.pid"),
            "RABBITMQ_CONFIG_FILE": os.path.join(base, "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": os.path.join(
                base, "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(
                base, "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": os.path.join(base, "rabbitmq-env.conf"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": dist,
            "RABBITMQ_CTL_ERL_ARGS": dist,
        }

    def start_rabbitmq(self):
        base = path("rabbitmq")
        for sub in ("home", "mnesia", "log"):
            os.makedirs(os.path.join(base, sub), exist_ok=True)
        write(os.path.join(base, "rabbitmq.conf"), "\n".join([
            "listeners.tcp.default = %s:%d" % (HOST, PORTS["rabbitmq"]),
            "loopback_users.guest = true",
            "log.console = true",
            "log.file = false",
            "vm_memory_high_watermark.absolute = 512MiB",
            "disk_free_limit.absolute = 50MB", ""]))
        write(os.path.join(base, "advanced.config"), "[].\n")
        write(os.path.join(base, "enabled_plugins"), "[].\n")
        write(os.path.join(base, "rabbitmq-env.conf"), "\n")
        if not running_pid("epmd"):
            self._check_free("epmd")
            spawn("epmd", ["epmd", "-address", HOST, "-port",
                           str(PORTS["epmd"])])
            wait_port("epmd", PORTS["epmd"], 10)
        if running_pid("rabbitmq"):
            return
        self._check_free("rabbitmq")
        spawn("rabbitmq", ["/usr/lib/rabbitmq/bin/rabbitmq-server"],
              env=self.rabbit_env())

    # -- Keystone
    def keystone_conf(self):
        conf = path("keystone", "keystone.conf")
        write(conf, ini({
            "DEFAULT": {"max_token_size": 255},
            "database": {"connection": self.db_url("keystone")},
            "token": {"provider": "fernet"},
            "fernet_tokens": {"key_repository": path("keystone", "fernet")},
            "fernet_receipts": {"key_repository": path("keystone",
                                                       "fernet")},
            "credential": {"key_repository": path("keystone",
                                                  "credential")},
            # in-process caches: token validation costs ~0.35 s without
            "cache": {"enabled": "true",
                      "backend": "dogpile.cache.memory"},
            # a development stack: cheap password hashes
            "identity": {"password_hash_rounds": 4},
        }), 0o600)
        return conf

    def setup_keystone(self):
        if done("keystone"):
            return
        conf = self.keystone_conf()
        manage = [self.bin("keystone-manage"), "--config-file", conf]
        log("keystone: db_sync, fernet and credential keys, bootstrap")
        run(manage + ["db_sync"], "keystone-manage db_sync")
        group = _group_name()
        for what in ("fernet_setup", "credential_setup"):
            run(manage + [what, "--keystone-user", self.user,
                          "--keystone-group", group],
                "keystone-manage " + what)
        url = keystone_url() + "/v3/"
        run(manage + ["bootstrap", "--bootstrap-password", self.pw["admin"],
                      "--bootstrap-admin-url", url,
                      "--bootstrap-internal-url", url,
                      "--bootstrap-public-url", url,
                      "--bootstrap-region-id", REGION],
            "keystone-manage bootstrap")
        mark("keystone")

    def gunicorn(self, name, app, ports, workers=1, env=None,
                 access_log=False, venv=None):
        if running_pid(name):
            return
        for port in ports:
            if port_open(port):
                raise StackError("port %d (for %s) is used by a process "
                                 "this stack did not start" % (port, name))
        argv = [os.path.join(venv or self.venv, "bin", "gunicorn"),
                "--no-control-socket",
                "--pythonpath", HERE, "--workers", str(workers),
                "--threads", "4", "--timeout", "300",
                "--graceful-timeout", "3", "--name", "stack-" + name]
        for port in ports:
            argv += ["--bind", "%s:%d" % (HOST, port)]
        if access_log:
            # one line per request in logs/NAME.log: which calls a client
            # really makes (request line and status; no headers, no token)
            argv += ["--access-logfile", "-", "--access-logformat",
                     '%(r)s %(s)s']
        spawn(name, argv + [app], env=env)

    def start_keystone(self):
        self.keystone_conf()
        self.gunicorn("keystone", "wsgi_apps:keystone()",
                      [PORTS["keystone"]],
                      env={"STACK_CONFIG_DIR": path("keystone")})

    # -- Glance (real, sqlite database, file store)
    def glance_conf(self):
        paste = os.path.join(self.venv, "etc", "glance",
                             "glance-api-paste.ini")
        write(path("glance", "glance-api.conf"), ini({
            "DEFAULT": {"bind_host": HOST, "bind_port": PORTS["glance"],
                        "enabled_backends": "file:file",
                        "public_endpoint": "http://%s:%d" % (
                            HOST, PORTS["glance"]),
                        "show_image_direct_url": "false"},
            "database": {"connection": "sqlite:///" + path(
                "glance", "glance.sqlite")},
            "glance_store": {"default_backend": "file"},
            "file": {"filesystem_store_datadir": path("glance", "images")},
            "os_glance_staging_store": {
                "filesystem_store_datadir": path("glance", "staging")},
            "os_glance_tasks_store": {
                "filesystem_store_datadir": path("glance", "tasks")},
            "keystone_authtoken": authtoken("glance", self.pw["glance"]),
            "paste_deploy": {"flavor": "keystone", "config_file": paste},
            "oslo_concurrency": {"lock_path": path("glance", "locks")},
        }), 0o600)

    def start_glance(self):
        self.glance_conf()
        if running_pid("glance"):
            return
        if not done("glance"):
            run([self.bin("glance-manage"), "--config-file",
                 path("glance", "glance-api.conf"), "db_sync"],
                "glance-manage db_sync")
            mark("glance")
        self.gunicorn("glance", "wsgi_apps:glance()", [PORTS["glance"]],
                      env={"STACK_CONFIG_DIR": path("glance")})

    # -- stubs
    def start_stubs(self):
        self.gunicorn("stubs", "stubs:application",
                      sorted(STUB_PORTS.values()),
                      env={"STUBS_KEYSTONE_URL": keystone_url(),
                           "STUBS_COMPUTE_PORT": str(STUB_PORTS["compute"]),
                           "STUBS_NETWORK_PORT": str(STUB_PORTS["network"]),
                           "STUBS_VOLUME_PORT": str(STUB_PORTS["volume"])},
                      access_log=True)

    # -- Magnum
    def magnum_conf(self):
        clients = {"region_name": REGION, "endpoint_type": "publicURL"}
        chart = openstack_cluster_chart()
        sections = {
            "DEFAULT": {
                "transport_url": "rabbit://guest:guest@%s:%d/" % (
                    HOST, PORTS["rabbitmq"]),
                "host": "localhost",
                "state_path": path("magnum", "state"),
                "debug": "false",
            },
            "api": {"host": HOST, "port": PORTS["magnum-api"],
                    "api_paste_config": path("magnum", "api-paste.ini")},
            "database": {"connection": self.db_url("magnum")},
            "keystone_authtoken": authtoken("magnum", self.pw["magnum"]),
            "keystone_auth": authtoken("magnum", self.pw["magnum"]),
            "certificates": {"cert_manager_type": "x509keypair"},
            "oslo_messaging_notifications": {"driver": "noop"},
            "oslo_concurrency": {"lock_path": path("magnum", "locks")},
            "drivers": {"verify_ca": "false"},
            "kubernetes": {"health_polling_interval": 10},
            "capi_rdma": {
                # The shipped least-privilege service account
                # (etc/rbac), as an operator would configure it.
                "kubeconfig_file": path("mgmt", "driver.kubeconfig"),
                "chart_repo": chart,
                "helm_executable": os.path.join(self.bindir, "helm"),
                "chart_cache_dir": path("magnum", "charts"),
            },
        }
        for client in ("cinder", "glance", "nova", "neutron", "octavia",
                       "barbican", "magnum", "heat"):
            sections[client + "_client"] = dict(clients)
        write(path("magnum", "magnum.conf"), ini(sections), 0o600)
        source = os.path.join(self.venv, "etc", "magnum", "api-paste.ini")
        with open(source) as handle:
            write(path("magnum", "api-paste.ini"), handle.read())
        return path("magnum", "magnum.conf")

    def setup_magnum(self):
        conf = self.magnum_conf()
        if done("magnum"):
            return
        log("magnum: database migrations")
        run([self.bin("magnum-db-manage"), "--config-file", conf,
             "upgrade"], "magnum-db-manage upgrade")
        mark("magnum")

    def start_magnum(self):
        conf = self.magnum_conf()
        self.gunicorn("magnum-api", "wsgi_apps:magnum()",
                      [PORTS["magnum-api"]],
                      env={"STACK_CONFIG_DIR": path("magnum")})
        if not running_pid("magnum-conductor"):
            spawn("magnum-conductor", [self.bin("magnum-conductor"),
                                       "--config-file", conf])

    # -- Heat (optional): API under gunicorn, engine, on MariaDB + RabbitMQ
    def heat_conf(self):
        etc = os.path.join(self.venv, "etc", "heat")
        trustee = {"auth_type": "password", "auth_url": keystone_url(),
                   "username": "heat", "password": self.pw["heat"],
                   "user_domain_name": "Default"}
        write(path("heat", "heat.conf"), ini({
            "DEFAULT": {
                "transport_url": "rabbit://guest:guest@%s:%d/" % (
                    HOST, PORTS["rabbitmq"]),
                "host": "localhost",
                "debug": "false",
                "num_engine_workers": 1,
                # Heat retries a resource that went to *_FAILED (default 5
                # times); once is enough to show the retry on this stack
                "action_retry_limit": 1,
                "region_name_for_services": REGION,
                "stack_user_domain_name": HEAT_DOMAIN,
                "stack_domain_admin": HEAT_DOMAIN_ADMIN,
                "stack_domain_admin_password": self.pw[HEAT_DOMAIN_ADMIN],
                "environment_dir": os.path.join(etc, "environment.d"),
                # OS::Magnum::Cluster that waits out Magnum's create race
                "plugin_dirs": os.path.join(HERE, "heat-plugins"),
                "template_dir": os.path.join(etc, "templates"),
                # no Nova servers here: nothing calls these back
                "heat_metadata_server_url": "http://%s:8000" % HOST,
                "heat_waitcondition_server_url":
                    "http://%s:8000/v1/waitcondition" % HOST,
            },
            "database": {"connection": self.db_url("heat")},
            "keystone_authtoken": authtoken("heat", self.pw["heat"]),
            "trustee": trustee,
            "clients_keystone": {"auth_uri": keystone_url()},
            "clients": {"endpoint_type": "publicURL"},
            "ec2authtoken": {"auth_uri": keystone_url() + "/v3"},
            "paste_deploy": {"api_paste_config": os.path.join(
                etc, "api-paste.ini")},
            "heat_api": {"workers": 1},
            "oslo_messaging_notifications": {"driver": "noop"},
            "oslo_concurrency": {"lock_path": path("heat", "locks")},
        }), 0o600)
        return path("heat", "heat.conf")

    def setup_heat(self):
        conf = self.heat_conf()
        self.setup_databases(("heat",))
        if not done("heat"):
            log("heat: database migrations")
            run([self.bin("heat-manage"), "--config-file", conf, "db_sync"],
                "heat-manage db_sync")
            mark("heat")

    def start_heat(self):
        conf = self.heat_conf()
        if not running_pid("heat-engine"):
            spawn("heat-engine", [self.bin("heat-engine"), "--config-file",
                                  conf])
        self.gunicorn("heat-api", "wsgi_apps:heat()", [PORTS["heat-api"]],
                      env={"STACK_CONFIG_DIR": path("heat")})

    # -- Horizon (optional) with magnum-ui, under gunicorn
    def horizon_settings(self):
        """The state folder's Horizon settings, exec'd by settings.py."""
        settings = {
            "DEBUG": False,
            "ALLOWED_HOSTS": [HOST, "localhost"],
            "SECRET_KEY": self.pw["horizon_secret_key"],
            "WEBROOT": "/",
            "OPENSTACK_HOST": HOST,
            "OPENSTACK_KEYSTONE_URL": keystone_url() + "/v3",
            "OPENSTACK_KEYSTONE_DEFAULT_DOMAIN": "Default",
            "OPENSTACK_KEYSTONE_DEFAULT_ROLE": "member",
            "OPENSTACK_ENDPOINT_TYPE": "publicURL",
            "AVAILABLE_REGIONS": [],
            "SESSION_ENGINE":
                "django.contrib.sessions.backends.signed_cookies",
            "CACHES": {"default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
            "COMPRESS_OFFLINE": True,
            "TIME_ZONE": "UTC",
            "OPENSTACK_NEUTRON_NETWORK": {
                "enable_router": False, "enable_quotas": False,
                "enable_ipv6": False, "enable_distributed_router": False,
                "enable_ha_router": False, "enable_fip_topology_check":
                    False},
            "LOGGING": {"version": 1, "disable_existing_loggers": False,
                        "handlers": {"console": {
                            "class": "logging.StreamHandler"}},
                        "root": {"handlers": ["console"],
                                 "level": "WARNING"}},
        }
        lines = ["# tools/stack: Horizon settings of this state folder"]
        lines += ["%s = %r" % item for item in sorted(settings.items())]
        target = path("horizon", "local_settings.py")
        write(target, "\n".join(lines) + "\n", 0o600)
        return target

    def setup_horizon(self, venv_future=None):
        """Horizon's venv; magnum-ui's panels enabled, static files.

        Done once per venv: the enabled files and the compressed assets do
        not depend on the state folder.
        """
        self.horizon_venv = venv_future.result() if venv_future else \
            ensure_horizon_venv()
        settings = self.horizon_settings()
        marker = os.path.join(self.horizon_venv, ".horizon-ready")
        if os.path.exists(marker):
            return
        log("horizon: enabling magnum-ui, collecting and compressing static "
            "files (once per venv)")
        site = _site_packages(self.horizon_venv)
        dashboard = os.path.join(site, "openstack_dashboard", "local")
        enabled = os.path.join(site, "magnum_ui", "enabled")
        for name in sorted(os.listdir(enabled)):
            if name.startswith("_") and name.endswith(".py") and \
                    name != "__init__.py":
                shutil.copyfile(os.path.join(enabled, name),
                                os.path.join(dashboard, "enabled", name))
        os.makedirs(os.path.join(dashboard, "local_settings.d"),
                    exist_ok=True)
        write(os.path.join(dashboard, "local_settings.d",
                           "_90_magnum_capi_rdma_stack.py"), HORIZON_SNIPPET)
        env = {"DJANGO_SETTINGS_MODULE": "openstack_dashboard.settings",
               "MAGNUM_CAPI_RDMA_HORIZON_SETTINGS": settings}
        for command in (["collectstatic", "--noinput", "-v", "0"],
                        ["compress", "--force", "-v", "0"]):
            run([os.path.join(self.horizon_venv, "bin", "python"), "-m",
                 "django"] + command,
                "horizon: django-admin " + command[0], env=env)
        open(marker, "w").close()

    def start_horizon(self):
        settings = self.horizon_settings()
        self.gunicorn("horizon", "wsgi_apps:horizon()", [PORTS["horizon"]],
                      workers=2, venv=self.horizon_venv,
                      env={"MAGNUM_CAPI_RDMA_HORIZON_SETTINGS": settings})

    # -- Keystone catalog, users, projects; Glance image
    def register(self, extras=()):
        heat = "heat" in extras
        service_users = [
            {"name": "glance", "password": self.pw["glance"],
             "roles": ["admin", "service"]},
            {"name": "magnum", "password": self.pw["magnum"],
             "roles": ["admin", "service"]},
        ]
        project_roles = ["member", "reader"]
        domains = []
        if heat:
            service_users.append({"name": "heat", "password": self.pw["heat"],
                                  "roles": ["admin", "service"]})
            project_roles.append("heat_stack_owner")
            domains.append({"name": HEAT_DOMAIN, "admin": HEAT_DOMAIN_ADMIN,
                            "password": self.pw[HEAT_DOMAIN_ADMIN]})
        spec = {
            "auth_url": keystone_url() + "/v3",
            "admin_password": self.pw["admin"],
            "region": REGION,
            "service_users": service_users,
            "roles": ["admin", "member", "reader", "service"] + (
                list(HEAT_ROLES) if heat else []),
            "domains": domains,
            "projects": [{"project": p, "user": p, "password": self.pw[p],
                          "roles": project_roles} for p in PROJECTS],
            "catalog": catalog(extras),
            "images": [IMAGE],
        }
        text = json.dumps(spec, indent=1, sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        if done("register-" + digest):
            return
        target = path("register.json")
        write(target, text, 0o600)
        log("registering services, users, projects and the image")
        run([self.bin("python"), os.path.join(HERE, "register.py"), target],
            "registering in Keystone")
        mark("register-" + digest)

    # -- management cluster + simulator
    def start_mgmt(self):
        if not _bed_available():
            log("management cluster: skipped (magnum_capi_rdma_dev/bed is "
                "not there)")
            return
        env = dev_env({"MAGNUM_CAPI_RDMA_BIN": self.bindir,
                       "PATH": self.bindir + os.pathsep + os.environ["PATH"]})
        run([self.bin("python"), "-m", DEV + ".bed", "up", "--crds",
             "--rbac", "--state", path("mgmt")],
            "management cluster (python -m %s.bed up)" % DEV, env=env,
            cwd=REPO)
        log("management cluster up: %s" % path("mgmt", "kubeconfig"))
        if running_pid("simulator"):
            return
        simulator = os.path.join(REPO, DEV, "simulator", "__main__.py")
        if not os.path.exists(simulator):
            log("simulator: skipped (%s.simulator has no __main__)" % DEV)
            return
        # Each cluster gets a real workload API server (its kubeconfig
        # Secret points there, the simulation plays its nodes, network
        # operator and RDMA self-test pods); faults (e.g. the demo's
        # broken fabric) go to the faults file, re-read when it changes.
        faults = path("simulator-faults.yaml")
        if not os.path.exists(faults):
            write(faults, "{}\n", 0o600)
        spawn("simulator", [self.bin("python"), "-m", DEV + ".simulator",
                            "--kubeconfig", path("mgmt", "kubeconfig"),
                            "--install-crds", "--faults", faults,
                            "--workload-servers", path("workloads")],
              env=env, cwd=REPO)

    def _check_free(self, name):
        if port_open(PORTS[name]):
            raise StackError("port %d (for %s) is used by a process this "
                             "stack did not start" % (PORTS[name], name))


PROCS = {name: True for name in SERVICES}


def _group_name():
    import grp
    return grp.getgrgid(os.getegid()).gr_name


def catalog(extras=()):
    base = "http://%s:%%d" % HOST
    entries = [
        {"type": "image", "name": "glance",
         "url": base % PORTS["glance"]},
        {"type": "compute", "name": "nova",
         "url": base % STUB_PORTS["compute"] + "/v2.1"},
        {"type": "network", "name": "neutron",
         "url": base % STUB_PORTS["network"]},
        {"type": "block-storage", "name": "cinder",
         "url": base % STUB_PORTS["volume"] + "/v3/$(project_id)s"},
        {"type": "container-infra", "name": "magnum",
         "url": base % PORTS["magnum-api"] + "/v1"},
    ]
    if "heat" in extras:
        entries.append({"type": "orchestration", "name": "heat",
                        "url": base % PORTS["heat-api"]
                        + "/v1/$(project_id)s"})
    return entries


def _site_packages(venv):
    lib = os.path.join(venv, "lib")
    for name in sorted(os.listdir(lib)):
        site = os.path.join(lib, name, "site-packages")
        if name.startswith("python") and os.path.isdir(site):
            return site
    raise StackError("no site-packages in %s" % venv)


# Put in the venv's openstack_dashboard/local/local_settings.d: Horizon's
# settings.py execs it; it execs the state folder's settings file.
HORIZON_SNIPPET = """\
# Written by magnum-capi-rdma tools/stack: the settings of the local stack's
# state folder, named by $MAGNUM_CAPI_RDMA_HORIZON_SETTINGS.
import os as _stack_os
_stack_settings = _stack_os.environ.get("MAGNUM_CAPI_RDMA_HORIZON_SETTINGS")
if _stack_settings:
    with open(_stack_settings, encoding="utf-8") as _stack_file:
        exec(_stack_file.read())
"""


# ----------------------------------------------------------- client files

def credentials(pw, project):
    user = "admin" if project == "admin" else project
    return {
        "OS_AUTH_URL": keystone_url() + "/v3",
        "OS_IDENTITY_API_VERSION": "3",
        "OS_USERNAME": user,
        "OS_PASSWORD": pw[user],
        "OS_PROJECT_NAME": project,
        "OS_USER_DOMAIN_NAME": "Default",
        "OS_PROJECT_DOMAIN_NAME": "Default",
        "OS_REGION_NAME": REGION,
        "OS_INTERFACE": "public",
    }


def write_client_files(pw, venv, extras=(), horizon_venv=None):
    clouds = {}
    for project in ("admin",) + PROJECTS:
        env = credentials(pw, project)
        lines = ["# tools/stack: credentials of %s on the local stack"
                 % project, 'export PATH="%s:$PATH"'
                 % os.path.join(venv, "bin")]
        lines += ["export %s='%s'" % item for item in sorted(env.items())]
        name = "openrc" if project == "admin" else "openrc." + project
        write(path(name), "\n".join(lines) + "\n", 0o600)
        clouds[project] = {
            "auth": {"auth_url": env["OS_AUTH_URL"],
                     "username": env["OS_USERNAME"],
                     "password": env["OS_PASSWORD"],
                     "project_name": project,
                     "user_domain_name": "Default",
                     "project_domain_name": "Default"},
            "region_name": REGION, "interface": "public",
            "identity_api_version": 3,
        }
    # JSON is valid YAML: no PyYAML needed here
    write(path("clouds.yaml"), json.dumps({"clouds": clouds}, indent=2)
          + "\n", 0o600)
    info = {
        "state": STATE, "venv": venv, "repo": REPO,
        "openstack": os.path.join(venv, "bin", "openstack"),
        "ports": dict(PORTS, **STUB_PORTS),
        "image": IMAGE["name"],
        "credentials": {p: credentials(pw, p)
                        for p in ("admin",) + PROJECTS},
        "extras": sorted(extras),
    }
    if "heat" in extras:
        info["heat"] = "http://%s:%d/v1" % (HOST, PORTS["heat-api"])
    if "horizon" in extras:
        info["horizon"] = "http://%s:%d/" % (HOST, PORTS["horizon"])
        info["horizon_venv"] = horizon_venv
    write(path("stack.json"), json.dumps(info, indent=1, sort_keys=True)
          + "\n", 0o600)


# -------------------------------------------------------------- commands

def ports_of(name):
    if name == "stubs":
        return sorted(STUB_PORTS.values())
    if name in PORTS:
        return [PORTS[name]]
    return []


def parse_extras(text):
    """The set of extras named in TEXT ("heat,horizon"; "" for none)."""
    names = {n.strip() for n in (text or "").split(",") if n.strip()}
    unknown = sorted(names - set(EXTRAS))
    if unknown:
        raise StackError("unknown service for --with: %s (choose from %s)"
                         % (", ".join(unknown), ",".join(sorted(EXTRAS))))
    return names


def running_extras():
    """Extras with a running process: a plain `up` keeps them."""
    return {extra for extra, names in EXTRAS.items()
            if any(running_pid(n) for n in names)}


def recorded_extras():
    try:
        with open(path("extras")) as handle:
            return parse_extras(handle.read())
    except (OSError, StackError):
        return set()


def cmd_up(args):
    os.makedirs(STATE, exist_ok=True)
    extras = parse_extras(args.with_) | running_extras()
    sampler = PeakSampler()
    sampler.start()
    log("state folder %s; extras: %s" % (STATE, ",".join(sorted(extras))
                                         or "none"))
    ensure_debs()
    side = concurrent.futures.ThreadPoolExecutor(1)
    # Horizon's venv builds while the services venv does
    horizon_venv = side.submit(ensure_horizon_venv) \
        if "horizon" in extras else None
    bindir = install_test_tools()
    try:
        venv = ensure_venv()
    finally:
        side.shutdown(wait=True)
    stack = Stack(venv, bindir, secrets_file())
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        mgmt = pool.submit(stack.start_mgmt)
        horizon = pool.submit(stack.setup_horizon, horizon_venv) \
            if horizon_venv else None
        stack.start_mariadb()
        stack.start_rabbitmq()
        stack.start_stubs()
        glance = pool.submit(stack.start_glance)
        wait_port("mariadb", PORTS["mariadb"], 60)
        stack.setup_databases()
        magnum = pool.submit(stack.setup_magnum)
        heat = pool.submit(stack.setup_heat) if "heat" in extras else None
        stack.setup_keystone()
        stack.start_keystone()
        magnum.result()
        stack.start_magnum()
        if heat:
            heat.result()
            stack.start_heat()
        wait_http("keystone", PORTS["keystone"], 90)
        glance.result()
        stack.register(extras)
        if horizon:
            horizon.result()
            stack.start_horizon()
        wait_port("rabbitmq", PORTS["rabbitmq"], 120)
        log("rabbitmq listens on port %d" % PORTS["rabbitmq"])
        waits = ["stubs", "glance", "magnum-api"]
        waits += ["heat-api"] if heat else []
        waits += ["horizon"] if horizon else []
        for name in waits:
            for port in ports_of(name):
                wait_http(name, port, 120)
        problems = []
        try:
            mgmt.result()
        except StackError as err:
            problems.append(str(err))
    write(path("extras"), ",".join(sorted(extras)) + "\n")
    write_client_files(stack.pw, venv, extras, stack.horizon_venv)
    problems += check_alive(("magnum-conductor", "simulator", "heat-engine"))
    wall = time.monotonic() - T0
    peak = sampler.finish()
    metrics = {"wall_seconds": round(wall, 1), "peak_rss_bytes": peak,
               "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                         time.gmtime())}
    write(path("metrics.json"), json.dumps(metrics) + "\n")
    print_status()
    log("stack up in %.1f s, peak memory %s; credentials: . %s"
        % (wall, _mib(peak), path("openrc")))
    if problems:
        raise StackError("; ".join(problems))
    return 0


def check_alive(names, settle=3.0):
    """Names of processes without a port that died soon after starting."""
    problems = []
    for name in names:
        pidfile = path("run", name + ".pid")
        if not os.path.exists(pidfile):
            continue
        age = time.time() - os.path.getmtime(pidfile)
        if age < settle:
            time.sleep(settle - age)
        if not running_pid(name):
            problems.append("%s exited: %s (see %s)" % (
                name, _last_error(path("logs", name + ".log")),
                path("logs", name + ".log")))
    return problems


def _last_error(logfile):
    try:
        with open(logfile, errors="replace") as handle:
            lines = handle.read().splitlines()[-400:]
    except OSError:
        return "no log"
    for line in reversed(lines):
        if " CRITICAL " in line:
            return line.split(" CRITICAL ", 1)[1].strip()[-200:]
    for line in reversed(lines):
        text = line.split(" ERROR ", 1)[-1].strip()
        if "Error" in line and not text.startswith(("File ", "^")):
            return text[-200:]
    return lines[-1][-200:] if lines else "empty log"


def _mib(count):
    return "%.0f MiB" % (count / 1048576.0)


def service_state(name):
    pid = running_pid(name)
    ports = ports_of(name)
    if pid is None:
        return "down", ports
    if ports and not all(port_open(p) for p in ports):
        return "starting", ports
    return "up", ports


def shown_services():
    """Core services, and the extras that are recorded or running."""
    extras = recorded_extras() | running_extras()
    return [name for name in reversed(SERVICES)
            if name not in EXTRA_SERVICES
            or any(name in EXTRAS[e] for e in extras)]


def print_status():
    for name in shown_services():
        state, ports = service_state(name)
        pid = running_pid(name)
        print("  %-17s %-8s %-17s %s" % (
            name, state, ",".join(str(p) for p in ports) or "-",
            "pid %d" % pid if pid else ""))
    print("  %-17s %-8s %-17s %s" % ("management", mgmt_state(), "-",
                                     path("mgmt", "kubeconfig")))


def openstack_cluster_chart():
    """The openstack-cluster chart Magnum installs on the local stack.

    ``MAGNUM_CAPI_RDMA_CHART_REPO`` when set; else the real chart 0.27.0
    of ``../shared/upstream`` (``MAGNUM_CAPI_RDMA_REAL_CHART`` /
    ``MAGNUM_CAPI_RDMA_UPSTREAM``, see magnum_capi_rdma_dev/upstream.py);
    else, on a fresh clone without it, the test chart, and a line says so.
    """
    explicit = os.environ.get("MAGNUM_CAPI_RDMA_CHART_REPO")
    if explicit:
        return explicit
    sys.path.insert(0, REPO)
    try:
        from magnum_capi_rdma_dev import upstream
    finally:
        sys.path.remove(REPO)
    real = upstream.openstack_cluster_chart()
    if real is not None:
        return str(real)
    log("openstack-cluster chart: the test chart (%s)"
        % upstream.missing_message())
    return str(upstream.TEST_CHART)


def _bed_available():
    return os.path.exists(os.path.join(REPO, DEV, "bed", "__main__.py"))


def mgmt_state():
    """up, down or absent (no test bed in this checkout)."""
    venv = _recorded_venv()
    if not _bed_available() or not venv:
        return "absent"
    if not os.path.isdir(path("mgmt")):
        return "down"
    result = subprocess.run(
        [os.path.join(venv, "bin", "python"), "-m", DEV + ".bed", "status",
         "--state", path("mgmt")], cwd=REPO, env=dict(os.environ,
                                                      **dev_env()),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return "up" if result.returncode == 0 else "down"


def cmd_status(args):
    if not os.path.isdir(STATE):
        print("no stack in %s" % STATE)
        return 3
    print("stack in %s" % STATE)
    print_status()
    try:
        with open(path("metrics.json")) as handle:
            metrics = json.load(handle)
        print("last up: %.1f s wall time, peak memory %s (%s)" % (
            metrics["wall_seconds"], _mib(metrics["peak_rss_bytes"]),
            metrics["finished"]))
    except (OSError, ValueError, KeyError):
        pass
    print("memory now: %s" % _mib(stack_rss()))
    up = all(service_state(n)[0] == "up" for n in shown_services()
             if n != "simulator" or running_pid(n))
    if up and mgmt_state() != "down":
        return 0
    # 1: part of it runs (someone's stack, being started or repaired);
    # 2: none of its processes runs
    return 1 if any(running_pid(n) for n in SERVICES) else 2


def _recorded_venv():
    try:
        with open(path("venv")) as handle:
            return handle.read().strip()
    except OSError:
        return None


# stopped together, then the message bus and the database they use
CLIENT_SERVICES = ("horizon", "heat-api", "heat-engine", "simulator",
                   "magnum-conductor", "magnum-api", "glance", "stubs",
                   "keystone")
BACKING_SERVICES = ("rabbitmq", "epmd", "mariadb")


def _stop_logged(name):
    if stop(name):
        log("stopped %s" % name)


def _stop_mgmt():
    venv = _recorded_venv()
    if not (os.path.isdir(path("mgmt")) and venv and _bed_available()):
        return
    result = subprocess.run(
        [os.path.join(venv, "bin", "python"), "-m", DEV + ".bed", "down",
         "--state", path("mgmt")], cwd=REPO, env=dict(os.environ,
                                                      **dev_env()),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if result.returncode:
        log("%s.bed down exited %d: %s" % (DEV, result.returncode,
                                           result.stderr.strip()[-300:]))
    else:
        log("stopped the management cluster")


def cmd_down(args):
    if not os.path.isdir(STATE):
        log("nothing to stop: no state folder %s" % STATE)
        return 0
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        jobs = [pool.submit(_stop_logged, n) for n in CLIENT_SERVICES]
        jobs.append(pool.submit(_stop_mgmt))
        for job in jobs[:-1]:
            job.result()
        for name in BACKING_SERVICES:
            _stop_logged(name)
        jobs[-1].result()
    for name in SERVICES:
        for port in ports_of(name):
            wait_port(name, port, 30, closed=True)
    if os.path.exists(path("extras")):
        os.unlink(path("extras"))
    if args.purge:
        shutil.rmtree(STATE)
        log("removed %s" % STATE)
    log("stack down")
    return 0


class state_lock(object):
    """One up or down at a time per state folder."""

    def __enter__(self):
        os.makedirs(STATE, exist_ok=True)
        self.handle = open(path("stack.lock"), "w")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            log("waiting for another tools/stack on %s" % STATE)
            fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="tools/stack",
        description="Local OpenStack (Keystone, Glance, Magnum with this "
        "driver, stubs of Nova/Neutron/Cinder; optionally Heat and Horizon) "
        "and a management cluster, all on 127.0.0.1. "
        "State: $MAGNUM_CAPI_RDMA_STATE (default %s)."
        % _default_state())
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start what is not running (idempotent)")
    up.add_argument(
        "--with", dest="with_", metavar="heat,horizon",
        default=os.environ.get("MAGNUM_CAPI_RDMA_STACK_WITH", ""),
        help="also run these optional services (default: "
        "$MAGNUM_CAPI_RDMA_STACK_WITH; extras already running are kept)")
    down = sub.add_parser("down", help="stop the stack's own processes")
    down.add_argument("--purge", action="store_true",
                      help="also remove the state folder")
    sub.add_parser("status", help="each service, its port and state; exit "
                   "0 all up, 1 partly up, 2 down, 3 no state folder")
    args = parser.parse_args(argv)
    handler = {"up": cmd_up, "down": cmd_down, "status": cmd_status}
    try:
        if args.command == "status":
            return cmd_status(args)
        with state_lock():
            return handler[args.command](args)
    except StackError as err:
        print("tools/stack: error: %s" % err, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tools/stack: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `tools/stack status | head`: the reader left, nothing to say
        sys.stdout = None
        return 0


if __name__ == "__main__":
    sys.exit(main())
