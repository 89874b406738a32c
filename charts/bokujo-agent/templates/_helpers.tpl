{{- define "bokujo-agent.labels" -}}
app.kubernetes.io/name: bokujo-agent
app.kubernetes.io/part-of: bokujo
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
