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
"""Renewal of the control plane's leaf certificates before they expire.

kubeadm issues the control plane's certificates (API server, etcd,
front proxy, the kubeconfigs of the control plane components) for one
year. Cluster API's KubeadmControlPlane replaces the control plane
machines whose certificates expire within
``spec.rolloutBefore.certificatesExpiryDays`` days (v1beta1; at least 7),
and new machines get new certificates from the cluster's CA. The CAs
themselves are never rotated (see
:mod:`magnum_capi_rdma.services.certificates`).

openstack-cluster chart 0.27.0 has no value for that field, so the driver
owns it: :func:`control_plane_fields` is the part of the
KubeadmControlPlane the driver applies itself, with its own field manager,
after each Helm install or upgrade (Helm's three-way merge keeps fields
other managers own). Nothing goes to the chart values.
"""

import dataclasses

from magnum_capi_rdma import labels

DOC_ORDER = 0.7

#: Cluster API's minimum (its validation refuses fewer days).
MINIMUM_DAYS = 7
#: kubeadm's certificates last 365 days: a larger value would replace
#: every machine again soon after it was made.
MAXIMUM_DAYS = 180
#: Cluster API's book asks for a value "large enough" that every machine
#: is replaced well before expiry (its example: 21). 30 days leave four
#: weeks to notice and fix a rollout that cannot finish (quota, image).
DEFAULT_DAYS = 30


_ALLOWED = "0 (off) or an integer from %d to %d" % (MINIMUM_DAYS,
                                                    MAXIMUM_DAYS)


def _days(value):
    if 0 < value < MINIMUM_DAYS:
        raise labels.LabelValueError(
            _ALLOWED, "Cluster API replaces machines at least %d days "
            "before their certificates expire; 0 turns automatic renewal "
            "off" % MINIMUM_DAYS)
    return value


LABELS = (
    labels.label(
        "certificate_renewal_days", "integer", DEFAULT_DAYS,
        "Cluster API replaces a control plane machine whose certificates "
        "(issued by kubeadm for one year) expire within this many days; "
        "the new machine gets new certificates from the cluster's CA. "
        "The driver sets the KubeadmControlPlane's "
        "rolloutBefore.certificatesExpiryDays itself (the chart has no "
        "value for it). 0: no automatic renewal (machines are renewed "
        "when an upgrade or resize replaces them). The CA itself is never "
        "rotated.", minimum=0, maximum=MAXIMUM_DAYS, check=_days,
        pattern_help=_ALLOWED,
        category="kubernetes"),
)


@dataclasses.dataclass(frozen=True)
class Certificates:
    #: Days before expiry when control plane machines are replaced; 0: off.
    renewal_days: int


def cluster_part(ctx):
    return Certificates(renewal_days=ctx.label("certificate_renewal_days"))


def contribute(spec):
    # Chart 0.27.0 has no value for it: see control_plane_fields.
    return {}


def control_plane_fields(spec):
    """The KubeadmControlPlane ``spec`` fields the driver owns."""
    days = spec.certificates.renewal_days
    if not days:
        return {}
    return {"rolloutBefore": {"certificatesExpiryDays": days}}
