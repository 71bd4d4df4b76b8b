{{/* The chart's name, and the full name every object is named after (the release name when it holds the chart's). */}}
{{- define "esml-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "esml-operator.fullname" -}}
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

{{/* Labels on every object. */}}
{{- define "esml-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "esml-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: esml-operator
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The operator's pods: the Deployment's selector, the PodDisruptionBudget's, the monitors'. */}}
{{- define "esml-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "esml-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "esml-operator.serviceAccountName" -}}
{{ include "esml-operator.fullname" . }}
{{- end }}

{{- define "esml-operator.leaseName" -}}
{{ .Values.leaderElection.leaseName | default (include "esml-operator.fullname" .) }}
{{- end }}

{{- define "esml-operator.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "esml-operator.externalMetricsName" -}}
{{ include "esml-operator.fullname" . }}-external-metrics
{{- end }}

{{/* The ServiceAccount as an RBAC subject. */}}
{{- define "esml-operator.subject" -}}
- kind: ServiceAccount
  name: {{ include "esml-operator.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end }}

{{/*
What the operator may do with the resources it reconciles, in a namespace (a Role per watched namespace)
or in every namespace (the ClusterRole). Every verb carries its reason; manifests/base/clusterrole.yaml
says the same, and tests/integration/test_helm_chart.py holds the two equal.
*/}}
{{- define "esml-operator.resourceRules" -}}
- apiGroups: ["esml.io"]
  resources: ["modeldeployments"]
  verbs:
    - list # kopf lists every ModelDeployment at start-up and when a watch expires
    - watch # kopf's watch stream: a new generation is reconciled at once
    - patch # add/remove the finalizer esml.io/stop-deployment (a JSON patch of metadata; never the spec)
- apiGroups: ["esml.io"]
  resources: ["modeldeployments/status"]
  verbs:
    - patch # write Elasticsearch's view and the conditions (a merge patch of .status)
# Credentials and CA bundles, read by name only (no list, no watch, no write).
- apiGroups: [""]
  resources: ["secrets"]
  verbs:
    - get # read one named Secret; no list, no watch, no write
- apiGroups: [""]
  resources: ["services"]
  verbs:
    - get # elasticsearchRef: read the ECK HTTP Service (<name>-es-http or serviceName) for its port
- apiGroups: [""]
  resources: ["events"]
  verbs:
    - create # Events about the resources (DeploymentStarted, Ready, Paused, warnings); never updated
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs:
    - list # AutoscalerConflict: which HPAs target a ModelDeployment (one list per namespace, cached); never written
{{- end }}

{{/* Cluster-scoped in every mode: kopf finds the ModelDeployment resource by scanning CRDs. */}}
{{- define "esml-operator.crdRules" -}}
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs:
    - list # kopf scans the CRDs at start-up to find the ModelDeployment resource
    - watch # kopf follows CRD changes (the CRD installed or upgraded after the operator started)
{{- end }}

{{/*
Namespace-scoped only: with --namespace (not --all-namespaces) kopf lists and then watches namespaces to learn
which of the watched ones exist; without this it retries the list for about a minute before it falls back
(tests/e2e/test_helm_namespaced_rbac.py). Namespace names only: no write, no get of a namespace's object.
*/}}
{{- define "esml-operator.namespaceRules" -}}
- apiGroups: [""]
  resources: ["namespaces"]
  verbs:
    - list # kopf's namespace observation at start-up (which of the watched namespaces exist)
    - watch # kopf follows namespaces appearing and going (a watched namespace created later)
{{- end }}

{{/* Values the schema cannot check: settings that must agree with each other. */}}
{{- define "esml-operator.validate" -}}
{{- if and (gt (int .Values.replicas) 1) (not .Values.leaderElection.enabled) }}
{{- fail "replicas above 1 need leaderElection.enabled: without a Lease every replica would act at once" }}
{{- end }}
{{- if and .Values.metrics.podMonitor.enabled .Values.metrics.serviceMonitor.enabled }}
{{- fail "turn on metrics.podMonitor or metrics.serviceMonitor, not both: each replica would be scraped twice" }}
{{- end }}
{{- if and (not .Values.metrics.enabled) (or .Values.metrics.podMonitor.enabled .Values.metrics.serviceMonitor.enabled) }}
{{- fail "metrics.podMonitor and metrics.serviceMonitor need metrics.enabled" }}
{{- end }}
{{- if and .Values.metrics.enabled (eq (int .Values.metrics.port) 8080) }}
{{- fail "metrics.port must not be 8080: that is the liveness probe's port" }}
{{- end }}
{{- if and .Values.externalMetrics.certManager.enabled (not .Values.externalMetrics.certManager.issuerRef.name) }}
{{- fail "externalMetrics.certManager.enabled needs externalMetrics.certManager.issuerRef.name" }}
{{- end }}
{{- if ne (len .Values.watchNamespaces) (len (uniq .Values.watchNamespaces)) }}
{{- fail "watchNamespaces names a namespace twice" }}
{{- end }}
{{- end }}
