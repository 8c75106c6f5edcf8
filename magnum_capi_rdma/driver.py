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
"""The Magnum driver: thin wiring of Magnum objects to the core and adapters.

Every operation follows one shape: describe the Magnum objects as plain data,
build and validate the spec (nothing is created for invalid input), render
chart values, then converge the management cluster (namespace, credentials,
CA secrets, Helm release). Each step is idempotent, so repeating an
operation after a crash converges. ``update_cluster_status`` turns observed
objects into Magnum state with :func:`magnum_capi_rdma.status.reconcile`.
"""

import contextlib
import hashlib
import re
import threading

from magnum.common import context as magnum_context
from magnum.common import exception as magnum_exception
from magnum.common import keystone as magnum_keystone
from magnum.conductor import monitors
from magnum.drivers.common import driver as magnum_driver
from magnum.objects import fields
from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import timeutils

from magnum_capi_rdma.adapters import certs as certs_adapter
from magnum_capi_rdma.adapters import helm as helm_adapter
from magnum_capi_rdma.adapters import keystone as keystone_adapter
from magnum_capi_rdma.adapters import kube as kube_adapter
from magnum_capi_rdma import conf as capi_conf
from magnum_capi_rdma import health
from magnum_capi_rdma import observer as observer_mod
from magnum_capi_rdma import operations
from magnum_capi_rdma import oplock
from magnum_capi_rdma import spec as spec_mod
from magnum_capi_rdma import status as st
from magnum_capi_rdma import values as values_mod
from magnum_capi_rdma import versions
from magnum_capi_rdma import workload

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

OWNER_LABEL = "magnum.openstack.org/managed-by"
OWNER_VALUE = "magnum-capi-rdma"
CLUSTER_UUID_LABEL = "magnum.openstack.org/cluster-uuid"
PROJECT_LABEL = "magnum.openstack.org/project-id"
OWNERS_ANNOTATION = "capi-rdma.magnum.openstack.org/app-credential-owner"
#: Labels of a project namespace: ownership, and Pod Security "baseline"
#: (no privileged pods, no host paths), which etc/rbac's admission policy
#: requires of namespaces the driver makes.
NAMESPACE_LABELS = {OWNER_LABEL: OWNER_VALUE,
                    "pod-security.kubernetes.io/enforce": "baseline"}


def credential_owners(secret_metadata):
    """User ids whose application credentials back the cluster."""
    annotations = (secret_metadata or {}).get("annotations") or {}
    return {u for u in (annotations.get(OWNERS_ANNOTATION) or "").split(",")
            if u}


_SHARED_LOCK = threading.RLock()


class InvalidClusterLabels(magnum_exception.InvalidParameterValue):
    """Raised before anything is created when labels or fields are bad."""

    message = "%(err)s"


class ClusterOperationFailed(magnum_exception.MagnumException):
    message = "%(reason)s"


class ClusterBusy(ClusterOperationFailed):
    """Another driver call holds the cluster's operation lock."""

    code = 409


# -- naming --

def namespace_for(project_id):
    return "%s%s" % (CONF.capi_rdma.namespace_prefix, project_id)


def new_release_name(cluster):
    """A release name unique across projects and stable for the cluster.

    The cluster's name (sanitised, short) keeps it recognisable; the UUID
    prefix makes it unique. It is saved in ``cluster.stack_id`` and never
    recomputed.
    """
    slug = re.sub(r"[^a-z0-9-]+", "-", (cluster.name or "").lower())
    slug = re.sub(r"-+", "-", slug).strip("-")[:20].strip("-")
    if not slug or not slug[0].isalpha():
        slug = "c" + (slug and "-" + slug or "")
        slug = slug[:20].strip("-")
    return "%s-%s" % (slug, cluster.uuid.replace("-", "")[:10])


def release_for(cluster):
    return cluster.stack_id or new_release_name(cluster)


def credentials_secret_name(release):
    return "%s-cloud-credentials" % release


def role_binding_name(role, user):
    """The RoleBinding of ``role`` to ``user`` in a project namespace.

    Named after the identity too: a binding an earlier identity of the
    driver made (another service account, an admin kubeconfig) must not
    be taken for this one's.
    """
    digest = hashlib.sha256(user.encode("utf-8")).hexdigest()[:10]
    return "%s-%s" % (role[:240], digest)


# -- Magnum objects as plain data --

_TEMPLATE_FIELDS = ("image_id", "keypair_id", "external_network_id",
                    "fixed_network", "fixed_subnet", "dns_nameserver",
                    "master_flavor_id", "flavor_id", "master_lb_enabled",
                    "floating_ip_enabled", "cluster_distro", "server_type",
                    "network_driver", "volume_driver", "docker_volume_size")
