package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/proxy"
)

// maxBodyBytes bounds request bodies: every request here is a few fields.
const maxBodyBytes = 64 << 10

// Error codes of the API's JSON error bodies, in the same style as the rest
// of /v1 (and as Kubernetes Status reasons).
const (
	CodeBadRequest           = "BadRequest"
	CodeUnauthenticated      = "Unauthorized"
	CodeInvalidCredentials   = "InvalidCredentials"
	CodeUserDisabled         = "UserDisabled"
	CodeForbidden            = "Forbidden"
	CodeCrossSite            = "CrossSite"
	CodeCSRF                 = "CSRF"
	CodeNotFound             = "NotFound"
	CodeRequestTooLarge      = "TooLarge"
	CodeUnsupportedMediaType = "UnsupportedMediaType"
	CodeTooManyRequests      = "TooManyRequests"
	CodeWeakPassword         = "WeakPassword"
	CodeInternal             = "Internal"
)

// Register adds the API's routes to mux:
//
//	POST   /v1/login          {username, password} → {user, csrfToken, expiresAt} + session cookie
//	POST   /v1/logout         ends the cookie's session, clears the cookie
//	GET    /v1/me             {name, username, displayName, groups, globalRoles, csrfToken}
//	POST   /v1/me/password    {currentPassword, newPassword}
//	GET    /v1/tokens         own tokens; ?all=true every user's, for admins
//	POST   /v1/tokens         {description, ttlSeconds, kind} → 201 with the value, shown once
//	DELETE /v1/tokens/{id}    own token, or any for admins
//
// and the external login routes of registerExternal.
//
// Cookie-authenticated POST and DELETE need the X-CSRF-Token header and
// are refused when the browser marks them cross-site.
func (s *Service) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/login", s.handleLogin)
	mux.HandleFunc("POST /v1/logout", s.handleLogout)
	// The only routes open to a user who must choose a new password.
	mux.HandleFunc("GET /v1/me", s.authedPendingPassword(s.handleMe))
	mux.HandleFunc("POST /v1/me/password", s.authedPendingPassword(s.handleChangePassword))
	mux.HandleFunc("GET /v1/tokens", s.authed(s.handleListTokens))
	mux.HandleFunc("POST /v1/tokens", s.authed(s.handleCreateToken))
	mux.HandleFunc("DELETE /v1/tokens/{id}", s.authed(s.handleRevokeToken))
	s.registerExternal(mux)
}

