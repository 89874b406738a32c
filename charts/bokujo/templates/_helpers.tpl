{{- define "bokujo.labels" -}}
app.kubernetes.io/name: bokujo
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "bokujo.selector" -}}
app.kubernetes.io/name: bokujo
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "bokujo.tlsSecret" -}}
{{- if .Values.tls.secretName -}}{{ .Values.tls.secretName }}{{- else -}}{{ .Release.Name }}-tls{{- end -}}
{{- end -}}
