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
"""The RDMA self-test's pure parts: pods, reports, verdicts, the state
machine and its record."""

import copy
import datetime
import json
import shutil
import subprocess

import pytest

from magnum_capi_rdma import contract
from magnum_capi_rdma import health
from magnum_capi_rdma import selftest as st
from magnum_capi_rdma import spec as spec_mod
from tests.support import observed as ts

NOW = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)
LABELS = {"kube_tag": "v1.33.1", "rdma_mode": "macvlan",
          "rdma_network": "fabric", "rdma_interface": "ens6",
          "rdma_ip_range": "10.200.0.0/16", "rdma_selftest_enabled": "true"}
DESC = {
    "cluster_template": {
        "image_id": "ubuntu-2404-kube", "keypair_id": "k",
        "external_network_id":
        "9d3b5b6e-3f7c-4c1e-8b1a-5e2f0c6d7a11",
        "master_flavor_id": "m1.medium",
        "flavor_id": "m1.large", "labels": LABELS},
    "cluster": {"name": "c", "master_count": 1, "node_count": 2},
}
RESOURCE = "rdma/rdma_shared_device_a"

BW_HEADER = (" #bytes     #iterations    BW peak[Gb/sec]    "
             "BW average[Gb/sec]   MsgRate[Mpps]")
BW_RESULT = " 1048576    5000             97.54              97.21    " \
    "           0.011590"
LAT_HEADER = (" #bytes #iterations    t_min[usec]    t_max[usec]  "
              "t_typical[usec]    t_avg[usec]    t_stdev[usec]   "
              "99% percentile[usec]   99.9% percentile[usec] ")
LAT_RESULT = (" 2       10000          2.81           9.42         2.93   "
              "            2.95             0.06            3.40      "
              "             9.42   ")


def spec(labels=None, node_count=2, groups=None):
    desc = copy.deepcopy(DESC)
    desc["cluster_template"]["labels"] = dict(LABELS, **(labels or {}))
    desc["cluster"]["node_count"] = node_count
    if groups:
        desc["node_groups"] = groups
    return spec_mod.build_spec(desc, site_options={
        "unknown_labels": "refuse", "ib_sriov_cni_in_image": True})


CFG = st.Settings(image="perftest:1", bandwidth_args=("--report_gbits",),
                  latency_args=("-F",), min_bandwidth_gbps=50,
                  max_latency_us=10, timeout_seconds=300)


def message(role="client", bw=(BW_HEADER, BW_RESULT), lat=(LAT_HEADER,
            LAT_RESULT), bw_exit=0, lat_exit=0, extra=()):
    lines = ["format=" + st.FORMAT, "role=" + role, "device=mlx5_0",
             "bw_exit=%d" % bw_exit]
    if bw:
        lines += ["bw_header=" + bw[0], "bw_result=" + bw[1]]
    if lat_exit is not None:
        lines.append("lat_exit=%d" % lat_exit)
        if lat:
            lines += ["lat_header=" + lat[0], "lat_result=" + lat[1]]
    return "\n".join(lines + list(extra)) + "\n"


# -- the report ------------------------------------------------------------

def test_report_is_read_by_column_names():
    report = st.parse_message(message(extra=["note=simulated"]))
    assert report.ok
    assert report.bandwidth_gbps == 97.21
    assert report.latency_us == 2.93
    assert report.device == "mlx5_0"
    assert report.note == "simulated"


@pytest.mark.parametrize("text,error", [
    ("", "empty"),
    ("role=client\n", "does not start with format"),
    ("format=other/1\nrole=client\n", "does not start with format"),
    (message(extra=["surprise=1"]), "unexpected line"),
    (message(extra=["device=mlx5_1"]), "device given twice"),
    (message(role="observer"), "role is 'observer'"),
    (message().replace("bw_exit=0", "bw_exit=zero"), "not an exit status"),
    (message(bw=(BW_HEADER.replace("[Gb/sec]", "[MB/sec]"), BW_RESULT)),
     "--report_gbits"),
    (message(bw=(BW_HEADER, BW_RESULT + " 7")), "5 columns"),
    (message(bw=(BW_HEADER, BW_RESULT.replace("97.21", "9x"))),
     "not a number"),
    (message(bw=None), "bw exited 0 without a result line"),
    (message(lat=("garbage", LAT_RESULT)), "not a perftest result header"),
    ("format=%s\nrole=client\n%s" % (st.FORMAT, "error=x\n" * 1500),
     "longer than 4096"),
])
def test_bad_reports_are_refused_with_a_reason(text, error):
    with pytest.raises(st.MessageError) as info:
        st.parse_message(text)
    assert error in str(info.value)


