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
"""``magnum-capi-rdma render`` prints what the driver installs.

For each ``examples/*.yaml``: Magnum objects mirroring the description
are made (Magnum's database), the real driver creates the cluster on the
bed (real helm, the test chart), and the values Helm stored for the
release (``helm get values``) must equal render's output for the same
description, with the same site defaults (``[capi_rdma_labels]`` in a
configuration file render reads, and in the driver's configuration) and
the release name Magnum saved.
"""

import copy
import io
import json
import pathlib
import subprocess
import uuid

from magnum.conductor.handlers.common import cert_manager
from magnum import objects
from magnum.objects import fields
from magnum.tests.unit.db import utils as db_utils
from magnum.tests.unit.objects import utils as obj_utils
from oslo_config import cfg
import pytest
import yaml

from magnum_capi_rdma.cmd import cli
from magnum_capi_rdma import magnum_objects
from magnum_capi_rdma.services import runtime
from tests.support import lifecycle

EXAMPLES = sorted((pathlib.Path(lifecycle.ROOT) / "examples").glob("*.yaml"))

#: Site defaults: one no example sets (so it always shows), one an example
#: overrides (macvlan-gpu's boot_volume_size: the template wins).
SITE_DEFAULTS = {"octavia_lb_algorithm": "LEAST_CONNECTIONS",
                 "boot_volume_size": "50"}
#: Site settings the examples need (ib-sriov: the CNI is in the image).
SITE_OPTIONS = {"ib_sriov_cni_in_image": True}

#: What Magnum fills in that a description may leave out: the cluster's
#: identity, Magnum's defaults of its boolean fields and create timeout,
#: a node group's role and minimum count.
MAGNUM_FILLS = {
    "cluster_template": {"floating_ip_enabled", "master_lb_enabled"},
    "cluster": {"uuid", "project_id", "create_timeout",
                "floating_ip_enabled", "master_lb_enabled"},
    "node_groups": {"role", "min_node_count"},
}

_TEMPLATE_BOOLEANS = {"floating_ip_enabled": True, "master_lb_enabled": False}
_NULLABLE_CLUSTER = ("flavor_id", "master_flavor_id", "keypair",
                     "fixed_network", "fixed_subnet")
_GROUP_FIELDS = ("flavor_id", "image_id", "max_node_count")


def equivalent(example, described):
    """The example as the driver saw it; and the fields Magnum filled in.

    Every field the example sets must be what the driver described (the
    project is the test's own); a field it leaves out may only be one
    Magnum fills in.
    """
    out = copy.deepcopy(example)
    out["cluster"]["project_id"] = described["cluster"]["project_id"]
    filled = {}
    pairs = [("cluster_template", out["cluster_template"],
              described["cluster_template"]),
             ("cluster", out["cluster"], described["cluster"])]
    pairs += [("node_groups", mine, theirs) for mine, theirs in zip(
        out.get("node_groups") or [], described["node_groups"])]
    assert len(out.get("node_groups") or []) == len(
        described["node_groups"])
    for section, mine, theirs in pairs:
        for key, value in theirs.items():
            if key not in mine:
                if value not in (None, {}):
                    mine[key] = value
                    filled.setdefault(section, set()).add(key)
                continue
            assert value == mine[key], (section, key, value, mine[key])
    return out, filled


