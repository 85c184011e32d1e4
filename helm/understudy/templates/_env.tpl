{{/*
The environment of a service, by the platform's conventions (README.md lists it per service).
Plain settings go to the service's ConfigMap; credentials come from Secrets, each only to the
services that use it.
*/}}

{{/* Non-secret variables: (list $ "collector") → YAML map */}}
{{- define "understudy.configEnv" -}}
{{- $root := index . 0 }}
{{- $name := index . 1 }}
{{- $values := $root.Values }}
{{- $traits := include "understudy.traits" . | fromYaml }}
{{- $settings := include "understudy.settings" . | fromYaml }}
{{- $env := dict
  "UNDERSTUDY_LOG_LEVEL" $values.logLevel
  "UNDERSTUDY_OPS_PORT" "9464"
  "UNDERSTUDY_KAFKA_BROKERS" (join "," $values.kafka.brokers)
  "UNDERSTUDY_KAFKA_SSL" (toString $values.kafka.tls)
}}
{{- if $values.kafka.sasl.enabled }}
{{- $_ := set $env "UNDERSTUDY_KAFKA_SASL_MECHANISM" $values.kafka.sasl.mechanism }}
{{- $_ := set $env "UNDERSTUDY_KAFKA_SASL_USERNAME" $values.kafka.sasl.username }}
{{- end }}
{{- if $values.telemetry.otlpEndpoint }}
{{- $_ := set $env "OTEL_EXPORTER_OTLP_ENDPOINT" $values.telemetry.otlpEndpoint }}
{{- end }}
{{- $shutdownSeconds := sub (sub $settings.terminationGracePeriodSeconds $settings.preStopSleepSeconds) 5 }}
{{- if lt $shutdownSeconds 5 }}
{{- fail (printf "services.%s: terminationGracePeriodSeconds must exceed preStopSleepSeconds by at least 10" $name) }}
{{- end }}
{{- /* The process gets what the grace period leaves after the preStop pause, less a margin. */}}
{{- $_ := set $env "UNDERSTUDY_SHUTDOWN_TIMEOUT_MS" (mul $shutdownSeconds 1000 | toString) }}
{{- range $peer, $peerTraits := include "understudy.catalog" $root | fromYaml }}
{{- if and $peerTraits.grpc (ne $peer $name) (index $values.services $peer).enabled }}
{{- $_ := set $env $peerTraits.grpc (include "understudy.grpcAddress" (list $root $peer)) }}
{{- end }}
{{- end }}
{{- range $traits.ports }}
{{- $_ := set $env .env (toString .port) }}
{{- end }}
{{- if has "s3" $traits.uses }}
{{- $_ := set $env "UNDERSTUDY_S3_ENDPOINT" $values.s3.endpoint }}
{{- $_ := set $env "UNDERSTUDY_S3_REGION" $values.s3.region }}
{{- $_ := set $env "UNDERSTUDY_S3_BUCKET" $values.s3.bucket }}
{{- end }}
{{- if has "llm" $traits.uses }}
{{- $_ := set $env "UNDERSTUDY_LLM_BASE_URL" $values.llm.baseUrl }}
{{- end }}
{{- if and (has "tenantKeys" $traits.uses) (include "understudy.tenantKeysMounted" $root) }}
{{- $_ := set $env "UNDERSTUDY_TENANT_KEYS_FILE" (printf "/etc/understudy/tenant-keys/%s" $values.tenantKeys.secretKeys.file) }}
{{- end }}
{{- if include "understudy.contentKeysMounted" . }}
{{- $_ := set $env "UNDERSTUDY_CONTENT_KEYS_FILE" (printf "/etc/understudy/content-keys/%s" $values.contentEncryption.secretKeys.file) }}
{{- end }}
{{- if include "understudy.redactionRulesMounted" . }}
{{- $_ := set $env "UNDERSTUDY_COLLECTOR_REDACTION_RULES_FILE" "/etc/understudy/redaction/redaction-rules.json" }}
{{- end }}
{{- $access := $values.registryAccess }}
{{- if has "registryAccess" $traits.uses }}
{{- if $access.enabled }}
{{- $_ := set $env "UNDERSTUDY_REGISTRY_PRINCIPALS_FILE" "/etc/understudy/registry-access/principals.json" }}
{{- else }}
{{- $_ := set $env "UNDERSTUDY_REGISTRY_AUTH" "off" }}
{{- end }}
{{- if $access.tls.existingSecret }}
{{- $_ := set $env "UNDERSTUDY_GRPC_TLS_CERT_FILE" "/etc/understudy/grpc-tls/tls.crt" }}
{{- $_ := set $env "UNDERSTUDY_GRPC_TLS_KEY_FILE" "/etc/understudy/grpc-tls/tls.key" }}
{{- if $access.tls.clientCertificates }}
{{- $_ := set $env "UNDERSTUDY_GRPC_TLS_CLIENT_CA_FILE" "/etc/understudy/grpc-tls/ca.crt" }}
{{- end }}
{{- end }}
{{- end }}
{{- include "understudy.registryAccessChecks" . }}
{{- if include "understudy.registryCaller" . }}
{{- if $access.enabled }}
{{- $_ := set $env "UNDERSTUDY_REGISTRY_TOKEN_FILE" "/etc/understudy/registry-access/token" }}
{{- end }}
{{- if $access.tls.existingSecret }}
{{- $_ := set $env "UNDERSTUDY_REGISTRY_TLS_CA_FILE" "/etc/understudy/registry-tls/ca.crt" }}
{{- if $access.tls.clientCertificates }}
{{- $_ := set $env "UNDERSTUDY_REGISTRY_TLS_CERT_FILE" "/etc/understudy/registry-client-tls/tls.crt" }}
{{- $_ := set $env "UNDERSTUDY_REGISTRY_TLS_KEY_FILE" "/etc/understudy/registry-client-tls/tls.key" }}
{{- end }}
{{- end }}
{{- end }}
{{- if eq $name "collector" }}
{{- $collector := $values.collector }}
{{- if lt (int64 $collector.maxInFlightBytes) (int64 $collector.tenantLimits.maxBodyBytes) }}
{{- fail "collector.maxInFlightBytes must hold the largest export, collector.tenantLimits.maxBodyBytes" }}
{{- end }}
{{- /* Values arrive as floats: int64 keeps large byte counts out of exponent notation. */}}
{{- $numbers := dict
  "UNDERSTUDY_COLLECTOR_TENANT_REQUESTS_PER_SECOND" $collector.tenantLimits.requestsPerSecond
  "UNDERSTUDY_COLLECTOR_TENANT_BYTES_PER_SECOND" $collector.tenantLimits.bytesPerSecond
  "UNDERSTUDY_COLLECTOR_MAX_BODY_BYTES" $collector.tenantLimits.maxBodyBytes
  "UNDERSTUDY_COLLECTOR_MAX_IN_FLIGHT_BYTES" $collector.maxInFlightBytes
  "UNDERSTUDY_COLLECTOR_PUBLISH_TIMEOUT_MS" $collector.publishTimeoutMs
  "UNDERSTUDY_COLLECTOR_JOIN_TIMEOUT_MS" $collector.join.timeoutMs
  "UNDERSTUDY_COLLECTOR_DEDUP_WINDOW_MS" $collector.join.dedupWindowMs
  "UNDERSTUDY_COLLECTOR_JOIN_MAX_HELD_BYTES" $collector.join.maxHeldBytes
  "UNDERSTUDY_COLLECTOR_JOIN_TICK_MS" $collector.join.tickMs
  "UNDERSTUDY_ARCHIVE_MAX_CALLS" $collector.archive.maxCalls
  "UNDERSTUDY_ARCHIVE_MAX_BYTES" $collector.archive.maxBytes
  "UNDERSTUDY_ARCHIVE_MAX_AGE_MS" $collector.archive.maxAgeMs
}}
{{- range $key, $value := $numbers }}
{{- $_ := set $env $key (int64 $value | toString) }}
{{- end }}
{{- end }}
{{- if has "training" $traits.uses }}
{{- $_ := set $env "UNDERSTUDY_EXECUTOR" $values.training.executor }}
{{- $_ := set $env "UNDERSTUDY_BASE_MODEL" $values.training.baseModel }}
{{- $_ := set $env "UNDERSTUDY_TRAINER_IMAGE" (include "understudy.trainerImage" $root) }}
{{- if eq $values.training.executor "kubernetes" }}
{{- $_ := set $env "UNDERSTUDY_TRAINING_NAMESPACE" (include "understudy.trainingNamespace" $root) }}
{{- $_ := set $env "UNDERSTUDY_JOB_TEMPLATE_FILE" "/etc/understudy/training/job-template.json" }}
{{- end }}
{{- end }}
{{- range $key, $value := $settings.env }}
{{- $_ := set $env $key (toString $value) }}
{{- end }}
{{- toYaml $env }}
{{- end }}

