{{/*
The Job template file (UNDERSTUDY_JOB_TEMPLATE_FILE) in the shape trainer-orchestrator parses
strictly (services/trainer-orchestrator/src/drivers/kubernetes/job-template.ts): what a training
Job takes from the cluster. The orchestrator adds the run: name, labels, the trainer's arguments,
GPU limits from gpuCount, the S3 keys from s3CredentialsSecret, the Kueue label from queueName.
*/}}
{{- define "understudy.jobTemplate" -}}
{{- $training := .Values.training }}
{{- $resources := dict "requests" dict "limits" dict }}
{{- range $kind, $quantities := $training.resources }}
{{- range $name, $quantity := $quantities }}
{{- $_ := set (index $resources $kind) $name (toString $quantity) }}
{{- end }}
{{- end }}
{{- $template := dict
  "gpuCount" (int $training.gpuCount)
  "nodeSelector" $training.nodeSelector
  "tolerations" $training.tolerations
  "resources" $resources
  "backoffLimit" (int $training.backoffLimit)
  "activeDeadlineSeconds" (int $training.activeDeadlineSeconds)
  "ttlSecondsAfterFinished" (int $training.ttlSecondsAfterFinished)
  "s3CredentialsSecret" (include "understudy.trainingS3Secret" .)
  "serviceAccountName" (include "understudy.componentName" (list . "trainer"))
  "runAsUser" (int $training.runAsUser)
  "cacheSizeLimit" (toString $training.cacheSizeLimit)
  "imagePullPolicy" $training.image.pullPolicy
}}
{{- with $training.kueue.queueName }}
{{- $_ := set $template "queueName" . }}
{{- end }}
{{- with $training.priorityClassName }}
{{- $_ := set $template "priorityClassName" . }}
{{- end }}
{{- toPrettyJson $template }}
{{- end }}

{{/*
The Secret training Jobs read UNDERSTUDY_S3_ACCESS_KEY and UNDERSTUDY_S3_SECRET_KEY from, by those
key names; s3.secretKeys renames them for the services only.
*/}}
{{- define "understudy.trainingS3Secret" -}}
{{- $s3 := .Values.s3 }}
{{- if .Values.training.s3CredentialsSecret }}
{{- .Values.training.s3CredentialsSecret }}
{{- else if and (eq $s3.secretKeys.accessKey "UNDERSTUDY_S3_ACCESS_KEY") (eq $s3.secretKeys.secretKey "UNDERSTUDY_S3_SECRET_KEY") }}
{{- include "understudy.secretName" (list . "s3") }}
{{- else }}
{{- fail "training Jobs read the S3 keys as UNDERSTUDY_S3_ACCESS_KEY and UNDERSTUDY_S3_SECRET_KEY, but s3.secretKeys renames them: set training.s3CredentialsSecret to a Secret in the training namespace holding those keys" }}
{{- end }}
{{- end }}
