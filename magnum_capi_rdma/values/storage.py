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
"""Storage: etcd block device, root volumes, the Cinder storage class."""


def _root_volume(group):
    if not group.boot_volume_size:
        return None
    volume = {"diskSize": group.boot_volume_size}
    if group.boot_volume_type:
        volume["volumeType"] = group.boot_volume_type
    return volume


def _storage_class(spec):
    sc = spec.storage_class
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


def contribute(spec):
    values = {"addons": {"openstack": {"csiCinder": {
        "defaultStorageClass": _storage_class(spec)}}}}
    if spec.etcd:
        device = {"size": spec.etcd.size, "type": spec.etcd.type}
        if spec.etcd.type == "Volume":
            if spec.etcd.volume_type:
                device["volumeType"] = spec.etcd.volume_type
            if spec.etcd.availability_zone:
                device["availabilityZone"] = spec.etcd.availability_zone
        values["etcd"] = {"blockDevice": device}
    root = _root_volume(spec.control_plane)
    if root:
        values["controlPlane"] = {"machineRootVolume": root}
    groups = [{"name": g.name, "machineRootVolume": _root_volume(g)}
              for g in spec.node_groups if _root_volume(g)]
    if groups:
        values["nodeGroups"] = groups
    return values
