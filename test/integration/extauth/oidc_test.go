package extauth_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/auth/oidctest"
	"bokujo.io/bokujo/test/framework"
)

// ssoBrowser follows redirects between bokujo and the provider with one
// cookie jar, as a browser would, and records what it saw so the test can
// check the flow's parameters and that none of its secrets were logged.
type ssoBrowser struct {
	*browser
	mu       sync.Mutex
	visited  []*url.URL
	flowSets []string
}

type recordingTransport struct {
	b    *ssoBrowser
	next http.RoundTripper
}

func (rt recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rt.next.RoundTrip(req)
	if err == nil {
		rt.b.mu.Lock()
		rt.b.visited = append(rt.b.visited, req.URL)
		for _, c := range resp.Cookies() {
			if c.Name == "bokujo_oidc_flow" && c.Value != "" {
				rt.b.flowSets = append(rt.b.flowSets, c.Value)
			}
		}
		rt.b.mu.Unlock()
	}
	return resp, err
}

func (s *server) ssoBrowser(t *testing.T, op *oidctest.OP) *ssoBrowser {
	pool := s.ca.Clone()
	pool.AppendCertsFromPEM(op.CAPEM)
	jar, _ := cookiejar.New(nil)
	b := &ssoBrowser{browser: &browser{s: s}}
	b.c = &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport: recordingTransport{b: b, next: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
	return b
}

// find returns the last visited URL whose path ends in suffix.
func (b *ssoBrowser) find(suffix string) *url.URL {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := len(b.visited) - 1; i >= 0; i-- {
		if strings.HasSuffix(b.visited[i].Path, suffix) {
			return b.visited[i]
		}
	}
	return nil
}

// TestOIDCGroupGrantsClusterAccess: an administrator binds the provider's
// group "oidc:platform" to the cluster dev before anyone logs in; erin
// logs in through a real OpenID Provider (authorization code, PKCE, state,
// nonce), gets a session, a kubeconfig, and reads dev through the proxy
// with rights that come from the group binding only.
func TestOIDCGroupGrantsClusterAccess(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	if err := s.app.Registry.ImportConfig(ctx, "dev", "", env.Cluster(t, "prod").RESTConfig()); err != nil {
		t.Fatalf("import dev: %v", err)
	}
	const clientSecret = "oidc-client-secret-5b7f"
	op := oidctest.Start(t, oidctest.Options{
		ClientID: "bokujo", ClientSecret: clientSecret,
		RedirectURIs: []string{s.url + "/v1/auth/corp-sso/callback"},
		User:         oidctest.User{Subject: "00u-erin-42", Username: "erin", Name: "Erin Example", Groups: []string{"platform"}},
	})
	c := s.app.Client
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "corp-sso-client", Namespace: mgmtv1.SystemNamespace},
		Data: map[string][]byte{mgmtv1.ClientSecretSecretKey: []byte(clientSecret)}}
	ap := &mgmtv1.AuthProvider{ObjectMeta: metav1.ObjectMeta{Name: "corp-sso"}, Spec: mgmtv1.AuthProviderSpec{
		Type: mgmtv1.AuthProviderOIDC, DisplayName: "Corp SSO",
		OIDC: &mgmtv1.OIDCProviderSpec{
			IssuerURL: op.Issuer, ClientID: "bokujo", ClientSecretRef: &mgmtv1.SecretReference{Name: sec.Name},
			GroupPrefix: "oidc:", CAData: string(op.CAPEM),
		},
	}}
	crtb := &mgmtv1.ClusterRoleTemplateBinding{ObjectMeta: metav1.ObjectMeta{Name: "platform-dev"}, Spec: mgmtv1.ClusterRoleTemplateBindingSpec{
		ClusterName: "dev", RoleTemplateName: "cluster-viewer", Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindGroup, Name: "oidc:platform"}}}
	s.create(t, sec, ap, crtb)

	b := s.ssoBrowser(t, op)
	framework.Eventually(t, framework.Medium, func() error {
		// The first attempts may come before the server's cache has the
		// provider; a 404 then is expected.
		b.do(t, "GET", "/v1/auth/corp-sso/start", nil)
		if code, body := b.do(t, "GET", "/v1/me", nil); code != http.StatusOK {
			return fmt.Errorf("me after the login: %d %s", code, body)
		}
		return nil
	})
	authorize, callback := b.find("/authorize"), b.find("/v1/auth/corp-sso/callback")
	if authorize == nil || callback == nil {
		t.Fatalf("the login did not pass through the provider: %v", b.visited)
	}

	t.Run("the authorization request carries PKCE S256, state and nonce", func(t *testing.T) {
		q := authorize.Query()
		for _, k := range []string{"state", "nonce", "code_challenge"} {
			if len(q.Get(k)) < 16 {
				t.Errorf("%s = %q", k, q.Get(k))
			}
		}
		if q.Get("code_challenge_method") != "S256" || q.Has("code_verifier") || q.Get("redirect_uri") != s.url+"/v1/auth/corp-sso/callback" {
			t.Errorf("authorize query %v", q)
		}
		if !strings.Contains(q.Get("scope"), "openid") {
			t.Errorf("scope %q", q.Get("scope"))
		}
	})

	code, body := b.do(t, "GET", "/v1/me", nil)
	if code != http.StatusOK || !strings.Contains(string(body), `"oidc:platform"`) || !strings.Contains(string(body), "Erin Example") {
		t.Fatalf("me: %d %s", code, body)
	}
	var sessionCookie bool
	for _, ck := range b.c.Jar.Cookies(&url.URL{Scheme: "https", Host: strings.TrimPrefix(s.url, "https://"), Path: "/"}) {
		sessionCookie = sessionCookie || ck.Name == "__Host-bokujo_session"
	}
	if !sessionCookie {
		t.Error("no __Host-bokujo_session cookie after the login")
	}
	code, body = b.do(t, "GET", "/v1/kubeconfig", nil)
	if code != http.StatusOK || !strings.Contains(string(body), "name: dev") {
		t.Fatalf("kubeconfig: %d %s", code, body)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, body, 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("the group binding grants read access through the proxy", func(t *testing.T) {
		framework.Eventually(t, framework.Medium, func() error {
			out, err := kubectl(t, kc, "--context", "dev", "get", "nodes", "-o", "name")
			if err != nil || !strings.Contains(out, "node/prod-cpu") {
				return fmt.Errorf("get nodes: %v %s", err, out)
			}
			return nil
		})
		if out, err := kubectl(t, kc, "--context", "dev", "auth", "can-i", "delete", "nodes"); err == nil || !strings.Contains(out, "no") {
			t.Errorf("viewer may delete nodes: %v %s", err, out)
		}
	})

	erin := oidctest.User{Subject: "00u-erin-42", Username: "erin", Name: "Erin Example", Groups: []string{"platform"}}
	t.Run("removed from the group at the provider, access ends at the refresh", func(t *testing.T) {
		if !strings.Contains(authorize.Query().Get("scope"), "offline_access") {
			t.Errorf("scope %q does not ask for a refresh token", authorize.Query().Get("scope"))
		}
		if g := s.grants(t, "corp-sso"); len(g) != 1 || len(g[0].OwnerReferences) != 1 || g[0].OwnerReferences[0].Kind != "User" {
			t.Fatalf("want one refresh token owned by the user, got %+v", g)
		}
		moved := erin
		moved.Groups = []string{"finance"}
		op.SetUser(moved)
		s.refreshedAccess(t, kc, "dev", false)
		if _, body := b.do(t, "GET", "/v1/me", nil); strings.Contains(string(body), "oidc:platform") || !strings.Contains(string(body), "oidc:finance") {
			t.Errorf("me after the refresh: %s", body)
		}
		// Back in the group: the refresh token, rotated at the first
		// refresh, still works.
		op.SetUser(erin)
		s.refreshedAccess(t, kc, "dev", true)
	})

	t.Run("a refresh token the provider revoked leaves no external group", func(t *testing.T) {
		op.RevokeRefreshTokens()
		s.refreshedAccess(t, kc, "dev", false)
		if g := s.grants(t, "corp-sso"); len(g) != 0 {
			t.Errorf("the refused refresh token is still stored: %d", len(g))
		}
		if !strings.Contains(s.logs.String(), "provider grant no longer valid") {
			t.Error("the revocation is not logged")
		}
		// The next login brings the groups back.
		again := s.ssoBrowser(t, op)
		again.do(t, "GET", "/v1/auth/corp-sso/start", nil)
		if code, body := again.do(t, "GET", "/v1/me", nil); code != http.StatusOK || !strings.Contains(string(body), "oidc:platform") {
			t.Fatalf("me after logging in again: %d %s", code, body)
		}
		s.refreshedAccess(t, kc, "dev", true)
	})

	t.Run("replayed callback refused", func(t *testing.T) {
		// The flow cookie was spent by the first callback and the
		// provider deleted the code: the same URL logs nobody in.
		fresh := s.ssoBrowser(t, op)
		resp, err := b.c.Get(callback.String())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("replayed callback: %d", resp.StatusCode)
		}
		if code, _ := fresh.do(t, "GET", "/v1/me", nil); code != http.StatusUnauthorized {
			t.Errorf("me without a session: %d", code)
		}
	})

	// stopAtCallback walks start → provider and stops before bokujo's
	// callback, returning its URL with the provider's code and state.
	stopAtCallback := func(t *testing.T) (*ssoBrowser, *url.URL) {
		x := s.ssoBrowser(t, op)
		x.c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
			if strings.HasSuffix(req.URL.Path, "/callback") && strings.HasPrefix(req.URL.String(), s.url) {
				return http.ErrUseLastResponse
			}
			return nil
		}
		resp, err := x.c.Get(s.url + "/v1/auth/corp-sso/start")
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
	callbackStatus := func(t *testing.T, c *http.Client, u string) int {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	t.Run("missing state", func(t *testing.T) {
		x, loc := stopAtCallback(t)
		q := loc.Query()
		q.Del("state")
		loc.RawQuery = q.Encode()
		if got := callbackStatus(t, x.c, loc.String()); got != http.StatusBadRequest {
			t.Errorf("callback without state: %d", got)
		}
	})

	t.Run("forged state", func(t *testing.T) {
		x, loc := stopAtCallback(t)
		q := loc.Query()
		q.Set("state", "attacker-chosen-state-0000000000")
		loc.RawQuery = q.Encode()
		if got := callbackStatus(t, x.c, loc.String()); got != http.StatusBadRequest {
			t.Errorf("callback with a forged state: %d", got)
		}
	})

	t.Run("missing PKCE verifier", func(t *testing.T) {
		// Another browser brings the victim's code and state, but not the
		// flow cookie that holds the verifier: login CSRF and code
		// injection both end here.
		_, loc := stopAtCallback(t)
		other := s.ssoBrowser(t, op)
		if got := callbackStatus(t, other.c, loc.String()); got != http.StatusBadRequest {
			t.Errorf("callback without the flow cookie: %d", got)
		}
		if code, _ := other.do(t, "GET", "/v1/me", nil); code != http.StatusUnauthorized {
			t.Errorf("me: %d", code)
		}
	})

	t.Run("the provider's error is not a login", func(t *testing.T) {
		x, loc := stopAtCallback(t)
		q := loc.Query()
		q.Del("code")
		q.Set("error", "access_denied")
		loc.RawQuery = q.Encode()
		if got := callbackStatus(t, x.c, loc.String()); got != http.StatusUnauthorized {
			t.Errorf("callback with error: %d", got)
		}
	})

	t.Run("a user outside the group has no access", func(t *testing.T) {
		op.SetUser(oidctest.User{Subject: "00u-frank-43", Username: "frank", Groups: []string{"finance"}})
		defer op.SetUser(oidctest.User{Subject: "00u-erin-42", Username: "erin", Name: "Erin Example", Groups: []string{"platform"}})
		f := s.ssoBrowser(t, op)
		f.do(t, "GET", "/v1/auth/corp-sso/start", nil)
		code, body := f.do(t, "GET", "/v1/me", nil)
		if code != http.StatusOK || !strings.Contains(string(body), "oidc:finance") {
			t.Fatalf("frank's me: %d %s", code, body)
		}
		code, body = f.do(t, "GET", "/v1/kubeconfig", nil)
		if code != http.StatusOK || strings.Contains(string(body), "name: dev") {
			t.Errorf("frank's kubeconfig: %d\n%s", code, body)
		}
	})

	// terminal is the CLI's side of a device login: plain HTTPS to bokujo,
	// no cookie jar, no redirects followed, never a request to the provider.
	terminal := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.ca}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(t *testing.T, path string, body any) (int, []byte, *http.Response) {
		t.Helper()
		data, _ := json.Marshal(body)
		resp, err := terminal.Post(s.url+path, "application/json", strings.NewReader(string(data)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out, resp
	}
	type deviceStart struct {
		UserCode, VerificationURI, DeviceCode string
		Interval                              int
	}
	var deviceCodes []string
	startDevice := func(t *testing.T) deviceStart {
		t.Helper()
		code, body, _ := post(t, "/v1/auth/corp-sso/device", nil)
		var ds deviceStart
		if err := json.Unmarshal(body, &ds); code != http.StatusOK || err != nil || ds.UserCode == "" || ds.DeviceCode == "" || !strings.HasPrefix(ds.VerificationURI, op.Issuer) {
			t.Fatalf("device start: %d %s\n%s", code, body, grepLines(s.logs.String(), "device"))
		}
		deviceCodes = append(deviceCodes, ds.DeviceCode)
		return ds
	}

	t.Run("device login from a terminal without a browser", func(t *testing.T) {
		ds := startDevice(t)
		code, body, resp := post(t, "/v1/auth/corp-sso/device/token", map[string]string{"deviceCode": ds.DeviceCode})
		if code != http.StatusAccepted || !strings.Contains(string(body), "AuthorizationPending") || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("poll before approval: %d %s", code, body)
		}
		// The person approves on another device.
		if err := op.ApproveDevice(ds.UserCode); err != nil {
			t.Fatal(err)
		}
		code, body, resp = post(t, "/v1/auth/corp-sso/device/token", map[string]string{"deviceCode": ds.DeviceCode})
		if code != http.StatusOK || !strings.Contains(string(body), "csrfToken") {
			t.Fatalf("poll after approval: %d %s", code, body)
		}
		var session *http.Cookie
		for _, ck := range resp.Cookies() {
			if ck.Name == "__Host-bokujo_session" {
				session = ck
			}
		}
		if session == nil {
			t.Fatal("no session cookie")
		}
		req, _ := http.NewRequest("GET", s.url+"/v1/kubeconfig", nil)
		req.AddCookie(&http.Cookie{Name: session.Name, Value: session.Value})
		kresp, err := terminal.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer kresp.Body.Close()
		kc, _ := io.ReadAll(kresp.Body)
		if kresp.StatusCode != http.StatusOK || !strings.Contains(string(kc), "name: dev") {
			t.Errorf("kubeconfig after a device login: %d\n%s", kresp.StatusCode, kc)
		}
	})

	t.Run("bokujo login --sso from a terminal", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "config.json")
		ctx, cancel := context.WithTimeout(context.Background(), framework.Medium)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(framework.BinDir(t), "bokujo"), "login", s.url, "--sso", "--ca-file", s.caFile)
		cmd.Env = append(os.Environ(), "BOKUJO_CONFIG="+cfg)
		stderr, _ := cmd.StderrPipe()
		var stdout strings.Builder
		cmd.Stdout = &stdout
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Read the code the CLI prints and approve it as the person would.
		sc := bufio.NewScanner(stderr)
		var userCode string
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if strings.HasPrefix(line, "To log in, open ") {
				for sc.Scan() {
					if c := strings.TrimSpace(sc.Text()); c != "" {
						userCode = c
						break
					}
				}
				break
			}
		}
		if userCode == "" {
			t.Fatal("the CLI printed no user code")
		}
		if err := op.ApproveDevice(userCode); err != nil {
			t.Fatal(err)
		}
		go func() { _, _ = io.Copy(io.Discard, stderr) }()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("bokujo login --sso: %v\n%s", err, stdout.String())
		}
		kcmd := exec.CommandContext(ctx, filepath.Join(framework.BinDir(t), "bokujo"), "kubeconfig")
		kcmd.Env = append(os.Environ(), "BOKUJO_CONFIG="+cfg)
		kc, err := kcmd.CombinedOutput()
		if err != nil || !strings.Contains(string(kc), "name: dev") {
			t.Fatalf("kubeconfig after an SSO login from the CLI: %v\n%s", err, kc)
		}
	})

	t.Run("device login denied by the person", func(t *testing.T) {
		ds := startDevice(t)
		if err := op.DenyDevice(ds.UserCode); err != nil {
			t.Fatal(err)
		}
		if code, body, _ := post(t, "/v1/auth/corp-sso/device/token", map[string]string{"deviceCode": ds.DeviceCode}); code != http.StatusUnauthorized {
			t.Errorf("poll after denial: %d %s", code, body)
		}
	})

	t.Run("device login with an invented device code", func(t *testing.T) {
		if code, body, _ := post(t, "/v1/auth/corp-sso/device/token", map[string]string{"deviceCode": "invented-device-code"}); code != http.StatusUnauthorized {
			t.Errorf("poll with an invented code: %d %s", code, body)
		}
	})

	t.Run("a user disabled in bokujo cannot log in through the provider", func(t *testing.T) {
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
			d := s.ssoBrowser(t, op)
			if code, body := d.do(t, "GET", "/v1/auth/corp-sso/start", nil); code != http.StatusForbidden || !strings.Contains(string(body), "UserDisabled") {
				return fmt.Errorf("login of a disabled user: %d %s", code, body)
			}
			if code, _ := d.do(t, "GET", "/v1/me", nil); code != http.StatusUnauthorized {
				return fmt.Errorf("me after a refused login: %d", code)
			}
			return nil
		})
	})

	t.Run("no flow secret, code, device code or client secret in the logs", func(t *testing.T) {
		logs := s.logs.String()
		secrets := []string{clientSecret, callback.Query().Get("code"), authorize.Query().Get("state"), authorize.Query().Get("nonce")}
		for _, v := range b.flowSets {
			payload, _, _ := strings.Cut(v, ".")
			data, _ := base64.RawURLEncoding.DecodeString(payload)
			var f struct {
				Verifier string `json:"v"`
			}
			json.Unmarshal(data, &f)
			secrets = append(secrets, v, f.Verifier)
		}
		secrets = append(secrets, deviceCodes...)
		for _, g := range s.grants(t, "corp-sso") {
			secrets = append(secrets, string(g.Data["grant"]))
		}
		if len(b.flowSets) == 0 || len(deviceCodes) == 0 {
			t.Fatal("no flow cookie recorded")
		}
		for _, v := range secrets {
			if v == "" {
				t.Fatal("a value to look for is empty")
			}
			if strings.Contains(logs, v) {
				t.Errorf("the server's logs hold a secret of the flow (%d characters)", len(v))
			}
		}
		if !strings.Contains(logs, `"provider":"corp-sso"`) {
			t.Error("the logins were not logged")
		}
	})
}

