package auth_test

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"bokujo.io/bokujo/internal/auth"
)

func TestLogin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice, alicePW := f.user("alice")
	carol, carolPW := f.user("carol")
	if err := f.svc.Disable(context.Background(), carol.Name); err != nil {
		t.Fatal(err)
	}
	wrongBody := f.do(nil, "POST", "/v1/login", map[string]string{"username": alice.Spec.Username, "password": "not-the-password"}, nil).body

	cases := []struct {
		name       string
		body       any
		header     map[string]string
		wantStatus int
		wantCode   string
		// sameAsWrongPassword: the body must equal the wrong-password one.
		sameAsWrongPassword bool
	}{
		{name: "ok", body: map[string]string{"username": alice.Spec.Username, "password": alicePW}, wantStatus: 200},
		{name: "username in another case", body: map[string]string{"username": strings.ToUpper(alice.Spec.Username), "password": alicePW}, wantStatus: 200},
		{name: "wrong password", body: map[string]string{"username": alice.Spec.Username, "password": "wrong-password-123"},
			wantStatus: 401, wantCode: auth.CodeInvalidCredentials, sameAsWrongPassword: true},
		{name: "unknown user", body: map[string]string{"username": "nobody-" + f.suffix, "password": alicePW},
			wantStatus: 401, wantCode: auth.CodeInvalidCredentials, sameAsWrongPassword: true},
		{name: "empty username", body: map[string]string{"username": "", "password": alicePW},
			wantStatus: 401, wantCode: auth.CodeInvalidCredentials, sameAsWrongPassword: true},
		{name: "disabled user, right password", body: map[string]string{"username": carol.Spec.Username, "password": carolPW},
			wantStatus: 403, wantCode: auth.CodeUserDisabled},
		{name: "disabled user, wrong password", body: map[string]string{"username": carol.Spec.Username, "password": "wrong-password-123"},
			wantStatus: 401, wantCode: auth.CodeInvalidCredentials, sameAsWrongPassword: true},
		{name: "unknown field", body: `{"username":"x","password":"y","admin":true}`, wantStatus: 400, wantCode: auth.CodeBadRequest},
		{name: "not JSON", body: `username=x&password=y`, wantStatus: 400, wantCode: auth.CodeBadRequest},
		{name: "trailing data", body: `{"username":"x","password":"y"} {}`, wantStatus: 400, wantCode: auth.CodeBadRequest},
		{name: "form content type", body: `{"username":"x","password":"y"}`, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			wantStatus: 415, wantCode: auth.CodeUnsupportedMediaType},
		{name: "body over 64 KiB", body: `{"username":"` + strings.Repeat("a", 70<<10) + `","password":"y"}`, wantStatus: 413, wantCode: auth.CodeRequestTooLarge},
		{name: "cross-site", body: map[string]string{"username": alice.Spec.Username, "password": alicePW},
			header: map[string]string{"Sec-Fetch-Site": "cross-site"}, wantStatus: 403, wantCode: auth.CodeCrossSite},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(nil, "POST", "/v1/login", tc.body, tc.header)
			if r.status != tc.wantStatus || r.code() != tc.wantCode {
				t.Fatalf("got %d %s, want %d %q", r.status, r.body, tc.wantStatus, tc.wantCode)
			}
			if tc.sameAsWrongPassword && !bytes.Equal(r.body, wrongBody) {
				t.Errorf("body %s differs from the wrong-password body %s", r.body, wrongBody)
			}
			if tc.wantStatus != 200 {
				if len(r.header.Values("Set-Cookie")) > 0 {
					t.Errorf("a failed login set a cookie: %v", r.header.Values("Set-Cookie"))
				}
				return
			}
			var lr struct {
				User      struct{ Name, Username, DisplayName string }
				CSRFToken string
				ExpiresAt time.Time
			}
			r.decode(t, &lr)
			if lr.User.Name != alice.Name || lr.CSRFToken == "" {
				t.Errorf("login answer %s", r.body)
			}
			if d := time.Until(lr.ExpiresAt); d < 11*time.Hour || d > 12*time.Hour+time.Minute {
				t.Errorf("session expires in %s, want 12h", d)
			}
			checkSessionCookie(t, r, lr.ExpiresAt)
		})
	}
}

// checkSessionCookie checks the attributes the web UI's safety rests on.
func checkSessionCookie(t *testing.T, r *response, expires time.Time) {
	t.Helper()
	var raw string
	for _, v := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(v, auth.SessionCookieName+"=") {
			raw = v
		}
	}
	if raw == "" {
		t.Fatalf("no %s cookie in %v", auth.SessionCookieName, r.header.Values("Set-Cookie"))
	}
	attrs := strings.Split(raw, "; ")
	for _, want := range []string{"Path=/", "HttpOnly", "Secure", "SameSite=Strict"} {
		if !slices.Contains(attrs, want) {
			t.Errorf("cookie %q lacks %s", raw[strings.Index(raw, ";"):], want)
		}
	}
	for _, a := range attrs {
		if v, ok := strings.CutPrefix(a, "Max-Age="); ok {
			n, _ := strconv.Atoi(v)
			if d := time.Duration(n) * time.Second; d < time.Until(expires)-time.Minute || d > time.Until(expires)+time.Minute {
				t.Errorf("Max-Age %s does not match the expiry in %s", d, time.Until(expires))
			}
		}
	}
}

