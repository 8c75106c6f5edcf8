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
"""No module reaches into another module's private names.

Cluster API objects are read through :mod:`magnum_capi_rdma.capi`, the
process's adapters through :mod:`magnum_capi_rdma.services.runtime`; a
``module._name`` use is a missing public interface. (The layer rule is
checked by import-linter: ``.importlinter``.)
"""

import pathlib
import re

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "magnum_capi_rdma"
PRIVATE = re.compile(r"\b(?!self\b|cls\b)([a-z_][a-z0-9_]*)\._[a-z]")


def test_no_module_uses_another_modules_private_names():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in PRIVATE.finditer(line.split("#")[0]):
                found.append("%s:%d: %s" % (path.relative_to(PACKAGE),
                                            number, match.group(0)))
    assert found == []
