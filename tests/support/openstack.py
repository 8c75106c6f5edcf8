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
"""The local OpenStack stack (tools/stack) as the end-to-end tests see it.

:class:`LocalStack` reads a running stack's ``stack.json`` and runs the
real ``openstack`` CLI of its venv as a project's user; ``stack_command``
runs ``tools/stack`` itself. Used by tests/e2e/conftest.py (the
``openstack_stack`` fixture) and the end-to-end test modules.
"""

import json as jsonlib
import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
STACK = os.path.join(REPO, "tools", "stack")
PROJECTS = ("admin", "demo", "demo2")
EXTRAS = ("heat", "horizon")


class CLIError(AssertionError):
    """An ``openstack`` command failed; carries its output."""

    def __init__(self, args, result):
        super().__init__("openstack %s exited %d:\n%s%s" % (
            " ".join(args), result.returncode, result.stdout,
            result.stderr))
        self.result = result


class LocalStack(object):
    """A running local stack, as described by its ``stack.json``."""

    def __init__(self, state_dir):
        self.state_dir = state_dir
        with open(os.path.join(state_dir, "stack.json")) as handle:
            self.info = jsonlib.load(handle)
        self.venv = self.info["venv"]
        self.openstack = self.info["openstack"]
        self.image = self.info["image"]
        self.ports = self.info["ports"]
        # URLs of the optional services, None when they do not run
        self.heat_url = self.info.get("heat")
        self.horizon_url = self.info.get("horizon")

    def env(self, project="admin"):
        """The environment for a CLI call as PROJECT's user."""
        if project not in self.info["credentials"]:
            raise ValueError("unknown project %r (one of %s)"
                             % (project, ", ".join(PROJECTS)))
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("OS_")}
        env.update(self.info["credentials"][project])
        env["PATH"] = os.path.join(self.venv, "bin") + os.pathsep + \
            env.get("PATH", "")
        # magnumclient's `cluster config` picks its output by $SHELL, which
        # CI's environment does not set.
        env.setdefault("SHELL", "/bin/bash")
        return env

    def run(self, *args, project="admin", check=True):
        """Run ``openstack ARGS``; the CompletedProcess."""
        result = subprocess.run(
            [self.openstack] + list(args), env=self.env(project),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            timeout=300)
        if check and result.returncode != 0:
            raise CLIError(args, result)
        return result

    def cli(self, *args, project="admin", json=True):
        """Run ``openstack ARGS`` (``-f json`` if JSON) and parse it."""
        args = list(args) + (["-f", "json"] if json else [])
        out = self.run(*args, project=project).stdout
        return parse_json(out) if json else out


def parse_json(out):
    """The JSON document of a CLI's output.

    python-magnumclient prints a line such as "Request to create cluster
    template X accepted" before the document.
    """
    lines = out.splitlines()
    for index, line in enumerate(lines):
        if line.startswith(("{", "[")):
            return jsonlib.loads("\n".join(lines[index:]))
    raise ValueError("no JSON document in the output: %r" % out[:500])


def state_dir():
    return os.path.abspath(os.environ.get("MAGNUM_CAPI_RDMA_STATE") or
                           os.path.join(os.path.expanduser("~"), ".local",
                                        "state", "magnum-capi-rdma",
                                        "stack"))


def stack_command(*args, timeout=1800):
    return subprocess.run([STACK] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)
