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
"""Small stand-ins for Nova, Neutron and Cinder on the local stack.

Only the calls that Magnum 23, this driver, Heat and Horizon make are
answered, with the JSON shapes of the real APIs: version documents, flavors,
keypairs, availability zones, limits and usage (compute), networks and
subnets with filters and the (empty) extension list (network), and volume
types and limits (block storage); each request is a line of the stubs' log.
One WSGI application serves all three; it tells them apart by the port the
request came in on. Every request except a version document must carry a
token that Keystone accepts.

Seed data is fixed and the ids are derived from names, so they are the same
after every restart.
"""

import json
import os
import threading
import time
import urllib.error
import urllib.request
import uuid

COMPUTE_PORT = int(os.environ.get("STUBS_COMPUTE_PORT", "8774"))
NETWORK_PORT = int(os.environ.get("STUBS_NETWORK_PORT", "9696"))
VOLUME_PORT = int(os.environ.get("STUBS_VOLUME_PORT", "8776"))
KEYSTONE_URL = os.environ.get("STUBS_KEYSTONE_URL", "http://127.0.0.1:5000")
NAMESPACE = uuid.UUID("6d1f1f7e-3d55-4a8e-9f57-0b6d5c2f5a10")
CREATED = "2026-01-01T00:00:00Z"


def _id(kind, name):
    return str(uuid.uuid5(NAMESPACE, "%s/%s" % (kind, name)))


def _flavor(name, vcpus, ram_mib, disk_gib, extra_specs=None):
    return {
        "id": _id("flavor", name),
        "name": name,
        "vcpus": vcpus,
        "ram": ram_mib,
        "disk": disk_gib,
        "swap": 0,
        "OS-FLV-EXT-DATA:ephemeral": 0,
        "OS-FLV-DISABLED:disabled": False,
        "os-flavor-access:is_public": True,
        "rxtx_factor": 1.0,
        "description": None,
        "extra_specs": extra_specs or {},
    }


FLAVORS = [
    _flavor("m1.small", 2, 4096, 20),
    _flavor("m1.large", 8, 16384, 80),
    _flavor("g1.rdma", 16, 65536, 100,
            {"pci_passthrough:alias": "mlx5-vf:1"}),
]

KEYPAIRS = {
    "demo": {
        "name": "demo",
        "type": "ssh",
        "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDemoKeyOfTheLocal"
                      "StackOnlyNotARealKey demo@localhost",
        "fingerprint": "SHA256:demo-key-of-the-local-stack",
    },
}

AVAILABILITY_ZONES = ["nova"]

# quotas of every project (Nova's and Cinder's defaults)
COMPUTE_QUOTAS = {
    "maxTotalCores": 20, "maxTotalInstances": 10, "maxTotalRAMSize": 51200,
    "maxServerMeta": 128, "maxServerGroups": 10, "maxServerGroupMembers": 10,
    "maxTotalKeypairs": 100,
}
VOLUME_QUOTAS = {
    "maxTotalVolumes": 10, "maxTotalSnapshots": 10,
    "maxTotalVolumeGigabytes": 1000, "maxTotalBackups": 10,
    "maxTotalBackupGigabytes": 1000,
}


def _network(name, external=False, mtu=1500, segment="vxlan"):
    return {
        "id": _id("network", name),
        "name": name,
        "status": "ACTIVE",
        "admin_state_up": True,
        "shared": external,
        "router:external": external,
        "is_default": external,
        "mtu": mtu,
        "provider:network_type": segment,
        "provider:physical_network": None,
        "provider:segmentation_id": None,
        "availability_zones": ["nova"],
        "availability_zone_hints": [],
        "port_security_enabled": True,
        "subnets": [_id("subnet", name)],
        "tags": [],
        "description": "",
        "project_id": "",
        "tenant_id": "",
        "created_at": CREATED,
        "updated_at": CREATED,
        "revision_number": 1,
    }


