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
"""An upgrade: is it allowed, and how Magnum's rows change.

The rows are changed in memory, the release converged, and only then are
they saved: a failed upgrade leaves Magnum's records as they were, so it
can be retried.
"""

import dataclasses

from magnum.common import exception as magnum_exception
from oslo_config import cfg

from magnum_capi_rdma import errors
from magnum_capi_rdma import magnum_objects as mo
from magnum_capi_rdma import values
from magnum_capi_rdma import versions

CONF = cfg.CONF


@dataclasses.dataclass
class Upgrade:
    """The spec to converge to, and the rows to save once it is."""

    spec: object
    cluster: object
    rows: list

    def save(self):
        for ng in self.rows:
            ng.save()
        self.cluster.save()


def installed(spec, release):
    """What the driver installs for ``spec``, to see what changes.

    The chart version and values, and the fields it applies itself.
    """
    return (spec.chart_version or CONF.capi_rdma.chart_version,
            mo.chart_values(spec, release),
            values.control_plane_fields(spec))


def _other_changes(cluster, old_template, template, nodegroup, new_spec,
                   scoped):
    """Whether the upgrade changes anything besides the version.

    A node group is upgraded to its cluster's template (Magnum's API
    says so): its machine image may change. A cluster may move to a
    template with another image, chart version or add-on versions: any
    difference in what the driver installs counts.
    """
    if scoped:
        image = mo.field(nodegroup, "image_id") or old_template.image_id
        return image != template.image_id
    try:
        before = mo.build_spec(cluster)
    except errors.InvalidClusterLabels:
        return True     # what runs no longer validates; the new one does
    release = mo.release_for(cluster)
    return installed(before, release) != installed(new_spec, release)


def _problem(cluster, old_template, template, nodegroup, new_spec):
    """Why the upgrade cannot be done, or None."""
    new_version = new_spec.kube_version
    scoped = nodegroup is not None and not nodegroup.is_default
    current = (mo.field(nodegroup, "version") if scoped else None) or (
        cluster.coe_version)
    same = versions.parse(current) is not None and versions.parse(
        current) == versions.parse(new_version)
    problem = versions.upgrade_problem(
        current, new_version, other_changes=same and _other_changes(
            cluster, old_template, template, nodegroup, new_spec, scoped))
    if not problem and scoped and versions.parse(cluster.coe_version) and (
            versions.parse(new_version) >
            versions.parse(cluster.coe_version)):
        problem = ("Upgrading node group %s to v%s, newer than the "
                   "control plane (%s); upgrade the cluster first," % (
                       nodegroup.name, new_version, cluster.coe_version))
    return problem


def prepare(cluster, template, nodegroup):
    """The :class:`Upgrade` of a cluster (or of one non-default group).

    The same Kubernetes version is an upgrade too when something else
    changes: the machine image, the chart version or add-on versions.

    :raises magnum.common.exception.NotSupported: the versions do not
        allow it, or it would change nothing.
    :raises magnum_capi_rdma.errors.InvalidClusterLabels: the new template
        does not make a valid spec.
    """
    old_template = cluster.cluster_template
    new_spec = mo.build_spec(cluster, template=template)
    problem = _problem(cluster, old_template, template, nodegroup,
                       new_spec)
    if problem:
        raise magnum_exception.NotSupported(operation=problem)

    scoped = nodegroup is not None and not nodegroup.is_default
    version = "v" + new_spec.kube_version
    groups = list(cluster.nodegroups)
    targets = [ng for ng in groups
               if not scoped or ng.uuid == nodegroup.uuid]
    for ng in targets:
        # The new version needs the new template's image, whatever
        # image the group ran before.
        ng.version = version
        ng.image_id = template.image_id
        if not ng.is_default and not scoped:
            ng.labels = mo.labels_after_template_change(
                ng.labels, old_template.labels, template.labels)
    if scoped:
        spec = mo.build_spec(cluster, node_groups=groups)
    else:
        cluster.labels = mo.labels_after_template_change(
            cluster.labels, old_template.labels, template.labels)
        cluster.cluster_template_id = template.uuid
        spec = mo.build_spec(cluster, template=template, node_groups=groups)
    return Upgrade(spec=spec, cluster=cluster, rows=targets)
