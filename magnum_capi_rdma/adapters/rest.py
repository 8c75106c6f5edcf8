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
"""Reads of the management cluster over plain HTTP: paged LISTs, watches.

Status and health only read, and read much: this is their transport,
without the ``kubernetes`` client (whose import alone costs a conductor
about 10 MiB, and which parses a whole LIST response at once). One
urllib3 pool per process, keep-alive connections, and:

- LISTs are paged (``limit``/``continue``) and each page is decoded one
  item at a time (:func:`iter_items`), so at most one page of raw JSON
  and one decoded object are held however large the LIST;
- watches are streamed, one event per line (:class:`Watch`);
- every request is counted (:attr:`Connection.requests`).

The kubeconfig is read here too (:func:`load_kubeconfig`): server, CA,
bearer token (or token file, re-read as it rotates), client certificate,
in-cluster service account. A kubeconfig that needs an exec or
auth-provider plugin is resolved through the ``kubernetes`` client.
Errors are :class:`~magnum_capi_rdma.adapters.kube.KubeError`, worded
like the Kube adapter's.
"""

import base64
import json
import os
import re
import shutil
import ssl
import tempfile
import threading
import urllib.parse

from oslo_config import cfg
import urllib3
import yaml

from magnum_capi_rdma.adapters import kube as kube_adapter

CONF = cfg.CONF

#: Objects per LIST page: a page of Machines is about 1.5 MB of JSON.
PAGE_SIZE = 250
IN_CLUSTER_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

_WS = re.compile(r"[ \t\n\r]*")


class Gone(kube_adapter.KubeError):
    """410: the resourceVersion is too old (compacted); LIST again."""


# -- the kubeconfig -------------------------------------------------------

class Credentials(object):
    """Where and how to reach an API server."""

    def __init__(self, server, ssl_context, token=None, token_file=None,
                 server_hostname=None, refresh=None):
        self.server = server.rstrip("/")
        self.ssl_context = ssl_context
        self.server_hostname = server_hostname
        self._token = token
        self._token_file = token_file
        self._refresh = refresh

    def headers(self):
        token = self._token
        if self._token_file:
            with open(self._token_file) as f:
                token = f.read().strip()
        if self._refresh is not None:
            token = self._refresh() or token
        if not token:
            return {}
        if token.lower().startswith("bearer "):
            return {"Authorization": token}
        return {"Authorization": "Bearer " + token}


def _data_or_file(entry, key, base_dir):
    """Bytes of ``key-data`` (base64) or of the file ``key``, or None."""
    data = entry.get(key + "-data")
    if data:
        return base64.b64decode(data)
    path = entry.get(key)
    if path:
        if not os.path.isabs(path):
            path = os.path.join(base_dir, path)
        with open(path, "rb") as f:
            return f.read()
    return None


#: urllib3 < 2 matches the server's name against its certificate itself.
URLLIB3_MATCHES_HOSTNAMES = int(urllib3.__version__.split(".")[0]) < 2


def ssl_context(ca_pem=None, cert_pem=None, key_pem=None, insecure=False):
    """A client SSL context; certificate and key never stay on disk.

    ``load_cert_chain`` reads files only: they are written to a private
    folder, loaded, and removed before this returns.
    """
    context = ssl.create_default_context(
        cadata=ca_pem.decode() if ca_pem else None)
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif URLLIB3_MATCHES_HOSTNAMES:
        # urllib3 1.x (the upper constraints of OpenStack 2025.1 and
        # 2025.2) does not give the TLS library the name of a server
        # addressed by IP, which then refuses a context that checks
        # hostnames ("check_hostname requires server_hostname"). It matches
        # the certificate's names itself (IP addresses too) when the
        # context does not; the certificate is still verified.
        context.check_hostname = False
    if cert_pem and key_pem:
        private = tempfile.mkdtemp(prefix="capi-rdma-")
        try:
            paths = []
            for name, data in (("tls.crt", cert_pem), ("tls.key", key_pem)):
                path = os.path.join(private, name)
                with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600),
                          "wb") as f:
                    f.write(data)
                paths.append(path)
            context.load_cert_chain(*paths)
        finally:
            shutil.rmtree(private, ignore_errors=True)
    return context