@pytest.mark.usefixtures("simulator")
class TestRenderMatchesDriver(lifecycle.LifecycleBase):

    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path):
        self.tmp = tmp_path

    def setUp(self):
        super().setUp()
        self.config(group="capi_rdma_labels", **SITE_DEFAULTS)
        for name, value in SITE_OPTIONS.items():
            try:
                self.config(group="capi_rdma", **{name: value})
            except cfg.NoSuchOptError:
                pass   # an option this version of the driver lacks
        options = ["[capi_rdma]"] + ["%s = %s" % (k, str(v).lower())
                                     for k, v in SITE_OPTIONS.items()]
        defaults = ["[capi_rdma_labels]"] + ["%s = %s" % item for item in
                                             SITE_DEFAULTS.items()]
        self.site_conf = self.tmp / "magnum.conf"
        self.site_conf.write_text("\n".join(options + defaults) + "\n")
        # The same site without its label defaults.
        self.bare_conf = self.tmp / "bare.conf"
        self.bare_conf.write_text("\n".join(options) + "\n")

    # -- Magnum's objects of a description --

    def cluster_from(self, desc):
        tdesc = desc["cluster_template"]
        cdesc = desc["cluster"]
        template = obj_utils.create_test_cluster_template(
            self.context, uuid=str(uuid.uuid4()),
            name="t-" + uuid.uuid4().hex[:6],
            project_id=self.context.project_id,
            labels=dict(tdesc.get("labels") or {}))
        for name in magnum_objects.TEMPLATE_FIELDS:
            setattr(template, name, tdesc.get(
                name, _TEMPLATE_BOOLEANS.get(name)))
        template.save()
        kw = dict(
            uuid=cdesc.get("uuid") or str(uuid.uuid4()),
            name=cdesc["name"], cluster_template_id=template.uuid,
            labels=dict(cdesc.get("labels") or {}),
            project_id=self.context.project_id,
            user_id=self.context.user_id,
            node_count=cdesc.get("node_count", 1),
            master_count=cdesc.get("master_count", 1),
            create_timeout=cdesc.get("create_timeout", 60),
            floating_ip_enabled=cdesc.get(
                "floating_ip_enabled", template.floating_ip_enabled),
            master_lb_enabled=cdesc.get(
                "master_lb_enabled", template.master_lb_enabled),
            stack_id=None, status=fields.ClusterStatus.CREATE_IN_PROGRESS,
            coe_version=None, api_address=None, master_addresses=[],
            node_addresses=[], worker_name="default-worker",
            master_name="default-master")
        for name in _NULLABLE_CLUSTER:
            kw[name] = cdesc.get(name)
        cluster = obj_utils.get_test_cluster(self.context, **kw)
        db_utils.create_nodegroups_for_cluster(
            cluster_id=cluster.uuid, **dict(kw, flavor_id=None,
                                            master_flavor_id=None,
                                            image_id=None))
        cluster.create()
        for group in desc.get("node_groups") or ():
            values = db_utils.get_test_nodegroup(
                cluster_id=cluster.uuid, uuid=str(uuid.uuid4()),
                name=group["name"], node_count=group.get("node_count", 1),
                role=group.get("role", "worker"), is_default=False,
                labels=dict(group.get("labels") or {}),
                min_node_count=group.get("min_node_count", 0),
                project_id=cluster.project_id, version=None,
                status=fields.ClusterStatus.CREATE_IN_PROGRESS,
                **{name: group.get(name) for name in _GROUP_FIELDS})
            del values["id"]    # the database's, not the helper's 12
            objects.NodeGroup(self.context, **values).create()
        cert_manager.generate_certificates_to_cluster(cluster,
                                                      context=self.context)
        cluster.save()
        return objects.Cluster.get_by_uuid(self.context, cluster.uuid)

    # -- the two sides --

    def installed_values(self, cluster):
        """What Helm stored for the release: the driver's values."""
        done = subprocess.run(
            [self.helm_bin, "get", "values", cluster.stack_id,
             "--namespace", self.namespace(cluster), "--output", "json",
             "--kubeconfig", self.bed.kubeconfig],
            capture_output=True, text=True, timeout=60, check=True)
        return json.loads(done.stdout)

    def render(self, desc, *options):
        path = self.tmp / "desc.yaml"
        path.write_text(yaml.safe_dump(desc))
        out, err = io.StringIO(), io.StringIO()
        code = cli.main(["render", str(path), *options], out=out, err=err)
        out, err = out.getvalue(), err.getvalue()
        assert code == 0, err
        return yaml.safe_load(out)

    def test_render_of_each_example_is_what_the_driver_installs(self):
        assert len(EXAMPLES) >= 3, EXAMPLES
        for path in EXAMPLES:
            example = yaml.safe_load(path.read_text())
            cluster = self.cluster_from(example)
            passed = []
            helm = runtime.shared().helm
            real = helm.install_or_upgrade

            def capture(release, namespace, values, *args, **kwargs):
                passed.append(copy.deepcopy(values))
                return real(release, namespace, values, *args, **kwargs)

            helm.install_or_upgrade = capture
            try:
                self.driver.create_cluster(self.context, cluster, 30)
            finally:
                del helm.install_or_upgrade
            cluster.save()
            installed = self.installed_values(cluster)
            assert [installed] == passed, path.name

            desc, filled = equivalent(
                example, magnum_objects.describe(cluster))
            for section, names in filled.items():
                assert names <= MAGNUM_FILLS[section], (path.name, section,
                                                        names)
            rendered = self.render(desc, "--config-file",
                                   str(self.site_conf),
                                   "--release", cluster.stack_id)
            assert rendered == installed, path.name
            # The site defaults took part: without them render differs.
            plain = self.render(desc, "--config-file", str(self.bare_conf),
                                "--release", cluster.stack_id)
            assert plain != installed, path.name

            self.driver.delete_cluster(self.context, cluster)
            cluster.status = fields.ClusterStatus.DELETE_IN_PROGRESS
            cluster.save()
            self.wait_status(cluster, fields.ClusterStatus.DELETE_COMPLETE)
