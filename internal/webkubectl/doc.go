// Package webkubectl runs kubectl for a user of the web UI: a WebSocket at
// /v1/terminal carries a terminal session in which every typed line is
// split without a shell, checked against an allow-list of kubectl
// commands and a deny-list of flags that would reach the server's files,
// network or other identities, and run as a subprocess of the bundled
// kubectl binary in its own pseudo-terminal. The subprocess's only
// credential is a short-lived token of the user in a generated kubeconfig
// that points at bokujo's own proxy, so every request is impersonated,
// RBAC-checked and audited exactly as from the user's laptop. Each command
// line (never its input or output) is written to the audit log.
package webkubectl
