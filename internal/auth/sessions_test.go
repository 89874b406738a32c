package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/auth"
	"bokujo.io/bokujo/internal/proxy"
)

type meAnswer struct {
	Name, Username, DisplayName string
	Groups, GlobalRoles         []string
	CSRFToken                   string
}

func TestCookieSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice, alicePW := f.user("alice")
	b := f.browser()
	if r := b.login(t, alice.Spec.Username, alicePW); r.status != http.StatusOK {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	other := f.browser()
	if r := other.login(t, alice.Spec.Username, alicePW); r.status != http.StatusOK {
		t.Fatalf("second login: %d %s", r.status, r.body)
	}
	if b.csrf == other.csrf {
		t.Fatalf("two sessions share a CSRF token")
	}

	t.Run("me returns the CSRF token again", func(t *testing.T) {
		r := b.do("GET", "/v1/me", nil, nil)
		var me meAnswer
		r.decode(t, &me)
		if r.status != http.StatusOK || me.Name != alice.Name || me.CSRFToken != b.csrf {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})

	for _, tc := range []struct {
		name       string
		header     map[string]string
		wantStatus int
		wantCode   string
	}{
		{"POST without CSRF header", nil, 403, auth.CodeCSRF},
		{"POST with a wrong CSRF token", map[string]string{proxy.CSRFHeader: "forged"}, 403, auth.CodeCSRF},
		{"POST with another session's CSRF token", map[string]string{proxy.CSRFHeader: other.csrf}, 403, auth.CodeCSRF},
		{"POST cross-site with CSRF token", map[string]string{proxy.CSRFHeader: b.csrf, "Sec-Fetch-Site": "cross-site"}, 403, auth.CodeCrossSite},
		{"POST same-site with CSRF token", map[string]string{proxy.CSRFHeader: b.csrf, "Sec-Fetch-Site": "same-site"}, 403, auth.CodeCrossSite},
		{"POST same-origin with CSRF token", map[string]string{proxy.CSRFHeader: b.csrf, "Sec-Fetch-Site": "same-origin"}, 201, ""},
		{"POST without fetch metadata with CSRF token", map[string]string{proxy.CSRFHeader: b.csrf}, 201, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := b.do("POST", "/v1/tokens", map[string]any{"description": tc.name}, tc.header)
			if r.status != tc.wantStatus || r.code() != tc.wantCode {
				t.Fatalf("got %d %s, want %d %q", r.status, r.body, tc.wantStatus, tc.wantCode)
			}
		})
	}

	t.Run("DELETE needs the CSRF token", func(t *testing.T) {
		_, tok := f.token(alice.Name, auth.TokenRequest{})
		if r := b.do("DELETE", "/v1/tokens/"+tok.Name, nil, nil); r.status != http.StatusForbidden {
			t.Fatalf("without: got %d %s", r.status, r.body)
		}
		if r := b.do("DELETE", "/v1/tokens/"+tok.Name, nil, map[string]string{proxy.CSRFHeader: b.csrf}); r.status != http.StatusNoContent {
			t.Fatalf("with: got %d %s", r.status, r.body)
		}
	})

	t.Run("Authenticator reports CSRF validity to the proxy", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			csrf    []string
			wantOK  bool
			session string
		}{
			{"matching header", []string{b.csrf}, true, b.sessionCookie()},
			{"no header", nil, false, b.sessionCookie()},
			{"another session's token", []string{other.csrf}, false, b.sessionCookie()},
			{"two headers", []string{b.csrf, b.csrf}, false, b.sessionCookie()},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req, _ := http.NewRequest("POST", "https://bokujo.example/k8s/clusters/dev/api/v1/namespaces", nil)
				req.AddCookie(&http.Cookie{Name: auth.SessionCookieName, Value: tc.session})
				for _, v := range tc.csrf {
					req.Header.Add(proxy.CSRFHeader, v)
				}
				u, m, err := f.svc.Authenticate(req)
				if err != nil {
					t.Fatal(err)
				}
				if u.Name != alice.Name || m.Kind != proxy.AuthCookie || m.CSRFValid != tc.wantOK {
					t.Errorf("got %s %+v", u.Name, m)
				}
			})
		}
	})

	t.Run("two session cookies are refused", func(t *testing.T) {
		req, _ := http.NewRequest("GET", f.srv.URL+"/v1/me", nil)
		req.AddCookie(&http.Cookie{Name: auth.SessionCookieName, Value: b.sessionCookie()})
		req.AddCookie(&http.Cookie{Name: auth.SessionCookieName, Value: other.sessionCookie()})
		if _, _, err := f.svc.Authenticate(req); err == nil {
			t.Fatal("accepted")
		}
	})
}

