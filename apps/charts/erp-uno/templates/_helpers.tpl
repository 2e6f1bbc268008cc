{{/* Labels of one component. Call with (dict "root" $ "name" $name "svc" $svc "ns" $nsName). */}}
{{- define "erp-uno.labels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ include "erp-uno.tag" . | quote }}
app.kubernetes.io/component: {{ .ns | trimPrefix "erp-" }}
app.kubernetes.io/part-of: erp-uno
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "erp-uno.selector" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "erp-uno.tag" -}}
{{- .svc.image.tag | default .root.Values.global.version -}}
{{- end -}}

{{- define "erp-uno.image" -}}
{{- printf "%s/%s:%s" .root.Values.global.registry .svc.image.repository (include "erp-uno.tag" .) -}}
{{- end -}}

{{/* ArgoCD applies the namespaces' objects in tier order (erp-infra first, erp-apps last). */}}
{{- define "erp-uno.wave" -}}
argocd.argoproj.io/sync-wave: {{ (index .root.Values.namespaces .ns).tier | quote }}
{{- end -}}

{{/* The port probes and the ingress use: the one named http. */}}
{{- define "erp-uno.httpPort" -}}
{{- $port := 0 -}}
{{- range .svc.ports -}}{{- if eq .name "http" -}}{{- $port = (.targetPort | default .port) -}}{{- end -}}{{- end -}}
{{- if eq (int $port) 0 -}}{{- fail (printf "services.%s.%s has no port named http for its probes" .ns .name) -}}{{- end -}}
{{- $port -}}
{{- end -}}