def credentials_from_dict(config, base_dir=".", path=None):
    """:class:`Credentials` of a kubeconfig (a dict), current context."""
    def named(section, name):
        for item in config.get(section) or ():
            if item.get("name") == name:
                return item.get(section[:-1]) or {}
        raise ValueError("no %s named %r" % (section[:-1], name))

    contexts = config.get("contexts") or ()
    current = config.get("current-context") or (
        contexts[0].get("name") if contexts else None)
    context = named("contexts", current)
    cluster = named("clusters", context.get("cluster"))
    user = named("users", context.get("user")) if context.get(
        "user") else {}
    if user.get("exec") or user.get("auth-provider"):
        return _plugin_credentials(path, current)
    server = cluster.get("server")
    if not server:
        raise ValueError("the cluster of context %r has no server" % current)
    token_file = user.get("tokenFile")
    if token_file and not os.path.isabs(token_file):
        token_file = os.path.join(base_dir, token_file)
    context_ssl = ssl_context(
        _data_or_file(cluster, "certificate-authority", base_dir),
        _data_or_file(user, "client-certificate", base_dir),
        _data_or_file(user, "client-key", base_dir),
        bool(cluster.get("insecure-skip-tls-verify")))
    return Credentials(server, context_ssl, token=user.get("token"),
                       token_file=token_file,
                       server_hostname=cluster.get("tls-server-name"))


def _plugin_credentials(path, context):
    """Credentials of an exec/auth-provider user, by the kubernetes client."""
    from kubernetes import client
    from kubernetes import config as kconfig

    configuration = client.Configuration()
    kconfig.load_kube_config(config_file=path, context=context,
                             client_configuration=configuration)

    def refresh():
        hook = configuration.refresh_api_key_hook
        if hook is not None:
            hook(configuration)
        return configuration.get_api_key_with_prefix("authorization")

    def read(name):
        value = getattr(configuration, name, None)
        if not value:
            return None
        with open(value, "rb") as f:
            return f.read()

    return Credentials(
        configuration.host,
        ssl_context(read("ssl_ca_cert"), read("cert_file"),
                    read("key_file"), not configuration.verify_ssl),
        refresh=refresh)


def load_kubeconfig(path=None):
    """:class:`Credentials` from ``path``; empty: in-cluster, then default.

    As the Kube adapter: the in-cluster service account when running in
    a pod, else ``$KUBECONFIG`` (its first file) or ``~/.kube/config``.
    """
    if not path and os.environ.get("KUBERNETES_SERVICE_HOST") and (
            os.path.exists(os.path.join(IN_CLUSTER_DIR, "token"))):
        host = os.environ["KUBERNETES_SERVICE_HOST"]
        if ":" in host:
            host = "[%s]" % host
        with open(os.path.join(IN_CLUSTER_DIR, "ca.crt"), "rb") as f:
            ca = f.read()
        return Credentials(
            "https://%s:%s" % (host, os.environ.get(
                "KUBERNETES_SERVICE_PORT", "443")),
            ssl_context(ca), token_file=os.path.join(IN_CLUSTER_DIR,
                                                     "token"))
    if not path:
        path = (os.environ.get("KUBECONFIG") or "").split(os.pathsep)[0] or (
            os.path.expanduser("~/.kube/config"))
    with open(path) as f:
        config = yaml.safe_load(f) or {}
    return credentials_from_dict(config, os.path.dirname(
        os.path.abspath(path)), path)


# -- decoding ---------------------------------------------------------------

