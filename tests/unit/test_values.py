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
"""Chart values: the merge, and each feature module's contribution."""

import copy
import json

import pytest

from magnum_capi_rdma.features import networking
from magnum_capi_rdma import spec
from magnum_capi_rdma import values

UUID = "5a1b0c9e-7f43-4c55-9d8e-3b2f6a1c0d11"

BASE = {
    "cluster_template": {
        "image_id": UUID, "flavor_id": "f1", "master_flavor_id": "f0",
        "keypair_id": "key", "external_network_id":
        "9d3b5b6e-3f7c-4c1e-8b1a-5e2f0c6d7a11",
        "labels": {"kube_tag": "v1.33.1"},
    },
    "cluster": {"name": "c1", "node_count": 2, "master_count": 3},
}

RDMA = {"rdma_network": "fabric", "rdma_interface": "ens6",
        "rdma_ip_range": "10.9.0.0/16", "rdma_ofed_version": "1"}


def render(template_labels=None, groups=None, **template_fields):
    desc = copy.deepcopy(BASE)
    desc["cluster_template"]["labels"].update(template_labels or {})
    desc["cluster_template"].update(template_fields)
    desc["node_groups"] = groups or []
    return values.build_values(spec.build_spec(
        desc, None, {"ib_sriov_cni_in_image": True}), "c1-creds")


def group(vals, name):
    (found,) = [g for g in vals["nodeGroups"] if g["name"] == name]
    return found


def test_deep_merge_dicts_and_named_lists():
    left = {"a": {"b": 1, "c": [1]}, "groups": [{"name": "x", "n": 1}]}
    right = {"a": {"c": [2], "d": 3},
             "groups": [{"name": "y"}, {"name": "x", "m": 2}]}
    merged = values.deep_merge(left, right)
    assert merged == {"a": {"b": 1, "c": [2], "d": 3},
                      "groups": [{"name": "x", "n": 1, "m": 2},
                                 {"name": "y"}]}
    assert left["groups"] == [{"name": "x", "n": 1}]


def test_base_values():
    vals = render()
    assert vals["cloudCredentialsSecretName"] == "c1-creds"
    assert vals["kubernetesVersion"] == "1.33.1"
    assert vals["machineImageId"] == UUID
    assert "machineImage" not in vals
    assert vals["machineSSHKeyName"] == "key"
    assert vals["osDistro"] == "ubuntu"
    assert vals["addons"]["cni"] == {"enabled": True, "type": "calico"}
    assert vals["controlPlane"]["machineFlavor"] == "f0"
    assert vals["controlPlane"]["machineCount"] == 3
    assert [g["name"] for g in vals["nodeGroups"]] == ["default-worker"]
    assert group(vals, "default-worker")["machineCount"] == 2


def test_image_by_name_uses_filter():
    vals = render(image_id="ubuntu-jammy")
    assert vals["machineImage"] == "ubuntu-jammy"
    assert "machineImageId" not in vals


def test_network_driver_and_distro():
    vals = render(network_driver="cilium", cluster_distro="flatcar")
    assert vals["addons"]["cni"]["type"] == "cilium"
    assert vals["osDistro"] == "flatcar"


def test_managed_network():
    vals = render({"fixed_subnet_cidr": "10.7.0.0/24"},
                  dns_nameserver="8.8.8.8")
    net = vals["clusterNetworking"]
    assert net["externalNetworkId"] == "9d3b5b6e-3f7c-4c1e-8b1a-5e2f0c6d7a11"
    assert net["internalNetwork"] == {"nodeCidr": "10.7.0.0/24",
                                      "dnsNameservers": ["8.8.8.8"]}


def test_existing_network_by_name_and_uuid():
    vals = render(fixed_network="net", fixed_subnet=UUID)
    assert vals["clusterNetworking"]["internalNetwork"] == {
        "networkFilter": {"name": "net"}, "subnetFilter": {"id": UUID}}


def test_extra_networks_and_rdma_port_only_on_rdma_groups():
    vals = render(dict(RDMA, extra_network_names="storage"), [
        {"name": "fast", "labels": {"rdma_mode": "macvlan"}}])
    plain = group(vals, "default-worker")["machineNetworking"]["ports"]
    assert plain == [{}, {"network": {"filter": {"name": "storage"}}}]
    fast = group(vals, "fast")["machineNetworking"]["ports"]
    assert fast[:2] == plain
    assert fast[2] == {"network": {"filter": {"name": "fabric"}},
                       "vnicType": "direct", "nameSuffix": "rdma",
                       "disablePortSecurity": True, "securityGroups": []}
    assert "machineNetworking" not in vals["controlPlane"]


