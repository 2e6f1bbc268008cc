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

{{/*
A call "<namespace>/<service>:<port name>" as JSON {ns, name, port, protocol, enabled}: the port the
callee's container listens on (NetworkPolicies see the pod's port). A call to nothing fails.
Call with (dict "root" $ "from" "<ns>/<name>" "call" "<call>").
*/}}
{{- define "erp-uno.call" -}}
{{- $parts := regexSplit "[/:]" .call -1 -}}
{{- if ne (len $parts) 3 -}}{{- fail (printf "%s calls %q, which is not <namespace>/<service>:<port name>" .from .call) -}}{{- end -}}
{{- $ns := index $parts 0 -}}{{- $name := index $parts 1 -}}{{- $portName := index $parts 2 -}}
{{- $target := dig $ns $name dict .root.Values.services -}}
{{- if empty $target -}}{{- fail (printf "%s calls %s, which is no component of the catalog" .from .call) -}}{{- end -}}
{{- $found := dict -}}
{{- range $target.ports -}}{{- if eq .name $portName -}}{{- $found = dict "port" (.targetPort | default .port) "protocol" (.protocol | default "TCP") -}}{{- end -}}{{- end -}}
{{- if empty $found -}}{{- fail (printf "%s calls %s, but %s/%s has no port named %s" .from .call $ns $name $portName) -}}{{- end -}}
{{- $enabled := and $target.enabled (dig $ns "enabled" false .root.Values.namespaces) -}}
{{- toJson (dict "ns" $ns "name" $name "port" $found.port "protocol" $found.protocol "enabled" $enabled) -}}
{{- end -}}

{{/* The NetworkPolicy peer of a component ({ns, name}): its namespace and its name label. */}}
{{- define "erp-uno.peerOf" -}}
{{- toJson (dict "namespaceSelector" (dict "matchLabels" (dict "kubernetes.io/metadata.name" .ns)) "podSelector" (dict "matchLabels" (dict "app.kubernetes.io/name" .name))) -}}
{{- end -}}

{{/* The ports Prometheus scrapes on a component: those named http and metrics, as NetworkPolicy ports (JSON). */}}
{{- define "erp-uno.scrapePorts" -}}
{{- $ports := list -}}
{{- range .ports -}}{{- if has .name (list "http" "metrics") -}}{{- $ports = append $ports (dict "port" (.targetPort | default .port) "protocol" "TCP") -}}{{- end -}}{{- end -}}
{{- toJson $ports -}}
{{- end -}}
