{{/* The name of everything this release makes for the backends. */}}
{{- define "kurz.fullname" -}}
{{- if contains "kurz" .Release.Name }}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{ else }}{{ printf "%s-kurz" .Release.Name | trunc 63 | trimSuffix "-" }}{{ end -}}
{{- end -}}

{{/* Labels that select the backend pods. */}}
{{- define "kurz.selectorLabels" -}}
app.kubernetes.io/name: kurz
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: backend
{{- end -}}

{{- define "kurz.labels" -}}
{{ include "kurz.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "kurz.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The Sentinels' addresses, host:port, for the backend and the plugin. */}}
{{- define "kurz.sentinelAddress" -}}
{{ .Values.redis.name }}-sentinel.{{ .Release.Namespace }}.svc:26379
{{- end -}}

{{/* A route's rule, as in traefik/dynamic/kurz.yml, limited to the hosts of host (traefik.host, else KURZ_DOMAINS; comma-separated) when set. Args: host, rule. */}}
{{- define "kurz.match" -}}
{{- $host := index . 0 -}}{{- $rule := index . 1 -}}
{{- $hosts := list -}}{{- range splitList "," $host }}{{ $hosts = append $hosts (printf "Host(`%s`)" (trim .)) }}{{ end -}}
{{- if not $host }}{{ $rule | quote }}
{{- else if eq (len $hosts) 1 }}{{ printf "%s && (%s)" (first $hosts) $rule | quote }}
{{- else }}{{ printf "(%s) && (%s)" (join " || " $hosts) $rule | quote }}{{ end -}}
{{- end -}}
