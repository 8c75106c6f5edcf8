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
"""The ``magnum-capi-rdma`` operator command.

``render DESCRIPTION.yaml [--manifests]`` prints the chart values the
driver would install (or the RDMA/GPU objects of the workload cluster)
without touching OpenStack or Kubernetes. ``labels-doc`` writes the label
reference. ``selftest CLUSTER_UUID [--show]`` asks for a new run of a
cluster's RDMA self-test on the management cluster (or shows the last
result). Exit codes: 0 ok, 1 invalid labels or fields (or no such
cluster), 2 unreadable input (or an unreachable management cluster).
"""

import argparse
import contextlib
import sys

from oslo_config import cfg
import yaml

from magnum_capi_rdma import conf as capi_conf
from magnum_capi_rdma import contract
from magnum_capi_rdma import features
from magnum_capi_rdma import labels as label_spec
from magnum_capi_rdma import magnum_objects
from magnum_capi_rdma import manifests
from magnum_capi_rdma.manifests import common as manifest_common
from magnum_capi_rdma import spec as spec_mod
from magnum_capi_rdma import values as values_mod

EXIT_INVALID = 1
EXIT_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        sys.stderr.write("magnum-capi-rdma: error: %s\n" % message)
        sys.exit(EXIT_INPUT)


def _parser():
    parser = _Parser(prog="magnum-capi-rdma",
                     description="Operator tools of the magnum-capi-rdma "
                     "driver.")
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser(
        "render", help="print the chart values for a description")
    render.add_argument("description", help="YAML file with "
                        "cluster_template, cluster and node_groups")
    render.add_argument("--manifests", action="store_true",
                        help="print the RDMA/GPU objects of the workload "
                        "cluster instead of the chart values")
    render.add_argument("--control-plane-fields", action="store_true",
                        help="print, instead of the chart values, the "
                        "KubeadmControlPlane fields the driver applies "
                        "itself after Helm (the chart has no value for "
                        "them, e.g. certificate_renewal_days): an apply "
                        "patch with its field manager")
    render.add_argument("--config-file", action="append", default=[],
                        dest="config_files", metavar="PATH",
                        help="the driver's configuration (e.g. "
                        "/etc/magnum/magnum.conf; repeatable): its "
                        "[capi_rdma_labels] site defaults apply, as in "
                        "the driver (default: none)")
    render.add_argument("--release", default=None,
                        help="the Helm release name (the cluster's "
                        "stack_id in Magnum), which names the credentials "
                        "Secret (default: the cluster's name)")
    render.add_argument("--credentials-secret", default=None,
                        help="cloud credentials Secret name (default: "
                        "<release>-cloud-credentials)")
    doc = sub.add_parser("labels-doc", help="write the label reference "
                         "(reStructuredText)")
    doc.add_argument("--output", "-o", default="-",
                     help="file to write (default: stdout)")
    test = sub.add_parser(
        "selftest", help="run a cluster's RDMA self-test again (or show "
        "it), on the management cluster of [capi_rdma] kubeconfig_file")
    test.add_argument("cluster", help="the cluster's UUID")
    test.add_argument("--show", action="store_true",
                      help="only print the last result and the run in "
                      "flight (JSON)")
    test.add_argument("--config-file", action="append", default=[],
                      dest="config_files", metavar="PATH",
                      help="the driver's configuration (e.g. "
                      "/etc/magnum/magnum.conf; repeatable): its "
                      "[capi_rdma] kubeconfig_file names the management "
                      "cluster")
    return parser


def _load(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle), None
    except OSError as exc:
        return None, "cannot read %s: %s" % (path, exc.strerror or exc)
    except UnicodeDecodeError as exc:
        return None, "%s is not UTF-8 text (byte %d)" % (path, exc.start)
    except ValueError:  # e.g. a NUL byte in the path
        return None, "cannot read %r: not a valid file name" % (path,)
    except RecursionError:
        return None, "%s is nested too deeply to be a description" % path
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = (" (line %d, column %d)" % (mark.line + 1, mark.column + 1)
                 if mark else "")
        return None, "%s is not valid YAML%s" % (path, where)


