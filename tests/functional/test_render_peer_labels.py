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
"""The other drivers' labels, through the real openstack-cluster chart.

For every label magnum-capi-helm 1.4.0 reads, every label of
magnum-cluster-api and the labels and template fields operators asked
for (tests/support/peers.py), a description with it is rendered by the
driver and then by ``helm template`` of the real chart
(``../shared/upstream/charts/openstack-cluster`` 0.27.0), and the test
asserts where the value lands in the rendered objects, or that the label
is refused with a message saying so. Every Cluster API and OpenStack
provider object rendered is also checked against the v1beta1 schema of
the upstream CRDs (``../shared/upstream/crds``): unknown fields refused
as the API server's strict field validation does, types, enums, lengths,
patterns and formats (not the CEL rules).

Skipped, with one line, without the upstream folder or the pinned helm;
in CI (env ``CI`` set) that is a failure.
"""

import copy
import datetime
import functools
import json
import pathlib
import re
import subprocess

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography import x509
from cryptography.x509.oid import NameOID
from oslo_config import cfg
import pytest
import yaml

from magnum_capi_rdma import conf as capi_conf
from magnum_capi_rdma import spec
from magnum_capi_rdma import values
from tests.support import peers
from tests.support import upstream

RELEASE = "rc1"
SITE = {"unknown_labels": "refuse", "ib_sriov_cni_in_image": True}
UUID = "3c9f7b1e-2d4a-4f6b-8e1c-0a9b8c7d6e5f"
SHARE_NET = "5c9f7b1e-2d4a-4f6b-8e1c-0a9b8c7d6e5f"
BASE = {
    "cluster_template": {
        "image_id": "ubuntu-2404-kube", "keypair_id": "k",
        "external_network_id": "0e7d1c2b-4a5f-4e3d-8c9b-1a2b3c4d5e6f",
        "master_flavor_id": "m1.medium",
        "flavor_id": "m1.large", "labels": {"kube_tag": "v1.33.1"},
    },
    "cluster": {"name": "c", "master_count": 1, "node_count": 2},
}
CILIUM = {"network_driver": "cilium"}
PROXIES = {"http_proxy": "http://proxy.example.com:3128",
           "https_proxy": "http://proxy.example.com:3128",
           "no_proxy": ".example.com"}


# -- rendering -------------------------------------------------------------

@pytest.fixture(scope="module")
def render(helm_bin, tmp_path_factory):
    """render(labels, fields) -> the chart's objects (cached)."""
    chart = upstream.require_upstream() / "charts" / "openstack-cluster"
    workdir = tmp_path_factory.mktemp("peer-labels")
    cache = {}

    def run(labels=None, fields=None):
        key = json.dumps([labels, fields], sort_keys=True)
        if key not in cache:
            vals = values.build_values(build(labels, fields), "creds")
            path = workdir / ("values-%d.yaml" % len(cache))
            path.write_text(yaml.safe_dump(vals))
            result = subprocess.run(
                [helm_bin, "template", RELEASE, str(chart), "--namespace",
                 "magnum-p", "--values", str(path)],
                capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, result.stderr
            docs = [d for d in yaml.safe_load_all(result.stdout) if d]
            for doc in docs:
                check_schema(doc)
            cache[key] = docs
        return cache[key]

    return run


def description(labels=None, fields=None):
    """BASE with *labels* (a None value removes one) and fields."""
    desc = copy.deepcopy(BASE)
    template = desc["cluster_template"]
    for name, value in (labels or {}).items():
        if value is None:
            template["labels"].pop(name, None)
        else:
            template["labels"][name] = value
    template.update(fields or {})
    return desc


def build(labels=None, fields=None):
    return spec.build_spec(description(labels, fields), site_options=SITE)


def refusal(labels, fields=None):
    with pytest.raises(spec.InvalidSpec) as err:
        build(labels, fields)
    return str(err.value)


# -- the CRDs' schemas -----------------------------------------------------

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.lru_cache()
def schemas():
    """(apiVersion, kind) -> openAPIV3Schema of the upstream CRDs."""
    root = upstream.require_upstream() / "crds"
    found = {}
    for folder in ("cluster-api", "cluster-api-provider-openstack"):
        for path in sorted((root / folder).glob("*.yaml")):
            with open(path) as handle:
                crds = [d for d in yaml.load_all(handle, Loader=_LOADER)
                        if d]
            for crd in crds:
                group = crd["spec"]["group"]
                kind = crd["spec"]["names"]["kind"]
                for version in crd["spec"]["versions"]:
                    found[("%s/%s" % (group, version["name"]), kind)] = (
                        version["schema"]["openAPIV3Schema"])
    return found


_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool,
          "integer": int, "number": (int, float)}


