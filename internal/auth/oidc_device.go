package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// The device authorization flow (RFC 8628) for `bokujo login --sso` on a
// terminal without a browser: the server, which holds the client secret,
// asks the provider for a user code, the CLI shows it and polls the server,
// and the person approves on any other device. The ID token then comes
// straight from the provider's token endpoint to the server over TLS with
// client authentication, never through the CLI, so no nonce is needed.

// CodeAuthorizationPending: the person has not approved the device yet;
// poll again after the interval.
const CodeAuthorizationPending = "AuthorizationPending"

const grantTypeDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"

// maxOPResponseBytes bounds what is read of a provider's answer.
const maxOPResponseBytes = 1 << 20

type deviceStartResponse struct {
	UserCode                string    `json:"userCode"`
	VerificationURI         string    `json:"verificationURI"`
	VerificationURIComplete string    `json:"verificationURIComplete,omitempty"`
	DeviceCode              string    `json:"deviceCode"`
	Interval                int       `json:"interval"`
	ExpiresAt               time.Time `json:"expiresAt"`
}

type deviceTokenRequest struct {
	DeviceCode string `json:"deviceCode"`
}

type devicePendingResponse struct {
	Code     string `json:"code"`
	Interval int    `json:"interval"`
}

// registerDeviceFlow adds:
//
//	POST /v1/auth/{provider}/device        start: user code and verification URL
//	POST /v1/auth/{provider}/device/token  {deviceCode} → 202 pending, or as POST /v1/login
func (s *Service) registerDeviceFlow(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/auth/{provider}/device", s.handleDeviceStart)
	mux.HandleFunc("POST /v1/auth/{provider}/device/token", s.handleDeviceToken)
}