def iter_items(text, meta):
    """The items of a LIST response (text), decoded one at a time.

    The list's own ``metadata`` (continue token, resourceVersion) is put
    in ``meta``; the API server may send it before or after the items.
    """
    scan = json.JSONDecoder().raw_decode

    def ws(i):
        return _WS.match(text, i).end()

    i = ws(0)
    if text[i:i + 1] != "{":
        raise ValueError("a LIST answer is not a JSON object")
    i = ws(i + 1)
    while text[i:i + 1] != "}":
        if text[i] == ",":
            i = ws(i + 1)
        key, i = scan(text, i)
        i = ws(i)
        i = ws(i + 1)   # the colon
        if key == "items" and text[i] == "[":
            i = ws(i + 1)
            while text[i] != "]":
                item, i = scan(text, i)
                yield item
                i = ws(i)
                if text[i] == ",":
                    i = ws(i + 1)
            i = ws(i + 1)
            continue
        value, i = scan(text, i)
        if key == "metadata" and isinstance(value, dict):
            meta.update(value)
        i = ws(i)


# -- the connection --------------------------------------------------------

class Connection(object):
    """Reads of one API server: paged LISTs and watches, counted.

    :param credentials: :class:`Credentials`.
    :param api_versions: ``{option: "group/version"}`` as the Kube adapter
        takes them.
    :param timeout: seconds a request (connect, and each read) may take.
    """

    def __init__(self, credentials, api_versions, timeout=30.0,
                 page_size=PAGE_SIZE, pool_size=16):
        self.credentials = credentials
        self.api_versions = dict(api_versions)
        self.timeout = timeout or None
        self.page_size = page_size
        self._pool = urllib3.PoolManager(
            num_pools=2, maxsize=pool_size, block=False, retries=False,
            ssl_context=credentials.ssl_context,
            server_hostname=credentials.server_hostname)
        self._count_lock = threading.Lock()
        self.requests = 0
        self.requests_by = {}

    @classmethod
    def from_config(cls, conf=CONF):
        group = conf.capi_rdma
        try:
            credentials = load_kubeconfig(group.kubeconfig_file or None)
        except (OSError, ValueError, TypeError, KeyError, ssl.SSLError,
                yaml.YAMLError) as exc:
            raise kube_adapter.KubeError(
                "cannot load the management cluster's kubeconfig %s: %s"
                % (group.kubeconfig_file or
                   "(in-cluster or ~/.kube/config)", exc))
        versions = {option: group[option]
                    for option, _ in kube_adapter.KINDS.values()}
        return cls(credentials, versions,
                   timeout=group.kube_request_timeout)

    def close(self):
        self._pool.clear()

    # -- paths --

    @staticmethod
    def plural(kind):
        return "leases" if kind == "lease" else kube_adapter.KINDS[kind][1]

    def path(self, kind, namespace=None):
        """The collection path of a kind key (or "lease")."""
        if kind == "lease":
            base = "/apis/coordination.k8s.io/v1"
            plural = "leases"
        else:
            option, plural = kube_adapter.KINDS[kind]
            api_version = self.api_versions.get(option) or ""
            group, sep, version = api_version.partition("/")
            if not (sep and group and version):
                raise kube_adapter.KubeError(
                    "[capi_rdma] %s must be GROUP/VERSION, got %r"
                    % (option, api_version))
            base = "/apis/%s/%s" % (group, version)
        if namespace:
            return "%s/namespaces/%s/%s" % (base, namespace, plural)
        return "%s/%s" % (base, plural)

    # -- requests --

    def _count(self, verb):
        with self._count_lock:
            self.requests += 1
            self.requests_by[verb] = self.requests_by.get(verb, 0) + 1

    def _open(self, verb, path, query, what, timeout, stream=False):
        url = self.credentials.server + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        self._count(verb)
        try:
            response = self._pool.request(
                "GET", url, headers=dict(self.credentials.headers(),
                                         Accept="application/json"),
                preload_content=not stream, timeout=timeout)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise kube_adapter.KubeError(
                "cannot %s: management cluster unreachable (%s)" % (
                    what, type(exc).__name__), transient=True) from None
        if response.status != 200:
            data = response.data
            response.release_conn()
            raise _error(response.status, data, what)
        return response

    def iter_list(self, kind, label_selector=None, namespace=None,
                  meta=None, page_size=None):
        """Every object of a kind, one page at a time, as dicts.

        ``meta`` (a dict) receives the LIST's resourceVersion once the
        last page is read.
        """
        path = self.path(kind, namespace)
        what = "list %s in %s" % (self.plural(kind),
                                  namespace or "all namespaces")
        query = {"limit": page_size or self.page_size}
        if label_selector:
            query["labelSelector"] = label_selector
        while True:
            response = self._open("LIST", path, query, what,
                                  urllib3.Timeout(connect=self.timeout,
                                                  read=self.timeout))
            text = response.data.decode("utf-8")
            response.release_conn()
            del response
            page = {}
            yield from iter_items(text, page)
            del text
            token = page.get("continue")
            if meta is not None:
                meta["resourceVersion"] = page.get("resourceVersion")
            if not token:
                return
            query["continue"] = token

    def list_all(self, kind, label_selector=None):
        """As ``Kube.list_all`` (the list Observer's source), paged."""
        return self.iter_list(kind, label_selector)

    def list_leases_all(self, label_selector):
        return self.iter_list("lease", label_selector)

    def watch(self, kind, resource_version, label_selector=None,
              timeout_seconds=None, read_timeout=None):
        """A :class:`Watch` of a kind from ``resource_version``."""
        query = {"watch": "1", "allowWatchBookmarks": "true",
                 "resourceVersion": resource_version}
        if timeout_seconds:
            query["timeoutSeconds"] = int(timeout_seconds)
        if label_selector:
            query["labelSelector"] = label_selector
        what = "watch %s in all namespaces" % self.plural(kind)
        response = self._open(
            "WATCH", self.path(kind), query, what,
            urllib3.Timeout(connect=self.timeout, read=read_timeout),
            stream=True)
        return Watch(response, what)