_FORMATS = {
    "uuid": r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
            r"[0-9a-fA-F]{12}$",
    "ipv4": r"^([0-9]{1,3}\.){3}[0-9]{1,3}$",
}


def _limits(value, schema):
    """The CRD's value limits *value* breaks (CEL rules are not run)."""
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            yield "shorter than %s" % schema["minLength"]
        if len(value) > schema.get("maxLength", len(value)):
            yield "longer than %s" % schema["maxLength"]
        if "pattern" in schema and not re.search(schema["pattern"], value):
            yield "does not match %s" % schema["pattern"]
        pattern = _FORMATS.get(schema.get("format"))
        if pattern and not re.match(pattern, value):
            yield "is not a %s" % schema["format"]
    elif isinstance(value, list):
        if len(value) > schema.get("maxItems", len(value)):
            yield "has more than %s items" % schema["maxItems"]
    elif isinstance(value, int) and not isinstance(value, bool):
        if value < schema.get("minimum", value):
            yield "is below %s" % schema["minimum"]
        if value > schema.get("maximum", value):
            yield "is above %s" % schema["maximum"]


def _walk(value, schema, where, problems):
    if schema.get("x-kubernetes-int-or-string"):
        if not isinstance(value, (int, str)):
            problems.append("%s: not an int or string" % where)
        return
    kind = schema.get("type")
    if kind and value is not None and not isinstance(value, _TYPES[kind]):
        problems.append("%s: %r is not %s" % (where, value, kind))
        return
    if "enum" in schema and value not in schema["enum"]:
        problems.append("%s: %r not in %s" % (where, value, schema["enum"]))
    for problem in _limits(value, schema):
        problems.append("%s: %r %s" % (where, value, problem))
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if props and key in props:
                _walk(item, props[key], "%s.%s" % (where, key), problems)
            elif isinstance(extra, dict):
                _walk(item, extra, "%s.%s" % (where, key), problems)
            elif props is not None and not schema.get(
                    "x-kubernetes-preserve-unknown-fields"):
                problems.append("%s: unknown field %r" % (where, key))
    elif isinstance(value, list) and "items" in schema:
        for pos, item in enumerate(value):
            _walk(item, schema["items"], "%s[%d]" % (where, pos), problems)


def check_schema(doc):
    schema = schemas().get((doc["apiVersion"], doc["kind"]))
    if schema is None:
        return
    problems = []
    _walk({k: v for k, v in doc.items() if k != "metadata"}, schema,
          doc["kind"], problems)
    assert not problems, "\n".join(problems)


# -- where things are --------------------------------------------------------

def of_kind(docs, kind):
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def kcp(docs):
    return of_kind(docs, "KubeadmControlPlane")["rc1-control-plane"][
        "spec"]["kubeadmConfigSpec"]


def kct(docs, group="default-worker"):
    (found,) = [d["spec"]["template"]["spec"]
                for d in of_kind(docs, "KubeadmConfigTemplate").values()
                if d["metadata"]["labels"].get(
                    "capi.stackhpc.com/node-group") == group]
    return found


def osmt(docs, group="default-worker"):
    """The machine template of a node group, or the control plane's."""
    for doc in of_kind(docs, "OpenStackMachineTemplate").values():
        labels = doc["metadata"]["labels"]
        if labels.get("capi.stackhpc.com/node-group") == group or (
                group == "control-plane" and labels.get(
                    "capi.stackhpc.com/component") == "control-plane"):
            return doc["spec"]["template"]["spec"]
    raise KeyError(group)


def osc(docs):
    return of_kind(docs, "OpenStackCluster")[RELEASE]["spec"]


def cluster_network(docs):
    return of_kind(docs, "Cluster")[RELEASE]["spec"]["clusterNetwork"]


def md(docs, group="default-worker"):
    return of_kind(docs, "MachineDeployment")["%s-%s" % (RELEASE, group)]


def overrides(docs, addon):
    secret = of_kind(docs, "Secret")["%s-%s-config" % (RELEASE, addon)]
    return yaml.safe_load(secret["stringData"]["overrides"]) or {}


def releases(docs):
    return of_kind(docs, "HelmRelease")


def manifest_templates(docs, name):
    found = of_kind(docs, "Manifests")["%s-%s" % (RELEASE, name)]
    return [s["template"] for s in found["spec"]["manifestSources"]]


def storage_class(docs, name="csi-cinder-storageclass"):
    (template,) = [t for t in manifest_templates(docs, name)
                   if "kind: StorageClass" in t]
    return yaml.safe_load(template)


def files(config):
    return {f["path"]: f.get("content") for f in config.get("files", [])}


def api_args(docs):
    return kcp(docs)["clusterConfiguration"]["apiServer"]["extraArgs"]


