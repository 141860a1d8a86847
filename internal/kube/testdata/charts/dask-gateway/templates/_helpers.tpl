{{- define "dask-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- /* The real chart's rule: a release name that contains the chart name is used as is. */}}
{{- define "dask-gateway.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "dask-gateway.apiName" -}}
{{- printf "api-%s" (include "dask-gateway.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dask-gateway.controllerName" -}}
{{- printf "controller-%s" (include "dask-gateway.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dask-gateway.traefikName" -}}
{{- printf "traefik-%s" (include "dask-gateway.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dask-gateway.matchLabels" -}}
app.kubernetes.io/name: {{ include "dask-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "dask-gateway.labels" -}}
{{ include "dask-gateway.matchLabels" . }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
gateway.dask.org/instance: {{ include "dask-gateway.fullname" . }}
{{- end }}
