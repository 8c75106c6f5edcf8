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
"""No secret reaches the logs during a full lifecycle.

Every log record (root logger at DEBUG, plus the driver's, oslo's,
pyhelm3's, the kubernetes client's and urllib3's loggers) and everything
written to stdout/stderr (file descriptors included, so helm's output too)
is captured while the driver creates, resizes, rotates the credential of,
checks the health of and deletes a cluster on the real bed. None of these
may appear, as text or base64: the application credential secrets (chosen
here through the Keystone stand-in), the cluster CAs' private keys (from
Magnum's cert manager), and the workload kubeconfig's credentials (written
by the simulator).
"""

import base64
import json
import logging
import os
import secrets
import uuid

from magnum.objects import fields
import pytest

from magnum_capi_rdma.adapters import certs as certs_adapter
from magnum_capi_rdma import driver as capi_driver
from tests.support import lifecycle

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
ARTIFACTS = os.path.join(ROOT, "artifacts", "reliability")
LOGGERS = ("", "magnum", "magnum_capi_rdma", "oslo", "oslo_config",
           "pyhelm3", "kubernetes", "urllib3", "keystoneauth", "asyncio")
MIN_LENGTH = 16     # fragments shorter than this are not evidence


class KnownSecretKeystone(lifecycle.InMemoryKeystone):
    """The in-memory Keystone, with secrets the test knows."""

    issued = []

    def create_app_credential(self, *args, **kwargs):
        cred = super().create_app_credential(*args, **kwargs)
        cred["secret"] = "appcred-secret-" + secrets.token_urlsafe(32)
        KnownSecretKeystone.issued.append(cred["secret"])
        return cred


def base64_forms(text):
    """Substrings every base64 encoding of *text* contains.

    Whatever comes before *text* in an encoded blob shifts its alignment;
    for each of the three shifts the stable middle of the encoding is
    kept.
    """
    raw = text.encode()
    forms = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode()
        start = (shift * 4 + 2) // 3 + 1 if shift else 0
        middle = encoded[start:len(encoded) - 4]
        if len(middle) >= MIN_LENGTH:
            forms.append(middle)
    return forms


def needles(secret_text):
    """What must never be seen: the secret, its lines, its base64."""
    found = set()
    for part in [secret_text] + secret_text.splitlines():
        part = part.strip()
        if len(part) < MIN_LENGTH or part.startswith("-----"):
            continue
        found.add(part)
        found.update(base64_forms(part))
    return found


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.records = []
        self.setFormatter(logging.Formatter(
            "%(levelname)s %(name)s %(message)s"))

    def emit(self, record):
        self.records.append(self.format(record))