def test_address_pairs_port():
    vals = render(dict(RDMA, rdma_mode="macvlan",
                       rdma_port_security="address-pairs",
                       rdma_network=UUID))
    port = group(vals, "default-worker")["machineNetworking"]["ports"][1]
    assert port["network"] == {"id": UUID}
    assert port["allowedAddressPairs"] == [{"ipAddress": "10.9.0.0/16"}]
    assert "disablePortSecurity" not in port


def test_no_ports_without_extra_networks():
    built = spec.build_spec(copy.deepcopy(BASE))
    assert networking.ports(built, built.node_groups[0]) is None


def test_node_group_fields():
    vals = render({}, [{
        "name": "gpu", "flavor_id": "g1", "image_id": "other-image",
        "node_count": 4, "labels": {
            "availability_zone": "az2", "node_labels": "a=b",
            "node_taints": "gpu=true:NoSchedule,dedicated:NoExecute"}}])
    gpu = group(vals, "gpu")
    assert gpu["machineFlavor"] == "g1"
    assert gpu["machineCount"] == 4
    assert gpu["machineImage"] == "other-image"
    assert gpu["failureDomain"] == "az2"
    assert gpu["nodeLabels"] == {"a": "b"}
    taints = gpu["kubeadmConfigSpec"]["joinConfiguration"][
        "nodeRegistration"]["taints"]
    assert taints == [{"key": "gpu", "value": "true", "effect": "NoSchedule"},
                      {"key": "dedicated", "effect": "NoExecute"}]
    assert "failureDomain" not in group(vals, "default-worker")


def test_control_plane_zone():
    vals = render({"availability_zone": "az1"})
    assert vals["controlPlane"]["failureDomains"] == ["az1"]
    assert vals["controlPlane"]["omitFailureDomain"] is False


def test_storage():
    vals = render({"etcd_blockdevice_size": "10",
                   "etcd_blockdevice_volume_type": "ssd",
                   "boot_volume_size": "40", "boot_volume_type": "fast",
                   "csi_cinder_reclaim_policy": "Retain",
                   "csi_cinder_volume_type": "gold"})
    assert vals["etcd"]["blockDevice"] == {"size": 10, "type": "Volume",
                                           "volumeType": "ssd"}
    root = {"diskSize": 40, "volumeType": "fast"}
    assert vals["controlPlane"]["machineRootVolume"] == root
    assert group(vals, "default-worker")["machineRootVolume"] == root
    sc = vals["addons"]["openstack"]["csiCinder"]["defaultStorageClass"]
    assert sc["reclaimPolicy"] == "Retain"
    assert sc["volumeType"] == "gold"
    assert sc["availabilityZone"] == "nova"


def test_no_etcd_device_by_default():
    vals = render()
    assert "etcd" not in vals
    assert "machineRootVolume" not in vals["controlPlane"]


def test_load_balancer():
    vals = render({"api_master_lb_allowed_cidrs": "10.0.0.0/8",
                   "master_lb_floating_ip_enabled": "false",
                   "octavia_provider": "ovn"})
    assert vals["apiServer"] == {
        "enableLoadBalancer": True, "associateFloatingIP": False,
        "loadBalancerProvider": "ovn", "allowedCIDRs": ["10.0.0.0/8"]}
    lb = vals["addons"]["openstack"]["cloudConfig"]["LoadBalancer"]
    assert lb == {"lb-provider": "ovn", "lb-method": "SOURCE_IP_PORT",
                  "create-monitor": True}


def test_floating_ip_follows_template_field():
    vals = render(floating_ip_enabled=False, master_lb_enabled=False)
    assert vals["apiServer"]["associateFloatingIP"] is False
    assert vals["apiServer"]["enableLoadBalancer"] is False