def _render(args, out, err):
    description, error = _load(args.description)
    if error:
        err.write("error: %s\n" % error)
        return EXIT_INPUT
    try:
        conf = capi_conf.from_files(args.config_files)
    except cfg.Error as exc:
        err.write("error: cannot read the configuration: %s\n"
                  % " ".join(str(exc).split()))
        return EXIT_INPUT
    try:
        # The driver's own way from a description to values.
        spec = magnum_objects.site_spec(description, conf)
    except spec_mod.InvalidSpec as exc:
        for problem in exc.problems:
            err.write("error: %s\n" % problem)
        err.write("%d problem(s) in %s\n"
                  % (len(exc.problems), args.description))
        return EXIT_INVALID
    if args.manifests:
        objects = manifests.build_manifests(spec)
        out.write("---\n".join(manifest_common.to_yaml(o) for o in objects))
        return 0
    release = args.release or spec.name
    owned = values_mod.control_plane_fields(spec)
    if args.control_plane_fields:
        out.write(yaml.safe_dump(control_plane_patch(release, owned),
                                 default_flow_style=False, sort_keys=False))
        return 0
    values = magnum_objects.chart_values(
        spec, release, args.credentials_secret)
    out.write(yaml.safe_dump(values, default_flow_style=False,
                             sort_keys=False))
    if owned:
        err.write("note: the driver also applies %s to KubeadmControlPlane "
                  "%s itself, after Helm (field manager %s): see "
                  "--control-plane-fields\n" % (
                      ", ".join("spec." + key for key in sorted(owned)),
                      contract.CHART_CONTROL_PLANE_NAME % release,
                      contract.FIELD_MANAGER))
    return 0


def control_plane_patch(release, owned):
    """What the driver applies to the chart's KubeadmControlPlane.

    The object and fields :func:`services.converge.apply_control_plane_fields`
    sends (by server-side apply, with the driver's field manager); an empty
    ``spec``: none, and any it applied before are removed.
    """
    return {"fieldManager": contract.FIELD_MANAGER,
            "kind": "KubeadmControlPlane",
            "name": contract.CHART_CONTROL_PLANE_NAME % release,
            "spec": owned}


_INTRO = """\
Every label the driver reads is declared once, in
the feature module that owns it (``magnum_capi_rdma/features/<module>.py``,
named in *Goes to*); this page is generated from them.

A label's value is resolved with the precedence: site default (option of
the same name in ``[capi_rdma_labels]``) < cluster template < cluster <
node group. *Set on* says where a label may be set; a node group may carry
copies of its cluster's labels (Magnum copies them) but may change only
node group labels. An empty value means "not set".

Values are strings, as Magnum stores them; booleans accept ``true``,
``false``, ``yes``, ``no``, ``1`` and ``0``; lists are comma separated. No
value may contain a control character or template markers (``{{``,
``{%``, ``{#`` and their closing forms), so nothing a user types is ever
evaluated by Helm or by the addon provider.

The driver checks every label before it creates anything and reports all
problems at once, each naming the label, the bad value and what is
allowed. A label the driver does not read is an error by default; an
operator migrating templates shared with other drivers can set
``[capi_rdma] unknown_labels = warn``, and the driver then ignores such
labels and lists them in the cluster's ``status_reason``. A near miss of a
known label ("did you mean ...?"), a label starting with ``rdma_``,
``gpu_`` or ``capi_`` and another driver's label that this one
deliberately does not support are refused either way. See what a template
will do, without a cloud, with::

    magnum-capi-rdma render DESCRIPTION.yaml [--manifests]

*Goes to* names the feature module (``magnum_capi_rdma/features``) that
owns the label: it alone reads it and turns it into chart values."""


def _cell(text):
    return str(text).replace("|", "\\|") if text not in (None, "") else "-"


