package oidctest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strconv"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// storage is the smallest op.Storage the authorization-code, device and
// refresh-token flows need: one client, one user that every login signs in
// as, requests, codes and refresh tokens in memory. Introspection and JWT
// profiles are refused.
type storage struct {
	key    *rsa.PrivateKey
	keyID  string
	client *client

	mu       sync.Mutex
	user     User
	requests map[string]*authRequest
	codes    map[string]string
	// devices are device authorizations by device code.
	devices map[string]*device
	// refresh are the live refresh tokens; each works once (rotation).
	refresh map[string]*refreshToken
	seq     int
}

// refreshToken is what a refresh token stands for.
type refreshToken struct {
	subject, clientID string
	scopes, amr       []string
	audience          []string
	authTime          time.Time
}

func (r *refreshToken) GetAMR() []string             { return r.amr }
func (r *refreshToken) GetAudience() []string        { return r.audience }
func (r *refreshToken) GetAuthTime() time.Time       { return r.authTime }
func (r *refreshToken) GetClientID() string          { return r.clientID }
func (r *refreshToken) GetScopes() []string          { return r.scopes }
func (r *refreshToken) GetSubject() string           { return r.subject }
func (r *refreshToken) SetCurrentScopes(sc []string) { r.scopes = sc }

var errNotSupported = errors.New("not supported by the test provider")

type signingKey struct{ s *storage }

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k signingKey) Key() any                                    { return k.s.key }
func (k signingKey) ID() string                                  { return k.s.keyID }

type publicKey struct{ s *storage }

func (k publicKey) ID() string                         { return k.s.keyID }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.s.key.PublicKey }

type authRequest struct {
	id, clientID, redirectURI, state, nonce, subject string
	scopes                                           []string
	responseType                                     oidc.ResponseType
	challenge                                        *oidc.CodeChallenge
	authTime                                         time.Time
	done                                             bool
}

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return "" }
func (a *authRequest) GetAMR() []string                      { return []string{"pwd"} }
func (a *authRequest) GetAudience() []string                 { return []string{a.clientID} }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.challenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return "" }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.subject }
func (a *authRequest) Done() bool                            { return a.done }

func (s *storage) CreateAuthRequest(_ context.Context, r *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	req := &authRequest{
		id:       "req-" + time.Now().Format("150405.000000000") + "-" + string(rune('a'+s.seq%26)),
		clientID: r.ClientID, redirectURI: r.RedirectURI, state: r.State, nonce: r.Nonce,
		scopes: r.Scopes, responseType: r.ResponseType,
	}
	if r.CodeChallenge != "" {
		req.challenge = &oidc.CodeChallenge{Challenge: r.CodeChallenge, Method: r.CodeChallengeMethod}
	}
	s.requests[req.id] = req
	return req, nil
}

// approve completes request id as the configured user, as a login page
// would after checking a password.
func (s *storage) approve(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.requests[id]
	if !ok {
		return errors.New("request not found")
	}
	req.subject, req.done, req.authTime = s.user.Subject, true, time.Now()
	return nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if req, ok := s.requests[id]; ok {
		return req, nil
	}
	return nil, errors.New("request not found")
}

func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	id, ok := s.codes[code]
	s.mu.Unlock()
	if !ok {
		return nil, errors.New("code invalid or already used")
	}
	return s.AuthRequestByID(ctx, id)
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest runs after the token response: a code works once.
func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.requests, id)
	for code, rid := range s.codes {
		if rid == id {
			delete(s.codes, code)
		}
	}
	return nil
}

func (s *storage) CreateAccessToken(context.Context, op.TokenRequest) (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return "at-" + strconv.Itoa(s.seq), time.Now().Add(5 * time.Minute), nil
}

// CreateAccessAndRefreshTokens issues a refresh token for the request; a
// refresh retires the token it was made with.
func (s *storage) CreateAccessAndRefreshTokens(_ context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := &refreshToken{subject: req.GetSubject(), scopes: req.GetScopes(), audience: req.GetAudience(), authTime: time.Now(), amr: []string{"pwd"}}
	switch r := req.(type) {
	case op.AuthRequest:
		rt.clientID, rt.amr, rt.authTime = r.GetClientID(), r.GetAMR(), r.GetAuthTime()
	case op.RefreshTokenRequest:
		rt.clientID, rt.amr, rt.authTime = r.GetClientID(), r.GetAMR(), r.GetAuthTime()
	case *op.DeviceAuthorizationState:
		rt.clientID = r.ClientID
	}
	if current != "" {
		if _, ok := s.refresh[current]; !ok {
			return "", "", time.Time{}, op.ErrInvalidRefreshToken
		}
		delete(s.refresh, current)
	}
	s.seq++
	value := "rt-" + strconv.Itoa(s.seq) + "-" + rand.Text()
	s.refresh[value] = rt
	return "at-" + strconv.Itoa(s.seq), value, time.Now().Add(5 * time.Minute), nil
}

