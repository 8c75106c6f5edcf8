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
"""The NVIDIA GPU operator, with GPUDirect RDMA when RDMA is on too.

The chart's defaults enable the GPU operator; it is set explicitly either
way.
"""


def contribute(spec):
    operator = {"enabled": spec.gpu_operator_enabled}
    if spec.gpu_operator_enabled and spec.gpu_direct_rdma_enabled:
        operator["release"] = {"values": {"driver": {"rdma": {
            "enabled": True,
            # The network operator's DOCA driver container provides the
            # peer memory client unless the image carries its own OFED.
            "useHostMofed": not spec.rdma.ofed_enabled,
        }}}}
    return {"addons": {"nvidiaGPUOperator": operator}}
