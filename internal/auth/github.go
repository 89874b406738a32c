package auth

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// ErrNotAllowed: the provider vouched for the person, but the provider's
// settings do not admit them (a GitHub account in none of the allowed
// organizations).
var ErrNotAllowed = errors.New("not a member of an allowed organization")

const (
	// githubScope lets bokujo read the user's organization and team
	// memberships, private ones included; it grants no write access.
	githubScope = "read:org"
	// githubPerPage is the largest page GitHub serves.
	githubPerPage = 100
	// githubMaxPages bounds one listing: 50 pages are 5,000 organizations
	// or teams, ten times what a user's groups are cut to.
	githubMaxPages = 50
	// githubMaxBody bounds one answer of GitHub's.
	githubMaxBody = 4 << 20
)

// SetGitHubRootCAs sets the CAs trusted for GitHub servers whose settings
// name no caData of their own; nil means the system's roots.
func (s *Service) SetGitHubRootCAs(pool *x509.CertPool) {
	if old := s.githubHTTP.Swap(githubHTTPClient(pool)); old != nil {
		old.CloseIdleConnections()
	}
}

// githubHTTPClientOf returns the client every GitHub provider shares, so
// that logins reuse connections instead of each leaving a transport's idle
// connections behind.
func (s *Service) githubHTTPClientOf() *http.Client {
	if c := s.githubHTTP.Load(); c != nil {
		return c
	}
	s.githubHTTP.CompareAndSwap(nil, githubHTTPClient(nil))
	return s.githubHTTP.Load()
}

// githubHTTPClientFor returns the shared client for one CA bundle.
func (s *Service) githubHTTPClientFor(caPEM string) (*http.Client, error) {
	s.githubCAMu.Lock()
	defer s.githubCAMu.Unlock()
	if c, ok := s.githubCAClients[caPEM]; ok {
		return c, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(caPEM)) {
		return nil, fmt.Errorf("%w: github caData holds no PEM certificate", errProviderConfig)
	}
	if s.githubCAClients == nil {
		s.githubCAClients = map[string]*http.Client{}
	}
	c := githubHTTPClient(pool)
	s.githubCAClients[caPEM] = c
	return c, nil
}

// githubURLs are the two addresses of a GitHub: the web site, where people
// authorize and codes are exchanged, and the REST API.
type githubURLs struct {
	Web string
	API string
}

// githubEndpoints maps spec.github.baseURL to its web and API addresses:
// empty (or github.com itself) is github.com, whose API has a host of its
// own; an Enterprise Server serves its API under /api/v3 of its host.
func githubEndpoints(baseURL string) (githubURLs, error) {
	if baseURL == "" {
		return githubURLs{Web: "https://github.com", API: "https://api.github.com"}, nil
	}
	u, err := url.Parse(baseURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return githubURLs{}, fmt.Errorf("%w: github baseURL %q is not an https URL of a host", errProviderConfig, baseURL)
	}
	switch strings.ToLower(u.Hostname()) {
	case "github.com", "www.github.com", "api.github.com":
		return githubURLs{Web: "https://github.com", API: "https://api.github.com"}, nil
	}
	web := "https://" + u.Host + strings.TrimRight(u.EscapedPath(), "/")
	return githubURLs{Web: web, API: web + "/api/v3"}, nil
}

// githubClient is one GitHub provider's settings, ready to use.
type githubClient struct {
	spec   *v1alpha1.GitHubProviderSpec
	urls   githubURLs
	http   *http.Client
	secret string
}

