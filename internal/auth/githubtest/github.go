// Package githubtest is a local stand-in for GitHub (github.com or an
// Enterprise Server) over HTTPS, for tests that cannot reach the real one.
// It speaks only what bokujo's GitHub login uses, with GitHub's shapes:
//
//   - GET  /login/oauth/authorize: checks client_id and redirect_uri, then
//     redirects back at once with a single-use code and the state, as when
//     the configured user clicks "Authorize" (or with error=access_denied
//     after Deny).
//   - POST /login/oauth/access_token: checks client_id, client_secret, code
//     and redirect_uri; answers JSON when asked with Accept:
//     application/json, form-encoded otherwise, and refusals with status
//     200 and an "error" member (incorrect_client_credentials,
//     bad_verification_code, redirect_uri_mismatch), as GitHub does.
//   - GET /api/v3/user, /api/v3/user/orgs, /api/v3/user/teams: need the
//     issued token as "Bearer" or "token" (401 "Bad credentials"
//     otherwise); the lists are paginated with per_page (default 30, at
//     most 100) and page, and a Link header with next, prev, first, last.
//   - GET /api/v3/meta and /api/v3/: answered without a token.
//
// It has the layout of an Enterprise Server (web at the base URL, API under
// /api/v3 of the same host); github.com's separate API host is only
// checked in bokujo's unit tests. It does not implement scopes (every token
// reads everything), token expiry, rate limits, PKCE, OAuth
// apps' organization access restrictions, pending memberships, the device
// flow, or anything else of the API.
package githubtest

import (
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Team is a team membership of the user.
type Team struct {
	Org  string
	Slug string
	Name string
}

// User is who authorizes bokujo at the next login.
type User struct {
	ID    int64
	Login string
	Name  string
	Email string
	// Orgs are the logins of the user's organizations.
	Orgs  []string
	Teams []Team
}

// Options configure Start.
type Options struct {
	ClientID     string
	ClientSecret string
	// RedirectURIs are the callback URLs the OAuth app accepts; empty
	// accepts any.
	RedirectURIs []string
	User         User
	// PageSize, when set, caps every page at this many items whatever
	// per_page asks, to exercise pagination with few items.
	PageSize int
}

// Server is a running stand-in.
type Server struct {
	// URL is the base URL to configure as spec.github.baseURL.
	URL string
	// CAPEM is the certificate that signs the server's TLS certificate.
	CAPEM []byte

	opts Options
	srv  *httptest.Server

	mu     sync.Mutex
	user   User
	deny   bool
	codes  map[string]grant
	tokens map[string]User
	// issued are all tokens ever handed out, revoked ones included.
	issued   []string
	requests map[string]int
	scopes   []string
}

type grant struct {
	user        User
	redirectURI string
	expires     time.Time
}

// Start runs a stand-in until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{opts: opts, user: opts.User, codes: map[string]grant{}, tokens: map[string]User{}, requests: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", s.authorize)
	mux.HandleFunc("POST /login/oauth/access_token", s.accessToken)
	mux.HandleFunc("GET /api/v3/{$}", s.meta)
	mux.HandleFunc("GET /api/v3/meta", s.meta)
	mux.HandleFunc("GET /api/v3/user", s.api(func(u User) any {
		return map[string]any{"id": u.ID, "login": u.Login, "name": nullable(u.Name), "email": nullable(u.Email), "type": "User", "site_admin": false}
	}))
	mux.HandleFunc("GET /api/v3/user/orgs", s.api(func(u User) any {
		out := []map[string]any{}
		for _, o := range u.Orgs {
			out = append(out, map[string]any{"login": o, "id": orgID(o), "description": nil})
		}
		return out
	}))
	mux.HandleFunc("GET /api/v3/user/teams", s.api(func(u User) any {
		out := []map[string]any{}
		for _, t := range u.Teams {
			out = append(out, map[string]any{"slug": t.Slug, "name": t.Name, "id": orgID(t.Org + "/" + t.Slug),
				"organization": map[string]any{"login": t.Org, "id": orgID(t.Org)}})
		}
		return out
	}))
	s.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests[r.URL.Path]++
		s.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	s.URL = s.srv.URL
	s.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
	return s
}

// SetUser changes who authorizes at the next login; tokens already issued
// keep their user.
func (s *Server) SetUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user = u
}

// ChangeAccount changes the organizations, teams and names of the account
// u.ID as GitHub would: every token already issued to it sees the change.
func (s *Server) ChangeAccount(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for tok, cur := range s.tokens {
		if cur.ID == u.ID {
			s.tokens[tok] = u
		}
	}
	if s.user.ID == u.ID {
		s.user = u
	}
}

// RevokeTokens revokes every token issued so far, as a person does when
// they remove the OAuth app from their account.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// Deny makes the next authorizations end as a click on "Cancel" does.
func (s *Server) Deny(deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deny = deny
}

// Requests is how many requests reached path.
func (s *Server) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

// Scopes are the scope parameters of the authorizations so far.
func (s *Server) Scopes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.scopes)
}

