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
"""OS::Magnum::Cluster that waits out Magnum's create race (a Heat plugin).

Magnum's API answers a cluster create at once and leaves the work to the
conductor, which saves the cluster, then its node groups. Heat 27 asks for
the cluster right after the create; in the few milliseconds between the two
saves Magnum answers 400 "Invalid input for field/attribute master_count"
(a cluster without a master node group), or 404 before the first, and Heat
fails the resource. On the local stack that happens to about one stack
create in two. This plugin (loaded through Heat's ``plugin_dirs``) keeps
Heat's resource and treats those two answers as "not there yet" for a few
seconds after the create; any other error, and these ones later, still
fail the resource.
"""

import time

from heat.engine.resources.openstack.magnum import cluster
from magnumclient import exceptions as mc_exc
from oslo_log import log as logging

LOG = logging.getLogger(__name__)
GRACE_SECONDS = 30.0


def _is_race(err):
    if isinstance(err, mc_exc.NotFound):
        return True
    return isinstance(err, mc_exc.BadRequest) and "master_count" in str(err)


class Cluster(cluster.Cluster):
    """Heat's OS::Magnum::Cluster, tolerant of the create race."""

    def handle_create(self):
        self._created_at = time.monotonic()
        return super(Cluster, self).handle_create()

    def check_create_complete(self, id):
        try:
            return super(Cluster, self).check_create_complete(id)
        except (mc_exc.NotFound, mc_exc.BadRequest) as err:
            started = getattr(self, "_created_at", None)
            if started is not None and _is_race(err) and \
                    time.monotonic() - started < GRACE_SECONDS:
                LOG.info("Cluster %s not readable yet (Magnum's create "
                         "race), asking again: %s", id, err)
                return False
            raise


def resource_mapping():
    return {"OS::Magnum::Cluster": Cluster}
