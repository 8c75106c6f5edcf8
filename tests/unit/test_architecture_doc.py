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
"""The architecture page names every module of the package."""

import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAGE = ROOT / "doc" / "source" / "contributor" / "architecture.rst"


def _modules():
    package = ROOT / "magnum_capi_rdma"
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(ROOT).with_suffix("")
        parts = relative.parts
        if parts[-1] == "__init__":
            continue
        yield parts


def test_every_module_is_on_the_architecture_page():
    text = PAGE.read_text()
    missing = []
    for parts in _modules():
        dotted = ".".join(parts)
        # A module is named in full, or as ``name`` in its package's row
        # (adapters, services) or the features folder.
        if dotted in text:
            continue
        package, name = ".".join(parts[:-1]), parts[-1]
        if package in text and "``%s``" % name in text:
            continue
        if package.endswith(".features"):
            continue  # listed by the label reference, generated
        missing.append(dotted)
    assert missing == [], "add to %s: %s" % (PAGE.name, missing)
