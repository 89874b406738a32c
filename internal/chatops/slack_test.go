package chatops

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"bokujo.io/bokujo/internal/proxy"
	"bokujo.io/bokujo/internal/release"
)

type users map[string]*proxy.User

func (u users) ChatUser(_ context.Context, provider, subject string) (*proxy.User, error) {
	if provider != IdentityProvider {
		return nil, nil
	}
	return u[subject], nil
}

var secret = []byte("test-signing-secret")

func signed(t *testing.T, now time.Time, body string, sign []byte) *http.Request {
	t.Helper()
	ts := strconv.FormatInt(now.Unix(), 10)
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/slack/commands", strings.NewReader(body))
	r.Header.Set("X-Slack-Request-Timestamp", ts)
	if sign != nil {
		r.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(Sign(sign, ts, []byte(body))))
	}
	return r
}

// TestSignatureAgainstSlackExample checks Sign with the example of Slack's
// documentation ("Verifying requests from Slack").
func TestSignatureAgainstSlackExample(t *testing.T) {
	body := "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	got := hex.EncodeToString(Sign([]byte("8f742231b10e8888abcd99yyyzzz85a5"), "1531420618", []byte(body)))
	if want := "a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"; got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
}

func TestRequestsAreVerified(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := New(Options{SigningSecret: secret, Users: users{}, Now: func() time.Time { return now }})
	body := url.Values{"team_id": {"T1"}, "user_id": {"U1"}, "text": {"help"}}.Encode()
	cases := []struct {
		name string
		req  *http.Request
		want int
	}{
		{"good", signed(t, now, body, secret), http.StatusOK},
		{"no signature", signed(t, now, body, nil), http.StatusUnauthorized},
		{"wrong secret", signed(t, now, body, []byte("other")), http.StatusUnauthorized},
		{"replayed after 6 minutes", signed(t, now.Add(-6*time.Minute), body, secret), http.StatusUnauthorized},
		{"from the future", signed(t, now.Add(6*time.Minute), body, secret), http.StatusUnauthorized},
		{"body changed after signing", func() *http.Request {
			r := signed(t, now, body, secret)
			r.Body = http.NoBody
			return r
		}(), http.StatusUnauthorized},
		{"huge body", signed(t, now, strings.Repeat("a", maxBody+1), secret), http.StatusRequestEntityTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			s.Commands(w, tc.req)
			if w.Code != tc.want {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, tc.want)
			}
		})
	}
	unconfigured := New(Options{Users: users{}})
	w := httptest.NewRecorder()
	unconfigured.Commands(w, signed(t, time.Now(), body, secret))
	if w.Code != http.StatusNotFound {
		t.Fatalf("no signing secret: %d, want 404", w.Code)
	}
}

func TestUnknownUserIsRefusedPolitely(t *testing.T) {
	now := time.Now()
	called := false
	s := New(Options{SigningSecret: secret, Users: users{"T1/UALICE": {Name: "alice"}},
		Releases: func(context.Context, string, *proxy.User) (*release.Client, error) { called = true; return nil, nil }})
	w := httptest.NewRecorder()
	s.Commands(w, signed(t, now, url.Values{"team_id": {"T1"}, "user_id": {"UEVE"}, "text": {"abort dev/shop/web-1"}}.Encode(), secret))
	var m Message
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m.ResponseType != "ephemeral" || !strings.Contains(m.Text, "not linked") || called {
		t.Fatalf("reply %+v, cluster called %t", m, called)
	}
}

func TestParse(t *testing.T) {
	good := map[string]command{
		"release dev/shop/web web:v2":     {verb: "release", cluster: "dev", ns: "shop", name: "web", image: "web:v2", slow: true},
		"release dev/shop/web app=web:v2": {verb: "release", cluster: "dev", ns: "shop", name: "web", container: "app", image: "web:v2", slow: true},
		"promote dev/shop/web-x1":         {verb: "promote", cluster: "dev", ns: "shop", name: "web-x1"},
		"history dev/shop":                {verb: "history", cluster: "dev", ns: "shop"},
	}
	for text, want := range good {
		got, err := parse(text)
		if err != nil || got != want {
			t.Errorf("parse(%q) = %+v, %v; want %+v", text, got, err, want)
		}
	}
	for _, text := range []string{"", "help", "explode dev/shop/web", "release dev/shop web:v2", "status dev/Shop/web", "abort dev/../x", "release dev/shop/web a=", "history dev"} {
		if _, err := parse(text); err == nil {
			t.Errorf("parse(%q) accepted", text)
		}
	}
}

func TestResponseURLMustBeSlack(t *testing.T) {
	s := New(Options{SigningSecret: secret})
	for raw, want := range map[string]bool{
		"https://hooks.slack.com/commands/T1/1/x": true,
		"http://hooks.slack.com/commands/T1/1/x":  false,
		"https://169.254.169.254/latest":          false,
		"https://hooks.slack.com.evil.example/x":  false,
	} {
		u, _ := url.Parse(raw)
		if got := s.opts.AllowResponseURL(u); got != want {
			t.Errorf("%s allowed=%t, want %t", raw, got, want)
		}
	}
}