def test_autoscaling_and_healing():
    vals = render({"auto_scaling_enabled": "true",
                   "auto_healing_enabled": "false"},
                  [{"name": "pool", "node_count": 2, "min_node_count": 1,
                    "max_node_count": 5}])
    pool = group(vals, "pool")
    assert pool["autoscale"] is True
    assert (pool["machineCountMin"], pool["machineCountMax"]) == (1, 5)
    assert "machineCount" not in pool
    assert vals["controlPlane"]["healthCheck"] == {"enabled": False}
    assert vals["nodeGroupDefaults"]["healthCheck"] == {"enabled": False}


def test_addons_off_by_default_even_where_chart_defaults_on():
    addons = render()["addons"]
    assert addons["nvidiaGPUOperator"] == {"enabled": False}
    assert addons["mellanoxNetworkOperator"] == {"enabled": False}
    assert addons["nodeFeatureDiscovery"] == {"enabled": False}
    assert addons["monitoring"] == {"enabled": False,
                                    "lokiStack": {"enabled": False}}
    assert addons["ingress"] == {"enabled": False}
    assert "custom" not in addons


def test_keystone_auth():
    vals = render({"keystone_auth_enabled": "true"})
    assert vals["authWebhook"] == "k8s-keystone-auth"
    assert vals["addons"]["openstack"]["k8sKeystoneAuth"]["enabled"]


def test_monitoring_and_logging():
    mon = render({"monitoring_enabled": "true",
                  "logging_enabled": "true"})["addons"]["monitoring"]
    assert mon == {"enabled": True, "lokiStack": {"enabled": True}}


@pytest.mark.parametrize("gpu,rdma,nfd", [(True, False, True),
                                          (False, True, True),
                                          (True, True, True)])
def test_gpu_rdma_nfd(gpu, rdma, nfd):
    settings = {"gpu_operator_enabled": str(gpu)}
    if rdma:
        settings.update(RDMA, rdma_mode="macvlan")
    addons = render(settings)["addons"]
    assert addons["nodeFeatureDiscovery"]["enabled"] is nfd
    assert addons["nvidiaGPUOperator"]["enabled"] is gpu
    assert addons["mellanoxNetworkOperator"]["enabled"] is rdma
    gdr = addons["nvidiaGPUOperator"].get("release", {}).get(
        "values", {}).get("driver", {}).get("rdma")
    if gpu and rdma:
        assert gdr == {"enabled": True, "useHostMofed": False}
        assert "custom" in addons
    else:
        assert gdr is None


def test_gpu_direct_rdma_with_host_ofed():
    settings = dict(RDMA, rdma_mode="macvlan", gpu_operator_enabled="true",
                    rdma_ofed_enabled="false")
    rdma = render(settings)["addons"]["nvidiaGPUOperator"]["release"][
        "values"]["driver"]["rdma"]
    assert rdma == {"enabled": True, "useHostMofed": True}


def test_network_operator_release():
    op = render(dict(RDMA, rdma_mode="macvlan"))["addons"][
        "mellanoxNetworkOperator"]
    assert op["release"]["namespace"] == "network-operator"
    # The chart of the release whose component images the policy names;
    # no values (deployCR has not existed since network-operator 24.10).
    assert op["chart"] == {"version": "26.1.1"}
    assert "values" not in op["release"]


def test_values_are_plain_data():
    vals = render(dict(RDMA, rdma_mode="macvlan"))
    assert json.loads(json.dumps(vals)) == vals


def test_values_are_pure():
    desc = copy.deepcopy(BASE)
    cluster_spec = spec.build_spec(desc)
    assert values.build_values(cluster_spec, "s") == values.build_values(
        cluster_spec, "s")
    assert desc == BASE


def test_node_group_scoped_version():
    vals = render(groups=[
        {"name": "old", "flavor_id": "f1", "node_count": 1,
         "version": "v1.32.4"},
        {"name": "same", "flavor_id": "f1", "node_count": 1,
         "version": "v1.33.1"},
        {"name": "unset", "flavor_id": "f1", "node_count": 1}])
    assert group(vals, "old")["kubernetesVersion"] == "1.32.4"
    assert "kubernetesVersion" not in group(vals, "same")
    assert "kubernetesVersion" not in group(vals, "unset")
    assert vals["kubernetesVersion"] == "1.33.1"


def test_node_group_version_that_is_not_a_version_follows_the_cluster():
    vals = render(groups=[{"name": "legacy", "flavor_id": "f1",
                           "node_count": 1, "version": "1"}])
    assert "kubernetesVersion" not in group(vals, "legacy")
