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
"""Configuration options of the driver.

Everything that differs between sites lives here rather than in code: the
management cluster, the chart's coordinates, Cluster API versions and kinds,
timeouts, and the site defaults of every label (group ``[capi_rdma_labels]``,
generated from the label spec so the two cannot drift apart).
"""

import os

from oslo_config import cfg

from magnum_capi_rdma import features

GROUP = "capi_rdma"
LABELS_GROUP = "capi_rdma_labels"


def _new_group():
    return cfg.OptGroup(
        GROUP,
        title="Cluster API RDMA driver",
        help="Options of the magnum-capi-rdma Magnum driver.",
    )


#: For the sample config generator. Registering copies a group shallowly,
#: so every ConfigOpts gets a group of its own (register_opts): sharing one
#: would share its overrides between them.
capi_rdma_group = _new_group()

management_opts = [
    cfg.StrOpt(
        "kubeconfig_file",
        default="",
        help="Kubeconfig of the Cluster API management cluster. Empty means "
        "the in-cluster service account, then ~/.kube/config.",
    ),
    cfg.StrOpt(
        "namespace_prefix",
        default="magnum-",
        help="Prefix of the per-project namespace on the management "
        "cluster. The namespace is <prefix><project id>.",
    ),
]

chart_opts = [
    cfg.StrOpt(
        "chart_repo",
        default="https://azimuth-cloud.github.io/capi-helm-charts",
        help="Where the openstack-cluster chart comes from: an http(s) chart "
        "repository, an oci:// reference, or a local chart directory.",
    ),
    cfg.StrOpt(
        "chart_name",
        default="openstack-cluster",
        help="Name of the chart in chart_repo (ignored for a local "
        "directory).",
    ),
    cfg.StrOpt(
        "chart_version",
        default="0.27.0",
        help="Site default chart version. The capi_helm_chart_version label "
        "of a cluster template overrides it.",
    ),
    cfg.StrOpt(
        "helm_executable",
        default="helm",
        help="Path of the helm binary.",
    ),
    cfg.StrOpt(
        "chart_cache_dir",
        default="$state_path/capi_rdma/charts",
        help="Where pulled charts are cached, one folder per repo, name and "
        "version, so a chart is downloaded once.",
    ),
    cfg.IntOpt(
        "helm_timeout",
        default=300,
        min=10,
        help="Seconds a single helm install, upgrade or uninstall may take.",
    ),
    cfg.IntOpt(
        "helm_retries",
        default=3,
        min=0,
        max=20,
        help="Retries of a helm operation that failed for a transient "
        "reason (API unreachable, another operation in progress).",
    ),
]

api_opts = [
    cfg.StrOpt(
        "cluster_api_version",
        default="cluster.x-k8s.io/v1beta1",
        help="apiVersion of Cluster, MachineDeployment, MachineSet, Machine "
        "and MachineHealthCheck.",
    ),
    cfg.StrOpt(
        "control_plane_api_version",
        default="controlplane.cluster.x-k8s.io/v1beta1",
        help="apiVersion of KubeadmControlPlane.",
    ),
    cfg.StrOpt(
        "bootstrap_api_version",
        default="bootstrap.cluster.x-k8s.io/v1beta1",
        help="apiVersion of KubeadmConfigTemplate.",
    ),
    cfg.StrOpt(
        "infrastructure_api_version",
        default="infrastructure.cluster.x-k8s.io/v1beta1",
        help="apiVersion of OpenStackCluster and OpenStackMachineTemplate.",
    ),
    cfg.StrOpt(
        "addons_api_version",
        default="addons.stackhpc.com/v1alpha1",
        help="apiVersion of the addon provider's HelmRelease and Manifests.",
    ),
    cfg.StrOpt(
        "nic_cluster_policy_api_version",
        default="mellanox.com/v1alpha1",
        help="apiVersion of the NVIDIA network operator's NicClusterPolicy "
        "in workload clusters (read for RDMA health).",
    ),
    cfg.IntOpt(
        "workload_api_timeout",
        default=5,
        min=1,
        help="Seconds a health check may wait for a workload cluster's API "
        "server.",
    ),
]

