{{- /* Object name prefix: "" by default, "<fullnameOverride>-" when set. */}}
{{- define "jupyterhub.prefix" -}}
{{- with .Values.fullnameOverride }}{{ . | trunc 50 | trimSuffix "-" }}-{{ end }}
{{- end }}

{{- define "jupyterhub.name" -}}
{{ include "jupyterhub.prefix" .root }}{{ .name }}
{{- end }}

{{- /* Selector labels of a component, as the real chart's (immutable) selectors. */}}
{{- define "jupyterhub.matchLabels" -}}
component: {{ .component }}
app: jupyterhub
release: {{ .root.Release.Name }}
{{- end }}

{{- /* All labels of a component: the old style and the app.kubernetes.io ones. */}}
{{- define "jupyterhub.labels" -}}
{{ include "jupyterhub.matchLabels" . }}
chart: {{ .root.Chart.Name }}-{{ .root.Chart.Version }}
heritage: {{ .root.Release.Service }}
app.kubernetes.io/name: jupyterhub
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ .root.Chart.Name }}-{{ .root.Chart.Version }}
{{- end }}

{{- /* Node affinity of core pods from scheduling.corePods.nodeAffinity.matchNodePurpose. */}}
{{- define "jupyterhub.coreAffinity" -}}
{{- $purpose := .Values.scheduling.corePods.nodeAffinity.matchNodePurpose }}
{{- if eq $purpose "require" }}
affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms:
        - matchExpressions:
            - key: hub.jupyter.org/node-purpose
              operator: In
              values: [core]
{{- else if eq $purpose "prefer" }}
affinity:
  nodeAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        preference:
          matchExpressions:
            - key: hub.jupyter.org/node-purpose
              operator: In
              values: [core]
{{- end }}
{{- end }}

{{- /* Tolerations of a core pod: the corePods ones plus the component's (a list). */}}
{{- define "jupyterhub.coreTolerations" -}}
{{- $t := concat .root.Values.scheduling.corePods.tolerations (.extra | default list) }}
{{- with $t }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{- /* Env entries from a map (name -> value or EnvVar source) or a list of EnvVar. */}}
{{- define "jupyterhub.extraEnv" -}}
{{- if kindIs "map" . }}
{{- range $name, $v := . }}
- name: {{ $name | quote }}
  {{- if kindIs "map" $v }}
  {{- toYaml (omit $v "name") | nindent 2 }}
  {{- else }}
  value: {{ $v | quote }}
  {{- end }}
{{- end }}
{{- else if . }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- /* autohttps runs when HTTPS is on, through Let's Encrypt, for some hosts. */}}
{{- define "jupyterhub.autohttps" -}}
{{- if and .Values.proxy.https.enabled (eq .Values.proxy.https.type "letsencrypt") .Values.proxy.https.hosts }}true{{ end }}
{{- end }}

{{- /* The hub Secret as it is in the cluster now (empty data when it is not, or in a dry run). */}}
{{- define "jupyterhub.liveSecretData" -}}
{{- $s := lookup "v1" "Secret" .Release.Namespace (include "jupyterhub.name" (dict "root" . "name" "hub")) | default dict }}
{{- toYaml (get $s "data" | default dict) }}
{{- end }}

{{- /* A secret value: explicitly set, else kept from the live Secret, else generated. */}}
{{- define "jupyterhub.token" -}}
{{- $root := index . 0 }}{{ $key := index . 1 }}{{ $explicit := index . 2 }}
{{- $live := include "jupyterhub.liveSecretData" $root | fromYaml }}
{{- if $explicit }}{{ $explicit }}
{{- else if hasKey $live $key }}{{ index $live $key | b64dec }}
{{- else }}{{ randAlphaNum 64 }}
{{- end }}
{{- end }}
