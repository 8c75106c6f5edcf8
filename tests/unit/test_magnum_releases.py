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
"""The supported Magnum releases: said the same everywhere, and met.

``setup.cfg`` (``[magnum_capi_rdma] magnum_releases``) names them;
``requirements.txt`` allows exactly them, ``tox.ini`` has a unit-test
environment per release, ``tools/test`` (CI) runs them and the lifecycle
on the oldest, and the install guide lists them. The rest checks what
differs between the releases against the Magnum installed here (every
tox environment of the matrix runs this module with its own Magnum).
"""

import configparser
import importlib.metadata
import os
import re
import types

from magnum.drivers.common import driver as magnum_driver
from packaging import specifiers
from packaging import version as versions
import pytest

from magnum_capi_rdma import driver as capi_driver
from magnum_capi_rdma import magnum_objects

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as handle:
        return handle.read()


def releases():
    """[(major, series)] from setup.cfg, oldest first."""
    parser = configparser.ConfigParser()
    parser.read_string(_read("setup.cfg"))
    out = []
    for line in parser["magnum_capi_rdma"]["magnum_releases"].splitlines():
        if line.strip():
            major, series = line.split()
            out.append((int(major), series))
    return out


def test_releases_are_consecutive_and_oldest_first():
    majors = [major for major, _ in releases()]
    assert majors == list(range(majors[0], majors[0] + len(majors)))
    assert majors[0] <= 20 and majors[-1] >= 23


def test_requirements_allow_exactly_the_supported_releases():
    (line,) = [line for line in _read("requirements.txt").splitlines()
               if re.match(r"magnum\b", line)]
    allowed = specifiers.SpecifierSet(line[len("magnum"):].split("#")[0])
    majors = [major for major, _ in releases()]
    for major in majors:
        assert "%d.0.0" % major in allowed, line
        assert "%d.9.9" % major in allowed, line
    assert "%d.9.9" % (majors[0] - 1) not in allowed, line
    assert "%d.0.0" % (majors[-1] + 1) not in allowed, line


def test_tox_has_a_unit_environment_per_release():
    text = _read("tox.ini")
    majors = [major for major, _ in releases()]
    section = "[testenv:py3-magnum{%s}]" % ",".join(str(m) for m in majors)
    assert section in text
    for major, series in releases():
        assert "magnum%d: magnum>=%d.0.0,<%d.0.0" % (
            major, major, major + 1) in text
        # With the series' upper constraints, as an operator installs it.
        constraints = "tools/upper-constraints/%s.txt" % series
        assert "magnum%d: -c{toxinidir}/%s" % (major, constraints) in text
        assert os.path.isfile(os.path.join(ROOT, constraints)), constraints


def test_ci_runs_the_matrix():
    """Unit tests on every release, the lifecycle on oldest and newest.

    ``py3`` and ``functional`` have the newest (requirements.txt's
    range); the others are pinned.
    """
    match = re.search(r"^MAGNUM_MATRIX=(\S+)$", _read("tools", "test"),
                      re.M)
    assert match, "tools/test names no MAGNUM_MATRIX"
    matrix = set(match.group(1).split(","))
    majors = [major for major, _ in releases()]
    assert matrix == {"py3-magnum%d" % m for m in majors[:-1]} | {
        "functional-magnum%d" % majors[0]}
    assert "[testenv:functional-magnum%d]" % majors[0] in _read("tox.ini")


def test_the_install_guide_lists_the_releases():
    text = _read("doc", "source", "install", "magnum-releases.rst")
    for major, series in releases():
        assert re.search(r"^   \* - %d\.x\n     - %s\b" % (
            major, re.escape(series)), text, re.M), (major, series)


def test_the_installed_magnum_is_a_supported_one():
    installed = versions.Version(importlib.metadata.version("magnum"))
    assert installed.major in [major for major, _ in releases()]


def test_the_driver_implements_this_magnums_base_class():
    abstract = getattr(magnum_driver.Driver, "__abstractmethods__", ())
    missing = [name for name in abstract
               if getattr(capi_driver.Driver, name) is getattr(
                   magnum_driver.Driver, name)]
    assert not missing
    driver = capi_driver.Driver()
    # Control plane sizes: Magnum's API asks the driver (20.x on).
    driver.validate_master_size(3)
    with pytest.raises(Exception):
        driver.validate_master_size(2)
    # Credential rotation: a driver method from Magnum 21.x on; the
    # driver has it on every release.
    assert callable(driver.rotate_credential)


# -- the Glance client Magnum hands out --

class _GlanceclientImages(object):
    """python-glanceclient v2 (Magnum up to 22.x): images are mappings."""

    def __init__(self, images):
        self._images = images

    def get(self, image):
        return dict(self._images[image])


def _glanceclient(images):
    return types.SimpleNamespace(images=_GlanceclientImages(images))


def _openstacksdk(images):
    """openstacksdk's image proxy (Magnum 23.x), with its real Image."""
    image_v2 = pytest.importorskip("openstack.image.v2.image")

    class Proxy(object):
        def get_image(self, image):
            return image_v2.Image.existing(id=image, **images[image])

    return Proxy()


@pytest.mark.parametrize("client", [_glanceclient, _openstacksdk])
def test_the_images_kube_version_is_read_from_either_client(client):
    glance = client({"img": {"name": "ubuntu", "kube_version": "v1.33.1",
                             "os_distro": "ubuntu"},
                     "bare": {"name": "plain"}})
    found = magnum_objects.get_image(glance, "img")
    assert magnum_objects.image_property(found, "kube_version") == (
        "v1.33.1")
    bare = magnum_objects.get_image(glance, "bare")
    assert magnum_objects.image_property(bare, "kube_version") is None


@pytest.mark.parametrize("client", [_glanceclient, _openstacksdk])
def test_the_lookup_goes_through_magnums_clients(client, monkeypatch):
    from magnum.common import clients

    glance = client({"img": {"name": "u", "kube_version": "v1.34.2"}})
    monkeypatch.setattr(clients.OpenStackClients, "glance",
                        lambda self: glance)
    monkeypatch.setattr(magnum_objects.OpenStackLookup, "_context",
                        lambda self: None)
    lookup = magnum_objects.OpenStackLookup()
    assert lookup.image_properties("img") == {"kube_version": "v1.34.2"}


# -- urllib3 of the older series --

@pytest.mark.parametrize("matches_itself", [True, False])
def test_the_ssl_context_suits_the_installed_urllib3(monkeypatch,
                                                     matches_itself):
    """urllib3 1.x (2025.1, 2025.2) refuses a context that checks names.

    It gives the TLS library no name for a server addressed by IP
    ("check_hostname requires server_hostname") and matches the
    certificate itself; the certificate is verified either way.
    """
    import ssl

    from magnum_capi_rdma.adapters import rest

    monkeypatch.setattr(rest, "URLLIB3_MATCHES_HOSTNAMES", matches_itself)
    context = rest.ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is (not matches_itself)
    insecure = rest.ssl_context(insecure=True)
    assert insecure.verify_mode == ssl.CERT_NONE


def test_urllib3_major_is_read_right():
    import urllib3

    from magnum_capi_rdma.adapters import rest

    assert rest.URLLIB3_MATCHES_HOSTNAMES is (
        versions.Version(urllib3.__version__).major < 2)