def device(docs, name, group="control-plane"):
    (found,) = [d for d in osmt(docs, group)["additionalBlockDevices"]
                if d["name"] == name]
    return found


# -- the cases -------------------------------------------------------------

def _etcd(render, name, value, expect):
    docs = render({"etcd_blockdevice_size": "20", name: value})
    assert expect(device(docs, "etcd")), device(docs, "etcd")
    assert ["LABEL=etcd_disk", "/var/lib/etcd"] in kcp(docs)["mounts"]


def _autoscale(render, extra, minimum, maximum):
    docs = render(dict({"auto_scaling_enabled": "true"}, **extra))
    notes = md(docs)["metadata"]["annotations"]
    prefix = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-"
    assert notes[prefix + "min-size"] == minimum
    assert notes[prefix + "max-size"] == maximum


def _cloud_conf(render, labels, text):
    docs = render(labels)
    (template,) = manifest_templates(docs, "cloud-config")
    assert text in template


def _ports(render, labels):
    docs = render(labels)
    ports = osmt(docs)["ports"]
    assert ports[1:] == [{"network": {"filter": {"name": "storage-a"}}},
                         {"network": {"filter": {"name": "storage-b"}}}]
    assert "ports" not in osmt(docs, "control-plane")


def _root_volume(render, labels, expect):
    docs = render(labels)
    for group in ("control-plane", "default-worker"):
        assert expect(osmt(docs, group)["rootVolume"]), group


def _proxy_drop_in(docs):
    path = "/etc/systemd/system/containerd.service.d/http-proxy.conf"
    return files(kcp(docs))[path], files(kct(docs))[path]


def _mirror_file(config, registry):
    return files(config).get("/etc/containerd/certs.d/%s/hosts.toml"
                             % registry)


def case_kube_tag(render):
    docs = render({"kube_tag": "v1.32.5"})
    assert of_kind(docs, "KubeadmControlPlane")["rc1-control-plane"][
        "spec"]["version"] == "v1.32.5"


def case_capi_helm_chart_version(render):
    # It chooses the chart itself (helm install --version), not a value.
    assert build({"capi_helm_chart_version": "0.26.0"}).chart_version == (
        "0.26.0")


def case_etcd_blockdevice_size(render):
    _etcd(render, "etcd_blockdevice_size", "30",
          lambda d: d["sizeGiB"] == 30 and d["storage"]["type"] == "Volume")


def case_etcd_volume_size(render):
    docs = render({"etcd_volume_size": "25"})
    assert device(docs, "etcd")["sizeGiB"] == 25


def case_etcd_blockdevice_type(render):
    # magnum-capi-helm's lower case spelling.
    _etcd(render, "etcd_blockdevice_type", "local",
          lambda d: d["storage"]["type"] == "Local")


def case_etcd_blockdevice_volume_type(render):
    _etcd(render, "etcd_blockdevice_volume_type", "ssd",
          lambda d: d["storage"]["volume"]["type"] == "ssd")


def case_etcd_volume_type(render):
    _etcd(render, "etcd_volume_type", "ssd",
          lambda d: d["storage"]["volume"]["type"] == "ssd")


def case_etcd_blockdevice_volume_az(render):
    _etcd(render, "etcd_blockdevice_volume_az", "az1",
          lambda d: d["storage"]["volume"]["availabilityZone"] == {
              "from": "Name", "name": "az1"})


def case_monitoring_enabled(render):
    assert "rc1-kube-prometheus-stack" not in releases(render())
    assert "rc1-kube-prometheus-stack" in releases(
        render({"monitoring_enabled": "true"}))


def case_kube_dashboard_enabled(render):
    docs = render({"kube_dashboard_enabled": "false"})
    assert docs == render()
    assert not [d for d in docs if "dashboard" in d["metadata"]["name"]
                and d["kind"] in ("HelmRelease", "Manifests")]
    text = refusal({"kube_dashboard_enabled": "true"})
    assert "label kube_dashboard_enabled = True" in text
    assert "no dashboard" in text and "Headlamp" in text


def case_auto_healing_enabled(render):
    assert of_kind(render(), "MachineHealthCheck")
    assert not of_kind(render({"auto_healing_enabled": "false"}),
                       "MachineHealthCheck")


def case_auto_scaling_enabled(render):
    _autoscale(render, {}, "2", "2")


def case_min_node_count(render):
    _autoscale(render, {"min_node_count": "1"}, "1", "2")


def case_max_node_count(render):
    _autoscale(render, {"max_node_count": "5"}, "2", "5")


def case_keystone_auth_enabled(render):
    docs = render({"keystone_auth_enabled": "true"})
    assert "rc1-k8s-keystone-auth" in releases(docs)
    assert "/etc/kubernetes/webhooks/keystone_webhook_config.yaml" in files(
        kcp(docs))


