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
"""Helm through pyhelm3, behind a small synchronous facade.

Magnum runs its services on threads, pyhelm3 is asyncio. Every coroutine
runs on ONE daemon thread that owns one event loop for the whole process;
callers block on ``run_coroutine_threadsafe(...).result(timeout)``.

The chart comes from a local directory (used as is), an http(s) chart
repository or an ``oci://`` reference. Remote charts are pulled once per
(repo, name, version) into ``cache_dir`` and reused from there: no download
per call, and the cache survives restarts.

Faults, each said in one line naming the release: a helm run longer than
``timeout`` seconds is stopped (SIGTERM, so helm marks its revision failed
rather than leaving it pending) and reported as "timed out after Ns"; a
release locked by another helm is reported as "another operation ... is in
progress on release X". Both are retried ``retries`` times with backoff,
then the error says how many attempts were made. A revision left pending
by a helm that died (SIGKILL, a conductor restarted with its children) is
taken as abandoned after ``stale_after`` seconds: the pending revision
(install, upgrade or rollback) is marked failed, as helm marks an
operation that failed, so that the next upgrade proceeds.
"""

import asyncio
import base64
import dataclasses
import datetime
import gzip
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import tempfile
import threading
import time

from oslo_config import cfg

from magnum_capi_rdma.adapters import lazy
from magnum_capi_rdma import conf as _conf  # noqa: F401 - options

LOG = logging.getLogger(__name__)


# Imported on first use (see .lazy).
pyhelm3 = lazy.Module("pyhelm3")
helm_errors = lazy.Module("pyhelm3.errors")
_COMMAND_CLASS = []

#: stderr fragments (lower case) of failures worth retrying.
TRANSIENT_PATTERNS = (
    "another operation (install/upgrade/rollback) is in progress",
    "connection refused",
    "connection reset",
    "i/o timeout",
    "tls handshake timeout",
    "context deadline exceeded",
    "operation timed out",
    "network is unreachable",
    "no route to host",
    "etcdserver",
    "the server is currently unable to handle the request",
    "too many requests",
    "the object has been modified",
    "unexpected eof",
    "http2: client connection lost",
    "service unavailable",
    "internal error occurred",
)

#: What helm says when a release is locked by a pending operation.
BUSY = "another operation (install/upgrade/rollback) is in progress"
MAX_MESSAGE = 400
UNREACHABLE = "Kubernetes cluster unreachable"
BACKOFF_BASE = 1.0
BACKOFF_MAX = 15.0
#: Seconds a helm stopped at its timeout gets to exit before SIGKILL.
STOP_GRACE = 10
#: Seconds beyond the timeout before the caller stops waiting at all.
KILL_GRACE = 30
#: Values of ``HelmError.reason``.
TIMEOUT = "timeout"
LOCKED = "locked"


@dataclasses.dataclass(frozen=True)
class Pending(object):
    """A release's latest revision, left in one of helm's pending states.

    ``age`` is seconds since helm wrote it (None if unknown); ``stale``
    says it is older than the adapter's ``stale_after``: no helm of ours
    runs that long, so the helm writing it has died.
    """

    revision: int
    status: str
    age: int
    stale: bool

    def __str__(self):
        return "revision %s has been %s for %ss" % (
            self.revision, self.status, "?" if self.age is None else
            self.age)


class HelmError(Exception):
    """A helm operation failed.

    ``transient`` is True when retrying later may succeed (API unreachable,
    another operation in progress). The message is one short line from
    helm's stderr: never the values.
    """

    def __init__(self, message, transient=False, operation=None,
                 release=None, reason=None, attempts=1):
        self.transient = transient
        self.operation = operation
        self.release = release
        #: TIMEOUT, LOCKED or None: what kind of transient failure.
        self.reason = reason
        #: How many times the operation was tried.
        self.attempts = attempts
        super().__init__(message)

    def after(self, attempts):
        """The same error, saying it was the last of ``attempts`` tries."""
        return HelmError("%s (gave up after %d attempts)" % (self, attempts),
                         transient=self.transient, operation=self.operation,
                         release=self.release, reason=self.reason,
                         attempts=attempts)


