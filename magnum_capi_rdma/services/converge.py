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
"""The management cluster brought to a cluster's spec, and back to nothing.

Every install follows one shape, each step idempotent so that repeating
an operation after a crash converges: the project namespace (with the
driver's role bound in it), the cluster's operation lock, a check that the
cluster is still wanted, the credentials Secret, the CA Secrets, the
Helm release, then the fields the driver owns on the KubeadmControlPlane.
"""

import contextlib
import hashlib

from magnum.common import exception as magnum_exception
from oslo_config import cfg

from magnum_capi_rdma.adapters import certs as certs_adapter
from magnum_capi_rdma.adapters import helm as helm_adapter
from magnum_capi_rdma.adapters import kube as kube_adapter
from magnum_capi_rdma.adapters import oplock
from magnum_capi_rdma import contract
from magnum_capi_rdma import errors
from magnum_capi_rdma import magnum_objects as mo
from magnum_capi_rdma.services import credentials
from magnum_capi_rdma import spec as spec_mod
from magnum_capi_rdma import values as values_mod

CONF = cfg.CONF

#: Labels of a project namespace: ownership, and Pod Security "baseline"
#: (no privileged pods, no host paths), which etc/rbac's admission policy
#: requires of namespaces the driver makes.
NAMESPACE_LABELS = {contract.OWNER_LABEL: contract.OWNER_VALUE,
                    contract.POD_SECURITY_ENFORCE_LABEL: "baseline"}

CREATE = "CREATE"
UPDATE = "UPDATE"
DELETE = "DELETE"


def role_binding_name(role, user):
    """The RoleBinding of ``role`` to ``user`` in a project namespace.

    Named after the identity too: a binding an earlier identity of the
    driver made (another service account, an admin kubeconfig) must not
    be taken for this one's.
    """
    digest = hashlib.sha256(user.encode("utf-8")).hexdigest()[:10]
    return "%s-%s" % (role[:240], digest)


def prepare_namespace(kube, namespace, create=True):
    """The project namespace, with the driver's role bound in it.

    With ``create`` False an absent (or terminating) namespace is left
    alone and False returned: there is nothing of the cluster's in it
    to act on.
    A namespace made before the driver bound its role gets the binding
    too.
    """
    if create:
        kube.ensure_namespace(namespace, NAMESPACE_LABELS)
    elif not kube.namespace_exists(namespace, terminating=False):
        return False
    role = CONF.capi_rdma.namespace_role
    if role:
        user = kube.username()
        kube.ensure_role_binding(
            namespace, role_binding_name(role, user), role, user,
            labels={contract.OWNER_LABEL: contract.OWNER_VALUE})
    return True