func (s *storage) TokenRequestByRefreshToken(_ context.Context, value string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refresh[value]
	if !ok {
		return nil, op.ErrInvalidRefreshToken
	}
	cp := *rt
	return &cp, nil
}

// revokeRefreshTokens forgets every refresh token, as a provider does when
// an administrator ends a person's sessions.
func (s *storage) revokeRefreshTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.refresh)
}

// refreshTokens counts the live refresh tokens.
func (s *storage) refreshTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.refresh)
}

func (s *storage) TerminateSession(context.Context, string, string) error { return nil }

func (s *storage) RevokeToken(context.Context, string, string, string) *oidc.Error { return nil }

func (s *storage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) { return signingKey{s}, nil }

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) { return []op.Key{publicKey{s}}, nil }

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	if id != s.client.id {
		return nil, errors.New("client not found")
	}
	return s.client, nil
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	if id != s.client.id || secret != s.client.secret {
		return errors.New("invalid client")
	}
	return nil
}

// SetUserinfoFromScopes puts the user's names and groups into the ID
// token (the client asks for userinfo claims in it).
func (s *storage) SetUserinfoFromScopes(_ context.Context, info *oidc.UserInfo, subject, _ string, scopes []string) error {
	s.mu.Lock()
	u := s.user
	s.mu.Unlock()
	if subject != u.Subject {
		return errors.New("unknown user")
	}
	info.Subject = u.Subject
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeProfile:
			info.PreferredUsername, info.Name = u.Username, u.Name
		case "groups":
			info.AppendClaims("groups", u.Groups)
		}
	}
	return nil
}

func (s *storage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, _, subject, _ string) error {
	return s.SetUserinfoFromScopes(ctx, info, subject, "", []string{oidc.ScopeProfile, "groups"})
}

func (s *storage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errNotSupported
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errNotSupported
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errNotSupported
}

func (s *storage) Health(context.Context) error { return nil }

// client is the relying party registered at the provider.
type client struct {
	id, secret    string
	redirectURIs  []string
	loginURL      string
	idTokenExpiry func() time.Duration
}

func (c *client) GetID() string                       { return c.id }
func (c *client) RedirectURIs() []string              { return c.redirectURIs }
func (c *client) PostLogoutRedirectURIs() []string    { return nil }
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *client) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeDeviceCode, oidc.GrantTypeRefreshToken}
}
func (c *client) LoginURL(id string) string           { return c.loginURL + "?id=" + id }
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration      { return c.idTokenExpiry() }
func (c *client) DevMode() bool                       { return false }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) IsScopeAllowed(scope string) bool     { return scope == "groups" }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }

type device struct {
	userCode string
	state    op.DeviceAuthorizationState
}

func (s *storage) StoreDeviceAuthorization(_ context.Context, clientID, deviceCode, userCode string, expires time.Time, scopes []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.devices {
		if d.userCode == userCode {
			return op.ErrDuplicateUserCode
		}
	}
	s.devices[deviceCode] = &device{userCode: userCode, state: op.DeviceAuthorizationState{
		ClientID: clientID, Audience: []string{clientID}, Scopes: scopes, Expires: expires,
	}}
	return nil
}

func (s *storage) GetDeviceAuthorizatonState(_ context.Context, clientID, deviceCode string) (*op.DeviceAuthorizationState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[deviceCode]
	if !ok || d.state.ClientID != clientID {
		return nil, errors.New("device code not found")
	}
	st := d.state
	return &st, nil
}

// decideDevice approves or denies the device authorization of userCode as
// the configured user, as the provider's page would on the person's phone.
func (s *storage) decideDevice(userCode string, approve bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.devices {
		if d.userCode == userCode {
			if approve {
				d.state.Done, d.state.Subject, d.state.AMR, d.state.AuthTime = true, s.user.Subject, []string{"pwd"}, time.Now()
			} else {
				d.state.Denied = true
			}
			return nil
		}
	}
	return errors.New("user code not found")
}
