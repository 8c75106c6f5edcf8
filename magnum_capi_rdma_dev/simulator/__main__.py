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
"""``python -m magnum_capi_rdma_dev.simulator``: the simulator as a command.

A SIMULATION for development and tests (the local stack, the test bed):
run it from the repository root or with the root on ``PYTHONPATH``; it is
not installed with the driver.

Reconciles until SIGTERM or SIGINT. The faults file is re-read whenever it
changes, so faults can be switched on and off while it runs.
"""

import argparse
import logging
import os
import signal
import sys

from magnum_capi_rdma_dev.simulator import faults as faults_mod

LOG = logging.getLogger("magnum_capi_rdma_dev.simulator")


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m magnum_capi_rdma_dev.simulator",
        description="Simulate the Cluster API, CAPO, kubeadm control plane "
        "and addon controllers on a management cluster that runs only an "
        "API server (tests and the local stack only).")
    parser.add_argument("--kubeconfig", required=True,
                        help="kubeconfig of the management cluster")
    parser.add_argument("--install-crds", action="store_true",
                        help="create or update the CRDs first")
    parser.add_argument("--namespace", default=None,
                        help="only this namespace (default: all)")
    parser.add_argument("--faults", metavar="FILE", default=None,
                        help="YAML mapping of cluster name (or '*') to "
                        "faults; re-read when it changes")
    parser.add_argument("--delay", metavar="NAME=SECONDS", action="append",
                        default=[], help="override a delay (%s); "
                        "repeatable" % ", ".join(sorted(
                            faults_mod.DEFAULT_DELAYS)))
    parser.add_argument("--interval", type=float, default=0.5,
                        help="seconds between reconcile passes "
                        "(default 0.5)")
    parser.add_argument("--workload-kubeconfig", metavar="FILE",
                        default=None, help="kubeconfig to publish as every "
                        "workload cluster's kubeconfig Secret (default: "
                        "one pointing at https://127.0.0.1:1)")
    parser.add_argument("--workload-servers", metavar="DIR", default=None,
                        help="give every cluster a real workload API "
                        "server (etcd + kube-apiserver, data in DIR/<ns>/"
                        "<cluster>) on which nodes, the network operator "
                        "and the RDMA self-test's pods are simulated; its "
                        "kubeconfig Secret points there (needs the bed's "
                        "binaries; about 320 MiB per cluster)")
    parser.add_argument("--config-file", action="append", default=[],
                        help="oslo.config file with [capi_rdma] "
                        "*_api_version options; repeatable")
    parser.add_argument("--once", action="store_true",
                        help="one reconcile pass, then exit")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def parse_delays(items):
    delays = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            delays[name.strip()] = float(value)
        except ValueError:
            raise faults_mod.FaultsError(
                "--delay must look like NAME=SECONDS, got %r" % item
            ) from None
    return faults_mod.validate_delays(delays)


class FaultsFile(object):
    """A faults file, re-read when its modification time changes."""

    def __init__(self, path):
        self.path = path
        self.mtime = None

    def load(self):
        self.mtime = self._mtime()
        return faults_mod.load_faults(self.path) if self.path else {}

    def _mtime(self):
        try:
            return os.stat(self.path).st_mtime_ns if self.path else None
        except OSError:
            return None

    def reload_into(self, sim):
        if not self.path or self._mtime() == self.mtime:
            return
        try:
            sim.replace_faults(self.load())
            LOG.info("faults reloaded from %s", self.path)
        except faults_mod.FaultsError as exc:
            LOG.error("%s (keeping the previous faults)", exc)


def build(args):
    from kubernetes import config

    from magnum_capi_rdma import conf
    from magnum_capi_rdma_dev.simulator import core

    if args.config_file:
        conf.cfg.CONF([], project="magnum", default_config_files=list(
            args.config_file))
    if not os.path.isfile(args.kubeconfig):
        raise faults_mod.FaultsError("kubeconfig %s: no such file"
                                     % args.kubeconfig)
    workload = None
    if args.workload_kubeconfig:
        try:
            with open(args.workload_kubeconfig) as handle:
                workload = handle.read()
        except OSError as exc:
            raise faults_mod.FaultsError("workload kubeconfig %s: %s" % (
                args.workload_kubeconfig, exc.strerror)) from None
    faults_file = FaultsFile(args.faults)
    faults = faults_file.load()
    delays = parse_delays(args.delay)
    api_client = config.new_client_from_config(args.kubeconfig)
    if args.install_crds:
        from magnum_capi_rdma_dev.simulator import crds
        from magnum_capi_rdma_dev import upstream

        found = upstream.find()
        crds.install_crds(api_client, upstream=found)
        if found:
            LOG.info("CRDs installed: Cluster API's and CAPO's from %s",
                     found)
        else:
            LOG.warning("CRDs installed: generated ones (%s)",
                        upstream.missing_message())
    workloads = None
    if args.workload_servers:
        from magnum_capi_rdma_dev.simulator import workload as workload_mod

        workloads = workload_mod.WorkloadServers(args.workload_servers)
    sim = core.Simulator(api_client, namespace=args.namespace,
                         faults=faults, delays=delays,
                         workload_kubeconfig=workload, workloads=workloads)
    return sim, faults_file


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        for noisy in ("urllib3", "kubernetes"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        sim, faults_file = build(args)
    except Exception as exc:  # bad input or unreachable API: no traceback
        LOG.error("cannot start the simulator: %s", _message(exc))
        return 2
    if args.once:
        return 0 if sim.safe_step() else 1

    def stop(signum, _frame):
        LOG.info("signal %d: stopping", signum)
        sim.request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    LOG.info("simulating Cluster API on %s (namespace %s, every %.2fs)",
             args.kubeconfig, args.namespace or "all", args.interval)
    try:
        sim.run(args.interval,
                before_step=lambda: faults_file.reload_into(sim))
    finally:
        if sim.workloads is not None:
            sim.workloads.stop_all()
    LOG.info("stopped after %d passes", sim.steps)
    return 0


def _message(exc):
    status = getattr(exc, "status", None)
    if status:
        return "%s %s" % (status, getattr(exc, "reason", ""))
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
