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
"""The objects the driver delivers to a workload cluster, on a real API
server with the real upstream CRDs (../shared/upstream/crds).

For every RDMA mode, the objects of the driver's Manifests add-ons are
taken as the chart delivers them (``addons.custom.<name>.spec.manifests``,
in the order Helm installs them) and created with
``fieldValidation=Strict`` on the ``workload_cluster`` API server; for a
GPU-only cluster, the gpu-operator chart's ClusterPolicy rendered with the
values the add-on provider composes from the driver's. Every object must
be accepted as it is.

The only namespace created here is each Manifests add-on's release
namespace (``spec.namespace``): the add-on provider installs the add-on
as a Helm release with ``--create-namespace`` (pyhelm3's default). Any
other namespace an object goes into must be created by what the driver
delivers, or the object is refused, as it would be on a real cluster.
"""

import json

from kubernetes.client import exceptions
import pytest

from tests.support import upstream

CASES = upstream.RDMA_MODES + ("gpu",)
# One negative test per upstream kind the driver delivers.
NEGATIVE_KINDS = ("NicClusterPolicy", "IPPool", "MacvlanNetwork",
                  "HostDeviceNetwork", "IPoIBNetwork",
                  "NetworkAttachmentDefinition", "ClusterPolicy")


def case_description(case):
    if case == "gpu":
        return upstream.description(gpu=True)
    return upstream.description(case)


@pytest.fixture(scope="module")
def gpu_cluster_policy(helm_bin, tmp_path_factory):
    """The ClusterPolicy a GPU-only cluster gets, rendered once."""
    path = upstream.require_upstream()
    return upstream.rendered_cluster_policy(
        helm_bin, path, case_description("gpu"),
        tmp_path_factory.mktemp("gpu-render"))


def delivered(case, kube, gpu_policy=None):
    """(release namespaces, objects) a case delivers, in install order."""
    addons = upstream.delivered_manifests(
        upstream.driver_values(case_description(case)))
    namespaces = sorted({namespace for namespace, _ in addons.values()})
    objects = [upstream.with_namespace(kube, obj, namespace)
               for namespace, objs in addons.values() for obj in objs]
    if gpu_policy is not None:
        objects.append(gpu_policy)
    return namespaces, objects


def explain(obj, exc):
    text = "%s refused: %s" % (upstream.object_ref(obj),
                               upstream.refusal(exc))
    if obj["kind"] == "Namespace" and exc.status == 409:
        text += (" (on a real cluster Helm refuses to install an object "
                 "that exists and that the release does not own)")
    return text


@pytest.mark.parametrize("case", CASES)
def test_delivered_objects_accepted(case, workload_cluster, request):
    kube = workload_cluster.kube
    gpu_policy = (request.getfixturevalue("gpu_cluster_policy")
                  if case == "gpu" else None)
    namespaces, objects = delivered(case, kube, gpu_policy)
    if case in upstream.RDMA_MODES:
        assert any(o["kind"] == "NicClusterPolicy" for o in objects), (
            "no NicClusterPolicy among the Manifests add-ons' objects")
    created, failures = [], []
    try:
        for name in namespaces:  # what the add-on provider creates
            namespace = upstream.namespace_object(name)
            if not kube.exists(namespace):
                kube.create(namespace)
                created.append(namespace)
        for obj in objects:
            try:
                kube.create(obj)
            except exceptions.ApiException as exc:
                failures.append(explain(obj, exc))
            else:
                created.append(obj)
        # The network operator creates each network's attachment
        # definition in spec.networkNamespace: it must exist too.
        for obj in objects:
            name = (obj.get("spec") or {}).get("networkNamespace")
            if (obj["apiVersion"].startswith("mellanox.com/") and name
                    and not kube.exists(upstream.namespace_object(name))):
                failures.append(
                    "%s: spec.networkNamespace %s does not exist, so the "
                    "operator cannot create its NetworkAttachmentDefinition "
                    "there" % (upstream.object_ref(obj), name))
    finally:
        for obj in reversed(created):
            kube.delete(obj)
    assert not failures, "%s: %d of %d objects not accepted:\n%s" % (
        case, len(failures), len(objects), "\n".join(failures))


def first_delivered(kind, kube, request):
    """The first object of ``kind`` that a case delivers."""
    if kind == "ClusterPolicy":
        return request.getfixturevalue("gpu_cluster_policy")
    for case in upstream.RDMA_MODES:
        for obj in delivered(case, kube)[1]:
            if obj["kind"] == kind:
                return obj
    pytest.fail("no case delivers a %s" % kind)


@pytest.mark.parametrize("kind", NEGATIVE_KINDS)
def test_unknown_field_refused(kind, workload_cluster, request):
    """A field upstream does not have is refused (strict validation)."""
    kube = workload_cluster.kube
    obj = json.loads(json.dumps(first_delivered(kind, kube, request)))
    obj.setdefault("spec", {})["bogusField"] = "not-in-the-crd"
    with pytest.raises(exceptions.ApiException) as err:
        kube.create(obj, dry_run=True)
    message = upstream.refusal(err.value)
    assert err.value.status in (400, 422), message
    assert "bogusField" in message, message


@pytest.mark.parametrize("resource_name,accepted", [
    ("sriov_rdma_vf", True),
    ("roce.vf-1", True),
    ("a", True),
    ("nvidia.com/sriov_rdma_vf", False),
    ("-vf", False),
    ("vf_", False),
    ("", False),
])
def test_host_device_network_webhook_rule(resource_name, accepted,
                                          workload_cluster):
    """The operator webhook's resourceName rule holds on the test server."""
    kube = workload_cluster.kube
    obj = upstream.host_device_network("rule-probe", resource_name)
    if accepted:
        kube.create(obj, dry_run=True)
        return
    with pytest.raises(exceptions.ApiException) as err:
        kube.create(obj, dry_run=True)
    message = upstream.refusal(err.value)
    assert upstream.HOST_DEVICE_NETWORK_POLICY in message, message


def test_every_delivered_upstream_kind_has_a_negative_test(
        workload_cluster):
    crd_kinds = set(workload_cluster.kinds)
    kinds = {"ClusterPolicy"}
    for case in upstream.RDMA_MODES:
        kinds.update(obj["kind"]
                     for obj in delivered(case, workload_cluster.kube)[1])
    assert sorted(kinds & crd_kinds - set(NEGATIVE_KINDS)) == []