func TestLoginTimingDoesNotRevealUsers(t *testing.T) {
	t.Parallel()
	// Enough attempts for a median, without the back-off answering first.
	lenient := auth.BackoffPolicy{FreeFailures: 1000, BaseDelay: time.Second, MaxDelay: time.Second, ForgetAfter: time.Hour}
	f := newFixture(t, func(o *auth.Options) { o.UserBackoff, o.IPBackoff = lenient, lenient })
	alice, _ := f.user("alice")
	median := func(username func(int) string) time.Duration {
		var ds []time.Duration
		for i := range 12 {
			begin := time.Now()
			r := f.do(nil, "POST", "/v1/login", map[string]string{"username": username(i), "password": "wrong-password-123"}, nil)
			ds = append(ds, time.Since(begin))
			if r.status != http.StatusUnauthorized {
				t.Fatalf("got %d %s", r.status, r.body)
			}
		}
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	wrong := median(func(int) string { return alice.Spec.Username })
	unknown := median(func(i int) string { return "ghost-" + strconv.Itoa(i) + "-" + f.suffix })
	t.Logf("median answer: wrong password %s, unknown user %s", wrong, unknown)
	// Without the dummy hash an unknown user answers in well under a
	// millisecond while a password hash takes tens of milliseconds.
	if unknown < wrong/3 {
		t.Errorf("unknown users answer much faster (%s) than wrong passwords (%s)", unknown, wrong)
	}
}

func TestLockout(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(o *auth.Options) {
		o.IPBackoff = auth.BackoffPolicy{FreeFailures: 8, BaseDelay: time.Second, MaxDelay: 15 * time.Minute, ForgetAfter: time.Hour}
	})
	alice, alicePW := f.user("alice")
	bob, bobPW := f.user("bob")
	login := func(username, password, from string) *response {
		return f.do(nil, "POST", "/v1/login", map[string]string{"username": username, "password": password},
			map[string]string{"X-Forwarded-For": from})
	}
	retryAfter := func(t *testing.T, r *response) time.Duration {
		t.Helper()
		if r.status != http.StatusTooManyRequests || r.code() != auth.CodeTooManyRequests {
			t.Fatalf("got %d %s, want 429", r.status, r.body)
		}
		n, err := strconv.Atoi(r.header.Get("Retry-After"))
		if err != nil || n < 1 {
			t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
		}
		return time.Duration(n) * time.Second
	}

	t.Run("username locked after 5 failures, then recovers", func(t *testing.T) {
		for i := range 5 {
			if r := login(alice.Spec.Username, "wrong-password-123", "192.0.2.1"); r.status != http.StatusUnauthorized {
				t.Fatalf("failure %d: got %d %s", i+1, r.status, r.body)
			}
		}
		// Even the right password, from another address, is not checked.
		wait := retryAfter(t, login(alice.Spec.Username, alicePW, "192.0.2.2"))
		if wait > 2*time.Second {
			t.Errorf("first delay %s, want 1 s", wait)
		}
		time.Sleep(wait + 100*time.Millisecond)
		if r := login(alice.Spec.Username, alicePW, "192.0.2.2"); r.status != http.StatusOK {
			t.Fatalf("after the delay: got %d %s", r.status, r.body)
		}
		// Success cleared the count: one failure is a plain 401 again.
		if r := login(alice.Spec.Username, "wrong-password-123", "192.0.2.2"); r.status != http.StatusUnauthorized {
			t.Fatalf("after success: got %d %s", r.status, r.body)
		}
	})

	t.Run("delay doubles", func(t *testing.T) {
		for failures := 0; failures < 6; {
			switch r := login(bob.Spec.Username, "wrong-password-123", "192.0.2.3"); r.status {
			case http.StatusTooManyRequests:
				time.Sleep(retryAfter(t, r) + 100*time.Millisecond)
			case http.StatusUnauthorized:
				failures++
			default:
				t.Fatalf("got %d %s", r.status, r.body)
			}
		}
		if wait := retryAfter(t, login(bob.Spec.Username, bobPW, "192.0.2.3")); wait < 2*time.Second {
			t.Errorf("delay after 6 failures %s, want 2 s", wait)
		}
	})

	t.Run("unknown username locked like a real one", func(t *testing.T) {
		ghost := "ghost-" + f.suffix
		for range 5 {
			login(ghost, "wrong-password-123", "192.0.2.4")
		}
		retryAfter(t, login(ghost, "wrong-password-123", "192.0.2.5"))
	})

	t.Run("source address locked across usernames", func(t *testing.T) {
		for i := range 8 {
			r := login("spray-"+strconv.Itoa(i)+"-"+f.suffix, "wrong-password-123", "198.51.100.7")
			if r.status != http.StatusUnauthorized {
				t.Fatalf("failure %d: got %d %s", i+1, r.status, r.body)
			}
		}
		carol, carolPW := f.user("carol")
		retryAfter(t, login(carol.Spec.Username, carolPW, "198.51.100.7"))
		// Another address is not affected.
		if r := login(carol.Spec.Username, carolPW, "198.51.100.8"); r.status != http.StatusOK {
			t.Fatalf("other address: got %d %s", r.status, r.body)
		}
	})

	t.Run("a concurrent burst gets no more than the free attempts", func(t *testing.T) {
		dave, _ := f.user("dave")
		var mu sync.Mutex
		counts := map[int]int{}
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				r := login(dave.Spec.Username, "wrong-password-123", "203.0.113."+strconv.Itoa(i+1))
				mu.Lock()
				counts[r.status]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if counts[http.StatusUnauthorized] > 5 || counts[http.StatusUnauthorized]+counts[http.StatusTooManyRequests] != 20 {
			t.Errorf("answers %v: want at most 5 checked passwords, the rest 429", counts)
		}
	})
}
