#!/bin/bash
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
#
# devstack plugin of magnum-capi-rdma: installs the driver into Magnum's
# Python environment, a pinned and checksum-verified helm, writes the
# driver's [capi_rdma] options into magnum.conf and, if asked, installs the
# Cluster API addon provider on the management cluster.
#
# local.conf:
#   enable_plugin magnum https://opendev.org/openstack/magnum
#   enable_plugin magnum-capi-rdma <this repository>
#   CAPI_RDMA_HELM_SHA256=<sha256 of the helm tarball, see README.rst>

_capi_rdma_xtrace=$(set +o | grep xtrace)
set -o xtrace

# Helm's name for this machine's architecture.
function capi_rdma_helm_arch {
    case "$(uname -m)" in
        x86_64) echo amd64 ;;
        aarch64 | arm64) echo arm64 ;;
        ppc64le) echo ppc64le ;;
        s390x) echo s390x ;;
        *) die "$LINENO" "magnum-capi-rdma: no helm build for $(uname -m)" ;;
    esac
}

# Install helm $CAPI_RDMA_HELM_VERSION, verified against
# $CAPI_RDMA_HELM_SHA256; fails closed when the checksum is unset or wrong.
function install_capi_rdma_helm {
    local target=$CAPI_RDMA_HELM_BIN_DIR/helm
    if [[ -x $target ]] && "$target" version --template '{{.Version}}' \
            2>/dev/null | grep -qx "$CAPI_RDMA_HELM_VERSION"; then
        echo "helm $CAPI_RDMA_HELM_VERSION already installed at $target"
        return 0
    fi
    if [[ ! $CAPI_RDMA_HELM_SHA256 =~ ^[0-9a-f]{64}$ ]]; then
        die "$LINENO" "magnum-capi-rdma: set CAPI_RDMA_HELM_SHA256 to the" \
            "SHA-256 of helm-$CAPI_RDMA_HELM_VERSION-linux-<arch>.tar.gz" \
            "(64 lowercase hex digits); refusing an unverified helm"
    fi
    local arch tarball url tmp actual
    arch=$(capi_rdma_helm_arch)
    tarball=helm-$CAPI_RDMA_HELM_VERSION-linux-$arch.tar.gz
    url=$CAPI_RDMA_HELM_BASE_URL/$tarball
    tmp=$(mktemp -d)
    curl -fsSL --retry 3 -o "$tmp/$tarball" "$url" ||
        die "$LINENO" "magnum-capi-rdma: cannot download $url"
    actual=$(sha256sum "$tmp/$tarball" | cut -d' ' -f1)
    if [[ $actual != "$CAPI_RDMA_HELM_SHA256" ]]; then
        rm -rf "$tmp"
        die "$LINENO" "magnum-capi-rdma: checksum mismatch for $tarball:" \
            "expected $CAPI_RDMA_HELM_SHA256, got $actual"
    fi
    tar -xzf "$tmp/$tarball" -C "$tmp" "linux-$arch/helm"
    sudo install -m 0755 "$tmp/linux-$arch/helm" "$target"
    rm -rf "$tmp"
}

# Install the driver into the Python environment Magnum runs from.
function install_magnum_capi_rdma {
    setup_develop "$MAGNUM_CAPI_RDMA_DIR"
}

# Write the driver's options into magnum.conf.
function configure_magnum_capi_rdma {
    if [[ ! -f $MAGNUM_CONF ]]; then
        die "$LINENO" "magnum-capi-rdma: $MAGNUM_CONF not found; enable" \
            "the magnum plugin before this one"
    fi
    iniset "$MAGNUM_CONF" capi_rdma kubeconfig_file "$CAPI_RDMA_KUBECONFIG"
    iniset "$MAGNUM_CONF" capi_rdma namespace_prefix \
        "$CAPI_RDMA_NAMESPACE_PREFIX"
    iniset "$MAGNUM_CONF" capi_rdma helm_executable \
        "$CAPI_RDMA_HELM_BIN_DIR/helm"
    iniset "$MAGNUM_CONF" capi_rdma chart_repo "$CAPI_RDMA_CHART_REPO"
    iniset "$MAGNUM_CONF" capi_rdma chart_name "$CAPI_RDMA_CHART_NAME"
    iniset "$MAGNUM_CONF" capi_rdma chart_version "$CAPI_RDMA_CHART_VERSION"
    if [[ ! -f $CAPI_RDMA_KUBECONFIG ]]; then
        warn "$LINENO" "magnum-capi-rdma: $CAPI_RDMA_KUBECONFIG does not" \
            "exist yet; the driver needs it to create clusters"
    fi
}

# Install the Cluster API addon provider on the management cluster.
function install_capi_rdma_addon_provider {
    "$CAPI_RDMA_HELM_BIN_DIR/helm" upgrade cluster-api-addon-provider \
        cluster-api-addon-provider --install --wait \
        --repo "$CAPI_RDMA_ADDON_PROVIDER_REPO" \
        --version "$CAPI_RDMA_ADDON_PROVIDER_VERSION" \
        --namespace "$CAPI_RDMA_ADDON_PROVIDER_NAMESPACE" --create-namespace \
        --kubeconfig "$CAPI_RDMA_KUBECONFIG" ||
        die "$LINENO" "magnum-capi-rdma: installing the addon provider failed"
}

if [[ ${1:-} == stack && ${2:-} == install ]]; then
    echo_summary "Installing magnum-capi-rdma and helm"
    install_capi_rdma_helm
    install_magnum_capi_rdma
elif [[ ${1:-} == stack && ${2:-} == post-config ]]; then
    echo_summary "Configuring magnum-capi-rdma"
    configure_magnum_capi_rdma
elif [[ ${1:-} == stack && ${2:-} == extra ]]; then
    if [[ $(trueorfalse False CAPI_RDMA_INSTALL_ADDON_PROVIDER) == True ]]; then
        echo_summary "Installing the Cluster API addon provider"
        install_capi_rdma_addon_provider
    fi
fi

$_capi_rdma_xtrace
