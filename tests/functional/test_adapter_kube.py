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
"""The kube adapter against a real kube-apiserver with the project's CRDs."""

import threading
import time
import uuid

import pytest
import yaml

from magnum_capi_rdma.adapters import kube as kube_adapter
from magnum_capi_rdma import conf as conf_mod
from magnum_capi_rdma import contract
from magnum_capi_rdma_dev.bed import cluster as bed_cluster

OWNER = {"magnum.openstack.org/managed-by": "magnum-capi-rdma"}


@pytest.fixture
def kube(kube_api_client):
    versions = {option: conf_mod.cfg.CONF.capi_rdma[option]
                for option, _ in kube_adapter.KINDS.values()}
    return kube_adapter.Kube(kube_api_client, versions)


def _machine_spec(cluster):
    """What Cluster API's Machine schema requires (the bed serves it)."""
    return {"clusterName": cluster,
            "bootstrap": {"dataSecretName": "%s-bootstrap" % cluster},
            "infrastructureRef": {
                "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
                "kind": "OpenStackMachine", "name": "%s-m" % cluster}}


#: The least of each kind that Cluster API's schemas accept.
REQUIRED = {
    "cluster": {},
    "machine": _machine_spec("c0"),
    "machinedeployment": {
        "clusterName": "c0", "selector": {"matchLabels": {"md": "md"}},
        "template": {"metadata": {"labels": {"md": "md"}},
                     "spec": _machine_spec("c0")}},
}


def _object(kube, kind, namespace, name, spec=None, labels=None):
    group, version, plural = kube.gvp(kind)
    body = {
        "apiVersion": "%s/%s" % (group, version),
        "kind": {"cluster": "Cluster", "machine": "Machine",
                 "machinedeployment": "MachineDeployment"}[kind],
        "metadata": {"name": name, "labels": labels or {}},
        "spec": dict(REQUIRED[kind], **(spec or {})),
    }
    return kube.custom.create_namespaced_custom_object(
        group, version, namespace, plural, body, field_validation="Strict")


def test_from_config_reads_kubeconfig_file(kubeconfig, namespace):
    conf = conf_mod.cfg.ConfigOpts()
    conf_mod.register_opts(conf)
    conf([], project="test")
    conf.set_override("kubeconfig_file", kubeconfig, group="capi_rdma")
    conf.set_override("cluster_api_version", "cluster.x-k8s.io/v1beta1",
                      group="capi_rdma")
    kube = kube_adapter.Kube.from_config(conf)
    assert kube.gvp("machine") == ("cluster.x-k8s.io", "v1beta1",
                                   "machines")
    assert kube.list("cluster", namespace) == []


def test_from_config_bad_kubeconfig_is_named(tmp_path):
    conf = conf_mod.cfg.ConfigOpts()
    conf_mod.register_opts(conf)
    conf([], project="test")
    path = str(tmp_path / "missing-kubeconfig")
    conf.set_override("kubeconfig_file", path, group="capi_rdma")
    with pytest.raises(kube_adapter.KubeError) as caught:
        kube_adapter.Kube.from_config(conf)
    assert path in str(caught.value)


def test_api_versions_come_from_config(kube_api_client):
    kube = kube_adapter.Kube(kube_api_client, {
        "cluster_api_version": "example.org/v9"})
    assert kube.gvp("cluster") == ("example.org", "v9", "clusters")
    with pytest.raises(kube_adapter.KubeError) as caught:
        kube.gvp("openstackcluster")
    assert "infrastructure_api_version" in str(caught.value)
    with pytest.raises(kube_adapter.KubeError) as caught:
        kube.gvp("pod")
    assert "'pod'" in str(caught.value)


