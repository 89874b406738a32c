package auth

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/proxy"
)

// websocketBearerPrefix marks a token carried as a WebSocket subprotocol,
// as kubectl and client-go send it for exec over WebSocket: a browser (and
// the WebSocket APIs modelled on it) cannot set Authorization on the
// handshake. The proxy removes the subprotocol before forwarding.
const websocketBearerPrefix = "base64url.bearer.authorization.k8s.io."

// Extra keys of an authenticated proxy.User, for the auditor.
const (
	ExtraTokenID   = "bokujo.io/token-id"
	ExtraTokenType = "bokujo.io/token-type"
)

var _ proxy.Authenticator = (*Service)(nil)

// principal is an authenticated caller.
type principal struct {
	user   *v1alpha1.User
	token  *v1alpha1.Token
	groups []string
	method proxy.AuthMethod
}

// Authenticate implements proxy.Authenticator: a bearer token in
// Authorization, else (on a WebSocket handshake) one in the
// Sec-WebSocket-Protocol header, else the session cookie. Every refusal
// wraps proxy.ErrUnauthenticated and names the reason, never the value; a
// user who must choose a new password gets proxy.ErrPasswordChangeRequired.
func (s *Service) Authenticate(r *http.Request) (*proxy.User, proxy.AuthMethod, error) {
	p, err := s.authenticate(r)
	if err != nil {
		return nil, proxy.AuthMethod{}, err
	}
	if mustChangePassword(p.user) {
		return nil, p.method, fmt.Errorf("authenticate: user %s: %w", p.user.Name, proxy.ErrPasswordChangeRequired)
	}
	return &proxy.User{
		Name:   p.user.Name,
		Groups: p.groups,
		UID:    string(p.user.UID),
		Extra: map[string][]string{
			ExtraTokenID:   {p.token.Name},
			ExtraTokenType: {string(p.token.Spec.Type)},
		},
	}, p.method, nil
}

func unauthenticated(reason string) error {
	return fmt.Errorf("authenticate: %s: %w", reason, proxy.ErrUnauthenticated)
}

func (s *Service) authenticate(r *http.Request) (*principal, error) {
	value, kind, err := credential(r)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	id, secret, ok := parseToken(value)
	if !ok {
		return nil, unauthenticated("malformed token")
	}
	// Objects are read from the cache without a copy and only read.
	var tok v1alpha1.Token
	if err := s.cache.Get(ctx, client.ObjectKey{Name: id}, &tok, client.UnsafeDisableDeepCopy); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, unauthenticated("unknown token")
		}
		return nil, fmt.Errorf("authenticate: read token %s: %w", id, err)
	}
	// The id's existence is not secret (it is an object name); the
	// secret is, and only it is compared in constant time.
	if !secretMatches(&tok, secret) {
		return nil, unauthenticated("wrong token secret")
	}
	now := s.clock.Now()
	if tok.Spec.ExpiresAt != nil && !now.Before(tok.Spec.ExpiresAt.Time) {
		return nil, unauthenticated("expired token")
	}
	if tok.DeletionTimestamp != nil {
		return nil, unauthenticated("revoked token")
	}
	if kind == proxy.AuthCookie && tok.Spec.Type != v1alpha1.TokenTypeSession {
		// Only login puts a token into the cookie.
		return nil, unauthenticated("cookie holds a non-session token")
	}
	var user v1alpha1.User
	if err := s.cache.Get(ctx, client.ObjectKey{Name: tok.Spec.UserName}, &user, client.UnsafeDisableDeepCopy); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, unauthenticated("token of a deleted user")
		}
		return nil, fmt.Errorf("authenticate: read user %s: %w", tok.Spec.UserName, err)
	}
	if user.Spec.State == v1alpha1.UserStateDisabled || user.DeletionTimestamp != nil {
		return nil, unauthenticated("user disabled")
	}
	groups, err := s.groupsOf(ctx, &user)
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	method := proxy.AuthMethod{Kind: kind}
	if kind == proxy.AuthCookie {
		method.CSRFValid = s.csrfValid(r, tok.Name)
	}
	s.usage.touch(&tok, now)
	return &principal{user: &user, token: &tok, groups: groups, method: method}, nil
}

// credential finds the one credential a request carries. A request with
// an Authorization header is judged by it alone: falling back to the
// cookie when it is bad would let a broken client act with a browser
// session it did not mean to use. Duplicates are refused rather than
// guessed between.
func credential(r *http.Request) (string, proxy.AuthKind, error) {
	if auth := r.Header.Values("Authorization"); len(auth) > 0 {
		if len(auth) > 1 {
			return "", 0, unauthenticated("several Authorization headers")
		}
		scheme, value, ok := strings.Cut(auth[0], " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", 0, unauthenticated("Authorization is not a bearer token")
		}
		value = strings.TrimSpace(value)
		if value == "" {
			return "", 0, unauthenticated("empty bearer token")
		}
		return value, proxy.AuthBearer, nil
	}
	if isWebSocketUpgrade(r) {
		value, found, err := websocketBearer(r.Header)
		if err != nil {
			return "", 0, err
		}
		if found {
			return value, proxy.AuthBearer, nil
		}
	}
	cookies := r.CookiesNamed(SessionCookieName)
	switch len(cookies) {
	case 0:
		return "", 0, unauthenticated("no credential")
	case 1:
		if cookies[0].Value == "" {
			return "", 0, unauthenticated("empty session cookie")
		}
		return cookies[0].Value, proxy.AuthCookie, nil
	default:
		// A sibling subdomain can set a second cookie of this name
		// (cookie tossing); neither is trusted.
		return "", 0, unauthenticated("several session cookies")
	}
}

// websocketBearer extracts the token from the subprotocol list.
func websocketBearer(h http.Header) (string, bool, error) {
	var found []string
	for _, v := range h.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(v, ",") {
			p = strings.TrimSpace(p)
			if len(p) > len(websocketBearerPrefix) && strings.EqualFold(p[:len(websocketBearerPrefix)], websocketBearerPrefix) {
				found = append(found, p[len(websocketBearerPrefix):])
			}
		}
	}
	switch len(found) {
	case 0:
		return "", false, nil
	case 1:
	default:
		return "", false, unauthenticated("several bearer subprotocols")
	}
	if len(found[0]) > 2*maxTokenLength {
		return "", false, unauthenticated("malformed bearer subprotocol")
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(found[0], "="))
	if err != nil || len(raw) == 0 {
		return "", false, unauthenticated("malformed bearer subprotocol")
	}
	return string(raw), true, nil
}

// isWebSocketUpgrade reports a WebSocket handshake, the only request the
// subprotocol credential is accepted on, as in the kube-apiserver.
func isWebSocketUpgrade(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
