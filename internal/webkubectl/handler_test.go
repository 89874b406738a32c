package webkubectl

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"bokujo.io/bokujo/internal/proxy"
)

// cookieAuth stands in for the auth service: the real one needs a
// management cluster and is exercised by test/integration/webkubectl.
type cookieAuth struct{ csrf string }

func (a cookieAuth) Authenticate(r *http.Request) (*proxy.User, proxy.AuthMethod, error) {
	if _, err := r.Cookie("__Host-bokujo_session"); err != nil {
		return nil, proxy.AuthMethod{}, proxy.ErrUnauthenticated
	}
	return &proxy.User{Name: "alice"}, proxy.AuthMethod{Kind: proxy.AuthCookie, CSRFValid: r.Header.Get(proxy.CSRFHeader) == a.csrf}, nil
}

type noTokens struct{}

func (noTokens) IssueTerminalToken(context.Context, string, time.Duration) (string, string, time.Time, error) {
	panic("not reached")
}
func (noTokens) RevokeToken(context.Context, string, string) error { return nil }

func handshake(h http.Handler, query string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "https://bokujo.example/v1/terminal?"+query, nil)
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Sec-WebSocket-Version", "13")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	r.AddCookie(&http.Cookie{Name: "__Host-bokujo_session", Value: "x"})
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestHandshakeBrowserRules: the rules applied before any cluster is
// looked at. Every case is refused with its status and an explanation.
func TestHandshakeBrowserRules(t *testing.T) {
	public, _ := url.Parse("https://bokujo.example")
	h, err := New(Options{Authenticator: cookieAuth{csrf: "good"}, Tokens: noTokens{}, PublicURL: public, Kubectl: "/bin/true", Wrapper: "/bin/true"})
	if err != nil {
		t.Fatal(err)
	}
	origin := map[string]string{"Origin": "https://bokujo.example"}
	cases := []struct {
		name  string
		query string
		hdr   map[string]string
		want  int
		says  string
	}{
		{"csrf header instead of parameter", "cluster=dev", map[string]string{"Origin": "https://bokujo.example", proxy.CSRFHeader: "good"}, 403, "csrf"},
		{"two csrf parameters", "cluster=dev&csrf=good&csrf=good", origin, 403, "csrf"},
		{"origin with a path", "cluster=dev&csrf=good", map[string]string{"Origin": "https://bokujo.example/x"}, 403, "only be opened from https://bokujo.example"},
		{"http origin", "cluster=dev&csrf=good", map[string]string{"Origin": "http://bokujo.example"}, 403, "only be opened from"},
		{"null origin", "cluster=dev&csrf=good", map[string]string{"Origin": "null"}, 403, "only be opened from"},
		{"cross-site fetch", "cluster=dev&csrf=good", map[string]string{"Origin": "https://bokujo.example", "Sec-Fetch-Site": "same-site"}, 403, "bokujo's own pages"},
		{"no cluster", "csrf=good", origin, 400, "cluster must name"},
		{"cluster with a slash", "cluster=a/b&csrf=good", origin, 400, "cluster must name"},
		{"namespace too long", "cluster=dev&csrf=good&namespace=" + strings.Repeat("a", 64), origin, 400, "namespace must be"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := handshake(h, c.query, c.hdr)
			if w.Code != c.want || !strings.Contains(w.Body.String(), c.says) {
				t.Fatalf("got %d %s; want %d saying %q", w.Code, w.Body, c.want, c.says)
			}
		})
	}
}

// TestTerminalUnavailableWithoutKubectl: a server without the bundled
// kubectl starts, and the terminal says what is missing (to a logged-in
// user only).
func TestTerminalUnavailableWithoutKubectl(t *testing.T) {
	t.Setenv("BOKUJO_BIN_DIR", t.TempDir())
	public, _ := url.Parse("https://bokujo.example")
	h, err := New(Options{Authenticator: cookieAuth{csrf: "good"}, Tokens: noTokens{}, PublicURL: public, Wrapper: "/bin/true"})
	if err != nil {
		t.Fatal(err)
	}
	w := handshake(h, "cluster=dev&csrf=good", map[string]string{"Origin": "https://bokujo.example"})
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "kubectl binary") {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
	if _, err := New(Options{Authenticator: cookieAuth{}, Tokens: noTokens{}, PublicURL: public, Kubectl: "/nonexistent/kubectl"}); err == nil {
		t.Fatal("an explicit kubectl that does not exist was accepted")
	}
}

// TestCommandSlots: commands beyond Limits.Running wait for a slot, up to
// a bound after which they run anyway, and stop waiting when their
// session ends.
func TestCommandSlots(t *testing.T) {
	public, _ := url.Parse("https://bokujo.example")
	h, err := New(Options{Authenticator: cookieAuth{}, Tokens: noTokens{}, PublicURL: public, Kubectl: "/bin/true", Wrapper: "/bin/true",
		Limits: Limits{Running: 1}})
	if err != nil {
		t.Fatal(err)
	}
	h.slotWait = 50 * time.Millisecond
	if taken, ok := h.acquireSlot(context.Background()); !taken || !ok {
		t.Fatal("the free slot was not taken")
	}
	if taken, ok := h.acquireSlot(context.Background()); taken || !ok {
		t.Fatalf("over the limit: taken %v ok %v; want to run without a slot after the wait", taken, ok)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h.slotWait = time.Hour
	if _, ok := h.acquireSlot(ctx); ok {
		t.Fatal("a closed session kept waiting")
	}
	h.releaseSlot()
	if taken, ok := h.acquireSlot(context.Background()); !taken || !ok {
		t.Fatal("a released slot was not taken")
	}
}