def case_csi_cinder_availability_zone(render):
    sc = storage_class(render({"csi_cinder_availability_zone": "az1"}))
    assert sc["parameters"]["availability"] == "az1"


def case_csi_cinder_reclaim_policy(render):
    # magnum-capi-helm's default, kept: volumes outlive their claims.
    assert storage_class(render())["reclaimPolicy"] == "Retain"
    assert storage_class(render({"csi_cinder_reclaim_policy": "Delete"}))[
        "reclaimPolicy"] == "Delete"


def case_csi_cinder_volume_binding_mode(render):
    sc = storage_class(render({"csi_cinder_volume_binding_mode":
                               "Immediate"}))
    assert sc["volumeBindingMode"] == "Immediate"


def case_csi_cinder_fstype(render):
    sc = storage_class(render({"csi_cinder_fstype": "xfs"}))
    assert sc["parameters"]["fstype"] == "xfs"


def case_csi_cinder_allow_volume_expansion(render):
    sc = storage_class(render({"csi_cinder_allow_volume_expansion":
                               "false"}))
    assert sc["allowVolumeExpansion"] is False


def case_octavia_provider(render):
    docs = render({"octavia_provider": "ovn"})
    assert osc(docs)["apiServerLoadBalancer"]["provider"] == "ovn"
    _cloud_conf(render, {"octavia_provider": "ovn"}, "lb-provider=ovn")
    _cloud_conf(render, {"octavia_provider": "ovn"},
                "lb-method=SOURCE_IP_PORT")


def case_octavia_lb_algorithm(render):
    _cloud_conf(render, {"octavia_lb_algorithm": "LEAST_CONNECTIONS"},
                "lb-method=LEAST_CONNECTIONS")


def case_octavia_lb_healthcheck(render):
    _cloud_conf(render, {}, "create-monitor=true")
    _cloud_conf(render, {"octavia_lb_healthcheck": "false"},
                "create-monitor=false")


def case_master_lb_floating_ip_enabled(render):
    assert osc(render())["disableAPIServerFloatingIP"] is False
    assert osc(render({"master_lb_floating_ip_enabled": "false"}))[
        "disableAPIServerFloatingIP"] is True


def case_fixed_subnet_cidr(render):
    docs = render({"fixed_subnet_cidr": "10.1.0.0/24"})
    assert osc(docs)["managedSubnets"][0]["cidr"] == "10.1.0.0/24"


def case_api_master_lb_allowed_cidrs(render):
    docs = render({"api_master_lb_allowed_cidrs": "192.0.2.0/24"})
    assert osc(docs)["apiServerLoadBalancer"]["allowedCIDRs"] == [
        "192.0.2.0/24"]


def case_extra_network_names(render):
    # Space-separated, as magnum-capi-helm reads it, and comma-separated.
    _ports(render, {"extra_network_names": "storage-a storage-b"})
    _ports(render, {"extra_network_names": "storage-a,storage-b"})


def case_extra_network_name(render):
    _ports(render, {"extra_network_name": "storage-a storage-b"})


def case_boot_volume_size(render):
    _root_volume(render, {"boot_volume_size": "50"},
                 lambda v: v["sizeGiB"] == 50)


def case_boot_volume_type(render):
    _root_volume(render, {"boot_volume_size": "50",
                          "boot_volume_type": "ssd"},
                 lambda v: v["type"] == "ssd")
    assert "boot_volume_size" in refusal({"boot_volume_type": "ssd"})


def case_boot_volume_availability_zone(render):
    _root_volume(render, {"boot_volume_size": "50",
                          "boot_volume_availability_zone": "az-vol"},
                 lambda v: v["availabilityZone"] == {"from": "Name",
                                                     "name": "az-vol"})


def case_availability_zone(render):
    docs = render({"availability_zone": "az1"})
    assert md(docs)["spec"]["template"]["spec"]["failureDomain"] == "az1"
    assert osc(docs)["controlPlaneAvailabilityZones"] == ["az1"]


def case_control_plane_availability_zones(render):
    docs = render({"control_plane_availability_zones": "az1,az2,az3"})
    assert osc(docs)["controlPlaneAvailabilityZones"] == [
        "az1", "az2", "az3"]
    assert "controlPlaneOmitAvailabilityZone" not in osc(docs)


def case_server_group_id(render):
    docs = render({"server_group_id": UUID})
    for group in ("control-plane", "default-worker"):
        assert osmt(docs, group)["serverGroup"] == {"id": UUID}


def case_container_infra_prefix(render):
    docs = render({"container_infra_prefix": "registry.example.com/k8s/"})
    assert kcp(docs)["clusterConfiguration"]["imageRepository"] == (
        "registry.example.com/k8s")


