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
reference. Exit codes: 0 ok, 1 invalid labels or fields, 2 unreadable
input.
"""

import argparse
import contextlib
import sys

import yaml

from magnum_capi_rdma import labels as label_spec
from magnum_capi_rdma import manifests
from magnum_capi_rdma.manifests import common as manifest_common
from magnum_capi_rdma import spec as spec_mod
from magnum_capi_rdma import values

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
    render.add_argument("--credentials-secret", default=None,
                        help="cloud credentials Secret name (default: "
                        "<cluster name>-cloud-credentials)")
    doc = sub.add_parser("labels-doc", help="write the label reference "
                         "(reStructuredText)")
    doc.add_argument("--output", "-o", default="-",
                     help="file to write (default: stdout)")
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
        spec = spec_mod.build_spec(description)
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
    secret = args.credentials_secret or "%s-cloud-credentials" % spec.name
    out.write(yaml.safe_dump(values.build_values(spec, secret),
                             default_flow_style=False, sort_keys=False))
    return 0


_INTRO = """\
Every label the driver reads is declared once, in
``magnum_capi_rdma/labels.py``; this page is generated from it.

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
allowed. An unknown label that is close to a known one, or that starts with
``rdma_``, ``gpu_`` or ``capi_``, is an error ("did you mean ...?"); other
unknown labels are left alone, so templates shared with other drivers
still work. See what a template will do, without a cloud, with::

    magnum-capi-rdma render DESCRIPTION.yaml [--manifests]

*Goes to* names the values module (``magnum_capi_rdma/values``) that
consumes the label."""


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
        "   edit magnum_capi_rdma/labels.py instead.",
        "",
        "======",
        "Labels",
        "======",
        "",
    ] + _INTRO.splitlines() + [""]
    for category in label_spec.CATEGORIES:
        title = category[0].upper() + category[1:]
        lines += [title, "=" * len(title), ""]
        for label in label_spec.LABELS.values():
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
        ("Goes to", "``magnum_capi_rdma.values.%s``" % label.module),
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
    return _labels_doc(args, out, err)


if __name__ == "__main__":
    sys.exit(main())