// postToOP sends form to a provider endpoint with the client's credentials
// and decodes the JSON answer into v. It returns the HTTP status.
func (c *oidcClient) postToOP(ctx context.Context, endpoint string, form url.Values, v any) (int, error) {
	if c.oauth.ClientSecret == "" {
		// A public client names itself in the form instead.
		form.Set("client_id", c.oauth.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if c.oauth.ClientSecret != "" {
		// RFC 6749 2.3.1: the credentials are form-encoded before Basic.
		req.SetBasicAuth(url.QueryEscape(c.oauth.ClientID), url.QueryEscape(c.oauth.ClientSecret))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post to %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxOPResponseBytes)).Decode(v); err != nil {
		return resp.StatusCode, fmt.Errorf("post to %s: status %s, unreadable answer", endpoint, resp.Status)
	}
	return resp.StatusCode, nil
}

func (s *Service) handleDeviceStart(w http.ResponseWriter, r *http.Request) {
	if crossSite(r) {
		writeError(w, http.StatusForbidden, CodeCrossSite, "cross-site request refused")
		return
	}
	name := r.PathValue("provider")
	p, err := s.provider(r.Context(), name, v1alpha1.AuthProviderOIDC)
	if err != nil {
		s.writeExternalLoginError(w, r, err)
		return
	}
	c, err := s.oidcClient(r.Context(), p, "", false)
	if err == nil && c.oauth.Endpoint.DeviceAuthURL == "" {
		err = fmt.Errorf("%w: the provider offers no device authorization endpoint", errProviderConfig)
	}
	if err != nil {
		s.writeExternalLoginError(w, r, fmt.Errorf("device start via %s: %w", name, err))
		return
	}
	var da struct {
		DeviceCode              string `json:"device_code"`
		UserCode                string `json:"user_code"`
		VerificationURI         string `json:"verification_uri"`
		VerificationURIComplete string `json:"verification_uri_complete"`
		ExpiresIn               int    `json:"expires_in"`
		Interval                int    `json:"interval"`
		Error                   string `json:"error"`
	}
	status, err := c.postToOP(r.Context(), c.oauth.Endpoint.DeviceAuthURL, url.Values{"scope": {strings.Join(c.oauth.Scopes, " ")}}, &da)
	if err == nil && (status != http.StatusOK || da.DeviceCode == "" || da.UserCode == "") {
		err = fmt.Errorf("device authorization refused: status %d, error %q", status, printable(da.Error, 64))
	}
	if err != nil {
		s.writeExternalLoginError(w, r, fmt.Errorf("device start via %s: %w", name, err))
		return
	}
	writeJSON(w, http.StatusOK, deviceStartResponse{
		UserCode: da.UserCode, VerificationURI: da.VerificationURI, VerificationURIComplete: da.VerificationURIComplete,
		DeviceCode: da.DeviceCode, Interval: max(da.Interval, 5),
		ExpiresAt: s.clock.Now().Add(time.Duration(da.ExpiresIn) * time.Second).UTC(),
	})
}

func (s *Service) handleDeviceToken(w http.ResponseWriter, r *http.Request) {
	if crossSite(r) {
		writeError(w, http.StatusForbidden, CodeCrossSite, "cross-site request refused")
		return
	}
	var req deviceTokenRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	sess, pending, err := s.loginDevice(r.Context(), r.PathValue("provider"), req.DeviceCode, s.clientIP(r))
	switch {
	case err != nil:
		s.writeExternalLoginError(w, r, err)
	case pending > 0:
		w.Header().Set("Retry-After", strconv.Itoa(pending))
		writeJSON(w, http.StatusAccepted, devicePendingResponse{Code: CodeAuthorizationPending, Interval: pending})
	default:
		s.writeSession(w, sess)
	}
}

// loginDevice polls the provider's token endpoint once for deviceCode. It
// returns the interval to wait when the person has not approved yet.
func (s *Service) loginDevice(ctx context.Context, provider, deviceCode, sourceIP string) (*Session, int, error) {
	akey := addressKey(sourceIP)
	if wait := s.ipLimiter.begin(akey); wait > 0 {
		return nil, 0, &ThrottledError{RetryAfter: wait}
	}
	failed := false
	defer func() { s.ipLimiter.end(akey, failed, false) }()
	p, err := s.provider(ctx, provider, v1alpha1.AuthProviderOIDC)
	if err != nil {
		return nil, 0, err
	}
	if deviceCode == "" || len(deviceCode) > 1024 {
		failed = true
		return nil, 0, fmt.Errorf("device login via %s: %w: no device code", provider, ErrInvalidCredentials)
	}
	c, err := s.oidcClient(ctx, p, "", false)
	if err != nil {
		return nil, 0, fmt.Errorf("device login via %s: %w", provider, err)
	}
	var tr struct {
		IDToken      string `json:"id_token"`
		RefreshToken string `json:"refresh_token"`
		Error        string `json:"error"`
	}
	status, err := c.postToOP(ctx, c.oauth.Endpoint.TokenURL, url.Values{"grant_type": {grantTypeDeviceCode}, "device_code": {deviceCode}}, &tr)
	if err != nil {
		return nil, 0, fmt.Errorf("device login via %s: %w", provider, err)
	}
	switch {
	case tr.Error == "authorization_pending":
		return nil, 5, nil
	case tr.Error == "slow_down":
		return nil, 10, nil
	case tr.Error != "" && status < 500:
		failed = true
		s.log.InfoContext(ctx, "login failed", "provider", provider, "source", sourceIP, "reason", "device code refused", "error", printable(tr.Error, 64))
		return nil, 0, ErrInvalidCredentials
	case status != http.StatusOK:
		return nil, 0, fmt.Errorf("device login via %s: token endpoint status %d", provider, status)
	}
	id, err := verifyIDTokenClaims(ctx, c.verifier, tr.IDToken, false, "", c.spec)
	if err != nil && !errors.Is(err, errIDToken) {
		return nil, 0, fmt.Errorf("device login via %s: %w", provider, err)
	}
	if err != nil {
		failed = true
		s.log.InfoContext(ctx, "login failed", "provider", provider, "source", sourceIP, "reason", err.Error())
		return nil, 0, ErrInvalidCredentials
	}
	id.Provider = provider
	id.grant = tr.RefreshToken
	sess, err := s.LoginExternal(ctx, *id, sourceIP)
	return sess, 0, err
}
