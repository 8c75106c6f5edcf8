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
"""Helpers shared by the values modules."""

import re

_UUID = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
    r"[0-9a-fA-F]{12}$")


def is_uuid(value):
    return bool(value) and bool(_UUID.match(value))


def image(value):
    """Chart keys for a Glance image given by UUID or by name."""
    if is_uuid(value):
        return {"machineImageId": value}
    return {"machineImage": value}


def neutron_filter(value):
    """A v1alpha7-style Neutron filter: by id or by name."""
    return {"id": value} if is_uuid(value) else {"name": value}


def port_network(value):
    """The ``network`` of a machine port (a CAPO v1beta1 reference)."""
    if is_uuid(value):
        return {"id": value}
    return {"filter": {"name": value}}
