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
"""Storage: the etcd block device, root volumes, the containerd volume, the
Cinder and Manila CSI add-ons and the Cinder storage class.

A setting that only applies to something switched off (a volume type
without a volume, a storage class option without the Cinder CSI...) is
refused when a template or cluster sets it, so nothing is silently
ignored; a site default of it is left alone.
"""

import dataclasses

from magnum_capi_rdma import labels

DOC_ORDER = 3
_ST = dict(category="storage")
_ST_NG = dict(_ST, scopes=labels.ALL_SCOPES)
_TAG = dict(_ST, pattern=labels.IMAGE_TAG, pattern_help="an image tag")
_UUID = (r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}"
         r"-?[0-9a-fA-F]{12}$")

#: The additional block device of the containerd volume, its file system
#: label and where it is mounted (as magnum-cluster-api does).
CONTAINERD_DEVICE = "containerd"
CONTAINERD_FS_LABEL = "containerd_disk"
CONTAINERD_DIR = "/var/lib/containerd"
#: Magnum's bounds of docker_volume_size (GiB).
MAX_DOCKER_VOLUME = 10000

#: Cinder CSI sidecar labels (Magnum's Heat driver names) -> key of the
#: openstack-cinder-csi chart under ``csi``.
CSI_SIDECARS = (
    ("csi_attacher_tag", "attacher"),
    ("csi_provisioner_tag", "provisioner"),
    ("csi_snapshotter_tag", "snapshotter"),
    ("csi_resizer_tag", "resizer"),
    ("csi_node_driver_registrar_tag", "nodeDriverRegistrar"),
    ("csi_liveness_probe_tag", "livenessprobe"),
)

