{{- define "veza-gateway.name" -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{- define "veza-gateway.labels" -}}
app.kubernetes.io/name: veza-gateway
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "veza-gateway.selector" -}}
app.kubernetes.io/name: veza-gateway
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
