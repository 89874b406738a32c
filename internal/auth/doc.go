// Package auth is bokujo's local authentication: users with passwords kept
// in the management cluster, brute-force back-off, opaque bearer tokens,
// UI sessions with CSRF tokens, and the Authenticator the impersonating
// proxy consumes.
//
// Everything is state in the management cluster, so several server replicas
// share it: a User (spec.username, spec.state, spec.passwordSecretRef), its
// password-hash Secret in the system namespace, and one Token object per
// credential. Authentication reads Users, Tokens, Groups and
// GlobalRoleBindings from an informer cache, so a proxied request costs no
// apiserver round trip; deleting a Token or disabling a User reaches every
// replica's cache through its watch, within milliseconds.
//
// # Token format
//
// A token is "bokujo_<id>_<secret>": id is the Token object's name (16
// characters of [a-z2-7]) and secret is 43 base62 characters (256 random
// bits). Only the lowercase hex SHA-256 of the secret text is stored, in
// spec.hash. The fixed prefix lets secret scanners recognise leaked tokens.
//
// # Sessions and CSRF (the web UI's contract)
//
// POST /v1/login answers with the cookie "__Host-bokujo_session" (HttpOnly, Secure,
// SameSite=Strict, Path=/) holding a Session token, and a csrfToken in the
// body; GET /v1/me returns the same csrfToken again after a reload. The UI
// sends it as the X-CSRF-Token header on every POST, PUT, PATCH and DELETE.
// The CSRF token is HMAC-SHA256 under a server key (a Secret in the system
// namespace) of the session's token id, so it needs no storage and dies with
// the session. Cookie requests with unsafe methods are also refused when the
// browser says they are cross-site (Sec-Fetch-Site).
package auth