type userView struct {
	Name        string `json:"name"`
	Username    string `json:"username,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type loginResponse struct {
	User      userView  `json:"user"`
	CSRFToken string    `json:"csrfToken"`
	ExpiresAt time.Time `json:"expiresAt"`
}

type meResponse struct {
	Name        string   `json:"name"`
	Username    string   `json:"username,omitempty"`
	DisplayName string   `json:"displayName,omitempty"`
	Groups      []string `json:"groups"`
	GlobalRoles []string `json:"globalRoles"`
	// CSRFToken is set for cookie sessions, so the UI can recover it
	// after a page reload.
	CSRFToken string `json:"csrfToken,omitempty"`
	// MustChangePassword is set when an administrator asked the user to
	// choose a new password (POST /v1/me/password) before going on.
	MustChangePassword bool `json:"mustChangePassword,omitempty"`
}

type passwordChangeRequest struct {
	CurrentPassword string `json:"currentPassword"`
	NewPassword     string `json:"newPassword"`
}

type tokenView struct {
	ID           string             `json:"id"`
	UserName     string             `json:"userName"`
	Kind         v1alpha1.TokenType `json:"kind"`
	Description  string             `json:"description,omitempty"`
	CreatedAt    time.Time          `json:"createdAt"`
	ExpiresAt    *time.Time         `json:"expiresAt,omitempty"`
	LastUsedTime *time.Time         `json:"lastUsedTime,omitempty"`
	Expired      bool               `json:"expired"`
	// Current marks the token that authenticated this request.
	Current bool `json:"current"`
}

type tokenListResponse struct {
	Items    []tokenView `json:"items"`
	Continue string      `json:"continue,omitempty"`
}

type createTokenRequest struct {
	Description string             `json:"description"`
	TTLSeconds  int64              `json:"ttlSeconds"`
	Kind        v1alpha1.TokenType `json:"kind"`
}

type createTokenResponse struct {
	tokenView
	// Token is the value; it is never shown again.
	Token string `json:"token"`
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (s *Service) handleLogin(w http.ResponseWriter, r *http.Request) {
	// Login CSRF: another site must not log a browser into the attacker's
	// account. A JSON body already needs a CORS preflight cross-site.
	if crossSite(r) {
		writeError(w, http.StatusForbidden, CodeCrossSite, "cross-site request refused")
		return
	}
	var req loginRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	sess, err := s.Login(r.Context(), req.Username, req.Password, s.clientIP(r))
	if err != nil {
		s.writeVerifyError(w, r, err, http.StatusUnauthorized)
		return
	}
	http.SetCookie(w, sessionCookie(sess.Token, sess.ExpiresAt, s.clock.Now()))
	writeJSON(w, http.StatusOK, loginResponse{
		User:      viewUser(sess.User),
		CSRFToken: sess.CSRFToken,
		ExpiresAt: sess.ExpiresAt.UTC(),
	})
}

// writeVerifyError answers a failed password check; wrongStatus is the
// status of a wrong password (401 at login, 403 when a logged-in user
// mistypes their current password, which must not look like a lost session).
func (s *Service) writeVerifyError(w http.ResponseWriter, r *http.Request, err error, wrongStatus int) {
	var throttled *ThrottledError
	switch {
	case errors.As(err, &throttled):
		w.Header().Set("Retry-After", strconv.Itoa(throttled.RetryAfterSeconds()))
		writeError(w, http.StatusTooManyRequests, CodeTooManyRequests, "too many failed attempts; try again later")
	case errors.Is(err, ErrInvalidCredentials):
		writeError(w, wrongStatus, CodeInvalidCredentials, "invalid username or password")
	case errors.Is(err, ErrUserDisabled):
		writeError(w, http.StatusForbidden, CodeUserDisabled, "this account is disabled")
	default:
		s.internalError(w, r, "verify password", err)
	}
}

func (s *Service) handleLogout(w http.ResponseWriter, r *http.Request) {
	p, err := s.authenticate(r)
	switch {
	case err == nil:
		if !s.browserRulesPass(w, r, p) {
			return
		}
		if p.token.Spec.Type == v1alpha1.TokenTypeSession {
			if err := s.RevokeToken(r.Context(), p.token.Name, p.user.Name); err != nil && !errors.Is(err, ErrTokenNotFound) {
				s.internalError(w, r, "logout", err)
				return
			}
		}
	case !errors.Is(err, proxy.ErrUnauthenticated):
		s.internalError(w, r, "logout", err)
		return
	}
	// Without a valid session there is nothing to end, but the browser
	// may still hold a stale cookie: clear it either way.
	http.SetCookie(w, clearedSessionCookie())
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) handleMe(w http.ResponseWriter, r *http.Request, p *principal) {
	roles, err := s.globalRolesOf(r.Context(), p.user.Name, p.groups)
	if err != nil {
		s.internalError(w, r, "read global roles", err)
		return
	}
	resp := meResponse{
		Name:        p.user.Name,
		Username:    p.user.Spec.Username,
		DisplayName: p.user.Spec.DisplayName,
		Groups:      nonNil(p.groups),
		GlobalRoles: nonNil(roles),
	}
	if p.method.Kind == proxy.AuthCookie {
		resp.CSRFToken = s.csrfToken(p.token.Name)
	}
	resp.MustChangePassword = mustChangePassword(p.user)
	writeJSON(w, http.StatusOK, resp)
}

func (s *Service) handleChangePassword(w http.ResponseWriter, r *http.Request, p *principal) {
	var req passwordChangeRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if p.user.Spec.Username == "" {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "this account has no local password")
		return
	}
	// The current password goes through the same back-off as a login, or
	// a stolen session would be an unthrottled password oracle.
	u, err := s.Verify(r.Context(), p.user.Spec.Username, req.CurrentPassword, s.clientIP(r))
	if err != nil {
		s.writeVerifyError(w, r, err, http.StatusForbidden)
		return
	}
	if u.Name != p.user.Name {
		writeError(w, http.StatusForbidden, CodeInvalidCredentials, "invalid username or password")
		return
	}
	keep := ""
	if p.token.Spec.Type == v1alpha1.TokenTypeSession {
		keep = p.token.Name
	}
	if err := s.setPassword(r.Context(), p.user.Name, req.NewPassword, keep); err != nil {
		if errors.Is(err, ErrWeakPassword) {
			writeError(w, http.StatusBadRequest, CodeWeakPassword, policyMessage(err))
			return
		}
		s.internalError(w, r, "change password", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// policyMessage is the part of a policy error after ErrWeakPassword's
// text: it names the rule broken and contains no password.
func policyMessage(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ErrWeakPassword.Error()); i >= 0 {
		return msg[i:]
	}
	return ErrWeakPassword.Error()
}

func (s *Service) handleListTokens(w http.ResponseWriter, r *http.Request, p *principal) {
	all := false
	switch v := r.URL.Query().Get("all"); v {
	case "", "false":
	case "true":
		all = true
	default:
		writeError(w, http.StatusBadRequest, CodeBadRequest, "all must be true or false")
		return
	}
	owner := p.user.Name
	if all {
		admin, err := s.IsAdmin(r.Context(), p.user.Name, p.groups)
		if err != nil {
			s.internalError(w, r, "check admin", err)
			return
		}
		if !admin {
			writeError(w, http.StatusForbidden, CodeForbidden, "only administrators may list every user's tokens")
			return
		}
		owner = ""
	}
	tokens, err := s.ListTokens(r.Context(), owner)
	if err != nil {
		s.internalError(w, r, "list tokens", err)
		return
	}
	// Pages are offsets into the list sorted by id, as in the rest of /v1.
	slices.SortFunc(tokens, func(x, y v1alpha1.Token) int { return strings.Compare(x.Name, y.Name) })
	start, end, next, ok := pageBounds(w, r, len(tokens))
	if !ok {
		return
	}
	now := s.clock.Now()
	resp := tokenListResponse{Items: make([]tokenView, 0, end-start), Continue: next}
	for i := start; i < end; i++ {
		resp.Items = append(resp.Items, viewToken(&tokens[i], p.token.Name, now))
	}
	writeJSON(w, http.StatusOK, resp)
}

// pageBounds reads ?limit= (1-1000, default 100) and ?continue= (the
// offset the previous page returned) like the rest of /v1.
func pageBounds(w http.ResponseWriter, r *http.Request, n int) (start, end int, next string, ok bool) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		l, err := strconv.Atoi(v)
		if err != nil || l < 1 || l > 1000 {
			writeError(w, http.StatusBadRequest, CodeBadRequest, "limit must be 1-1000")
			return 0, 0, "", false
		}
		limit = l
	}
	if v := r.URL.Query().Get("continue"); v != "" {
		o, err := strconv.Atoi(v)
		if err != nil || o < 0 || o > n {
			writeError(w, http.StatusBadRequest, CodeBadRequest, "invalid continue token")
			return 0, 0, "", false
		}
		start = o
	}
	end = min(start+limit, n)
	if end < n {
		next = strconv.Itoa(end)
	}
	return start, end, next, true
}

func (s *Service) handleCreateToken(w http.ResponseWriter, r *http.Request, p *principal) {
	var req createTokenRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	switch req.Kind {
	case "":
		req.Kind = v1alpha1.TokenTypeAPI
	case v1alpha1.TokenTypeAPI, v1alpha1.TokenTypeKubeconfig:
	default:
		writeError(w, http.StatusBadRequest, CodeBadRequest, "kind must be API or Kubeconfig")
		return
	}
	if req.TTLSeconds < 0 || req.TTLSeconds > int64(s.maxTokenTTL/time.Second) {
		writeError(w, http.StatusBadRequest, CodeBadRequest,
			fmt.Sprintf("ttlSeconds must be between 0 (the default, %d) and %d", int64(s.defaultTokenTTL/time.Second), int64(s.maxTokenTTL/time.Second)))
		return
	}
	value, tok, err := s.CreateToken(r.Context(), p.user.Name, TokenRequest{
		Type:        req.Kind,
		Description: req.Description,
		TTL:         time.Duration(req.TTLSeconds) * time.Second,
	})
	if err != nil {
		if errors.Is(err, ErrInvalidTokenRequest) {
			writeError(w, http.StatusBadRequest, CodeBadRequest, "description must be at most 256 printable characters")
			return
		}
		s.internalError(w, r, "create token", err)
		return
	}
	view := viewToken(tok, "", s.clock.Now())
	if view.CreatedAt.IsZero() {
		view.CreatedAt = s.clock.Now().UTC().Truncate(time.Second)
	}
	writeJSON(w, http.StatusCreated, createTokenResponse{tokenView: view, Token: value})
}

func (s *Service) handleRevokeToken(w http.ResponseWriter, r *http.Request, p *principal) {
	id := r.PathValue("id")
	admin, err := s.IsAdmin(r.Context(), p.user.Name, p.groups)
	if err != nil {
		s.internalError(w, r, "check admin", err)
		return
	}
	owner := p.user.Name
	if admin {
		owner = ""
	}
	if err := s.RevokeToken(r.Context(), id, owner); err != nil {
		if errors.Is(err, ErrTokenNotFound) {
			writeError(w, http.StatusNotFound, CodeNotFound, "token not found")
			return
		}
		s.internalError(w, r, "revoke token", err)
		return
	}
	if id == p.token.Name && p.method.Kind == proxy.AuthCookie {
		http.SetCookie(w, clearedSessionCookie())
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// authed authenticates the request and applies the browser rules before
// calling h.
func (s *Service) authed(h func(http.ResponseWriter, *http.Request, *principal)) http.HandlerFunc {
	return s.authedPendingPassword(func(w http.ResponseWriter, r *http.Request, p *principal) {
		if mustChangePassword(p.user) {
			writePasswordChangeRequired(w)
			return
		}
		h(w, r, p)
	})
}

// PasswordChangeRequiredMessage is the message of the 403 answered to a
// user who must choose a new password first.
const PasswordChangeRequiredMessage = "choose a new password first: POST /v1/me/password in the API, or log in to the web UI"

// writePasswordChangeRequired answers 403 with the /v1 error body plus
// top-level reason and message, the shape a Kubernetes Status has too.
func writePasswordChangeRequired(w http.ResponseWriter) {
	writeJSON(w, http.StatusForbidden, map[string]any{
		"reason":  proxy.ReasonPasswordChangeRequired,
		"message": PasswordChangeRequiredMessage,
		"error":   errorDetail{Code: proxy.ReasonPasswordChangeRequired, Message: PasswordChangeRequiredMessage},
	})
}

// authedPendingPassword authenticates like authed but lets a user who
// must change the password through.
func (s *Service) authedPendingPassword(h func(http.ResponseWriter, *http.Request, *principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err != nil {
			if !errors.Is(err, proxy.ErrUnauthenticated) {
				// A failing cache must not let anyone in, nor look like
				// the client's fault in the logs.
				s.log.WarnContext(r.Context(), "authentication failed", "error", err)
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="bokujo"`)
			writeError(w, http.StatusUnauthorized, CodeUnauthenticated, "authentication required")
			return
		}
		if !s.browserRulesPass(w, r, p) {
			return
		}
		h(w, r, p)
	}
}

