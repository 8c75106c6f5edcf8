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
"""The test bed itself: real etcd + kube-apiserver, RBAC, CRDs, restarts.

The CRDs: Cluster API's and CAPO's own (``../shared/upstream``) served as
``crds.served_as_written`` says, the add-on provider's generated.
"""

import os
import socket
import subprocess

from kubernetes import client
from kubernetes.client import exceptions
from kubernetes import config
import pytest
import yaml

from magnum_capi_rdma_dev.bed import cluster
from magnum_capi_rdma_dev.bed import tools
from magnum_capi_rdma_dev.simulator import crds
from tests import conftest
from tests.support import dev
from tests.support import upstream

CAPI = ("cluster.x-k8s.io", "v1beta1")
ADDONS = ("addons.stackhpc.com", "v1alpha1")


def _listening_addresses(pid):
    """Local (address, port) of every TCP socket ``pid`` listens on."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table, size in (("tcp", 8), ("tcp6", 32)):
        with open("/proc/%d/net/%s" % (pid, table)) as net:
            next(net)
            for line in net:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and inode in inodes:
                    address, port = local.split(":")
                    found.append((table, address[:size], int(port, 16)))
    return found


def test_apiserver_ready_on_loopback(management_cluster, kube_api_client):
    bed = management_cluster
    assert bed.server.startswith("https://127.0.0.1:")
    assert bed.readyz()[0] == 200
    assert 0 < bed.started_in < 30
    version = client.VersionApi(kube_api_client).get_code()
    assert (version.major, version.minor) == ("1", "37")


def test_processes_listen_on_loopback_only(management_cluster):
    pids = management_cluster.pids()
    assert set(pids) == {"etcd", "kube-apiserver"}
    for name, pid in pids.items():
        listening = _listening_addresses(pid)
        assert listening, "%s listens on nothing?" % name
        for table, address, port in listening:
            # 0100007F is 127.0.0.1 in /proc/net/tcp's byte order.
            assert (table, address) == ("tcp", "0100007F"), (
                "%s listens on %s %s:%d" % (name, table, address, port))


def test_unknown_token_is_unauthorized(management_cluster):
    assert management_cluster.readyz(
        token="not-a-token", path="/api")[0] == 401


def test_rbac_denies_a_service_account_until_granted(
        management_cluster, kube_api_client, namespace, tmp_path):
    core = client.CoreV1Api(kube_api_client)
    core.create_namespaced_service_account(
        namespace, {"metadata": {"name": "reader"}})
    token = core.create_namespaced_service_account_token(
        "reader", namespace, {"spec": {"expirationSeconds": 600}}
    ).status.token
    path = management_cluster.kubeconfig_for_token(
        token, str(tmp_path / "reader.kubeconfig"))
    reader_client = config.new_client_from_config(path)
    reader = client.CoreV1Api(reader_client)
    try:
        with pytest.raises(exceptions.ApiException) as denied:
            reader.list_namespaced_config_map(namespace)
        assert denied.value.status == 403

        rbac = client.RbacAuthorizationV1Api(kube_api_client)
        rbac.create_namespaced_role(namespace, {
            "metadata": {"name": "read-configmaps"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"],
                       "verbs": ["get", "list"]}]})
        rbac.create_namespaced_role_binding(namespace, {
            "metadata": {"name": "reader"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                        "kind": "Role", "name": "read-configmaps"},
            "subjects": [{"kind": "ServiceAccount", "name": "reader",
                          "namespace": namespace}]})
        assert reader.list_namespaced_config_map(namespace).items == []
        with pytest.raises(exceptions.ApiException) as still_denied:
            reader.list_namespaced_secret(namespace)
        assert still_denied.value.status == 403
    finally:
        reader_client.close()


def test_every_crd_is_established(kube_api_client):
    path = upstream.require_upstream()
    api = client.ApiextensionsV1Api(kube_api_client)
    expected = {m["metadata"]["name"]
                for m in crds.upstream_crd_manifests(path)}
    assert {"clusters.cluster.x-k8s.io", "machines.cluster.x-k8s.io",
            "kubeadmcontrolplanes.controlplane.cluster.x-k8s.io",
            "openstackclusters.infrastructure.cluster.x-k8s.io",
            "helmreleases.addons.stackhpc.com",
            "manifests.addons.stackhpc.com"} <= expected
    for name in expected:
        crd = api.read_custom_resource_definition(name)
        conditions = {c.type: c.status for c in crd.status.conditions}
        assert conditions.get("Established") == "True", name


def _upstream_crd(path, name):
    for crd in crds.upstream_crd_manifests(path):
        if crd["metadata"]["name"] == name:
            return crd
    raise AssertionError(name)


def test_cluster_api_crds_are_served_as_the_chart_writes(kube_api_client):
    """Both versions served, v1beta1 stored, no conversion (no webhook)."""
    path = upstream.require_upstream()
    api = client.ApiextensionsV1Api(kube_api_client)
    for name in ("clusters.cluster.x-k8s.io",
                 "kubeadmcontrolplanes.controlplane.cluster.x-k8s.io"):
        crd = api.read_custom_resource_definition(name)
        assert crd.spec.conversion.strategy == "None"
        versions = {v.name: (v.served, v.storage) for v in crd.spec.versions}
        assert versions == {"v1beta1": (True, True),
                            "v1beta2": (True, False)}
        assert crd.status.stored_versions == ["v1beta1"]
    installed = _upstream_crd(path, "clusters.cluster.x-k8s.io")
    with open(path / "crds" / "cluster-api" /
              "cluster.x-k8s.io_clusters.yaml") as handle:
        original = yaml.safe_load(handle)
    # Only storage, served and conversion differ from the release file,
    # which is read where it is and left as it was.
    assert "conversion" not in original["spec"]
    for mine, theirs in zip(installed["spec"]["versions"],
                            original["spec"]["versions"]):
        assert mine["schema"] == theirs["schema"]
        assert mine["subresources"] == theirs["subresources"]
    assert [v["storage"] for v in original["spec"]["versions"]] == [
        False, True]


def test_served_as_written_needs_the_version(tmp_path):
    crd = {"metadata": {"name": "x.example.org"}, "spec": {
        "versions": [{"name": "v1", "served": True, "storage": True}]}}
    copy = crds.served_as_written(crd, "v1")
    assert copy["spec"]["conversion"] == {"strategy": "None"}
    assert "conversion" not in crd["spec"]
    with pytest.raises(crds.CRDError, match="no version v1beta1"):
        crds.served_as_written(crd, "v1beta1")


def _cluster(name, spec):
    return {"apiVersion": "/".join(CAPI), "kind": "Cluster",
            "metadata": {"name": name}, "spec": spec}


def test_cluster_api_objects_meet_the_real_schemas(kube_api_client,
                                                   namespace):
    """Unknown fields: refused when strict, else dropped; status checked."""
    objects = client.CustomObjectsApi(kube_api_client)
    with pytest.raises(exceptions.ApiException) as refused:
        objects.create_namespaced_custom_object(
            *CAPI, namespace, "clusters",
            _cluster("c0", {"anything": {"nested": [1, 2]}}),
            field_validation="Strict")
    assert refused.value.status == 400
    assert 'unknown field \\"spec.anything\\"' in refused.value.body
    objects.create_namespaced_custom_object(
        *CAPI, namespace, "clusters",
        _cluster("c1", {"anything": {"nested": [1, 2]}, "paused": False}))
    got = objects.get_namespaced_custom_object(
        *CAPI, namespace, "clusters", "c1")
    assert got["spec"] == {"paused": False}
    with pytest.raises(exceptions.ApiException) as bad_phase:
        objects.patch_namespaced_custom_object_status(
            *CAPI, namespace, "clusters", "c1",
            {"status": {"phase": "NotAPhase"}})
    assert bad_phase.value.status == 422
    objects.patch_namespaced_custom_object_status(
        *CAPI, namespace, "clusters", "c1",
        {"status": {"phase": "Provisioned"}}, field_validation="Strict")
    # No conversion: read at v1beta2, the v1beta1 object is relabelled.
    as_v1beta2 = objects.get_namespaced_custom_object(
        CAPI[0], "v1beta2", namespace, "clusters", "c1")
    assert as_v1beta2["apiVersion"] == "cluster.x-k8s.io/v1beta2"
    assert as_v1beta2["status"]["phase"] == "Provisioned"


def test_addon_objects_keep_unknown_fields(kube_api_client, namespace):
    """The add-on provider's CRDs are generated: free-form spec, status."""
    objects = client.CustomObjectsApi(kube_api_client)
    objects.create_namespaced_custom_object(
        *ADDONS, namespace, "helmreleases", {
            "apiVersion": "/".join(ADDONS), "kind": "HelmRelease",
            "metadata": {"name": "h1"},
            "spec": {"anything": {"nested": [1, 2]}}},
        field_validation="Strict")
    objects.patch_namespaced_custom_object_status(
        *ADDONS, namespace, "helmreleases", "h1",
        {"status": {"phase": "Deployed", "extra": True}},
        field_validation="Strict")
    got = objects.get_namespaced_custom_object(
        *ADDONS, namespace, "helmreleases", "h1")
    assert got["spec"] == {"anything": {"nested": [1, 2]}}
    assert got["status"] == {"phase": "Deployed", "extra": True}


