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
"""Register the local stack in Keystone and seed Glance, in one process.

Run with the stack venv's python: ``register.py SPEC.json``. The spec (written
by stack.py) names the admin credentials, service users, roles, domains with
their admin user (Heat's stack domain), demo projects, catalog entries and
images. Every step is idempotent: what exists is kept,
passwords and endpoint URLs are brought up to date.
"""

import json
import sys
import time

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1.identity import v3
from keystoneauth1 import session as ks_session
import openstack


def connect(spec):
    auth = v3.Password(
        auth_url=spec["auth_url"], username="admin",
        password=spec["admin_password"], project_name="admin",
        user_domain_name="Default", project_domain_name="Default")
    sess = ks_session.Session(auth=auth)
    return openstack.connection.Connection(
        session=sess, region_name=spec["region"], identity_api_version="3")


def ensure_role(conn, name):
    return conn.identity.find_role(name) or conn.identity.create_role(
        name=name)


def ensure_project(conn, name):
    project = conn.identity.find_project(name, domain_id="default")
    if project is None:
        project = conn.identity.create_project(
            name=name, domain_id="default",
            description="Created by tools/stack")
    return project


def ensure_user(conn, name, password, project):
    user = conn.identity.find_user(name, domain_id="default")
    if user is None:
        return conn.identity.create_user(
            name=name, password=password, domain_id="default",
            default_project_id=project.id)
    conn.identity.update_user(user, password=password)
    return user


def ensure_service(conn, stype, name):
    for service in conn.identity.services():
        if service.type == stype:
            return service
    return conn.identity.create_service(type=stype, name=name,
                                        description=name + " (local stack)")


def ensure_endpoints(conn, service, url, region):
    existing = {e.interface: e for e in conn.identity.endpoints(
        service_id=service.id)}
    for interface in ("public", "internal", "admin"):
        endpoint = existing.get(interface)
        if endpoint is None:
            conn.identity.create_endpoint(
                service_id=service.id, interface=interface, url=url,
                region_id=region)
        elif endpoint.url != url:
            conn.identity.update_endpoint(endpoint, url=url)


def ensure_domain(conn, name):
    domain = conn.identity.find_domain(name)
    if domain is None:
        domain = conn.identity.create_domain(
            name=name, description="Created by tools/stack")
    return domain


def ensure_domain_admin(conn, entry, admin_role):
    """A domain and its admin user (e.g. Heat's stack domain)."""
    domain = ensure_domain(conn, entry["name"])
    user = conn.identity.find_user(entry["admin"], domain_id=domain.id)
    if user is None:
        user = conn.identity.create_user(
            name=entry["admin"], password=entry["password"],
            domain_id=domain.id)
    else:
        conn.identity.update_user(user, password=entry["password"])
    conn.identity.assign_domain_role_to_user(domain, user, admin_role)


def register(conn, spec):
    roles = {name: ensure_role(conn, name)
             for name in spec.get("roles", ("admin", "member", "reader",
                                            "service"))}
    for entry in spec.get("domains", ()):
        ensure_domain_admin(conn, entry, roles["admin"])
    service_project = ensure_project(conn, "service")
    for user in spec["service_users"]:
        account = ensure_user(conn, user["name"], user["password"],
                              service_project)
        for role in user["roles"]:
            conn.identity.assign_project_role_to_user(
                service_project, account, roles[role])
    for entry in spec["projects"]:
        project = ensure_project(conn, entry["project"])
        account = ensure_user(conn, entry["user"], entry["password"],
                              project)
        for role in entry.get("roles", ("member", "reader")):
            conn.identity.assign_project_role_to_user(
                project, account, roles[role])
    for entry in spec["catalog"]:
        service = ensure_service(conn, entry["type"], entry["name"])
        ensure_endpoints(conn, service, entry["url"], spec["region"])


def wait_for_image_api(conn, timeout):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return list(conn.image.images(limit=1))
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def seed_images(conn, spec):
    wait_for_image_api(conn, spec.get("image_wait", 90))
    for image in spec["images"]:
        if conn.image.find_image(image["name"]) is not None:
            continue
        body = dict(image, visibility="public")
        conn.image.post("/images", json=body, raise_exc=True)


def main(argv):
    with open(argv[1]) as handle:
        spec = json.load(handle)
    try:
        conn = connect(spec)
        register(conn, spec)
        # a fresh session so the new catalog entries are seen
        seed_images(connect(spec), spec)
    except (ks_exc.ClientException, openstack.exceptions.SDKException) as e:
        print("register: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
