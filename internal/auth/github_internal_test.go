package auth

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/auth/githubtest"
)

func TestGitHubEndpoints(t *testing.T) {
	for _, tc := range []struct {
		base, web, api, err string
	}{
		{"", "https://github.com", "https://api.github.com", ""},
		{"https://github.com", "https://github.com", "https://api.github.com", ""},
		{"https://github.com/", "https://github.com", "https://api.github.com", ""},
		{"https://GitHub.com", "https://github.com", "https://api.github.com", ""},
		{"https://ghe.example.com", "https://ghe.example.com", "https://ghe.example.com/api/v3", ""},
		{"https://ghe.example.com/", "https://ghe.example.com", "https://ghe.example.com/api/v3", ""},
		{"https://ghe.example.com:8443", "https://ghe.example.com:8443", "https://ghe.example.com:8443/api/v3", ""},
		{"http://ghe.example.com", "", "", "not an https URL"},
		{"https://ghe.example.com/?x=1", "", "", "not an https URL"},
		{"https://user:pw@ghe.example.com", "", "", "not an https URL"},
		{"ghe.example.com", "", "", "not an https URL"},
	} {
		got, err := githubEndpoints(tc.base)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, errProviderConfig) {
				t.Errorf("githubEndpoints(%q) = %+v, %v; want an error containing %q", tc.base, got, err, tc.err)
			}
		case err != nil || got.Web != tc.web || got.API != tc.api:
			t.Errorf("githubEndpoints(%q) = %+v, %v; want web %s, api %s", tc.base, got, err, tc.web, tc.api)
		}
	}
}

func TestLinkNext(t *testing.T) {
	for h, want := range map[string]string{
		``: "",
		`<https://api.github.com/user/orgs?page=2>; rel="next", <https://api.github.com/user/orgs?page=5>; rel="last"`: "https://api.github.com/user/orgs?page=2",
		`<https://x/a?page=1>; rel="prev", <https://x/a?page=3>; rel="next"`:                                           "https://x/a?page=3",
		`<https://x/a?page=1>; rel="first"`:                                                                            "",
		`<https://x/a?page=4>; rel="last next"`:                                                                        "https://x/a?page=4",
		`https://x/a; rel="next"`:                                                                                      "",
	} {
		if got := linkNext(h); got != want {
			t.Errorf("linkNext(%q) = %q, want %q", h, got, want)
		}
	}
}

// TestGitHubAccountPaginated reads 7 organizations and 5 teams in pages of
// 2 from the stand-in: every page is followed, none is read twice.
func TestGitHubAccountPaginated(t *testing.T) {
	user := githubtest.User{ID: 9001, Login: "octo", Name: "Octo Cat"}
	for i := range 7 {
		user.Orgs = append(user.Orgs, fmt.Sprintf("org-%d", i))
	}
	for i := range 5 {
		user.Teams = append(user.Teams, githubtest.Team{Org: "org-1", Slug: fmt.Sprintf("team-%d", i), Name: fmt.Sprintf("Team %d", i)})
	}
	gh := githubtest.Start(t, githubtest.Options{ClientID: "id", ClientSecret: "secret", User: user, PageSize: 2})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(gh.CAPEM)
	urls, err := githubEndpoints(gh.URL)
	if err != nil {
		t.Fatal(err)
	}
	spec := &v1alpha1.GitHubProviderSpec{BaseURL: gh.URL, ClientID: "id", TeamsAsGroups: true, GroupPrefix: "github:"}
	c := &githubClient{spec: spec, urls: urls, http: githubHTTPClient(pool)}
	acct, err := c.account(context.Background(), gh.IssueToken(user))
	if err != nil {
		t.Fatal(err)
	}
	if len(acct.Orgs) != 7 || len(acct.Teams) != 5 || acct.User.ID != 9001 {
		t.Fatalf("account = %+v", acct)
	}
	if got := gh.Requests("/api/v3/user/orgs"); got != 4 {
		t.Errorf("%d requests for 7 organizations in pages of 2, want 4", got)
	}
	if got := gh.Requests("/api/v3/user/teams"); got != 3 {
		t.Errorf("%d requests for 5 teams in pages of 2, want 3", got)
	}
	id, err := acct.identity(spec)
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject != "9001" || id.Username != "octo" || id.DisplayName != "Octo Cat" || len(id.Groups) != 12 ||
		!slices.Contains(id.Groups, "github:org-6") || !slices.Contains(id.Groups, "github:org-1/team-4") {
		t.Errorf("identity = %+v", id)
	}

	t.Run("a wrong token is refused", func(t *testing.T) {
		if _, err := c.account(context.Background(), "gho_invented"); !errors.Is(err, errGitHubUnauthorized) || strings.Contains(err.Error(), "gho_invented") {
			t.Errorf("account with an invented token: %v", err)
		}
	})
	t.Run("a next page on another host is not followed", func(t *testing.T) {
		// The API is reached as example.com (the stand-in's certificate
		// names it), while its Link headers name 127.0.0.1.
		addr := strings.TrimPrefix(gh.URL, "https://")
		_, port, _ := net.SplitHostPort(addr)
		hc := githubHTTPClient(pool)
		hc.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
		other := *c
		other.http = hc
		other.urls.API = "https://example.com:" + port + "/api/v3"
		var orgs []githubOrg
		err := githubList(context.Background(), &other, gh.IssueToken(user), "/user/orgs", &orgs)
		if err == nil || !strings.Contains(err.Error(), "outside the API") {
			t.Errorf("followed a Link to another host: %v", err)
		}
	})
}

