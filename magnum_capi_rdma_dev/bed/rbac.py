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
"""The shipped least-privilege access (etc/rbac) on a bed.

:func:`driver_kubeconfig` applies ``etc/rbac/magnum-capi-rdma.yaml`` with
the admin credentials, waits until its admission policy is enforced, and
writes a kubeconfig holding a token of the driver's service account, so the
driver can run with exactly the access an operator would give it.
"""

import os
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
RBAC_FILE = os.path.join(ROOT, "etc", "rbac", "magnum-capi-rdma.yaml")
SA_NAMESPACE = "magnum-capi-rdma"
SA_NAME = "magnum-capi-rdma"


def documents():
    with open(RBAC_FILE) as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def apply(api_client):
    """Create every object of the file (existing ones are kept)."""
    from kubernetes import utils

    for doc in documents():
        try:
            utils.create_from_dict(api_client, doc)
        except utils.FailToCreateError as exc:
            if not all(e.status == 409 for e in exc.api_exceptions):
                raise


def wait_for_policy(kubeconfig, timeout=180.0):
    """Until the admission policy refuses a namespace outside magnum-*.

    A new ValidatingAdmissionPolicy takes about a second to be enforced;
    the probe is a dry run, so nothing is created.
    """
    from kubernetes import client
    from kubernetes import config

    api_client = config.new_client_from_config(kubeconfig)
    core = client.CoreV1Api(api_client)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                core.create_namespace({"metadata": {"name": "policy-probe"}},
                                      dry_run="All")
            except client.ApiException as exc:
                if exc.status == 422:
                    return
                raise
            if time.monotonic() > deadline:
                raise AssertionError(
                    "the admission policy of %s is not enforced after "
                    "%.0fs" % (RBAC_FILE, timeout))
            time.sleep(0.2)
    finally:
        api_client.close()


def driver_kubeconfig(bed, api_client, path, expiration=7 * 24 * 3600):
    """Apply the RBAC; write a kubeconfig for the service account."""
    from kubernetes import client

    apply(api_client)
    core = client.CoreV1Api(api_client)
    token = core.create_namespaced_service_account_token(
        SA_NAME, SA_NAMESPACE,
        {"spec": {"expirationSeconds": int(expiration)}}).status.token
    bed.kubeconfig_for_token(token, path, user=SA_NAME)
    os.chmod(path, 0o600)
    wait_for_policy(path)
    return path