class Converge(object):
    """Installs, upgrades and uninstalls the Helm release of clusters.

    :param runtime: the process's :class:`.runtime.Runtime`.
    :param keystone_factory: ``context -> Keystone adapter``.
    """

    def __init__(self, runtime, keystone_factory):
        self._runtime = runtime
        self._keystone_factory = keystone_factory

    @property
    def kube(self):
        return self._runtime.kube

    @property
    def credentials(self):
        return credentials.Credentials(self.kube, self._keystone_factory)

    # -- operations --

    def create(self, context, cluster, spec, timeout_minutes):
        cluster.status_reason = "Installing the cluster's Helm release"
        if spec.ignored_labels:
            # [capi_rdma] unknown_labels = warn: accepted, and said so.
            cluster.status_reason += "; " + ignored_text(spec)
        self._install(context, cluster, spec, CREATE,
                      timeout_minutes or CONF.capi_rdma.default_create_timeout,
                      what="a create")

    def update(self, context, cluster, spec, what, before_helm=None):
        """An update of any kind: ``what`` names it to concurrent calls."""
        self._install(context, cluster, spec, UPDATE,
                      CONF.capi_rdma.update_timeout, what=what,
                      before_helm=before_helm)

    def resume_create(self, context, cluster, spec):
        """Install for a create whose conductor call was interrupted.

        Keeps the create's operation record (its start and timeout), and
        only while the row is still in CREATE_IN_PROGRESS.
        """
        self._install(context, cluster, spec, CREATE, None,
                      what="a resumed create", record=False,
                      expect_status="%s_IN_PROGRESS" % CREATE)

    def delete(self, cluster):
        """Uninstall the release (waiting for a call still running)."""
        release = mo.release_for(cluster)
        namespace = mo.namespace_for(cluster.project_id)
        try:
            present = prepare_namespace(self.kube, namespace, create=False)
        except kube_adapter.KubeError as exc:
            raise errors.ClusterOperationFailed(reason=str(exc))
        if not present:
            # No project namespace: nothing was ever set up for it.
            return
        # A create or update still in its driver call (even one that has
        # not written its credentials yet) finishes first.
        with self.locked(cluster, "a delete", DELETE,
                         CONF.capi_rdma.delete_timeout,
                         wait=CONF.capi_rdma.delete_lock_wait,
                         release=release):
            try:
                if not self.kube.namespace_exists(namespace):
                    return
                self._runtime.helm.uninstall(release, namespace)
            except (helm_adapter.HelmError, kube_adapter.KubeError) as exc:
                raise errors.ClusterOperationFailed(reason=str(exc))
            finally:
                self._runtime.observer.invalidate(namespace, release)

    def rotate_credentials(self, context, cluster):
        release = mo.release_for(cluster)
        namespace = mo.namespace_for(cluster.project_id)
        with self.locked(cluster, "a credential rotation", release=release):
            try:
                self.credentials.ensure(context, cluster, release, namespace,
                                        rotate=True)
            except kube_adapter.KubeError as exc:
                raise errors.ClusterOperationFailed(reason=str(exc))

    # -- steps --

    @contextlib.contextmanager
    def locked(self, cluster, what, operation=None, timeout_minutes=None,
               wait=0.0, release=None, helm=False):
        """Hold the cluster's operation lock for one driver call.

        ``what`` names the call in the message another caller gets while
        this one runs; with ``operation`` the operation record (what
        status passes time out) is written too; with ``helm`` the record
        says Helm's outcome is unknown until ``lock.helm_done()``.
        """
        release = release or mo.release_for(cluster)
        namespace = mo.namespace_for(cluster.project_id)
        lock = oplock.OperationLock(
            self.kube, namespace, release,
            mo.ownership_labels(cluster), what,
            CONF.capi_rdma.operation_lock_seconds, cluster.name or
            cluster.uuid, operation=operation,
            timeout_minutes=timeout_minutes, wait=wait, helm=helm)
        try:
            lock.acquire()
        except oplock.Busy as exc:
            raise errors.ClusterBusy(reason=str(exc))
        except kube_adapter.KubeError as exc:
            raise errors.ClusterOperationFailed(reason=str(exc))
        # The operation record changed: status reads it back before it
        # times the operation.
        self._runtime.observer.invalidate(namespace, release)
        with lock.renewing():
            yield lock

    def _install(self, context, cluster, spec, operation, timeout_minutes,
                 before_helm=None, what=None, record=True,
                 expect_status=None):
        """Bring the management cluster to the state the spec describes.

        Runs under the cluster's operation lock; ``before_helm`` (e.g.
        marking machines to remove) runs under it too. With ``record``
        False the operation record already there is kept (a resumed
        operation keeps its start time and timeout).
        """
        release = mo.release_for(cluster)
        namespace = mo.namespace_for(cluster.project_id)
        if cluster.stack_id != release:
            cluster.stack_id = release
            cluster.save()
        try:
            prepare_namespace(self.kube, namespace)
        except kube_adapter.KubeError as exc:
            raise errors.ClusterOperationFailed(reason=str(exc))
        with self.locked(cluster, what, operation if record else None,
                         timeout_minutes, release=release,
                         helm=True) as lock:
            self._still_wanted(context, cluster, expect_status)
            try:
                if before_helm is not None:
                    before_helm()
                self.credentials.ensure(context, cluster, release,
                                        namespace)
                certs_adapter.write_ca_secrets(
                    self.kube, namespace, release, context, cluster,
                    mo.ownership_labels(cluster))
                values = mo.chart_values(spec, release)
                if lock.lost:
                    raise errors.ClusterOperationFailed(
                        reason="Lost the operation lock of cluster %s (the "
                        "management cluster did not take its renewals); "
                        "not installing" % (cluster.name or cluster.uuid))
                self._runtime.helm.install_or_upgrade(
                    release, namespace, values,
                    spec.chart_version or CONF.capi_rdma.chart_version)
                lock.helm_done()
                apply_control_plane_fields(self.kube, namespace, release,
                                           spec)
            except (helm_adapter.HelmError, kube_adapter.KubeError) as exc:
                raise errors.ClusterOperationFailed(reason=str(exc))
            finally:
                self._runtime.observer.invalidate(namespace, release)
        in_progress = "%s_IN_PROGRESS" % operation
        if operation != CREATE and cluster.status != in_progress:
            # A status pass that ran while Helm worked saw the old, ready
            # objects and may have declared the update complete.
            cluster.status = in_progress
            cluster.save()

    def _still_wanted(self, context, cluster, status=None):
        """Refuse to install for a cluster deleted meanwhile.

        A delete that ran while this call waited for the lock (or before
        it) must not be undone by installing the release again. With
        ``status``, the row must still have that status (a resumed create
        must not revive a create that has since failed).
        """
        try:
            fresh = type(cluster).get_by_uuid(context, cluster.uuid)
        except magnum_exception.ClusterNotFound:
            fresh = None
        if fresh is None or (fresh.status or "").startswith("DELETE"):
            raise errors.ClusterOperationFailed(
                reason="Cluster %s is being deleted; not installing it "
                "again" % (cluster.name or cluster.uuid))
        if status is not None and fresh.status != status:
            raise errors.ClusterBusy(
                reason="Cluster %s is %s now; not resuming its create" % (
                    cluster.name or cluster.uuid, fresh.status))


def apply_control_plane_fields(kube, namespace, release, spec):
    """The KubeadmControlPlane fields the driver owns, applied.

    What the chart has no value for (e.g. the certificate renewal of
    ``features.certificates``), applied with the driver's own field
    manager once the Helm release is installed: the object exists then,
    and Helm's three-way merge of later upgrades keeps fields it did not
    set. Fields the spec no longer has are removed.
    """
    name = contract.CHART_CONTROL_PLANE_NAME % release
    applied = kube.apply_fields(
        "kubeadmcontrolplane", namespace, name,
        {"spec": values_mod.control_plane_fields(spec)},
        contract.FIELD_MANAGER)
    if applied is None:
        raise kube_adapter.KubeError(
            "KubeadmControlPlane %s/%s is missing after the Helm release "
            "was installed; the driver cannot set its certificate "
            "renewal" % (namespace, name))


def ignored_text(spec, limit=20):
    """Which unknown labels the site let through without reading them."""
    names = sorted({name for _, name in spec.ignored_labels})
    shown = ", ".join(spec_mod.show_name(n) for n in names[:limit])
    more = " and %d more" % (len(names) - limit) if len(names) > limit \
        else ""
    return ("ignored labels this driver does not read: %s%s "
            "([capi_rdma] unknown_labels = warn)" % (shown, more))