def test_crud_on_custom_resources(kube, namespace):
    assert kube.get("cluster", namespace, "c1") is None
    _object(kube, "cluster", namespace, "c1", {"paused": False},
            labels={"x": "1"})
    _object(kube, "machine", namespace, "m1", _machine_spec("c1"),
            labels={"cluster.x-k8s.io/cluster-name": "c1"})
    _object(kube, "machine", namespace, "m2", _machine_spec("other"),
            labels={"cluster.x-k8s.io/cluster-name": "other"})

    assert kube.get("cluster", namespace, "c1")["spec"] == {"paused": False}
    names = [m["metadata"]["name"] for m in kube.list(
        "machine", namespace, "cluster.x-k8s.io/cluster-name=c1")]
    assert names == ["m1"]
    assert len(kube.list("machine", namespace)) == 2
    everywhere = kube.list_all("machine")
    assert {"m1", "m2"} <= {m["metadata"]["name"] for m in everywhere}

    network = {"serviceDomain": "cluster.example"}
    patched = kube.patch("cluster", namespace, "c1",
                         {"spec": {"paused": True, "clusterNetwork": network}})
    assert patched["spec"] == {"paused": True, "clusterNetwork": network}
    kube.patch("cluster", namespace, "c1", {"spec": {"clusterNetwork": None}})
    assert kube.get("cluster", namespace, "c1")["spec"] == {"paused": True}
    # Strict field validation: a field Cluster API does not have is an
    # error naming it, not dropped.
    with pytest.raises(kube_adapter.KubeError) as caught:
        kube.patch("cluster", namespace, "c1",
                   {"spec": {"extra": {"a": 1}}})
    assert caught.value.status == 422
    assert 'unknown field "spec.extra"' in str(caught.value)
    assert kube.get("cluster", namespace, "c1")["spec"] == {"paused": True}

    kube.annotate("machine", namespace, "m1",
                  {"cluster.x-k8s.io/delete-machine": "yes"})
    got = kube.get("machine", namespace, "m1")
    assert got["metadata"]["annotations"] == {
        "cluster.x-k8s.io/delete-machine": "yes"}

    assert kube.delete("machine", namespace, "m1") is True
    assert kube.get("machine", namespace, "m1") is None
    assert kube.delete("machine", namespace, "m1") is False


def test_errors_name_the_object(kube, namespace):
    with pytest.raises(kube_adapter.KubeError) as caught:
        kube.patch("cluster", namespace, "nope", {"spec": {}})
    assert caught.value.status == 404
    assert caught.value.transient is False
    assert "cluster %s/nope" % namespace in str(caught.value)

    _object(kube, "cluster", namespace, "dup")
    with pytest.raises(Exception) as caught:
        _object(kube, "cluster", namespace, "dup")  # raw client: 409
    with pytest.raises(kube_adapter.KubeError) as caught:
        kube.apply_secret(namespace, "Bad_Name", {"a": "b"})
    assert caught.value.status == 422
    assert "Bad_Name" in str(caught.value)


def test_unreachable_api_is_transient(management_cluster, tmp_path):
    from kubernetes import config

    port = bed_cluster.free_port()
    path = tmp_path / "dead"
    with open(management_cluster.ca_file, "rb") as ca:
        path.write_text(yaml.safe_dump(bed_cluster.kubeconfig_dict(
            "https://127.0.0.1:%d" % port, ca.read(), "t")))
    api_client = config.new_client_from_config(str(path))
    api_client.configuration.retries = 0
    kube = kube_adapter.Kube(api_client, {
        "cluster_api_version": "cluster.x-k8s.io/v1beta1"})
    try:
        with pytest.raises(kube_adapter.KubeError) as caught:
            kube.get("cluster", "ns", "c")
        assert caught.value.transient is True
        assert caught.value.status is None
        assert "cluster ns/c" in str(caught.value)
    finally:
        api_client.close()


def test_secrets_apply_get_delete(kube, namespace):
    labels = dict(OWNER, **{"magnum.openstack.org/cluster-uuid": "u1"})
    kube.apply_secret(namespace, "s1", {"clouds.yaml": "a: 1\n"},
                      labels=labels, annotations={"op": "CREATE"})
    assert kube.get_secret(namespace, "s1") == {"clouds.yaml": "a: 1\n"}

    # Replace: new data, annotations kept, idempotent.
    for _ in range(2):
        kube.apply_secret(namespace, "s1", {"clouds.yaml": "a: 2\n",
                                            "cacert": ""}, labels=labels)
    assert kube.get_secret(namespace, "s1") == {"clouds.yaml": "a: 2\n",
                                                "cacert": ""}
    meta = kube.get_secret_metadata(namespace, "s1")
    assert meta["annotations"] == {"op": "CREATE"}
    assert meta["labels"] == labels
    assert meta["type"] == "Opaque"

    # Binary data and an explicit type (changing the type replaces it).
    kube.apply_secret(namespace, "s1", data={"bin": b"\xff\x00"},
                      labels=labels, type="cluster.x-k8s.io/secret")
    assert kube.get_secret(namespace, "s1") == {"bin": b"\xff\x00"}
    assert kube.get_secret_metadata(namespace, "s1")["type"] == (
        "cluster.x-k8s.io/secret")

    kube.apply_secret(namespace, "s2", {"x": "y"}, labels=labels)
    kube.apply_secret(namespace, "other", {"x": "y"}, labels=OWNER)
    selector = "magnum.openstack.org/cluster-uuid=u1"
    assert sorted(s["name"] for s in kube.list_secrets(
        namespace, selector)) == ["s1", "s2"]
    assert kube.delete_secrets(namespace, selector) == 2
    assert kube.delete_secrets(namespace, selector) == 0
    assert kube.get_secret(namespace, "s1") is None
    assert kube.delete_secret(namespace, "other") is True
    assert kube.delete_secret(namespace, "other") is False
    with pytest.raises(kube_adapter.KubeError):
        kube.delete_secrets(namespace, "")


