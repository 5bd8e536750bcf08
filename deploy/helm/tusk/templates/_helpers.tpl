{{/* Names are DNS labels: at most 63 characters. */}}
{{- define "tusk.fullname" -}}
{{- if contains "tusk" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-tusk" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tusk.selectorLabels" -}}
app.kubernetes.io/name: tusk
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tusk.labels" -}}
{{ include "tusk.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Pachyderm's sections may be missing or null in a user's file. */}}
{{- define "tusk.oidc" -}}{{ toJson (default dict .Values.oidc) }}{{- end -}}
{{- define "tusk.pachd" -}}{{ toJson (default dict .Values.pachd) }}{{- end -}}
{{- define "tusk.proxy" -}}{{ toJson (default dict .Values.proxy) }}{{- end -}}
{{- define "tusk.console" -}}{{ toJson (default dict .Values.console) }}{{- end -}}
{{- define "tusk.globalPg" -}}
{{- $g := default dict .Values.global -}}
{{- toJson (default dict $g.postgresql) -}}
{{- end -}}

{{/* "postgresql" or "sqlite". */}}
{{- define "tusk.dbType" -}}
{{- $db := .Values.database -}}
{{- $g := include "tusk.globalPg" . | fromJson -}}
{{- if $db.type -}}
{{- $db.type -}}
{{- else if or $db.postgresql.host $g.postgresqlHost -}}
postgresql
{{- else -}}
sqlite
{{- end -}}
{{- end -}}

{{/* PostgreSQL settings, each falling back to Pachyderm's global.postgresql key. */}}
{{- define "tusk.pg" -}}
{{- $p := .Values.database.postgresql -}}
{{- $g := include "tusk.globalPg" . | fromJson -}}
{{- $host := toString (default (default "" $g.postgresqlHost) $p.host) -}}
{{- if not $host -}}
{{- fail "database.type is postgresql, but no host is set: set database.postgresql.host (or Pachyderm's global.postgresql.postgresqlHost)" -}}
{{- end -}}
{{- $secretName := default (default "" $g.postgresqlExistingSecretName) $p.existingSecretName -}}
{{- $secretKey := default (default "postgresql-password" $g.postgresqlExistingSecretKey) $p.existingSecretKey -}}
{{- $password := toString (default (default "" $g.postgresqlPassword) $p.password) -}}
{{- toJson (dict
  "host" $host
  "port" (toString (default (default "5432" $g.postgresqlPort) $p.port))
  "user" (toString (default (default "tusk" $g.postgresqlUsername) $p.user))
  "database" (toString (default "tusk" $p.database))
  "sslMode" (toString (default (default "prefer" $g.postgresqlSSL) $p.sslMode))
  "secretName" (toString $secretName)
  "secretKey" (toString $secretKey)
  "password" $password) -}}
{{- end -}}

{{/* Secrets the chart renders from inline values: key -> text. */}}
{{- define "tusk.valuesSecretData" -}}
{{- $o := include "tusk.oidc" . | fromJson -}}
{{- $p := include "tusk.pachd" . | fromJson -}}
{{- $c := include "tusk.console" . | fromJson -}}
{{- $cc := default dict $c.config -}}
{{- $d := dict -}}
{{- if and (not $o.upstreamIDPsSecretName) $o.upstreamIDPs -}}
{{- if kindIs "string" $o.upstreamIDPs -}}
{{- $_ := set $d "upstream-idps" $o.upstreamIDPs -}}
{{- else -}}
{{- $_ := set $d "upstream-idps" (toYaml $o.upstreamIDPs) -}}
{{- end -}}
{{- end -}}
{{- if and (not $o.additionalClientsSecretName) $o.additionalClients -}}
{{- if kindIs "string" $o.additionalClients -}}
{{- $_ := set $d "additional-oidc-clients" $o.additionalClients -}}
{{- else -}}
{{- $_ := set $d "additional-oidc-clients" (toYaml $o.additionalClients) -}}
{{- end -}}
{{- end -}}
{{- if and (not $p.enterpriseLicenseKeySecretName) $p.enterpriseLicenseKey -}}
{{- $_ := set $d "enterprise-license-key" (toString $p.enterpriseLicenseKey) -}}
{{- end -}}
{{- if and (not $p.rootTokenSecretName) $p.rootToken -}}
{{- $_ := set $d "root-token" (toString $p.rootToken) -}}
{{- end -}}
{{- if and (not $p.oauthClientSecretSecretName) $p.oauthClientSecret -}}
{{- $_ := set $d "pachd-oauth-client-secret" (toString $p.oauthClientSecret) -}}
{{- end -}}
{{- if and (not $cc.oauthClientSecretSecretName) $cc.oauthClientSecret -}}
{{- $_ := set $d "console-oauth-client-secret" (toString $cc.oauthClientSecret) -}}
{{- end -}}
{{- toJson $d -}}
{{- end -}}

{{/* Which generated values this release needs: key -> true. */}}
{{- define "tusk.generatedKeys" -}}
{{- $p := include "tusk.pachd" . | fromJson -}}
{{- $c := include "tusk.console" . | fromJson -}}
{{- $cc := default dict $c.config -}}
{{- $d := dict -}}
{{- if and (ne (toString $p.activateAuth) "false") (not $p.rootTokenSecretName) (not $p.rootToken) -}}
{{- $_ := set $d "root-token" true -}}
{{- end -}}
{{- if and (not $p.oauthClientSecretSecretName) (not $p.oauthClientSecret) -}}
{{- $_ := set $d "pachd-oauth-client-secret" true -}}
{{- end -}}
{{- if and (ne (toString $c.enabled) "false") (not $cc.oauthClientSecretSecretName) (not $cc.oauthClientSecret) -}}
{{- $_ := set $d "console-oauth-client-secret" true -}}
{{- end -}}
{{- if not .Values.database.encryptionKeys.existingSecretName -}}
{{- $_ := set $d "encryption-keys" true -}}
{{- end -}}
{{- toJson $d -}}
{{- end -}}

{{- define "tusk.valuesSecretName" -}}{{ include "tusk.fullname" . }}-values{{- end -}}
{{- define "tusk.generatedSecretName" -}}{{ include "tusk.fullname" . }}-generated{{- end -}}

{{/* Where each secret tusk reads comes from: "" when it has none. */}}
{{- define "tusk.secretRefs" -}}
{{- $o := include "tusk.oidc" . | fromJson -}}
{{- $p := include "tusk.pachd" . | fromJson -}}
{{- $c := include "tusk.console" . | fromJson -}}
{{- $cc := default dict $c.config -}}
{{- $inline := include "tusk.valuesSecretData" . | fromJson -}}
{{- $gen := include "tusk.generatedKeys" . | fromJson -}}
{{- $vs := include "tusk.valuesSecretName" . -}}
{{- $gs := include "tusk.generatedSecretName" . -}}
{{- $r := dict -}}
{{- $pick := dict
  "upstream-idps" (list $o.upstreamIDPsSecretName)
  "additional-oidc-clients" (list $o.additionalClientsSecretName)
  "root-token" (list $p.rootTokenSecretName)
  "pachd-oauth-client-secret" (list $p.oauthClientSecretSecretName)
  "enterprise-license-key" (list $p.enterpriseLicenseKeySecretName)
  "console-oauth-client-secret" (list $cc.oauthClientSecretSecretName) -}}
{{- range $key, $named := $pick -}}
{{- $n := toString (first $named | default "") -}}
{{- if $n -}}
{{- $_ := set $r $key $n -}}
{{- else if hasKey $inline $key -}}
{{- $_ := set $r $key $vs -}}
{{- else if hasKey $gen $key -}}
{{- $_ := set $r $key $gs -}}
{{- else -}}
{{- $_ := set $r $key "" -}}
{{- end -}}
{{- end -}}
{{- $_ := set $r "encryption-keys" (default $gs .Values.database.encryptionKeys.existingSecretName) -}}
{{- toJson $r -}}
{{- end -}}

{{/* The Secrets mounted under /etc/tusk/secrets/<name>, each once. */}}
{{- define "tusk.secretMounts" -}}
{{- $refs := include "tusk.secretRefs" . | fromJson -}}
{{- $proxy := include "tusk.proxy" . | fromJson -}}
{{- $tls := default dict $proxy.tls -}}
{{- $names := list -}}
{{- range $key := list "upstream-idps" "additional-oidc-clients" "root-token" "pachd-oauth-client-secret" "enterprise-license-key" -}}
{{- $n := get $refs $key -}}
{{- if $n -}}{{- $names = append $names $n -}}{{- end -}}
{{- end -}}
{{- if and $tls.enabled $tls.secretName -}}
{{- $names = append $names (toString $tls.secretName) -}}
{{- end -}}
{{- toJson (without (uniq $names) "encryption-keys") -}}
{{- end -}}

{{/* The trusted-proxy list: explicit tusk.trustedProxies wins. */}}
{{- define "tusk.trustedProxies" -}}
{{- $t := default dict .Values.tusk -}}
{{- $proxy := include "tusk.proxy" . | fromJson -}}
{{- if hasKey $t "trustedProxies" -}}
{{- toJson (default list $t.trustedProxies) -}}
{{- else if and (or .Values.ingress.enabled $proxy.enabled $proxy.host) (eq .Values.service.type "ClusterIP") -}}
{{- toJson (list "10.0.0.0/8" "172.16.0.0/12" "192.168.0.0/16" "100.64.0.0/10" "fc00::/7") -}}
{{- else -}}
{{- toJson list -}}
{{- end -}}
{{- end -}}

{{/* tusk terminates TLS itself when Pachyderm's proxy.tls is enabled. */}}
{{- define "tusk.tls" -}}
{{- $proxy := include "tusk.proxy" . | fromJson -}}
{{- $tls := default dict $proxy.tls -}}
{{- if $tls.enabled -}}true{{- end -}}
{{- end -}}

{{/* The host the issuer is derived from, as tusk derives it. */}}
{{- define "tusk.publicHost" -}}
{{- $proxy := include "tusk.proxy" . | fromJson -}}
{{- if and .Values.ingress.enabled .Values.ingress.host -}}
{{- .Values.ingress.host -}}
{{- else -}}
{{- $proxy.host | default "" -}}
{{- end -}}
{{- end -}}

{{- define "tusk.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* The address `helm test` and NOTES give to tusk clients. */}}
{{- define "tusk.clientAddress" -}}
{{- if include "tusk.tls" . -}}
{{- $host := include "tusk.publicHost" . -}}
{{- if not $host -}}
{{- fail "proxy.tls.enabled is true but proxy.host is empty: set proxy.host to the name on the certificate" -}}
{{- end -}}
{{- if contains ":" $host -}}grpcs://{{ $host }}{{- else -}}grpcs://{{ $host }}:443{{- end -}}
{{- else -}}
grpc://{{ include "tusk.fullname" . }}.{{ .Release.Namespace }}.svc:{{ .Values.service.port }}
{{- end -}}
{{- end -}}
