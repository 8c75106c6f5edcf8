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
"""The operation record and lock decisions (pure)."""

import datetime

import pytest

from magnum_capi_rdma import operations as ops

T0 = datetime.datetime(2026, 11, 23, 10, 0, 0, tzinfo=datetime.timezone.utc)


def lease(holder=None, renewed=T0, duration=60, annotations=None):
    spec = {"leaseDurationSeconds": duration}
    if holder:
        spec["holderIdentity"] = holder
    if renewed is not None:
        spec["renewTime"] = renewed.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"metadata": {"name": "r-operation", "resourceVersion": "7",
                         "annotations": annotations or {}},
            "spec": spec}


def test_an_absent_lease_is_an_empty_record_and_a_free_lock():
    record = ops.from_lease(None)
    assert record == ops.Record()
    assert not ops.held_by_other(record, "me", T0)


@pytest.mark.parametrize("holder,seconds_later,held", [
    ("other", 0, True),
    ("other", 59, True),
    ("other", 60, False),      # expired exactly at renewTime + duration
    ("other", 3600, False),
    ("me", 0, False),          # one's own lock is never "held by other"
    (None, 0, False),
])
def test_held_by_other(holder, seconds_later, held):
    record = ops.from_lease(lease(holder=holder))
    now = T0 + datetime.timedelta(seconds=seconds_later)
    assert ops.held_by_other(record, "me", now) is held


def test_a_holder_without_a_renewal_time_does_not_block_forever():
    record = ops.from_lease(lease(holder="other", renewed=None))
    assert not ops.held_by_other(record, "me", T0)


def test_operation_record_round_trip():
    record = ops.Record(operation="UPDATE", started=T0, timeout_minutes=45)
    annotations = ops.record_annotations(record)
    body = ops.lease_body("ns", "r", {"a": "b"}, annotations, "me",
                          "a resize", 60, T0, resource_version="7")
    parsed = ops.from_lease(body)
    assert (parsed.operation, parsed.started, parsed.timeout_minutes) == (
        "UPDATE", T0, 45)
    assert parsed.holder == "me" and parsed.holder_operation == "a resize"
    assert parsed.renewed == T0 and parsed.duration_seconds == 60
    assert body["metadata"]["name"] == "r-operation"
    assert body["metadata"]["resourceVersion"] == "7"
    assert body["metadata"]["labels"] == {"a": "b"}


def test_a_released_lock_keeps_the_record_and_has_no_holder():
    annotations = ops.record_annotations(ops.Record(
        operation="CREATE", started=T0, timeout_minutes=30))
    body = ops.lease_body("ns", "r", {}, annotations, None, None, 60, T0)
    parsed = ops.from_lease(body)
    assert parsed.holder is None and parsed.operation == "CREATE"
    assert "holderIdentity" not in body["spec"]
    assert ops.HOLDER_OPERATION_KEY not in body["metadata"]["annotations"]


@pytest.mark.parametrize("annotations", [
    {ops.STARTED_KEY: "yesterday", ops.OPERATION_KEY: "CREATE"},
    {ops.STARTED_KEY: "", ops.TIMEOUT_KEY: "30"},
    {ops.TIMEOUT_KEY: "thirty"},
])
def test_a_damaged_record_reads_as_no_record(annotations):
    record = ops.from_lease(lease(annotations=annotations))
    assert record.started is None and record.timeout_minutes is None
    assert ops.record_annotations(record) == {}


def test_a_naive_start_time_is_read_as_utc():
    record = ops.from_lease(lease(annotations={
        ops.OPERATION_KEY: "DELETE", ops.STARTED_KEY: "2026-11-23T10:00:00",
        ops.TIMEOUT_KEY: "60"}))
    assert record.started == T0


def test_busy_message_names_what_runs_and_since_when():
    record = ops.from_lease(lease(holder="other", annotations={
        ops.HOLDER_OPERATION_KEY: "an upgrade"}))
    message = ops.busy_message("k8s-1", record,
                               T0 + datetime.timedelta(seconds=12))
    assert message == ("Cluster k8s-1 is busy: an upgrade is in progress "
                       "on it (still running, last seen 12s ago). Try "
                       "again when it has finished.")
    assert "\n" not in message
