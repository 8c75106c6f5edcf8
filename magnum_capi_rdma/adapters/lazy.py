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
"""Client libraries imported on first use.

``kubernetes`` (every API model, about 10 MiB) and ``pyhelm3`` (pydantic,
about 10 MiB) are what a conductor needs to change clusters; a conductor
process that only runs status and health passes (reads through
:mod:`.rest`) never loads them.
"""

import importlib


class Module(object):
    """A module imported on first attribute use: ``Module("kubernetes")``."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attr):
        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self):
        return "<lazy module %s>" % self._name