func TestLogout(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice, alicePW := f.user("alice")
	b := f.browser()
	if r := b.login(t, alice.Spec.Username, alicePW); r.status != http.StatusOK {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	cookie := b.sessionCookie()
	id := strings.Split(cookie, "_")[1]
	if r := b.do("POST", "/v1/logout", nil, nil); r.status != http.StatusForbidden {
		t.Fatalf("logout without CSRF: got %d %s", r.status, r.body)
	}
	r := b.do("POST", "/v1/logout", nil, map[string]string{proxy.CSRFHeader: b.csrf})
	if r.status != http.StatusNoContent {
		t.Fatalf("logout: got %d %s", r.status, r.body)
	}
	if sc := r.header.Get("Set-Cookie"); !strings.HasPrefix(sc, auth.SessionCookieName+"=;") || !strings.Contains(sc, "Max-Age=0") {
		t.Errorf("the cookie is not cleared: %q", sc)
	}
	if b.sessionCookie() != "" {
		t.Errorf("the browser still holds the cookie")
	}
	// Someone who copied the cookie before logout gets nothing.
	stale := f.do(nil, "GET", "/v1/me", nil, map[string]string{"Cookie": auth.SessionCookieName + "=" + cookie})
	if stale.status != http.StatusUnauthorized {
		t.Errorf("the old cookie: got %d, want 401", stale.status)
	}
	err := f.client.Get(context.Background(), client.ObjectKey{Name: id}, &v1alpha1.Token{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("the session's Token object remains: %v", err)
	}
	if r := f.do(nil, "POST", "/v1/logout", nil, nil); r.status != http.StatusNoContent {
		t.Errorf("logout without a session: got %d", r.status)
	}
}

func TestPasswordChange(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice, oldPW := f.user("alice")
	b, b2 := f.browser(), f.browser()
	for _, x := range []*browser{b, b2} {
		if r := x.login(t, alice.Spec.Username, oldPW); r.status != http.StatusOK {
			t.Fatalf("login: %d %s", r.status, r.body)
		}
	}
	apiTok, _ := f.token(alice.Name, auth.TokenRequest{})
	newPW := "a new passphrase " + f.suffix
	csrf := map[string]string{proxy.CSRFHeader: b.csrf}

	for _, tc := range []struct {
		name       string
		body       map[string]string
		header     map[string]string
		wantStatus int
		wantCode   string
	}{
		{"without CSRF", map[string]string{"currentPassword": oldPW, "newPassword": newPW}, nil, 403, auth.CodeCSRF},
		{"wrong current password", map[string]string{"currentPassword": "not-" + oldPW, "newPassword": newPW}, csrf, 403, auth.CodeInvalidCredentials},
		{"missing current password", map[string]string{"newPassword": newPW}, csrf, 403, auth.CodeInvalidCredentials},
		{"too short", map[string]string{"currentPassword": oldPW, "newPassword": "short"}, csrf, 400, auth.CodeWeakPassword},
		{"the username", map[string]string{"currentPassword": oldPW, "newPassword": strings.ToUpper(alice.Spec.Username)}, csrf, 400, auth.CodeWeakPassword},
		{"ok", map[string]string{"currentPassword": oldPW, "newPassword": newPW}, csrf, 204, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := b.do("POST", "/v1/me/password", tc.body, tc.header)
			if r.status != tc.wantStatus || r.code() != tc.wantCode {
				t.Fatalf("got %d %s, want %d %q", r.status, r.body, tc.wantStatus, tc.wantCode)
			}
			if strings.Contains(string(r.body), oldPW) || strings.Contains(string(r.body), newPW) {
				t.Errorf("the answer holds a password: %s", r.body)
			}
		})
	}
	if r := b.do("GET", "/v1/me", nil, nil); r.status != http.StatusOK {
		t.Errorf("the session that changed the password was ended: %d", r.status)
	}
	if r := b2.do("GET", "/v1/me", nil, nil); r.status != http.StatusUnauthorized {
		t.Errorf("another session survived the password change: %d", r.status)
	}
	if r := f.bearer(apiTok, "GET", "/v1/me", nil); r.status != http.StatusOK {
		t.Errorf("an API token was revoked by the password change: %d", r.status)
	}
	if r := f.browser().login(t, alice.Spec.Username, oldPW); r.status != http.StatusUnauthorized {
		t.Errorf("the old password: got %d", r.status)
	}
	if r := f.browser().login(t, alice.Spec.Username, newPW); r.status != http.StatusOK {
		t.Errorf("the new password: got %d %s", r.status, r.body)
	}
	if strings.Contains(f.logs.String(), oldPW) || strings.Contains(f.logs.String(), newPW) {
		t.Errorf("the logs hold a password")
	}
}

// An administrator's "choose a new password at first login" shows in
// /v1/me until the user changes it, and only for that user.
func TestFirstLoginPasswordChange(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	alice, alicePW := f.user("alice")
	bob, bobPW := f.user("bob")
	if err := f.svc.RequirePasswordChange(ctx, alice.Name); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RequirePasswordChange(ctx, "nobody-"+f.suffix); !errors.Is(err, auth.ErrUserNotFound) {
		t.Errorf("unknown user: got %v, want ErrUserNotFound", err)
	}
	mustChange := func(b *browser) bool {
		t.Helper()
		r := b.do("GET", "/v1/me", nil, nil)
		if r.status != http.StatusOK {
			t.Fatalf("/v1/me: %d %s", r.status, r.body)
		}
		var me struct {
			MustChangePassword bool `json:"mustChangePassword"`
		}
		if err := json.Unmarshal(r.body, &me); err != nil {
			t.Fatal(err)
		}
		return me.MustChangePassword
	}
	a, b := f.browser(), f.browser()
	if r := a.login(t, alice.Spec.Username, alicePW); r.status != http.StatusOK {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	if r := b.login(t, bob.Spec.Username, bobPW); r.status != http.StatusOK {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	if !mustChange(a) {
		t.Error("alice is not asked for a new password")
	}
	if mustChange(b) {
		t.Error("bob is asked for a new password")
	}
	// The server enforces it: every other route refuses alice, with a
	// session or with a token, until she chooses one.
	aliceTok, _ := f.token(alice.Name, auth.TokenRequest{})
	if r := f.bearer(aliceTok, "GET", "/v1/tokens", nil); r.status != http.StatusForbidden || r.code() != "PasswordChangeRequired" {
		t.Errorf("token list with a pending password change: got %d %s", r.status, r.body)
	}
	if r := a.do("POST", "/v1/tokens", map[string]any{"description": "x", "ttlSeconds": 3600}, map[string]string{proxy.CSRFHeader: a.csrf}); r.status != http.StatusForbidden || r.code() != "PasswordChangeRequired" {
		t.Errorf("minting a token with a pending password change: got %d %s", r.status, r.body)
	}
	if r := b.do("GET", "/v1/tokens", nil, nil); r.status != http.StatusOK {
		t.Errorf("bob's token list: got %d %s", r.status, r.body)
	}
	newPW := "a chosen passphrase " + f.suffix
	r := a.do("POST", "/v1/me/password", map[string]string{"currentPassword": alicePW, "newPassword": newPW}, map[string]string{proxy.CSRFHeader: a.csrf})
	if r.status != http.StatusNoContent {
		t.Fatalf("change: %d %s", r.status, r.body)
	}
	if mustChange(a) {
		t.Error("alice is still asked for a new password after choosing one")
	}
	if r := f.bearer(aliceTok, "GET", "/v1/tokens", nil); r.status != http.StatusOK {
		t.Errorf("token list after choosing a password: got %d %s", r.status, r.body)
	}
}

func TestDisabledUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice, alicePW := f.user("alice")
	b := f.browser()
	if r := b.login(t, alice.Spec.Username, alicePW); r.status != http.StatusOK {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	tok, _ := f.token(alice.Name, auth.TokenRequest{})
	ctx := context.Background()

	if err := f.svc.Disable(ctx, alice.Name); err != nil {
		t.Fatal(err)
	}
	if r := f.bearer(tok, "GET", "/v1/me", nil); r.status != http.StatusUnauthorized {
		t.Errorf("token of a disabled user: got %d", r.status)
	}
	if r := b.do("GET", "/v1/me", nil, nil); r.status != http.StatusUnauthorized {
		t.Errorf("session of a disabled user: got %d", r.status)
	}
	if r := f.browser().login(t, alice.Spec.Username, alicePW); r.status != http.StatusForbidden || r.code() != auth.CodeUserDisabled {
		t.Errorf("login of a disabled user: got %d %s", r.status, r.body)
	}

	if err := f.svc.Enable(ctx, alice.Name); err != nil {
		t.Fatal(err)
	}
	if r := f.bearer(tok, "GET", "/v1/me", nil); r.status != http.StatusOK {
		t.Errorf("token after enabling: got %d", r.status)
	}
	if r := b.do("GET", "/v1/me", nil, nil); r.status != http.StatusOK {
		t.Errorf("session after enabling: got %d", r.status)
	}

	// Disabled by editing the User object, as `kubectl apply` from Git
	// would: the watch carries it.
	begin := time.Now()
	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"state":"Disabled"}}`))
	if err := f.client.Patch(ctx, &v1alpha1.User{ObjectMeta: alice.ObjectMeta}, patch); err != nil {
		t.Fatal(err)
	}
	waitRefused(t, f, tok, begin)
}