timeout_opts = [
    cfg.IntOpt(
        "default_create_timeout",
        default=60,
        min=1,
        help="Minutes a create may take when Magnum passes no "
        "create_timeout.",
    ),
    cfg.IntOpt(
        "update_timeout",
        default=60,
        min=1,
        help="Minutes an update, resize, upgrade or node group operation may "
        "take before it is marked UPDATE_FAILED (or the node group's "
        "FAILED state) with what was still pending.",
    ),
    cfg.IntOpt(
        "delete_timeout",
        default=60,
        min=1,
        help="Minutes a delete may take before it is marked DELETE_FAILED. "
        "A later delete resumes where it stopped.",
    ),
    cfg.IntOpt(
        "kube_request_timeout",
        default=30,
        min=0,
        help="Seconds a request to the management cluster's API server may "
        "take (connect and read) before it fails as transient. 0: no "
        "limit.",
    ),
    cfg.StrOpt(
        "status_source",
        default="watch",
        choices=[("watch", "a cache fed by one watch per kind, shared by "
                  "every status and health pass of the process: a steady "
                  "pass makes no request"),
                 ("list", "one LIST per kind for each status pass (the "
                  "fallback of watch)")],
        help="How status and health read the Cluster API objects. With "
        "watch, each conductor process lists every kind once (paged), then "
        "watches it; a pass falls back to a LIST when a watch has been "
        "down longer than status_max_staleness. The driver's identity "
        "needs list and watch on the kinds (etc/rbac).",
    ),
    cfg.IntOpt(
        "status_max_staleness",
        default=5,
        min=0,
        help="Seconds: status and health are never computed from observed "
        "objects older than this. With status_source=list, a LIST per kind "
        "serves every cluster of a status pass for this long (keep it "
        "below Magnum's 10 s status period so each pass reads fresh "
        "objects); with watch, how long a kind whose watch is reconnecting "
        "may still be served before passes fall back to a LIST.",
    ),
    cfg.IntOpt(
        "operation_lock_seconds",
        default=60,
        min=10,
        help="Seconds a conductor's hold on a cluster's operation lock "
        "lasts without renewal. While a driver call runs it renews the "
        "lock every third of this; a second operation on the same cluster "
        "meanwhile is refused. After a conductor dies, its lock expires "
        "this long after its last renewal.",
    ),
    cfg.IntOpt(
        "delete_lock_wait",
        default=600,
        min=0,
        help="Seconds a delete waits for another driver call on the same "
        "cluster (e.g. a create still installing its Helm release) to "
        "finish before it fails as busy. Other operations never wait: "
        "they are refused at once.",
    ),
]

rbac_opts = [
    cfg.StrOpt(
        "namespace_role",
        default="magnum-capi-rdma-namespaced",
        help="ClusterRole the driver binds to its own identity (a "
        "RoleBinding) in each project namespace it creates, so its "
        "write access is limited to those namespaces. See "
        "etc/rbac/magnum-capi-rdma.yaml. Empty: no binding (the driver's "
        "kubeconfig already grants what it needs).",
    ),
]

keystone_opts = [
    cfg.ListOpt(
        "app_credential_roles",
        default=[],
        help="Roles the per-cluster application credential carries, e.g. "
        "member,load-balancer_member. They must be roles the cluster's "
        "owner has on the project. Empty: the owner's roles on the project "
        "(Keystone's default). The credential is always restricted: it "
        "cannot create further credentials or trusts.",
    ),
    cfg.StrOpt(
        "app_credential_prefix",
        default="magnum-capi-rdma-",
        help="Prefix of the per-cluster application credential's name; the "
        "name ends with the cluster UUID so it can be found and removed.",
    ),
    cfg.StrOpt(
        "ca_file",
        default="",
        help="CA bundle the workload cluster's OpenStack clients trust, "
        "written with the cloud credentials. Empty: system trust store.",
    ),
    cfg.StrOpt(
        "endpoint_interface",
        default="public",
        choices=["public", "internal"],
        help="Keystone catalog interface the workload cluster uses.",
    ),
]

