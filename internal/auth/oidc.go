package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
)

const (
	// oidcFlowCookie carries the state, nonce and PKCE verifier of one
	// login from /start to /callback. SameSite=Lax, not Strict: the
	// callback is a top-level navigation that the provider's site starts,
	// and a Strict cookie would not be sent with it.
	oidcFlowCookie = "bokujo_oidc_flow"
	// oidcFlowTTL bounds how long a started login may take at the provider.
	oidcFlowTTL = 10 * time.Minute
	// oidcFlowContext separates the flow cookie's MAC from the CSRF
	// tokens', which use the same key.
	oidcFlowContext = "bokujo oidc flow v1\x00"

	defaultUsernameClaim = "preferred_username"
	defaultGroupsClaim   = "groups"
	oidcHTTPTimeout      = 15 * time.Second
)

// oidcSigningAlgs are the ID-token algorithms accepted: asymmetric only,
// so neither "none" nor an HMAC keyed with a public key can pass.
var oidcSigningAlgs = []string{
	oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512,
	oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA,
}

var (
	errOIDCFlow = errors.New("login flow invalid or expired")
	errIDToken  = errors.New("id token rejected")
)

// oidcFlow is what the browser keeps, under a MAC, between /start and
// /callback. It is HttpOnly and lives minutes; the verifier in it is of no
// use without the code, which only the provider's redirect carries.
type oidcFlow struct {
	Provider string `json:"p"`
	// Type is the provider's type when the login started; empty in
	// cookies written before GitHub logins existed, which were OIDC.
	Type     v1alpha1.AuthProviderType `json:"t,omitempty"`
	State    string                    `json:"s"`
	Nonce    string                    `json:"n"`
	Verifier string                    `json:"v"`
	Expires  int64                     `json:"e"`
}

// registerRedirectFlows adds the browser redirect flows of OIDC and GitHub:
//
//	GET /v1/auth/{provider}/start     redirect to the provider
//	GET /v1/auth/{provider}/callback  the provider's redirect back; opens a session
func (s *Service) registerRedirectFlows(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/auth/{provider}/start", s.handleRedirectStart)
	mux.HandleFunc("GET /v1/auth/{provider}/callback", s.handleRedirectCallback)
	s.registerDeviceFlow(mux)
}

// oidcClient is a provider's discovered endpoints and verifier.
type oidcClient struct {
	spec     *v1alpha1.OIDCProviderSpec
	http     *http.Client
	provider *oidc.Provider
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func oidcHTTPClient(spec *v1alpha1.OIDCProviderSpec) (*http.Client, error) {
	pool, err := certPool(spec.CAData)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	// The provider's answers never redirect elsewhere for discovery or
	// the token exchange; following one would send the client secret on.
	return &http.Client{Transport: tr, Timeout: oidcHTTPTimeout, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}, nil
}

// oidcDiscoveryTTL is how long a provider's discovery document, and with
// it the key set go-oidc caches, is reused across logins: without it every
// login and every device poll would fetch both again. A changed
// AuthProvider or client secret takes effect at once.
const oidcDiscoveryTTL = 5 * time.Minute

// oidcClients caches discovered providers by AuthProvider name.
type oidcClients struct {
	mu sync.Mutex
	m  map[string]oidcClientEntry
}

type oidcClientEntry struct {
	version string
	client  *oidcClient
	expires time.Time
}

// oidcClient returns provider p discovered, from the cache unless fresh.
// redirectURL may be empty when no redirect follows.
func (s *Service) oidcClient(ctx context.Context, p *v1alpha1.AuthProvider, redirectURL string, fresh bool) (*oidcClient, error) {
	spec := p.Spec.OIDC
	if spec == nil {
		return nil, fmt.Errorf("%w: no oidc settings", errProviderConfig)
	}
	secret := ""
	if spec.ClientSecretRef != nil {
		var err error
		if secret, err = s.secretValue(ctx, *spec.ClientSecretRef, v1alpha1.ClientSecretSecretKey); err != nil {
			return nil, err
		}
	}
	sum := sha256.Sum256([]byte(secret))
	version := string(p.UID) + "/" + p.ResourceVersion + "/" + base64.RawURLEncoding.EncodeToString(sum[:])
	now := s.clock.Now()
	c := s.oidcClients.get(p.Name, version, now)
	if c == nil || fresh {
		var err error
		if c, err = s.discoverOIDC(ctx, spec, secret); err != nil {
			return nil, err
		}
		s.oidcClients.put(p.Name, oidcClientEntry{version: version, client: c, expires: now.Add(oidcDiscoveryTTL)})
	}
	cp := *c
	cp.oauth.RedirectURL = redirectURL
	return &cp, nil
}

func (cs *oidcClients) get(name, version string, now time.Time) *oidcClient {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	e, ok := cs.m[name]
	if !ok || e.version != version || !now.Before(e.expires) {
		return nil
	}
	return e.client
}

func (cs *oidcClients) put(name string, e oidcClientEntry) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.m == nil {
		cs.m = map[string]oidcClientEntry{}
	}
	cs.m[name] = e
}

