package extauth_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/auth/githubtest"
	"bokujo.io/bokujo/test/framework"
)

// githubBrowser is an ssoBrowser that trusts the GitHub stand-in.
func (s *server) githubBrowser(gh *githubtest.Server) *ssoBrowser {
	pool := s.ca.Clone()
	pool.AppendCertsFromPEM(gh.CAPEM)
	jar, _ := cookiejar.New(nil)
	b := &ssoBrowser{browser: &browser{s: s}}
	b.c = &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport: recordingTransport{b: b, next: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
	return b
}

var (
	octo = githubtest.User{ID: 5831001, Login: "octo", Name: "Octo Example", Email: "octo@example.com",
		Orgs:  []string{"acme", "hobby-club"},
		Teams: []githubtest.Team{{Org: "acme", Slug: "platform", Name: "Platform"}, {Org: "hobby-club", Slug: "band", Name: "Band"}}}
	mallory = githubtest.User{ID: 5831002, Login: "mallory", Name: "Mallory", Orgs: []string{"elsewhere"},
		Teams: []githubtest.Team{{Org: "elsewhere", Slug: "platform", Name: "Platform"}}}
)

// TestGitHubTeamGrantsClusterAccess: an administrator binds the GitHub
// team "github:acme/platform" to the cluster ghdev before anyone logs in;
// octo logs in through the GitHub stand-in (an Enterprise Server's
// layout), gets a session, a kubeconfig, and reads ghdev through the proxy
// with rights that come from the team binding only.
func TestGitHubTeamGrantsClusterAccess(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	if err := s.app.Registry.ImportConfig(ctx, "ghdev", "", env.Cluster(t, "prod").RESTConfig()); err != nil {
		t.Fatalf("import ghdev: %v", err)
	}
	const clientSecret = "github-client-secret-9c1d"
	gh := githubtest.Start(t, githubtest.Options{
		ClientID: "Iv1.bokujo", ClientSecret: clientSecret,
		RedirectURIs: []string{s.url + "/v1/auth/corp-github/callback"},
		User:         octo,
		// One item a page: the organizations and teams come in pages.
		PageSize: 1,
	})
	c := s.app.Client
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "corp-github-client", Namespace: mgmtv1.SystemNamespace},
		Data: map[string][]byte{mgmtv1.ClientSecretSecretKey: []byte(clientSecret)}}
	ap := &mgmtv1.AuthProvider{ObjectMeta: metav1.ObjectMeta{Name: "corp-github"}, Spec: mgmtv1.AuthProviderSpec{
		Type: mgmtv1.AuthProviderGitHub, DisplayName: "GitHub",
		GitHub: &mgmtv1.GitHubProviderSpec{
			BaseURL: gh.URL, ClientID: "Iv1.bokujo", ClientSecretRef: mgmtv1.SecretReference{Name: sec.Name},
			AllowedOrganizations: []string{"acme"}, TeamsAsGroups: true, GroupPrefix: "github:",
			// The stand-in's certificate, as an Enterprise Server's private
			// CA is given.
			CAData: string(gh.CAPEM),
		},
	}}
	crtb := &mgmtv1.ClusterRoleTemplateBinding{ObjectMeta: metav1.ObjectMeta{Name: "github-platform-ghdev"}, Spec: mgmtv1.ClusterRoleTemplateBindingSpec{
		ClusterName: "ghdev", RoleTemplateName: "cluster-viewer", Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindGroup, Name: "github:acme/platform"}}}
	s.create(t, sec, ap, crtb)

	b := s.githubBrowser(gh)
	framework.Eventually(t, framework.Medium, func() error {
		// The first attempts may come before the server's cache has the
		// provider; a 404 then is expected.
		b.do(t, "GET", "/v1/auth/corp-github/start", nil)
		if code, body := b.do(t, "GET", "/v1/me", nil); code != http.StatusOK {
			return fmt.Errorf("me after the login: %d %s", code, body)
		}
		return nil
	})
	authorize, callback := b.find("/login/oauth/authorize"), b.find("/v1/auth/corp-github/callback")
	if authorize == nil || callback == nil {
		t.Fatalf("the login did not pass through the provider: %v", b.visited)
	}

	t.Run("the authorization request", func(t *testing.T) {
		q := authorize.Query()
		if len(q.Get("state")) < 16 || q.Get("client_id") != "Iv1.bokujo" || q.Get("scope") != "read:org" ||
			q.Get("redirect_uri") != s.url+"/v1/auth/corp-github/callback" || q.Has("client_secret") {
			t.Errorf("authorize query %v", q)
		}
		if !strings.HasPrefix(authorize.String(), gh.URL+"/login/oauth/authorize?") {
			t.Errorf("authorize at %s", authorize)
		}
	})

	code, body := b.do(t, "GET", "/v1/me", nil)
	if code != http.StatusOK || !strings.Contains(string(body), `"github:acme/platform"`) || !strings.Contains(string(body), `"github:acme"`) ||
		!strings.Contains(string(body), "Octo Example") {
		t.Fatalf("me: %d %s", code, body)
	}
	t.Run("organizations outside the allow-list give no groups", func(t *testing.T) {
		if strings.Contains(string(body), "hobby-club") {
			t.Errorf("me: %s", body)
		}
	})
	t.Run("the user is keyed by GitHub's numeric id", func(t *testing.T) {
		var me struct{ Name string }
		json.Unmarshal(body, &me)
		var u mgmtv1.User
		if err := c.Get(ctx, client.ObjectKey{Name: me.Name}, &u); err != nil {
			t.Fatal(err)
		}
		if len(u.Spec.Identities) != 1 || u.Spec.Identities[0] != (mgmtv1.UserIdentity{Provider: "corp-github", Subject: "5831001"}) {
			t.Errorf("identities %+v", u.Spec.Identities)
		}
	})
	if gh.Requests("/api/v3/user/orgs") < 2 || gh.Requests("/api/v3/user/teams") < 2 {
		t.Errorf("the lists were not read page by page: orgs %d, teams %d", gh.Requests("/api/v3/user/orgs"), gh.Requests("/api/v3/user/teams"))
	}
	code, body = b.do(t, "GET", "/v1/kubeconfig", nil)
	if code != http.StatusOK || !strings.Contains(string(body), "name: ghdev") {
		t.Fatalf("kubeconfig: %d %s", code, body)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, body, 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("the team binding grants read access through the proxy", func(t *testing.T) {
		framework.Eventually(t, framework.Medium, func() error {
			out, err := kubectl(t, kc, "--context", "ghdev", "get", "nodes", "-o", "name")
			if err != nil || !strings.Contains(out, "node/prod-cpu") {
				return fmt.Errorf("get nodes: %v %s", err, out)
			}
			return nil
		})
		if out, err := kubectl(t, kc, "--context", "ghdev", "auth", "can-i", "delete", "nodes"); err == nil || !strings.Contains(out, "no") {
			t.Errorf("viewer may delete nodes: %v %s", err, out)
		}
	})

	t.Run("removed from the team at GitHub, access ends at the refresh", func(t *testing.T) {
		if g := s.grants(t, "corp-github"); len(g) != 1 {
			t.Fatalf("want the access token of one user stored, got %d", len(g))
		}
		moved := octo
		moved.Teams = []githubtest.Team{{Org: "hobby-club", Slug: "band", Name: "Band"}}
		gh.ChangeAccount(moved)
		defer gh.ChangeAccount(octo)
		s.refreshedAccess(t, kc, "ghdev", false)
		if _, body := b.do(t, "GET", "/v1/me", nil); strings.Contains(string(body), "github:acme/platform") || !strings.Contains(string(body), `"github:acme"`) {
			t.Errorf("me after the refresh: %s", body)
		}
		gh.ChangeAccount(octo)
		s.refreshedAccess(t, kc, "ghdev", true)
	})

	t.Run("left every allowed organization, no group at the refresh", func(t *testing.T) {
		gone := octo
		gone.Orgs, gone.Teams = []string{"hobby-club"}, nil
		gh.ChangeAccount(gone)
		defer gh.ChangeAccount(octo)
		s.refreshedAccess(t, kc, "ghdev", false)
		if _, body := b.do(t, "GET", "/v1/me", nil); strings.Contains(string(body), "github:") {
			t.Errorf("me after the refresh: %s", body)
		}
		gh.ChangeAccount(octo)
		s.refreshedAccess(t, kc, "ghdev", true)
	})

	t.Run("a token revoked at GitHub leaves no external group", func(t *testing.T) {
		gh.RevokeTokens()
		s.refreshedAccess(t, kc, "ghdev", false)
		if g := s.grants(t, "corp-github"); len(g) != 0 {
			t.Errorf("the refused token is still stored: %d", len(g))
		}
		again := s.githubBrowser(gh)
		again.do(t, "GET", "/v1/auth/corp-github/start", nil)
		if code, body := again.do(t, "GET", "/v1/me", nil); code != http.StatusOK || !strings.Contains(string(body), "github:acme/platform") {
			t.Fatalf("me after logging in again: %d %s", code, body)
		}
		s.refreshedAccess(t, kc, "ghdev", true)
	})

	t.Run("replayed callback refused", func(t *testing.T) {
		resp, err := b.c.Get(callback.String())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("replayed callback: %d", resp.StatusCode)
		}
	})

	// stopAtCallback walks start → GitHub and stops before bokujo's
	// callback, returning its URL with the code and state.
	stopAtCallback := func(t *testing.T) (*ssoBrowser, *url.URL) {
		x := s.githubBrowser(gh)
		x.c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
			if strings.HasSuffix(req.URL.Path, "/callback") && strings.HasPrefix(req.URL.String(), s.url) {
				return http.ErrUseLastResponse
			}
			return nil
		}
		resp, err := x.c.Get(s.url + "/v1/auth/corp-github/start")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil || loc.Query().Get("code") == "" {
			t.Fatalf("no redirect to the callback: %d %v", resp.StatusCode, err)
		}
		x.c.CheckRedirect = nil
		return x, loc
	}
	callbackAt := func(t *testing.T, x *ssoBrowser, u string) (int, string) {
		resp, err := x.c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e struct{ Code, Message string }
		json.NewDecoder(resp.Body).Decode(&e)
		return resp.StatusCode, e.Code + ": " + e.Message
	}

	t.Run("missing state", func(t *testing.T) {
		x, loc := stopAtCallback(t)
		q := loc.Query()
		q.Del("state")
		loc.RawQuery = q.Encode()
		if got, msg := callbackAt(t, x, loc.String()); got != http.StatusBadRequest {
			t.Errorf("callback without state: %d %s", got, msg)
		}
	})

	t.Run("forged state", func(t *testing.T) {
		x, loc := stopAtCallback(t)
		q := loc.Query()
		q.Set("state", "attacker-chosen-state-0000000000")
		loc.RawQuery = q.Encode()
		if got, msg := callbackAt(t, x, loc.String()); got != http.StatusBadRequest {
			t.Errorf("callback with a forged state: %d %s", got, msg)
		}
		if code, _ := x.do(t, "GET", "/v1/me", nil); code != http.StatusUnauthorized {
			t.Errorf("me: %d", code)
		}
	})

	t.Run("code and state carried to another browser", func(t *testing.T) {
		// Login CSRF: the victim's browser lacks the flow cookie.
		_, loc := stopAtCallback(t)
		other := s.githubBrowser(gh)
		if got, msg := callbackAt(t, other, loc.String()); got != http.StatusBadRequest {
			t.Errorf("callback without the flow cookie: %d %s", got, msg)
		}
	})

	t.Run("the person cancels at GitHub", func(t *testing.T) {
		gh.Deny(true)
		defer gh.Deny(false)
		x := s.githubBrowser(gh)
		if code, body := x.do(t, "GET", "/v1/auth/corp-github/start", nil); code != http.StatusUnauthorized {
			t.Errorf("cancelled login: %d %s", code, body)
		}
	})

	t.Run("a user outside the allowed organizations is refused", func(t *testing.T) {
		gh.SetUser(mallory)
		defer gh.SetUser(octo)
		m := s.githubBrowser(gh)
		code, body := m.do(t, "GET", "/v1/auth/corp-github/start", nil)
		if code != http.StatusForbidden || !strings.Contains(string(body), "not a member of an organization allowed") {
			t.Errorf("login of a user outside the allowed organizations: %d %s", code, body)
		}
		if code, _ := m.do(t, "GET", "/v1/me", nil); code != http.StatusUnauthorized {
			t.Errorf("me after a refused login: %d", code)
		}
		var users mgmtv1.UserList
		if err := c.List(ctx, &users); err != nil {
			t.Fatal(err)
		}
		for _, u := range users.Items {
			for _, id := range u.Spec.Identities {
				if id.Provider == "corp-github" && id.Subject == "5831002" {
					t.Errorf("a user was created for the refused account: %s", u.Name)
				}
			}
		}
	})

	t.Run("wrong client secret at the exchange", func(t *testing.T) {
		var cur corev1.Secret
		if err := c.Get(ctx, client.ObjectKeyFromObject(sec), &cur); err != nil {
			t.Fatal(err)
		}
		cur.Data[mgmtv1.ClientSecretSecretKey] = []byte("not-the-client-secret")
		if err := c.Update(ctx, &cur); err != nil {
			t.Fatal(err)
		}
		defer func() {
			cur.Data[mgmtv1.ClientSecretSecretKey] = []byte(clientSecret)
			if err := c.Update(ctx, &cur); err != nil {
				t.Fatal(err)
			}
		}()
		x := s.githubBrowser(gh)
		code, body := x.do(t, "GET", "/v1/auth/corp-github/start", nil)
		if code != http.StatusServiceUnavailable || !strings.Contains(string(body), "ProviderUnavailable") {
			t.Errorf("login with a wrong client secret: %d %s", code, body)
		}
		if logs := s.logs.String(); !strings.Contains(logs, "github refused the client id or client secret") {
			t.Errorf("the log does not say the client secret was refused:\n%s", grepLines(logs, "corp-github"))
		}
	})

	t.Run("a user disabled in bokujo cannot log in through GitHub", func(t *testing.T) {
		var me struct{ Name string }
		_, body := b.do(t, "GET", "/v1/me", nil)
		if err := json.Unmarshal(body, &me); err != nil || me.Name == "" {
			t.Fatalf("me: %s", body)
		}
		var u mgmtv1.User
		if err := c.Get(ctx, client.ObjectKey{Name: me.Name}, &u); err != nil {
			t.Fatal(err)
		}
		u.Spec.State = mgmtv1.UserStateDisabled
		if err := c.Update(ctx, &u); err != nil {
			t.Fatal(err)
		}
		framework.Eventually(t, framework.Medium, func() error {
			d := s.githubBrowser(gh)
			if code, body := d.do(t, "GET", "/v1/auth/corp-github/start", nil); code != http.StatusForbidden || !strings.Contains(string(body), "UserDisabled") {
				return fmt.Errorf("login of a disabled user: %d %s", code, body)
			}
			if code, _ := d.do(t, "GET", "/v1/me", nil); code != http.StatusUnauthorized {
				return fmt.Errorf("me after a refused login: %d", code)
			}
			return nil
		})
	})

	t.Run("no token, code, state or client secret in the logs", func(t *testing.T) {
		logs := s.logs.String()
		secrets := append([]string{clientSecret, "not-the-client-secret", callback.Query().Get("code"), authorize.Query().Get("state")}, gh.IssuedTokens()...)
		secrets = append(secrets, b.flowSets...)
		if len(gh.IssuedTokens()) == 0 || len(b.flowSets) == 0 {
			t.Fatal("no token or flow cookie recorded")
		}
		for _, v := range secrets {
			if v == "" {
				t.Fatal("a value to look for is empty")
			}
			if strings.Contains(logs, v) {
				t.Errorf("the server's logs hold a secret of the flow (%d characters)", len(v))
			}
		}
		if !strings.Contains(logs, `"provider":"corp-github"`) {
			t.Error("the logins were not logged")
		}
	})
}

