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
"""Fixtures of the end-to-end tests: the local OpenStack stack.

``openstack_stack`` brings the stack up with ``tools/stack up --with
heat,horizon`` (or reuses a running one, adding Heat and Horizon when they
are not running) and gives the tests its state folder, the OS_* variables
of each project, the Heat and Horizon URLs, and a way to run the real
``openstack`` CLI of the stack venv. A stack this session started is
stopped at the end unless ``MAGNUM_CAPI_RDMA_KEEP_STACK=1``; a stack that
was already running is left running. The stack's helpers are in
tests/support/openstack.py.
"""

import json as jsonlib
import os

import pytest

from tests.support.openstack import EXTRAS
from tests.support.openstack import LocalStack
from tests.support.openstack import stack_command
from tests.support.openstack import state_dir


def _running_extras(state):
    try:
        with open(os.path.join(state, "stack.json")) as handle:
            return set(jsonlib.load(handle).get("extras", ()))
    except (OSError, ValueError):
        return set()


@pytest.fixture(scope="session")
def openstack_stack():
    """The local stack with Heat and Horizon, brought up if needed."""
    state = state_dir()
    status = stack_command("status", timeout=120).returncode
    # 2 / 3: nothing runs, this session owns the stack it starts; 1: part
    # of a running stack is down (being restarted): repair, never stop it
    started = status in (2, 3)
    if status != 0 or not set(EXTRAS) <= _running_extras(state):
        # idempotent: starts only what is down, keeps what runs
        result = stack_command("up", "--with", ",".join(EXTRAS))
        if result.returncode != 0:
            pytest.fail("tools/stack up failed:\n%s" % result.stdout[-4000:],
                        pytrace=False)
    try:
        yield LocalStack(state)
    finally:
        if started and os.environ.get("MAGNUM_CAPI_RDMA_KEEP_STACK") != "1":
            stack_command("down", timeout=300)
