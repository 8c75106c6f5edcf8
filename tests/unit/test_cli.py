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
"""The magnum-capi-rdma command: render, labels-doc, and its errors;
whole-template golden files (REGEN_GOLDEN=1 rewrites them)."""

import io
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

from magnum_capi_rdma.cmd import cli
from magnum_capi_rdma import features

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
GOLDEN = pathlib.Path(__file__).resolve().parent / "golden"
#: A site whose images carry the ib-sriov CNI (rdma_mode=ib-sriov needs it).
SITE_CONF = GOLDEN / "site.conf"


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def write(tmp_path, text):
    path = tmp_path / "desc.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("name", ["minimal", "macvlan-gpu", "ib-sriov"])
@pytest.mark.parametrize("kind", ["values", "manifests"])
def test_golden(name, kind):
    argv = ["render", str(EXAMPLES / ("%s.yaml" % name)),
            "--config-file", str(SITE_CONF)]
    if kind == "manifests":
        argv.append("--manifests")
    code, out, err = run(*argv)
    assert code == 0, err
    golden = GOLDEN / ("%s.%s.yaml" % (name, kind))
    if os.environ.get("REGEN_GOLDEN") == "1":
        golden.write_text(out)
    assert out == golden.read_text()


def test_render_values_parse_back():
    code, out, _ = run("render", str(EXAMPLES / "macvlan-gpu.yaml"))
    vals = yaml.safe_load(out)
    assert vals["cloudCredentialsSecretName"] == "ml-team-cloud-credentials"
    assert [g["name"] for g in vals["nodeGroups"]] == ["default-worker",
                                                       "gpu-rdma"]
    assert "rdma-network" in vals["addons"]["custom"]


def test_render_shows_the_fields_the_driver_applies_after_helm(tmp_path):
    """The preview includes what the driver writes beside the chart."""
    code, out, err = run("render", str(EXAMPLES / "minimal.yaml"),
                         "--release", "r1")
    assert code == 0 and "rolloutBefore" not in out
    assert ("note: the driver also applies spec.rolloutBefore to "
            "KubeadmControlPlane r1-control-plane itself") in err
    code, out, err = run("render", str(EXAMPLES / "minimal.yaml"),
                         "--release", "r1", "--control-plane-fields")
    assert (code, err) == (0, "")
    assert yaml.safe_load(out) == {
        "fieldManager": "magnum-capi-rdma", "kind": "KubeadmControlPlane",
        "name": "r1-control-plane",
        "spec": {"rolloutBefore": {"certificatesExpiryDays": 30}}}
    desc = yaml.safe_load((EXAMPLES / "minimal.yaml").read_text())
    desc["cluster_template"].setdefault("labels", {})[
        "certificate_renewal_days"] = "0"
    off = write(tmp_path, yaml.safe_dump(desc))
    code, out, err = run("render", str(off), "--control-plane-fields")
    assert (code, yaml.safe_load(out)["spec"]) == (0, {})
    code, out, err = run("render", str(off))
    assert (code, err) == (0, "")


def test_render_credentials_secret_option():
    code, out, _ = run("render", str(EXAMPLES / "minimal.yaml"),
                       "--credentials-secret", "other")
    assert code == 0
    assert yaml.safe_load(out)["cloudCredentialsSecretName"] == "other"


def test_render_manifests_are_a_yaml_stream():
    code, out, _ = run("render", str(EXAMPLES / "ib-sriov.yaml"),
                       "--manifests", "--config-file", str(SITE_CONF))
    kinds = [doc["kind"] for doc in yaml.safe_load_all(out)]
    assert kinds == ["NicClusterPolicy", "IPPool",
                     "NetworkAttachmentDefinition"]


def test_minimal_has_no_manifests():
    code, out, _ = run("render", str(EXAMPLES / "minimal.yaml"),
                       "--manifests")
    assert code == 0 and out == ""


