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
"""Pure parts of the helm adapter: error lines, transience, cache keys.

The adapter itself runs against real helm in
tests/functional/test_adapter_helm.py.
"""

import asyncio
import os
import threading

from oslo_config import cfg
from pyhelm3 import errors as helm_errors
import pytest

from magnum_capi_rdma.adapters import helm
from magnum_capi_rdma import conf as conf_mod

SCHEMA_STDERR = """Error: values don't meet the specifications of the schema(s) in the following chart(s):
tiny:
- replicas: Invalid type. Expected: integer, given: string
"""  # noqa: E501

BUSY_STDERR = ("Error: UPGRADE FAILED: another operation "
               "(install/upgrade/rollback) is in progress\n")


def test_meaningful_line_keeps_schema_details():
    line = helm.meaningful_line(SCHEMA_STDERR)
    assert line.startswith("values don't meet the specifications")
    assert "replicas: Invalid type" in line


def test_meaningful_line_prefers_the_last_error_and_is_short():
    stderr = "W1123 warning line\nError: first\nError: " + "x" * 1000
    line = helm.meaningful_line(stderr)
    assert line.startswith("xxx") and len(line) <= helm.MAX_MESSAGE
    assert helm.meaningful_line("") == "helm failed without a message"


@pytest.mark.parametrize("stderr,transient", [
    (BUSY_STDERR, True),
    ("Error: Kubernetes cluster unreachable: Get \"https://127.0.0.1:1\": "
     "dial tcp 127.0.0.1:1: connect: connection refused", True),
    ("Error: context deadline exceeded", True),
    (SCHEMA_STDERR, False),
    ("Error: execution error at (tiny/templates/a.yaml:5:11): "
     "clusterName is required", False),
])
def test_transient_classification(stderr, transient):
    assert helm.is_transient(stderr) is transient
    exc = helm_errors.Error(1, b"", stderr.encode())
    error = helm._error_from(exc, "install/upgrade", "r1")
    assert error.transient is transient
    assert "install/upgrade of release r1" in str(error)
    assert "Traceback" not in str(error)


def test_connection_error_class_is_transient():
    exc = helm_errors.ConnectionError(1, b"", b"Error: etcdserver: timeout")
    assert helm._error_from(exc, "status", "r").transient is True


def test_cache_key_differs_per_repo_name_version():
    keys = {helm._cache_key(repo, name, version)
            for repo in ("https://a", "oci://b")
            for name in ("c1", "c2") for version in ("1", "2")}
    assert len(keys) == 8
    assert helm._cache_key("https://a", "c", "1/../x").count("/") == 0


def test_one_loop_thread_for_all_callers():
    async def where():
        return threading.current_thread().name, id(
            asyncio.get_running_loop())

    seen = set()

    def call():
        seen.add(helm.run_sync(where(), 10))

    threads = [threading.Thread(target=call) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 1
    assert next(iter(seen))[0] == "capi-rdma-helm-loop"


def test_run_sync_timeout_raises():
    with pytest.raises(TimeoutError):
        helm.run_sync(asyncio.sleep(5), 0.2)


def test_retries_are_bounded(monkeypatch, tmp_path):
    obj = helm.Helm("helm", None, str(tmp_path), "c", str(tmp_path), 30,
                    retries=2, backoff=0.01)
    calls = []

    def failing(operation, release, factory):
        calls.append(operation)
        raise helm.HelmError("busy", transient=True)

    monkeypatch.setattr(obj, "_run", failing)
    with pytest.raises(helm.HelmError):
        obj._with_retries("op", "r", None)
    assert len(calls) == 3  # one try + two retries

    calls.clear()

    def permanent(operation, release, factory):
        calls.append(operation)
        raise helm.HelmError("bad values", transient=False)

    monkeypatch.setattr(obj, "_run", permanent)
    with pytest.raises(helm.HelmError):
        obj._with_retries("op", "r", None)
    assert len(calls) == 1


def test_from_config_uses_capi_rdma_options(tmp_path):
    conf = cfg.ConfigOpts()
    conf_mod.register_opts(conf)
    conf([], project="test")
    for name, value in (("helm_executable", "/x/helm"),
                        ("kubeconfig_file", "/x/kubeconfig"),
                        ("chart_repo", "oci://registry.example/charts"),
                        ("chart_name", "openstack-cluster"),
                        ("chart_version", "0.27.0"),
                        ("chart_cache_dir", str(tmp_path)),
                        ("helm_timeout", 42), ("helm_retries", 4)):
        conf.set_override(name, value, group="capi_rdma")
    obj = helm.Helm.from_config(conf)
    assert (obj.executable, obj.kubeconfig, obj.chart_repo, obj.chart_name,
            obj.default_version, obj.cache_dir, obj.timeout,
            obj.retries) == ("/x/helm", "/x/kubeconfig",
                             "oci://registry.example/charts",
                             "openstack-cluster", "0.27.0", str(tmp_path),
                             42, 4)


def test_missing_executable_is_a_clear_error(tmp_path):
    chart = tmp_path / "chart"
    chart.mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\n"
                                      "version: 0.1.0\n")
    obj = helm.Helm(str(tmp_path / "no-helm"), None, str(chart), "c",
                    str(tmp_path), 30, 0)
    with pytest.raises(helm.HelmError) as caught:
        obj.install_or_upgrade("r", "ns", {})
    assert "no-helm" in str(caught.value)