LABELS = (
    labels.label(
        "etcd_blockdevice_size", "integer", 0,
        "Size in GiB of a dedicated etcd block device on control plane "
        "nodes; 0 keeps etcd on the root disk.", minimum=0, maximum=10000,
        deprecated_names=("etcd_volume_size",), **_ST),
    labels.label(
        "etcd_blockdevice_type", "choice", "Volume",
        "Whether the etcd block device is a Cinder volume or local "
        "(ephemeral) disk of the flavor.", choices=("Volume", "Local"),
        **_ST),
    labels.label(
        "etcd_blockdevice_volume_type", "string", None,
        "Cinder volume type of the etcd volume.",
        deprecated_names=("etcd_volume_type",),
        pattern=labels.NEUTRON_NAME, pattern_help="a volume type name",
        **_ST),
    labels.label(
        "etcd_blockdevice_volume_az", "string", None,
        "Availability zone of the etcd volume.",
        pattern=labels.NEUTRON_NAME, pattern_help="a zone name", **_ST),
    labels.label(
        "boot_volume_size", "integer", 0,
        "Size in GiB of a Cinder root volume per node; 0 boots from the "
        "flavor's disk. magnum-capi-helm's fallback, Magnum's [cinder] "
        "default_boot_volume_size, is the site default of this label "
        "here.", minimum=0, maximum=100000, **_ST_NG),
    labels.label(
        "boot_volume_type", "string", None,
        "Cinder volume type of root volumes (needs boot_volume_size).",
        pattern=labels.NEUTRON_NAME, pattern_help="a volume type name",
        **_ST_NG),
    labels.label(
        "boot_volume_availability_zone", "string", None,
        "Cinder availability zone of root volumes (needs boot_volume_size). "
        "Unset: the node's availability zone.",
        pattern=labels.NEUTRON_NAME, pattern_help="a zone name", **_ST_NG),
    labels.label(
        "docker_volume_type", "string", None,
        "Cinder volume type of the containerd volume (the template's "
        "docker_volume_size).", pattern=labels.NEUTRON_NAME,
        pattern_help="a volume type name", **_ST),
    labels.label(
        "cinder_csi_enabled", "boolean", True,
        "Install the Cinder CSI plugin and its default storage class.",
        **_ST),
    labels.label(
        "csi_cinder_availability_zone", "string", "nova",
        "Availability zone of volumes of the default storage class.",
        pattern=labels.NEUTRON_NAME, pattern_help="a zone name", **_ST),
    labels.label(
        "csi_cinder_volume_type", "string", None,
        "Cinder volume type of the default storage class.",
        pattern=labels.NEUTRON_NAME, pattern_help="a volume type name",
        **_ST),
    labels.label(
        "csi_cinder_reclaim_policy", "choice", "Retain",
        "Reclaim policy of the default storage class (Retain, as in "
        "magnum-capi-helm: a volume outlives its claim).",
        choices=("Retain", "Delete"), **_ST),
    labels.label(
        "csi_cinder_volume_binding_mode", "choice", "WaitForFirstConsumer",
        "Volume binding mode of the default storage class.",
        choices=("WaitForFirstConsumer", "Immediate"), **_ST),
    labels.label(
        "csi_cinder_fstype", "choice", "ext4",
        "File system of volumes of the default storage class.",
        choices=("ext4", "xfs"), **_ST),
    labels.label(
        "csi_cinder_allow_volume_expansion", "boolean", True,
        "Allow volumes of the default storage class to grow.", **_ST),
    labels.label(
        "cinder_csi_plugin_tag", "string", None,
        "Image tag of the Cinder CSI plugin. Unset: the chart's.", **_TAG),
    labels.label(
        "csi_attacher_tag", "string", None,
        "Image tag of the Cinder CSI plugin's csi-attacher sidecar. Unset: "
        "the chart's.", **_TAG),
    labels.label(
        "csi_provisioner_tag", "string", None,
        "Image tag of the Cinder CSI plugin's csi-provisioner sidecar. "
        "Unset: the chart's.", **_TAG),
    labels.label(
        "csi_snapshotter_tag", "string", None,
        "Image tag of the Cinder CSI plugin's csi-snapshotter sidecar. "
        "Unset: the chart's.", **_TAG),
    labels.label(
        "csi_resizer_tag", "string", None,
        "Image tag of the Cinder CSI plugin's csi-resizer sidecar. Unset: "
        "the chart's.", **_TAG),
    labels.label(
        "csi_node_driver_registrar_tag", "string", None,
        "Image tag of the Cinder CSI plugin's csi-node-driver-registrar "
        "sidecar. Unset: the chart's.", **_TAG),
    labels.label(
        "csi_liveness_probe_tag", "string", None,
        "Image tag of the Cinder CSI plugin's livenessprobe sidecar. Unset: "
        "the chart's.", **_TAG),
    labels.label(
        "manila_csi_enabled", "boolean", False,
        "Install the Manila CSI plugin with a storage class for CephFS "
        "shares (share type cephfs; the chart adds the Ceph CSI CephFS node "
        "plugin they need). Other share protocols are not offered by the "
        "chart.", **_ST),
    labels.label(
        "manila_csi_share_network_id", "string", None,
        "Manila share network (UUID) of shares of the Manila storage "
        "class.", pattern=_UUID, pattern_help="a share network UUID", **_ST),
    labels.label(
        "manila_csi_plugin_tag", "string", None,
        "Image tag of the Manila CSI plugin. Unset: the chart's.", **_TAG),
)


@dataclasses.dataclass(frozen=True)
class RootVolume:
    size: int = 0
    type: str = None
    availability_zone: str = None


@dataclasses.dataclass(frozen=True)
class Etcd:
    size: int
    type: str
    volume_type: str = None
    availability_zone: str = None


@dataclasses.dataclass(frozen=True)
class StorageClass:
    availability_zone: str
    volume_type: str
    reclaim_policy: str
    volume_binding_mode: str
    fstype: str
    allow_volume_expansion: bool


@dataclasses.dataclass(frozen=True)
class ContainerdVolume:
    size: int
    volume_type: str = None


@dataclasses.dataclass(frozen=True)
class Cinder:
    enabled: bool
    plugin_tag: str = None
    #: (chart key, tag) of the sidecars with a tag.
    sidecar_tags: tuple = ()


@dataclasses.dataclass(frozen=True)
class Manila:
    enabled: bool
    share_network: str = None
    plugin_tag: str = None


@dataclasses.dataclass(frozen=True)
class Storage:
    etcd: Etcd
    storage_class: StorageClass
    containerd: ContainerdVolume = None
    cinder: Cinder = Cinder(True)
    manila: Manila = Manila(False)


