package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"k8s.io/client-go/rest"
)

// Target is where and how the proxy reaches one cluster's apiserver.
type Target struct {
	// URL is the apiserver's base URL; a path (for an apiserver behind a
	// prefix) is kept and the downstream path appended to it.
	URL *url.URL
	// Transport carries the proxy identity's credentials and may speak
	// HTTP/2. It serves every request that is not an upgrade.
	Transport http.RoundTripper
	// UpgradeTransport carries the same credentials over HTTP/1.1 only.
	// Go's HTTP/2 client refuses `Upgrade: SPDY/3.1` ("http2: invalid
	// Upgrade request header") and WebSocket needs HTTP/1.1 too, so exec,
	// attach and port-forward go through it.
	UpgradeTransport http.RoundTripper
}

// NewTarget builds a Target from the client configuration of the proxy's
// downstream identity: the service account that may only impersonate users
// and groups, never an admin credential.
//
// Both transports come from client-go (rest.TransportFor), so TLS, client
// certificates, token files and exec plugins behave as for any client; the
// upgrade one differs only by offering "http/1.1" alone in ALPN, which makes
// client-go skip its HTTP/2 setup. client-go caches transports by TLS
// configuration, so calling NewTarget per request is cheap, but callers
// should keep the Target per cluster.
func NewTarget(cfg *rest.Config) (*Target, error) {
	if cfg == nil {
		return nil, errors.New("build proxy target: no client configuration")
	}
	if cfg.Impersonate.UserName != "" || len(cfg.Impersonate.Groups) > 0 || cfg.Impersonate.UID != "" || len(cfg.Impersonate.Extra) > 0 {
		// client-go's impersonating round tripper would overwrite the
		// headers the proxy sets per request with one fixed identity.
		return nil, errors.New("build proxy target: the client configuration impersonates already")
	}
	if cfg.Insecure {
		// The transport sends the proxy's credential; an unverified server
		// could collect it and then impersonate anyone.
		return nil, errors.New("build proxy target: insecure TLS is not allowed")
	}
	base, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("build proxy target: server url: %w", err)
	}
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("build proxy target: transport: %w", err)
	}
	up := rest.CopyConfig(cfg)
	up.NextProtos = []string{"http/1.1"}
	upRT, err := rest.TransportFor(up)
	if err != nil {
		return nil, fmt.Errorf("build proxy target: upgrade transport: %w", err)
	}
	return &Target{URL: base, Transport: rt, UpgradeTransport: upRT}, nil
}

// validate makes sure a Resolver handed back something usable; a partial
// Target is an internal error, not a reason to forward differently.
func (t *Target) validate() error {
	switch {
	case t == nil:
		return errors.New("resolver returned no target")
	case t.URL == nil || t.URL.Host == "" || (t.URL.Scheme != "https" && t.URL.Scheme != "http"):
		return errors.New("target has no usable url")
	case t.Transport == nil:
		return errors.New("target has no transport")
	}
	return nil
}

// downstreamURL joins the target's base URL and the path under
// /k8s/clusters/{cluster}. rawPath is the escaped form as the client sent
// it, so names the client escaped stay escaped.
func (t *Target) downstreamURL(path, rawPath, rawQuery string) *url.URL {
	u := *t.URL
	u.User = nil
	u.Fragment, u.RawFragment = "", ""
	basePath := trimTrailingSlash(u.Path)
	baseRaw := trimTrailingSlash(u.EscapedPath())
	if path == "" {
		path, rawPath = "/", "/"
	}
	u.Path = basePath + path
	u.RawPath = baseRaw + rawPath
	if u.RawPath == u.Path {
		u.RawPath = ""
	}
	u.RawQuery = rawQuery
	u.ForceQuery = false
	return &u
}

func trimTrailingSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}