_CLUSTER_FIELDS = ("name", "uuid", "project_id", "master_count",
                   "node_count", "flavor_id", "master_flavor_id", "keypair",
                   "fixed_network", "fixed_subnet", "floating_ip_enabled",
                   "master_lb_enabled", "create_timeout")


def _field(obj, name):
    try:
        return getattr(obj, name)
    except Exception:  # unset oslo.versionedobjects field
        return None


def labels_after_template_change(cluster_labels, old_labels, new_labels):
    """The cluster's labels once it moves to another template.

    Magnum copies the template's labels onto the cluster at create; those
    copies follow the new template, the cluster's own choices stay, and the
    Kubernetes version always comes from the new template.
    """
    out = {}
    for key, value in (cluster_labels or {}).items():
        if key == "kube_tag":
            continue
        if (old_labels or {}).get(key) == value:
            if key in (new_labels or {}):
                out[key] = new_labels[key]
            continue
        out[key] = value
    for key, value in (new_labels or {}).items():
        if key not in (cluster_labels or {}) or key == "kube_tag":
            out.setdefault(key, value)
    if "kube_tag" in (new_labels or {}):
        out["kube_tag"] = new_labels["kube_tag"]
    return out


def describe(cluster, template=None, node_groups=None, exclude=()):
    """The description dict of :func:`magnum_capi_rdma.spec.build_spec`."""
    current = cluster.cluster_template
    template = template or current
    node_groups = list(cluster.nodegroups if node_groups is None
                       else node_groups)
    stored_labels = dict(_field(cluster, "labels") or {})
    cluster_labels = dict(stored_labels)
    if template is not current and template.uuid != current.uuid:
        cluster_labels = labels_after_template_change(
            cluster_labels, current.labels, template.labels)
    desc = {
        "cluster_template": {f: _field(template, f)
                             for f in _TEMPLATE_FIELDS},
        "cluster": {f: _field(cluster, f) for f in _CLUSTER_FIELDS},
        "node_groups": [],
    }
    desc["cluster_template"]["labels"] = dict(
        _field(template, "labels") or {})
    desc["cluster"]["labels"] = cluster_labels
    for ng in node_groups:
        if ng.uuid in exclude or ng.name in exclude:
            continue
        if (ng.status or "").startswith("DELETE"):
            # Being deleted: another operation must not bring it back.
            continue
        if ng.is_default:
            # The default groups come from the cluster's own fields; their
            # counts live on the rows (resize changes the row).
            if ng.role == "master":
                desc["cluster"]["master_count"] = ng.node_count
            else:
                desc["cluster"]["node_count"] = ng.node_count
            continue
        # Magnum copies the cluster's labels onto a new node group; only the
        # ones that differ are the node group's own choice.
        own = {k: v for k, v in (_field(ng, "labels") or {}).items()
               if cluster_labels.get(k) != v and stored_labels.get(k) != v}
        # Magnum's own node_labels / node_taints fields feed the same labels
        # unless the node group's labels already set them.
        if _field(ng, "node_labels") and "node_labels" not in own:
            own["node_labels"] = dict(ng.node_labels)
        if _field(ng, "node_taints") and "node_taints" not in own:
            own["node_taints"] = ",".join(
                "%s=%s:%s" % (t.get("key") or "", t.get("value") or "",
                              t.get("effect") or "NoSchedule")
                for t in ng.node_taints)
        desc["node_groups"].append({
            "name": ng.name,
            "role": ng.role,
            "flavor_id": _field(ng, "flavor_id"),
            "image_id": _field(ng, "image_id"),
            "node_count": ng.node_count,
            "min_node_count": _field(ng, "min_node_count"),
            "max_node_count": _field(ng, "max_node_count"),
            "labels": own,
            "version": _field(ng, "version"),
        })
    return desc


def group_name(ng):
    """The chart's node group name of a Magnum node group row.

    Magnum names its default groups default-master and default-worker; the
    spec always renders the default worker group under that name, whatever
    the row says.
    """
    if ng.is_default:
        return "default-master" if ng.role == "master" else "default-worker"
    return ng.name


def build_spec(cluster, template=None, node_groups=None, exclude=()):
    """Validate everything; raise InvalidClusterLabels naming each problem."""
    desc = describe(cluster, template, node_groups, exclude)
    try:
        return spec_mod.build_spec(desc, capi_conf.site_label_defaults())
    except spec_mod.InvalidSpec as exc:
        raise InvalidClusterLabels(
            err="Invalid cluster configuration: " +
            "; ".join(str(p) for p in exc.problems))


def default_keystone(context):
    """The Keystone adapter for a request context (user and admin)."""
    admin_ctx = magnum_context.make_admin_context()
    admin_session = magnum_keystone.KeystoneClientV3(admin_ctx).session
    if context is None or context.is_admin and not context.auth_token:
        return keystone_adapter.Keystone(admin_session, admin_session)
    user_session = magnum_keystone.KeystoneClientV3(context).session
    return keystone_adapter.Keystone(user_session, admin_session)