def _default(label):
    value = label.default
    if value is None or value == ():
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def labels_rst():
    """The label reference as reStructuredText, generated from LABELS."""
    lines = [
        ".. This file is generated by ``magnum-capi-rdma labels-doc``;",
        "   edit the feature modules in magnum_capi_rdma/features instead.",
        "",
        "======",
        "Labels",
        "======",
        "",
    ] + _INTRO.splitlines() + [""]
    for category in features.CATEGORIES:
        title = category[0].upper() + category[1:]
        lines += [title, "=" * len(title), ""]
        for label in features.LABELS.values():
            if label.category != category:
                continue
            lines += _label_rst(label)
    return "\n".join(lines) + "\n"


def _label_rst(label):
    scopes = ", ".join(s for s in (label_spec.TEMPLATE, label_spec.CLUSTER,
                                   label_spec.NODEGROUP)
                       if s in label.scopes)
    rows = [
        ("Type", label.kind),
        ("Default", _default(label)),
        ("Allowed", label.allowed()),
        ("Set on", scopes),
        ("Goes to", "``magnum_capi_rdma.features.%s``" % label.module),
        ("Site default", "yes" if label.site_default else "no"),
    ]
    if label.deprecated_names:
        rows.append(("Old names", ", ".join(label.deprecated_names)))
    lines = ["``%s``" % label.name, "-" * (len(label.name) + 4), "",
             label.help, ""]
    lines += [":%s: %s" % (key, _cell(value)) for key, value in rows]
    return lines + [""]


def _labels_doc(args, out, err):
    text = labels_rst()
    if args.output == "-":
        out.write(text)
        return 0
    try:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        err.write("error: cannot write %s: %s\n"
                  % (args.output, exc.strerror or exc))
        return EXIT_INPUT
    return 0


def main(argv=None, out=None, err=None):
    """Run the command; return the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = _parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_INPUT
    if args.command == "render":
        return _render(args, out, err)
    if args.command == "selftest":
        return _selftest(args, out, err)
    return _labels_doc(args, out, err)


def _selftest(args, out, err):
    """Bump the cluster's self-test request counter, or show the record.

    The driver's next health poll of the cluster starts the run (once the
    cluster is CREATE_COMPLETE or UPDATE_COMPLETE and no run is in
    flight); the result replaces ``rdma_selftest`` in its health reason.
    """
    import json

    from magnum_capi_rdma.adapters import kube as kube_adapter
    from magnum_capi_rdma.services import selftest as service

    try:
        conf = capi_conf.from_files(args.config_files)
        kube = kube_adapter.Kube.from_config(conf)
    except Exception as exc:
        err.write("error: cannot reach the management cluster: %s\n"
                  % " ".join(str(exc).split()))
        return EXIT_INPUT
    try:
        if args.show:
            found = service.show(kube, args.cluster)
        else:
            found = service.request(kube, args.cluster)
    except kube_adapter.KubeError as exc:
        err.write("error: %s\n" % exc)
        return EXIT_INPUT
    if found is None:
        err.write("error: no cluster %s on the management cluster (no "
                  "operation record labelled with that UUID)\n"
                  % args.cluster)
        return EXIT_INVALID
    if args.show:
        namespace, release, record = found
        out.write(json.dumps({
            "namespace": namespace, "release": release,
            "request": record.request,
            "running": {"run": record.run, "nodes": list(record.run_nodes),
                        "started": record.run_started.isoformat()}
            if record.run else None,
            "result": record.result}, indent=2, sort_keys=True) + "\n")
        return 0
    out.write("RDMA self-test of cluster %s requested (request %d): it "
              "starts at the cluster's next health poll (Magnum's "
              "[kubernetes] health_polling_interval) once the cluster is "
              "CREATE_COMPLETE or UPDATE_COMPLETE; the result replaces "
              "rdma_selftest in its health_status_reason.\n"
              % (args.cluster, found.request))
    return 0


if __name__ == "__main__":
    sys.exit(main())
