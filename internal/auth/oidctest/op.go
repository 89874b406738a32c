// Package oidctest runs a real OpenID Provider (zitadel's op package) over
// HTTPS in the test process, with its own CA and signing key, one
// registered client and one user that every login signs in as: the login
// page approves at once, so an http.Client with a cookie jar can walk the
// whole authorization-code flow without a browser.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// User is who the provider says logged in.
type User struct {
	Subject  string
	Username string
	Name     string
	Groups   []string
}

// Options configure Start.
type Options struct {
	ClientID     string
	ClientSecret string
	// RedirectURIs are the relying party's callbacks. RPRedirectURI is
	// always added, for IDToken.
	RedirectURIs []string
	User         User
}

// RPRedirectURI is a callback nobody serves: IDToken stops at the redirect
// to it and exchanges the code itself.
const RPRedirectURI = "https://rp.invalid/callback"

// OP is a running provider.
type OP struct {
	Issuer string
	// CAPEM signs the provider's TLS certificate.
	CAPEM        []byte
	ClientID     string
	ClientSecret string
	// Key signs the ID tokens.
	Key *rsa.PrivateKey

	srv     *httptest.Server
	storage *storage

	mu       sync.Mutex
	lifetime time.Duration
}

// Start runs a provider until the test ends.
func Start(t testing.TB, opts Options) *OP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	o := &OP{ClientID: opts.ClientID, ClientSecret: opts.ClientSecret, Key: key, lifetime: 5 * time.Minute}
	var handler http.Handler
	o.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	o.srv.StartTLS()
	t.Cleanup(o.srv.Close)
	o.Issuer = o.srv.URL
	o.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: o.srv.Certificate().Raw})

	o.storage = &storage{
		key: key, keyID: "test-key-1", user: opts.User,
		requests: map[string]*authRequest{}, codes: map[string]string{}, devices: map[string]*device{},
		refresh: map[string]*refreshToken{},
		client: &client{
			id: opts.ClientID, secret: opts.ClientSecret,
			redirectURIs: append([]string{RPRedirectURI}, opts.RedirectURIs...),
			loginURL:     o.Issuer + "/login",
			idTokenExpiry: func() time.Duration {
				o.mu.Lock()
				defer o.mu.Unlock()
				return o.lifetime
			},
		},
	}
	var cryptoKey [32]byte
	_, _ = rand.Read(cryptoKey[:])
	provider, err := op.NewProvider(&op.Config{
		CryptoKey: cryptoKey, CodeMethodS256: true, GrantTypeRefreshToken: true,
		SupportedClaims: []string{"sub", "aud", "exp", "iat", "iss", "nonce", "preferred_username", "name", "groups"},
		DeviceAuthorization: op.DeviceAuthorizationConfig{
			Lifetime: 5 * time.Minute, PollInterval: time.Second, UserFormPath: "/device", UserCode: op.UserCodeBase20,
		},
	}, o.storage, op.StaticIssuer(o.Issuer))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("id")
		if err := o.storage.approve(id); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, o.Issuer+"/authorize/callback?id="+url.QueryEscape(id), http.StatusFound)
	})
	mux.Handle("/", provider)
	handler = mux
	return o
}

// SetUser changes who the next logins sign in as.
func (o *OP) SetUser(u User) {
	o.storage.mu.Lock()
	defer o.storage.mu.Unlock()
	o.storage.user = u
}

// RevokeRefreshTokens ends every refresh token issued so far, as an
// administrator of the provider does when a person leaves.
func (o *OP) RevokeRefreshTokens() { o.storage.revokeRefreshTokens() }

// RefreshTokens is how many refresh tokens are live.
func (o *OP) RefreshTokens() int { return o.storage.refreshTokens() }

// SetIDTokenLifetime changes the validity of the next ID tokens; a
// negative one makes them expired when issued.
func (o *OP) SetIDTokenLifetime(d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lifetime = d
}

// ApproveDevice approves the device login of userCode as the current
// user, as the person would on another device's browser.
func (o *OP) ApproveDevice(userCode string) error { return o.storage.decideDevice(userCode, true) }

// DenyDevice refuses the device login of userCode.
func (o *OP) DenyDevice(userCode string) error { return o.storage.decideDevice(userCode, false) }

// CertPool trusts the provider's certificate.
func (o *OP) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(o.srv.Certificate())
	return p
}

// IDToken walks the authorization-code flow with PKCE as a relying party
// redirecting to RPRedirectURI would, and returns the ID token the
// provider issues for nonce.
func (o *OP) IDToken(t testing.TB, nonce string) string {
	t.Helper()
	verifier := rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id": {o.ClientID}, "response_type": {"code"}, "scope": {"openid profile groups"},
		"redirect_uri": {RPRedirectURI}, "state": {"s1"}, "nonce": {nonce},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	hc := &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: o.CertPool()}},
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if req.URL.Host == "rp.invalid" {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	resp, err := hc.Get(o.Issuer + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: no code in the redirect (%d %v)", resp.StatusCode, err)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {RPRedirectURI}, "code_verifier": {verifier}}
	req, _ := http.NewRequest(http.MethodPost, o.Issuer+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(o.ClientID), url.QueryEscape(o.ClientSecret))
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	defer resp.Body.Close()
	var tok struct {
		IDToken string `json:"id_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.IDToken == "" {
		t.Fatalf("token: status %d: %v", resp.StatusCode, err)
	}
	return tok.IDToken
}