# -- the driver --

class Driver(magnum_driver.Driver):
    """Kubernetes on OpenStack through Cluster API, with RDMA."""

    _shared = {}
    keystone_factory = staticmethod(default_keystone)

    @property
    def provides(self):
        return [
            {"server_type": "vm", "os": "ubuntu", "coe": "kubernetes"},
            {"server_type": "vm", "os": "flatcar", "coe": "kubernetes"},
            {"server_type": "bm", "os": "ubuntu", "coe": "kubernetes"},
        ]

    # Adapters are shared by every Driver instance of the process: Magnum
    # makes a new driver object per call, while a Helm loop thread, a
    # Kubernetes client and the status snapshot are process-wide.
    def _shared_adapter(self, key, factory):
        with _SHARED_LOCK:
            if key not in self._shared:
                self._shared[key] = factory()
            return self._shared[key]

    @property
    def _kube(self):
        return self._shared_adapter(
            "kube", lambda: kube_adapter.Kube.from_config(CONF))

    @property
    def _helm(self):
        return self._shared_adapter(
            "helm", lambda: helm_adapter.Helm.from_config(CONF))

    @property
    def _observer(self):
        kube = self._kube
        return self._shared_adapter(
            "observer", lambda: observer_mod.Observer(
                kube, max_age=CONF.capi_rdma.status_max_staleness))

    @classmethod
    def reset_shared(cls):
        """Forget process-wide adapters (tests; config changes)."""
        cls._shared = {}

    # -- helpers --

    def _labels(self, cluster):
        return {
            OWNER_LABEL: OWNER_VALUE,
            CLUSTER_UUID_LABEL: cluster.uuid,
            PROJECT_LABEL: cluster.project_id,
        }

    def _ensure_credentials(self, context, cluster, release, namespace,
                            rotate=False):
        """The clouds.yaml + CA Secret backed by a restricted app cred."""
        name = credentials_secret_name(release)
        existing = self._kube.get_secret_metadata(namespace, name)
        if existing and not rotate:
            return
        keystone = self.keystone_factory(context)
        cred = keystone.create_app_credential(
            cluster.uuid, context.user_id, cluster.project_id,
            roles=CONF.capi_rdma.app_credential_roles or None)
        clouds = keystone_adapter.clouds_yaml(
            auth_url=keystone.auth_url,
            region=keystone.region,
            interface=CONF.capi_rdma.endpoint_interface,
            app_cred_id=cred["id"],
            app_cred_secret=cred["secret"],
            project_id=cluster.project_id,
            verify=keystone.verify,
        )
        cacert = ""
        if CONF.capi_rdma.ca_file:
            with open(CONF.capi_rdma.ca_file) as f:
                cacert = f.read()
        previous = credential_owners(existing) | {context.user_id}
        self._kube.apply_secret(
            namespace, name,
            keystone_adapter.cloud_credentials_secret(clouds, cacert),
            labels=self._labels(cluster),
            annotations={OWNERS_ANNOTATION: context.user_id})
        # Whatever an earlier, interrupted attempt or the credential being
        # rotated left behind goes now that the new one is in place, also
        # when another user of the project made it.
        for owner in sorted(previous):
            keystone.delete_app_credentials(cluster.uuid, owner,
                                            keep=cred["id"])

    def _prepare_namespace(self, namespace, create=True):
        """The project namespace, with the driver's role bound in it.

        With ``create`` False an absent (or terminating) namespace is left
        alone and False returned: there is nothing of the cluster's in it
        to act on.
        A namespace made before the driver bound its role gets the binding
        too.
        """
        if create:
            self._kube.ensure_namespace(namespace, NAMESPACE_LABELS)
        elif not self._kube.namespace_exists(namespace, terminating=False):
            return False
        role = CONF.capi_rdma.namespace_role
        if role:
            user = self._kube.username()
            self._kube.ensure_role_binding(
                namespace, role_binding_name(role, user), role, user,
                labels={OWNER_LABEL: OWNER_VALUE})
        return True

    @contextlib.contextmanager
    def _locked(self, cluster, what, operation=None, timeout_minutes=None,
                wait=0.0, release=None):
        """Hold the cluster's operation lock for one driver call.

        ``what`` names the call in the message another caller gets while
        this one runs; with ``operation`` the operation record (what
        status passes time out) is written too.
        """
        release = release or release_for(cluster)
        lock = oplock.OperationLock(
            self._kube, namespace_for(cluster.project_id), release,
            self._labels(cluster), what,
            CONF.capi_rdma.operation_lock_seconds, cluster.name or
            cluster.uuid, operation=operation,
            timeout_minutes=timeout_minutes, wait=wait)
        try:
            lock.acquire()
        except oplock.Busy as exc:
            raise ClusterBusy(reason=str(exc))
        except kube_adapter.KubeError as exc:
            raise ClusterOperationFailed(reason=str(exc))
        with lock.renewing():
            yield lock

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
            raise ClusterOperationFailed(
                reason="Cluster %s is being deleted; not installing it "
                "again" % (cluster.name or cluster.uuid))
        if status is not None and fresh.status != status:
            raise ClusterBusy(
                reason="Cluster %s is %s now; not resuming its create" % (
                    cluster.name or cluster.uuid, fresh.status))

    def _converge(self, context, cluster, spec, operation, timeout_minutes,
                  before_helm=None, what=None, record=True,
                  expect_status=None):
        """Bring the management cluster to the state the spec describes.

        Runs under the cluster's operation lock; ``before_helm`` (e.g.
        marking machines to remove) runs under it too. With ``record``
        False the operation record already there is kept (a resumed
        operation keeps its start time and timeout).
        """
        release = release_for(cluster)
        namespace = namespace_for(cluster.project_id)
        if cluster.stack_id != release:
            cluster.stack_id = release
            cluster.save()
        try:
            self._prepare_namespace(namespace)
        except kube_adapter.KubeError as exc:
            raise ClusterOperationFailed(reason=str(exc))
        with self._locked(cluster, what, operation if record else None,
                          timeout_minutes, release=release) as lock:
            self._still_wanted(context, cluster, expect_status)
            try:
                if before_helm is not None:
                    before_helm()
                self._ensure_credentials(context, cluster, release,
                                         namespace)
                certs_adapter.write_ca_secrets(self._kube, namespace,
                                               release, context, cluster,
                                               self._labels(cluster))
                values = values_mod.build_values(
                    spec, credentials_secret_name(release))
                if lock.lost:
                    raise ClusterOperationFailed(
                        reason="Lost the operation lock of cluster %s (the "
                        "management cluster did not take its renewals); "
                        "not installing" % (cluster.name or cluster.uuid))
                self._helm.install_or_upgrade(
                    release, namespace, values,
                    spec.chart_version or CONF.capi_rdma.chart_version)
            except (helm_adapter.HelmError, kube_adapter.KubeError) as exc:
                raise ClusterOperationFailed(reason=str(exc))
            finally:
                self._observer.invalidate()
        in_progress = "%s_IN_PROGRESS" % operation
        if operation != "CREATE" and cluster.status != in_progress:
            # A status pass that ran while Helm worked saw the old, ready
            # objects and may have declared the update complete.
            cluster.status = in_progress
            cluster.save()

    # -- lifecycle --

    def create_cluster(self, context, cluster, cluster_create_timeout):
        spec = build_spec(cluster)
        timeout = (cluster_create_timeout or
                   CONF.capi_rdma.default_create_timeout)
        cluster.status_reason = "Installing the cluster's Helm release"
        self._converge(context, cluster, spec, "CREATE", timeout,
                       what="a create")

    def update_cluster(self, context, cluster, scale_manager=None,
                       rollback=False):
        spec = build_spec(cluster)
        self._converge(context, cluster, spec, "UPDATE",
                       CONF.capi_rdma.update_timeout,
                       what="an update")

    def resize_cluster(self, context, cluster, resize_manager, node_count,
                       nodes_to_remove, nodegroup=None):
        spec = build_spec(cluster)
        if nodegroup is not None and nodegroup.role != "master":
            group = spec.node_group(group_name(nodegroup))
            if group.autoscale:
                raise InvalidClusterLabels(
                    err="Node group %s is sized by the cluster autoscaler "
                    "(between %s and %s nodes); change its "
                    "min_node_count/max_node_count instead of resizing it"
                    % (nodegroup.name, group.min_node_count,
                       group.max_node_count))

        def mark():
            if nodes_to_remove:
                self._mark_for_removal(cluster, nodegroup, nodes_to_remove)
        self._converge(context, cluster, spec, "UPDATE",
                       CONF.capi_rdma.update_timeout,
                       before_helm=mark, what="a resize")

    def _mark_for_removal(self, cluster, nodegroup, nodes_to_remove):
        release = release_for(cluster)
        namespace = namespace_for(cluster.project_id)
        machines = self._kube.list(
            "machine", namespace,
            "%s=%s" % (observer_mod.CLUSTER_LABEL, release))
        if nodegroup is not None and nodegroup.role == "master":
            pool = [m for m in machines if st._is_control_plane_machine(m)]
        else:
            group = nodegroup.name if nodegroup is not None else None
            pool = [m for m in machines
                    if not st._is_control_plane_machine(m) and
                    (group is None or st._node_group_of(m) == group)]
        chosen, missing = select_machines(pool, nodes_to_remove)
        if missing:
            raise InvalidClusterLabels(
                err="nodes_to_remove: %s not found in node group %s "
                "(give server UUIDs or node names)" % (
                    ", ".join(sorted(missing)),
                    nodegroup.name if nodegroup is not None else "?"))
        for machine in chosen:
            self._kube.annotate(
                "machine", namespace, machine["metadata"]["name"],
                {"cluster.x-k8s.io/delete-machine": "yes"})

    def upgrade_cluster(self, context, cluster, cluster_template,
                        max_batch_size, nodegroup, scale_manager=None,
                        rollback=False):
        old_template = cluster.cluster_template
        new_spec = build_spec(cluster, template=cluster_template)
        ng_scoped = nodegroup is not None and not nodegroup.is_default
        current = (_field(nodegroup, "version") if ng_scoped else None) \
            or cluster.coe_version
        new_image = cluster_template.image_id
        problem = versions.upgrade_problem(current, new_spec.kube_version)
        if problem and versions.parse(current) == versions.parse(
                new_spec.kube_version) and new_image != old_template.image_id:
            problem = None  # same Kubernetes, new machine image
        if not problem and ng_scoped and versions.parse(
                cluster.coe_version) and (
                versions.parse(new_spec.kube_version) >
                versions.parse(cluster.coe_version)):
            problem = ("Upgrading node group %s to v%s, newer than the "
                       "control plane (%s); upgrade the cluster first," % (
                           nodegroup.name, new_spec.kube_version,
                           cluster.coe_version))
        if problem:
            raise magnum_exception.NotSupported(operation=problem)

        # Change the rows in memory, converge, and only then save them: a
        # failed upgrade leaves Magnum's records as they were, so it can be
        # retried.
        version = "v" + new_spec.kube_version
        groups = list(cluster.nodegroups)
        targets = [ng for ng in groups
                   if not ng_scoped or ng.uuid == nodegroup.uuid]
        for ng in targets:
            # The new version needs the new template's image, whatever
            # image the group ran before.
            ng.version = version
            ng.image_id = new_image
            if not ng.is_default and not ng_scoped:
                ng.labels = labels_after_template_change(
                    ng.labels, old_template.labels, cluster_template.labels)
        if ng_scoped:
            spec = build_spec(cluster, node_groups=groups)
        else:
            cluster.labels = labels_after_template_change(
                cluster.labels, old_template.labels, cluster_template.labels)
            cluster.cluster_template_id = cluster_template.uuid
            spec = build_spec(cluster, template=cluster_template,
                              node_groups=groups)
        self._converge(context, cluster, spec, "UPDATE",
                       CONF.capi_rdma.update_timeout,
                       what="an upgrade")
        for ng in targets:
            ng.save()
        cluster.save()

    def create_nodegroup(self, context, cluster, nodegroup):
        spec = build_spec(cluster)
        self._converge(context, cluster, spec, "UPDATE",
                       CONF.capi_rdma.update_timeout,
                       what="the creation of node group %s" % nodegroup.name)

    def update_nodegroup(self, context, cluster, nodegroup):
        # Magnum saves the updated row only after the driver returns: use
        # the object it handed over, not the database's copy.
        groups = [nodegroup if ng.uuid == nodegroup.uuid else ng
                  for ng in cluster.nodegroups]
        spec = build_spec(cluster, node_groups=groups)
        self._converge(context, cluster, spec, "UPDATE",
                       CONF.capi_rdma.update_timeout,
                       what="an update of node group %s" % nodegroup.name)

    def delete_nodegroup(self, context, cluster, nodegroup):
        spec = build_spec(cluster, exclude=(nodegroup.uuid,))
        nodegroup.status = fields.ClusterStatus.DELETE_IN_PROGRESS
        nodegroup.save()
        self._converge(context, cluster, spec, "UPDATE",
                       CONF.capi_rdma.update_timeout,
                       what="the deletion of node group %s" % nodegroup.name)

    def delete_cluster(self, context, cluster):
        release = release_for(cluster)
        namespace = namespace_for(cluster.project_id)
        try:
            present = self._prepare_namespace(namespace, create=False)
        except kube_adapter.KubeError as exc:
            raise ClusterOperationFailed(reason=str(exc))
        if not present:
            # No project namespace: nothing was ever set up for it.
            return
        # A create or update still in its driver call (even one that has
        # not written its credentials yet) finishes first.
        with self._locked(cluster, "a delete", "DELETE",
                          CONF.capi_rdma.delete_timeout,
                          wait=CONF.capi_rdma.delete_lock_wait,
                          release=release):
            self._uninstall(release, namespace)

    def _uninstall(self, release, namespace):
        try:
            if not self._kube.namespace_exists(namespace):
                return
            self._helm.uninstall(release, namespace)
        except (helm_adapter.HelmError, kube_adapter.KubeError) as exc:
            raise ClusterOperationFailed(reason=str(exc))
        finally:
            self._observer.invalidate()

    def rotate_credential(self, context, cluster):
        release = release_for(cluster)
        namespace = namespace_for(cluster.project_id)
        with self._locked(cluster, "a credential rotation",
                          release=release):
            try:
                self._ensure_credentials(context, cluster, release,
                                         namespace, rotate=True)
            except kube_adapter.KubeError as exc:
                raise ClusterOperationFailed(reason=str(exc))

    def create_federation(self, context, federation):
        raise NotImplementedError("Federation is not supported")

    def update_federation(self, context, federation):
        raise NotImplementedError("Federation is not supported")

    def delete_federation(self, context, federation):
        raise NotImplementedError("Federation is not supported")

    def validate_master_resize(self, node_count):
        self.validate_master_size(node_count)

    # -- status --

    def update_cluster_status(self, context, cluster, use_admin_ctx=False):
        """Sync Magnum with the management cluster; never raises."""
        try:
            self._update_cluster_status(context, cluster)
        except Exception as exc:  # the periodic task must go on
            LOG.warning("Status of cluster %s not updated: %s",
                        cluster.uuid, exc)
            reason = "Waiting for the management cluster: %s" % (
                _short(exc))
            view = self._last_view(cluster)
            status = cluster.status
            if st.timed_out(view, timeutils.utcnow(True)):
                # An unreachable management cluster must not keep the
                # cluster in progress for ever.
                status = (cluster.status or "").replace(
                    "_IN_PROGRESS", "_FAILED")
                reason = "Timed out after %d minutes. %s" % (
                    view.timeout_minutes, reason)
            if cluster.status_reason == reason and cluster.status == status:
                return
            if self._moved_on(context, cluster, cluster.status):
                return
            cluster.status_reason = reason
            cluster.status = status
            cluster.save()

    @property
    def _operation_records(self):
        """The last operation record seen per cluster (this process)."""
        return self._shared_adapter("operation-records", dict)

    def _last_view(self, cluster):
        """What is known of the operation without the management cluster.

        A create is timed from the row's creation; other operations from
        the record the last successful status pass read, or else from the
        row's last change.
        """
        started, timeout = self._operation_records.get(
            cluster.uuid, (None, None))
        if cluster.status == fields.ClusterStatus.CREATE_IN_PROGRESS and (
                started is None):
            started = cluster.created_at
            timeout = (cluster.create_timeout or
                       CONF.capi_rdma.default_create_timeout)
        elif started is None:
            # No record read in this process (it restarted during the
            # outage): time the operation from the row's last change.
            started = cluster.updated_at
            timeout = (CONF.capi_rdma.delete_timeout
                       if cluster.status ==
                       fields.ClusterStatus.DELETE_IN_PROGRESS
                       else CONF.capi_rdma.update_timeout)
        if not (cluster.status or "").endswith("_IN_PROGRESS"):
            started = None
        return st.MagnumView(release=cluster.stack_id, status=cluster.status,
                             node_groups=(), operation_started=started,
                             timeout_minutes=timeout)

    def _magnum_view(self, cluster, release, namespace, snapshot):
        op_started = None
        timeout = None
        if (cluster.status or "").endswith("_IN_PROGRESS"):
            # The operation record, from the snapshot's one LIST of the
            # driver's Leases (not a GET per cluster).
            record = snapshot.operation(namespace, release)
            if record.started is not None:
                op_started = record.started
                timeout = record.timeout_minutes or 0
        if op_started is None and cluster.status == (
                fields.ClusterStatus.CREATE_IN_PROGRESS):
            op_started = cluster.created_at
            timeout = (cluster.create_timeout or
                       CONF.capi_rdma.default_create_timeout)
        if op_started is not None:
            self._operation_records[cluster.uuid] = (op_started, timeout)
        else:
            self._operation_records.pop(cluster.uuid, None)
        ngs = tuple(
            st.NodeGroupView(name=group_name(ng), role=ng.role,
                             node_count=ng.node_count,
                             status=ng.status or cluster.status,
                             is_default=ng.is_default)
            for ng in cluster.nodegroups)
        return st.MagnumView(release=release, status=cluster.status,
                             node_groups=ngs, operation_started=op_started,
                             timeout_minutes=timeout)

    def _update_cluster_status(self, context, cluster):
        release = release_for(cluster)
        namespace = namespace_for(cluster.project_id)
        snapshot = self._observer.snapshot()
        observed = snapshot.observed(namespace, release)
        view = self._magnum_view(cluster, release, namespace, snapshot)
        now = timeutils.utcnow(True)
        if not st.timed_out(view, now) and self._create_interrupted(
                cluster, observed, snapshot.operation(namespace, release),
                now):
            self._save(cluster, self._resume_create(context, cluster),
                       lambda: self._moved_on(context, cluster, view.status))
            return
        result = st.reconcile(observed, view, timeutils.utcnow(True))
        if result.status == fields.ClusterStatus.DELETE_COMPLETE:
            pending = self._cleanup_after_delete(cluster, release, namespace)
            if pending and st.timed_out(view, timeutils.utcnow(True)):
                result = st.StatusResult(
                    status=fields.ClusterStatus.DELETE_FAILED,
                    reason="Timed out after %d minutes. %s" % (
                        view.timeout_minutes, pending))
            elif pending:
                result = st.StatusResult(
                    status=fields.ClusterStatus.DELETE_IN_PROGRESS,
                    reason=pending)
        self._save(cluster, result,
                   lambda: self._moved_on(context, cluster, view.status))

    def _create_interrupted(self, cluster, observed, record, now):
        """A create whose conductor died before Helm made the cluster.

        The create took the lock (so it got as far as the project
        namespace) and nobody has held the lock for a whole lock period,
        yet objects of the release are missing: the conductor call that
        should have installed it is gone, and Magnum never calls create
        again.
        """
        if cluster.status != fields.ClusterStatus.CREATE_IN_PROGRESS:
            return False
        # One Helm install makes all of these (the chart always renders
        # the default worker group); any missing means it never finished.
        if all((observed.cluster, observed.openstack_cluster,
                observed.control_plane, observed.machine_deployments)):
            return False
        if record.operation != "CREATE" or record.started is None:
            return False
        if operations.held_by_other(record, None, now):
            return False
        last = record.renewed or record.started
        return (now - last).total_seconds() > (
            CONF.capi_rdma.operation_lock_seconds)

    def _resume_create(self, context, cluster):
        """Finish an interrupted create; the status to save."""
        release = release_for(cluster)
        namespace = namespace_for(cluster.project_id)
        in_progress = fields.ClusterStatus.CREATE_IN_PROGRESS
        if not self._kube.get_secret_metadata(
                namespace, credentials_secret_name(release)):
            # Its application credential can only be made with the
            # owner's token, which a status pass does not have.
            return st.StatusResult(
                status=fields.ClusterStatus.CREATE_FAILED,
                reason="The create was interrupted (the conductor stopped) "
                "before the cluster's credentials were made; delete the "
                "cluster and create it again.")
        LOG.warning("Cluster %s: its create was interrupted before Helm "
                    "installed the release; resuming it", cluster.uuid)
        try:
            spec = build_spec(cluster)
            self._converge(context, cluster, spec, "CREATE", None,
                           what="a resumed create", record=False,
                           expect_status=in_progress)
        except InvalidClusterLabels as exc:
            return st.StatusResult(status=fields.ClusterStatus.CREATE_FAILED,
                                   reason=str(exc))
        except ClusterBusy:
            return st.StatusResult(status=in_progress,
                                   reason=cluster.status_reason or "")
        except ClusterOperationFailed as exc:
            return st.StatusResult(
                status=in_progress,
                reason="Resuming the create interrupted by a conductor "
                "restart: %s" % _short(exc))
        return st.StatusResult(
            status=in_progress,
            reason="Resumed the create interrupted by a conductor restart: "
            "the Helm release is installed")

    def _moved_on(self, context, cluster, status):
        """The row's status changed since this pass loaded the cluster.

        Magnum's periodic task works on a copy loaded before the pass; if a
        conductor operation meanwhile failed the cluster (e.g. its labels
        were refused) or started another operation, saving this pass's
        result would overwrite what that operation wrote.
        """
        try:
            fresh = type(cluster).get_by_uuid(context, cluster.uuid)
        except magnum_exception.ClusterNotFound:
            return True
        if fresh.status != status:
            LOG.debug("Cluster %s moved from %s to %s during the status "
                      "pass; not saving it", cluster.uuid, status,
                      fresh.status)
            return True
        return False

    def _cleanup_after_delete(self, cluster, release, namespace):
        """Remove what outlives the release; return what is still pending."""
        owners = {cluster.user_id}
        present = self._prepare_namespace(namespace, create=False)
        try:
            if present:
                owners |= credential_owners(self._kube.get_secret_metadata(
                    namespace, credentials_secret_name(release)))
            keystone = self.keystone_factory(None)
            for owner in sorted(owners):
                keystone.delete_app_credentials(cluster.uuid, owner)
        except Exception as exc:
            return ("Cluster deleted; waiting for Keystone to remove the "
                    "application credential: %s" % _short(exc))
        if not present:
            return None
        selector = "%s=%s" % (CLUSTER_UUID_LABEL, cluster.uuid)
        self._kube.delete_secrets(namespace, selector)
        self._kube.delete_leases(namespace, selector)
        self._kube.delete_namespace_if_empty(namespace)
        return None

    def _save(self, cluster, result, moved_on=None):
        """Write the result to the cluster and its node group rows.

        Nothing is written when nothing changed, or when ``moved_on()``
        says another operation changed the cluster since this pass loaded
        it. Magnum derives the cluster's master and node addresses from its
        node groups, so addresses are saved on the node groups only.
        """
        cluster_changes = {}
        for attr, value in (("status", result.status),
                            ("status_reason", result.reason),
                            ("api_address", result.api_address),
                            ("coe_version", result.coe_version)):
            if attr in ("api_address", "coe_version") and value is None:
                continue
            if getattr(cluster, attr) != value:
                cluster_changes[attr] = value
        group_changes = []
        for ng in cluster.nodegroups:
            res = result.node_groups.get(group_name(ng))
            if res is None:
                continue
            if res.delete_row:
                group_changes.append((ng, None))
                continue
            changes = {attr: value for attr, value in (
                ("status", res.status), ("status_reason", res.reason),
                ("node_count", res.node_count),
                ("node_addresses", list(res.addresses)))
                if getattr(ng, attr) != value}
            if changes:
                group_changes.append((ng, changes))
        if not cluster_changes and not group_changes:
            return
        if moved_on is not None and moved_on():
            return
        for ng, changes in group_changes:
            if changes is None:
                ng.destroy()
                continue
            for attr, value in changes.items():
                setattr(ng, attr, value)
            ng.save()
        if cluster_changes:
            for attr, value in cluster_changes.items():
                setattr(cluster, attr, value)
            cluster.save()

    # -- health --

    def get_monitor(self, context, cluster):
        return Monitor(context, cluster, self)


