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
"""Running the development package (magnum_capi_rdma_dev) as a command.

``magnum_capi_rdma_dev`` is importable from a checkout only, never from the
installed driver: a child process gets the repository root first on its
``PYTHONPATH`` and the root as its working directory.
"""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def env(base=None):
    """``base`` (default: this environment) with the root on PYTHONPATH."""
    result = dict(os.environ if base is None else base)
    paths = [REPO] + [p for p in result.get("PYTHONPATH", "").split(
        os.pathsep) if p and p != REPO]
    result["PYTHONPATH"] = os.pathsep.join(paths)
    return result


def command(module, *args):
    """argv running ``python -m magnum_capi_rdma_dev.MODULE ARGS``."""
    return [sys.executable, "-m", "magnum_capi_rdma_dev." + module] + list(
        args)