def test_namespace_lifecycle(kube, kube_api_client):
    from kubernetes import client

    core = client.CoreV1Api(kube_api_client)
    name = "adapter-ns-%s" % uuid.uuid4().hex[:6]
    kube.ensure_namespace(name, OWNER)
    kube.ensure_namespace(name, dict(OWNER, extra="1"))  # idempotent
    assert core.read_namespace(name).metadata.labels["extra"] == "1"
    try:
        kube.apply_secret(name, "creds", {"a": "b"}, labels=OWNER)
        assert kube.delete_namespace_if_empty(name) is False
        kube.delete_secret(name, "creds")

        _object(kube, "machinedeployment", name, "md")
        assert kube.delete_namespace_if_empty(name) is False
        kube.delete("machinedeployment", name, "md")

        kube.apply_secret(name, "sh.helm.release.v1.r.v1", {"release": "x"},
                          labels={"owner": "helm", "name": "r"})
        assert kube.delete_namespace_if_empty(name) is False
        kube.delete_secret(name, "sh.helm.release.v1.r.v1")

        # Someone else's secret does not keep it.
        kube.apply_secret(name, "foreign", {"a": "b"})
        assert kube.delete_namespace_if_empty(name) is True
        phase = core.read_namespace(name).status.phase
        assert phase == "Terminating"
    finally:
        try:
            core.delete_namespace(name)
        except client.exceptions.ApiException:
            pass
        core.replace_namespace_finalize(
            name, {"metadata": {"name": name}, "spec": {"finalizers": []}})
    assert kube.delete_namespace_if_empty(name) is False


def test_namespace_empty_when_a_crd_is_missing(kube_api_client, namespace):
    """A kind whose CRD is not installed (404) holds nothing back."""
    versions = {option: conf_mod.cfg.CONF.capi_rdma[option]
                for option, _ in kube_adapter.KINDS.values()}
    versions["addons_api_version"] = "not-installed.example.org/v1"
    kube = kube_adapter.Kube(kube_api_client, versions)
    with pytest.raises(kube_adapter.KubeError) as caught:
        kube.list("helmrelease", namespace)
    assert caught.value.status == 404
    assert kube.namespace_is_empty(namespace, contract.OWNER_SELECTOR)


def test_ensure_namespace_waits_for_a_terminating_namespace(kube,
                                                            kube_api_client):
    from kubernetes import client

    core = client.CoreV1Api(kube_api_client)
    name = "ns-terminating-%d" % int(time.time() * 1000)
    core.create_namespace({"metadata": {"name": name}})
    core.delete_namespace(name)
    # No namespace controller runs on the bed: it stays Terminating.
    assert core.read_namespace(name).metadata.deletion_timestamp

    with pytest.raises(kube_adapter.KubeError) as info:
        kube.ensure_namespace(name, terminating_wait=0.5, interval=0.1)
    assert info.value.transient
    assert "%s is still being deleted" % name in str(info.value)

    def finalize():
        time.sleep(0.5)
        ns = core.read_namespace(name)
        ns.spec.finalizers = []
        core.replace_namespace_finalize(name, ns)

    worker = threading.Thread(target=finalize)
    worker.start()
    kube.ensure_namespace(name, {"a": "b"}, terminating_wait=20,
                          interval=0.1)
    worker.join()
    fresh = core.read_namespace(name)
    assert fresh.metadata.deletion_timestamp is None
    assert fresh.metadata.labels["a"] == "b"
    core.delete_namespace(name)


def test_a_hung_api_server_times_out_instead_of_blocking(tmp_path):
    """A server that accepts connections and never answers."""
    import socket

    from kubernetes import client

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    try:
        configuration = client.Configuration()
        configuration.host = "http://127.0.0.1:%d" % port
        configuration.retries = 0
        api_client = kube_adapter.with_default_timeout(
            client.ApiClient(configuration), 1)
        kube = kube_adapter.Kube(api_client, {
            option: "cluster.x-k8s.io/v1beta1"
            for option, _ in kube_adapter.KINDS.values()})
        started = time.monotonic()
        with pytest.raises(kube_adapter.KubeError) as info:
            kube.list_all("cluster")
        assert time.monotonic() - started < 10
        assert info.value.transient
    finally:
        listener.close()
