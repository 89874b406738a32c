package proxy_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"bokujo.io/bokujo/internal/proxy"
)

// testUsers maps bearer tokens (and session cookie values) to users.
var testUsers = map[string]*proxy.User{
	"alice-token":  {Name: "alice", Groups: []string{"ml", "data", "ml"}},
	"bob-token":    {Name: "bob"},
	"root-token":   {Name: "system:admin", Groups: []string{"system:masters"}},
	"sa-token":     {Name: "system:serviceaccount:kube-system:default", Groups: []string{"system:serviceaccounts"}},
	"empty-token":  {Name: ""},
	"ctrl-token":   {Name: "ali\nce"},
	"nul-token":    {Name: "alice\x00"},
	"space-token":  {Name: " alice"},
	"egroup-token": {Name: "carol", Groups: []string{""}},
	"cgroup-token": {Name: "carol", Groups: []string{"ml\r\nImpersonate-User: system:admin"}},
}

// testAuthenticator accepts `Authorization: Bearer <token>` and a
// `session=<token>` cookie whose CSRF token is "csrf-<token>".
type testAuthenticator struct{}

func (testAuthenticator) Authenticate(r *http.Request) (*proxy.User, proxy.AuthMethod, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if u := testUsers[tok]; ok && u != nil {
			return u, proxy.AuthMethod{Kind: proxy.AuthBearer}, nil
		}
		return nil, proxy.AuthMethod{}, proxy.ErrUnauthenticated
	}
	if c, err := r.Cookie("session"); err == nil {
		if u := testUsers[c.Value]; u != nil {
			valid := r.Header.Get(proxy.CSRFHeader) == "csrf-"+c.Value
			return u, proxy.AuthMethod{Kind: proxy.AuthCookie, CSRFValid: valid}, nil
		}
	}
	return nil, proxy.AuthMethod{}, proxy.ErrUnauthenticated
}

// testResolver: dev is granted to everyone, prod to alice only, down is
// disconnected, dead points at a closed port. Any other name is unknown.
type testResolver struct {
	dev, dead *proxy.Target
	// prodExists false makes prod unknown instead of ungranted.
	prodExists bool
}

func (r *testResolver) Resolve(_ context.Context, cluster string, u *proxy.User) (*proxy.Target, error) {
	switch cluster {
	case "dev":
		return r.dev, nil
	case "prod":
		if !r.prodExists {
			return nil, proxy.ErrClusterNotFound
		}
		if u.Name != "alice" {
			return nil, fmt.Errorf("user %s has no binding on prod: %w", u.Name, proxy.ErrClusterNotFound)
		}
		return r.dev, nil
	case "down":
		return nil, fmt.Errorf("agent disconnected: %w", proxy.ErrClusterUnavailable)
	case "dead":
		return r.dead, nil
	}
	return nil, proxy.ErrClusterNotFound
}

type memAuditor struct {
	mu   sync.Mutex
	recs []proxy.AuditRecord
}

func (a *memAuditor) Record(_ context.Context, rec proxy.AuditRecord) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recs = append(a.recs, rec)
}

func (a *memAuditor) records() []proxy.AuditRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]proxy.AuditRecord(nil), a.recs...)
}

// seenRequest is what the backend received.
type seenRequest struct {
	Method     string
	RequestURI string
	Header     http.Header
	BodyLen    int
}

// backend is an httptest apiserver stand-in that records what it got. An
// upgrade request is switched and then echoes bytes back.
type backend struct {
	srv *httptest.Server
	// release lets /stream send its second line.
	release chan struct{}
	mu      sync.Mutex
	seen    []seenRequest
	calls   atomic.Int32
}

func newBackend(t *testing.T) *backend {
	b := &backend{release: make(chan struct{})}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	b.calls.Add(1)
	body, err := io.ReadAll(r.Body)
	b.mu.Lock()
	b.seen = append(b.seen, seenRequest{Method: r.Method, RequestURI: r.RequestURI, Header: r.Header.Clone(), BodyLen: len(body)})
	b.mu.Unlock()
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	if r.Header.Get("Upgrade") != "" {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", r.Header.Get("Upgrade"))
		_ = brw.Flush()
		_, _ = io.Copy(conn, brw)
		return
	}
	if r.URL.Path == "/stream" {
		// Like a watch: one event now, the next much later.
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"type":"ADDED"}`)
		_ = http.NewResponseController(w).Flush()
		select {
		case <-b.release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprintln(w, `{"type":"MODIFIED"}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, `{"kind":"PodList","apiVersion":"v1","items":[]}`)
}

