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
"""What an upgrade may do (services/upgrade.py), on plain objects.

The same Kubernetes version is an upgrade when something else the driver
installs changes (machine image, chart version, add-on versions, the
fields it owns); a template that changes nothing is refused; a node
group never runs a newer version than the control plane. A refusal
changes nothing in memory either: Magnum's conductor saves the cluster
after a failed upgrade. (On the bed: test_lifecycle_control_plane.)
"""

import types

from magnum.common import exception as magnum_exception
import pytest

from magnum_capi_rdma.services import upgrade

CLUSTER_UUID = "6f1c1a7e-0000-4000-8000-000000000001"


class Row(types.SimpleNamespace):
    """A Magnum row: its fields, and how often it was saved."""

    saves = 0

    def save(self):
        self.saves += 1


def template(uuid="t1", image="img", **labels):
    return types.SimpleNamespace(
        uuid=uuid, image_id=image, master_flavor_id="m1", flavor_id="m2",
        labels=dict({"kube_tag": "v1.33.1"}, **labels))


def ng(name, role="worker", is_default=False, **kw):
    fields = dict(uuid="u-" + name, name=name, role=role,
                  is_default=is_default, node_count=1, labels={},
                  status="CREATE_COMPLETE", flavor_id=None, image_id=None,
                  min_node_count=None, max_node_count=None, version=None,
                  node_labels=None, node_taints=None)
    fields.update(kw)
    return Row(**fields)


def cluster(current=None, coe_version="v1.33.1", extra=()):
    current = current or template()
    groups = [ng("default-master", "master", True),
              ng("default-worker", is_default=True)] + list(extra)
    return Row(uuid=CLUSTER_UUID, name="c1", project_id="p1",
               labels=dict(current.labels), cluster_template=current,
               cluster_template_id=current.uuid, nodegroups=groups,
               coe_version=coe_version, stack_id="c1-6f1c1a7e00",
               master_count=1, node_count=1)


def default_worker(c):
    return c.nodegroups[1]


def refused(c, new, nodegroup):
    before = (dict(c.labels), c.cluster_template_id,
              [(g.version, g.image_id) for g in c.nodegroups])
    with pytest.raises(magnum_exception.NotSupported) as info:
        upgrade.prepare(c, new, nodegroup)
    assert (dict(c.labels), c.cluster_template_id,
            [(g.version, g.image_id) for g in c.nodegroups]) == before
    return str(info.value)


def test_a_template_that_changes_nothing_is_refused():
    c = cluster()
    message = refused(c, template("t2"), default_worker(c))
    assert "already runs" in message
    assert "nothing else to change" in message


@pytest.mark.parametrize("labels,image", [
    ({"calico_tag": "v3.30.2"}, "img"),
    ({"cloud_provider_tag": "v1.33.0"}, "img"),
    ({"capi_helm_chart_version": "0.26.0"}, "img"),
    ({"certificate_renewal_days": "45"}, "img"),
    ({}, "img-2"),
], ids=["calico", "cloud-provider", "chart", "cert-renewal", "image"])
def test_same_version_with_other_changes_is_an_upgrade(labels, image):
    c = cluster()
    new = template("t2", image, **labels)
    change = upgrade.prepare(c, new, default_worker(c))
    assert change.spec.kube_version == "1.33.1"
    assert c.cluster_template_id == "t2"
    for name, value in labels.items():
        assert c.labels[name] == value
    assert [g.version for g in change.rows] == ["v1.33.1", "v1.33.1"]
    assert [g.image_id for g in change.rows] == [image, image]
    change.save()
    assert c.saves == 1 and all(g.saves == 1 for g in change.rows)


def test_other_changes_never_excuse_a_skipped_minor():
    c = cluster()
    message = refused(c, template("t2", kube_tag="v1.35.0",
                                  calico_tag="v3.30.2"), default_worker(c))
    assert "Skipping minor versions" in message


def test_a_node_group_never_runs_newer_than_the_control_plane():
    lag = ng("lag", version="v1.33.1", image_id="img-133")
    current = template(kube_tag="v1.34.2")
    c = cluster(current, coe_version="v1.34.2", extra=[lag])
    message = refused(c, template("t2", kube_tag="v1.34.3"), lag)
    assert "node group lag to v1.34.3, newer than the control plane " \
        "(v1.34.2)" in message


def test_an_upgrade_scoped_to_one_node_group():
    lag = ng("lag", version="v1.33.1", image_id="img-133")
    current = template(kube_tag="v1.34.2")
    c = cluster(current, coe_version="v1.34.2", extra=[lag])
    change = upgrade.prepare(c, current, lag)
    assert [g.name for g in change.rows] == ["lag"]
    assert (lag.version, lag.image_id) == ("v1.34.2", "img")
    assert c.cluster_template_id == "t1"
    group = change.spec.node_group("lag")
    assert group.kube_version == "1.34.2" and group.image == "img"
    # Done: the same version on the same image is refused; on another
    # image (the group's row says so) it is an upgrade.
    assert "already runs" in refused(c, current, lag)
    lag.image_id = "img-old"
    change = upgrade.prepare(c, current, lag)
    assert lag.image_id == "img"