def test_invalid_labels_one_line_each_exit_1(tmp_path):
    desc = yaml.safe_load((EXAMPLES / "macvlan-gpu.yaml").read_text())
    desc["cluster_template"]["labels"].update(
        rdma_hca_max="many", octavia_lb_healthcheck="perhaps",
        rdma_mdoe="x")
    code, out, err = run("render", write(tmp_path, yaml.safe_dump(desc)))
    assert code == 1
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 4
    for name, line in zip(["octavia_lb_healthcheck", "rdma_hca_max",
                           "rdma_mdoe"], lines):
        assert name in line and line.startswith("error: template: ")
    assert "did you mean 'rdma_mode'" in lines[2]
    assert "3 problem(s)" in lines[3]
    assert "Traceback" not in err


def test_missing_file_exit_2(tmp_path):
    code, out, err = run("render", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert err.count("\n") == 1 and "cannot read" in err


def test_bad_yaml_exit_2(tmp_path):
    code, _, err = run("render", write(tmp_path, "a: [b\n"))
    assert code == 2
    assert "not valid YAML" in err and "line" in err


def test_not_a_mapping_exit_1(tmp_path):
    code, _, err = run("render", write(tmp_path, "- 1\n"))
    assert code == 1 and "description" in err


def test_usage_error_exit_2():
    code, _, err = run("render")
    assert code == 2 and "usage" in err


def test_labels_doc_lists_every_label(tmp_path):
    target = tmp_path / "labels.rst"
    code, _, _ = run("labels-doc", "--output", str(target))
    assert code == 0
    text = target.read_text()
    for label in features.LABELS.values():
        assert "``%s``" % label.name in text
        assert "magnum_capi_rdma.features.%s" % label.module in text
    for category in features.CATEGORIES:
        assert category[0].upper() + category[1:] in text


def test_labels_doc_is_valid_rst():
    docutils_core = pytest.importorskip("docutils.core")
    text = cli.labels_rst()
    errors = io.StringIO()
    docutils_core.publish_doctree(text, settings_overrides={
        "warning_stream": errors, "report_level": 2})
    assert errors.getvalue() == ""


def test_console_script_runs_in_a_subprocess():
    result = subprocess.run(
        [sys.executable, "-m", "magnum_capi_rdma.cmd.cli", "render",
         str(EXAMPLES / "minimal.yaml")],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout)["kubernetesVersion"] == "1.33.1"


def test_committed_label_reference_is_current():
    """The committed label reference matches the label table.

    Regenerate with REGEN_GOLDEN=1 or ``magnum-capi-rdma labels-doc -o
    doc/source/user/labels-intro.rst``.
    """
    committed = ROOT / "doc" / "source" / "user" / "labels-intro.rst"
    if os.environ.get("REGEN_GOLDEN") == "1":
        committed.write_text(cli.labels_rst())
    assert committed.read_text() == cli.labels_rst()


@pytest.mark.parametrize("value", ["{% endraw %}{{ lookup }}", "a\nb: c"])
def test_hostile_label_value_refused(tmp_path, value):
    desc = yaml.safe_load((EXAMPLES / "macvlan-gpu.yaml").read_text())
    desc["cluster_template"]["labels"]["rdma_network"] = value
    code, out, err = run("render", write(tmp_path, yaml.safe_dump(desc)),
                         "--manifests")
    assert code == 1 and out == ""
    assert "rdma_network" in err.splitlines()[0]


def test_a_file_that_is_not_utf8_is_one_clear_line(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"cluster:\n  name: caf\xe9\n")
    code, out, err = run("render", str(path))
    assert code == 2
    assert out == ""
    assert err.strip().endswith("is not UTF-8 text (byte 20)")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_path_with_a_nul_byte_is_one_clear_line():
    # Found by the property tests: open() raises ValueError for it.
    code, out, err = run("render", "desc\x00.yaml")
    assert code == 2 and out == ""
    assert "not a valid file name" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_ib_sriov_needs_a_site_whose_images_carry_its_cni():
    code, _, err = run("render", str(EXAMPLES / "ib-sriov.yaml"))
    assert code == 1
    assert "ib_sriov_cni_in_image" in err