// IssuedTokens are the access tokens handed out so far, revoked ones
// included, for tests that check none of them leaked.
func (s *Server) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.issued)
}

// IssueToken returns a token for u without a login, for tests of the API
// client alone.
func (s *Server) IssueToken(u User) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := "gho_" + rand.Text()
	s.tokens[tok] = u
	s.issued = append(s.issued, tok)
	return tok
}

func (s *Server) redirectAllowed(uri string) bool {
	return len(s.opts.RedirectURIs) == 0 || slices.Contains(s.opts.RedirectURIs, uri)
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != s.opts.ClientID {
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	redirect := q.Get("redirect_uri")
	if redirect == "" || !s.redirectAllowed(redirect) {
		// GitHub shows a page saying the redirect_uri is not associated
		// with the application; it does not redirect to it.
		http.Error(w, "The redirect_uri is not associated with this application.", http.StatusBadRequest)
		return
	}
	back, err := url.Parse(redirect)
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	out := url.Values{}
	if st := q.Get("state"); st != "" {
		out.Set("state", st)
	}
	s.mu.Lock()
	s.scopes = append(s.scopes, q.Get("scope"))
	if s.deny {
		out.Set("error", "access_denied")
		out.Set("error_description", "The user has denied your application access.")
	} else {
		code := strings.ToLower(rand.Text())[:20]
		s.codes[code] = grant{user: s.user, redirectURI: redirect, expires: time.Now().Add(10 * time.Minute)}
		out.Set("code", code)
	}
	s.mu.Unlock()
	back.RawQuery = out.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, secret = u, p
	}
	answer := func(v map[string]string) {
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_ = json.NewEncoder(w).Encode(v)
			return
		}
		f := url.Values{}
		for k, x := range v {
			f.Set(k, x)
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		_, _ = w.Write([]byte(f.Encode()))
	}
	refuse := func(code, desc string) {
		answer(map[string]string{"error": code, "error_description": desc, "error_uri": "https://docs.github.com/apps/troubleshooting-oauth-app-access-token-request-errors/"})
	}
	if id != s.opts.ClientID || secret == "" || secret != s.opts.ClientSecret {
		refuse("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.")
		return
	}
	code := r.PostForm.Get("code")
	s.mu.Lock()
	g, ok := s.codes[code]
	delete(s.codes, code) // single use, whatever follows
	s.mu.Unlock()
	if !ok || time.Now().After(g.expires) {
		refuse("bad_verification_code", "The code passed is incorrect or expired.")
		return
	}
	if ru := r.PostForm.Get("redirect_uri"); ru != "" && ru != g.redirectURI {
		refuse("redirect_uri_mismatch", "The redirect_uri MUST match the registered callback URL for this application.")
		return
	}
	answer(map[string]string{"access_token": s.IssueToken(g.user), "token_type": "bearer", "scope": "read:org"})
}

func (s *Server) meta(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"verifiable_password_authentication": false})
}

// api serves one REST endpoint to the holder of an issued token; a list
// answer is paginated.
func (s *Server) api(body func(User) any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok {
			tok, ok = strings.CutPrefix(auth, "token ")
		}
		s.mu.Lock()
		u, known := s.tokens[tok]
		s.mu.Unlock()
		if !ok || !known {
			msg := "Bad credentials"
			if auth == "" {
				msg = "Requires authentication"
			}
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": msg, "documentation_url": "https://docs.github.com/rest"})
			return
		}
		v := body(u)
		list, isList := v.([]map[string]any)
		if !isList {
			writeJSON(w, http.StatusOK, v)
			return
		}
		per := 30
		if n, err := strconv.Atoi(r.URL.Query().Get("per_page")); err == nil && n > 0 {
			per = min(n, 100)
		}
		if s.opts.PageSize > 0 {
			per = min(per, s.opts.PageSize)
		}
		page := 1
		if n, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && n > 0 {
			page = n
		}
		last := max(1, (len(list)+per-1)/per)
		link := func(p int, rel string) string {
			q := r.URL.Query()
			q.Set("per_page", strconv.Itoa(per))
			q.Set("page", strconv.Itoa(p))
			return fmt.Sprintf(`<%s%s?%s>; rel="%s"`, s.URL, r.URL.Path, q.Encode(), rel)
		}
		var links []string
		if page < last {
			links = append(links, link(page+1, "next"), link(last, "last"))
		}
		if page > 1 {
			links = append(links, link(page-1, "prev"), link(1, "first"))
		}
		if len(links) > 0 {
			w.Header().Set("Link", strings.Join(links, ", "))
		}
		lo, hi := min((page-1)*per, len(list)), min(page*per, len(list))
		writeJSON(w, http.StatusOK, list[lo:hi])
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// orgID is a stable made-up numeric id for a name.
func orgID(name string) int64 {
	var h int64 = 1469598103
	for _, c := range name {
		h = (h*16777619 + int64(c)) % 1_000_000_007
	}
	return h
}
