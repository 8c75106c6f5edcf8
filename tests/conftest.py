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
"""Shared fixtures: the real management cluster (etcd + kube-apiserver).

``management_cluster`` starts one bed per test session (only when a test
asks for it), installs Cluster API's and CAPO's own CRDs (from
``../shared/upstream``) and the add-on provider's, and reports its start
time in the pytest summary (``summary_line``: any test module can add a
line there). Without the pinned binaries or the upstream folder the tests
that need the bed are skipped with one line, except in CI (env ``CI``
set), where that is an error.

Every test runs with Python sockets restricted to loopback (and Unix
sockets): a connection anywhere else raises NonLoopbackConnection, unless
``MAGNUM_CAPI_RDMA_ALLOW_NETWORK=1``.
"""

import ipaddress
import os
import socket
import time
import uuid

from hypothesis import HealthCheck
from hypothesis import settings
import pytest

from magnum_capi_rdma_dev.bed import tools

# Property tests judge inputs, not speed: on a busy machine (CI runs suites
# side by side) an example may take longer than Hypothesis's 200 ms
# deadline, which is no failure of the code.
settings.register_profile("magnum-capi-rdma", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("magnum-capi-rdma")

_SUMMARY = pytest.StashKey[list]()


def require_bed_tools():
    """Skip (locally) or fail (in CI) when the pinned binaries are missing."""
    missing = tools.missing_tools()
    if not missing:
        return
    message = ("test bed binaries missing (%s) in %s: run "
               "tools/install-test-tools" % (", ".join(missing),
                                             tools.bin_dir()))
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


class NonLoopbackConnection(OSError):
    """A test tried to connect to something other than loopback."""


def _is_loopback(address):
    if not isinstance(address, tuple):
        return True  # a Unix socket path
    host = str(address[0]).split("%", 1)[0]
    if host == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name we cannot vouch for
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or bool(mapped and mapped.is_loopback)


@pytest.fixture(scope="session", autouse=True)
def loopback_only():
    """Refuse connections from this process to non-loopback addresses."""
    if os.environ.get("MAGNUM_CAPI_RDMA_ALLOW_NETWORK") == "1":
        yield
        return
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def check(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and (
                not _is_loopback(address)):
            raise NonLoopbackConnection(
                "tests may only talk to loopback, not %r (set "
                "MAGNUM_CAPI_RDMA_ALLOW_NETWORK=1 to allow)" % (address,))

    def connect(self, address):
        check(self, address)
        return real_connect(self, address)

    def connect_ex(self, address):
        check(self, address)
        return real_connect_ex(self, address)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    try:
        yield
    finally:
        socket.socket.connect = real_connect
        socket.socket.connect_ex = real_connect_ex


def pytest_terminal_summary(terminalreporter, config):
    for line in config.stash.get(_SUMMARY, []):
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def summary_line(request):
    """``summary_line(text)`` prints TEXT in the summary at the end."""
    return request.config.stash.setdefault(_SUMMARY, []).append


@pytest.fixture(scope="session")
def helm_bin():
    """Path of the pinned helm binary."""
    require_bed_tools()
    return tools.tool_path("helm")


@pytest.fixture(scope="session")
def management_cluster(tmp_path_factory, summary_line):
    """A running ManagementCluster serving the real CRDs.

    Cluster API's and CAPO's own CRDs from ``../shared/upstream`` (served
    as :func:`magnum_capi_rdma_dev.simulator.crds.served_as_written` says:
    v1beta1 stored, no conversion), the add-on provider's generated.
    Without the upstream folder the tests that need the bed skip with one
    line (fail in CI).
    """
    require_bed_tools()
    from tests.support import upstream

    path = upstream.require_upstream()
    from kubernetes import config

    from magnum_capi_rdma_dev.bed import cluster
    from magnum_capi_rdma_dev.simulator import crds

    bed = cluster.ManagementCluster(
        str(tmp_path_factory.mktemp("management-cluster")))
    bed.start()
    try:
        api_client = config.new_client_from_config(bed.kubeconfig)
        try:
            began = time.monotonic()
            installed = crds.install_crds(api_client, upstream=path)
            crds_in = time.monotonic() - began
        finally:
            api_client.close()
        line = ("test bed: kube-apiserver %s ready in %.2fs "
                "(etcd + kube-apiserver from empty folders), %d CRDs "
                "(Cluster API and CAPO from %s) in %.2fs"
                % (bed.server, bed.started_in, len(installed), path,
                   crds_in))
        print(line)
        summary_line(line)
        yield bed
    finally:
        bed.stop()


@pytest.fixture(scope="session")
def kubeconfig(management_cluster):
    """Path of the bed's admin kubeconfig (``system:masters``)."""
    return management_cluster.kubeconfig


@pytest.fixture(scope="session")
def kube_api_client(kubeconfig):
    """A kubernetes.client.ApiClient for the admin kubeconfig."""
    from kubernetes import config

    api_client = config.new_client_from_config(kubeconfig)
    yield api_client
    api_client.close()


@pytest.fixture
def namespace(kube_api_client, request):
    """A fresh, uniquely named namespace, deleted afterwards.

    The bed runs no kube-controller-manager, so nothing would finalize the
    namespace: teardown deletes it and removes its finalizer itself.
    """
    from kubernetes import client

    core = client.CoreV1Api(kube_api_client)
    base = "".join(c if c.isalnum() else "-"
                   for c in request.node.name.lower())[:40].strip("-")
    name = "%s-%s" % (base or "test", uuid.uuid4().hex[:6])
    core.create_namespace({"metadata": {"name": name}})
    yield name
    _delete_namespace(core, name)


def _delete_namespace(core, name):
    from kubernetes.client import exceptions

    try:
        core.delete_namespace(name)
        core.replace_namespace_finalize(
            name, {"metadata": {"name": name}, "spec": {"finalizers": []}})
    except exceptions.ApiException as exc:
        if exc.status != 404:
            raise
