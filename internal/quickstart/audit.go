package quickstart

// ManagementAuditPolicy is the embedded management cluster's apiserver
// audit policy: every change to bokujo's management objects (and to the
// Secrets in its namespace), whoever makes it — the bokujo API or a
// `kubectl apply` from Git — is recorded with the real user, at metadata
// level so no Secret data or password hash is ever written. Production
// management clusters should set the same policy on their apiserver.
const ManagementAuditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  verbs: ["get", "list", "watch"]
- level: Metadata
  resources:
  - group: management.bokujo.io
- level: Metadata
  namespaces: ["bokujo-system"]
  resources:
  - group: ""
    resources: ["secrets"]
- level: None
`