site_opts = [
    cfg.StrOpt(
        "unknown_labels",
        default="refuse",
        choices=[("refuse", "a label no feature of the driver reads is "
                  "an error"),
                 ("warn", "such labels are accepted, ignored, and listed "
                  "in the cluster's status_reason (for migrations)")],
        help="What to do with labels the driver does not read. Near "
        "misses of its labels (\"did you mean\"), labels starting with "
        "``rdma_``, ``gpu_`` or ``capi_`` and other drivers' labels it "
        "deliberately does not support are refused either way.",
    ),
    cfg.BoolOpt(
        "ib_sriov_cni_in_image",
        default=False,
        help="The node images of this site carry the ib-sriov CNI plugin "
        "(/opt/cni/bin/ib-sriov). The NicClusterPolicy of the network "
        "operator release the driver targets cannot install it (only the "
        "operator's SR-IOV network operator ships it), so rdma_mode "
        "ib-sriov is refused unless this is true.",
    ),
    cfg.ListOpt(
        "trusted_ca_files",
        default=[],
        help="PEM files of certificate authorities that the nodes of "
        "every cluster trust besides the system's, e.g. of a private "
        "registry (container_infra_prefix, registry_mirrors) or of a "
        "TLS-inspecting proxy. Each file goes to the nodes' system trust "
        "(the chart's trustedCAs: /usr/local/share/ca-certificates/"
        "NAME.crt, NAME the file's name without its extension). Read "
        "when a cluster is created or updated; a file that cannot be "
        "read or holds anything but certificates fails the operation "
        "with its name.",
    ),
]

selftest_opts = [
    cfg.StrOpt(
        "selftest_image",
        default="ghcr.io/azimuth-cloud/kube-perftest-perftest:latest",
        help="Image of the RDMA self-test's pods (rdma_selftest_enabled): "
        "it must have perftest (ib_write_bw, ib_write_lat), a POSIX "
        "shell, awk, sed, tail and cut, e.g. Ubuntu with the perftest "
        "package (kube-perftest's perftest image). Pin a tag or digest, "
        "ideally in the site's own registry.",
    ),
    cfg.ListOpt(
        "selftest_bandwidth_args",
        default=["-F", "--report_gbits", "-R", "-s", "1048576", "-n",
                 "5000"],
        help="Arguments of ib_write_bw on both pods (the client adds the "
        "server's address; both add -d and the RDMA device). Keep "
        "--report_gbits: the result is read in Gbit/s. -R uses the RDMA "
        "connection manager (addresses on the RDMA network).",
    ),
    cfg.ListOpt(
        "selftest_latency_args",
        default=["-F", "-R", "-s", "2", "-n", "10000"],
        help="Arguments of ib_write_lat on both pods.",
    ),
    cfg.FloatOpt(
        "selftest_min_bandwidth_gbps",
        default=10.0,
        min=0,
        help="Lowest average RDMA write bandwidth (Gbit/s) the self-test "
        "accepts, unless the cluster's rdma_selftest_min_bandwidth_gbps "
        "label says otherwise. The default only catches a fabric that "
        "barely works; set the speed of the site's links (e.g. 90 for "
        "100GbE).",
    ),
    cfg.FloatOpt(
        "selftest_max_latency_us",
        default=50.0,
        min=0,
        help="Highest typical RDMA write latency (microseconds) the "
        "self-test accepts, unless the rdma_selftest_max_latency_us label "
        "says otherwise. 0: no limit.",
    ),
    cfg.IntOpt(
        "selftest_timeout",
        default=600,
        min=30,
        help="Seconds a self-test run may take, from its start to the "
        "client's report (including pulling the image); after that it is "
        "timed out, its pods are deleted and the cluster is UNHEALTHY "
        "with what was still pending.",
    ),
    cfg.StrOpt(
        "selftest_rdma_device",
        default="",
        help="RDMA device perftest uses in the pods (-d). Empty: the "
        "device of the pod's RDMA interface (net1), else the first one "
        "the pod sees.",
    ),
    cfg.IntOpt(
        "selftest_connect_tries",
        default=15,
        min=1,
        help="How often the client tries to reach the server (2 s apart) "
        "before a test fails.",
    ),
]

