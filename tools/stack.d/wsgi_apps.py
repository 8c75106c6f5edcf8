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
"""WSGI entry points of the local stack's services for gunicorn.

The services' own WSGI modules parse ``sys.argv`` with oslo.config, which
breaks on gunicorn's arguments: each entry here resets ``sys.argv`` first and
reads the configuration folder from the environment (``STACK_CONFIG_DIR``).
Use as ``wsgi_apps:keystone()`` (and ``glance()``, ``magnum()``).
"""

import os
import sys


def _config_dir():
    return os.environ["STACK_CONFIG_DIR"]


def keystone():
    sys.argv = sys.argv[:1]
    os.environ["OS_KEYSTONE_CONFIG_DIR"] = _config_dir()
    from keystone.server import wsgi
    return wsgi.initialize_public_application()


def glance():
    sys.argv = sys.argv[:1]
    os.environ["OS_GLANCE_CONFIG_DIR"] = _config_dir()
    from glance.common import wsgi_app
    return wsgi_app.init_app()


def magnum():
    conf = os.path.join(_config_dir(), "magnum.conf")
    sys.argv = ["magnum-api", "--config-file", conf]
    from magnum.api import app
    return app.build_wsgi_app()
