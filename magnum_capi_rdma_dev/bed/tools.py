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
"""Where the pinned test-bed binaries live (built by tools/install-test-tools).

The cache is outside the clone and keyed by version, so a fresh clone (CI)
reuses what an earlier run built.
"""

import os

TOOLS = ("helm", "etcd", "kube-apiserver")
#: Cluster API's own controllers and what they need (bed/capi.py).
CAPI_TOOLS = ("kube-controller-manager", "capi-manager",
              "capi-kubeadm-bootstrap-manager",
              "capi-kubeadm-control-plane-manager", "capi-dev-manager")


class ToolMissing(RuntimeError):
    """A pinned binary has not been built on this machine yet."""


def cache_dir():
    """The project's cache directory (as in tools/install-test-tools)."""
    explicit = os.environ.get("MAGNUM_CAPI_RDMA_CACHE")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "magnum-capi-rdma")


def bin_dir():
    """The directory holding the built binaries."""
    return os.path.join(cache_dir(), "bin")


def tool_path(name):
    """Absolute path of the pinned ``name`` binary, or ToolMissing.

    :param name: one of ``helm``, ``etcd``, ``kube-apiserver``.
    """
    if name not in TOOLS + CAPI_TOOLS:
        raise ValueError(
            "unknown test tool %r: expected one of %s"
            % (name, ", ".join(TOOLS + CAPI_TOOLS)))
    path = os.path.join(bin_dir(), name)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise ToolMissing(
            "%s not found at %s: run tools/install-test-tools first "
            "(it builds the pinned binaries once)"
            % (name, path))
    return os.path.realpath(path)


def missing_tools(names=TOOLS):
    """Names of the pinned tools that are not built yet."""
    missing = []
    for name in names:
        try:
            tool_path(name)
        except ToolMissing:
            missing.append(name)
    return missing