{{/* Credentials as secretKeyRef variables: (list $ "collector") → YAML list, possibly empty */}}
{{- define "understudy.secretEnv" -}}
{{- $root := index . 0 }}
{{- $values := $root.Values }}
{{- $uses := (include "understudy.traits" . | fromYaml).uses }}
{{- if $values.kafka.sasl.enabled }}
{{ include "understudy.secretKeyRef" (list "UNDERSTUDY_KAFKA_SASL_PASSWORD" (include "understudy.secretName" (list $root "kafka")) $values.kafka.sasl.secretKeys.password) }}
{{- end }}
{{- /* A Kubernetes executor passes the S3 keys to its Jobs by Secret name, never holding them. */}}
{{- $kubernetesJobs := and (has "training" $uses) (eq $values.training.executor "kubernetes") }}
{{- if and (has "s3" $uses) (not $kubernetesJobs) }}
{{- $secret := include "understudy.secretName" (list $root "s3") }}
{{ include "understudy.secretKeyRef" (list "UNDERSTUDY_S3_ACCESS_KEY" $secret $values.s3.secretKeys.accessKey) }}
{{ include "understudy.secretKeyRef" (list "UNDERSTUDY_S3_SECRET_KEY" $secret $values.s3.secretKeys.secretKey) }}
{{- end }}
{{- if has "database" $uses }}
{{ include "understudy.secretKeyRef" (list "UNDERSTUDY_DATABASE_URL" (include "understudy.secretName" (list $root "database")) $values.database.secretKeys.url) }}
{{- end }}
{{- if has "llm" $uses }}
{{ include "understudy.secretKeyRef" (list "UNDERSTUDY_LLM_API_KEY" (include "understudy.secretName" (list $root "llm")) $values.llm.secretKeys.apiKey) }}
{{- end }}
{{- if has "redaction" $uses }}
{{ include "understudy.secretKeyRef" (list "UNDERSTUDY_COLLECTOR_REDACTION_SECRET" (include "understudy.secretName" (list $root "redaction")) $values.redaction.secretKeys.secret) }}
{{- end }}
{{- end }}
