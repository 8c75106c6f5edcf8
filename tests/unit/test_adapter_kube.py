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
"""Error mapping of the kube adapter (the rest runs on a real apiserver in
tests/functional/test_adapter_kube.py)."""

import json

from kubernetes.client import exceptions
import pytest
import urllib3

from magnum_capi_rdma.adapters import kube


def _api_exception(status, message):
    exc = exceptions.ApiException(status=status, reason="Reason")
    exc.body = json.dumps({"kind": "Status", "message": message})
    return exc


@pytest.mark.parametrize("status,transient", [
    (404, False), (403, False), (409, False), (422, False),
    (429, True), (500, True), (502, True), (503, True), (504, True),
])
def test_status_mapping(status, transient):
    error = kube.map_error(_api_exception(status, "the message"), "read",
                           "cluster", "ns", "c1")
    assert error.status == status
    assert error.transient is transient
    assert str(error) == ("cannot read cluster ns/c1: the message "
                          "(HTTP %d)" % status)


def test_a_strict_refusal_names_the_field():
    """A refused patch quotes the object first: the field is kept."""
    message = (' "" is invalid: patch: Invalid value: "{\\"apiVersion\\":'
               + ' \\"x\\"' * 200 + '}": strict decoding error: '
               'unknown field "spec.extra"')
    error = kube.map_error(_api_exception(422, message), "patch", "cluster",
                           "ns", "c1")
    assert str(error) == ('cannot patch cluster ns/c1: strict decoding '
                          'error: unknown field "spec.extra" (HTTP 422)')


def test_connection_errors_are_transient():
    error = kube.map_error(
        urllib3.exceptions.MaxRetryError(None, "/x", "refused"), "list",
        "machines", "ns", None)
    assert error.transient is True and error.status is None
    assert "machines ns" in str(error)
    assert kube.map_error(ValueError("bug"), "read", "x") is None


def test_every_kind_has_an_api_version_option():
    from magnum_capi_rdma import conf

    names = {opt.name for opt in conf.ALL_OPTS}
    for option, plural in kube.KINDS.values():
        assert option in names
        assert plural.islower()