def test_scale_subresource_changes_spec_replicas(kube_api_client, namespace):
    objects = client.CustomObjectsApi(kube_api_client)
    labels = {"cluster.x-k8s.io/deployment-name": "md"}
    objects.create_namespaced_custom_object(
        *CAPI, namespace, "machinedeployments", {
            "apiVersion": "/".join(CAPI), "kind": "MachineDeployment",
            "metadata": {"name": "md"}, "spec": {
                "clusterName": "c1", "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {
                    "clusterName": "c1",
                    "bootstrap": {"dataSecretName": "boot"},
                    "infrastructureRef": {
                        "apiVersion": "infrastructure.cluster.x-k8s.io/"
                        "v1beta1", "kind": "OpenStackMachineTemplate",
                        "name": "t"}}}}},
        field_validation="Strict")
    objects.patch_namespaced_custom_object_scale(
        *CAPI, namespace, "machinedeployments", "md",
        {"spec": {"replicas": 5}})
    got = objects.get_namespaced_custom_object(
        *CAPI, namespace, "machinedeployments", "md")
    assert got["spec"]["replicas"] == 5


def test_restart_keeps_data(management_cluster, kube_api_client, namespace):
    core = client.CoreV1Api(kube_api_client)
    core.create_namespaced_config_map(namespace, {
        "metadata": {"name": "survivor"}, "data": {"k": "v"}})
    old_pid = management_cluster.pids()["kube-apiserver"]
    management_cluster.stop_apiserver()
    assert not cluster.pid_alive(old_pid)
    assert management_cluster.readyz()[0] is None
    management_cluster.start_apiserver()
    assert management_cluster.pids()["kube-apiserver"] != old_pid
    got = core.read_namespaced_config_map("survivor", namespace)
    assert got.data == {"k": "v"}


