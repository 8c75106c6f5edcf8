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
"""Features that register themselves.

Every module of this package is one feature. It declares, in one file:

- ``LABELS``: the labels it owns (``labels.label(...)``). No other module
  reads them: the spec hands each feature a context that refuses labels the
  feature does not own, so "where does label X go?" is answered by the
  module that declares X;
- ``group_part(ctx)`` (optional): its part of each node group's spec, from
  its labels and the node group;
- ``cluster_part(ctx)`` (optional): its part of the cluster's spec;
- ``contribute(spec) -> dict``: its chart values;
- ``host_settings(spec, group) -> dict`` (optional): files, commands,
  mounts and file systems its feature needs on the machines of ``group``
  (the control plane or a worker group); ``hosts`` alone writes them to
  the chart values, because lists of values do not merge;
- ``control_plane_fields(spec) -> dict`` (optional): fields of the
  KubeadmControlPlane's ``spec`` the chart has no value for, which the
  driver applies itself with its own field manager after each Helm
  install or upgrade (``values.control_plane_fields`` merges them);
- ``AFTER`` (optional): features whose parts and values come first;
- ``REFUSED`` (optional): labels of other Magnum drivers this feature
  deliberately does not support, each with what to use instead.

The order is derived from ``AFTER``; ties follow each module's own
``DOC_ORDER`` (its place in the label reference), then its name.
"""

import collections
import importlib
import pkgutil


def _discover():
    modules = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        modules[info.name] = importlib.import_module(
            "%s.%s" % (__name__, info.name))
    return modules


def _doc_order(module):
    return getattr(module, "DOC_ORDER", 99)


def _ordered(modules):
    """Modules sorted so that each comes after everything in its AFTER."""
    done, order = set(), []

    def visit(name, path):
        if name in done:
            return
        if name in path:
            raise AssertionError("features depend on each other in a "
                                 "circle: %s" % " -> ".join(path + (name,)))
        for before in sorted(getattr(modules[name], "AFTER", ()),
                             key=lambda n: (_doc_order(modules.get(n)), n)):
            if before not in modules:
                raise AssertionError("feature %s comes AFTER unknown "
                                     "feature %s" % (name, before))
            visit(before, path + (name,))
        done.add(name)
        order.append(modules[name])

    for name in sorted(modules, key=lambda n: (_doc_order(modules[n]), n)):
        visit(name, ())
    return tuple(order)


def feature_name(module):
    return module.__name__.rsplit(".", 1)[-1]


FEATURES = _ordered(_discover())


def _label_table():
    table = collections.OrderedDict()
    for module in sorted(FEATURES, key=_doc_order):
        for label in module.LABELS:
            if label.name in table:
                raise AssertionError("label %s declared by %s and %s" % (
                    label.name, table[label.name].module,
                    feature_name(module)))
            # The registry records the owner; the declaration need not.
            object.__setattr__(label, "module", feature_name(module))
            table[label.name] = label
    return table


#: Every label the driver reads, by name, in documentation order.
LABELS = _label_table()


def _refused():
    table = {}
    for module in FEATURES:
        for name, why in getattr(module, "REFUSED", {}).items():
            if name in LABELS or name in table:
                raise AssertionError("label %s refused twice or also "
                                     "declared" % name)
            table[name] = why
    return table


#: Labels of other drivers refused on purpose: name -> what to do instead.
REFUSED = _refused()

#: Old name -> current name.
DEPRECATED = {old: label.name for label in LABELS.values()
              for old in label.deprecated_names}

CATEGORIES = tuple(dict.fromkeys(lb.category for lb in LABELS.values()))

#: Prefixes that mark a label as meant for this driver: an unknown label
#: with one of them is an error, not someone else's label.
OWN_PREFIXES = ("rdma_", "gpu_", "capi_")


def canonical_name(name):
    """The declared name of *name* (itself or a deprecated alias)."""
    return DEPRECATED.get(name, name)


def owner(label_name):
    """The feature module that owns *label_name*."""
    return LABELS[label_name].module