class TestNoSecretsInLogs(lifecycle.LifecycleBase):

    @pytest.fixture(autouse=True)
    def _bed(self, management_cluster, kube_api_client, helm_bin, capfd):
        from magnum_capi_rdma_dev.simulator import Simulator

        self.helm_bin = helm_bin
        self.bed = management_cluster
        self.capfd = capfd
        # A workload kubeconfig with credentials the test knows.
        self.workload_token = "wl-token-" + secrets.token_hex(24)
        self.workload_key = base64.b64encode(
            os.urandom(96)).decode()
        self.workload_kubeconfig = (
            "apiVersion: v1\nkind: Config\nclusters:\n- name: w\n"
            "  cluster:\n    server: https://127.0.0.1:9\n"
            "users:\n- name: w\n  user:\n    token: %s\n"
            "    client-key-data: %s\ncontexts:\n- name: w\n  context:\n"
            "    cluster: w\n    user: w\ncurrent-context: w\n" % (
                self.workload_token, self.workload_key))
        self.sim = Simulator(kube_api_client,
                             workload_kubeconfig=self.workload_kubeconfig)
        self.sim.start(interval=0.2)
        yield
        self.sim.stop()
        assert not self.sim.refused, self.sim.refused

    def setUp(self):
        super().setUp()
        KnownSecretKeystone.issued = []
        self.driver.keystone_factory = lambda context: KnownSecretKeystone()
        self.handler = _Collect()
        self.saved_levels = {}
        for name in LOGGERS:
            logger = logging.getLogger(name)
            self.saved_levels[name] = logger.level
            logger.setLevel(logging.DEBUG)
        # Magnum's test setup disables the loggers that existed before it
        # configured logging; every one of them is turned back on here.
        self.disabled = [
            logger for logger in logging.root.manager.loggerDict.values()
            if isinstance(logger, logging.Logger) and logger.disabled]
        for logger in self.disabled:
            logger.disabled = False
        logging.getLogger().addHandler(self.handler)
        self.addCleanup(self._restore_logging)

    def _restore_logging(self):
        logging.getLogger().removeHandler(self.handler)
        for logger in self.disabled:
            logger.disabled = True
        for name, level in self.saved_levels.items():
            logging.getLogger(name).setLevel(level)

    def lifecycle(self):
        cluster = self.make_cluster(name="secrets")
        self.driver.create_cluster(self.context, cluster, 30)
        cluster.save()
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.CREATE_COMPLETE)
        monitor = self.driver.get_monitor(self.context, cluster)
        monitor.poll_health_status()
        worker = [ng for ng in cluster.nodegroups if ng.role != "master"][0]
        worker.node_count = 3
        worker.save()
        cluster.status = fields.ClusterStatus.UPDATE_IN_PROGRESS
        cluster.save()
        self.driver.resize_cluster(self.context, cluster, None, 3, None,
                                   worker)
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.UPDATE_COMPLETE)
        self.driver.rotate_credential(self.context, cluster)
        # A failing call logs its error too.
        with pytest.raises(capi_driver.InvalidClusterLabels):
            self.driver.resize_cluster(self.context, cluster, None, 2,
                                       [str(uuid.uuid4())], worker)
        self.driver.delete_cluster(self.context, cluster)
        cluster.status = fields.ClusterStatus.DELETE_IN_PROGRESS
        cluster.save()
        return self.wait_status(cluster,
                                fields.ClusterStatus.DELETE_COMPLETE)

    def secret_values(self, cluster):
        material = certs_adapter.load_ca_material(self.context, cluster)
        values = {"app credential secret %d" % i: s
                  for i, s in enumerate(KnownSecretKeystone.issued)}
        for part, pair in material.items():
            values["%s private key" % part] = pair["tls.key"]
        values["workload kubeconfig token"] = self.workload_token
        values["workload kubeconfig client key"] = self.workload_key
        values["workload kubeconfig"] = self.workload_kubeconfig
        return values

    def test_full_lifecycle_logs_no_secret(self):
        cluster = self.lifecycle()
        captured = self.capfd.readouterr()
        text = "\n".join(self.handler.records + [captured.out,
                                                 captured.err])
        values = self.secret_values(cluster)
        assert len(KnownSecretKeystone.issued) == 2   # create + rotation
        assert len(self.handler.records) > 20, "logging was not captured"
        assert "secrets" in text    # the cluster's release name is logged
        leaks = {}
        checked = 0
        for what, value in values.items():
            for needle in needles(value):
                checked += 1
                if needle in text:
                    leaks.setdefault(what, []).append(needle[:12] + "...")
        print("secrets in logs: %d log records and %d bytes of output "
              "searched for %d secret strings (%d forms): %d found" % (
                  len(self.handler.records), len(text), len(values),
                  checked, len(leaks)))
        os.makedirs(ARTIFACTS, exist_ok=True)
        with open(os.path.join(ARTIFACTS, "secrets-in-logs.json"), "w") as f:
            json.dump({"log_records": len(self.handler.records),
                       "bytes_searched": len(text),
                       "secrets": sorted(values), "forms": checked,
                       "leaks": len(leaks)}, f, indent=2)
        assert checked > 30
        assert leaks == {}


def test_the_search_finds_a_leak():
    """A secret inside a logged Secret body (base64) is found."""
    from magnum_capi_rdma.adapters import keystone as keystone_adapter

    secret = "appcred-secret-" + secrets.token_urlsafe(32)
    clouds = keystone_adapter.clouds_yaml(
        auth_url="http://127.0.0.1:5000/v3", region="RegionOne",
        interface="public", app_cred_id="id", app_cred_secret=secret,
        project_id="p", verify=True)
    body = keystone_adapter.cloud_credentials_secret(clouds, "")
    logged = "DEBUG body: %s" % {
        k: base64.b64encode(v.encode()).decode() for k, v in body.items()}
    assert any(needle in logged for needle in needles(secret))
    assert not any(needle in logged for needle in needles(
        "appcred-secret-" + secrets.token_urlsafe(32)))