def test_pull_ref_for_each_kind_of_repo():
    assert helm.pull_ref("oci://reg.example/charts/", "oc") == (
        "oci://reg.example/charts/oc", None)
    assert helm.pull_ref("https://charts.example", "oc") == (
        "oc", "https://charts.example")


def test_a_run_longer_than_the_timeout_is_stopped_and_named(tmp_path):
    obj = helm.Helm("helm", None, str(tmp_path), "c", str(tmp_path), 1,
                    retries=2, backoff=0.01)
    started = []

    async def slow():
        started.append(1)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            started.append("cancelled")   # pyhelm3 terminates helm here
            raise

    with pytest.raises(helm.HelmError) as caught:
        obj._with_retries("install/upgrade", "demo-1", slow)
    error = caught.value
    assert str(error) == ("helm install/upgrade of release demo-1 timed out "
                          "after 1s (gave up after 3 attempts)")
    assert (error.reason, error.attempts, error.transient) == (
        helm.TIMEOUT, 3, True)
    # Each attempt was cancelled (helm stopped) before the next began.
    assert started == [1, "cancelled"] * 3


def test_a_locked_release_is_named_and_counted(monkeypatch, tmp_path):
    obj = helm.Helm("helm", None, str(tmp_path), "c", str(tmp_path), 30,
                    retries=1, backoff=0.01)
    tries = []

    async def busy():
        tries.append(1)
        raise helm_errors.Error(1, b"", BUSY_STDERR.encode())

    with pytest.raises(helm.HelmError) as caught:
        obj._with_retries("install/upgrade", "demo-1", busy)
    assert str(caught.value) == (
        "helm install/upgrade of release demo-1 failed: another operation "
        "(install/upgrade/rollback) is in progress on release demo-1 "
        "(gave up after 2 attempts)")
    assert caught.value.reason == helm.LOCKED
    assert len(tries) == 2


def test_a_single_attempt_does_not_say_gave_up(tmp_path):
    obj = helm.Helm("helm", None, str(tmp_path), "c", str(tmp_path), 30,
                    retries=0)

    async def busy():
        raise helm_errors.Error(1, b"", BUSY_STDERR.encode())

    with pytest.raises(helm.HelmError) as caught:
        obj._with_retries("uninstall", "r", busy)
    assert "gave up" not in str(caught.value)
    assert caught.value.attempts == 1


def test_a_cancelled_run_stops_helm_itself(tmp_path):
    """The process stopped at a timeout is helm, not a shell around it."""
    fake = tmp_path / "helm"
    pidfile = tmp_path / "pid"
    fake.write_text("#!/bin/sh\n"
                    "[ \"$1\" = version ] && printf v3.22.0 && exit 0\n"
                    "echo $$ > %s\nexec sleep 60\n" % pidfile)
    fake.chmod(0o755)
    obj = helm.Helm(str(fake), None, str(tmp_path), "c", str(tmp_path), 1,
                    retries=0)
    _, command = obj._clients()
    with pytest.raises(helm.HelmError) as caught:
        obj._with_retries("status", "r", lambda: command.run(["status"]))
    assert caught.value.reason == helm.TIMEOUT
    pid = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)     # gone, not orphaned


@pytest.mark.parametrize("stderr,cls", [
    ("Error: release: not found", helm_errors.ReleaseNotFoundError),
    ("Error: etcdserver: request timed out", helm_errors.ConnectionError),
    ("Error: Kubernetes cluster unreachable: dial tcp 127.0.0.1:1: "
     "connect: connection refused", helm_errors.ConnectionError),
    ("Error: context canceled", helm_errors.CommandCancelledError),
    ("Error: execution error at (x): boom",
     helm_errors.FailedToRenderChartError),
    ("Error: values don't meet the schema", helm_errors.Error),
])
def test_error_class_of_helm_stderr(stderr, cls):
    assert helm._error_class(stderr) is cls


def test_dropped_fields_are_read_from_helms_warnings():
    """helm cannot ask for strict validation; the server's warning says."""
    stderr = (
        'I1201 03:01:26.848375 8904 warnings.go:107] "Warning: '
        'cluster.x-k8s.io/v1beta1 Cluster is deprecated"\n'
        'I1201 03:01:26.863935 8904 warnings.go:107] "Warning: unknown '
        'field \\"spec.bogusField\\""\n'
        'W1201 03:01:27 warnings.go:70] unknown field "spec.template.x"\n'
        'W1201 03:01:27 warnings.go:70] unknown field "spec.template.x"\n')
    assert helm.dropped_fields(stderr) == ["spec.bogusField",
                                           "spec.template.x"]
    assert helm.dropped_fields("") == []
    assert helm.dropped_fields(None) == []
