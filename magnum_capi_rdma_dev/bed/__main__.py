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
"""The local management cluster as a plain command (development only).

From the repository root (or with it on ``PYTHONPATH``)::

    python -m magnum_capi_rdma_dev.bed up --state DIR    # start (idempotent)
    python -m magnum_capi_rdma_dev.bed status --state DIR
    python -m magnum_capi_rdma_dev.bed down --state DIR  # stop only our PIDs

``up`` starts etcd and kube-apiserver detached, writes ``DIR/kubeconfig``
and ``DIR/pids`` and prints the kubeconfig path. Add ``--crds`` to install
the CRDs too (Cluster API's and CAPO's own from ``../shared/upstream``,
generated ones without it: see ``simulator/crds.py``), and ``--rbac`` to
apply etc/rbac and write ``DIR/driver.kubeconfig`` for the driver's
least-privilege service account (printed instead of the admin
kubeconfig).
"""

import argparse
import os
import sys

from magnum_capi_rdma_dev.bed import cluster
from magnum_capi_rdma_dev.bed import tools


def _loaded(state):
    if not os.path.exists(os.path.join(state, "bed.json")):
        return None
    return cluster.ManagementCluster.load(state)


def _install_crds(bed):
    from kubernetes import config

    from magnum_capi_rdma_dev.simulator import crds
    from magnum_capi_rdma_dev import upstream

    found = upstream.find()
    api_client = config.new_client_from_config(bed.kubeconfig)
    try:
        crds.install_crds(api_client, upstream=found)
    finally:
        api_client.close()
    if found:
        print("CRDs: Cluster API's and CAPO's from %s" % found,
              file=sys.stderr)
    else:
        print("CRDs: generated ones (%s)" % upstream.missing_message(),
              file=sys.stderr)


def up(args):
    bed = _loaded(args.state)
    if bed is not None and bed.healthy():
        print("already up: %s (pids %s)" % (
            bed.server, " ".join(map(str, bed.pids().values()))),
            file=sys.stderr)
    else:
        if bed is not None:
            bed.stop()  # whatever is left of an earlier run, by PID
        else:
            bed = cluster.ManagementCluster(args.state, detach=True)
        bed.start(timeout=args.timeout)
        print("started %s in %.1fs" % (bed.server, bed.started_in),
              file=sys.stderr)
    if args.crds:
        _install_crds(bed)
    if args.rbac:
        from kubernetes import config

        from magnum_capi_rdma_dev.bed import rbac

        api_client = config.new_client_from_config(bed.kubeconfig)
        try:
            print(rbac.driver_kubeconfig(
                bed, api_client,
                os.path.join(args.state, "driver.kubeconfig")))
        finally:
            api_client.close()
        return 0
    print(bed.kubeconfig)
    return 0


def down(args):
    bed = _loaded(args.state)
    if bed is None:
        print("nothing to stop in %s" % args.state, file=sys.stderr)
        return 0
    pids = bed.pids()
    bed.stop()
    print("stopped %s" % (" ".join(
        "%s(%d)" % item for item in sorted(pids.items())) or "nothing"),
        file=sys.stderr)
    return 0


def status(args):
    bed = _loaded(args.state)
    if bed is None:
        print("down (no bed in %s)" % args.state)
        return 1
    if bed.healthy():
        print("up: %s kubeconfig=%s pids=%s" % (
            bed.server, bed.kubeconfig,
            ",".join("%s:%d" % i for i in sorted(bed.pids().items()))))
        return 0
    alive = {n: p for n, p in bed.pids().items() if cluster.pid_alive(p)}
    print("not healthy: running=%s" % (alive or "none"))
    return 1


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m magnum_capi_rdma_dev.bed",
        description="A local etcd + kube-apiserver on 127.0.0.1.")
    parser.add_argument("command", choices=("up", "down", "status"))
    parser.add_argument("--state", required=True,
                        help="directory for certs, data, logs, kubeconfig")
    parser.add_argument(
        "--timeout", type=float,
        default=cluster.ManagementCluster.READY_TIMEOUT,
        help="(up) seconds to wait for /readyz; the wait ends as soon as "
        "the API server is ready (default: %(default)s, long enough for a "
        "busy machine)")
    parser.add_argument("--crds", action="store_true",
                        help="(up) also install the CRDs (Cluster API's "
                        "and CAPO's from ../shared/upstream when there)")
    parser.add_argument("--rbac", action="store_true",
                        help="(up) also apply etc/rbac and write "
                        "driver.kubeconfig for its service account")
    args = parser.parse_args(argv)
    args.state = os.path.abspath(args.state)
    try:
        return {"up": up, "down": down, "status": status}[args.command](args)
    except (tools.ToolMissing, cluster.BedError, OSError,
            ValueError) as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