def _error(status, data, what):
    message = None
    try:
        message = json.loads(data).get("message")
    except (ValueError, TypeError, AttributeError):
        pass
    message = " ".join(str(message or "HTTP %d" % status).split())[:300]
    cls = Gone if status == 410 else kube_adapter.KubeError
    return cls("cannot %s: %s (HTTP %d)" % (what, message, status),
               status=status,
               transient=status in kube_adapter.TRANSIENT_STATUSES)


class Watch(object):
    """A streamed watch: iterate for ``(type, object)``; thread-safe stop.

    A 410 in the stream raises :class:`Gone`; another error event raises
    :class:`~magnum_capi_rdma.adapters.kube.KubeError`. The iteration ends
    when the server ends the watch (its timeout).
    """

    def __init__(self, response, what):
        self._response = response
        self._what = what
        self._stopped = False

    def __iter__(self):
        buffer = b""
        ended = False
        try:
            for chunk in self._response.stream(65536):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield self._event(line)
            ended = True
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            if self._stopped:
                return
            raise kube_adapter.KubeError(
                "cannot %s: management cluster unreachable (%s)" % (
                    self._what, type(exc).__name__), transient=True) from None
        finally:
            self.close(reuse=ended and not self._stopped)

    def _event(self, line):
        event = json.loads(line)
        etype = event.get("type")
        obj = event.get("object") or {}
        if etype == "ERROR":
            code = obj.get("code")
            message = " ".join(str(obj.get("message") or "").split())[:300]
            cls = Gone if code == 410 else kube_adapter.KubeError
            raise cls("cannot %s: %s (HTTP %s)" % (
                self._what, message, code), status=code, transient=True)
        return etype, obj

    def stop(self):
        """End the watch from another thread."""
        self._stopped = True
        try:
            self._response.shutdown()
        except Exception:  # noqa: B902 - best effort on a dying socket
            pass

    def close(self, reuse=False):
        """Give the connection back (a watch the server ended) or drop it."""
        try:
            if reuse:
                self._response.release_conn()
            else:
                self._response.close()
        except Exception:  # noqa: B902 - best effort on a dying socket
            pass
