// Package proxy is bokujo's impersonating reverse proxy: it serves
// /k8s/clusters/{cluster}/… so that one URL reaches every cluster a user was
// granted, with kubectl, helm, client-go and the web UI.
//
// For each request the proxy
//
//  1. refuses paths that could escape the cluster's prefix (400),
//  2. authenticates the caller with a bokujo token or session cookie (401),
//     and holds cookie requests to CSRF and Origin rules (403),
//  3. builds the downstream identity, "bokujo:"-prefixed so nobody can become
//     system:* or a service account, and refuses to forward when it cannot
//     (403, never fail open),
//  4. resolves the cluster for that user; unknown and ungranted clusters give
//     the same 404,
//  5. deletes every client credential and Impersonate-* header and sets its
//     own, then forwards with the proxy's service identity, which may only
//     impersonate users and groups: the downstream apiserver's RBAC decides,
//  6. streams the answer (watch, logs -f, chunked lists) and upgrades
//     (exec, attach, port-forward over SPDY and WebSocket) through an
//     HTTP/1.1-only transport,
//  7. hands one AuditRecord per request to the Auditor.
//
// The package consumes three small interfaces (Authenticator, Resolver,
// Auditor) so the auth, cluster registry and audit packages plug in without
// this package knowing them.
package proxy