// discoverOIDC reads the provider's discovery document.
func (s *Service) discoverOIDC(ctx context.Context, spec *v1alpha1.OIDCProviderSpec, secret string) (*oidcClient, error) {
	hc, err := oidcHTTPClient(spec)
	if err != nil {
		return nil, err
	}
	prov, err := oidc.NewProvider(oidc.ClientContext(ctx, hc), spec.IssuerURL)
	if err != nil {
		return nil, fmt.Errorf("discover %s: %w", spec.IssuerURL, err)
	}
	scopes := spec.Scopes
	if len(scopes) == 0 {
		scopes = []string{"profile", "email", "groups", oidc.ScopeOfflineAccess}
	}
	scopes = append([]string{oidc.ScopeOpenID}, slices.DeleteFunc(slices.Clone(scopes), func(sc string) bool { return sc == oidc.ScopeOpenID })...)
	return &oidcClient{
		spec: spec, http: hc, provider: prov,
		oauth: oauth2.Config{ClientID: spec.ClientID, ClientSecret: secret, Endpoint: prov.Endpoint(), Scopes: scopes},
		verifier: prov.VerifierContext(oidc.ClientContext(context.Background(), hc), &oidc.Config{
			ClientID: spec.ClientID, SupportedSigningAlgs: oidcSigningAlgs, Now: s.clock.Now,
		}),
	}, nil
}

// callbackURL is the redirect URI registered at the provider. It is built
// from the Host the browser used: a forged Host gives a redirect URI the
// provider does not know, so the login fails there.
func callbackURL(r *http.Request, provider string) string {
	return "https://" + r.Host + "/v1/auth/" + provider + "/callback"
}

// handleRedirectStart starts the login of whichever redirect provider
// (OIDC or GitHub) the name designates.
func (s *Service) handleRedirectStart(w http.ResponseWriter, r *http.Request) {
	p, err := s.enabledProvider(r.Context(), r.PathValue("provider"))
	if err != nil {
		s.writeExternalLoginError(w, r, err)
		return
	}
	switch p.Spec.Type {
	case v1alpha1.AuthProviderOIDC:
		s.startOIDC(w, r, p)
	case v1alpha1.AuthProviderGitHub:
		s.startGitHub(w, r, p)
	default:
		s.writeExternalLoginError(w, r, ErrProviderNotFound)
	}
}

func (s *Service) startOIDC(w http.ResponseWriter, r *http.Request, p *v1alpha1.AuthProvider) {
	name := p.Name
	c, err := s.oidcClient(r.Context(), p, callbackURL(r, name), false)
	if err != nil {
		s.writeExternalLoginError(w, r, fmt.Errorf("oidc start via %s: %w", name, err))
		return
	}
	flow := oidcFlow{
		Provider: name, Type: v1alpha1.AuthProviderOIDC, State: rand.Text(), Nonce: rand.Text(), Verifier: oauth2.GenerateVerifier(),
		Expires: s.clock.Now().Add(oidcFlowTTL).Unix(),
	}
	http.SetCookie(w, s.flowCookie(flow))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, c.oauth.AuthCodeURL(flow.State, oidc.Nonce(flow.Nonce), oauth2.S256ChallengeOption(flow.Verifier)), http.StatusFound)
}