// TestGitHubProviderTest: the admin's "test connection" names the step
// that failed.
func TestGitHubProviderTest(t *testing.T) {
	s := startServer(t)
	gh := githubtest.Start(t, githubtest.Options{ClientID: "Iv1.bokujo", ClientSecret: "x", User: octo})
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "gh-test-client", Namespace: mgmtv1.SystemNamespace},
		Data: map[string][]byte{mgmtv1.ClientSecretSecretKey: []byte("x")}}
	if err := s.app.Client.Create(context.Background(), sec); err != nil {
		t.Fatal(err)
	}
	base := mgmtv1.GitHubProviderSpec{BaseURL: gh.URL, ClientID: "Iv1.bokujo", ClientSecretRef: mgmtv1.SecretReference{Name: sec.Name}}
	for _, tc := range []struct {
		name    string
		mod     func(*mgmtv1.GitHubProviderSpec)
		trusted bool
		reason  string
		msg     string
	}{
		{"reachable", func(*mgmtv1.GitHubProviderSpec) {}, true, mgmtv1.AuthProviderReasonConnected, ""},
		{"unknown host", func(o *mgmtv1.GitHubProviderSpec) { o.BaseURL = "https://ghe.bokujo-test.invalid" }, true, mgmtv1.AuthProviderReasonDNSFailed, "no such host"},
		{"nothing listening", func(o *mgmtv1.GitHubProviderSpec) { o.BaseURL = "https://127.0.0.1:1" }, true, mgmtv1.AuthProviderReasonConnectFailed, "refused"},
		{"CA not trusted", func(*mgmtv1.GitHubProviderSpec) {}, false, mgmtv1.AuthProviderReasonTLSFailed, "certificate"},
		{"not a GitHub API", func(o *mgmtv1.GitHubProviderSpec) { o.BaseURL = gh.URL + "/nope" }, true, mgmtv1.AuthProviderReasonDiscoveryFailed, "404"},
		{"client secret Secret missing", func(o *mgmtv1.GitHubProviderSpec) { o.ClientSecretRef.Name = "no-such-secret" }, true, mgmtv1.AuthProviderReasonInvalidConfig, "no-such-secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := base
			if tc.trusted {
				spec.CAData = string(gh.CAPEM)
			}
			tc.mod(&spec)
			ap := &mgmtv1.AuthProvider{ObjectMeta: metav1.ObjectMeta{Name: "gh-test"}, Spec: mgmtv1.AuthProviderSpec{Type: mgmtv1.AuthProviderGitHub, GitHub: &spec}}
			got := s.app.Auth.TestProvider(context.Background(), ap)
			if got.Reason != tc.reason || got.Ready != (tc.reason == mgmtv1.AuthProviderReasonConnected) || !strings.Contains(got.Message, tc.msg) {
				t.Errorf("test = %+v, want %s containing %q", got, tc.reason, tc.msg)
			}
		})
	}
}
