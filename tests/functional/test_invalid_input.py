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
"""Generated invalid labels, through the real driver on the real bed.

Each generated label set holds at least one value that cannot be valid;
``create_cluster`` must refuse it with InvalidClusterLabels naming the
label, before any namespace, Secret, release or application credential
exists. A few dozen examples (each makes Magnum objects and asks the
apiserver); the pure path gets thousands in tests/unit/test_properties.
"""

import json
import os
import uuid

from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st
import pytest

from magnum_capi_rdma import driver as capi_driver
from tests.support import lifecycle
from tests.support import strategies as props

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
ARTIFACTS = os.path.join(ROOT, "artifacts", "reliability")
EXAMPLES = int(os.environ.get("MAGNUM_CAPI_RDMA_FUNCTIONAL_EXAMPLES", "25"))

# Labels with a value no parser accepts, so every example is invalid.
BROKEN = {
    "rdma_mode": st.sampled_from(["infiniband", "roce", "mac vlan"]),
    "rdma_mtu": st.sampled_from(["huge", "-1", "99999999"]),
    "kube_tag": st.sampled_from(["latest", "v1", "{{ .Values.x }}"]),
    "gpu_operator_enabled": st.sampled_from(["maybe", "2"]),
    "rdma_ip_range": st.sampled_from(["10.0.0.0/99", "not-a-cidr"]),
}


@st.composite
def invalid_labels(draw):
    name = draw(st.sampled_from(sorted(BROKEN)))
    labels = draw(props.label_dicts(clean=True))
    labels.update({k: v for k, v in draw(props.label_dicts()).items()
                   if isinstance(k, str) and isinstance(v, str)})
    labels[name] = draw(BROKEN[name])
    return name, labels


@pytest.mark.usefixtures("simulator")
class TestInvalidInputCreatesNothing(lifecycle.LifecycleBase):

    tried = 0

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow,
                                     HealthCheck.function_scoped_fixture])
    @given(invalid_labels())
    def _check_one(self, example):
        name, labels = example
        TestInvalidInputCreatesNothing.tried += 1
        # A project of its own: one example's leftovers cannot hide
        # another's.
        self.context.project_id = "p" + uuid.uuid4().hex[:12]
        cluster = self.make_cluster(labels=labels, name="bad")
        with pytest.raises(capi_driver.InvalidClusterLabels) as info:
            self.driver.create_cluster(self.context, cluster, 30)
        message = str(info.value)
        assert name in message, message[:300]
        assert "Traceback" not in message
        ns = self.namespace(cluster)
        assert not self.namespace_alive(ns)
        assert lifecycle.InMemoryKeystone.credentials == {}

    def test_generated_invalid_labels_create_nothing(self):
        self._check_one()
        tried = TestInvalidInputCreatesNothing.tried
        print("invalid-input functional cases: %d" % tried)
        os.makedirs(ARTIFACTS, exist_ok=True)
        with open(os.path.join(ARTIFACTS, "invalid-input.json"), "w") as f:
            json.dump({"cases": tried, "resources_created": 0}, f)
        assert tried >= min(EXAMPLES, 10)
