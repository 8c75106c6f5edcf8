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
"""The driver's errors, as Magnum reports them to the user."""

from magnum.common import exception as magnum_exception


class InvalidClusterLabels(magnum_exception.InvalidParameterValue):
    """Raised before anything is created when labels or fields are bad."""

    message = "%(err)s"


class ClusterOperationFailed(magnum_exception.MagnumException):
    message = "%(reason)s"


class ClusterBusy(ClusterOperationFailed):
    """Another driver call holds the cluster's operation lock."""

    code = 409


class OperationNotSupported(magnum_exception.NotSupported):
    """A Magnum operation this driver refuses on purpose (HTTP 400)."""

    message = "%(reason)s"


def short(exc, limit=300):
    """The first line of an error, at most ``limit`` characters."""
    text = str(exc).strip().splitlines()
    text = text[0] if text else exc.__class__.__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."
