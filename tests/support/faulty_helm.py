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
"""helm with faults injected: a wrapper around the real helm binary.

Shared by test_faults_helm and test_faults_conductor. The wrapper logs
every call to a file and, as its JSON control file says, delays commands
or makes them hang inside helm's pending window (``--wait`` on a
Deployment, ``NEVER_READY``, that never becomes ready).
"""

import json
import os
import sys

NEVER_READY = "fault-never-ready"

WRAPPER = r'''#!%(python)s
"""helm, as the driver runs it, with faults injected (tests only)."""
import json, os, sys, time
CONTROL = %(control)r
args = sys.argv[1:]
try:
    with open(CONTROL) as f:
        control = json.load(f)
except (OSError, ValueError):
    control = {}
command = args[0] if args else ""
with open(CONTROL + ".log", "a") as log:
    log.write(json.dumps({"command": command, "pid": os.getpid(),
                          "release": args[1] if len(args) > 1 else None})
              + "\n")
if command in control.get("hang", ()):
    # Hang inside helm's pending window: wait for a Deployment that never
    # becomes ready, far longer than the driver's timeout.
    if "--timeout" in args:
        args[args.index("--timeout") + 1] = "600s"
    args += ["--wait", "--post-renderer", %(renderer)r]
time.sleep(control.get("delay", {}).get(command, 0))
os.execv(%(helm)r, [%(helm)r] + args)
'''

RENDERER = r'''#!%(python)s
import sys
sys.stdout.write(sys.stdin.read())
sys.stdout.write("""
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %(name)s
spec:
  replicas: 1
  selector:
    matchLabels: {app: %(name)s}
  template:
    metadata:
      labels: {app: %(name)s}
    spec:
      containers:
        - name: c
          image: example.invalid/none:1
""")
'''


def _executable(path, text):
    with open(path, "w") as out:
        out.write(text)
    os.chmod(path, 0o755)
    return path


class FaultyHelm(object):
    """The wrapper around the real helm, its control file and its log."""

    def __init__(self, folder, helm_bin):
        self.control = os.path.join(folder, "control.json")
        self.renderer = _executable(
            os.path.join(folder, "never-ready"),
            RENDERER % {"python": sys.executable, "name": NEVER_READY})
        self.path = _executable(os.path.join(folder, "helm"), WRAPPER % {
            "python": sys.executable, "control": self.control,
            "renderer": self.renderer, "helm": helm_bin})
        self.set()

    def set(self, **control):
        with open(self.control, "w") as out:
            json.dump(control, out)

    def calls(self, command=None):
        try:
            with open(self.control + ".log") as log:
                calls = [json.loads(line) for line in log]
        except OSError:
            return []
        return [c for c in calls if command in (None, c["command"])]
