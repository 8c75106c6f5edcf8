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
"""The Kubernetes API server and the kubelet: OpenID Connect, audit logs,
certificate names, TLS cipher suites, admission plugins.

OpenID Connect goes to the chart's ``oidc`` values; the rest goes to the
kubeadm configuration of the control plane (``controlPlane.
kubeadmConfigSpec``, which the chart merges into its own) and, for the
kubelet, of every node. The labels are the ones magnum-cluster-api reads,
with its defaults; the audit log's file sizes also under the spellings
of its documentation (``audit_log_maxage``...).
"""

import dataclasses
import ipaddress
import re

from magnum_capi_rdma import labels

DOC_ORDER = 0.5
_API = dict(category="API server and kubelet")

#: Where the audit policy and the audit log are, on the control plane
#: hosts and in the API server's container (as magnum-cluster-api does).
AUDIT_POLICY_DIR = "/etc/kubernetes/audit-policy"
AUDIT_POLICY_FILE = AUDIT_POLICY_DIR + "/apiserver-audit-policy.yaml"
AUDIT_LOG_HOST_DIR = "/var/log/kubernetes/audit"
AUDIT_LOG_DIR = "/var/log/audit"
AUDIT_LOG_FILE = AUDIT_LOG_DIR + "/kube-apiserver-audit.log"
#: Who did what, when, to which object: request metadata, never bodies
#: (so no Secret's data reaches the log).
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages:
  - RequestReceived
rules:
  - level: Metadata