def test_crd_manifests_follow_the_given_api_versions():
    versions = dict.fromkeys(crds.API_VERSION_OPTIONS, "example.org/v9")
    versions["cluster_api_version"] = "cluster.x-k8s.io/v1beta2"
    manifests = {m["spec"]["names"]["kind"]: m
                 for m in crds.crd_manifests(versions)}
    assert manifests["Machine"]["spec"]["group"] == "cluster.x-k8s.io"
    assert manifests["Machine"]["spec"]["versions"][0]["name"] == "v1beta2"
    assert manifests["HelmRelease"]["metadata"]["name"] == (
        "helmreleases.example.org")
    scale = manifests["MachineDeployment"]["spec"]["versions"][0][
        "subresources"]["scale"]
    assert scale["specReplicasPath"] == ".spec.replicas"
    assert "scale" not in manifests["Machine"]["spec"]["versions"][0][
        "subresources"]


@pytest.mark.parametrize("versions, message", [
    ({"cluster_api_version": "no-slash"}, "cluster_api_version"),
    ({"bogus_api_version": "a/b"}, "bogus_api_version"),
])
def test_crd_manifests_reject_bad_api_versions(versions, message):
    full = dict.fromkeys(crds.API_VERSION_OPTIONS, "example.org/v1")
    full.update(versions)
    with pytest.raises(ValueError, match=message):
        crds.crd_manifests(full)


