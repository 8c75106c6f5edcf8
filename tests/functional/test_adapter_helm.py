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
"""The helm adapter against real helm and a real kube-apiserver.

A tiny chart of our own (a ConfigMap, an optional Deployment, a values
schema and a ``required`` value) keeps each case fast; the chart
repository is served over HTTP on 127.0.0.1 by this process. One test
installs the real openstack-cluster chart 0.27.0 from such a repository.
"""

import base64
import gzip
import http.server
import json
import os
import shutil
import stat
import subprocess
import threading
import time

import pytest
import yaml

from magnum_capi_rdma.adapters import helm as helm_adapter

CHART_YAML = """apiVersion: v2
name: tiny
version: %s
"""

CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-values
data:
  cluster: {{ required "clusterName is required" .Values.clusterName | quote }}
  replicas: {{ .Values.replicas | quote }}
"""

DEPLOYMENT = """{{- if .Values.deployment }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-never-ready
spec:
  replicas: 1
  selector:
    matchLabels: {app: never-ready}
  template:
    metadata:
      labels: {app: never-ready}
    spec:
      containers:
        - name: c
          image: example.invalid/none:1
{{- end }}
"""

SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {"replicas": {"type": "integer", "minimum": 1}},
}


def write_chart(root, version="0.1.0"):
    chart = os.path.join(root, "tiny")
    os.makedirs(os.path.join(chart, "templates"), exist_ok=True)
    files = {
        "Chart.yaml": CHART_YAML % version,
        "values.yaml": "replicas: 1\ndeployment: false\n",
        "values.schema.json": json.dumps(SCHEMA),
        "templates/configmap.yaml": CONFIGMAP,
        "templates/deployment.yaml": DEPLOYMENT,
    }
    for name, text in files.items():
        with open(os.path.join(chart, name), "w") as out:
            out.write(text)
    return chart


@pytest.fixture(autouse=True)
def helm_home(tmp_path, monkeypatch):
    """Keep helm's own cache and config out of the user's home."""
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))


@pytest.fixture
def local_chart(tmp_path):
    return write_chart(str(tmp_path / "src"))


def make_helm(helm_bin, kubeconfig, repo, tmp_path, retries=2, **kwargs):
    return helm_adapter.Helm(
        executable=helm_bin, kubeconfig=kubeconfig, chart_repo=repo,
        chart_name="tiny", cache_dir=str(tmp_path / "cache"), timeout=60,
        retries=retries, **kwargs)


def test_install_upgrade_status_uninstall(helm_bin, kubeconfig, namespace,
                                          local_chart, tmp_path):
    helm = make_helm(helm_bin, kubeconfig, local_chart, tmp_path)
    assert helm.revision("r1", namespace) is None
    assert helm.status("r1", namespace) is None

    first = helm.install_or_upgrade("r1", namespace, {"clusterName": "a"},
                                    chart_version="9.9.9")
    assert first == 1
    assert helm.status("r1", namespace) == "deployed"
    assert helm.chart_version_of("r1", namespace) == "0.1.0"

    second = helm.install_or_upgrade("r1", namespace, {"clusterName": "b"},
                                     None)
    assert second == first + 1
    assert helm.revision("r1", namespace) == second

    assert helm.uninstall("r1", namespace) is True
    assert helm.revision("r1", namespace) is None
    assert helm.uninstall("r1", namespace) is False


def test_install_leaves_the_namespace_to_the_driver(
        helm_bin, kubeconfig, kube_api_client, local_chart, tmp_path):
    # The driver makes project namespaces (labels, role binding); helm
    # must not, since the driver's service account may not make
    # namespaces without them.
    from kubernetes import client

    name = "helm-no-ns-%d" % os.getpid()
    helm = make_helm(helm_bin, kubeconfig, local_chart, tmp_path)
    with pytest.raises(helm_adapter.HelmError) as caught:
        helm.install_or_upgrade("r", name, {"clusterName": "x"})
    message = str(caught.value)
    assert message.startswith("helm install/upgrade of release r failed")
    assert 'namespaces "%s" not found' % name in message, message
    assert "\n" not in message
    core = client.CoreV1Api(kube_api_client)
    with pytest.raises(client.ApiException) as missing:
        core.read_namespace(name)
    assert missing.value.status == 404


def test_schema_violation_is_clear_and_not_transient(
        helm_bin, kubeconfig, namespace, local_chart, tmp_path):
    helm = make_helm(helm_bin, kubeconfig, local_chart, tmp_path,
                     retries=5)
    began = time.monotonic()
    with pytest.raises(helm_adapter.HelmError) as caught:
        helm.install_or_upgrade("bad", namespace,
                                {"clusterName": "a", "replicas": "many"})
    assert caught.value.transient is False
    assert "replicas" in str(caught.value)
    assert "Traceback" not in str(caught.value)
    # Not retried: a retry would have slept at least one backoff.
    assert time.monotonic() - began < helm.backoff + 5


def test_template_error_names_the_missing_value(
        helm_bin, kubeconfig, namespace, local_chart, tmp_path):
    helm = make_helm(helm_bin, kubeconfig, local_chart, tmp_path)
    with pytest.raises(helm_adapter.HelmError) as caught:
        helm.install_or_upgrade("bad", namespace, {})
    assert caught.value.transient is False
    assert "clusterName is required" in str(caught.value)
    assert len(str(caught.value)) < 600


def test_unreachable_api_is_transient(helm_bin, management_cluster,
                                      local_chart, tmp_path):
    from magnum_capi_rdma_dev.bed import cluster

    port = cluster.free_port()  # nothing listens there
    kubeconfig = tmp_path / "dead-kubeconfig"
    with open(management_cluster.ca_file, "rb") as ca:
        kubeconfig.write_text(yaml.safe_dump(cluster.kubeconfig_dict(
            "https://127.0.0.1:%d" % port, ca.read(), "token")))
    helm = make_helm(helm_bin, str(kubeconfig), local_chart, tmp_path,
                     retries=1, backoff=0.1)
    began = time.monotonic()
    with pytest.raises(helm_adapter.HelmError) as caught:
        helm.status("r", "default")
    assert caught.value.transient is True
    assert "connection refused" in str(caught.value)
    assert time.monotonic() - began >= 0.1  # retried once after backoff


def _release_secret(core, namespace, release, revision):
    return core.read_namespaced_secret(
        "sh.helm.release.v1.%s.v%d" % (release, revision), namespace)


def _release_status(core, namespace, release, revision):
    secret = _release_secret(core, namespace, release, revision)
    raw = base64.b64decode(base64.b64decode(secret.data["release"]))
    return json.loads(gzip.decompress(raw))["info"]["status"]


def test_retries_while_another_operation_is_in_progress(
        helm_bin, kubeconfig, kube_api_client, namespace, local_chart,
        tmp_path):
    """A real ``helm upgrade --wait`` holds the release pending.

    Nothing makes the Deployment ready (no controllers run), so helm waits
    until its timeout, then marks the revision failed: meanwhile our
    upgrade sees "another operation is in progress" and must retry until
    the release is free again.
    """
    from kubernetes import client

    core = client.CoreV1Api(kube_api_client)
    helm = make_helm(helm_bin, kubeconfig, local_chart, tmp_path,
                     retries=8, backoff=0.5)
    assert helm.install_or_upgrade("busy", namespace,
                                   {"clusterName": "a"}) == 1
    blocker = subprocess.Popen(
        [helm_bin, "upgrade", "busy", local_chart, "--namespace", namespace,
         "--kubeconfig", kubeconfig, "--set", "clusterName=b",
         "--set", "deployment=true", "--wait", "--timeout", "4s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if _release_status(core, namespace, "busy", 2) == (
                        "pending-upgrade"):
                    break
            except client.exceptions.ApiException:
                pass
            time.sleep(0.1)
        else:
            pytest.fail("helm upgrade --wait never made revision 2 pending")
        began = time.monotonic()
        revision = helm.install_or_upgrade("busy", namespace,
                                           {"clusterName": "c"})
        waited = time.monotonic() - began
    finally:
        _, stderr = blocker.communicate(timeout=60)
    assert blocker.returncode != 0, stderr
    assert revision == 3
    assert waited > 1.0  # it had to wait for the blocker
    assert _release_status(core, namespace, "busy", 2) == "failed"
    assert helm.status("busy", namespace) == "deployed"


class _CountingRepo(object):
    """A chart repository served over HTTP on 127.0.0.1, counting GETs."""

    def __init__(self, root):
        self.root = root
        self.gets = []
        repo = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=root, **kwargs)

            def do_GET(self):
                repo.gets.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.server.shutdown()
        self.server.server_close()

    def tgz_gets(self):
        return [path for path in self.gets if path.endswith(".tgz")]


@pytest.fixture
def chart_repo(helm_bin, tmp_path):
    src = str(tmp_path / "src")
    served = tmp_path / "served"
    served.mkdir()
    for version in ("0.1.0", "0.2.0"):
        chart = write_chart(src, version)
        subprocess.run([helm_bin, "package", chart, "-d", str(served)],
                       check=True, capture_output=True)
    with _CountingRepo(str(served)) as repo:
        subprocess.run([helm_bin, "repo", "index", str(served), "--url",
                        repo.url], check=True, capture_output=True)
        yield repo


def test_remote_chart_is_pulled_once(helm_bin, kubeconfig, namespace,
                                     chart_repo, tmp_path):
    helm = make_helm(helm_bin, kubeconfig, chart_repo.url, tmp_path,
                     default_version="0.1.0")
    assert helm.install_or_upgrade("p", namespace, {"clusterName": "a"},
                                   None) == 1
    assert helm.install_or_upgrade("p", namespace, {"clusterName": "b"},
                                   None) == 2
    assert chart_repo.tgz_gets() == ["/tiny-0.1.0.tgz"]
    assert helm.pulls == 1
    assert helm.chart_version_of("p", namespace) == "0.1.0"

    # The template label picks another version: pulled once too.
    assert helm.install_or_upgrade("p", namespace, {"clusterName": "c"},
                                   "0.2.0") == 3
    assert helm.chart_version_of("p", namespace) == "0.2.0"
    assert chart_repo.tgz_gets() == ["/tiny-0.1.0.tgz", "/tiny-0.2.0.tgz"]

    # A new process (new Helm object) reuses the cache on disk.
    again = make_helm(helm_bin, kubeconfig, chart_repo.url, tmp_path,
                      default_version="0.1.0")
    assert again.install_or_upgrade("p", namespace, {"clusterName": "d"},
                                    "0.1.0") == 4
    assert again.pulls == 0
    assert len(chart_repo.tgz_gets()) == 2


def test_concurrent_callers_share_one_pull(helm_bin, kubeconfig, chart_repo,
                                           tmp_path):
    helm = make_helm(helm_bin, kubeconfig, chart_repo.url, tmp_path)
    paths, failures = [], []

    def resolve():
        try:
            paths.append(helm.chart_path("0.2.0"))
        except Exception as exc:  # noqa: B902 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=resolve) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert len(set(paths)) == 1 and len(paths) == 4
    assert chart_repo.tgz_gets() == ["/tiny-0.2.0.tgz"]


def test_missing_chart_version_is_not_transient(helm_bin, kubeconfig,
                                                chart_repo, tmp_path):
    helm = make_helm(helm_bin, kubeconfig, chart_repo.url, tmp_path)
    with pytest.raises(helm_adapter.HelmError) as caught:
        helm.chart_path("7.7.7")
    assert caught.value.transient is False
    assert "7.7.7" in str(caught.value)


def test_bad_chart_repo_is_named(helm_bin, kubeconfig, tmp_path):
    helm = make_helm(helm_bin, kubeconfig, str(tmp_path / "nowhere"),
                     tmp_path)
    with pytest.raises(helm_adapter.HelmError) as caught:
        helm.install_or_upgrade("r", "default", {})
    assert "nowhere" in str(caught.value)


#: What the real chart needs to render (a credentials Secret it does not
#: make, a version, flavors, and an image: CAPO's schema wants one).
REAL_CHART_VALUES = {
    "cloudCredentialsSecretName": "demo-cloud-credentials",
    "kubernetesVersion": "1.33.1",
    "machineImageId": "0f2d5b0e-7d4c-4f6a-9c1e-3b8a2d6e5f41",
    "controlPlane": {"machineFlavor": "m1.medium"},
    "nodeGroupDefaults": {"machineFlavor": "m1.small"},
}


def test_real_openstack_cluster_chart_from_http_repo(
        helm_bin, kubeconfig, kube_api_client, namespace, tmp_path):
    """The real openstack-cluster chart 0.27.0, served as a repository.

    Packaged from a copy (the pinned folder is read-only), with its
    cluster-addons dependency. Installs it with the adapter, then reads
    what it made with the kube adapter: both adapters against the objects
    the driver works on, on the bed's real CRDs.
    """
    from magnum_capi_rdma.adapters import kube as kube_adapter
    from magnum_capi_rdma import conf as conf_mod
    from tests.support import upstream

    chart = upstream.require_real_chart()
    copy = tmp_path / "src" / "openstack-cluster"
    shutil.copytree(str(chart), str(copy))
    for path in [copy] + [p for p in copy.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    served = tmp_path / "served"
    served.mkdir()
    subprocess.run([helm_bin, "package", str(copy), "-d", str(served)],
                   check=True, capture_output=True)
    version = yaml.safe_load((copy / "Chart.yaml").read_text())["version"]
    with _CountingRepo(str(served)) as repo:
        subprocess.run([helm_bin, "repo", "index", str(served), "--url",
                        repo.url], check=True, capture_output=True)
        helm = helm_adapter.Helm(
            executable=helm_bin, kubeconfig=kubeconfig,
            chart_repo=repo.url, chart_name="openstack-cluster",
            cache_dir=str(tmp_path / "cache"), timeout=60, retries=1,
            default_version=version)
        versions = {option: conf_mod.cfg.CONF.capi_rdma[option]
                    for option, _ in kube_adapter.KINDS.values()}
        kube = kube_adapter.Kube(kube_api_client, versions)

        assert helm.install_or_upgrade("demo", namespace,
                                       REAL_CHART_VALUES) == 1
        assert [c["metadata"]["name"] for c in kube.list(
            "cluster", namespace)] == ["demo"]
        assert kube.list("kubeadmcontrolplane", namespace)

        with pytest.raises(helm_adapter.HelmError) as caught:
            helm.install_or_upgrade("demo", namespace, dict(
                REAL_CHART_VALUES, addons={"custom": {"x": {
                    "kind": "Bogus", "spec": {}}}}))
        assert caught.value.transient is False
        assert "Unrecognised addon kind - Bogus" in str(caught.value)
        # Rendering failed: no revision was recorded, the old one stands.
        assert helm.revision("demo", namespace) == 1
        assert helm.status("demo", namespace) == "deployed"

        assert helm.install_or_upgrade("demo", namespace,
                                       REAL_CHART_VALUES) == 2
        assert helm.status("demo", namespace) == "deployed"
        assert helm.chart_version_of("demo", namespace) == version
        assert repo.tgz_gets() == ["/openstack-cluster-%s.tgz" % version]

        assert helm.uninstall("demo", namespace) is True
        assert kube.list("cluster", namespace) == []
        # helm keeps what Cluster API deletes with the Cluster
        # (helm.sh/resource-policy: keep); the namespace goes after the
        # test.
        assert kube.list("kubeadmcontrolplane", namespace)


def _killed_mid_wait(helm_bin, kubeconfig, core, namespace, chart, release,
                     revision, command):
    """Run ``helm <command> --wait`` and SIGKILL it while it is pending."""
    proc = subprocess.Popen(
        [helm_bin, command, release, chart, "--namespace", namespace,
         "--kubeconfig", kubeconfig, "--set", "clusterName=k",
         "--set", "deployment=true", "--wait", "--timeout", "120s"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                status = _release_status(core, namespace, release, revision)
                if status.startswith("pending-"):
                    return status
            except Exception:  # noqa: B902 - not written yet
                pass
            time.sleep(0.1)
        pytest.fail("helm %s never went pending" % command)
    finally:
        proc.kill()
        proc.wait()


def _wait_stale(helm, release, namespace, timeout=60):
    """Until the release's pending revision is older than ``stale_after``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = helm.pending(release, namespace)
        assert pending is not None, "%s is no longer pending" % release
        if pending.stale:
            return pending
        time.sleep(0.2)
    pytest.fail("%s: revision not stale after %ss" % (release, timeout))


def test_upgrade_left_pending_by_a_dead_helm_is_recovered(
        helm_bin, kubeconfig, kube_api_client, namespace, local_chart,
        tmp_path):
    from kubernetes import client

    core = client.CoreV1Api(kube_api_client)
    helm = make_helm(helm_bin, kubeconfig, local_chart, tmp_path,
                     retries=1, backoff=0.5, stale_after=1)
    assert helm.install_or_upgrade("stuck", namespace,
                                   {"clusterName": "a"}) == 1
    assert _killed_mid_wait(helm_bin, kubeconfig, core, namespace,
                            local_chart, "stuck", 2,
                            "upgrade") == "pending-upgrade"
    _wait_stale(helm, "stuck", namespace)
    # Still pending for good: nothing will ever finish revision 2.
    assert helm.status("stuck", namespace) == "pending-upgrade"

    revision = helm.install_or_upgrade("stuck", namespace,
                                       {"clusterName": "b"})
    # Revision 2 was marked failed; 3 upgrades from the deployed 1.
    assert revision == 3
    assert helm.status("stuck", namespace) == "deployed"
    assert _release_status(core, namespace, "stuck", 2) == "failed"
    assert _release_status(core, namespace, "stuck", 1) == "superseded"


def test_fresh_pending_upgrade_is_not_rolled_back(
        helm_bin, kubeconfig, kube_api_client, namespace, local_chart,
        tmp_path):
    from kubernetes import client

    core = client.CoreV1Api(kube_api_client)
    helm = make_helm(helm_bin, kubeconfig, local_chart, tmp_path,
                     retries=1, backoff=0.2, stale_after=600)
    helm.install_or_upgrade("young", namespace, {"clusterName": "a"})
    _killed_mid_wait(helm_bin, kubeconfig, core, namespace, local_chart,
                     "young", 2, "upgrade")
    with pytest.raises(helm_adapter.HelmError) as caught:
        helm.install_or_upgrade("young", namespace, {"clusterName": "b"})
    assert caught.value.transient is True
    assert helm_adapter.BUSY in str(caught.value)
    assert helm.revision("young", namespace) == 2


def test_install_left_pending_by_a_dead_helm_is_recovered(
        helm_bin, kubeconfig, kube_api_client, namespace, local_chart,
        tmp_path):
    """A killed ``helm install`` leaves revision 1 pending-install.

    Once stale it is marked failed (as helm does for a failed install) and
    the next install upgrades over it to revision 2.
    """
    from kubernetes import client

    core = client.CoreV1Api(kube_api_client)
    helm = make_helm(helm_bin, kubeconfig, local_chart, tmp_path,
                     retries=0, stale_after=1)
    _killed_mid_wait(helm_bin, kubeconfig, core, namespace, local_chart,
                     "half", 1, "install")
    _wait_stale(helm, "half", namespace)
    assert helm.status("half", namespace) == "pending-install"
    assert helm.install_or_upgrade("half", namespace,
                                   {"clusterName": "b"}) == 2
    assert helm.status("half", namespace) == "deployed"
    # Marked failed, then superseded by the upgrade over it.
    assert _release_status(core, namespace, "half", 1) == "superseded"
    labels = _release_secret(core, namespace, "half", 1).metadata.labels
    assert labels["status"] == "superseded"
    # Deleting the cluster still works: uninstall clears it.
    assert helm.uninstall("half", namespace) is True
    assert helm.revision("half", namespace) is None


def test_fresh_pending_install_is_not_touched(
        helm_bin, kubeconfig, kube_api_client, namespace, local_chart,
        tmp_path):
    from kubernetes import client

    core = client.CoreV1Api(kube_api_client)
    helm = make_helm(helm_bin, kubeconfig, local_chart, tmp_path,
                     retries=0, stale_after=600)
    _killed_mid_wait(helm_bin, kubeconfig, core, namespace, local_chart,
                     "fresh", 1, "install")
    with pytest.raises(helm_adapter.HelmError) as caught:
        helm.install_or_upgrade("fresh", namespace, {"clusterName": "b"})
    message = str(caught.value)
    assert caught.value.transient is True
    assert caught.value.reason == helm_adapter.LOCKED
    assert "in progress on release fresh" in message
    assert "revision 1 has been pending-install for" in message
    assert "taken as abandoned after 600s" in message
    assert "\n" not in message
    assert helm.status("fresh", namespace) == "pending-install"
