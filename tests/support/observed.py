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
"""Builders of the status function's input: Cluster API objects, views.

A release ``R`` whose objects are ready by default (``ready_observed``),
each builder taking what a test changes. Used by the status and health
unit tests.
"""

import datetime

from magnum_capi_rdma import status as st

R = "c-1234"
T0 = datetime.datetime(2026, 11, 1, 12, 0, tzinfo=datetime.timezone.utc)


def obj(name, spec=None, status=None, labels=None):
    return {"metadata": {"name": name, "labels": labels or {}},
            "spec": spec or {}, "status": status or {}}


def cluster(ready=True, phase="Provisioned", failure=None, host="192.0.2.10"):
    conds = [{"type": t, "status": "True" if ready else "False"}
             for t in ("InfrastructureReady", "ControlPlaneReady", "Ready")]
    status = {"phase": phase, "conditions": conds}
    if failure:
        status["failureMessage"] = failure
    return obj(R, {"controlPlaneEndpoint": {"host": host, "port": 6443}},
               status)


def osc(ready=True, failure=None):
    status = {"ready": ready}
    if failure:
        status.update(failureReason="CreateError", failureMessage=failure)
    return obj(R, status=status)


def kcp(want=3, ready=3, version="v1.33.1", have="v1.33.1", failure=None):
    status = {"replicas": want, "readyReplicas": ready,
              "updatedReplicas": ready, "version": have,
              "initialized": True, "ready": ready > 0}
    if failure:
        status["failureMessage"] = failure
    return obj(R + "-control-plane", {"replicas": want, "version": version},
               status)


def md(ng, want=2, ready=2, phase="Running"):
    return obj("%s-%s" % (R, ng), {"replicas": want},
               {"replicas": want, "readyReplicas": ready,
                "updatedReplicas": ready, "phase": phase},
               labels={"capi.stackhpc.com/node-group": ng})


def machine(name, ng=None, ip="10.0.0.5", phase="Running", failure=None):
    labels = {"capi.stackhpc.com/cluster": R}
    if ng:
        labels["capi.stackhpc.com/node-group"] = ng
    else:
        labels["cluster.x-k8s.io/control-plane"] = ""
    status = {"phase": phase,
              "addresses": [{"type": "InternalIP", "address": ip}]}
    if failure:
        status.update(failureReason="InsufficientResources",
                      failureMessage=failure)
    return obj(name, {"providerID": "openstack:///x"}, status, labels)


def addon(name, phase="Deployed", failure=None):
    status = {"phase": phase}
    if failure:
        status["failureMessage"] = failure
    return obj("%s-%s" % (R, name), status=status)


def ready_observed(**over):
    base = dict(
        cluster=cluster(), openstack_cluster=osc(), control_plane=kcp(),
        machine_deployments=(md("default-worker"),),
        machines=(machine("cp-0", ip="10.0.0.1"),
                  machine("w-0", "default-worker", "10.0.0.2"),
                  machine("w-1", "default-worker", "10.0.0.3")),
        addons=(addon("cni"), addon("nic-cluster-policy")))
    base.update(over)
    return st.Observed(**base)


NGS = (st.NodeGroupView("default-master", "master", 3, st.CREATE_IN_PROGRESS),
       st.NodeGroupView("default-worker", "worker", 2, st.CREATE_IN_PROGRESS,
                        is_default=True))


def view(status=st.CREATE_IN_PROGRESS, started=T0, timeout=60, ngs=NGS):
    return st.MagnumView(release=R, status=status, node_groups=ngs,
                         operation_started=started, timeout_minutes=timeout)