func (b *backend) last(t *testing.T) seenRequest {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.seen) == 0 {
		t.Fatal("the backend received no request")
	}
	return b.seen[len(b.seen)-1]
}

// noUpgradeTransport refuses upgrades like Go's HTTP/2 client does, so a
// test fails if an upgrade took the ordinary transport.
type noUpgradeTransport struct{ rt http.RoundTripper }

func (n noUpgradeTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Upgrade") != "" {
		return nil, errors.New(`http2: invalid Upgrade request header: ["SPDY/3.1"]`)
	}
	return n.rt.RoundTrip(r)
}

type fixture struct {
	handler http.Handler
	backend *backend
	auditor *memAuditor
	proxy   *httptest.Server
	addr    string
}

type fixtureOption func(*proxy.Options, *testResolver)

func newFixture(t *testing.T, opts ...fixtureOption) *fixture {
	t.Helper()
	b := newBackend(t)
	u, err := url.Parse(b.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL, _ := url.Parse(dead.URL)
	dead.Close()
	plain := b.srv.Client().Transport.(*http.Transport).Clone()
	upgrade := b.srv.Client().Transport.(*http.Transport).Clone()
	t.Cleanup(plain.CloseIdleConnections)
	t.Cleanup(upgrade.CloseIdleConnections)
	res := &testResolver{
		dev:        &proxy.Target{URL: u, Transport: noUpgradeTransport{plain}, UpgradeTransport: upgrade},
		dead:       &proxy.Target{URL: deadURL, Transport: plain, UpgradeTransport: upgrade},
		prodExists: true,
	}
	aud := &memAuditor{}
	o := proxy.Options{Authenticator: testAuthenticator{}, Resolver: res, Auditor: aud, MaxRequestBodyBytes: 1 << 10}
	for _, opt := range opts {
		opt(&o, res)
	}
	h, err := proxy.New(o)
	if err != nil {
		t.Fatal(err)
	}
	handler := h.Mount(http.NotFoundHandler())
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return &fixture{handler: handler, backend: b, auditor: aud, proxy: srv, addr: srv.Listener.Addr().String()}
}

// rawRequest is sent byte for byte, so header spelling, duplicates and
// unnormalised paths reach the proxy as written.
type rawRequest struct {
	method  string
	target  string
	headers [][2]string
	body    string
	chunked bool
}

type rawResponse struct {
	code   int
	header http.Header
	body   []byte
	// conn and r stay open after a 101, for the switched protocol.
	conn net.Conn
	r    *bufio.Reader
}

func (f *fixture) send(t *testing.T, req rawRequest) rawResponse {
	t.Helper()
	conn, err := net.DialTimeout("tcp", f.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	method := req.method
	if method == "" {
		method = http.MethodGet
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, req.target, f.addr)
	hasConnection := false
	for _, h := range req.headers {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
		hasConnection = hasConnection || strings.EqualFold(h[0], "Connection")
	}
	if !hasConnection {
		b.WriteString("Connection: close\r\n")
	}
	switch {
	case req.chunked:
		b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		for chunk := range chunks(req.body, 100) {
			fmt.Fprintf(&b, "%x\r\n%s\r\n", len(chunk), chunk)
		}
		b.WriteString("0\r\n\r\n")
	case req.body != "":
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(req.body), req.body)
	default:
		b.WriteString("\r\n")
	}
	if _, err := io.WriteString(conn, b.String()); err != nil {
		// The proxy may answer 413 and close before the whole body is sent.
		t.Logf("write request: %v", err)
	}
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		conn.Close()
		t.Fatalf("read response: %v", err)
	}
	out := rawResponse{code: resp.StatusCode, header: resp.Header}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		out.conn, out.r = conn, r
		t.Cleanup(func() { conn.Close() })
		return out
	}
	out.body, err = io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response body: %v", err)
	}
	conn.Close()
	return out
}

func chunks(s string, n int) func(func(string) bool) {
	return func(yield func(string) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

// identityHeaders is every header the backend got that carries an
// identity or a credential, by lower-case name.
func identityHeaders(h http.Header) map[string][]string {
	out := map[string][]string{}
	for k, v := range h {
		l := strings.ReplaceAll(strings.ToLower(k), "_", "-")
		if strings.HasPrefix(l, "impersonate-") || strings.HasPrefix(l, "x-remote-") ||
			l == "authorization" || l == "proxy-authorization" || l == "cookie" || l == "x-csrf-token" {
			out[l] = append(out[l], v...)
		}
	}
	return out
}
