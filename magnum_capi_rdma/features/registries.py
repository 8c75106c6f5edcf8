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
"""Where nodes get images from, and through which proxy: for sites
without (direct) Internet access.

- ``container_infra_prefix``: the registry path of the Kubernetes images
  kubeadm pulls (kube-apiserver, kube-controller-manager, kube-scheduler,
  kube-proxy, etcd, CoreDNS): kubeadm's ``imageRepository``, images
  directly under the prefix, as Magnum's other drivers lay them out;
- ``registry_mirrors``: containerd's mirrors of upstream registries (the
  chart's ``registryMirrors``), for every other image (add-ons, the pause
  image, workloads); they replace the chart's default mirrors;
- the template's ``insecure_registry`` field: a registry containerd
  reaches without verifying its certificate (or over plain HTTP);
- the template's ``http_proxy``, ``https_proxy`` and ``no_proxy`` fields:
  containerd's proxy (a systemd drop-in on every node), so image pulls
  go through it. The cluster's own networks are added to ``no_proxy``.
  Add-ons that call the OpenStack APIs (cloud controller manager, CSI)
  do not use the proxy: chart 0.27.0 has no setting for their environment.
- the site's ``[capi_rdma] trusted_ca_files``: CAs every node trusts (a
  private registry's, a TLS-inspecting proxy's), the chart's
  ``trustedCAs``. A site setting, not a label: a CA is the operator's to
  vouch for, and PEM does not fit in a label.

Chart 0.27.0 has no value for node proxies; the drop-in goes through the
kubeadm configuration the chart merges (``features.hosts``).
"""

import dataclasses
import re

from magnum_capi_rdma.features import networking
from magnum_capi_rdma import labels

DOC_ORDER = 2.5
AFTER = ("networking",)
_REG = dict(category="registries and proxies")

#: The registries openstack-cluster 0.27.0 mirrors by default
#: (values.yaml, registryMirrors: quay.io/azimuth copies).
CHART_MIRRORED = ("docker.io", "ghcr.io", "nvcr.io", "quay.io",
                  "registry.k8s.io")
PROXY_DROP_IN = "/etc/systemd/system/containerd.service.d/http-proxy.conf"
RESTART_CONTAINERD = "systemctl daemon-reload && systemctl restart containerd"

_HOST = r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?"
_REGISTRY = re.compile(r"^%s$" % _HOST)
_URL = re.compile(r"^https?://%s(/[A-Za-z0-9._~/-]*)?$" % _HOST, re.I)
_PROXY = re.compile(r"^https?://%s/?$" % _HOST, re.I)
_NO_PROXY_ITEM = re.compile(r"^[A-Za-z0-9.*:/_-]{1,255}$")
_MIRRORS_HELP = ("comma-separated REGISTRY=URL pairs, such as "
                 "docker.io=https://mirror.example.com/v2/docker.io (a "
                 "registry may be named more than once)")


def _repository(value):
    value = value.rstrip("/")
    if not re.match(labels.IMAGE_REPOSITORY, value):
        raise labels.LabelValueError("an image repository")
    return value


def _mirrors(items):
    pairs = []
    for item in items:
        registry, sep, url = item.partition("=")
        registry, url = registry.strip().lower(), url.strip()
        if not sep or not _REGISTRY.match(registry) or not _URL.match(url):
            raise labels.LabelValueError(
                _MIRRORS_HELP, "%s is not REGISTRY=URL with an http(s) URL"
                % labels.show(item))
        pairs.append((registry, url))
    return tuple(pairs)


