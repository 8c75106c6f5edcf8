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
"""A conductor killed in the middle of create and delete, then restarted.

The "conductor" is a real OS process: this module run as a script builds
the driver on a copy of the test's Magnum database (a sqlite file) and
calls ``create_cluster`` or ``delete_cluster``; the test SIGKILLs it while
helm runs, either alone (its helm child lives on) or with its process
group (helm dies too, leaving the release pending-install). Keystone is a
file both processes share. Then a fresh driver in the test process (a
restarted conductor) runs the next call or the status passes, and the
cluster must converge with one release, one credentials Secret and one
application credential. Figures go to ``artifacts/reliability/
faults-conductor.json``.

What the killed conductor wrote to Magnum's database (the release name in
``stack_id``) is derived from the cluster's UUID, so the test process
computes the same name; everything else lives on the management cluster
and in Keystone, which both processes share.
"""

import fcntl
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
ARTIFACTS = os.path.join(ROOT, "artifacts", "reliability")
FAULTS = []
LOCK_SECONDS = 10


class FileKeystone(object):
    """The in-memory Keystone's interface, kept in a JSON file.

    Shared by the killed conductor and the test process; a flock makes
    each change atomic.
    """

    def __init__(self, path):
        self.path = path
        self.auth_url = "http://127.0.0.1:5000/v3"
        self.region = "RegionOne"
        self.verify = True

    def _change(self, change):
        with open(self.path, "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.seek(0)
            text = f.read()
            data = (json.loads(text) if text else
                    {"credentials": {}, "created": 0})
            result = change(data)
            f.seek(0)
            f.truncate()
            json.dump(data, f)
            return result

    def create_app_credential(self, cluster_uuid, user_id, project_id,
                              roles=None, expires_at=None):
        cred = {"id": uuid.uuid4().hex, "secret": uuid.uuid4().hex,
                "name": "magnum-capi-rdma-%s" % cluster_uuid,
                "user_id": user_id}

        def add(data):
            data["credentials"].setdefault(cluster_uuid, []).append(cred)
            data["created"] += 1
        self._change(add)
        return cred

    def delete_app_credentials(self, cluster_uuid, user_id, keep=None):
        def remove(data):
            creds = data["credentials"].get(cluster_uuid, [])
            kept = [c for c in creds
                    if c["id"] == keep or c["user_id"] != user_id]
            data["credentials"][cluster_uuid] = kept
            return len(creds) - len(kept)
        return self._change(remove)

    def credentials(self, cluster_uuid):
        return self._change(lambda d: list(
            d["credentials"].get(cluster_uuid, [])))

    def created(self):
        return self._change(lambda d: d["created"])


# -- the conductor process ---------------------------------------------------

def conductor(spec_path):
    """Run one driver call as a conductor would (this module's main)."""
    with open(spec_path) as f:
        spec = json.load(f)
    from magnum.common import config as magnum_config
    from magnum.common import context as magnum_context
    import magnum.conf
    from magnum import objects

    from magnum_capi_rdma import driver as capi_driver

    conf = magnum.conf.CONF
    conf.set_default("connection", "sqlite:///" + spec["database"],
                     group="database")
    magnum_config.parse_args([], default_config_files=[])
    for name, value in spec["capi_rdma"].items():
        conf.set_override(name, value, group="capi_rdma")
    conf.set_override("cert_manager_type", "x509keypair",
                      group="certificates")
    keystone = FileKeystone(spec["keystone"])
    capi_driver.Driver.keystone_factory = staticmethod(
        lambda context: keystone)
    context = magnum_context.RequestContext(
        project_id=spec["project_id"], user_id=spec["user_id"],
        is_admin=False)
    cluster = objects.Cluster.get_by_uuid(context, spec["cluster"])
    driver = capi_driver.Driver()
    print("conductor %d: %s" % (os.getpid(), spec["call"]), flush=True)
    if spec["call"] == "create":
        driver.create_cluster(context, cluster, 30)
    else:
        driver.delete_cluster(context, cluster)
    print("conductor %d: returned" % os.getpid(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(conductor(sys.argv[1]))


# -- the tests --------------------------------------------------------------

from magnum.objects import fields  # noqa: E402
from oslo_db.sqlalchemy import enginefacade  # noqa: E402
import pytest  # noqa: E402

from magnum_capi_rdma import contract  # noqa: E402
from magnum_capi_rdma import driver as capi_driver  # noqa: E402
from magnum_capi_rdma import magnum_objects  # noqa: E402
from magnum_capi_rdma.services import runtime  # noqa: E402
from tests.support import faulty_helm as helm_faults  # noqa: E402
from tests.support import lifecycle  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def _report(summary_line):
    yield
    if not FAULTS:
        return
    survived = sum(1 for f in FAULTS if f["survived"])
    line = ("conductor kill tests: %d faults injected, %d survived (%s)" % (
        len(FAULTS), survived, ", ".join(f["fault"] for f in FAULTS)))
    print("\n" + line)
    summary_line(line)
    os.makedirs(ARTIFACTS, exist_ok=True)
    with open(os.path.join(ARTIFACTS, "faults-conductor.json"), "w") as out:
        json.dump({"injected": len(FAULTS), "survived": survived,
                   "faults": FAULTS}, out, indent=2)


class TestConductorKilled(lifecycle.LifecycleBase):

    @pytest.fixture(autouse=True)
    def _tools(self, tmp_path, helm_bin):
        self.tmp = str(tmp_path)
        self.faulty = helm_faults.FaultyHelm(self.tmp, helm_bin)
        self.keystone = FileKeystone(os.path.join(self.tmp, "keystone"))

    def setUp(self):
        super().setUp()
        self.options = dict(
            kubeconfig_file=self.bed.kubeconfig,
            chart_repo=self.chart,
            helm_executable=self.faulty.path, status_max_staleness=0,
            operation_lock_seconds=LOCK_SECONDS, helm_retries=1)
        self.config(group="capi_rdma", **self.options)
        runtime.reset()
        self.driver = capi_driver.Driver()
        self.driver.keystone_factory = lambda context: self.keystone
        self.kube = runtime.shared().kube
        self.procs = []
        self.addCleanup(self._reap)

    def _reap(self):
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def record(self, fault, survived, **details):
        FAULTS.append(dict(fault=fault, survived=survived, **details))

    # -- helpers --

    def start_conductor(self, cluster, call):
        """The conductor process, in its own process group."""
        database = os.path.join(self.tmp, "magnum-%s.sqlite" % call)
        engine = enginefacade.writer.get_engine()
        raw = engine.raw_connection()
        try:
            target = sqlite3.connect(database)
            raw.driver_connection.backup(target)
            target.close()
        finally:
            raw.close()
        spec = os.path.join(self.tmp, "conductor-%s.json" % call)
        with open(spec, "w") as out:
            json.dump({"database": database, "call": call,
                       "cluster": cluster.uuid,
                       "project_id": self.context.project_id,
                       "user_id": self.context.user_id,
                       "keystone": self.keystone.path,
                       "capi_rdma": self.options}, out)
        log = open(os.path.join(self.tmp, "conductor-%s.log" % call), "w")
        proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), spec], cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=ROOT), stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def kill_when(self, proc, predicate, what, group, timeout=180):
        """SIGKILL the conductor (and its helm if ``group``) once ``what``.

        The bound is generous: on a loaded machine the conductor's start
        (imports) and helm's render of the chart take a minute or more;
        the kill comes as soon as ``what`` holds.
        """
        lifecycle.wait_for(lambda: predicate() or proc.poll() is not None,
                           timeout, 0.1, what=what)
        assert proc.poll() is None, "the conductor ended before %s" % what
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
        proc.wait()
        return proc.returncode

    def records(self, cluster):
        secrets = self.kube.list_secrets(
            self.namespace(cluster),
            "owner=helm,name=%s" % magnum_objects.new_release_name(cluster))
        return {int(r["labels"]["version"]): r["labels"]["status"]
                for r in secrets}

    def assert_no_duplicates(self, cluster):
        records = self.records(cluster)
        assert list(records.values()).count("deployed") == 1, records
        assert not [s for s in records.values()
                    if s.startswith("pending")], records
        names = [s["name"] for s in self.kube.list_secrets(
            self.namespace(cluster), "%s=%s" % (
                contract.CLUSTER_UUID_LABEL, cluster.uuid))]
        assert names.count(magnum_objects.credentials_secret_name(
            magnum_objects.new_release_name(cluster))) == 1, names
        assert len(self.keystone.credentials(cluster.uuid)) == 1
        assert self.keystone.created() == 1
        return records

    def next_call(self, call, timeout=90):
        """The restarted conductor's next call, retried while refused.

        A call is refused as busy while the dead conductor's lock has not
        expired; the refusals are returned.
        """
        refused = []

        def attempt():
            try:
                call()
                return True
            except capi_driver.ClusterBusy as exc:
                refused.append(str(exc))
                return False
        lifecycle.wait_for(attempt, timeout, 1.0, what="the lock to expire")
        return refused

    def delete_and_wait(self, cluster):
        self.driver.delete_cluster(self.context, cluster)
        cluster.status = fields.ClusterStatus.DELETE_IN_PROGRESS
        cluster.save()
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.DELETE_COMPLETE)
        assert self.leftovers(cluster) == {}
        assert self.keystone.credentials(cluster.uuid) == []

    def restart(self):
        """A fresh driver, as a restarted conductor process has."""
        runtime.reset()
        self.driver = capi_driver.Driver()
        self.driver.keystone_factory = lambda context: self.keystone
        self.kube = runtime.shared().kube

    # -- faults --

    def test_killed_during_create_helm_lives_on(self):
        cluster = self.make_cluster(name="kill-create-1")
        # helm starts 3 s after the conductor asked for it.
        self.faulty.set(delay={"upgrade": 3})
        proc = self.start_conductor(cluster, "create")
        self.kill_when(proc, lambda: self.faulty.calls("upgrade"),
                       "helm upgrade --install started", group=False)
        self.restart()
        # The orphaned helm finishes the install; status passes of the
        # restarted conductor see the cluster through.
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.CREATE_COMPLETE)
        records = self.assert_no_duplicates(cluster)
        self.faulty.set()
        self.delete_and_wait(cluster)
        self.record("conductor killed during create (helm lives on)", True,
                    revisions=len(records))

    def objects_made(self, cluster):
        """helm has made the release's Cluster API objects."""
        ns = self.namespace(cluster)
        selector = "capi.stackhpc.com/cluster=%s" % (
            magnum_objects.new_release_name(cluster))
        return all(self.kube.list(kind, ns, selector) for kind in (
            "cluster", "kubeadmcontrolplane", "machinedeployment"))

    def killed_with_its_helm(self, name, after_objects):
        """The conductor and its helm killed inside helm's pending window.

        With ``after_objects`` the kill waits until helm has made the
        Cluster API objects (the simulator then makes them ready while
        the only release record is still pending-install); else it comes
        as soon as revision 1 is pending-install, usually before them.
        """
        cluster = self.make_cluster(name=name)
        release = magnum_objects.new_release_name(cluster)
        # helm hangs inside its pending window, then dies with the
        # conductor (a service restart kills the whole control group).
        self.faulty.set(hang=["upgrade"])
        proc = self.start_conductor(cluster, "create")

        def pending():
            return self.records(cluster).get(1) == "pending-install" and (
                not after_objects or self.objects_made(cluster))
        self.kill_when(proc, pending, "revision 1 pending-install%s" % (
            " and the Cluster API objects made" if after_objects else ""),
            group=True)
        assert self.records(cluster) == {1: "pending-install"}
        self.faulty.set()
        self.restart()
        helm = runtime.shared().helm
        helm.stale_after = LOCK_SECONDS + 2
        # Magnum never calls create again: status passes of the restarted
        # conductor resume it once the dead conductor's lock and helm's
        # pending revision are both stale. Until then it stays in progress,
        # even once the simulator has made every object ready: the release
        # is not installed while its only revision is pending.
        cluster = self.sync(cluster)
        assert cluster.status == fields.ClusterStatus.CREATE_IN_PROGRESS
        seen = []

        def complete():
            current = self.sync(cluster)
            records = self.records(cluster)
            seen.append((current.status, records))
            if current.status == fields.ClusterStatus.CREATE_COMPLETE:
                return current
            assert current.status == (
                fields.ClusterStatus.CREATE_IN_PROGRESS), seen[-3:]
            return None
        cluster = lifecycle.wait_for(complete, 300, 0.5,
                                     what="CREATE_COMPLETE")
        # Never complete while a revision was pending.
        assert not [s for s in seen if s[0].endswith("_COMPLETE") and [
            r for r in s[1].values() if r.startswith("pending")]], seen
        records = self.assert_no_duplicates(cluster)
        assert records == {1: "superseded", 2: "deployed"} or records == {
            1: "failed", 2: "deployed"}, records
        assert cluster.stack_id == release
        self.delete_and_wait(cluster)
        return seen

    def test_killed_during_create_with_its_helm(self):
        self.killed_with_its_helm("kill-create-2", after_objects=False)
        self.record("conductor killed with its helm during create (release "
                    "left pending-install; status passes resume it)", True)

    def test_killed_with_its_helm_after_its_objects(self):
        seen = self.killed_with_its_helm("kill-create-3", after_objects=True)
        # The simulator made the objects ready while revision 1 was
        # pending: the status passes waited for Helm, not for them.
        waited = [s for s in seen if s[1] == {1: "pending-install"}]
        self.record("conductor killed with its helm during create after "
                    "helm made the objects (release left pending-install; "
                    "not complete until resumed)", True,
                    passes_while_pending=len(waited))

    def test_killed_during_delete(self):
        cluster = self.make_cluster(name="kill-delete")
        self.driver.create_cluster(self.context, cluster, 30)
        cluster.save()
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.CREATE_COMPLETE)
        cluster.status = fields.ClusterStatus.DELETE_IN_PROGRESS
        cluster.save()
        # helm uninstall starts 3 s after the conductor asked for it, and
        # dies with the conductor.
        self.faulty.set(delay={"uninstall": 3})
        proc = self.start_conductor(cluster, "delete")
        self.kill_when(proc, lambda: self.faulty.calls("uninstall"),
                       "helm uninstall started", group=True)
        self.faulty.set()
        self.restart()
        # Nothing was uninstalled: the release is still deployed and the
        # status pass waits (machines are still there).
        assert list(self.records(cluster).values()).count("deployed") == 1
        cluster = self.sync(cluster)
        assert cluster.status == fields.ClusterStatus.DELETE_IN_PROGRESS
        # Magnum re-sends the delete (the user deletes again): it waits
        # for the dead conductor's lock, then completes.
        began = time.monotonic()
        self.driver.delete_cluster(self.context, cluster)
        waited = time.monotonic() - began
        cluster = self.wait_status(cluster,
                                   fields.ClusterStatus.DELETE_COMPLETE)
        assert self.leftovers(cluster) == {}
        assert self.keystone.credentials(cluster.uuid) == []
        self.record("conductor killed with its helm during delete", True,
                    delete_waited_for_lock=round(waited, 1))