// browserRulesPass holds cookie requests that change state to the CSRF
// rules, as the proxy does for /k8s/clusters: the browser must not call
// them cross-site, and they must carry the session's CSRF token, which a
// page of another site cannot read. A bearer token is never attached by a
// browser on its own, so it needs neither.
func (s *Service) browserRulesPass(w http.ResponseWriter, r *http.Request, p *principal) bool {
	if p.method.Kind != proxy.AuthCookie || safeMethod(r.Method) {
		return true
	}
	if crossSite(r) {
		writeError(w, http.StatusForbidden, CodeCrossSite, "cross-site request refused")
		return false
	}
	if !p.method.CSRFValid {
		writeError(w, http.StatusForbidden, CodeCSRF, "missing or invalid "+proxy.CSRFHeader+" header")
		return false
	}
	return true
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// crossSite reports a request the browser says another site started.
// "none" is a user-typed navigation and "same-origin" bokujo's own pages;
// "same-site" is refused too, since a sibling subdomain is another
// application.
func crossSite(r *http.Request) bool {
	v := r.Header.Get("Sec-Fetch-Site")
	return v != "" && v != "same-origin" && v != "none"
}

// decodeJSON reads a JSON object into v: application/json only, at most
// maxBodyBytes, no unknown fields, nothing after the object. On failure it
// answers the request and returns false. Messages never quote the body,
// which may hold a password.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "the body must be application/json")
		return false
	}
	body := http.MaxBytesReader(w, r.Body, maxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("data after the JSON object")
		}
	}
	if err == nil {
		return true
	}
	var tooLarge *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, CodeRequestTooLarge, fmt.Sprintf("the body exceeds %d bytes", maxBodyBytes))
	case errors.As(err, &typeErr):
		writeError(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("field %q has the wrong type", typeErr.Field))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		writeError(w, http.StatusBadRequest, CodeBadRequest, strings.TrimPrefix(err.Error(), "json: "))
	default:
		writeError(w, http.StatusBadRequest, CodeBadRequest, "the body is not a valid JSON object")
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"Internal","message":"internal error"}}`)
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	// Answers hold tokens and CSRF tokens: no cache may keep them.
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: message}})
}

// internalError logs err (whose text holds names, never credentials) and
// answers 500 without details.
func (s *Service) internalError(w http.ResponseWriter, r *http.Request, op string, err error) {
	s.log.ErrorContext(r.Context(), op, "error", err)
	writeError(w, http.StatusInternalServerError, CodeInternal, "internal error")
}

func viewUser(u *v1alpha1.User) userView {
	return userView{Name: u.Name, Username: u.Spec.Username, DisplayName: u.Spec.DisplayName}
}

func viewToken(t *v1alpha1.Token, current string, now time.Time) tokenView {
	v := tokenView{
		ID:          t.Name,
		UserName:    t.Spec.UserName,
		Kind:        t.Spec.Type,
		Description: t.Spec.Description,
		CreatedAt:   t.CreationTimestamp.UTC(),
		Current:     current != "" && t.Name == current,
	}
	if t.Spec.ExpiresAt != nil {
		e := t.Spec.ExpiresAt.UTC()
		v.ExpiresAt = &e
		v.Expired = !now.Before(e)
	}
	if t.Status.LastUsedTime != nil {
		l := t.Status.LastUsedTime.UTC()
		v.LastUsedTime = &l
	}
	return v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
