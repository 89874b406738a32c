package proxy

import (
	"k8s.io/client-go/rest"
)

// Impersonating returns a copy of cfg (the proxy identity's configuration
// of a cluster) that acts as u exactly as the proxy does: the same prefixed
// user and groups, so downstream RBAC decides. Server-side features of
// bokujo (the release API, chat commands) use it to act for a user without
// a round trip through the HTTP proxy.
func Impersonating(cfg *rest.Config, u *User) (*rest.Config, error) {
	id, err := downstreamIdentity(u)
	if err != nil {
		return nil, err
	}
	out := rest.CopyConfig(cfg)
	out.Impersonate = rest.ImpersonationConfig{UserName: id.user, Groups: id.groups}
	return out, nil
}
