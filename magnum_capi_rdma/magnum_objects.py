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
"""Magnum's objects as the plain description of the core, and names.

The only module that knows Magnum's field names: :func:`describe` turns a
cluster, its template and node group rows into the description dict of
:func:`magnum_capi_rdma.spec.build_spec`. It also names what the driver
makes for a cluster (project namespace, Helm release, credentials Secret).

The way from a description to chart values (:func:`site_spec`,
:func:`chart_values`) is shared with ``magnum-capi-rdma render``, so that
render prints what the driver installs. The command imports this module:
it must not import Magnum (whose exceptions pull in eventlet) at import
time.
"""

import re

from oslo_config import cfg
from oslo_log import log as logging

from magnum_capi_rdma import conf as capi_conf
from magnum_capi_rdma import contract
from magnum_capi_rdma import spec as spec_mod
from magnum_capi_rdma import values as values_mod

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

#: The fields of Magnum's objects a description carries.
TEMPLATE_FIELDS = ("image_id", "keypair_id", "external_network_id",
                   "fixed_network", "fixed_subnet", "dns_nameserver",
                   "master_flavor_id", "flavor_id", "master_lb_enabled",
                   "floating_ip_enabled", "cluster_distro", "server_type",
                   "network_driver", "volume_driver", "docker_volume_size",
                   "http_proxy", "https_proxy", "no_proxy",
                   "insecure_registry")
CLUSTER_FIELDS = ("name", "uuid", "project_id", "master_count",
                  "node_count", "flavor_id", "master_flavor_id", "keypair",
                  "fixed_network", "fixed_subnet", "floating_ip_enabled",
                  "master_lb_enabled", "create_timeout")


# -- names --

def namespace_for(project_id):
    return "%s%s" % (CONF.capi_rdma.namespace_prefix, project_id)


def release_name(name, uuid):
    """A release name unique across projects and stable for the cluster.

    The cluster's name (sanitised, short) keeps it recognisable; the UUID
    prefix makes it unique.
    """
    slug = re.sub(r"[^a-z0-9-]+", "-", (name or "").lower())
    slug = re.sub(r"-+", "-", slug).strip("-")[:20].strip("-")
    if not slug or not slug[0].isalpha():
        slug = "c" + (slug and "-" + slug or "")
        slug = slug[:20].strip("-")
    return "%s-%s" % (slug, uuid.replace("-", "")[:10])


def new_release_name(cluster):
    """The release name of a new cluster.

    It is saved in ``cluster.stack_id`` and never recomputed.
    """
    return release_name(cluster.name, cluster.uuid)


def release_for(cluster):
    return cluster.stack_id or new_release_name(cluster)


def credentials_secret_name(release):
    return "%s-cloud-credentials" % release


def ownership_labels(cluster):
    """The labels of everything the driver makes for a cluster."""
    return {
        contract.OWNER_LABEL: contract.OWNER_VALUE,
        contract.CLUSTER_UUID_LABEL: cluster.uuid,
        contract.PROJECT_LABEL: cluster.project_id,
    }


def group_name(ng):
    """The chart's node group name of a Magnum node group row.

    Magnum names its default groups default-master and default-worker; the
    spec always renders the default worker group under that name, whatever
    the row says.
    """
    if ng.is_default:
        return "default-master" if ng.role == "master" else "default-worker"
    return ng.name


# -- Magnum objects as plain data --

def field(obj, name):
    """An object's field; None when unset."""
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
    stored_labels = dict(field(cluster, "labels") or {})
    cluster_labels = dict(stored_labels)
    if template is not current and template.uuid != current.uuid:
        cluster_labels = labels_after_template_change(
            cluster_labels, current.labels, template.labels)
    desc = {
        "cluster_template": {f: field(template, f)
                             for f in TEMPLATE_FIELDS},
        "cluster": {f: field(cluster, f) for f in CLUSTER_FIELDS},
        "node_groups": [],
    }
    desc["cluster_template"]["labels"] = dict(
        field(template, "labels") or {})
    desc["cluster"]["labels"] = cluster_labels
    _look_up_openstack(desc)
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
        desc["node_groups"].append(
            _describe_group(ng, cluster_labels, stored_labels))
    return desc