"""
#: Always enabled by kubeadm; kept first when the list is given.
NODE_RESTRICTION = "NodeRestriction"

_CIPHER = dict(pattern=r"^TLS_[A-Z0-9_]{4,80}$",
               pattern_help="comma-separated Go TLS cipher suite names "
               "such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
_OIDC_VALUE = dict(pattern=r"^[^\s,]{1,255}$",
                   pattern_help="text without blanks or commas, at most "
                   "255 characters")


def _san(value):
    """A certificate subject alternative name.

    An IP address or a DNS name (a wildcard first label allowed).
    """
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if not re.match(r"^(\*\.)?([a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?"
                    r"\.)*[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?$",
                    value) or len(value) > 253:
        raise labels.LabelValueError(
            "IP addresses or DNS names",
            "%s is neither an IP address nor a DNS name" % labels.show(
                value))
    return value.lower()


def _sans(values):
    return tuple(_san(value) for value in values)


LABELS = (
    labels.label(
        "oidc_issuer_url", "string", None,
        "HTTPS URL of the OpenID Connect issuer whose ID tokens the API "
        "server accepts (its discovery document is at "
        "URL/.well-known/openid-configuration). Unset: no OpenID Connect.",
        pattern=r"^https://[^\s,/?#]+(/[^\s,?#]*)?$",
        pattern_help="an https:// URL without query or fragment", **_API),
    labels.label(
        "oidc_client_id", "string", None,
        "Client ID the ID tokens must be issued for (required with "
        "oidc_issuer_url).", **dict(_API, **_OIDC_VALUE)),
    labels.label(
        "oidc_username_claim", "string", "sub",
        "ID token claim that is the user name.",
        **dict(_API, **_OIDC_VALUE)),
    labels.label(
        "oidc_username_prefix", "string", "-",
        "Prefix of user names from OpenID Connect; - for none.",
        **dict(_API, **_OIDC_VALUE)),
    labels.label(
        "oidc_groups_claim", "string", None,
        "ID token claim that lists the user's groups. Unset: no groups.",
        **dict(_API, **_OIDC_VALUE)),
    labels.label(
        "oidc_groups_prefix", "string", None,
        "Prefix of group names from OpenID Connect. Unset: none.",
        **dict(_API, **_OIDC_VALUE)),
    labels.label(
        "audit_log_enabled", "boolean", False,
        "Log every API request's metadata (who, what, when; no request "
        "bodies) to %s/kube-apiserver-audit.log on the control plane "
        "hosts." % AUDIT_LOG_HOST_DIR, **_API),
    labels.label(
        "audit_log_max_age", "integer", 30,
        "Days an audit log file is kept (audit_log_enabled).", minimum=0,
        maximum=3650, deprecated_names=("audit_log_maxage",), **_API),
    labels.label(
        "audit_log_max_backup", "integer", 10,
        "Rotated audit log files kept (audit_log_enabled).", minimum=0,
        maximum=1000, deprecated_names=("audit_log_maxbackup",), **_API),
    labels.label(
        "audit_log_max_size", "integer", 100,
        "Size in MB at which the audit log is rotated "
        "(audit_log_enabled).", minimum=1, maximum=100000,
        deprecated_names=("audit_log_maxsize",), **_API),
    labels.label(
        "api_server_cert_sans", "string_list", (),
        "Comma-separated extra names (DNS names or IP addresses) in the API "
        "server's certificate.", check=_sans,
        pattern_help="comma-separated DNS names or IP addresses", **_API),
    labels.label(
        "api_server_tls_cipher_suites", "string_list", (),
        "Comma-separated TLS cipher suites of the API server. Empty: "
        "Kubernetes' defaults (magnum-cluster-api sets a Mozilla "
        "intermediate list by default; give it here to keep it).",
        **dict(_API, **_CIPHER)),
    labels.label(
        "kubelet_tls_cipher_suites", "string_list", (),
        "Comma-separated TLS cipher suites of the kubelet's server on every "
        "node. Empty: Kubernetes' defaults.", **dict(_API, **_CIPHER)),
    labels.label(
        "admission_control_list", "string_list", (),
        "Comma-separated admission plugins the API server enables on top "
        "of its defaults; NodeRestriction is always kept.",
        pattern=r"^[A-Z][A-Za-z0-9]{1,63}$",
        pattern_help="comma-separated admission plugin names such as "
        "PodNodeSelector,AlwaysPullImages", **_API),
)


#: Peers' labels for what chart 0.27.0 cannot do.
REFUSED = {
    "kubelet_serving_tls_enabled": (
        "openstack-cluster chart 0.27.0 neither bootstraps kubelet serving "
        "certificates signed by the cluster CA nor installs the approver "
        "of their requests (magnum-cluster-api's kubelet-csr-approver); "
        "kubelets keep their self-signed serving certificates"),
}


@dataclasses.dataclass(frozen=True)
class Oidc:
    issuer_url: str
    client_id: str
    username_claim: str
    username_prefix: str
    groups_claim: str
    groups_prefix: str


@dataclasses.dataclass(frozen=True)
class Audit:
    max_age: int
    max_backup: int
    max_size: int


@dataclasses.dataclass(frozen=True)
class ApiServer:
    oidc: Oidc = None
    audit: Audit = None
    cert_sans: tuple = ()
    cipher_suites: tuple = ()
    kubelet_cipher_suites: tuple = ()
    admission_plugins: tuple = ()


_OIDC = ("oidc_client_id", "oidc_username_claim", "oidc_username_prefix",
         "oidc_groups_claim", "oidc_groups_prefix")
_AUDIT = ("audit_log_max_age", "audit_log_max_backup", "audit_log_max_size")
_DEFAULTS = {label.name: label.default for label in LABELS}


def _unused(ctx, names, allowed, why):
    """Refuse non-default values of labels that would do nothing.

    Only a template or cluster value is refused; a site default is left
    alone.
    """
    for name in names:
        if ctx.source(name) not in ("default", "site") and (
                ctx.label(name) != _DEFAULTS[name]):
            ctx.problem(name, ctx.label(name), allowed, why)


def _oidc(ctx):
    issuer = ctx.label("oidc_issuer_url")
    if not issuer:
        _unused(ctx, _OIDC, "unset, or an oidc_issuer_url",
                "OpenID Connect is off (no oidc_issuer_url)")
        return None
    client = ctx.label("oidc_client_id")
    if not client and not ctx.has_problem("oidc_client_id"):
        ctx.problem("oidc_client_id", None, "a client ID",
                    "is required with oidc_issuer_url",
                    where=ctx.source("oidc_issuer_url"))
    return Oidc(issuer, client, ctx.label("oidc_username_claim"),
                ctx.label("oidc_username_prefix"),
                ctx.label("oidc_groups_claim") or "",
                ctx.label("oidc_groups_prefix") or "")


def _audit(ctx):
    if not ctx.label("audit_log_enabled"):
        _unused(ctx, _AUDIT, "unset, or audit_log_enabled true",
                "audit logs are off")
        return None
    return Audit(*(ctx.label(name) for name in _AUDIT))


def _plugins(ctx):
    given = ctx.label("admission_control_list")
    if not given:
        return ()
    return (NODE_RESTRICTION,) + tuple(
        dict.fromkeys(p for p in given if p != NODE_RESTRICTION))


def cluster_part(ctx):
    return ApiServer(
        oidc=_oidc(ctx), audit=_audit(ctx),
        cert_sans=ctx.label("api_server_cert_sans"),
        cipher_suites=ctx.label("api_server_tls_cipher_suites"),
        kubelet_cipher_suites=ctx.label("kubelet_tls_cipher_suites"),
        admission_plugins=_plugins(ctx))


def _api_server(api):
    args, values = {}, {}
    if api.audit:
        args.update({
            "audit-policy-file": AUDIT_POLICY_FILE,
            "audit-log-path": AUDIT_LOG_FILE,
            "audit-log-maxage": str(api.audit.max_age),
            "audit-log-maxbackup": str(api.audit.max_backup),
            "audit-log-maxsize": str(api.audit.max_size),
        })
        values["extraVolumes"] = [
            {"name": "audit-policy", "hostPath": AUDIT_POLICY_DIR,
             "mountPath": AUDIT_POLICY_DIR, "readOnly": True,
             "pathType": "DirectoryOrCreate"},
            {"name": "audit-logs", "hostPath": AUDIT_LOG_HOST_DIR,
             "mountPath": AUDIT_LOG_DIR, "readOnly": False,
             "pathType": "DirectoryOrCreate"},
        ]
    if api.cipher_suites:
        args["tls-cipher-suites"] = ",".join(api.cipher_suites)
    if api.admission_plugins:
        args["enable-admission-plugins"] = ",".join(api.admission_plugins)
    if args:
        values["extraArgs"] = args
    if api.cert_sans:
        values["certSANs"] = list(api.cert_sans)
    return values


def _kubelet_args(api):
    return {"nodeRegistration": {"kubeletExtraArgs": {
        "tls-cipher-suites": ",".join(api.kubelet_cipher_suites)}}}


def host_settings(spec, group):
    """The audit policy file, on the control plane hosts."""
    if group.role != "master" or not spec.apiserver.audit:
        return {}
    return {"files": [{"path": AUDIT_POLICY_FILE, "content": AUDIT_POLICY,
                       "owner": "root:root", "permissions": "0600"}]}


def contribute(spec):
    api = spec.apiserver
    values, control = {}, {}
    if api.oidc:
        values["oidc"] = {
            "issuerUrl": api.oidc.issuer_url,
            "clientId": api.oidc.client_id,
            "usernameClaim": api.oidc.username_claim,
            "usernamePrefix": api.oidc.username_prefix,
            "groupsClaim": api.oidc.groups_claim,
            "groupsPrefix": api.oidc.groups_prefix,
        }
    server = _api_server(api)
    if server:
        control["clusterConfiguration"] = {"apiServer": server}
    if api.kubelet_cipher_suites:
        control["initConfiguration"] = _kubelet_args(api)
        control["joinConfiguration"] = _kubelet_args(api)
        values["nodeGroupDefaults"] = {"kubeadmConfigSpec": {
            "joinConfiguration": _kubelet_args(api)}}
    if control:
        values["controlPlane"] = {"kubeadmConfigSpec": control}
    return values
