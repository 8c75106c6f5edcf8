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
"""Leaf-certificate renewal (features/certificates.py).

The label becomes the KubeadmControlPlane field the driver applies
itself, never a chart value (chart 0.27.0 has none for it); Cluster API's
minimum and the certificates' one-year life bound it. On the bed:
test_lifecycle_control_plane.
"""

import pathlib

import pytest
import yaml

from magnum_capi_rdma.adapters import kube
from magnum_capi_rdma import contract
from magnum_capi_rdma.features import certificates
from magnum_capi_rdma import spec
from magnum_capi_rdma import values

ROOT = pathlib.Path(__file__).resolve().parents[2]


def minimal(**labels):
    with open(ROOT / "examples" / "minimal.yaml") as handle:
        desc = yaml.safe_load(handle)
    desc["cluster_template"]["labels"].update(labels)
    return desc


def build(desc):
    return spec.build_spec(desc, None, {"ib_sriov_cni_in_image": True})


def test_default_renews_thirty_days_before_expiry():
    built = build(minimal())
    assert built.certificates.renewal_days == certificates.DEFAULT_DAYS == 30
    assert values.control_plane_fields(built) == {
        "rolloutBefore": {"certificatesExpiryDays": 30}}


def test_the_label_goes_to_the_control_plane_not_to_the_chart():
    default, longer = build(minimal()), build(minimal(
        certificate_renewal_days="60"))
    assert values.control_plane_fields(longer) == {
        "rolloutBefore": {"certificatesExpiryDays": 60}}
    assert values.build_values(default, "s") == values.build_values(
        longer, "s")
    assert certificates.contribute(longer) == {}


def test_zero_turns_renewal_off():
    built = build(minimal(certificate_renewal_days="0"))
    assert values.control_plane_fields(built) == {}


@pytest.mark.parametrize("raw,reason", [
    ("6", "at least 7 days"),
    ("1", "at least 7 days"),
    ("181", None),
    ("-1", None),
    ("thirty", None),
])
def test_out_of_range_is_refused_by_name(raw, reason):
    with pytest.raises(spec.InvalidSpec) as info:
        build(minimal(certificate_renewal_days=raw))
    [problem] = info.value.problems
    assert problem.label == "certificate_renewal_days"
    assert problem.allowed == "0 (off) or an integer from 7 to 180"
    if reason:
        assert reason in problem.message


def test_a_cluster_may_choose_its_own():
    desc = minimal(certificate_renewal_days="45")
    desc["cluster"]["labels"] = {"certificate_renewal_days": "90"}
    assert build(desc).certificates.renewal_days == 90


def test_the_adapter_names_every_kind_it_may_apply():
    assert set(kube.KIND_NAMES) == set(kube.KINDS)
    assert contract.CHART_CONTROL_PLANE_NAME % "r1" == "r1-control-plane"