def case_registry_mirrors(render):
    default = render()
    assert "quay.io/v2/azimuth" in _mirror_file(kcp(default), "ghcr.io")
    docs = render({"registry_mirrors":
                   "docker.io=https://mirror.example.com/v2/docker.io,"
                   "docker.io=https://mirror2.example.com/v2/docker.io"})
    for config in (kcp(docs), kct(docs)):
        text = _mirror_file(config, "docker.io")
        assert '[host."https://mirror.example.com/v2/docker.io"]' in text
        assert '[host."https://mirror2.example.com/v2/docker.io"]' in text
        assert "quay.io/v2/azimuth" not in text
        assert _mirror_file(config, "ghcr.io") is None


def case_insecure_registry(render):
    docs = render(fields={"insecure_registry": "registry.local:5000"})
    for config in (kcp(docs), kct(docs)):
        text = _mirror_file(config, "registry.local:5000")
        assert 'server = "https://registry.local:5000"' in text
        assert "skip_verify = true" in text


def case_http_proxy(render):
    docs = render(fields=PROXIES)
    for text in _proxy_drop_in(docs):
        assert 'Environment="HTTP_PROXY=http://proxy.example.com:3128"' in (
            text)
    for config in (kcp(docs), kct(docs)):
        assert "systemctl daemon-reload && systemctl restart containerd" in (
            config["preKubeadmCommands"])
    assert "user or password" in refusal(
        {}, {"http_proxy": "http://u:secret@proxy:3128"})
    assert "secret" not in refusal(
        {}, {"http_proxy": "http://u:secret@proxy:3128"})


def case_https_proxy(render):
    for text in _proxy_drop_in(render(fields=PROXIES)):
        assert 'HTTPS_PROXY=http://proxy.example.com:3128"' in text


def case_no_proxy(render):
    for text in _proxy_drop_in(render(fields=PROXIES)):
        line = [t for t in text.splitlines() if "NO_PROXY=" in t][0]
        found = line.split("NO_PROXY=", 1)[1].rstrip('"').split(",")
        for entry in (".example.com", "localhost", "172.16.0.0/13",
                      "172.24.0.0/13", "10.0.0.0/24", ".cluster.local"):
            assert entry in found, (entry, line)


def case_docker_volume_size(render):
    docs = render(fields={"docker_volume_size": 40})
    for group in ("control-plane", "default-worker"):
        disk = device(docs, "containerd", group)
        assert disk["sizeGiB"] == 40 and disk["storage"]["type"] == "Volume"
    for config in (kcp(docs), kct(docs)):
        assert ["LABEL=containerd_disk", "/var/lib/containerd"] in config[
            "mounts"]
        assert {"device": "/dev/disk/openstack/by-tag/containerd",
                "filesystem": "ext4", "label": "containerd_disk"} in config[
            "diskSetup"]["filesystems"]


def case_docker_volume_type(render):
    docs = render({"docker_volume_type": "fast"},
                  {"docker_volume_size": 40})
    assert device(docs, "containerd", "default-worker")["storage"][
        "volume"]["type"] == "fast"
    assert "docker_volume_size" in refusal({"docker_volume_type": "fast"})


def _oidc(render, label, value, arg, expected):
    labels = {"oidc_issuer_url": "https://auth.example.com/realms/k",
              "oidc_client_id": "kube"}
    labels[label] = value
    assert api_args(render(labels))[arg] == expected


def case_oidc_issuer_url(render):
    _oidc(render, "oidc_issuer_url", "https://auth.example.com/realms/k",
          "oidc-issuer-url", "https://auth.example.com/realms/k")
    assert "oidc_client_id" in refusal(
        {"oidc_issuer_url": "https://auth.example.com"})


def case_oidc_client_id(render):
    _oidc(render, "oidc_client_id", "kubernetes", "oidc-client-id",
          "kubernetes")


def case_oidc_username_claim(render):
    _oidc(render, "oidc_username_claim", "email", "oidc-username-claim",
          "email")


def case_oidc_username_prefix(render):
    # magnum-cluster-api's default "-": no prefix.
    _oidc(render, "oidc_client_id", "kube", "oidc-username-prefix", "-")
    _oidc(render, "oidc_username_prefix", "oidc:", "oidc-username-prefix",
          "oidc:")


def case_oidc_groups_claim(render):
    _oidc(render, "oidc_client_id", "kube", "oidc-groups-claim", "")
    _oidc(render, "oidc_groups_claim", "groups", "oidc-groups-claim",
          "groups")


def case_oidc_groups_prefix(render):
    _oidc(render, "oidc_groups_prefix", "oidc:", "oidc-groups-prefix",
          "oidc:")