func (s *Service) flowMAC(payload string) []byte {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte(oidcFlowContext))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

func (s *Service) flowCookie(f oidcFlow) *http.Cookie {
	data, _ := json.Marshal(f)
	payload := base64.RawURLEncoding.EncodeToString(data)
	return &http.Cookie{
		Name:     oidcFlowCookie,
		Value:    payload + "." + base64.RawURLEncoding.EncodeToString(s.flowMAC(payload)),
		Path:     "/v1/auth/" + f.Provider + "/callback",
		MaxAge:   int(oidcFlowTTL / time.Second),
		HttpOnly: true,
		Secure:   true,
		SameSite: http.SameSiteLaxMode,
	}
}

// readFlow is readFlowState for an OIDC login, which cannot go on without
// its nonce and PKCE verifier.
func (s *Service) readFlow(r *http.Request, provider string) (*oidcFlow, error) {
	f, err := s.readFlowState(r, provider)
	if err != nil {
		return nil, err
	}
	if err := f.checkOIDC(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *oidcFlow) checkOIDC() error {
	if f.Verifier == "" || f.Nonce == "" {
		return fmt.Errorf("%w: no verifier", errOIDCFlow)
	}
	return nil
}

// readFlowState checks the flow cookie's MAC, age and provider, and that
// the state the provider sent back is the one this browser started with.
func (s *Service) readFlowState(r *http.Request, provider string) (*oidcFlow, error) {
	state := r.URL.Query().Get("state")
	if state == "" {
		return nil, fmt.Errorf("%w: no state", errOIDCFlow)
	}
	ck, err := r.Cookie(oidcFlowCookie)
	if err != nil {
		return nil, fmt.Errorf("%w: no flow cookie", errOIDCFlow)
	}
	payload, mac, ok := strings.Cut(ck.Value, ".")
	got, err := base64.RawURLEncoding.DecodeString(mac)
	if !ok || err != nil || !hmac.Equal(got, s.flowMAC(payload)) {
		return nil, fmt.Errorf("%w: bad flow cookie", errOIDCFlow)
	}
	data, err := base64.RawURLEncoding.DecodeString(payload)
	var f oidcFlow
	if err != nil || json.Unmarshal(data, &f) != nil {
		return nil, fmt.Errorf("%w: bad flow cookie", errOIDCFlow)
	}
	switch {
	case f.Provider != provider:
		return nil, fmt.Errorf("%w: started with another provider", errOIDCFlow)
	case s.clock.Now().Unix() > f.Expires:
		return nil, fmt.Errorf("%w: expired", errOIDCFlow)
	case f.State == "" || !hmac.Equal([]byte(state), []byte(f.State)):
		return nil, fmt.Errorf("%w: state mismatch", errOIDCFlow)
	}
	if f.Type == "" {
		f.Type = v1alpha1.AuthProviderOIDC
	}
	return &f, nil
}

// handleRedirectCallback ends an OIDC or GitHub login. The flow cookie
// names the type the login started with; the login functions read the
// provider again with that type, so a flow started at one type of provider
// never finishes at another.
func (s *Service) handleRedirectCallback(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("provider")
	flow, err := s.readFlowState(r, name)
	if err == nil && flow.Type == v1alpha1.AuthProviderOIDC {
		err = flow.checkOIDC()
	}
	// One use only: whatever happens next, this flow is spent.
	spent := s.flowCookie(oidcFlow{Provider: name})
	spent.Value, spent.MaxAge = "", -1
	http.SetCookie(w, spent)
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		s.log.InfoContext(r.Context(), "login callback refused", "provider", name, "reason", err.Error(), "source", s.clientIP(r))
		writeError(w, http.StatusBadRequest, CodeBadRequest, "the login has expired or was not started here; start again")
		return
	}
	if e := r.URL.Query().Get("error"); e != "" {
		s.log.InfoContext(r.Context(), "the identity provider refused the login", "provider", name, "error", printable(e, 64))
		writeError(w, http.StatusUnauthorized, CodeInvalidCredentials, "the identity provider refused the login")
		return
	}
	var sess *Session
	code := r.URL.Query().Get("code")
	switch flow.Type {
	case v1alpha1.AuthProviderGitHub:
		sess, err = s.loginGitHub(r.Context(), name, code, callbackURL(r, name), s.clientIP(r))
	default:
		sess, err = s.loginOIDC(r.Context(), name, code, flow, callbackURL(r, name), s.clientIP(r))
	}
	if err != nil {
		s.writeExternalLoginError(w, r, err)
		return
	}
	http.SetCookie(w, sessionCookie(sess.Token, sess.ExpiresAt, s.clock.Now()))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// loginOIDC exchanges code for tokens, verifies the ID token against the
// flow's nonce and opens a session. Failures count against the source
// address, as wrong passwords do.
func (s *Service) loginOIDC(ctx context.Context, provider, code string, flow *oidcFlow, redirectURL, sourceIP string) (*Session, error) {
	akey := addressKey(sourceIP)
	if wait := s.ipLimiter.begin(akey); wait > 0 {
		return nil, &ThrottledError{RetryAfter: wait}
	}
	failed := false
	defer func() { s.ipLimiter.end(akey, failed, false) }()
	p, err := s.provider(ctx, provider, v1alpha1.AuthProviderOIDC)
	if err != nil {
		return nil, err
	}
	c, err := s.oidcClient(ctx, p, redirectURL, false)
	if err != nil {
		return nil, fmt.Errorf("oidc login via %s: %w", provider, err)
	}
	if code == "" {
		failed = true
		return nil, fmt.Errorf("oidc login via %s: %w: no code", provider, ErrInvalidCredentials)
	}
	tok, err := c.oauth.Exchange(oidc.ClientContext(ctx, c.http), code, oauth2.VerifierOption(flow.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			// The provider refused the code or the verifier: the
			// request's fault. Only the error code is logged, never
			// the body, which may echo what was sent.
			failed = true
			s.log.InfoContext(ctx, "login failed", "provider", provider, "source", sourceIP, "reason", "code exchange refused", "error", printable(re.ErrorCode, 64))
			return nil, ErrInvalidCredentials
		}
		return nil, fmt.Errorf("oidc login via %s: exchange code: status %s", provider, exchangeStatus(err))
	}
	raw, _ := tok.Extra("id_token").(string)
	id, err := verifyIDToken(ctx, c.verifier, raw, flow.Nonce, c.spec)
	if err != nil && !errors.Is(err, errIDToken) {
		return nil, fmt.Errorf("oidc login via %s: %w", provider, err)
	}
	if err != nil {
		failed = true
		s.log.InfoContext(ctx, "login failed", "provider", provider, "source", sourceIP, "reason", err.Error())
		return nil, ErrInvalidCredentials
	}
	id.Provider = provider
	id.grant = tok.RefreshToken
	return s.LoginExternal(ctx, *id, sourceIP)
}

// exchangeStatus describes a failed exchange without the provider's body.
func exchangeStatus(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.Status
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return "unreachable"
	}
	return "failed"
}