func TestGitHubIdentityAllowList(t *testing.T) {
	acct := &githubAccount{
		User:  githubUser{ID: 42, Login: "mona"},
		Orgs:  []githubOrg{{Login: "Acme"}, {Login: "hobby"}},
		Teams: []githubTeam{{Slug: "sre", Organization: githubOrg{Login: "Acme"}}, {Slug: "band", Organization: githubOrg{Login: "hobby"}}},
	}
	id, err := acct.identity(&v1alpha1.GitHubProviderSpec{AllowedOrganizations: []string{"acme"}, GroupPrefix: "github:"})
	if err != nil || !slices.Equal(id.Groups, []string{"github:Acme", "github:Acme/sre"}) || id.DisplayName != "mona" {
		t.Errorf("allowed: %+v, %v", id, err)
	}
	id, err = acct.identity(&v1alpha1.GitHubProviderSpec{GroupPrefix: "github:"})
	if err != nil || len(id.Groups) != 4 {
		t.Errorf("no allow-list: %+v, %v", id, err)
	}
	if _, err := acct.identity(&v1alpha1.GitHubProviderSpec{AllowedOrganizations: []string{"other"}}); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("outside the allowed organizations: %v", err)
	}
}

// walkToCode authorizes at the stand-in as a browser would and returns the
// code its redirect carries.
func walkToCode(t *testing.T, hc *http.Client, gh *githubtest.Server, redirect string) string {
	t.Helper()
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(gh.URL + "/login/oauth/authorize?client_id=id&scope=read:org&state=s1&redirect_uri=" + redirect)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != "s1" {
		t.Fatalf("authorize: %d %v %v", resp.StatusCode, loc, err)
	}
	return loc.Query().Get("code")
}

// TestGitHubExchange: GitHub answers refusals with status 200 and an error
// member; each is told apart, and none repeats the code or the secret.
func TestGitHubExchange(t *testing.T) {
	const redirect = "https://bokujo.example/v1/auth/gh/callback"
	gh := githubtest.Start(t, githubtest.Options{ClientID: "id", ClientSecret: "the-secret", RedirectURIs: []string{redirect}, User: githubtest.User{ID: 1, Login: "a"}})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(gh.CAPEM)
	urls, _ := githubEndpoints(gh.URL)
	c := &githubClient{spec: &v1alpha1.GitHubProviderSpec{ClientID: "id"}, urls: urls, http: githubHTTPClient(pool), secret: "the-secret"}
	ctx := context.Background()

	code := walkToCode(t, c.http, gh, redirect)
	tok, err := c.exchange(ctx, code, redirect)
	if err != nil || !strings.HasPrefix(tok, "gho_") {
		t.Fatalf("exchange = %q, %v", tok, err)
	}
	t.Run("a used code", func(t *testing.T) {
		if _, err := c.exchange(ctx, code, redirect); !errors.Is(err, errGitHubCode) || strings.Contains(err.Error(), code) {
			t.Errorf("second exchange: %v", err)
		}
	})
	t.Run("a wrong client secret", func(t *testing.T) {
		bad := *c
		bad.secret = "wrong-secret"
		_, err := bad.exchange(ctx, walkToCode(t, c.http, gh, redirect), redirect)
		if !errors.Is(err, errProviderConfig) || !strings.Contains(err.Error(), "client secret") || strings.Contains(err.Error(), "wrong-secret") {
			t.Errorf("exchange with a wrong secret: %v", err)
		}
	})
	t.Run("another redirect URI", func(t *testing.T) {
		_, err := c.exchange(ctx, walkToCode(t, c.http, gh, redirect), "https://elsewhere.example/cb")
		if !errors.Is(err, errProviderConfig) || !strings.Contains(err.Error(), "redirect_uri_mismatch") {
			t.Errorf("exchange with another redirect URI: %v", err)
		}
	})
}