def test_failed_test_keeps_its_error_lines():
    report = st.parse_message(message(
        bw=None, bw_exit=1, lat_exit=None,
        extra=["bw_error= Couldn't connect to 10.200.0.5:18515",
               "bw_error= Unable to open file descriptor for socket"]))
    assert not report.ok
    assert report.exits == {"bw": 1}
    assert report.errors == (
        "ib_write_bw: Couldn't connect to 10.200.0.5:18515",
        "ib_write_bw: Unable to open file descriptor for socket")


def test_half_a_report_is_not_ok():
    report = st.parse_message(message(lat_exit=None))
    assert report.bandwidth_gbps == 97.21
    assert not report.ok


# -- the script ------------------------------------------------------------

@pytest.mark.skipif(not shutil.which("sh"), reason="no POSIX shell")
def test_script_writes_what_the_parser_reads(tmp_path):
    """The script, with fake perftest binaries, produces a valid report."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "ib_write_bw").write_text(
        "#!/bin/sh\necho '------'\necho '%s'\necho '%s'\necho '-----'\n"
        % (BW_HEADER, BW_RESULT))
    (bindir / "ib_write_lat").write_text(
        "#!/bin/sh\necho '%s'\necho '%s'\n" % (LAT_HEADER, LAT_RESULT))
    for name in ("ib_write_bw", "ib_write_lat"):
        (bindir / name).chmod(0o755)
    out = tmp_path / "termination-log"
    script = st.SCRIPT.replace("/dev/termination-log", str(out))
    env = {"PATH": "%s:/usr/bin:/bin" % bindir, "SELFTEST_ROLE": "client",
           "SELFTEST_SERVER": "10.0.0.1", "SELFTEST_DEVICE": "mlx5_0",
           "SELFTEST_BW_ARGS": "--report_gbits", "SELFTEST_LAT_ARGS": "",
           "SELFTEST_CONNECT_TRIES": "2"}
    proc = subprocess.run(["sh", "-c", script], env=env, timeout=30)
    assert proc.returncode == 0
    report = st.parse_message(out.read_text())
    assert report.ok and report.bandwidth_gbps == 97.21
    assert report.latency_us == 2.93


@pytest.mark.skipif(not shutil.which("sh"), reason="no POSIX shell")
def test_script_reports_a_failed_connection(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "ib_write_bw").write_text(
        "#!/bin/sh\necho \"Couldn't connect to $*\" >&2\nexit 1\n")
    (bindir / "ib_write_bw").chmod(0o755)
    out = tmp_path / "termination-log"
    script = st.SCRIPT.replace("/dev/termination-log", str(out)).replace(
        "sleep 2", "true")
    env = {"PATH": "%s:/usr/bin:/bin" % bindir, "SELFTEST_ROLE": "client",
           "SELFTEST_SERVER": "10.0.0.1", "SELFTEST_DEVICE": "mlx5_0",
           "SELFTEST_BW_ARGS": "", "SELFTEST_LAT_ARGS": "",
           "SELFTEST_CONNECT_TRIES": "3"}
    proc = subprocess.run(["sh", "-c", script], env=env, timeout=30)
    assert proc.returncode == 1
    report = st.parse_message(out.read_text())
    assert report.exits == {"bw": 1}
    assert report.errors == (
        "ib_write_bw: Couldn't connect to -d mlx5_0 10.0.0.1",)


# -- target, pods ----------------------------------------------------------

def test_pods_ask_for_the_resource_and_the_network_on_their_node():
    tgt = st.target(spec())
    assert tgt.enabled and tgt.resource == RESOURCE
    assert tgt.nodes_expected == 2 and tgt.skip_reason is None
    pod = st.pod_manifest("r1", st.CLIENT, "n-2", tgt, CFG,
                          server_ip="10.200.0.3")
    container = pod["spec"]["containers"][0]
    assert pod["metadata"]["namespace"] == "default"
    assert pod["metadata"]["annotations"] == {
        contract.MULTUS_NETWORKS_ANNOTATION: "default/rdma-net"}
    assert pod["metadata"]["labels"][st.RUN_LABEL] == "r1"
    assert pod["spec"]["nodeSelector"] == {"kubernetes.io/hostname": "n-2"}
    assert container["resources"]["limits"] == {RESOURCE: "1"}
    assert container["terminationMessagePolicy"] == "File"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["SELFTEST_SERVER"] == "10.200.0.3"
    assert env["SELFTEST_BW_ARGS"] == "--report_gbits"
    assert pod["spec"]["activeDeadlineSeconds"] == 360


def test_key_changes_with_rdma_groups_and_requests_only():
    base = st.target(spec(groups=[{"name": "plain", "node_count": 1,
                                   "labels": {"rdma_mode": "none"}}]))
    more_plain = st.target(spec(groups=[{"name": "plain", "node_count": 3,
                                         "labels": {"rdma_mode": "none"}}]))
    assert base.key == more_plain.key
    bigger = st.target(spec(node_count=3, groups=[
        {"name": "plain", "node_count": 1,
         "labels": {"rdma_mode": "none"}}]))
    assert bigger.key != base.key
    upgraded = st.target(spec(labels={"kube_tag": "v1.34.2"}, groups=[
        {"name": "plain", "node_count": 1,
         "labels": {"rdma_mode": "none"}}]))
    assert upgraded.key != base.key
    asked = st.target(spec(groups=[{"name": "plain", "node_count": 1,
                                    "labels": {"rdma_mode": "none"}}]),
                      request=1)
    assert asked.key != base.key


def test_skip_reasons():
    assert "fewer than two RDMA nodes (1 in node group default-worker)" in (
        st.target(spec(node_count=1)).skip_reason)
    ipoib = st.target(spec({"rdma_mode": "ipoib"}))
    assert "no RDMA device" in ipoib.skip_reason


def test_thresholds_come_from_labels_over_options():
    fabric = spec({"rdma_selftest_min_bandwidth_gbps": "180"}).rdma
    cfg = st.settings(fabric, "img", [], [], 10.0, 50.0, 600)
    assert cfg.min_bandwidth_gbps == 180 and cfg.max_latency_us == 50


def test_thresholds_without_the_selftest_are_refused():
    with pytest.raises(spec_mod.InvalidSpec) as info:
        spec({"rdma_selftest_enabled": "false",
              "rdma_selftest_min_bandwidth_gbps": "100"})
    assert "rdma_selftest_min_bandwidth_gbps" in str(info.value)


# -- reading objects ---------------------------------------------------------

def test_network_ip_from_multus_status():
    status = json.dumps([
        {"name": "k8s-pod-network", "ips": ["10.244.0.5"], "default": True},
        {"name": "default/rdma-net", "interface": "net1",
         "ips": ["10.200.0.7"]}])
    notes = {contract.MULTUS_NETWORK_STATUS_ANNOTATION: status}
    assert st.network_ip(notes, "default/rdma-net") == "10.200.0.7"
    assert st.network_ip(notes, "default/other") is None
    assert st.network_ip({contract.MULTUS_NETWORK_STATUS_ANNOTATION: "{"},
                         "default/rdma-net") is None


def pod(name, run, role, phase="Running", node=None, ip=None,
        terminated=None, deleting=False, waiting=None, namespace="default"):
    status = {"phase": phase}
    notes = {}
    if ip:
        notes[contract.MULTUS_NETWORK_STATUS_ANNOTATION] = json.dumps(
            [{"name": "default/rdma-net", "ips": [ip]}])
    if terminated is not None:
        status["containerStatuses"] = [{"name": "perftest", "state": {
            "terminated": terminated}}]
    if waiting is not None:
        status["containerStatuses"] = [{"name": "perftest", "state": {
            "waiting": waiting}}]
    meta = {"name": name, "namespace": namespace, "annotations": notes,
            "labels": {st.RUN_LABEL: run, st.ROLE_LABEL: role}}
    if deleting:
        meta["deletionTimestamp"] = "2026-03-01T12:00:00Z"
    return st.pod_view({"metadata": meta, "spec": {"nodeName": node},
                        "status": status}, "default/rdma-net")


def node(name, group="default-worker", ready=True, rdma=1):
    return st.node_view({
        "metadata": {"name": name, "labels": {
            contract.CHART_NODE_GROUP_LABEL: group}},
        "status": {"allocatable": {RESOURCE: str(rdma)},
                   "conditions": [{"type": "Ready",
                                   "status": "True" if ready else "False"}]}},
        RESOURCE)


NODES = [node("w-1"), node("w-0"), node("cp-0", group=None, rdma=0)]


# -- the state machine -----------------------------------------------------

def decide(record, pods=(), status="CREATE_COMPLETE", tgt=None, nodes=NODES,
           now=NOW):
    tgt = tgt if tgt is not None else st.target(spec())
    return st.decide(record, tgt, status, nodes, list(pods), CFG, now,
                     lambda: "r1")


def started():
    first = decide(st.Record())
    return dataclasses_replace(first.record, exists=True,
                               resource_version="1")


def dataclasses_replace(record, **kw):
    import dataclasses
    return dataclasses.replace(record, **kw)


def test_a_complete_cluster_starts_a_run_with_the_server():
    decision = decide(st.Record())
    assert decision.entry["state"] == st.RUNNING and decision.ok is None
    assert decision.record.run == "r1"
    assert decision.record.run_nodes == ("w-0", "w-1")
    assert [p["metadata"]["name"] for p in decision.create] == [
        "magnum-rdma-selftest-r1-server"]
    assert decision.create[0]["spec"]["nodeSelector"] == {
        "kubernetes.io/hostname": "w-0"}


def test_nothing_starts_before_the_cluster_is_complete():
    decision = decide(st.Record(), status="CREATE_IN_PROGRESS")
    assert decision.record is None and decision.create == []
    assert decision.entry is None


def test_waiting_for_two_advertising_nodes_does_not_touch_health():
    decision = decide(st.Record(), nodes=[node("w-0"), node("w-1", rdma=0)])
    assert decision.entry["state"] == st.WAITING and decision.ok is None
    assert "1 of the 2 RDMA nodes" in decision.entry["reason"]
    assert decision.record is None


def test_client_follows_the_server_address():
    record = started()
    decision = decide(record, [pod("magnum-rdma-selftest-r1-server", "r1",
                                   "server", node="w-0", ip="10.200.0.4")])
    assert decision.record is None
    client = decision.create[0]
    assert client["metadata"]["name"] == "magnum-rdma-selftest-r1-client"
    env = {e["name"]: e["value"]
           for e in client["spec"]["containers"][0]["env"]}
    assert env["SELFTEST_SERVER"] == "10.200.0.4"
    assert client["spec"]["nodeSelector"] == {
        "kubernetes.io/hostname": "w-1"}
    # No address on the RDMA network yet: no client.
    decision = decide(record, [pod("magnum-rdma-selftest-r1-server", "r1",
                                   "server", node="w-0")])
    assert decision.create == []


def finished(text, exit_code=0):
    return [pod("magnum-rdma-selftest-r1-server", "r1", "server",
                node="w-0", ip="10.200.0.4"),
            pod("magnum-rdma-selftest-r1-client", "r1", "client",
                phase="Succeeded" if exit_code == 0 else "Failed",
                node="w-1", terminated={"exitCode": exit_code,
                                        "message": text})]


def test_passed_run_is_recorded_and_its_pods_deleted():
    record = started()
    decision = decide(record, finished(message(extra=["note=simulated"])),
                      now=NOW + datetime.timedelta(seconds=30))
    entry = decision.entry
    assert entry["state"] == st.PASSED and decision.ok is True
    assert entry["bandwidth_gbps"] == 97.21 and entry["latency_us"] == 2.93
    assert entry["nodes"] == ["w-0", "w-1"]
    assert entry["network"] == "default/rdma-net"
    assert entry["note"] == "simulated"
    assert entry["min_bandwidth_gbps"] == 50
    assert decision.record.run is None
    assert decision.record.result == entry
    assert decision.record.result_key == record.run_key
    assert sorted(decision.delete) == [
        ("default", "magnum-rdma-selftest-r1-client"),
        ("default", "magnum-rdma-selftest-r1-server")]
    # The next poll shows the result and starts nothing.
    again = decide(dataclasses_replace(decision.record, exists=True))
    assert again.entry == entry and again.ok is True
    assert again.record is None and again.create == []


def test_below_threshold_names_measured_and_expected():
    slow = BW_RESULT.replace("97.21", "12.50")
    decision = decide(started(), finished(message(bw=(BW_HEADER, slow))))
    assert decision.entry["state"] == st.BELOW_THRESHOLD
    assert decision.ok is False
    reason = decision.entry["reason"]
    assert "bandwidth 12.50 Gbit/s is below the minimum 50 Gbit/s" in reason
    assert "between w-0 (server) and w-1 (client) on default/rdma-net" in (
        reason)


def test_failed_run_says_which_nodes_and_what():
    text = message(bw=None, bw_exit=1, lat_exit=None, extra=[
        "bw_error= Failed to modify QP 1234 to RTR"])
    decision = decide(started(), finished(text, exit_code=1))
    assert decision.entry["state"] == st.FAILED and decision.ok is False
    reason = decision.entry["reason"]
    assert reason.startswith("ib_write_bw failed between w-0 (server) and "
                             "w-1 (client) on default/rdma-net: ib_write_bw:"
                             " Failed to modify QP 1234 to RTR.")
    assert "(client exit status 1)" in reason


def test_unreadable_report_fails_the_run():
    decision = decide(started(), finished("garbage"))
    assert decision.entry["state"] == st.FAILED
    assert "without a readable report" in decision.entry["reason"]
    assert "does not start with format" in decision.entry["reason"]


def test_timeout_says_what_was_pending():
    waiting = pod("magnum-rdma-selftest-r1-server", "r1", "server",
                  phase="Pending", node="w-0",
                  waiting={"reason": "ImagePullBackOff",
                           "message": "Back-off pulling image"})
    decision = decide(started(), [waiting],
                      now=NOW + datetime.timedelta(seconds=301))
    entry = decision.entry
    assert entry["state"] == st.TIMED_OUT and decision.ok is False
    assert entry["reason"].startswith(
        "no result after 300 s between w-0 and w-1 on default/rdma-net: "
        "server pod Pending on w-0 (ImagePullBackOff: Back-off pulling "
        "image); client pod not created.")
    assert decision.delete == [("default", "magnum-rdma-selftest-r1-server")]


def test_server_failing_first_ends_the_run():
    server = pod("magnum-rdma-selftest-r1-server", "r1", "server",
                 phase="Failed", node="w-0", terminated={
                     "exitCode": 3, "message": "format=%s\nrole=server\n"
                     "device=none\nerror=no RDMA device in the pod\n"
                     % st.FORMAT})
    decision = decide(started(), [server])
    assert decision.entry["state"] == st.FAILED
    assert decision.entry["reason"].startswith(
        "the server pod ended first (exit status 3): the test script failed"
        " between w-0 (server) and w-1 (client) on default/rdma-net: no "
        "RDMA device in the pod.")


def test_restarted_conductor_recreates_a_missing_server():
    record = started()
    decision = decide(record, [])
    assert decision.record is None
    assert [p["metadata"]["name"] for p in decision.create] == [
        "magnum-rdma-selftest-r1-server"]
    assert decision.create[0]["spec"]["containers"][0]["image"] == (
        "perftest:1")


def test_pods_of_other_runs_are_deleted():
    record = started()
    decision = decide(record, [
        pod("magnum-rdma-selftest-old-client", "old", "client"),
        pod("magnum-rdma-selftest-r1-server", "r1", "server", node="w-0"),
        pod("magnum-rdma-selftest-old-server", "old", "server",
            deleting=True)])
    assert decision.delete == [("default",
                                "magnum-rdma-selftest-old-client")]


def test_an_update_stops_the_run_and_keeps_the_last_result():
    record = dataclasses_replace(started(), result={"state": "passed"},
                                 result_key="k0")
    decision = decide(record, [pod("magnum-rdma-selftest-r1-server", "r1",
                                   "server")],
                      status="UPDATE_IN_PROGRESS")
    assert decision.record.run is None
    assert decision.record.result == {"state": "passed"}
    assert decision.delete == [("default", "magnum-rdma-selftest-r1-server")]
    assert decision.entry == {"state": "passed"} and decision.ok is True


def test_deleting_stops_everything():
    record = started()
    decision = st.decide(record, None, "DELETE_IN_PROGRESS", [], [
        pod("magnum-rdma-selftest-r1-server", "r1", "server",
            namespace="hpc")], None, NOW, lambda: "x")
    assert decision.record.run is None
    assert decision.delete == [("hpc", "magnum-rdma-selftest-r1-server")]
    assert decision.entry is None


def test_skipped_with_one_rdma_node_is_recorded_once():
    tgt = st.target(spec(node_count=1))
    decision = decide(st.Record(), tgt=tgt)
    assert decision.entry["state"] == st.SKIPPED and decision.ok is True
    assert decision.create == []
    assert decision.record.result_key == tgt.key
    again = decide(dataclasses_replace(decision.record, exists=True),
                   tgt=tgt)
    assert again.record is None and again.entry["state"] == st.SKIPPED


def test_unreadable_workload_shows_the_last_result():
    record = st.Record(result={"state": "failed"}, result_key="k")
    decision = st.decide(record, st.target(spec()), "UPDATE_COMPLETE",
                         None, None, CFG, NOW, lambda: "x")
    assert decision.entry == {"state": "failed"} and decision.ok is False
    assert decision.record is None


# -- the record ------------------------------------------------------------

def test_record_round_trips_through_the_lease():
    record = dataclasses_replace(started(), request=3,
                                 result={"state": "passed"},
                                 result_key="abc", resource_version="7")
    body = st.lease_body("magnum-p", "rel", {"a": "b"}, record, NOW)
    assert body["metadata"]["name"] == "rel-rdma-selftest"
    assert body["spec"]["holderIdentity"] == "rdma-selftest-r1"
    assert body["spec"]["leaseDurationSeconds"] == 300
    back = st.record_from_lease(body)
    assert back.request == 3 and back.run == "r1"
    assert back.run_nodes == ("w-0", "w-1")
    assert back.run_started == NOW
    assert back.run_settings == record.run_settings
    assert back.result == {"state": "passed"} and back.result_key == "abc"
    assert back.exists and back.resource_version == "7"
    assert st.Settings.from_record(back.run_settings) == CFG


def test_empty_record():
    assert st.record_from_lease(None) == st.Record()


# -- health ----------------------------------------------------------------

def test_health_carries_the_entry_as_json():
    entry = {"state": "passed", "bandwidth_gbps": 97.2}
    status, reason = health.evaluate(ts.ready_observed(), ts.R, ts.NGS,
                                     selftest=(entry, True))
    assert status == health.HEALTHY
    assert json.loads(reason["rdma_selftest"]) == entry
    status, reason = health.evaluate(ts.ready_observed(), ts.R, ts.NGS,
                                     selftest=({"state": "failed"}, False))
    assert status == health.UNHEALTHY
    status, reason = health.evaluate(ts.ready_observed(), ts.R, ts.NGS,
                                     selftest=(None, None))
    assert "rdma_selftest" not in reason


def test_render_has_the_pair_and_the_thresholds():
    rendered = st.render(spec(), CFG)
    assert rendered["thresholds"]["min_bandwidth_gbps"] == 50
    assert [p["metadata"]["name"] for p in rendered["pods"]] == [
        "magnum-rdma-selftest-example-server",
        "magnum-rdma-selftest-example-client"]
    assert st.render(spec({"rdma_selftest_enabled": "false"}), CFG) == {}