// verifyIDToken checks raw's signature (with the algorithms of
// oidcSigningAlgs), issuer, audience and expiry through v, then its nonce,
// and reads the identity from the configured claims. Errors name the
// check, never the token.
func verifyIDToken(ctx context.Context, v *oidc.IDTokenVerifier, raw, nonce string, spec *v1alpha1.OIDCProviderSpec) (*ExternalIdentity, error) {
	return verifyIDTokenClaims(ctx, v, raw, true, nonce, spec)
}

// verifyIDTokenClaims is verifyIDToken with the nonce check optional: only
// for tokens the server fetched itself (device flow), which no browser
// could have swapped.
func verifyIDTokenClaims(ctx context.Context, v *oidc.IDTokenVerifier, raw string, checkNonce bool, nonce string, spec *v1alpha1.OIDCProviderSpec) (*ExternalIdentity, error) {
	if raw == "" {
		return nil, fmt.Errorf("%w: the provider sent no id token", errIDToken)
	}
	tok, err := v.Verify(ctx, raw)
	if err != nil && keysUnavailable(err) {
		return nil, fmt.Errorf("verify id token: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s", errIDToken, verifyFailure(err))
	}
	if checkNonce && (nonce == "" || !hmac.Equal([]byte(tok.Nonce), []byte(nonce))) {
		return nil, fmt.Errorf("%w: nonce mismatch", errIDToken)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return nil, fmt.Errorf("%w: claims: %w", errIDToken, err)
	}
	id := &ExternalIdentity{Subject: tok.Subject}
	uc := orDefaultString(spec.UsernameClaim, defaultUsernameClaim)
	if u, ok := claims[uc].(string); ok {
		id.Username = u
	} else {
		id.Username = tok.Subject
	}
	if n, ok := claims["name"].(string); ok {
		id.DisplayName = n
	}
	var groups []string
	switch g := claims[orDefaultString(spec.GroupsClaim, defaultGroupsClaim)].(type) {
	case string:
		groups = []string{g}
	case []any:
		for _, e := range g {
			if s, ok := e.(string); ok {
				groups = append(groups, s)
			}
		}
	}
	id.Groups = prefixGroups(spec.GroupPrefix, groups)
	return id, nil
}

