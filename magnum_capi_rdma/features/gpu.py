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

import dataclasses

from magnum_capi_rdma import labels

DOC_ORDER = 8
AFTER = ("rdma",)
_GPU = dict(category="gpu")

LABELS = (
    labels.label(
        "gpu_operator_enabled", "boolean", False,
        "Install the NVIDIA GPU operator (drivers, device plugin, DCGM) on "
        "nodes with NVIDIA GPUs.", **_GPU),
    labels.label(
        "gpu_direct_rdma_enabled", "boolean", None,
        "GPUDirect RDMA (peer memory between GPU and HCA). Unset: on when "
        "both the GPU operator and RDMA are on.", **_GPU),
)


@dataclasses.dataclass(frozen=True)
class Gpu:
    operator_enabled: bool
    direct_rdma: bool


def cluster_part(ctx):
    gpu = ctx.label("gpu_operator_enabled")
    rdma = ctx.parts["rdma"].enabled
    gdr = ctx.label("gpu_direct_rdma_enabled")
    if gdr is None:
        gdr = bool(gpu and rdma)
    elif gdr and not (gpu and rdma):
        ctx.problem("gpu_direct_rdma_enabled", True,
                    "true only with gpu_operator_enabled and an RDMA mode",
                    "GPUDirect RDMA needs both GPUs and RDMA")
    return Gpu(gpu, gdr)


def contribute(spec):
    operator = {"enabled": spec.gpu.operator_enabled}
    if spec.gpu.operator_enabled and spec.gpu.direct_rdma:
        operator["release"] = {"values": {"driver": {"rdma": {
            "enabled": True,
            # The network operator's DOCA driver container provides the
            # peer memory client unless the image carries its own OFED.
            "useHostMofed": not spec.rdma.ofed_enabled,
        }}}}
    return {"addons": {"nvidiaGPUOperator": operator}}