_DEFAULTS = {label.name: label.default for label in LABELS}
#: Magnum's docker_volume_size field, parsed like an integer label.
_DOCKER_VOLUME_SIZE = labels.Label(
    name="docker_volume_size", kind="integer", default=None, help="",
    scopes=frozenset(), category=_ST["category"], minimum=1,
    maximum=MAX_DOCKER_VOLUME)


def _needs(ctx, names, why, allowed):
    """Refuse each of *names* set to another value than its default.

    Only a template, cluster or node group value is refused (*why*: it
    would do nothing); a site default is left alone.
    """
    for name in names:
        value = ctx.label(name)
        if ctx.source(name) not in ("default", "site") and (
                value != _DEFAULTS[name]):
            ctx.problem(name, value, allowed, why)


def group_part(ctx):
    volume = RootVolume(ctx.label("boot_volume_size"),
                        ctx.label("boot_volume_type"),
                        ctx.label("boot_volume_availability_zone"))
    if not volume.size:
        # A template or cluster value is reported once (with the control
        # plane), a node group's own with its group.
        names = [name for name in ("boot_volume_type",
                                   "boot_volume_availability_zone")
                 if ctx.group.role == "master" or ctx.source(
                     name).startswith("nodegroup:")]
        _needs(ctx, names, "applies to root volumes, and these nodes boot "
               "from the flavor's disk", "unset, or a boot_volume_size "
               "(label or site default)")
    return volume


def _docker_volume(ctx):
    """The containerd volume: Magnum's docker_volume_size field."""
    size = None
    for obj, where in ((ctx.cluster, "cluster"), (ctx.template, "template")):
        raw = obj.get("docker_volume_size")
        if raw is None or raw == "":
            continue
        try:
            size = _DOCKER_VOLUME_SIZE.parse(raw)
        except labels.LabelValueError:
            ctx.problem("docker_volume_size", raw, "an integer from 1 to "
                        "%d (GiB)" % MAX_DOCKER_VOLUME, "", where=where)
            return None
        break
    if not size:
        _needs(ctx, ("docker_volume_type",), "applies to the containerd "
               "volume, and the template sets no docker_volume_size",
               "unset, or a docker_volume_size on the template or cluster")
        return None
    return ContainerdVolume(size, ctx.label("docker_volume_type"))


def _etcd(ctx):
    size = ctx.label("etcd_blockdevice_size")
    if not size:
        _needs(ctx, ("etcd_blockdevice_type", "etcd_blockdevice_volume_type",
                     "etcd_blockdevice_volume_az"),
               "applies to the etcd block device, and etcd_blockdevice_size "
               "is 0", "unset, or an etcd_blockdevice_size above 0")
        return None
    etcd = Etcd(size, ctx.label("etcd_blockdevice_type"),
                ctx.label("etcd_blockdevice_volume_type"),
                ctx.label("etcd_blockdevice_volume_az"))
    if etcd.type == "Local":
        _needs(ctx, ("etcd_blockdevice_volume_type",
                     "etcd_blockdevice_volume_az"),
               "applies to a Cinder volume, and etcd_blockdevice_type is "
               "Local", "unset, or etcd_blockdevice_type Volume")
    return etcd


_STORAGE_CLASS = ("csi_cinder_availability_zone", "csi_cinder_volume_type",
                  "csi_cinder_reclaim_policy",
                  "csi_cinder_volume_binding_mode", "csi_cinder_fstype",
                  "csi_cinder_allow_volume_expansion")


def _cinder(ctx):
    enabled = ctx.label("cinder_csi_enabled")
    tags = tuple((key, ctx.label(name)) for name, key in CSI_SIDECARS
                 if ctx.label(name))
    if not enabled:
        _needs(ctx, _STORAGE_CLASS + ("cinder_csi_plugin_tag",) + tuple(
            name for name, _ in CSI_SIDECARS),
            "configures the Cinder CSI plugin, and cinder_csi_enabled is "
            "false", "unset, or cinder_csi_enabled true")
    return Cinder(enabled, ctx.label("cinder_csi_plugin_tag"), tags)


