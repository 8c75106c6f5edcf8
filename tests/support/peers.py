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
"""What the other Cluster API drivers of Magnum read, as data.

Transcribed from their sources, for the tests of the migration guide
(``doc/source/install/migrating.rst``) and of the label policy:

- magnum-capi-helm 1.4.0 (opendev openstack/magnum-capi-helm, tag 1.4.0,
  commit a8b82c2480a286a10b60ecc1d94c6cd9f1d01823): every label its
  ``driver.py`` reads (``_label``, ``_get_label_*``), all registered in
  ``conf.py`` ``capi_helm_cluster_labels_opts`` with their defaults, and
  its configuration options;
- vexxhost magnum-cluster-api (github vexxhost/magnum-cluster-api, main,
  commit 3890a362b74321726e777e5203fb045da5cb59bc: ``resources.py``,
  ``utils.py``, ``integrations/*.py``, and ``docs/user/labels.md``, whose
  spellings of the audit log labels differ from the code's);
- labels operators asked for by name in issue 16 that neither reads.
"""

#: magnum-capi-helm 1.4.0 label -> its default ([capi_helm_cluster_labels]
#: option of the same name), as the driver uses it; None: unset.
MAGNUM_CAPI_HELM_LABELS = {
    "etcd_blockdevice_size": 0,
    "etcd_blockdevice_type": "volume",
    "etcd_blockdevice_volume_type": None,
    "etcd_blockdevice_volume_az": None,
    "etcd_volume_size": 0,
    "etcd_volume_type": None,
    "monitoring_enabled": False,
    "kube_dashboard_enabled": True,
    "auto_healing_enabled": True,
    "auto_scaling_enabled": False,
    "min_node_count": None,
    "max_node_count": None,
    "keystone_auth_enabled": False,
    "csi_cinder_availability_zone": "nova",
    "csi_cinder_reclaim_policy": "Retain",
    "csi_cinder_volume_binding_mode": "WaitForFirstConsumer",
    "csi_cinder_fstype": "ext4",
    "csi_cinder_allow_volume_expansion": True,
    "octavia_provider": "amphora",
    "octavia_lb_algorithm": None,
    "octavia_lb_healthcheck": True,
    "master_lb_floating_ip_enabled": True,
    "fixed_subnet_cidr": "10.0.0.0/24",
    "api_master_lb_allowed_cidrs": (),
    "extra_network_names": (),
    "extra_network_name": (),
    "boot_volume_type": None,
    "boot_volume_size": None,
    "capi_helm_chart_version": None,
}

#: magnum-capi-helm defaults that differ here on purpose: label -> why
#: (the migration guide says so in the label's row).
DEFAULT_DIFFERENCES = {
    "kube_dashboard_enabled": "chart 0.27.0 has no dashboard",
    "master_lb_floating_ip_enabled": "Magnum's documented default: the "
    "template's floating_ip_enabled",
    "boot_volume_size": "magnum-capi-helm falls back to Magnum's [cinder] "
    "default_boot_volume_size, here to the label's site default",
}

#: magnum-capi-helm 1.4.0 configuration options: (group, name).
MAGNUM_CAPI_HELM_OPTIONS = (
    ("capi_helm", "kubeconfig_file"),
    ("capi_helm", "namespace_prefix"),
    ("capi_helm", "helm_chart_repo"),
    ("capi_helm", "helm_chart_name"),
    ("capi_helm", "default_helm_chart_version"),
    ("capi_helm", "minimum_flavor_ram"),
    ("capi_helm", "minimum_flavor_vcpus"),
    ("capi_helm", "csi_cinder_default_volume_type"),
    ("capi_helm", "csi_cinder_allowed_topologies"),
    ("capi_helm", "app_cred_interface_type"),
    ("capi_helm", "api_resources"),
    ("capi_helm", "k8s_control_plane_resource_conditions"),
    # [capi_helm_cluster_labels]: one option per label above.
    ("capi_helm_cluster_labels", "<label>"),
    # Read by magnum-capi-helm from Magnum's own [cinder] group.
    ("cinder", "default_boot_volume_type"),
    ("cinder", "default_boot_volume_size"),
)

#: Labels vexxhost's magnum-cluster-api reads (code and documentation).
MAGNUM_CLUSTER_API_LABELS = (
    "admission_control_list", "api_server_cert_sans",
    "api_server_floating_ip", "api_server_tls_cipher_suites",
    "audit_log_enabled", "audit_log_max_age", "audit_log_max_backup",
    "audit_log_max_size", "audit_log_maxage", "audit_log_maxbackup",
    "audit_log_maxsize", "auto_healing_enabled", "auto_scaling_enabled",
    "availability_zone", "boot_volume_availability_zone",
    "boot_volume_size", "boot_volume_type", "calico_ipv4pool", "calico_tag",
    "cilium_hubble_ui_enabled", "cilium_ipv4pool", "cinder_csi_enabled",
    "cinder_csi_plugin_tag", "cloud_provider_tag", "container_infra_prefix",
    "control_plane_availability_zones", "different_failure_domain",
    "dns_cluster_domain", "docker_volume_type", "etcd_volume_size",
    "etcd_volume_type", "fixed_subnet_cidr", "keystone_auth_enabled",
    "kube_tag", "kubelet_serving_tls_enabled", "kubelet_tls_cipher_suites",
    "manila_csi_enabled", "manila_csi_plugin_tag",
    "manila_csi_share_network_id", "master_lb_floating_ip_enabled",
    "max_node_count", "min_node_count", "octavia_lb_algorithm",
    "octavia_lb_healthcheck", "octavia_provider", "oidc_client_id",
    "oidc_groups_claim", "oidc_groups_prefix", "oidc_issuer_url",
    "oidc_username_claim", "oidc_username_prefix", "server_group_policies",
    "service_cluster_ip_range",
)

#: Labels operators asked for (issue 16) beyond the two lists above.
REQUESTED_LABELS = (
    "cilium_tag", "csi_attacher_tag", "csi_provisioner_tag",
    "csi_snapshotter_tag", "csi_resizer_tag",
    "csi_node_driver_registrar_tag", "csi_liveness_probe_tag",
    "api_server_lb_flavor", "api_server_lb_availability_zone",
)

#: Template fields (not labels) operators asked for (issue 16).
REQUESTED_FIELDS = ("http_proxy", "https_proxy", "no_proxy",
                    "insecure_registry", "docker_volume_size")

#: A few labels of Magnum's Heat drivers an old template may still carry;
#: this driver reads none of them (refused, or listed as ignored).
HEAT_LABELS = (
    "flannel_network_cidr", "heat_container_agent_tag", "etcd_tag",
    "coredns_tag", "kube_dashboard_version", "ingress_controller",
    "kubelet_options", "kubeapi_options", "prometheus_monitoring",
    "tiller_enabled", "container_runtime", "cgroup_driver",
    "selinux_mode", "use_podman",
)


def peer_labels():
    """Every peer label named above, sorted."""
    return sorted(set(MAGNUM_CAPI_HELM_LABELS) | set(
        MAGNUM_CLUSTER_API_LABELS) | set(REQUESTED_LABELS) | set(
        HEAT_LABELS))