#: How the API server names a field of an object that the object's schema
#: does not have; helm (which cannot ask for strict field validation)
#: prints it as a warning and the field is dropped.
_UNKNOWN_FIELD = re.compile(r'unknown field \\?"([^"\\]+)\\?"')


def dropped_fields(stderr):
    """Sorted field paths the API server dropped, from helm's stderr."""
    return sorted(set(_UNKNOWN_FIELD.findall(stderr or "")))


def is_transient(stderr):
    """True if helm's stderr says the failure may go away by itself."""
    text = (stderr or "").lower()
    return any(pattern in text for pattern in TRANSIENT_PATTERNS)


def meaningful_line(stderr):
    """The line of helm's stderr that says what went wrong, shortened."""
    lines = [line.strip() for line in (stderr or "").splitlines()
             if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    chosen = errors[-1] if errors else (lines[-1] if lines else "")
    if chosen.startswith("Error:"):
        chosen = chosen[len("Error:"):].strip()
    # helm's "Kubernetes cluster" is the management cluster (the operator
    # would otherwise wonder whether the workload cluster is meant).
    if chosen.startswith(UNREACHABLE):
        chosen = "management cluster unreachable" + chosen[len(UNREACHABLE):]
    # A schema failure, or helm's "N error(s) occurred:", lists the
    # details on the following lines.
    if errors and ("schema" in chosen.lower() or chosen.endswith(":")):
        index = lines.index(errors[-1])
        details = [line.lstrip("-*\t ") for line in
                   lines[index + 1:index + 4]]
        if details:
            chosen = "%s: %s" % (chosen.rstrip(":"), "; ".join(details))
    if len(chosen) > MAX_MESSAGE:
        chosen = chosen[:MAX_MESSAGE - 3] + "..."
    return chosen or "helm failed without a message"


def _what(operation, release):
    return operation if release is None else "%s of release %s" % (
        operation, release)


def _error_from(exc, operation, release):
    """Map a pyhelm3 (or other) exception to a HelmError."""
    if isinstance(exc, HelmError):
        return exc
    reason = None
    if isinstance(exc, helm_errors.Error):
        stderr = exc.stderr.decode(errors="replace")
        transient = (isinstance(exc, helm_errors.ConnectionError)
                     or is_transient(stderr))
        message = meaningful_line(stderr)
        if BUSY in stderr.lower():
            # helm says "UPGRADE FAILED: another operation ..." without
            # naming the release: say which one is locked.
            reason, message = LOCKED, BUSY + (
                " on release %s" % release if release else "")
    elif isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        transient, message = True, "timed out"
    elif isinstance(exc, OSError):
        transient, message = False, "cannot run helm: %s" % exc
    else:
        transient, message = False, "%s: %s" % (type(exc).__name__, exc)
    return HelmError("helm %s failed: %s" % (_what(operation, release),
                                             message),
                     transient=transient, operation=operation,
                     release=release, reason=reason)


class _LoopThread(object):
    """One asyncio event loop in one daemon thread, shared by all."""

    _lock = threading.Lock()
    _loop = None

    @classmethod
    def loop(cls):
        with cls._lock:
            if cls._loop is None or cls._loop.is_closed():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=cls._serve, args=(loop,),
                    name="capi-rdma-helm-loop", daemon=True)
                thread.start()
                cls._loop = loop
            return cls._loop

    @staticmethod
    def _serve(loop):
        asyncio.set_event_loop(loop)
        loop.run_forever()

    @classmethod
    def run(cls, coro, timeout):
        """Run ``coro`` on the shared loop and wait for its result."""
        future = asyncio.run_coroutine_threadsafe(coro, cls.loop())
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise


def run_sync(coro, timeout):
    """Run a coroutine on the shared helm loop thread (blocking)."""
    return _LoopThread.run(coro, timeout)


def _error_class(stderr):
    """The pyhelm3 error class for helm's stderr (the ones callers use)."""
    text = stderr.lower()
    if "context canceled" in text:
        return helm_errors.CommandCancelledError
    if "etcdserver" in text:
        return helm_errors.ConnectionError
    if "release: not found" in text:
        return helm_errors.ReleaseNotFoundError
    if "failed to render chart" in text or "execution error" in text:
        return helm_errors.FailedToRenderChartError
    if any(p in text for p in ("connection refused", "i/o timeout",
                               "network is unreachable", "no route to host",
                               "read: operation timed out")):
        return helm_errors.ConnectionError
    return helm_errors.Error


