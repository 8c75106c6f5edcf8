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
Use as ``wsgi_apps:keystone()`` (and ``glance()``, ``magnum()``, ``heat()``,
``horizon()``).

Horizon with ``DEBUG = False`` does not serve its static files; a small
wrapper here serves the collected and compressed ones from ``STATIC_ROOT``,
so gunicorn alone is enough to render its pages.
"""

import mimetypes
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


def heat():
    conf = os.path.join(_config_dir(), "heat.conf")
    sys.argv = ["heat-api", "--config-file", conf]
    from heat.api.openstack import wsgi
    return wsgi.init_application()


def horizon():
    sys.argv = sys.argv[:1]
    os.environ["DJANGO_SETTINGS_MODULE"] = "openstack_dashboard.settings"
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application
    app = get_wsgi_application()
    _zones_with_nova_names()
    return StaticFiles(app, settings.STATIC_URL, settings.STATIC_ROOT)


def _zones_with_nova_names():
    """Horizon's availability zones carry ``zoneName`` again.

    magnum-ui 19.0.0's Create Cluster form fills its required Availability
    Zone field from each zone's ``zoneName``; Horizon 27.0.0 lists zones
    through openstacksdk, whose zones say ``name`` and ``state`` only, so
    the field offers "undefined" and the form cannot be submitted.
    """
    from openstack_dashboard.api import nova

    listed = nova.availability_zone_list

    def availability_zone_list(request, detailed=False):
        zones = listed(request, detailed)
        for zone in zones:
            object.__setattr__(zone, "to_dict",
                               _with_nova_names(zone.to_dict))
        return zones

    nova.availability_zone_list = availability_zone_list


def _with_nova_names(to_dict):
    def with_nova_names(*args, **kwargs):
        out = to_dict(*args, **kwargs)
        out.setdefault("zoneName", out.get("name"))
        out.setdefault("zoneState", out.get("state"))
        return out
    return with_nova_names


class StaticFiles(object):
    """Serve GET/HEAD under URL_PREFIX from ROOT; the rest goes to APP."""

    chunk = 65536

    def __init__(self, app, url_prefix, root):
        self.app = app
        self.prefix = url_prefix if url_prefix.endswith("/") else \
            url_prefix + "/"
        self.root = os.path.realpath(root)

    def __call__(self, environ, start_response):
        url = environ.get("PATH_INFO", "")
        if not url.startswith(self.prefix):
            return self.app(environ, start_response)
        if environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
            return self._answer(start_response, "405 Method Not Allowed")
        relative = url[len(self.prefix):]
        target = os.path.realpath(os.path.join(self.root, relative))
        if not target.startswith(self.root + os.sep) or \
                not os.path.isfile(target):
            return self._answer(start_response, "404 Not Found")
        kind = mimetypes.guess_type(target)[0] or "application/octet-stream"
        headers = [("Content-Type", kind),
                   ("Content-Length", str(os.path.getsize(target))),
                   ("Cache-Control", "public, max-age=3600")]
        start_response("200 OK", headers)
        if environ["REQUEST_METHOD"] == "HEAD":
            return [b""]
        return self._file(target)

    def _file(self, target):
        with open(target, "rb") as handle:
            while True:
                data = handle.read(self.chunk)
                if not data:
                    break
                yield data

    @staticmethod
    def _answer(start_response, status):
        body = status.encode()
        start_response(status, [("Content-Type", "text/plain"),
                                ("Content-Length", str(len(body)))])
        return [body]
