package proxy

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// User is an authenticated bokujo user. Name and Groups are bokujo's own;
// the proxy prefixes them before they reach a cluster (see UserPrefix and GroupPrefix).
type User struct {
	Name   string
	Groups []string
	// UID and Extra are kept for the auditor; they are not forwarded, since
	// the proxy identity may impersonate only users and groups downstream.
	UID   string
	Extra map[string][]string
}

// AuthKind says which credential authenticated a request.
type AuthKind int

const (
	// AuthBearer is an API token in `Authorization: Bearer`. A browser never
	// attaches one on its own, so no CSRF rules apply.
	AuthBearer AuthKind = iota + 1
	// AuthCookie is a UI session cookie, which a browser attaches to
	// requests other sites trigger: such requests are held to CSRF and
	// Origin rules.
	AuthCookie
)

// CSRFHeader carries the session's CSRF token on cookie-authenticated
// requests with unsafe methods. The Authenticator compares it with the
// session's token and reports the result in AuthMethod.CSRFValid.
const CSRFHeader = "X-CSRF-Token"

// AuthMethod describes how a request authenticated.
type AuthMethod struct {
	Kind AuthKind
	// CSRFValid reports, for AuthCookie, that the request's X-CSRF-Token
	// header matched the session. Ignored for AuthBearer.
	CSRFValid bool
}

// Authenticator turns a request into a user from a bearer token or a
// session cookie. It returns ErrUnauthenticated (wrapped or not) when the
// credential is missing or invalid; any other error is answered 401 too, so
// a failing token store never lets a request through.
type Authenticator interface {
	Authenticate(r *http.Request) (*User, AuthMethod, error)
}

// Resolver maps a cluster id and a user to the downstream target. It
// returns ErrClusterNotFound for unknown clusters and for clusters the user
// was not granted alike, and ErrClusterUnavailable when the cluster is
// disconnected.
type Resolver interface {
	Resolve(ctx context.Context, cluster string, user *User) (*Target, error)
}

// safeMethod reports methods that must not change state; everything else
// needs a CSRF token when the credential is a cookie.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// checkBrowserRules applies the cookie-only rules. A bearer token is never
// sent by a browser on its own, so it needs none of them; a cookie is, so
// a cookie request must prove it came from bokujo's own pages.
func checkBrowserRules(r *http.Request, m AuthMethod, upgrade bool) string {
	switch m.Kind {
	case AuthBearer:
		return ""
	case AuthCookie:
	default:
		// An Authenticator that forgot to say how it authenticated gets
		// the strictest answer, not the most lenient.
		return "unsupported authentication method"
	}
	unsafe := !safeMethod(r.Method)
	if unsafe || upgrade {
		// Fetch metadata is sent by every current browser; "none" is a
		// user-typed navigation, "same-origin" our own pages. same-site is
		// refused: a sibling subdomain is a different application.
		if sfs := r.Header.Get("Sec-Fetch-Site"); sfs != "" && sfs != "same-origin" && sfs != "none" {
			return "cross-site request refused"
		}
	}
	if unsafe && !m.CSRFValid {
		return "missing or invalid " + CSRFHeader + " header"
	}
	if upgrade && !sameOrigin(r) {
		// Browsers send cookies on cross-site WebSocket handshakes and the
		// same-origin policy does not apply to them (cross-site WebSocket
		// hijacking): Origin is the only thing that tells them apart.
		return "websocket or upgrade from a foreign origin refused"
	}
	return ""
}

// sameOrigin reports whether the Origin header names this server.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Values("Origin")
	if len(origin) != 1 || origin[0] == "" || origin[0] == "null" {
		return false
	}
	u, err := url.Parse(origin[0])
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") {
		return false
	}
	wantScheme := "https"
	if r.TLS == nil {
		// Behind a TLS-terminating load balancer the server sees plain
		// HTTP while the browser's origin is https.
		if u.Scheme != "http" && u.Scheme != "https" {
			return false
		}
		wantScheme = u.Scheme
	}
	if !strings.EqualFold(u.Scheme, wantScheme) {
		return false
	}
	return strings.EqualFold(withDefaultPort(u.Host, wantScheme), withDefaultPort(r.Host, wantScheme))
}

func withDefaultPort(host, scheme string) string {
	if u := (&url.URL{Host: host}); u.Port() != "" {
		return host
	}
	if scheme == "http" {
		return host + ":80"
	}
	return host + ":443"
}
