package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"text/template"
)

// Names of what the import manifest creates.
const (
	Namespace       = "bokujo-agent"
	ServiceAccount  = "bokujo-agent"
	StateSecret     = "bokujo-agent-state"
	bootstrapSecret = "bokujo-agent-bootstrap"
)

// ManifestOptions fill the import manifest.
type ManifestOptions struct {
	Server string // https URL the agent dials
	CAPEM  []byte // CA of the server's certificate; may be empty
	Token  string // one-time registration token
	Image  string // image with the bokujo binary as entrypoint
	// ClusterAdmin binds the agent to cluster-admin instead of its least
	// privileges, for operators who choose so.
	ClusterAdmin bool
}

// Manifest renders the YAML that installs the agent: its namespace,
// service account and rights, a Secret with the token and the server's CA,
// and a Deployment running `bokujo agent`. charts/bokujo-agent installs
// the same objects.
func Manifest(o ManifestOptions) ([]byte, error) {
	if o.Server == "" || o.Token == "" || o.Image == "" {
		return nil, fmt.Errorf("agent manifest: server, token and image are required")
	}
	var b bytes.Buffer
	if err := manifestTemplate.Execute(&b, o); err != nil {
		return nil, fmt.Errorf("agent manifest: %w", err)
	}
	return b.Bytes(), nil
}

// q quotes a value for YAML: a JSON string is a YAML string, so no value
// can break out of its field.
func q(v any) string {
	switch x := v.(type) {
	case []byte:
		v = string(x)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

var manifestTemplate = template.Must(template.New("agent").Funcs(template.FuncMap{"q": q}).Parse(`# bokujo agent: dials out to {{ q .Server }} and lets it reach this
# cluster's API server only. Apply with: kubectl apply -f <this file>
apiVersion: v1
kind: Namespace
metadata:
  name: bokujo-agent
  labels: {app.kubernetes.io/part-of: bokujo}
---
# bokujo's own identities (proxy and manager service accounts) live here.
apiVersion: v1
kind: Namespace
metadata:
  name: bokujo-system
  labels: {app.kubernetes.io/part-of: bokujo, bokujo.io/identity: "true"}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: bokujo-agent
  namespace: bokujo-agent
  labels: {app.kubernetes.io/part-of: bokujo}
---
apiVersion: v1
kind: Secret
metadata:
  name: bokujo-agent-bootstrap
  namespace: bokujo-agent
  labels: {app.kubernetes.io/part-of: bokujo}
type: Opaque
stringData:
  token: {{ q .Token }}
  ca.crt: {{ q .CAPEM }}
{{- if .ClusterAdmin }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: bokujo-agent
  labels: {app.kubernetes.io/part-of: bokujo}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- {kind: ServiceAccount, name: bokujo-agent, namespace: bokujo-agent}
{{- else }}
---
# What the agent needs to create bokujo's identities: RBAC objects (with
# escalate and bind, as RBAC sync grants roles bokujo itself does not
# hold), bokujo's CRDs, and reading namespaces. Nothing else.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: bokujo-agent
  labels: {app.kubernetes.io/part-of: bokujo}
rules:
- apiGroups: [rbac.authorization.k8s.io]
  resources: [clusterroles, clusterrolebindings, roles, rolebindings]
  verbs: [get, list, watch, create, update, patch, delete, escalate, bind]
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [get, list, watch, create, update, patch]
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: bokujo-agent
  labels: {app.kubernetes.io/part-of: bokujo}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: bokujo-agent}
subjects:
- {kind: ServiceAccount, name: bokujo-agent, namespace: bokujo-agent}
---
# bokujo's service accounts and their token Secrets.
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: bokujo-agent
  namespace: bokujo-system
  labels: {app.kubernetes.io/part-of: bokujo}
rules:
- apiGroups: [""]
  resources: [serviceaccounts, secrets]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [""]
  resources: [serviceaccounts/token]
  verbs: [create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: bokujo-agent
  namespace: bokujo-system
  labels: {app.kubernetes.io/part-of: bokujo}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: bokujo-agent}
subjects:
- {kind: ServiceAccount, name: bokujo-agent, namespace: bokujo-agent}
{{- end }}
---
# The agent's own credential, kept in a Secret of its namespace.
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: bokujo-agent-state
  namespace: bokujo-agent
  labels: {app.kubernetes.io/part-of: bokujo}
rules:
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, create, update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: bokujo-agent-state
  namespace: bokujo-agent
  labels: {app.kubernetes.io/part-of: bokujo}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: bokujo-agent-state}
subjects:
- {kind: ServiceAccount, name: bokujo-agent, namespace: bokujo-agent}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: bokujo-agent
  namespace: bokujo-agent
  labels: {app.kubernetes.io/part-of: bokujo, app.kubernetes.io/name: bokujo-agent}
spec:
  replicas: 1
  strategy: {type: Recreate}
  selector:
    matchLabels: {app.kubernetes.io/name: bokujo-agent}
  template:
    metadata:
      labels: {app.kubernetes.io/part-of: bokujo, app.kubernetes.io/name: bokujo-agent}
    spec:
      serviceAccountName: bokujo-agent
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        seccompProfile: {type: RuntimeDefault}
      containers:
      - name: agent
        image: {{ q .Image }}
        args:
        - agent
        - {{ q (printf "--server=%s" .Server) }}
        - --ca-file=/etc/bokujo-agent/ca.crt
        env:
        - name: BOKUJO_AGENT_TOKEN
          valueFrom: {secretKeyRef: {name: bokujo-agent-bootstrap, key: token}}
        - name: POD_NAMESPACE
          valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: ["ALL"]}
        resources:
          requests: {cpu: 50m, memory: 64Mi}
          limits: {memory: 256Mi}
        volumeMounts:
        - {name: bootstrap, mountPath: /etc/bokujo-agent, readOnly: true}
      volumes:
      - name: bootstrap
        secret:
          secretName: bokujo-agent-bootstrap
          items: [{key: ca.crt, path: ca.crt}]
`))