def _subnet(network, cidr, gateway):
    return {
        "id": _id("subnet", network),
        "name": network + "-subnet",
        "network_id": _id("network", network),
        "ip_version": 4,
        "cidr": cidr,
        "gateway_ip": gateway,
        "enable_dhcp": True,
        "allocation_pools": [],
        "dns_nameservers": [],
        "host_routes": [],
        "ipv6_address_mode": None,
        "ipv6_ra_mode": None,
        "subnetpool_id": None,
        "tags": [],
        "description": "",
        "project_id": "",
        "tenant_id": "",
        "created_at": CREATED,
        "updated_at": CREATED,
        "revision_number": 1,
    }


NETWORKS = [
    _network("public", external=True),
    _network("private"),
    _network("rdma-net", mtu=9000, segment="vlan"),
]
SUBNETS = [
    _subnet("public", "203.0.113.0/24", "203.0.113.1"),
    _subnet("private", "10.0.0.0/24", "10.0.0.1"),
    _subnet("rdma-net", "192.168.100.0/24", None),
]


def _volume_type(name, description):
    return {
        "id": _id("volume_type", name),
        "name": name,
        "description": description,
        "is_public": True,
        "os-volume-type-access:is_public": True,
        "extra_specs": {},
        "qos_specs_id": None,
    }


VOLUME_TYPES = [
    _volume_type("__DEFAULT__", "Default Volume Type"),
    _volume_type("fast", "Fast volumes"),
]


class HTTPError(Exception):
    """An error answer, with the status and the fault name of the API."""

    def __init__(self, status, fault, message):
        super().__init__(message)
        self.status = status
        self.fault = fault
        self.message = message


class TokenCache(object):
    """Validates tokens against Keystone, remembering good ones a minute."""

    ttl = 60

    def __init__(self, keystone_url):
        self.url = keystone_url.rstrip("/") + "/v3/auth/tokens"
        self._good = {}
        self._lock = threading.Lock()

    def check(self, token):
        if not token:
            raise HTTPError(401, "unauthorized", "Authentication required")
        now = time.monotonic()
        with self._lock:
            if self._good.get(token, 0) > now:
                return
        request = urllib.request.Request(
            self.url, headers={"X-Auth-Token": token,
                               "X-Subject-Token": token})
        try:
            with urllib.request.urlopen(request, timeout=10):
                pass
        except urllib.error.HTTPError as err:
            if err.code in (401, 403, 404):
                raise HTTPError(401, "unauthorized",
                                "The token was not accepted by Keystone")
            raise HTTPError(503, "serviceUnavailable",
                            "Keystone answered %s" % err.code)
        except OSError as err:
            raise HTTPError(503, "serviceUnavailable",
                            "Keystone is unreachable: %s" % err)
        with self._lock:
            self._good[token] = now + self.ttl


def _base(environ):
    host = environ.get("HTTP_HOST") or "%s:%s" % (
        environ.get("SERVER_NAME", "127.0.0.1"), environ.get("SERVER_PORT"))
    return "http://%s" % host


def _query(environ):
    out = {}
    for pair in environ.get("QUERY_STRING", "").split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        key = urllib.request.unquote(key.replace("+", " "))
        out.setdefault(key, []).append(
            urllib.request.unquote(value.replace("+", " ")))
    return out


def _matches(item, query, ignored=("fields", "limit", "marker",
                                   "sort_key", "sort_dir")):
    """Neutron-style filters: every query key must match one of values."""
    for key, values in query.items():
        if key in ignored:
            continue
        if key not in item:
            return False
        have = item[key]
        if isinstance(have, bool):
            wanted = [v.lower() in ("true", "1") for v in values]
        else:
            wanted = values
            have = "" if have is None else str(have)
        if have not in wanted:
            return False
    return True


def _link(base, path):
    return [{"rel": "self", "href": base + path}]


# ---------------------------------------------------------------- compute

def compute_versions(base):
    return {"versions": [compute_version(base)["version"]]}


def compute_version(base):
    return {"version": {
        "id": "v2.1", "status": "CURRENT", "version": "2.96",
        "min_version": "2.1", "updated": "2013-07-23T11:33:21Z",
        "links": _link(base, "/v2.1/"),
        "media-types": [{"base": "application/json",
                         "type": "application/vnd.openstack.compute+json;"
                                 "version=2.1"}],
    }}