def _look_up_openstack(desc):
    """What the description needs from Neutron and Glance.

    The chart wants the external network's UUID (CAPO's OpenStackCluster
    takes only an id), so a name is resolved as magnum-capi-helm does.
    Without ``kube_tag`` anywhere, the Kubernetes version comes from the
    image's ``kube_version`` property. Failures leave the description as
    it is: the spec then says what is missing, in words.
    """
    template = desc["cluster_template"]
    network = template.get("external_network_id")
    if network and not _UUID.match(str(network)):
        template["external_network_id"] = LOOKUP.external_network_id(
            network) or network
    labels = dict(template.get("labels") or {})
    labels.update(desc["cluster"].get("labels") or {})
    if not labels.get("kube_tag") and template.get("image_id") and (
            not capi_conf.site_label_defaults().get("kube_tag")):
        properties = LOOKUP.image_properties(template["image_id"])
        if properties:
            template["image_properties"] = properties


_UUID = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")


class OpenStackLookup(object):
    """Neutron and Glance reads, with Magnum's admin context."""

    def _context(self):
        from magnum.common import context as magnum_context
        return magnum_context.make_admin_context()

    def external_network_id(self, name):
        from magnum.common import neutron
        try:
            return neutron.get_external_network_id(self._context(), name)
        except Exception as exc:
            LOG.warning("External network %r not resolved: %s", name,
                        errors_short(exc))
            return None

    def image_properties(self, image):
        from magnum.common import clients
        try:
            glance = clients.OpenStackClients(self._context()).glance()
            found = get_image(glance, image)
        except Exception as exc:
            LOG.warning("Image %r not read: %s", image, errors_short(exc))
            return None
        version = image_property(found, "kube_version")
        return {"kube_version": version} if version else None


def get_image(glance, image):
    """An image from the Glance client Magnum hands out, whichever it is.

    Magnum up to 22.x gives python-glanceclient (``images.get``); Magnum
    23.x gives openstacksdk's image proxy (``get_image``).
    """
    if hasattr(glance, "get_image"):
        return glance.get_image(image)
    return glance.images.get(image)


def image_property(image, name):
    """A property of an image from either client (None if unset).

    python-glanceclient's image is a mapping of every property;
    openstacksdk's keeps those it has no attribute for (``kube_version``)
    in ``properties``, and its ``get`` does not see them.
    """
    properties = getattr(image, "properties", None)
    if isinstance(properties, dict) and properties.get(name) is not None:
        return properties[name]
    if hasattr(image, "get"):
        value = image.get(name)
        if value is not None:
            return value
    return getattr(image, name, None)


def errors_short(exc, limit=200):
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


#: Replaced in tests and by the render command (no cloud to ask).
LOOKUP = OpenStackLookup()


class NoLookup(object):
    """For descriptions read from a file: nothing is looked up."""

    def external_network_id(self, name):
        return None

    def image_properties(self, image):
        return None


def _describe_group(ng, cluster_labels, stored_labels):
    # Magnum copies the cluster's labels onto a new node group; only the
    # ones that differ are the node group's own choice.
    own = {k: v for k, v in (field(ng, "labels") or {}).items()
           if cluster_labels.get(k) != v and stored_labels.get(k) != v}
    # Magnum's own node_labels / node_taints fields feed the same labels
    # unless the node group's labels already set them.
    if field(ng, "node_labels") and "node_labels" not in own:
        own["node_labels"] = dict(ng.node_labels)
    if field(ng, "node_taints") and "node_taints" not in own:
        # As Magnum stores them (mappings); the taints parser reads them.
        own["node_taints"] = [dict(t) for t in ng.node_taints]
    return {
        "name": ng.name,
        "role": ng.role,
        "flavor_id": field(ng, "flavor_id"),
        "image_id": field(ng, "image_id"),
        "node_count": ng.node_count,
        "min_node_count": field(ng, "min_node_count"),
        "max_node_count": field(ng, "max_node_count"),
        "labels": own,
        "version": field(ng, "version"),
    }


# -- from a description to chart values (the driver and render) --

def site_spec(desc, conf=CONF):
    """The spec of a description with the site's label defaults.

    :raises magnum_capi_rdma.spec.InvalidSpec: naming every problem.
    """
    return spec_mod.build_spec(desc, capi_conf.site_label_defaults(conf),
                               site_options=capi_conf.site_options(conf))


def chart_values(spec, release, secret_name=None):
    """The chart values of a release (what Helm installs)."""
    return values_mod.build_values(
        spec, secret_name or credentials_secret_name(release))


def build_spec(cluster, template=None, node_groups=None, exclude=()):
    """Validate everything; raise InvalidClusterLabels naming each problem."""
    from magnum_capi_rdma import errors  # Magnum's: see the module's doc

    desc = describe(cluster, template, node_groups, exclude)
    try:
        return site_spec(desc)
    except spec_mod.InvalidSpec as exc:
        raise errors.InvalidClusterLabels(
            err=spec_mod.summary(exc.problems))
