{{/*
Names. The prefix is cut to 40 characters so that "<prefix>-trainer-orchestrator" still fits the
63 characters of a DNS label.
*/}}
{{- define "understudy.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "understudy.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of a service's objects: (list $ "collector") */}}
{{- define "understudy.componentName" -}}
{{- $root := index . 0 }}
{{- printf "%s-%s" (include "understudy.fullname" $root) (index . 1) }}
{{- end }}

{{- define "understudy.trainingNamespace" -}}
{{- .Values.training.namespace | default .Release.Namespace }}
{{- end }}

{{/* Labels of a component's objects: (list $ "collector") */}}
{{- define "understudy.labels" -}}
{{- $root := index . 0 -}}
helm.sh/chart: {{ printf "%s-%s" $root.Chart.Name $root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "understudy.selectorLabels" . }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: understudy
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
{{- end }}

{{- define "understudy.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "understudy.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/*
What each service is, as opposed to how it is deployed (values): the ports it serves besides ops
(9464) and the variables that carry them; for a gRPC service (grpc.health.v1 on 50051), the
variable that gives the others its address; the connections and files it uses besides Kafka,
which every service uses; for a caller of model-registry, the least role it needs there.
*/}}
{{- define "understudy.catalog" -}}
collector:
  ports:
    - { name: otlp-grpc, port: 4317, env: UNDERSTUDY_GRPC_PORT, appProtocol: grpc }
    - { name: otlp-http, port: 4318, env: UNDERSTUDY_HTTP_PORT, appProtocol: http }
  uses: [s3, tenantKeys, contentKeys, redaction]
embedder:
  grpc: UNDERSTUDY_EMBEDDER_ADDRESS
  uses: [contentKeys]
clusterer:
  grpc: UNDERSTUDY_CLUSTERER_ADDRESS
  uses: [database]
dataset-builder:
  grpc: UNDERSTUDY_DATASET_BUILDER_ADDRESS
  uses: [database, s3, contentKeys, registry]
  registryRole: writer
trainer-orchestrator:
  grpc: UNDERSTUDY_TRAINER_ORCHESTRATOR_ADDRESS
  uses: [database, s3, training, registry]
  registryRole: writer
model-registry:
  grpc: UNDERSTUDY_REGISTRY_ADDRESS
  uses: [database, registryAccess]
inference-gateway:
  ports:
    - { name: http, port: 8080, env: UNDERSTUDY_HTTP_PORT, appProtocol: http }
  uses: [llm, tenantKeys, registry]
  registryRole: reader
{{- end }}

{{/* A service's catalog entry with its ports complete: (list $ "collector") → YAML */}}
{{- define "understudy.traits" -}}
{{- $traits := index (include "understudy.catalog" (index . 0) | fromYaml) (index . 1) }}
{{- $ports := $traits.ports | default list }}
{{- if $traits.grpc }}
{{- $ports = append $ports (dict "name" "grpc" "port" 50051 "env" "UNDERSTUDY_GRPC_PORT" "appProtocol" "grpc") }}
{{- end }}
{{- $_ := set $traits "ports" $ports }}
{{- toYaml $traits }}
{{- end }}

{{/*
A service's settings: serviceDefaults with the service's own keys replacing whole entries, so that
false, 0 and {} override too. (list $ "collector") → YAML
*/}}
{{- define "understudy.settings" -}}
{{- $root := index . 0 }}
{{- $settings := deepCopy $root.Values.serviceDefaults }}
{{- range $key, $value := index $root.Values.services (index . 1) }}
{{- $_ := set $settings $key $value }}
{{- end }}
{{- toYaml $settings }}
{{- end }}

{{/* Whether any enabled service uses a connection: (list $ "s3") → "true" or "" */}}
{{- define "understudy.used" -}}
{{- $root := index . 0 }}
{{- $catalog := include "understudy.catalog" $root | fromYaml }}
{{- range $name, $service := $root.Values.services }}
{{- if and $service.enabled (has (index $ 1) (index $catalog $name).uses) }}true{{ end }}
{{- end }}
{{- end }}

{{- define "understudy.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* (list $ "collector" $settings) */}}
{{- define "understudy.image" -}}
{{- $root := index . 0 }}
{{- $image := (index . 2).image | default dict }}
{{- $repository := $image.repository | default (printf "%s/%s" $root.Values.image.registry (index . 1)) }}
{{- printf "%s:%s" $repository ($image.tag | default (include "understudy.imageTag" $root)) }}
{{- end }}

{{- define "understudy.trainerImage" -}}
{{- $image := .Values.training.image }}
{{- $repository := $image.repository | default (printf "%s/trainer" .Values.image.registry) }}
{{- printf "%s:%s" $repository ($image.tag | default (include "understudy.imageTag" .)) }}
{{- end }}

{{- define "understudy.imagePullSecrets" -}}
{{- range . }}
- name: {{ . }}
{{- end }}
{{- end }}

{{/* The in-cluster address of a gRPC service: (list $ "model-registry") */}}
{{- define "understudy.grpcAddress" -}}
{{- $root := index . 0 }}
{{- printf "%s.%s.svc:50051" (include "understudy.componentName" .) $root.Release.Namespace }}
{{- end }}

{{/* Secrets: the one named by existingSecret, or the chart's own. (list $ "s3") */}}
{{- define "understudy.secretName" -}}
{{- $root := index . 0 }}
{{- $connection := index . 1 }}
{{- $values := index $root.Values $connection }}
{{- if eq $connection "kafka" }}{{ $values = $values.sasl }}{{ end }}
{{- $values.existingSecret | default (include "understudy.componentName" (list $root (kebabcase $connection))) }}
{{- end }}

{{- define "understudy.tenantKeysMounted" -}}
{{- if or .Values.tenantKeys.content .Values.tenantKeys.existingSecret }}true{{ end }}
{{- end }}

{{/* Whether a service gets the redaction rules file: (list $ "collector") → "true" or "" */}}
{{- define "understudy.redactionRulesMounted" -}}
{{- $root := index . 0 }}
{{- $uses := (include "understudy.traits" . | fromYaml).uses }}
{{- if and (has "redaction" $uses) $root.Values.redaction.rules }}true{{ end }}
{{- end }}

{{/* The redaction rules file as the collector reads it. */}}
{{- define "understudy.redactionRules" -}}
{{- toPrettyJson .Values.redaction.rules }}
{{- end }}

{{/* Whether a service gets the content keys file: (list $ "embedder") → "true" or "" */}}
{{- define "understudy.contentKeysMounted" -}}
{{- $root := index . 0 }}
{{- $uses := (include "understudy.traits" . | fromYaml).uses }}
{{- if and (has "contentKeys" $uses) $root.Values.contentEncryption.existingSecret }}true{{ end }}
{{- end }}

{{/* A secretKeyRef variable: (list name secretName key) */}}
{{- define "understudy.secretKeyRef" -}}
- name: {{ index . 0 }}
  valueFrom:
    secretKeyRef:
      name: {{ index . 1 }}
      key: {{ index . 2 }}
{{- end }}

{{/* Whether a service calls model-registry: it uses it and the registry is enabled. (list $ "dataset-builder") → "true" or "" */}}
{{- define "understudy.registryCaller" -}}
{{- $root := index . 0 }}
{{- $uses := (include "understudy.traits" . | fromYaml).uses }}
{{- if and (has "registry" $uses) (index $root.Values.services "model-registry").enabled }}true{{ end }}
{{- end }}

{{/* The registry's principals file as the chart makes it: values' principals and its services. */}}
{{- define "understudy.registryPrincipals" -}}
{{- $access := .Values.registryAccess }}
{{- $principals := list }}
{{- range $access.principals }}
{{- $principals = append $principals . }}
{{- end }}
{{- range $name, $traits := include "understudy.catalog" . | fromYaml }}
{{- $token := index $access.serviceTokens $name | default "" }}
{{- if and $traits.registryRole $token (index $.Values.services $name).enabled }}
{{- $principals = append $principals (dict "subject" $name "tokenSha256" (sha256sum $token) "roles" (list $traits.registryRole) "tenants" (list "*")) }}
{{- end }}
{{- end }}
{{- toJson $principals }}
{{- end }}

{{/* Refuses access settings that cannot work: (list $ "dataset-builder") for each service. */}}
{{- define "understudy.registryAccessChecks" -}}
{{- $root := index . 0 }}
{{- $tls := $root.Values.registryAccess.tls }}
{{- if and $tls.clientCertificates (not $tls.existingSecret) }}
{{- fail "registryAccess.tls.clientCertificates needs registryAccess.tls.existingSecret (its ca.crt)" }}
{{- end }}
{{- if and $tls.clientCertificates (include "understudy.registryCaller" .) (not (index $tls.clientSecrets (index . 1))) }}
{{- fail (printf "registryAccess.tls.clientSecrets.%s: mutual TLS needs its client certificate" (index . 1)) }}
{{- end }}
{{- end }}