def _audit(render, labels, arg, expected):
    docs = render(dict({"audit_log_enabled": "true"}, **labels))
    assert api_args(docs)[arg] == expected
    return docs


def case_audit_log_enabled(render):
    docs = _audit(render, {}, "audit-log-path",
                  "/var/log/audit/kube-apiserver-audit.log")
    policy = files(kcp(docs))[
        "/etc/kubernetes/audit-policy/apiserver-audit-policy.yaml"]
    assert yaml.safe_load(policy)["kind"] == "Policy"
    volumes = kcp(docs)["clusterConfiguration"]["apiServer"]["extraVolumes"]
    assert {"name": "audit-logs", "hostPath": "/var/log/kubernetes/audit",
            "mountPath": "/var/log/audit", "readOnly": False,
            "pathType": "DirectoryOrCreate"} in volumes
    assert "audit-log-path" not in api_args(render())


def case_audit_log_max_age(render):
    _audit(render, {"audit_log_max_age": "7"}, "audit-log-maxage", "7")
    assert "audit_log_enabled" in refusal({"audit_log_max_age": "7"})


def case_audit_log_maxage(render):
    _audit(render, {"audit_log_maxage": "8"}, "audit-log-maxage", "8")


def case_audit_log_max_backup(render):
    _audit(render, {"audit_log_max_backup": "3"}, "audit-log-maxbackup",
           "3")


def case_audit_log_maxbackup(render):
    _audit(render, {"audit_log_maxbackup": "4"}, "audit-log-maxbackup", "4")


def case_audit_log_max_size(render):
    _audit(render, {"audit_log_max_size": "50"}, "audit-log-maxsize", "50")


def case_audit_log_maxsize(render):
    _audit(render, {"audit_log_maxsize": "60"}, "audit-log-maxsize", "60")


def case_api_server_cert_sans(render):
    docs = render({"api_server_cert_sans": "api.example.com,203.0.113.5"})
    assert kcp(docs)["clusterConfiguration"]["apiServer"]["certSANs"] == [
        "api.example.com", "203.0.113.5"]


SUITE = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"


def case_api_server_tls_cipher_suites(render):
    docs = render({"api_server_tls_cipher_suites": SUITE})
    assert api_args(docs)["tls-cipher-suites"] == SUITE


def case_kubelet_tls_cipher_suites(render):
    docs = render({"kubelet_tls_cipher_suites": SUITE})
    for config in (kcp(docs)["initConfiguration"],
                   kcp(docs)["joinConfiguration"],
                   kct(docs)["joinConfiguration"]):
        args = config["nodeRegistration"]["kubeletExtraArgs"]
        assert args["tls-cipher-suites"] == SUITE
        assert args["cloud-provider"] == "external"


def case_admission_control_list(render):
    docs = render({"admission_control_list":
                   "PodNodeSelector,NodeRestriction,AlwaysPullImages"})
    assert api_args(docs)["enable-admission-plugins"] == (
        "NodeRestriction,PodNodeSelector,AlwaysPullImages")


def case_api_server_floating_ip(render):
    docs = render({"api_server_floating_ip": "203.0.113.7"})
    assert osc(docs)["apiServerFloatingIP"] == "203.0.113.7"
    assert "no floating IP" in refusal(
        {"api_server_floating_ip": "203.0.113.7",
         "master_lb_floating_ip_enabled": "false"})


def case_calico_ipv4pool(render):
    docs = render({"calico_ipv4pool": "10.100.0.0/16"})
    assert cluster_network(docs)["pods"]["cidrBlocks"] == ["10.100.0.0/16"]
    text = refusal({"calico_ipv4pool": "10.0.0.0/16"})
    assert "label calico_ipv4pool = '10.0.0.0/16': overlaps the node " \
        "subnet (its default)" in text


def case_cilium_ipv4pool(render):
    docs = render({"cilium_ipv4pool": "10.100.0.0/16"}, CILIUM)
    assert cluster_network(docs)["pods"]["cidrBlocks"] == ["10.100.0.0/16"]
    assert "this cluster's CNI is calico" in refusal(
        {"cilium_ipv4pool": "10.100.0.0/16"})


def case_service_cluster_ip_range(render):
    docs = render({"service_cluster_ip_range": "10.254.0.0/16"})
    assert cluster_network(docs)["services"]["cidrBlocks"] == [
        "10.254.0.0/16"]
    text = refusal({"service_cluster_ip_range": "172.16.0.0/16"})
    assert "overlaps the pod network (its default)" in text
    text = refusal({"service_cluster_ip_range": "10.200.0.0/16",
                    "rdma_mode": "macvlan", "rdma_network": "fabric",
                    "rdma_interface": "ens6",
                    "rdma_ip_range": "10.200.0.0/24"})
    assert "rdma_ip_range" in text and "overlaps the service network" in (
        text)