// verifyFailure names the check go-oidc refused, without the token.
// go-oidc has a type only for expiry; the others are told by message.
func verifyFailure(err error) string {
	var exp *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &exp):
		return "expired"
	case strings.Contains(msg, "issued by a different provider"):
		return "wrong issuer"
	case strings.Contains(msg, "expected audience"):
		return "wrong audience"
	case strings.Contains(msg, "algorithm"), strings.Contains(msg, "signature"), strings.Contains(msg, "not signed"):
		return "bad signature or algorithm"
	default:
		return "malformed"
	}
}

// keysUnavailable reports a failed fetch of the provider's keys: the
// provider's fault, not the person's, so it is not counted as a failed login.
func keysUnavailable(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "fetching keys") || strings.Contains(msg, "get keys failed")
}

func orDefaultString(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// testRedirectProvider fetches an OIDC provider's discovery document with
// its CA and checks that the configured claims are ones it offers.
func (s *Service) testRedirectProvider(ctx context.Context, ap *v1alpha1.AuthProvider) error {
	if ap.Spec.Type == v1alpha1.AuthProviderGitHub {
		return s.testGitHub(ctx, ap)
	}
	if ap.Spec.Type != v1alpha1.AuthProviderOIDC {
		return &testError{reason: v1alpha1.AuthProviderReasonInvalidConfig, err: fmt.Errorf("testing %s providers is not supported", ap.Spec.Type)}
	}
	c, err := s.oidcClient(ctx, ap, "", true)
	if err != nil {
		return &testError{reason: discoveryReason(err), err: err}
	}
	var meta struct {
		Claims []string `json:"claims_supported"`
	}
	if err := c.provider.Claims(&meta); err != nil {
		return &testError{reason: v1alpha1.AuthProviderReasonDiscoveryFailed, err: fmt.Errorf("read discovery document: %w", err)}
	}
	// A provider that lists no claims says nothing either way; one that
	// lists them and lacks ours would log everyone in without groups.
	if len(meta.Claims) > 0 {
		for _, want := range []string{orDefaultString(c.spec.UsernameClaim, defaultUsernameClaim), orDefaultString(c.spec.GroupsClaim, defaultGroupsClaim)} {
			if !slices.Contains(meta.Claims, want) {
				return &testError{reason: v1alpha1.AuthProviderReasonMissingClaim, err: fmt.Errorf("the provider does not offer the claim %q (claims_supported: %s)", want, strings.Join(meta.Claims, ", "))}
			}
		}
	}
	return nil
}

func discoveryReason(err error) string {
	var dns *net.DNSError
	var cert *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var rec tls.RecordHeaderError
	var op *net.OpError
	switch {
	case errors.Is(err, errProviderConfig):
		return v1alpha1.AuthProviderReasonInvalidConfig
	case errors.As(err, &dns):
		return v1alpha1.AuthProviderReasonDNSFailed
	case errors.As(err, &cert), errors.As(err, &unknown), errors.As(err, &hostname), errors.As(err, &rec):
		return v1alpha1.AuthProviderReasonTLSFailed
	case errors.As(err, &op) && op.Op == "dial":
		return v1alpha1.AuthProviderReasonConnectFailed
	default:
		return v1alpha1.AuthProviderReasonDiscoveryFailed
	}
}
