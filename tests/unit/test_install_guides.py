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
"""The install guides' snippets: they parse and name only real options.

Every ``.. code-block::`` with a ``:caption:`` in the deployment-tool
guides of ``doc/source/install/`` is checked by what it is:

- ``magnum.conf`` (ini): parses; every option is one of the driver's
  (``magnum_capi_rdma.conf.list_opts``) or Magnum's, and its value is
  one the option's type accepts;
- OpenStack-Ansible ``user_variables.yml``: ``magnum_config_overrides``
  the same, ``magnum_user_pip_packages`` valid requirements of this
  package;
- Hiera: ``magnum::config::magnum_config`` keys (``section/option``) the
  same;
- ``kolla-build.conf``: a local plugin of an image kolla builds for
  Magnum; the template override fills a block those images have;
- any other YAML (globals.yml, a playbook) parses.
"""

import configparser
import os
import re

import magnum.conf
from oslo_config import cfg
from packaging import requirements
import pytest
import yaml

from magnum_capi_rdma import conf as capi_conf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
GUIDES = ("kolla-ansible.rst", "openstack-ansible.rst", "puppet.rst")
#: The blocks of kolla's magnum-base, magnum-api and magnum-conductor
#: Dockerfiles (kolla 2025.1 to 2026.2: docker/magnum/*/Dockerfile.j2).
KOLLA_BLOCKS = {"magnum_base_header", "magnum_base_footer",
                "magnum_api_header", "magnum_api_footer",
                "magnum_conductor_header", "magnum_conductor_footer",
                "footer"}
KOLLA_IMAGES = ("magnum-base", "magnum-api", "magnum-conductor")

_BLOCK = re.compile(
    r"^\.\. code-block:: (?P<lang>\S+)\n(?P<options>(?:   :[^\n]*\n)*)\n"
    r"(?P<body>(?:(?:   [^\n]*)?\n)+)", re.M)


def snippets(guide):
    """[(language, caption, text)] of the captioned blocks of a guide."""
    with open(os.path.join(ROOT, "doc", "source", "install", guide),
              encoding="utf-8") as handle:
        text = handle.read()
    found = []
    for match in _BLOCK.finditer(text):
        caption = re.search(r":caption: (.+)", match.group("options"))
        if not caption:
            continue
        body = "\n".join(line[3:] for line in
                         match.group("body").splitlines())
        found.append((match.group("lang"), caption.group(1).strip(),
                      body.strip() + "\n"))
    return found


def all_snippets():
    return [pytest.param(guide, *s, id="%s:%s" % (guide, s[1]))
            for guide in GUIDES for s in snippets(guide)]


def _driver_opts():
    return {getattr(group, "name", group): {opt.name: opt for opt in opts}
            for group, opts in capi_conf.list_opts()}


def check_option(section, option, value):
    """The option exists (driver or Magnum) and takes ``value``."""
    ours = _driver_opts()
    if section in ours:
        opt = ours[section].get(option)
        assert opt is not None, "[%s] %s is not an option of the driver" % (
            section, option)
    else:
        try:
            opt = magnum.conf.CONF._get_opt_info(option, section)["opt"]
        except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
            pytest.fail("[%s] %s is not an option of Magnum" % (
                section, option))
    opt.type(str(value))


def test_every_guide_has_checked_snippets():
    for guide in GUIDES:
        assert snippets(guide), "%s has no captioned code blocks" % guide


@pytest.mark.parametrize("guide,lang,caption,text", all_snippets())
def test_the_snippet_is_right(guide, lang, caption, text):
    name = os.path.basename(caption)
    if lang == "ini" and name.startswith("magnum") and name.endswith(
            ".conf"):
        parser = configparser.ConfigParser(interpolation=None,
                                           strict=True)
        parser.optionxform = str
        parser.read_string(text)
        checked = 0
        for section in parser.sections():
            for option, value in parser.items(section):
                check_option(section, option, value)
                checked += 1
        assert checked
        assert parser.has_option("capi_rdma", "kubeconfig_file")
    elif lang == "ini" and name == "kolla-build.conf":
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(text)
        for section in parser.sections():
            image, _, plugin = section.partition("-plugin-")
            assert image in KOLLA_IMAGES and plugin, section
            assert parser[section]["type"] == "local"
            assert os.path.isabs(parser[section]["location"])
    elif lang == "jinja":
        assert text.startswith("{% extends parent_template %}")
        blocks = re.findall(r"{%\s*block\s+(\w+)\s*%}", text)
        assert blocks and set(blocks) <= KOLLA_BLOCKS, blocks
        assert "/plugins/magnum-capi-rdma/" in text
    elif lang == "yaml":
        data = yaml.safe_load(text)
        assert data is not None
        if isinstance(data, dict) and "magnum_config_overrides" in data:
            for section, options in data["magnum_config_overrides"].items():
                for option, value in options.items():
                    check_option(section, option, value)
            for spec in data["magnum_user_pip_packages"]:
                assert requirements.Requirement(spec).name == (
                    "magnum-capi-rdma"), spec
        if isinstance(data, dict) and "magnum::config::magnum_config" in (
                data):
            for key, resource in data[
                    "magnum::config::magnum_config"].items():
                section, option = key.split("/")
                check_option(section, option, resource["value"])
        if isinstance(data, list):
            for play in data:
                assert play["hosts"] and play["tasks"], play
    elif lang == "puppet":
        # No Puppet here to compile it; what it sets must exist.
        for key in re.findall(r"'(\w+/\w+)':", text):
            check_option(*key.split("/"), "x")
        assert "Anchor['magnum::install::end']" in text
    else:
        pytest.fail("%s: no check for %s blocks (%s)" % (
            guide, lang, caption))


def test_a_wrong_option_would_be_caught():
    with pytest.raises(AssertionError):
        check_option("capi_rdma", "kubeconfig", "/etc/magnum/kubeconfig")
    with pytest.raises(pytest.fail.Exception):
        check_option("drivers", "disabled_driver", "x")
    with pytest.raises(ValueError):
        check_option("capi_rdma", "helm_timeout", "soon")