def case_dns_cluster_domain(render):
    docs = render({"dns_cluster_domain": "k8s.example"})
    assert cluster_network(docs)["serviceDomain"] == "k8s.example"


def case_cinder_csi_enabled(render):
    assert "rc1-csi-cinder" in releases(render())
    assert "rc1-csi-cinder" not in releases(
        render({"cinder_csi_enabled": "false"}))
    assert "cinder_csi_enabled is false" in refusal(
        {"cinder_csi_enabled": "false", "csi_cinder_fstype": "xfs"})


def _cinder_image(render, label, key):
    docs = render({label: "v9.9.9"})
    assert overrides(docs, "csi-cinder")["csi"][key]["image"]["tag"] == (
        "v9.9.9")


def case_cinder_csi_plugin_tag(render):
    _cinder_image(render, "cinder_csi_plugin_tag", "plugin")


def case_csi_attacher_tag(render):
    _cinder_image(render, "csi_attacher_tag", "attacher")


def case_csi_provisioner_tag(render):
    _cinder_image(render, "csi_provisioner_tag", "provisioner")


def case_csi_snapshotter_tag(render):
    _cinder_image(render, "csi_snapshotter_tag", "snapshotter")


def case_csi_resizer_tag(render):
    _cinder_image(render, "csi_resizer_tag", "resizer")


def case_csi_node_driver_registrar_tag(render):
    _cinder_image(render, "csi_node_driver_registrar_tag",
                  "nodeDriverRegistrar")


def case_csi_liveness_probe_tag(render):
    _cinder_image(render, "csi_liveness_probe_tag", "livenessprobe")


def case_manila_csi_enabled(render):
    assert "rc1-csi-manila" not in releases(render())
    docs = render({"manila_csi_enabled": "true"})
    assert {"rc1-csi-manila", "rc1-csi-cephfs"} <= set(releases(docs))
    sc = storage_class(docs, "csi-manila-storageclass")
    assert sc["provisioner"] == "cephfs.manila.csi.openstack.org"
    assert sc["parameters"]["type"] == "cephfs"


def case_manila_csi_share_network_id(render):
    docs = render({"manila_csi_enabled": "true",
                   "manila_csi_share_network_id": SHARE_NET})
    sc = storage_class(docs, "csi-manila-storageclass")
    assert sc["parameters"]["shareNetworkID"] == SHARE_NET
    assert "manila_csi_enabled is false" in refusal(
        {"manila_csi_share_network_id": SHARE_NET})


def case_manila_csi_plugin_tag(render):
    docs = render({"manila_csi_enabled": "true",
                   "manila_csi_plugin_tag": "v1.33.0"})
    assert overrides(docs, "csi-manila")["csimanila"]["image"]["tag"] == (
        "v1.33.0")


def case_cloud_provider_tag(render):
    docs = render({"cloud_provider_tag": "v1.33.0"})
    assert overrides(docs, "ccm-openstack")["image"]["tag"] == "v1.33.0"


def case_calico_tag(render):
    docs = render({"calico_tag": "v3.30.2"})
    assert releases(docs)["rc1-cni-calico"]["spec"]["chart"][
        "version"] == "v3.30.2"
    assert "this cluster's CNI is cilium" in refusal(
        {"calico_tag": "v3.30.2"}, CILIUM)


def case_cilium_tag(render):
    docs = render({"cilium_tag": "v1.18.0"}, CILIUM)
    assert releases(docs)["rc1-cni-cilium"]["spec"]["chart"][
        "version"] == "1.18.0"


def case_cilium_hubble_ui_enabled(render):
    docs = render({"cilium_hubble_ui_enabled": "true"}, CILIUM)
    hubble = overrides(docs, "cni-cilium")["hubble"]
    assert hubble == {"relay": {"enabled": True}, "ui": {"enabled": True}}


def _refused(name):
    def check(render):
        text = refusal({name: "true"})
        assert "label %s = 'true': not supported by this driver: " % name in (
            text)
        assert "chart 0.27.0" in text
    return check


CASES = {name[len("case_"):]: func for name, func in globals().items()
         if name.startswith("case_")}
for _name in ("different_failure_domain", "server_group_policies",
              "api_server_lb_flavor", "api_server_lb_availability_zone",
              "kubelet_serving_tls_enabled"):
    CASES[_name] = _refused(_name)


def test_every_peer_label_and_field_has_a_case():
    wanted = (set(peers.MAGNUM_CAPI_HELM_LABELS) |
              set(peers.MAGNUM_CLUSTER_API_LABELS) |
              set(peers.REQUESTED_LABELS) | set(peers.REQUESTED_FIELDS))
    assert wanted - set(CASES) == set()