// TestOIDCProviderTest: the admin's "test connection" names the step that
// failed.
func TestOIDCProviderTest(t *testing.T) {
	s := startServer(t)
	op := oidctest.Start(t, oidctest.Options{ClientID: "bokujo", ClientSecret: "x", User: oidctest.User{Subject: "s"}})
	base := mgmtv1.OIDCProviderSpec{IssuerURL: op.Issuer, ClientID: "bokujo", CAData: string(op.CAPEM)}
	for _, tc := range []struct {
		name   string
		mod    func(*mgmtv1.OIDCProviderSpec)
		reason string
		msg    string
	}{
		{"reachable, claims offered", func(*mgmtv1.OIDCProviderSpec) {}, mgmtv1.AuthProviderReasonConnected, ""},
		{"unknown host", func(o *mgmtv1.OIDCProviderSpec) { o.IssuerURL = "https://oidc.bokujo-test.invalid" }, mgmtv1.AuthProviderReasonDNSFailed, "no such host"},
		{"nothing listening", func(o *mgmtv1.OIDCProviderSpec) { o.IssuerURL = "https://127.0.0.1:1" }, mgmtv1.AuthProviderReasonConnectFailed, "refused"},
		{"CA not given", func(o *mgmtv1.OIDCProviderSpec) { o.CAData = "" }, mgmtv1.AuthProviderReasonTLSFailed, "certificate"},
		{"no discovery document", func(o *mgmtv1.OIDCProviderSpec) { o.IssuerURL = op.Issuer + "/nope" }, mgmtv1.AuthProviderReasonDiscoveryFailed, "404"},
		{"groups claim not offered", func(o *mgmtv1.OIDCProviderSpec) { o.GroupsClaim = "roles" }, mgmtv1.AuthProviderReasonMissingClaim, `"roles"`},
		{"username claim not offered", func(o *mgmtv1.OIDCProviderSpec) { o.UsernameClaim = "upn" }, mgmtv1.AuthProviderReasonMissingClaim, `"upn"`},
		{"client secret Secret missing", func(o *mgmtv1.OIDCProviderSpec) { o.ClientSecretRef = &mgmtv1.SecretReference{Name: "no-such-secret"} }, mgmtv1.AuthProviderReasonInvalidConfig, "no-such-secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := base
			tc.mod(&spec)
			ap := &mgmtv1.AuthProvider{ObjectMeta: metav1.ObjectMeta{Name: "sso-test"}, Spec: mgmtv1.AuthProviderSpec{Type: mgmtv1.AuthProviderOIDC, OIDC: &spec}}
			got := s.app.Auth.TestProvider(context.Background(), ap)
			if got.Reason != tc.reason || got.Ready != (tc.reason == mgmtv1.AuthProviderReasonConnected) || !strings.Contains(got.Message, tc.msg) {
				t.Errorf("test = %+v, want %s containing %q", got, tc.reason, tc.msg)
			}
		})
	}
}

// grepLines returns the lines of text that contain word, for failure messages.
func grepLines(text, word string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
