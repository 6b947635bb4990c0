{{/* The chart's name. */}}
{{- define "orca.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name: resource names start with it. */}}
{{- define "orca.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The worker Deployment's name (the ScaledObject's and the scaler Role's target). */}}
{{- define "orca.workerName" -}}
{{- printf "%s-worker" (include "orca.fullname" . | trunc 56 | trimSuffix "-") }}
{{- end }}

{{- define "orca.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every resource. */}}
{{- define "orca.labels" -}}
helm.sh/chart: {{ include "orca.chart" . }}
app.kubernetes.io/name: {{ include "orca.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels of the server's pods. */}}
{{- define "orca.serverSelector" -}}
app.kubernetes.io/name: {{ include "orca.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end }}

{{/* Selector labels of the workers' pods. */}}
{{- define "orca.workerSelector" -}}
app.kubernetes.io/name: {{ include "orca.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: worker
{{- end }}

{{- define "orca.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "orca.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret with the store URL and the API keys: the chart's or existingSecret. */}}
{{- define "orca.secretName" -}}
{{- default (include "orca.fullname" .) .Values.auth.existingSecret }}
{{- end }}

{{/* The Secret and key of the Azure Storage connection string. */}}
{{- define "orca.storageSecretName" -}}
{{- default (printf "%s-storage" (include "orca.fullname" .)) .Values.storage.existingSecret }}
{{- end }}
{{- define "orca.storageSecretKey" -}}
{{- if .Values.storage.existingSecret }}{{ .Values.storage.existingSecretKey }}{{ else }}AZURE_STORAGE_CONNECTION_STRING{{ end }}
{{- end }}

{{/* registry/repository:tag of an image section (worker.image): without a repository the
chart's image; with one, its own tag (default: the appVersion) and registry (default:
image.registry). */}}
{{- define "orca.image" -}}
{{- $img := .image }}
{{- $registry := .root.Values.image.registry }}
{{- $repository := .root.Values.image.repository }}
{{- $tag := default .root.Chart.AppVersion .root.Values.image.tag }}
{{- if $img.repository }}
{{- $registry = default $registry $img.registry }}
{{- $repository = $img.repository }}
{{- $tag = default $tag $img.tag }}
{{- end }}
{{- if $registry }}{{ printf "%s/%s:%s" $registry $repository $tag }}{{ else }}{{ printf "%s:%s" $repository $tag }}{{ end }}
{{- end }}

{{/* The server's in-cluster HTTP URL, for the workers. */}}
{{- define "orca.serverURL" -}}
{{- printf "http://%s.%s.svc:%d" (include "orca.fullname" .) .Release.Namespace (int .Values.server.port) }}
{{- end }}

{{/* The work queue's URL on Azure Storage Queue (storage.enabled). */}}
{{- define "orca.queueURL" -}}
{{- $q := list (printf "encoding=%s" .Values.storage.encoding) }}
{{- if .Values.storage.queuePrefix }}{{ $q = append $q (printf "prefix=%s" .Values.storage.queuePrefix) }}{{ end }}
{{- printf "azqueue://?%s" (join "&" $q) }}
{{- end }}

{{/* The Azure queue the azure-queue trigger reads. */}}
{{- define "orca.azureQueueName" -}}
{{- default (printf "%s%s" .Values.storage.queuePrefix .Values.workQueue) .Values.storage.inputQueueName }}
{{- end }}

{{/* A value one of the chart's own keys holds, reused on upgrade: the live Secret's value,
else the given one, else a new random key. */}}
{{- define "orca.key" -}}
{{- $given := .given }}
{{- if $given }}{{ $given }}{{ else }}
{{- $live := lookup "v1" "Secret" .root.Release.Namespace (include "orca.fullname" .root) }}
{{- if and $live $live.data (hasKey $live.data .key) }}{{ index $live.data .key | b64dec }}{{ else }}{{ randAlphaNum 40 }}{{ end }}
{{- end }}
{{- end }}

{{/* "true" when KEDA sizes the worker Deployment (a ScaledObject). */}}
{{- define "orca.scaledByKEDA" -}}
{{- if and .Values.scale.enabled .Values.worker.enabled (eq .Values.scale.autoscaler "keda") }}true{{ end }}
{{- end }}

{{/* "true" when orca's own scaler in the server sizes the worker Deployment. */}}
{{- define "orca.scaledByOrca" -}}
{{- if and .Values.scale.enabled .Values.worker.enabled (eq .Values.scale.autoscaler "orca") }}true{{ end }}
{{- end }}

{{/* "true" when the server may scale the worker Deployment (the scaler Role). */}}
{{- define "orca.scalerRole" -}}
{{- if or .Values.rbac.scaler.enabled (include "orca.scaledByOrca" .) }}true{{ end }}
{{- end }}

{{/* The server's configuration file: server.config and, when orca sizes the workers, a
workers section naming their Deployment with the scale values (server.config's own workers
keys win; a cooldownPeriod of 0, which orca's config reads as its default, is 1ms). Empty when
there is none. */}}
{{- define "orca.config" -}}
{{- $cfg := deepCopy (.Values.server.config | default dict) }}
{{- if include "orca.scaledByOrca" . }}
{{- $s := .Values.scale }}
{{- $pool := dict "deployment" (printf "%s/%s" .Release.Namespace (include "orca.workerName" .))
  "min" (int $s.minReplicaCount) "max" (int $s.maxReplicaCount)
  "targetQueueLength" (int $s.targetLengthOfQueue) "activationQueueLength" (int $s.activationQueueLength)
  "pollingInterval" (printf "%ds" (int $s.pollingInterval)) "cooldown" (ternary "1ms" (printf "%ds" (int $s.cooldownPeriod)) (eq (int $s.cooldownPeriod) 0)) }}
{{- $_ := set $cfg "workers" (merge (get $cfg "workers" | default dict) $pool) }}
{{- end }}
{{- if $cfg }}{{ toYaml $cfg }}{{ end }}
{{- end }}

{{/* Checks of combinations the templates cannot render sensibly. */}}
{{- define "orca.validate" -}}
{{- $postgres := or (hasPrefix "postgres://" .Values.store) (hasPrefix "postgresql://" .Values.store) }}
{{- if and (gt (int .Values.server.replicas) 1) (not .Values.auth.existingSecret) (not $postgres) }}
{{- fail "server.replicas > 1 needs store: postgres://… (SQLite belongs to one process) and a blob store every replica reaches (blob: s3://… or azblob://…, or storage.enabled)" }}
{{- end }}
{{- if and $postgres (not .Values.blob) (not (and .Values.storage.enabled .Values.storage.blobs)) }}
{{- fail "store: postgres://… needs a blob store every server reaches: set blob (s3://…, azblob://…) or storage.enabled with storage.blobs" }}
{{- end }}
{{- if and .Values.scale.enabled .Values.worker.enabled }}
{{- if not (has .Values.scale.autoscaler (list "keda" "orca")) }}
{{- fail (printf "scale.autoscaler %q: use keda (a ScaledObject) or orca (the server's own scaler)" .Values.scale.autoscaler) }}
{{- end }}
{{- if include "orca.scaledByKEDA" . }}
{{- if not (has .Values.scale.trigger (list "external" "external-push" "azure-queue")) }}
{{- fail (printf "scale.trigger %q: use external-push, external or azure-queue" .Values.scale.trigger) }}
{{- end }}
{{- if and (hasPrefix "external" .Values.scale.trigger) (not .Values.server.keda.enabled) }}
{{- fail "scale.trigger external/external-push needs server.keda.enabled (orca's external scaler)" }}
{{- end }}
{{- if and (eq .Values.scale.trigger "azure-queue") (not .Values.storage.enabled) }}
{{- fail "scale.trigger azure-queue needs storage.enabled: the work queue on the Azure Storage Queue KEDA reads" }}
{{- end }}
{{- end }}
{{- if lt (int .Values.scale.targetLengthOfQueue) 1 }}
{{- fail "scale.targetLengthOfQueue must be at least 1" }}
{{- end }}
{{- if gt (int .Values.scale.minReplicaCount) (int .Values.scale.maxReplicaCount) }}
{{- fail "scale.minReplicaCount is more than scale.maxReplicaCount" }}
{{- end }}
{{- end }}
{{- if and .Values.storage.enabled (not .Values.storage.connectionString) (not .Values.storage.existingSecret) }}
{{- fail "storage.enabled needs storage.connectionString or storage.existingSecret (the account's connection string)" }}
{{- end }}
{{- range $name, $key := dict "adminKey" .Values.auth.adminKey "workerKey" .Values.auth.workerKey "readerKey" .Values.auth.readerKey }}
{{- if and $key (lt (len $key) 16) }}
{{- fail (printf "auth.%s: orca refuses keys shorter than 16 characters" $name) }}
{{- end }}
{{- end }}
{{- if not (has .Values.worker.execMode (list "per-item" "stream")) }}
{{- fail (printf "worker.execMode %q: use per-item or stream" .Values.worker.execMode) }}
{{- end }}
{{- if and (eq .Values.worker.execMode "stream") (not .Values.worker.exec) (not .Values.worker.command) }}
{{- fail "worker.execMode stream needs worker.exec: the built-in algorithm runs in the worker" }}
{{- end }}
{{- end }}

{{/* True ("true") when the server keeps its store in SQLite under /data: one replica and no
postgres:// store among the values (an existingSecret's store is not known here; set
server.persistence.enabled=false when it names PostgreSQL). */}}
{{- define "orca.sqlite" -}}
{{- if and (eq (int .Values.server.replicas) 1) (not (hasPrefix "postgres" .Values.store)) }}true{{ end }}
{{- end }}