@pytest.mark.parametrize("name", sorted(CASES))
def test_lands_in_the_rendered_objects_or_is_refused(name, render):
    CASES[name](render)


def test_image_kube_version_when_no_kube_tag(render):
    """magnum-capi-helm's source of the version: the image's property."""
    image = {"image_properties": {"kube_version": "v1.32.5"}}
    docs = render({"kube_tag": None}, image)
    assert of_kind(docs, "KubeadmControlPlane")["rc1-control-plane"][
        "spec"]["version"] == "v1.32.5"
    assert "v1.32.5" in refusal({"kube_tag": "v1.33.1"}, image)
    text = refusal({"kube_tag": None})
    assert "kube_tag label" in text and "kube_version property" in text


def _template(helm_bin, tmp_path, built):
    """``helm template`` of the real chart; every object schema-checked."""
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values.build_values(built, "creds")))
    chart = upstream.require_upstream() / "charts" / "openstack-cluster"
    result = subprocess.run(
        [helm_bin, "template", RELEASE, str(chart), "--namespace", "p",
         "--values", str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    for doc in docs:
        check_schema(doc)
    return docs


def test_airgapped_example(helm_bin, tmp_path):
    """examples/migration/airgapped.yaml, through the real chart."""
    root = pathlib.Path(__file__).resolve().parents[2]
    with open(root / "examples" / "migration" / "airgapped.yaml") as handle:
        built = spec.build_spec(yaml.safe_load(handle), site_options=SITE)
    assert built.kube_version == "1.33.1"      # from the image property
    docs = _template(helm_bin, tmp_path, built)
    assert kcp(docs)["clusterConfiguration"]["imageRepository"] == (
        "registry.example.com/kubernetes")
    assert "audit-log-path" in api_args(docs)
    assert "oidc-issuer-url" in api_args(docs)
    for config in (kcp(docs), kct(docs)):
        assert "registry.example.com/v2/quay.io" in _mirror_file(
            config, "quay.io")
    assert _proxy_drop_in(docs)
    assert device(docs, "containerd", "default-worker")["sizeGiB"] == 60


def _ca_pem(common_name):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                           critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _site_with_cas(paths):
    conf = cfg.ConfigOpts()
    capi_conf.register_opts(conf)
    conf([], project="magnum-capi-rdma-test")
    conf.set_override("trusted_ca_files", [str(p) for p in paths],
                      group="capi_rdma")
    return dict(capi_conf.site_options(conf), ib_sriov_cni_in_image=True)


def test_trusted_ca_files_reach_every_node(helm_bin, render, tmp_path):
    """``[capi_rdma] trusted_ca_files``, read from disk, through the chart.

    A private registry's CA lands in every node's system trust (the
    chart's trustedCAs: a file under /usr/local/share/ca-certificates and
    update-ca-certificates before kubeadm), on control plane and workers.
    """
    registry, proxy = _ca_pem("registry CA"), _ca_pem("proxy CA")
    (tmp_path / "registry-ca.pem").write_text(registry)
    (tmp_path / "proxy.crt").write_text(proxy + "\n")
    built = spec.build_spec(description(), site_options=_site_with_cas(
        [tmp_path / "registry-ca.pem", tmp_path / "proxy.crt"]))
    docs = _template(helm_bin, tmp_path, built)
    for config in (kcp(docs), kct(docs)):
        found = files(config)
        assert found["/usr/local/share/ca-certificates/registry-ca.crt"] \
            .strip() == registry.strip()
        assert found["/usr/local/share/ca-certificates/proxy.crt"] \
            .strip() == proxy.strip()
        assert "update-ca-certificates" in config["preKubeadmCommands"]
    assert "trustedCAs" not in values.build_values(build(), "creds")
    assert "/usr/local/share/ca-certificates" not in json.dumps(
        kct(render()))


def test_trusted_ca_files_that_are_no_cas_are_refused(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    (tmp_path / "with-key.pem").write_text(_ca_pem("a") + key)
    (tmp_path / "binary.pem").write_bytes(b"\x00\xff" * 10)
    (tmp_path / "a.crt").write_text(_ca_pem("a"))
    (tmp_path / "a.pem").write_text(_ca_pem("a"))
    with pytest.raises(spec.InvalidSpec) as caught:
        spec.build_spec(description(), site_options=_site_with_cas(
            [tmp_path / name for name in (
                "with-key.pem", "binary.pem", "missing.pem", "a.crt",
                "a.pem")]))
    text = str(caught.value)
    assert "never a private key" in text and "PRIVATE KEY" not in text
    assert "binary.pem': not ASCII text" in text
    assert "missing.pem': No such file or directory" in text
    assert "a.pem': a second file named a" in text
    assert "a.crt'" not in text
    assert text.count("option '[capi_rdma] trusted_ca_files'") == 4