async def _stop(proc):
    """SIGTERM helm, give it STOP_GRACE seconds to exit, then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            return
        try:
            await asyncio.wait_for(proc.communicate(), STOP_GRACE)
            return
        except (TimeoutError, asyncio.TimeoutError):
            continue


def _Command(**kwargs):
    """A pyhelm3 Command of :class:`_DirectHelm` (pyhelm3 imported here)."""
    if not _COMMAND_CLASS:
        _COMMAND_CLASS.append(type("_Command",
                                   (_DirectHelm, pyhelm3.Command), {}))
    return _COMMAND_CLASS[0](**kwargs)


class _DirectHelm(object):
    """pyhelm3's helm commands, with helm run directly (no shell).

    pyhelm3 starts helm through ``sh -c``; when a run is cancelled it
    signals that shell, and helm (a child of the shell, which does not
    exec it) runs on, holding the release while the next attempt starts.
    Here helm is the process started, so a cancelled run stops helm itself:
    SIGTERM (helm marks a revision it is writing failed), then SIGKILL.
    """

    def __init__(self, *, kubeconfig=None, **kwargs):
        super().__init__(**kwargs)
        self._kubeconfig_file = kubeconfig

    async def run(self, command, input=None):
        argv = [self._executable] + [
            part if isinstance(part, (str, bytes)) else str(part)
            for part in command]
        if self._kubeconfig_file:
            argv += ["--kubeconfig", str(self._kubeconfig_file)]
        LOG.debug("Running helm %s", " ".join(
            str(part) for part in command[:2]))
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if input is not None else None,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            stdout, stderr = await proc.communicate(input)
        except asyncio.CancelledError:
            await _stop(proc)
            raise
        if proc.returncode == 0:
            dropped = dropped_fields(stderr.decode(errors="replace"))
            if dropped:
                LOG.warning("helm %s: the API server dropped field(s) its "
                            "schemas do not have: %s", command[0],
                            ", ".join(dropped))
            return stdout
        raise _error_class(stderr.decode(errors="replace"))(
            proc.returncode, stdout, stderr)


def _is_remote(repo):
    return bool(repo) and repo.startswith(("http://", "https://", "oci://"))


def _age_seconds(timestamp):
    """Seconds since an RFC 3339 timestamp from helm, or None."""
    if not timestamp:
        return None
    try:
        when = datetime.datetime.fromisoformat(
            timestamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    now = datetime.datetime.now(datetime.timezone.utc)
    return int((now - when).total_seconds())


def pull_ref(repo, name):
    """(chart reference, --repo argument) for ``helm pull``."""
    if repo.startswith("oci://"):
        return "%s/%s" % (repo.rstrip("/"), name), None
    return name, repo


def _cache_key(repo, name, version):
    digest = hashlib.sha256(
        ("%s\0%s\0%s" % (repo, name, version)).encode()).hexdigest()[:12]
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", "%s-%s" % (name, version))
    return "%s-%s" % (safe, digest)


class Helm(object):
    """Synchronous helm facade for one management cluster and one chart."""

    def __init__(self, executable, kubeconfig, chart_repo, chart_name,
                 cache_dir, timeout, retries, default_version=None,
                 backoff=BACKOFF_BASE, stale_after=None):
        self.executable = executable
        self.kubeconfig = kubeconfig or None
        self.chart_repo = chart_repo
        self.chart_name = chart_name
        self.cache_dir = cache_dir
        self.timeout = int(timeout)
        self.retries = int(retries)
        self.default_version = default_version
        self.backoff = backoff
        #: Seconds after which a pending revision is taken as abandoned.
        self.stale_after = (2 * self.timeout if stale_after is None
                            else stale_after)
        self._charts = {}
        self._chart_lock = threading.Lock()
        self._command = None
        self._client = None
        self._client_lock = threading.Lock()
        #: How many times a chart was downloaded (for tests and logs).
        self.pulls = 0

    @classmethod
    def from_config(cls, conf=cfg.CONF):
        group = conf.capi_rdma
        return cls(
            executable=group.helm_executable,
            kubeconfig=group.kubeconfig_file,
            chart_repo=group.chart_repo,
            chart_name=group.chart_name,
            cache_dir=group.chart_cache_dir,
            timeout=group.helm_timeout,
            retries=group.helm_retries,
            default_version=group.chart_version,
        )

    # -- plumbing ---------------------------------------------------------
    def _helm_timeout(self):
        return "%ds" % self.timeout

    def _clients(self):
        with self._client_lock:
            if self._client is None:
                try:
                    self._command = _Command(
                        default_timeout=self._helm_timeout(),
                        executable=self.executable,
                        kubeconfig=self.kubeconfig,
                    )
                    self._client = pyhelm3.Client(command=self._command,
                                                  executable=self.executable)
                except (AssertionError, OSError, ValueError) as exc:
                    raise HelmError(
                        "cannot use helm executable %r: %s"
                        % (self.executable, exc or "not found"))
            return self._client, self._command

    def _run(self, operation, release, factory):
        """Run the coroutine made by ``factory()`` once, mapping errors.

        A run longer than ``timeout`` seconds is cancelled: pyhelm3 then
        sends helm SIGTERM and waits for it to exit (helm marks a revision
        it was writing failed), so a retry never races the stopped helm.
        """
        limit = self.timeout

        async def bounded():
            return await asyncio.wait_for(factory(), limit)

        try:
            return run_sync(bounded(), limit + KILL_GRACE)
        except (TimeoutError, asyncio.TimeoutError):
            raise HelmError(
                "helm %s timed out after %ds" % (_what(operation, release),
                                                 limit),
                transient=True, operation=operation, release=release,
                reason=TIMEOUT) from None
        except Exception as exc:  # noqa: B902 - mapped to HelmError
            raise _error_from(exc, operation, release) from None

    def _with_retries(self, operation, release, factory):
        attempt = 0
        while True:
            try:
                return self._run(operation, release, factory)
            except HelmError as exc:
                if not exc.transient:
                    raise
                if attempt >= self.retries:
                    raise exc.after(attempt + 1) if attempt else exc
                delay = min(self.backoff * (2 ** attempt), BACKOFF_MAX)
                attempt += 1
                LOG.warning("%s; retry %d of %d in %.1fs", exc, attempt,
                            self.retries, delay)
                time.sleep(delay)

    # -- chart resolution ---------------------------------------------------
    def chart_path(self, chart_version=None):
        """Local directory of the chart for ``chart_version``.

        A local chart directory is used as is; a remote chart is pulled
        once into the cache.
        """
        repo = self.chart_repo
        if not _is_remote(repo):
            if not (repo and os.path.isfile(os.path.join(repo, "Chart.yaml"))):
                raise HelmError(
                    "chart_repo %r is neither an http(s) or oci:// "
                    "repository nor a chart directory (no Chart.yaml)"
                    % repo)
            if chart_version:
                LOG.debug("Local chart %s: version %s ignored", repo,
                          chart_version)
            return os.path.abspath(repo)
        version = chart_version or self.default_version
        if not version:
            raise HelmError("no chart version: set [capi_rdma] chart_version "
                            "or the template's chart version label")
        key = _cache_key(repo, self.chart_name, version)
        with self._chart_lock:
            path = self._charts.get(key)
            if path and os.path.isfile(os.path.join(path, "Chart.yaml")):
                return path
            path = os.path.join(self.cache_dir, key)
            if not os.path.isfile(os.path.join(path, "Chart.yaml")):
                self._pull(repo, version, path)
            self._charts[key] = path
            return path

    def _pull(self, repo, version, destination):
        _, command = self._clients()
        os.makedirs(self.cache_dir, exist_ok=True)
        ref, repo_arg = pull_ref(repo, self.chart_name)
        LOG.info("Pulling chart %s version %s from %s", self.chart_name,
                 version, repo)
        staging = tempfile.mkdtemp(prefix=".pull-", dir=self.cache_dir)
        try:
            unpacked = self._with_retries(
                "pull of chart %s %s" % (self.chart_name, version), None,
                lambda: command.pull(ref, repo=repo_arg, version=version))
            self.pulls += 1
            chart_dir = os.path.join(str(unpacked), self.chart_name)
            if not os.path.isfile(os.path.join(chart_dir, "Chart.yaml")):
                raise HelmError("pulled chart %s %s has no Chart.yaml"
                                % (self.chart_name, version))
            shutil.move(chart_dir, os.path.join(staging, "chart"))
            try:
                os.rename(os.path.join(staging, "chart"), destination)
            except OSError:
                # Another process won the race: its copy is as good.
                if not os.path.isfile(os.path.join(destination,
                                                   "Chart.yaml")):
                    raise
            shutil.rmtree(str(unpacked), ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    # -- releases -------------------------------------------------------------
    def install_or_upgrade(self, release, namespace, values,
                           chart_version=None):
        """Install or upgrade ``release``; return the new revision.

        Does not wait for readiness (the status sync watches that).
        Transient failures are retried ``retries`` times with backoff; a
        release still locked after that by an upgrade older than
        ``stale_after`` (a helm that died) is rolled back and retried.
        """
        path = self.chart_path(chart_version)
        client, command = self._clients()

        # The namespace is the driver's to make (with its labels and role
        # binding); helm making it would need rights the driver's
        # service account does not have.
        async def install():
            chart = await client.get_chart(path)
            revision = await client.install_or_upgrade_release(
                release, chart, values or {}, namespace=namespace,
                create_namespace=False, wait=False,
                timeout=self._helm_timeout())
            return revision.revision

        try:
            revision = self._with_retries("install/upgrade", release,
                                          install)
        except HelmError as exc:
            if exc.reason != LOCKED:
                raise
            if not self._unstick(release, namespace, exc):
                raise
            revision = self._with_retries("install/upgrade", release,
                                          install)
        LOG.info("Release %s/%s at revision %s", namespace, release,
                 revision)
        return revision

    def _unstick(self, release, namespace, error):
        """Free a release left pending by a helm that died.

        Only when the pending revision is older than ``stale_after``
        seconds (no live helm of ours runs that long). The revision is
        marked failed in helm's Secret storage, as helm marks an operation
        that failed, so the next upgrade proceeds from the last deployed
        revision (or over the failed install). With another storage
        driver, a pending upgrade or rollback is rolled back instead and a
        pending install is a clear error. True if the release is free to
        try again; a fresh pending revision raises ``error`` saying when it
        will be taken as abandoned.
        """
        pending = self.pending(release, namespace)
        if pending is None:
            return True     # the other operation has finished meanwhile
        status, age, revision = pending.status, pending.age, pending.revision
        if not pending.stale:
            raise HelmError(
                "%s; its %s, taken as abandoned after %ds" % (
                    error, pending, self.stale_after),
                transient=True, operation=error.operation, release=release,
                reason=LOCKED, attempts=error.attempts)
        driver = os.environ.get("HELM_DRIVER", "secret").lower()
        if driver in ("", "secret", "secrets") and revision:
            LOG.warning("Release %s/%s revision %s stuck in %s for %ds (a "
                        "helm was interrupted): marking it failed",
                        namespace, release, revision, status, age)
            self._mark_failed(release, namespace, revision, status, age)
            return True
        if status == "pending-install":
            raise HelmError(
                "helm release %s/%s has been pending-install for %ds (an "
                "install was interrupted); delete the cluster to remove it"
                % (namespace, release, age), transient=False,
                operation="install/upgrade", release=release)
        _, command = self._clients()
        LOG.warning("Release %s/%s stuck in %s for %ds: rolling back to "
                    "the previous revision", namespace, release, status, age)
        self._with_retries(
            "rollback", release,
            lambda: command.rollback(release, None, namespace=namespace,
                                     timeout=self._helm_timeout()))
        return True

    def pending(self, release, namespace):
        """The release's :class:`Pending` revision, or None.

        None when the release is not installed or its latest revision is
        not pending (deployed, failed, superseded...).
        """
        meta = self._status(release, namespace) or {}
        status = meta.get("status") or ""
        if not status.startswith("pending-"):
            return None
        age = _age_seconds(meta.get("deployedAt"))
        return Pending(revision=meta.get("revision"), status=status, age=age,
                       stale=age is not None and age >= self.stale_after)

    def free_abandoned(self, release, namespace):
        """Free a release whose pending revision is stale; True if freed.

        What an install finding the release locked does (see
        ``install_or_upgrade``), for a caller that will not install now:
        the revision is marked failed, as helm marks an operation that
        failed. A revision not (or no longer) pending, or still fresh, is
        left alone (False).
        """
        pending = self.pending(release, namespace)
        if pending is None or not pending.stale:
            return False
        return self._unstick(release, namespace, HelmError(
            "release %s is %s" % (release, pending.status),
            operation="install/upgrade", release=release, reason=LOCKED))

    def _mark_failed(self, release, namespace, revision, status, age):
        """Set a stale pending revision to failed in helm's Secret storage.

        helm has no command for it (and a rollback needs an earlier
        revision and re-applies it); this writes what helm itself writes
        when an operation fails. The write is conditional on the Secret's
        resourceVersion: if a live helm changed the revision meanwhile, it
        is a transient conflict, not an overwrite.
        """
        what = "unlock of release %s" % release
        from kubernetes import client as kube_client
        from kubernetes import config as kube_config

        name = "sh.helm.release.v1.%s.v%s" % (release, revision)
        try:
            api = kube_config.new_client_from_config(self.kubeconfig)
        except Exception as exc:  # noqa: B902 - one clear line
            raise HelmError("helm %s failed: kubeconfig: %s" % (
                what, str(exc).splitlines()[0] if str(exc) else exc))
        try:
            core = kube_client.CoreV1Api(api)
            secret = core.read_namespaced_secret(name, namespace)
            record = json.loads(gzip.decompress(base64.b64decode(
                base64.b64decode(secret.data["release"]))))
            info = record.setdefault("info", {})
            if info.get("status") != status:
                return
            info["status"] = "failed"
            info["description"] = (
                "Interrupted (%s for %ds); marked failed by "
                "magnum-capi-rdma" % (status, age))
            packed = base64.b64encode(base64.b64encode(gzip.compress(
                json.dumps(record).encode()))).decode()
            labels = dict(secret.metadata.labels or {}, status="failed")
            core.patch_namespaced_secret(name, namespace, {
                "metadata": {"labels": labels,
                             "resourceVersion":
                             secret.metadata.resource_version},
                "data": {"release": packed}}, field_validation="Strict")
        except kube_client.ApiException as exc:
            raise HelmError("helm %s failed: %s %s" % (
                what, exc.status, exc.reason), transient=exc.status in (
                409, 429, 500, 503, 504), release=release) from None
        except (ValueError, KeyError, OSError) as exc:
            raise HelmError("helm %s failed: unreadable release record "
                            "%s: %s" % (what, name, exc),
                            release=release) from None
        finally:
            api.close()

    def uninstall(self, release, namespace):
        """Uninstall ``release``; False if it did not exist."""
        if self._status(release, namespace) is None:
            return False
        _, command = self._clients()

        async def uninstall():
            try:
                await command.uninstall(release, namespace=namespace,
                                        timeout=self._helm_timeout())
            except helm_errors.ReleaseNotFoundError:
                return False
            return True

        return self._with_retries("uninstall", release, uninstall)

    def _status(self, release, namespace):
        """``helm get metadata`` as a dict, or None if not installed.

        Keys used: ``revision``, ``status``, ``version`` (of the chart).
        """
        _, command = self._clients()

        async def metadata():
            try:
                out = await command.run(
                    ["get", "metadata", release, "--output", "json",
                     "--namespace", namespace])
            except helm_errors.ReleaseNotFoundError:
                return None
            return json.loads(out)

        return self._with_retries("status", release, metadata)

    def revision(self, release, namespace):
        """Current revision number, or None if not installed."""
        status = self._status(release, namespace)
        return None if status is None else status.get("revision")

    def status(self, release, namespace):
        """deployed / failed / pending-upgrade ..., or None."""
        status = self._status(release, namespace)
        return None if status is None else status.get("status")

    def chart_version_of(self, release, namespace):
        """Version of the chart the release runs, or None."""
        status = self._status(release, namespace)
        return None if status is None else status.get("version")