def test_tool_path_names_the_install_script(tmp_path, monkeypatch):
    monkeypatch.setenv("MAGNUM_CAPI_RDMA_CACHE", str(tmp_path))
    with pytest.raises(tools.ToolMissing, match="tools/install-test-tools"):
        tools.tool_path("etcd")
    assert tools.missing_tools() == list(tools.TOOLS)
    with pytest.raises(ValueError, match="unknown test tool"):
        tools.tool_path("kubectl")


def test_missing_tools_fail_in_ci_and_skip_locally(tmp_path, monkeypatch):
    monkeypatch.setenv("MAGNUM_CAPI_RDMA_CACHE", str(tmp_path))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="install-test-tools"):
        conftest.require_bed_tools()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="install-test-tools"):
        conftest.require_bed_tools()


def test_missing_upstream_skips_locally_in_one_line_and_fails_in_ci(
        tmp_path, monkeypatch):
    monkeypatch.setenv("MAGNUM_CAPI_RDMA_UPSTREAM", str(tmp_path))
    monkeypatch.delenv("MAGNUM_CAPI_RDMA_REAL_CHART", raising=False)
    monkeypatch.delenv("CI", raising=False)
    for require in (upstream.require_upstream, upstream.require_real_chart):
        with pytest.raises(pytest.skip.Exception) as skipped:
            require()
        message = str(skipped.value)
        assert "\n" not in message
        assert "upstream artefacts not found at %s" % tmp_path in message
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="not found"):
        upstream.require_real_chart()
    # The chart can be named on its own.
    monkeypatch.setenv("MAGNUM_CAPI_RDMA_REAL_CHART", str(
        _test_chart()))
    assert upstream.require_real_chart() == _test_chart()


def _test_chart():
    from magnum_capi_rdma_dev import upstream as dev_upstream

    return dev_upstream.TEST_CHART


def _bed(*args):
    return subprocess.run(
        dev.command("bed", *args), cwd=dev.REPO, env=dev.env(),
        capture_output=True, text=True, timeout=120)


def test_bed_command_up_status_down(tmp_path):
    conftest.require_bed_tools()
    state = str(tmp_path / "state")
    try:
        up = _bed("up", "--state", state)
        assert up.returncode == 0, up.stderr
        assert up.stdout.strip() == os.path.join(state, "kubeconfig")
        pids = cluster.ManagementCluster.load(state).pids()
        assert all(cluster.pid_alive(pid) for pid in pids.values())

        again = _bed("up", "--state", state)
        assert again.returncode == 0 and "already up" in again.stderr
        assert cluster.ManagementCluster.load(state).pids() == pids

        status = _bed("status", "--state", state)
        assert status.returncode == 0 and status.stdout.startswith("up:")
    finally:
        down = _bed("down", "--state", state)
    assert down.returncode == 0, down.stderr
    assert not any(cluster.pid_alive(pid) for pid in pids.values())
    assert _bed("status", "--state", state).returncode == 1


@pytest.mark.parametrize("address", [("192.0.2.1", 80), ("2001:db8::1", 80),
                                     ("example.invalid", 443)])
def test_non_loopback_connections_are_refused(address):
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        with pytest.raises(conftest.NonLoopbackConnection, match="loopback"):
            sock.connect(address)


def test_loopback_connections_are_allowed(management_cluster):
    with socket.create_connection(
            ("127.0.0.1", management_cluster.secure_port), timeout=5):
        pass