def _flavor_doc(base, flavor, detail):
    links = _link(base, "/v2.1/flavors/" + flavor["id"])
    if not detail:
        return {"id": flavor["id"], "name": flavor["name"],
                "description": flavor["description"], "links": links}
    doc = dict(flavor, links=links)
    return doc


def compute(method, parts, query, base):
    if method != "GET":
        raise HTTPError(405, "methodNotAllowed",
                        "The local stack's compute stub is read-only")
    if parts == ["flavors"] or parts == ["flavors", "detail"]:
        detail = len(parts) == 2
        return {"flavors": [_flavor_doc(base, f, detail) for f in FLAVORS]}
    if len(parts) == 2 and parts[0] == "flavors":
        for flavor in FLAVORS:
            if parts[1] in (flavor["id"], flavor["name"]):
                return {"flavor": _flavor_doc(base, flavor, True)}
        raise HTTPError(404, "itemNotFound",
                        "Flavor %s could not be found." % parts[1])
    if len(parts) == 3 and parts[0] == "flavors" and parts[2] == \
            "os-extra_specs":
        for flavor in FLAVORS:
            if parts[1] == flavor["id"]:
                return {"extra_specs": flavor["extra_specs"]}
        raise HTTPError(404, "itemNotFound",
                        "Flavor %s could not be found." % parts[1])
    if parts == ["os-keypairs"]:
        return {"keypairs": [{"keypair": dict(k)}
                             for k in KEYPAIRS.values()]}
    if len(parts) == 2 and parts[0] == "os-keypairs":
        keypair = KEYPAIRS.get(parts[1])
        if keypair is None:
            raise HTTPError(404, "itemNotFound",
                            "Keypair %s not found for user" % parts[1])
        return {"keypair": dict(keypair, id=1, deleted=False,
                                created_at=CREATED, user_id="")}
    if parts in (["os-availability-zone"],
                 ["os-availability-zone", "detail"]):
        return {"availabilityZoneInfo": [
            {"zoneName": zone, "zoneState": {"available": True},
             "hosts": None} for zone in AVAILABILITY_ZONES]}
    if parts == ["limits"]:
        # Horizon's project overview: quotas and what is used (nothing)
        return {"limits": {"rate": [], "absolute": dict(
            COMPUTE_QUOTAS, totalCoresUsed=0, totalInstancesUsed=0,
            totalRAMUsed=0, totalServerGroupsUsed=0)}}
    if len(parts) == 2 and parts[0] == "os-simple-tenant-usage":
        # Horizon's project overview: no servers, so no usage
        return {"tenant_usage": {}}
    raise HTTPError(404, "itemNotFound", "Not served by the compute stub")


# ---------------------------------------------------------------- network

def network_versions(base):
    return {"versions": [{"id": "v2.0", "status": "CURRENT",
                          "links": _link(base, "/v2.0/")}]}


def network(method, parts, query, base):
    if method != "GET":
        raise HTTPError(405, "HTTPMethodNotAllowed",
                        "The local stack's network stub is read-only")
    parts = [p[:-5] if p.endswith(".json") else p for p in parts]
    collections = {"networks": ("network", NETWORKS),
                   "subnets": ("subnet", SUBNETS)}
    if parts == []:
        return {"resources": [
            {"name": single, "collection": name,
             "links": _link(base, "/v2.0/" + name)}
            for name, (single, _items) in collections.items()]}
    if parts == ["extensions"]:
        # Horizon asks which extensions exist before it shows a panel or
        # calls one: none here, so it uses only the core API
        return {"extensions": []}
    if parts[0] not in collections or len(parts) > 2:
        raise HTTPError(404, "HTTPNotFound", "Not served by the network stub")
    single, items = collections[parts[0]]
    if len(parts) == 1:
        return {parts[0]: [i for i in items if _matches(i, query)]}
    for item in items:
        if item["id"] == parts[1]:
            return {single: item}
    raise HTTPError(404, single.capitalize() + "NotFound",
                    "%s %s could not be found." % (single.capitalize(),
                                                   parts[1]))


# ---------------------------------------------------------------- volume

def volume_versions(base):
    return {"versions": [volume_version(base)["version"]]}