class Monitor(monitors.MonitorBase):
    """Health of a cluster from its Cluster API objects and RDMA stack."""

    def __init__(self, context, cluster, driver):
        super().__init__(context, cluster)
        self._driver = driver
        self.data = {}

    @property
    def metrics_spec(self):
        return {}

    def pull_data(self):
        pass

    def poll_health_status(self):
        cluster = self.cluster
        try:
            release = release_for(cluster)
            namespace = namespace_for(cluster.project_id)
            observed = self._driver._observer.observed(namespace, release)
            ngs = tuple(st.NodeGroupView(name=group_name(ng), role=ng.role,
                                         node_count=ng.node_count,
                                         status=ng.status or "")
                        for ng in cluster.nodegroups)
            rdma = None
            try:
                spec = build_spec(cluster)
            except InvalidClusterLabels:
                spec = None
            if spec is not None and spec.rdma_node_groups:
                rdma = workload.rdma_observation(
                    self._driver._kube, namespace, release, spec,
                    expected_nodes=sum(
                        ng.node_count for ng in cluster.nodegroups
                        if group_name(ng) in spec.rdma_node_group_names))
            status, reason = health.evaluate(observed, release, ngs, rdma)
            self._sync_node_counts(observed, release, ngs)
        except Exception as exc:
            status, reason = health.UNKNOWN, {
                "management cluster": "unreachable: %s" % _short(exc)}
        self.data["health_status"] = status
        self.data["health_status_reason"] = reason

    def _sync_node_counts(self, observed, release, ngs):
        """Node counts the cluster autoscaler chose flow back to Magnum.

        Status sync only runs for clusters in progress; the health poll
        runs for every cluster, so it carries the autoscaler's changes.
        """
        if not (self.cluster.status or "").endswith("_COMPLETE"):
            return
        view = st.MagnumView(release=release, status=self.cluster.status,
                             node_groups=ngs)
        counts = st.reconcile(observed, view, None).node_groups
        for ng in self.cluster.nodegroups:
            result = counts.get(group_name(ng))
            if (ng.role != "master" and result is not None and
                    result.node_count != ng.node_count):
                LOG.info("Node group %s of cluster %s: %d nodes (was %d)",
                         ng.name, self.cluster.uuid, result.node_count,
                         ng.node_count)
                ng.node_count = result.node_count
                ng.save()


def select_machines(machines, nodes_to_remove):
    """Machines matching server UUIDs or node/machine names; and misses."""
    chosen = []
    missing = []
    for wanted in nodes_to_remove:
        match = None
        for machine in machines:
            provider = (machine.get("spec") or {}).get("providerID") or ""
            node = ((machine.get("status") or {}).get("nodeRef") or {}).get(
                "name")
            if wanted in (provider.rsplit("/", 1)[-1], node,
                          machine["metadata"]["name"]):
                match = machine
                break
        if match is None:
            missing.append(wanted)
        elif match not in chosen:
            chosen.append(match)
    return chosen, missing


def _short(exc, limit=300):
    text = str(exc).strip().splitlines()
    text = text[0] if text else exc.__class__.__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."