#: Options the cluster spec depends on (passed to ``spec.build_spec``).
SITE_OPTIONS = tuple(opt.name for opt in site_opts)

ALL_OPTS = management_opts + chart_opts + api_opts + timeout_opts + (
    rbac_opts + keystone_opts + site_opts + selftest_opts)


def site_options(conf=cfg.CONF):
    """The site settings the spec depends on, by name.

    Files are read here (the spec does no I/O): ``trusted_ca_files``
    becomes ``(path, text, error)`` triples, ``error`` why a file could
    not be read (the spec reports it with the path).
    """
    options = {name: conf[GROUP][name] for name in SITE_OPTIONS}
    options["trusted_ca_files"] = tuple(
        _read_text(path) for path in options["trusted_ca_files"] or ())
    return options


#: Larger files are refused unread (a bundle of CAs is a few KiB).
MAX_FILE_BYTES = 256 * 1024


#: path -> ((mtime, size), what _read_text returned): every create,
#: update and health poll builds the spec; a file is read again only once
#: it changed.
_READ = {}


def _read_text(path):
    try:
        stat = os.stat(path)
    except OSError as exc:
        return path, None, exc.strerror or str(exc)
    key = (stat.st_mtime_ns, stat.st_size)
    cached = _READ.get(path)
    if cached is None or cached[0] != key:
        cached = _READ[path] = (key, _read_uncached(path))
    return cached[1]


def _read_uncached(path):
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return path, None, exc.strerror or str(exc)
    if len(data) > MAX_FILE_BYTES:
        return path, None, "larger than %d KiB" % (MAX_FILE_BYTES // 1024)
    try:
        return path, data.decode("ascii"), None
    except UnicodeDecodeError:
        return path, None, "not ASCII text (PEM is)"


def label_default_opts():
    """One option per label that a site may give a default to."""
    opts = []
    for label in features.LABELS.values():
        if not label.site_default:
            continue
        opts.append(
            cfg.StrOpt(
                label.name,
                default=None,
                help="Site default of the %r label (validated like the "
                "label): %s" % (label.name, label.help),
            )
        )
    return opts


def register_opts(conf=cfg.CONF):
    conf.register_group(_new_group())
    conf.register_opts(ALL_OPTS, group=GROUP)
    conf.register_opts(label_default_opts(), group=LABELS_GROUP)


def site_label_defaults(conf=cfg.CONF):
    """The site's label defaults as raw strings, only those that are set."""
    group = conf[LABELS_GROUP]
    return {
        name: group[name]
        for name, label in features.LABELS.items()
        if label.site_default and group[name] is not None
    }


def from_files(paths):
    """A configuration read from ``paths`` only, e.g. magnum.conf.

    For the operator command, which must find the site's label defaults
    where magnum-conductor does. No files: every option's default.
    """
    conf = cfg.ConfigOpts()
    register_opts(conf)
    conf(args=[], project="magnum", default_config_files=list(paths))
    return conf


def list_opts():
    """Entry point for oslo-config-generator."""
    return [
        (capi_rdma_group, ALL_OPTS),
        (LABELS_GROUP, label_default_opts()),
    ]


register_opts()