def volume_version(base):
    return {"version": {
        "id": "v3.0", "status": "CURRENT", "version": "3.71",
        "min_version": "3.0", "updated": "2023-08-31T00:00:00Z",
        "links": _link(base, "/v3/"),
        "media-types": [{"base": "application/json",
                         "type": "application/vnd.openstack.volume+json;"
                                 "version=3"}],
    }}


def volume(method, parts, query, base):
    if method != "GET":
        raise HTTPError(405, "badRequest",
                        "The local stack's volume stub is read-only")
    if len(parts) == 2 and parts[1] == "types":
        return {"volume_types": [t for t in VOLUME_TYPES
                                 if _matches(t, query, ignored=(
                                     "is_public", "limit", "marker",
                                     "sort", "sort_key", "sort_dir"))]}
    if len(parts) == 3 and parts[1] == "types":
        wanted = "__DEFAULT__" if parts[2] == "default" else parts[2]
        for vtype in VOLUME_TYPES:
            if wanted in (vtype["id"], vtype["name"]):
                return {"volume_type": vtype}
        raise HTTPError(404, "itemNotFound",
                        "Volume type %s could not be found." % parts[2])
    if len(parts) == 2 and parts[1] == "limits":
        # Horizon's project overview
        return {"limits": {"rate": [], "absolute": dict(
            VOLUME_QUOTAS, totalVolumesUsed=0, totalGigabytesUsed=0,
            totalSnapshotsUsed=0, totalBackupsUsed=0,
            totalBackupGigabytesUsed=0)}}
    if len(parts) == 2 and parts[1] == "os-availability-zone":
        return {"availabilityZoneInfo": [
            {"zoneName": zone, "zoneState": {"available": True}}
            for zone in AVAILABILITY_ZONES]}
    raise HTTPError(404, "itemNotFound", "Not served by the volume stub")


# ---------------------------------------------------------------- routing

SERVICES = {
    COMPUTE_PORT: ("v2.1", compute_versions, compute_version, compute),
    NETWORK_PORT: ("v2.0", network_versions, network_versions, network),
    VOLUME_PORT: ("v3", volume_versions, volume_version, volume),
}


def route(method, port, path, query, token, tokens, base):
    """Answer one request: returns the document or raises HTTPError."""
    service = SERVICES.get(port)
    if service is None:
        raise HTTPError(404, "itemNotFound", "No stub on port %s" % port)
    prefix, versions, version, handler = service
    parts = [p for p in path.split("/") if p]
    if not parts:
        return versions(base)
    if parts[0] != prefix:
        raise HTTPError(404, "itemNotFound", "Unknown API version")
    if len(parts) == 1:
        return version(base)
    tokens.check(token)
    return handler(method, parts[1:], query, base)


def _fault(err):
    if err.status == 401:
        return {"error": {"code": 401, "title": "Unauthorized",
                          "message": err.message}}
    return {err.fault: {"code": err.status, "message": err.message},
            "NeutronError": {"type": err.fault, "message": err.message,
                             "detail": ""}}


REASONS = {200: "OK", 300: "Multiple Choices", 401: "Unauthorized",
           404: "Not Found", 405: "Method Not Allowed",
           503: "Service Unavailable"}


def make_app(keystone_url=KEYSTONE_URL):
    tokens = TokenCache(keystone_url)

    def application(environ, start_response):
        base = _base(environ)
        port = int(environ.get("SERVER_PORT") or 0)
        try:
            status, body = 200, route(
                environ["REQUEST_METHOD"], port,
                environ.get("PATH_INFO", ""), _query(environ),
                environ.get("HTTP_X_AUTH_TOKEN"), tokens, base)
        except HTTPError as err:
            status, body = err.status, _fault(err)
        data = json.dumps(body).encode()
        headers = [("Content-Type", "application/json"),
                   ("Content-Length", str(len(data)))]
        if status == 401:
            headers.append(("WWW-Authenticate",
                            "Keystone uri=\"%s\"" % keystone_url))
        if port == COMPUTE_PORT:
            headers.append(("OpenStack-API-Version", "compute 2.96"))
        start_response("%d %s" % (status, REASONS.get(status, "")), headers)
        return [data]

    return application


application = make_app()
