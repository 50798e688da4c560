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

{{- /* values.gateway, with the publishers' key files added to watch.trustedKeys. */ -}}
{{- define "veza-gateway.options" -}}
{{- $options := deepCopy (.Values.gateway | default dict) -}}
{{- if .Values.publishers.configMap -}}
{{- $watch := get $options "watch" | default dict -}}
{{- $keys := get $watch "trustedKeys" | default list -}}
{{- range .Values.publishers.keys -}}
{{- $keys = append $keys (printf "${file:/etc/veza/publishers/%s}" .) -}}
{{- end -}}
{{- $_ := set $watch "trustedKeys" $keys -}}
{{- $_ := set $options "watch" $watch -}}
{{- end -}}
{{- toYaml $options -}}
{{- end -}}

{{- /* Values that cannot work together fail the render, not the pod. */ -}}
{{- define "veza-gateway.checkValues" -}}
{{- if and .Values.etcd.tlsSecret (not (hasPrefix "etcds://" .Values.etcd.url)) -}}
{{- fail "etcd.tlsSecret is set: etcd.url must be etcds://host:port (TLS)" -}}
{{- end -}}
{{- if and (hasPrefix "etcds://" .Values.etcd.url) (not .Values.etcd.tlsSecret) -}}
{{- fail "etcd.url is etcds://: set etcd.tlsSecret to the Secret holding ca.crt, tls.crt and tls.key" -}}
{{- end -}}
{{- if and .Values.publishers.configMap (not .Values.publishers.keys) -}}
{{- fail "publishers.configMap is set: name its key files in publishers.keys" -}}
{{- end -}}
{{- end -}}