func (s *Service) githubClient(ctx context.Context, p *v1alpha1.AuthProvider, withSecret bool) (*githubClient, error) {
	spec := p.Spec.GitHub
	if spec == nil {
		return nil, fmt.Errorf("%w: no github settings", errProviderConfig)
	}
	urls, err := githubEndpoints(spec.BaseURL)
	if err != nil {
		return nil, err
	}
	c := &githubClient{spec: spec, urls: urls, http: s.githubHTTPClientOf()}
	if spec.CAData != "" {
		// An Enterprise Server behind a private CA: a client of its own,
		// cached per CA bundle so logins still reuse connections.
		if c.http, err = s.githubHTTPClientFor(spec.CAData); err != nil {
			return nil, err
		}
	}
	if withSecret {
		if c.secret, err = s.secretValue(ctx, spec.ClientSecretRef, v1alpha1.ClientSecretSecretKey); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func githubHTTPClient(roots *x509.CertPool) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	// No answer bokujo asks for redirects; following one would carry the
	// client secret or the user's token to wherever it points.
	return &http.Client{Transport: tr, Timeout: oidcHTTPTimeout, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// startGitHub sends the browser to GitHub's authorization page. GitHub's
// OAuth apps have no nonce and bokujo does not rely on PKCE there (older
// Enterprise Servers ignore it); the state, bound to this browser by the
// flow cookie, is what stops a forged callback.
func (s *Service) startGitHub(w http.ResponseWriter, r *http.Request, p *v1alpha1.AuthProvider) {
	c, err := s.githubClient(r.Context(), p, false)
	if err != nil {
		s.writeExternalLoginError(w, r, fmt.Errorf("github start via %s: %w", p.Name, err))
		return
	}
	flow := oidcFlow{Provider: p.Name, Type: v1alpha1.AuthProviderGitHub, State: rand.Text(), Expires: s.clock.Now().Add(oidcFlowTTL).Unix()}
	q := url.Values{
		"client_id":    {c.spec.ClientID},
		"redirect_uri": {callbackURL(r, p.Name)},
		"scope":        {githubScope},
		"state":        {flow.State},
		// Offer only an account already signed in or signing in, never
		// GitHub's sign-up page in the middle of a login.
		"allow_signup": {"false"},
	}
	http.SetCookie(w, s.flowCookie(flow))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, c.urls.Web+"/login/oauth/authorize?"+q.Encode(), http.StatusFound)
}

// errGitHubCode: GitHub refused the code (unknown, used or expired) — the
// request's fault, counted like a wrong password.
var errGitHubCode = errors.New("github refused the code")

// errGitHubUnauthorized: the API refused the access token (revoked or
// expired).
var errGitHubUnauthorized = errors.New("github refused the access token")

// loginGitHub exchanges code for a token, reads the account and its
// memberships, checks the organization allow-list and opens a session.
// The token is used for these reads only and then dropped.
func (s *Service) loginGitHub(ctx context.Context, provider, code, redirectURL, sourceIP string) (*Session, error) {
	akey := addressKey(sourceIP)
	if wait := s.ipLimiter.begin(akey); wait > 0 {
		return nil, &ThrottledError{RetryAfter: wait}
	}
	failed := false
	defer func() { s.ipLimiter.end(akey, failed, false) }()
	p, err := s.provider(ctx, provider, v1alpha1.AuthProviderGitHub)
	if err != nil {
		return nil, err
	}
	c, err := s.githubClient(ctx, p, true)
	if err != nil {
		return nil, fmt.Errorf("github login via %s: %w", provider, err)
	}
	if code == "" {
		failed = true
		return nil, fmt.Errorf("github login via %s: %w: no code", provider, ErrInvalidCredentials)
	}
	token, err := c.exchange(ctx, code, redirectURL)
	if errors.Is(err, errGitHubCode) {
		failed = true
		s.log.InfoContext(ctx, "login failed", "provider", provider, "source", sourceIP, "reason", err.Error())
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, fmt.Errorf("github login via %s: %w", provider, err)
	}
	acct, err := c.account(ctx, token)
	if err != nil {
		return nil, fmt.Errorf("github login via %s: %w", provider, err)
	}
	id, err := acct.identity(c.spec)
	if errors.Is(err, ErrNotAllowed) {
		s.log.InfoContext(ctx, "login refused", "provider", provider, "source", sourceIP, "subject", acct.User.ID, "reason", "in none of the allowed organizations")
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("github login via %s: %w", provider, err)
	}
	id.Provider = provider
	id.grant = token
	return s.LoginExternal(ctx, *id, sourceIP)
}

// exchange trades code for an access token at <web>/login/oauth/access_token.
// GitHub answers refusals with status 200 and an "error" member, so the
// body decides; only that error code is ever logged, never the body.
func (c *githubClient) exchange(ctx context.Context, code, redirectURL string) (string, error) {
	form := url.Values{"client_id": {c.spec.ClientID}, "client_secret": {c.secret}, "code": {code}, "redirect_uri": {redirectURL}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.urls.Web+"/login/oauth/access_token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("exchange code: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// Without it GitHub answers form-encoded.
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("exchange code: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		Error       string `json:"error"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("exchange code: status %s", resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, githubMaxBody)).Decode(&body); err != nil {
		return "", fmt.Errorf("exchange code: unreadable answer (%s)", resp.Header.Get("Content-Type"))
	}
	switch body.Error {
	case "":
	case "bad_verification_code":
		return "", fmt.Errorf("%w: %s", errGitHubCode, body.Error)
	case "incorrect_client_credentials":
		return "", fmt.Errorf("exchange code: %w: github refused the client id or client secret (%s)", errProviderConfig, body.Error)
	case "redirect_uri_mismatch":
		return "", fmt.Errorf("exchange code: %w: the OAuth app's callback URL does not cover %s (%s)", errProviderConfig, redirectURL, body.Error)
	default:
		return "", fmt.Errorf("exchange code: github refused: %s", printable(body.Error, 64))
	}
	if body.AccessToken == "" || !strings.EqualFold(body.TokenType, "bearer") {
		return "", fmt.Errorf("exchange code: the answer holds no bearer token")
	}
	return body.AccessToken, nil
}

type githubUser struct {
	ID    int64  `json:"id"`
	Login string `json:"login"`
	Name  string `json:"name"`
}

type githubOrg struct {
	Login string `json:"login"`
}

type githubTeam struct {
	Slug         string    `json:"slug"`
	Organization githubOrg `json:"organization"`
}

// githubAccount is what GitHub said of the person at this login.
type githubAccount struct {
	User  githubUser
	Orgs  []githubOrg
	Teams []githubTeam
}

// account reads the user, their organizations and, when teams are groups,
// their teams.
func (c *githubClient) account(ctx context.Context, token string) (*githubAccount, error) {
	var a githubAccount
	if _, err := c.get(ctx, token, c.urls.API+"/user", &a.User); err != nil {
		return nil, err
	}
	if a.User.ID <= 0 {
		return nil, errors.New("read /user: no account id")
	}
	if err := githubList(ctx, c, token, "/user/orgs", &a.Orgs); err != nil {
		return nil, err
	}
	if c.spec.TeamsAsGroups {
		if err := githubList(ctx, c, token, "/user/teams", &a.Teams); err != nil {
			return nil, err
		}
	}
	return &a, nil
}

// identity applies the allow-list and builds the groups: "<org>" for each
// organization and, with teamsAsGroups, "<org>/<team-slug>" for each team.
// With an allow-list, only the allowed organizations give groups: anyone
// can create a GitHub organization of an unclaimed name, and the list is
// where the administrator says which ones speak for the company.
func (a *githubAccount) identity(spec *v1alpha1.GitHubProviderSpec) (*ExternalIdentity, error) {
	allowed := func(org string) bool {
		if len(spec.AllowedOrganizations) == 0 {
			return true
		}
		for _, o := range spec.AllowedOrganizations {
			// GitHub's logins are case-insensitive.
			if strings.EqualFold(o, org) {
				return true
			}
		}
		return false
	}
	var groups []string
	member := false
	for _, o := range a.Orgs {
		if o.Login != "" && allowed(o.Login) {
			member = true
			groups = append(groups, o.Login)
		}
	}
	if len(spec.AllowedOrganizations) > 0 && !member {
		return nil, ErrNotAllowed
	}
	for _, t := range a.Teams {
		if t.Slug != "" && t.Organization.Login != "" && allowed(t.Organization.Login) {
			groups = append(groups, t.Organization.Login+"/"+t.Slug)
		}
	}
	display := a.User.Name
	if display == "" {
		display = a.User.Login
	}
	return &ExternalIdentity{
		Subject:     strconv.FormatInt(a.User.ID, 10),
		Username:    a.User.Login,
		DisplayName: display,
		Groups:      prefixGroups(spec.GroupPrefix, groups),
	}, nil
}

// githubList reads every page of the listing at path, following the Link
// header's "next" as long as it stays on the API's own host.
func githubList[T any](ctx context.Context, c *githubClient, token, path string, out *[]T) error {
	next := c.urls.API + path + "?per_page=" + strconv.Itoa(githubPerPage)
	api, _ := url.Parse(c.urls.API)
	for page := 0; next != ""; page++ {
		if page == githubMaxPages {
			return fmt.Errorf("read %s: more than %d pages", path, githubMaxPages)
		}
		var items []T
		h, err := c.get(ctx, token, next, &items)
		if err != nil {
			return err
		}
		*out = append(*out, items...)
		next = linkNext(h.Get("Link"))
		if next != "" {
			u, err := url.Parse(next)
			if err != nil || u.Scheme != api.Scheme || u.Host != api.Host || !strings.HasPrefix(u.Path, api.Path+"/") {
				// The token goes with every page: never elsewhere.
				return fmt.Errorf("read %s: the next page is outside the API", path)
			}
		}
	}
	return nil
}

// linkNext returns the rel="next" target of an RFC 8288 Link header.
func linkNext(h string) string {
	for _, part := range strings.Split(h, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "rel") && strings.Contains(" "+strings.Trim(v, `"`)+" ", " next ") {
				return target[1 : len(target)-1]
			}
		}
	}
	return ""
}

// get reads one JSON answer of the API into out. Errors name the path and
// status, never the token or the body.
func (c *githubClient) get(ctx context.Context, token, u string, out any) (http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("read github api: %w", err)
	}
	path := req.URL.Path
	req.Header.Set("Accept", "application/vnd.github+json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		return nil, fmt.Errorf("read %s: %w", path, errGitHubUnauthorized)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read %s: status %s", path, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, githubMaxBody)).Decode(out); err != nil {
		return nil, fmt.Errorf("read %s: unreadable answer: %w", path, err)
	}
	return resp.Header, nil
}

// testGitHub checks that the client secret's Secret is readable and that
// the API answers at <api>/meta, which needs no token on github.com and on
// Enterprise Servers alike.
func (s *Service) testGitHub(ctx context.Context, ap *v1alpha1.AuthProvider) error {
	c, err := s.githubClient(ctx, ap, true)
	if err != nil {
		return &testError{reason: v1alpha1.AuthProviderReasonInvalidConfig, err: err}
	}
	var meta map[string]any
	if _, err := c.get(ctx, "", c.urls.API+"/meta", &meta); err != nil {
		reason := discoveryReason(err)
		if reason == v1alpha1.AuthProviderReasonDiscoveryFailed {
			err = fmt.Errorf("%w (is %s a GitHub API?)", err, c.urls.API)
		}
		return &testError{reason: reason, err: err}
	}
	return nil
}
