package access_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

	"bokujo.io/bokujo/internal/proxy"
)

// TestPasswordChangeEnforcedByServer shows the UI's password form cannot be
// bypassed with curl: a user asked to choose a new password is refused on
// every /v1 route and on /k8s/clusters, with a token or a session, until
// they do.
func TestPasswordChangeEnforcedByServer(t *testing.T) {
	b := startServer(t)
	ctx := context.Background()
	const password = "first password of carol 12345"
	u, err := b.app.Auth.CreateLocalUser(ctx, "pw-carol", "Carol", password)
	if err != nil {
		t.Fatal(err)
	}
	tok := b.login(t, u.Name, password)
	if err := b.app.Auth.RequirePasswordChange(ctx, u.Name); err != nil {
		t.Fatal(err)
	}

	refused := func(t *testing.T, code int, body []byte) {
		t.Helper()
		var e struct {
			Reason  string `json:"reason"`
			Message string `json:"message"`
		}
		if code != http.StatusForbidden || json.Unmarshal(body, &e) != nil || e.Reason != proxy.ReasonPasswordChangeRequired || e.Message == "" {
			t.Errorf("got %d %s, want 403 with reason %s", code, body, proxy.ReasonPasswordChangeRequired)
		}
	}
	for _, rt := range []struct{ method, path string }{
		{"GET", "/v1/clusters"},
		{"GET", "/v1/projects"},
		{"GET", "/v1/kubeconfig"},
		{"GET", "/v1/tokens"},
		{"POST", "/v1/tokens"},
		{"GET", "/v1/notifications"},
		{"GET", "/k8s/clusters/dev/api/v1/namespaces"},
		{"GET", "/k8s/clusters/nonexistent/version"},
	} {
		t.Run("bearer "+rt.method+" "+rt.path, func(t *testing.T) {
			var body any
			if rt.method == "POST" {
				body = map[string]any{"description": "bypass", "ttlSeconds": 3600}
			}
			code, data := b.call(t, tok, rt.method, rt.path, body)
			refused(t, code, data)
		})
	}

	// A browser session (cookie + CSRF token) is refused the same way.
	jar, _ := cookiejar.New(nil)
	hc := b.client()
	hc.Jar = jar
	do := func(method, path, csrf, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, b.url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if csrf != "" {
			req.Header.Set(proxy.CSRFHeader, csrf)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, data
	}
	code, data := do("POST", "/v1/login", "", `{"username":"pw-carol","password":"`+password+`"}`)
	if code != http.StatusOK {
		t.Fatalf("login: %d %s", code, data)
	}
	var login struct {
		CSRFToken string `json:"csrfToken"`
	}
	_ = json.Unmarshal(data, &login)
	code, data = do("GET", "/v1/clusters", "", "")
	refused(t, code, data)
	code, data = do("GET", "/k8s/clusters/dev/api/v1/pods", "", "")
	refused(t, code, data)

	// /v1/me stays open and says why.
	code, data = do("GET", "/v1/me", "", "")
	if code != http.StatusOK || !strings.Contains(string(data), `"mustChangePassword":true`) {
		t.Fatalf("/v1/me: %d %s", code, data)
	}
	// Choosing a password opens the rest, for the session and the token.
	code, data = do("POST", "/v1/me/password", login.CSRFToken, `{"currentPassword":"`+password+`","newPassword":"a second password of carol 678"}`)
	if code != http.StatusNoContent {
		t.Fatalf("password change: %d %s", code, data)
	}
	if code, data = do("GET", "/v1/clusters", "", ""); code != http.StatusOK {
		t.Errorf("session after the change: %d %s", code, data)
	}
	if code, data = b.call(t, tok, "GET", "/v1/clusters", nil); code != http.StatusOK {
		t.Errorf("token after the change: %d %s", code, data)
	}
	if code, data = b.call(t, tok, "GET", "/k8s/clusters/nonexistent/version", nil); code != http.StatusNotFound {
		t.Errorf("proxy after the change: %d %s", code, data)
	}
	if code, data = do("POST", "/v1/logout", login.CSRFToken, ""); code != http.StatusNoContent {
		t.Errorf("logout: %d %s", code, data)
	}
}