LABELS = (
    labels.label(
        "container_infra_prefix", "string", None,
        "Registry path of the Kubernetes images kubeadm pulls "
        "(kube-apiserver, kube-controller-manager, kube-scheduler, "
        "kube-proxy, etcd, coredns: PREFIX/kube-apiserver:TAG...), as in "
        "Magnum's other drivers. Other images come through "
        "registry_mirrors.", check=_repository,
        pattern_help="an image repository without a scheme, such as "
        "registry.example.com:5000/kubernetes", **_REG),
    labels.label(
        "registry_mirrors", "string_list", (),
        "Mirrors containerd tries first for images of an upstream "
        "registry, falling back to it: REGISTRY=URL pairs, the URL with the "
        "path of the registry API (e.g. "
        "docker.io=https://mirror.example.com/v2/docker.io). Set: they "
        "replace the chart's default mirrors (copies on quay.io/azimuth).",
        check=_mirrors, pattern_help=_MIRRORS_HELP, **_REG),
)


@dataclasses.dataclass(frozen=True)
class Registries:
    image_repository: str = None
    mirrors: tuple = ()
    insecure: str = None          # scheme://host[:port]
    http_proxy: str = None
    https_proxy: str = None
    no_proxy: tuple = ()
    trusted_cas: tuple = ()        # ((name, PEM), ...)

    @property
    def proxied(self):
        return bool(self.http_proxy or self.https_proxy)


def _field(ctx, name, pattern, allowed):
    value = ctx.template.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 1024 or not (
            labels.printable(value)) or not pattern.match(value.strip()):
        ctx.problem(name, value, allowed, "", where="template")
        return None
    return value.strip()


def _proxy(ctx, name):
    raw = ctx.template.get(name)
    if isinstance(raw, str) and "@" in raw:
        # Never repeat it: it may hold a password.
        ctx.problem(name, "(a URL with credentials)", "a proxy URL without "
                    "user or password", "credentials would be stored in "
                    "the Helm release and in clear text on every node",
                    where="template")
        return None
    value = _field(ctx, name, _PROXY, "an http:// or https:// proxy URL "
                   "such as http://proxy.example.com:3128, without user, "
                   "password or path")
    return value.rstrip("/") if value else None


def _no_proxy(ctx):
    value = ctx.template.get("no_proxy")
    if value is None or value == "":
        return ()
    items = value.split(",") if isinstance(value, str) else [value]
    found = []
    for item in items[:256]:
        item = item.strip() if isinstance(item, str) else item
        if not item:
            continue
        if not isinstance(item, str) or not _NO_PROXY_ITEM.match(item):
            ctx.problem("no_proxy", item, "comma-separated host names, "
                        "domains (.example.com), IP addresses or CIDRs",
                        "", where="template")
            continue
        found.append(item)
    if len(items) > 256:
        ctx.problem("no_proxy", value, "at most 256 entries", "",
                    where="template")
    return tuple(found)


def _insecure(ctx):
    value = _field(ctx, "insecure_registry", re.compile(
        r"^(https?://)?%s/?$" % _HOST, re.I), "a registry host[:port] (https "
        "without certificate check) or http://host[:port] (plain HTTP)")
    if not value:
        return None
    value = value.rstrip("/").lower()
    return value if "://" in value else "https://" + value


#: A file of the chart's ``trustedCAs``: certificates only.
_PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----\r?\n"
                        r"([A-Za-z0-9+/=\r\n]+)"
                        r"-----END CERTIFICATE-----")
#: The name of the CA on the nodes (/usr/local/share/ca-certificates/).
_CA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_CA_FILES = "[capi_rdma] trusted_ca_files"


def _ca_name(path):
    base = path.replace("\\", "/").rsplit("/", 1)[-1]
    for extension in (".pem", ".crt", ".cer"):
        if base.lower().endswith(extension):
            return base[:-len(extension)]
    return base


def _pem_problem(text):
    """Why ``text`` is not a PEM bundle of certificates, or None."""
    blocks = list(_PEM_BLOCK.finditer(text))
    if not blocks:
        return "no PEM certificate in it"
    rest = _PEM_BLOCK.sub("", text)
    if rest.strip():
        return "something else than certificates in it (only BEGIN/END " \
            "CERTIFICATE blocks are allowed; never a private key)"
    for block in blocks:
        body = "".join(block.group(1).split())
        if len(body) % 4 or "=" in body.rstrip("="):
            return "a certificate that is not valid base64"
    return None


