{{/* Test fixture helpers (names and labels of the chart contract). */}}

{{- define "tc.clusterName" -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* (list $ "suffix") -> R-suffix */}}
{{- define "tc.name" -}}
{{- $ := index . 0 -}}
{{- printf "%s-%s" $.Release.Name (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of add-on objects (no infrastructure-provider label). */}}
{{- define "tc.baseLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
capi.stackhpc.com/managed-by: {{ .Release.Service }}
capi.stackhpc.com/cluster: {{ include "tc.clusterName" . }}
{{- end -}}

{{- define "tc.labels" -}}
{{ include "tc.baseLabels" . }}
capi.stackhpc.com/infrastructure-provider: openstack
{{- end -}}

{{/* (list $ "component") for add-on objects */}}
{{- define "tc.addonLabels" -}}
{{ include "tc.baseLabels" (index . 0) }}
capi.stackhpc.com/component: {{ index . 1 }}
{{- end -}}

{{/* (list $ "component") */}}
{{- define "tc.componentLabels" -}}
{{ include "tc.labels" (index . 0) }}
capi.stackhpc.com/component: {{ index . 1 }}
{{- end -}}

{{/* (list $ nodeGroupName) */}}
{{- define "tc.nodeGroupLabels" -}}
{{ include "tc.componentLabels" (list (index . 0) "worker") }}
capi.stackhpc.com/node-group: {{ index . 1 }}
{{- end -}}

{{/* A short content hash, so a changed template gets a new name. */}}
{{- define "tc.hash" -}}
{{- . | toYaml | sha256sum | trunc 8 -}}
{{- end -}}

{{- define "tc.version" -}}
{{- printf "v%s" (toString . | trimPrefix "v") -}}
{{- end -}}

{{/* (list $ machineSpec) -> OpenStackMachineTemplate spec.template.spec */}}
{{- define "tc.machineSpec" -}}
{{- $ := index . 0 -}}
{{- $m := index . 1 -}}
flavor: {{ $m.machineFlavor | quote }}
image:
  {{- with ($m.machineImageId | default $.Values.machineImageId) }}
  id: {{ . }}
  {{- else }}
  filter: {{ $.Values.machineImage | toYaml | nindent 4 }}
  {{- end }}
{{- with $.Values.machineSSHKeyName }}
sshKeyName: {{ . }}
{{- end }}
{{- with $m.machineRootVolume }}
rootVolume: {{ toYaml . | nindent 2 }}
{{- end }}
{{- with ($m.machineNetworking | default dict).ports }}
ports: {{ toYaml . | nindent 2 }}
{{- end }}
identityRef:
  cloudName: openstack
  name: {{ $.Values.cloudCredentialsSecretName | default "" | quote }}
{{- end -}}

{{/* {k: v} -> "k=v,k2=v2" (sorted) for kubelet's --node-labels */}}
{{- define "tc.nodeLabels" -}}
{{- $pairs := list -}}
{{- range $k, $v := . -}}
{{- $pairs = append $pairs (printf "%s=%s" $k (toString $v)) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}

{{/*
An addon installed by the addon provider as a Helm release:
(list $ component chart namespace values [builtin]) -> Secret
R-<component>-config holding the values + HelmRelease R-<component>.
Built-in addons keep the values as "overrides" (next to "defaults"), custom
ones as "values", wrapped in Jinja2 raw blocks.
*/}}
{{- define "tc.helmReleaseAddon" -}}
{{- $ := index . 0 -}}
{{- $component := index . 1 -}}
{{- $chart := index . 2 -}}
{{- $namespace := index . 3 -}}
{{- $values := index . 4 | default dict -}}
{{- $builtin := and (gt (len .) 5) (index . 5) -}}
{{- $name := include "tc.name" (list $ $component) -}}
{{- $labels := include "tc.addonLabels" (list $ $component) -}}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ $name }}-config
  labels:
    {{- $labels | nindent 4 }}
    addons.stackhpc.com/watch: ""
stringData:
  {{- if $builtin }}
  defaults: |
    {}
  overrides: |
    {{- toYaml $values | nindent 4 }}
  {{- else }}
  values: |
    {%- raw %}
    {{- toYaml $values | nindent 4 }}
    {%- endraw %}
  {{- end }}
---
apiVersion: addons.stackhpc.com/v1alpha1
kind: HelmRelease
metadata:
  name: {{ $name }}
  labels: {{ $labels | nindent 4 }}
spec:
  clusterName: {{ include "tc.clusterName" $ }}
  bootstrap: true
  chart: {{ toYaml $chart | nindent 4 }}
  targetNamespace: {{ $namespace }}
  releaseName: {{ $component }}
  valuesSources:
    {{- range (ternary (list "defaults" "overrides") (list "values") $builtin) }}
    - secret:
        name: {{ $name }}-config
        key: {{ . }}
    {{- end }}
{{- end -}}

{{/*
An addon of plain manifests: (list $ component namespace {file: text})
-> Secret R-<component>-config with one key per file + Manifests.
*/}}
{{- define "tc.manifestsAddon" -}}
{{- $ := index . 0 -}}
{{- $component := index . 1 -}}
{{- $namespace := index . 2 -}}
{{- $manifests := index . 3 | default dict -}}
{{- $name := include "tc.name" (list $ $component) -}}
{{- $labels := include "tc.addonLabels" (list $ $component) -}}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ $name }}-config
  labels:
    {{- $labels | nindent 4 }}
    addons.stackhpc.com/watch: ""
stringData:
  {{- range $file, $text := $manifests }}
  {{ $file }}: |
    {%- raw %}
    {{- $text | nindent 4 }}
    {%- endraw %}
  {{- end }}
---
apiVersion: addons.stackhpc.com/v1alpha1
kind: Manifests
metadata:
  name: {{ $name }}
  labels: {{ $labels | nindent 4 }}
spec:
  clusterName: {{ include "tc.clusterName" $ }}
  bootstrap: true
  targetNamespace: {{ $namespace }}
  releaseName: {{ $component }}
  manifestSources:
    - secret:
        name: {{ $name }}-config
{{- end -}}