def _manila(ctx):
    manila = Manila(ctx.label("manila_csi_enabled"),
                    ctx.label("manila_csi_share_network_id"),
                    ctx.label("manila_csi_plugin_tag"))
    if not manila.enabled:
        _needs(ctx, ("manila_csi_share_network_id", "manila_csi_plugin_tag"),
               "configures the Manila CSI plugin, and manila_csi_enabled "
               "is false", "unset, or manila_csi_enabled true")
    return manila


def cluster_part(ctx):
    return Storage(
        etcd=_etcd(ctx),
        storage_class=StorageClass(*(ctx.label(n) for n in _STORAGE_CLASS)),
        containerd=_docker_volume(ctx), cinder=_cinder(ctx),
        manila=_manila(ctx))


def _root_volume(group):
    if not group.storage.size:
        return None
    volume = {"diskSize": group.storage.size}
    if group.storage.type:
        volume["volumeType"] = group.storage.type
    if group.storage.availability_zone:
        volume["availabilityZone"] = group.storage.availability_zone
    return volume


def _storage_class(sc):
    values = {
        "enabled": True,
        "reclaimPolicy": sc.reclaim_policy,
        "allowVolumeExpansion": sc.allow_volume_expansion,
        "volumeBindingMode": sc.volume_binding_mode,
        "availabilityZone": sc.availability_zone,
        "fstype": sc.fstype,
    }
    if sc.volume_type:
        values["volumeType"] = sc.volume_type
    return values


def _cinder_values(cinder, sc):
    values = {"enabled": cinder.enabled}
    if not cinder.enabled:
        return values
    values["defaultStorageClass"] = _storage_class(sc)
    csi = {key: {"image": {"tag": tag}} for key, tag in cinder.sidecar_tags}
    if cinder.plugin_tag:
        csi["plugin"] = {"image": {"tag": cinder.plugin_tag}}
    if csi:
        values["values"] = {"csi": csi}
    return values


def _manila_values(manila):
    values = {"enabled": manila.enabled}
    if manila.share_network:
        values["defaultStorageClass"] = {"parameters": {
            "shareNetworkID": manila.share_network}}
    if manila.plugin_tag:
        values["values"] = {"csimanila": {"image": {
            "tag": manila.plugin_tag}}}
    return values


def _containerd_device(volume):
    device = {"size": volume.size, "type": "Volume"}
    if volume.volume_type:
        device["volumeType"] = volume.volume_type
    return {CONTAINERD_DEVICE: device}


def host_settings(spec, group):
    """The containerd volume's file system and mount, on every node."""
    if not spec.storage.containerd:
        return {}
    return {
        "filesystems": [{
            "device": "/dev/disk/openstack/by-tag/%s" % CONTAINERD_DEVICE,
            "filesystem": "ext4",
            "label": CONTAINERD_FS_LABEL,
        }],
        "mounts": [["LABEL=%s" % CONTAINERD_FS_LABEL, CONTAINERD_DIR]],
    }


def contribute(spec):
    storage = spec.storage
    values = {"addons": {"openstack": {
        "csiCinder": _cinder_values(storage.cinder, storage.storage_class),
    }}}
    if storage.manila.enabled:
        values["addons"]["openstack"]["csiManila"] = _manila_values(
            storage.manila)
        # The chart's Manila storage class is for CephFS shares, served by
        # the Ceph CSI CephFS node plugin.
        values["addons"]["csi"] = {"cephfs": {"enabled": True}}
    etcd = storage.etcd
    if etcd:
        device = {"size": etcd.size, "type": etcd.type}
        if etcd.type == "Volume":
            if etcd.volume_type:
                device["volumeType"] = etcd.volume_type
            if etcd.availability_zone:
                device["availabilityZone"] = etcd.availability_zone
        values["etcd"] = {"blockDevice": device}
    control = {}
    root = _root_volume(spec.control_plane)
    if root:
        control["machineRootVolume"] = root
    if storage.containerd:
        control["additionalBlockDevices"] = _containerd_device(
            storage.containerd)
        values["nodeGroupDefaults"] = {
            "additionalBlockDevices": _containerd_device(storage.containerd)}
    if control:
        values["controlPlane"] = control
    groups = [{"name": g.name, "machineRootVolume": _root_volume(g)}
              for g in spec.node_groups if _root_volume(g)]
    if groups:
        values["nodeGroups"] = groups
    return values
