package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/proxy"
)

// SessionCookieName is the UI session cookie. The __Host- prefix makes
// browsers accept it only when Secure, with Path=/ and no Domain, so a
// sibling subdomain cannot set or shadow it (bokujo always serves HTTPS).
const SessionCookieName = "__Host-bokujo_session"

// ServerKeySecretName is the Secret in the system namespace holding the
// key that CSRF tokens are derived with. Deleting it invalidates every CSRF
// token (not the sessions) once the servers restart.
const ServerKeySecretName = "bokujo-auth-key"

const (
	serverKeyDataKey = "csrfKey"
	serverKeyLength  = 32
	// csrfContext separates this use of the key from any later one.
	csrfContext = "bokujo csrf v1\x00"
)

// Session is a logged-in UI session.
type Session struct {
	// Token is the session token, the cookie's value.
	Token string
	// ID is the Token object's name.
	ID        string
	User      *v1alpha1.User
	CSRFToken string
	ExpiresAt time.Time
}

// Login verifies the password (see Verify) and opens a session.
func (s *Service) Login(ctx context.Context, username, password, sourceIP string) (*Session, error) {
	user, err := s.Verify(ctx, username, password, sourceIP)
	if err != nil {
		return nil, err
	}
	value, tok, err := s.CreateToken(ctx, user.Name, TokenRequest{
		Type:        v1alpha1.TokenTypeSession,
		Description: "UI session from " + printable(sourceIP, 64),
	})
	if err != nil {
		return nil, fmt.Errorf("open session: %w", err)
	}
	s.recordLogin(ctx, user)
	s.log.InfoContext(ctx, "login", "user", user.Name, "session", tok.Name, "source", sourceIP)
	return &Session{
		Token:     value,
		ID:        tok.Name,
		User:      user,
		CSRFToken: s.csrfToken(tok.Name),
		ExpiresAt: tok.Spec.ExpiresAt.Time,
	}, nil
}

// recordLogin sets status.lastLoginTime. A failure is logged, not
// returned: the user is in, and the time is informational.
func (s *Service) recordLogin(ctx context.Context, user *v1alpha1.User) {
	patch := fmt.Appendf(nil, `{"status":{"lastLoginTime":%q}}`, s.clock.Now().UTC().Format(time.RFC3339))
	u := &v1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: user.Name}}
	if err := s.client.Status().Patch(ctx, u, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(fieldManager)); err != nil {
		s.log.WarnContext(ctx, "record login time", "user", user.Name, "error", err)
	}
}

// Logout ends the session id.
func (s *Service) Logout(ctx context.Context, id string) error {
	err := s.RevokeToken(ctx, id, "")
	if err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}

// sessionCookie carries value until expires. Strict keeps the browser from
// sending it on any request another site starts, the first CSRF defence;
// HttpOnly keeps it from scripts, so an XSS cannot carry it away.
func sessionCookie(value string, expires time.Time, now time.Time) *http.Cookie {
	return &http.Cookie{
		Name:     SessionCookieName,
		Value:    value,
		Path:     "/",
		Expires:  expires,
		MaxAge:   max(1, int(expires.Sub(now)/time.Second)),
		HttpOnly: true,
		Secure:   true,
		SameSite: http.SameSiteStrictMode,
	}
}

// clearedSessionCookie tells the browser to drop the cookie.
func clearedSessionCookie() *http.Cookie {
	return &http.Cookie{
		Name:     SessionCookieName,
		Value:    "",
		Path:     "/",
		Expires:  time.Unix(0, 0),
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   true,
		SameSite: http.SameSiteStrictMode,
	}
}

// csrfToken derives the CSRF token of a session. A MAC of the session's
// id, rather than a stored random value, needs no storage, is the same on
// every replica, and cannot be computed by a page that does not know the
// server key even if it learns the id.
func (s *Service) csrfToken(sessionID string) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte(csrfContext))
	m.Write([]byte(sessionID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// csrfValid reports whether the request carries exactly one CSRF header
// with the session's token.
func (s *Service) csrfValid(r *http.Request, sessionID string) bool {
	v := r.Header.Values(proxy.CSRFHeader)
	if len(v) != 1 {
		return false
	}
	return hmac.Equal([]byte(v[0]), []byte(s.csrfToken(sessionID)))
}

// loadServerKey reads the CSRF key, creating it on the first start. Two
// replicas starting together both try to create; the loser reads the
// winner's key.
func (s *Service) loadServerKey(ctx context.Context) ([]byte, error) {
	key := client.ObjectKey{Namespace: v1alpha1.SystemNamespace, Name: ServerKeySecretName}
	for range 3 {
		var sec corev1.Secret
		err := s.apiReader.Get(ctx, key, &sec)
		if err == nil {
			k := sec.Data[serverKeyDataKey]
			if len(k) < serverKeyLength {
				return nil, fmt.Errorf("server key secret %s/%s: key %q shorter than %d bytes", key.Namespace, key.Name, serverKeyDataKey, serverKeyLength)
			}
			return k, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("read server key secret %s/%s: %w", key.Namespace, key.Name, err)
		}
		k := make([]byte, serverKeyLength)
		if _, err := rand.Read(k); err != nil {
			return nil, fmt.Errorf("generate server key: %w", err)
		}
		sec = corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name},
			Type:       corev1.SecretTypeOpaque,
			Data:       map[string][]byte{serverKeyDataKey: k},
		}
		err = s.client.Create(ctx, &sec, client.FieldOwner(fieldManager))
		if err == nil {
			s.log.InfoContext(ctx, "server key created", "secret", key.Namespace+"/"+key.Name)
			return k, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("create server key secret %s/%s: %w", key.Namespace, key.Name, err)
		}
	}
	return nil, fmt.Errorf("server key secret %s/%s: created and deleted concurrently", key.Namespace, key.Name)
}

// printable keeps at most n printable ASCII characters of s, enough for an
// address, and safe to store whatever a ClientIP function returned.
func printable(s string, n int) string {
	b := make([]byte, 0, min(len(s), n))
	for i := 0; i < len(s) && len(b) < n; i++ {
		if s[i] >= 0x20 && s[i] < 0x7f {
			b = append(b, s[i])
		}
	}
	return string(b)
}