def _trusted_cas(ctx):
    found = {}
    for path, text, error in ctx.site_option("trusted_ca_files") or ():
        name = _ca_name(path)
        why = error or _pem_problem(text)
        if why is None and not _CA_NAME.match(name):
            why = ("its name %s is no file name for the nodes (letters, "
                   "digits, '.', '_' and '-', at most 63)" % labels.show(name))
        if why is None and name in found:
            why = "a second file named %s" % name
        if why:
            ctx.problem(_CA_FILES, path, "readable PEM files of CA "
                        "certificates with distinct names", why,
                        where=labels.SITE_CONFIGURATION)
            continue
        found[name] = text.replace("\r\n", "\n").strip() + "\n"
    return tuple(sorted(found.items()))


def cluster_part(ctx):
    found = Registries(
        image_repository=ctx.label("container_infra_prefix"),
        mirrors=ctx.label("registry_mirrors"),
        insecure=_insecure(ctx),
        http_proxy=_proxy(ctx, "http_proxy"),
        https_proxy=_proxy(ctx, "https_proxy"),
        no_proxy=_no_proxy(ctx),
        trusted_cas=_trusted_cas(ctx))
    if found.no_proxy and not found.proxied:
        ctx.problem("no_proxy", ",".join(found.no_proxy), "unset without "
                    "http_proxy or https_proxy", "there is no proxy",
                    where="template")
    if found.insecure:
        host = found.insecure.split("://", 1)[1]
        if host in dict(found.mirrors):
            ctx.problem("registry_mirrors", host, "mirrors of other "
                        "registries than the insecure_registry (%s)" % host,
                        "the insecure registry is configured on its own")
    return found


def _registry_mirrors(reg):
    mirrors = {}
    if reg.mirrors:
        mirrors.update({name: None for name in CHART_MIRRORED})
        for registry, url in reg.mirrors:
            mirrors[registry] = (mirrors.get(registry) or []) + [url]
    if reg.insecure:
        host = reg.insecure.split("://", 1)[1]
        mirrors[host] = {"upstream": reg.insecure, "mirrors": [{
            "url": reg.insecure, "skipVerify": True,
            "overridePath": False}]}
    return mirrors


def no_proxy(spec):
    """The proxy exceptions: the template's and the cluster's networks."""
    net = spec.networking
    own = ["localhost", "127.0.0.1", networking.pod_cidr(net),
           networking.service_cidr(net), ".svc",
           "." + net.service_domain]
    if not net.fixed_network:
        own.append(net.fixed_subnet_cidr)
    return tuple(dict.fromkeys(
        tuple(spec.registries.no_proxy) + tuple(o for o in own if o)))


def _drop_in(spec):
    reg = spec.registries
    lines = ["[Service]"]
    for name, value in (("HTTP_PROXY", reg.http_proxy),
                        ("HTTPS_PROXY", reg.https_proxy),
                        ("NO_PROXY", ",".join(no_proxy(spec)))):
        if value:
            lines.append('Environment="%s=%s"' % (name, value))
            lines.append('Environment="%s=%s"' % (name.lower(), value))
    return "\n".join(lines) + "\n"


def host_settings(spec, group):
    """containerd's proxy, on every node."""
    if not spec.registries.proxied:
        return {}
    return {
        "files": [{"path": PROXY_DROP_IN, "content": _drop_in(spec),
                   "owner": "root:root", "permissions": "0644"}],
        "preKubeadmCommands": [RESTART_CONTAINERD],
    }


def contribute(spec):
    reg = spec.registries
    values = {}
    mirrors = _registry_mirrors(reg)
    if mirrors:
        values["registryMirrors"] = mirrors
    if reg.trusted_cas:
        values["trustedCAs"] = dict(reg.trusted_cas)
    if reg.image_repository:
        values["controlPlane"] = {"kubeadmConfigSpec": {
            "clusterConfiguration": {
                "imageRepository": reg.image_repository}}}
    return values
