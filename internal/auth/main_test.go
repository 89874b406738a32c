package auth_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/api/management/v1alpha1/crds"
	"bokujo.io/bokujo/internal/auth"
	"bokujo.io/bokujo/internal/crdinstall"
	"bokujo.io/bokujo/test/framework"
)

// mgmt is the management cluster every test shares.
const mgmt = "mgmt"

var env *framework.Env

func TestMain(m *testing.M) {
	framework.Main(m, &env, framework.ClusterSpec{Name: mgmt})
}

var setup struct {
	once   sync.Once
	cfg    *rest.Config
	scheme *runtime.Scheme
	err    error
}

// management installs the CRDs and the system namespace once and returns
// the cluster's admin config and a scheme with the management types.
func management(t *testing.T) (*rest.Config, *runtime.Scheme) {
	t.Helper()
	if env == nil {
		t.Skip("integration test: needs the management cluster (not started with -short)")
	}
	setup.once.Do(func() {
		cfg := env.RESTConfig(t, mgmt)
		ctx := context.Background()
		list, err := crds.CRDs()
		if err != nil {
			setup.err = err
			return
		}
		if err := crdinstall.Install(ctx, cfg, list); err != nil {
			setup.err = err
			return
		}
		_, err = env.Client(t, mgmt).CoreV1().Namespaces().Create(ctx,
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.SystemNamespace}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			setup.err = err
			return
		}
		scheme := runtime.NewScheme()
		if err := clientgoscheme.AddToScheme(scheme); err != nil {
			setup.err = err
			return
		}
		if err := v1alpha1.AddToScheme(scheme); err != nil {
			setup.err = err
			return
		}
		setup.cfg, setup.scheme = cfg, scheme
	})
	if setup.err != nil {
		t.Fatalf("set up the management cluster: %v", setup.err)
	}
	return rest.CopyConfig(setup.cfg), setup.scheme
}

// fixture is one auth Service with its own cache, back-off tables and
// logs, served by an httptest TLS server.
type fixture struct {
	t      *testing.T
	svc    *auth.Service
	srv    *httptest.Server
	client client.Client // direct, uncached
	logs   *syncBuffer
	// suffix makes this test's cluster-scoped names unique.
	suffix string

	mu     sync.Mutex
	issued []string // every token value this test saw
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// forwardedFor trusts X-Forwarded-For as a server behind a load balancer
// would, so tests can send logins from several addresses.
func forwardedFor(r *http.Request) string {
	if v := r.Header.Get("X-Forwarded-For"); v != "" {
		return v
	}
	host, _, _ := strings.Cut(r.RemoteAddr, ":")
	return host
}

func newFixture(t *testing.T, mods ...func(*auth.Options)) *fixture {
	t.Helper()
	cfg, scheme := management(t)
	f := &fixture{t: t, logs: &syncBuffer{}, suffix: strings.ToLower(rand.Text()[:6])}
	// Checked last, after the service has stopped and written its last line.
	t.Cleanup(f.checkNoLeaks)

	var err error
	f.client, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.New(cfg, cache.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	opts := auth.Options{
		Cache:      c,
		Client:     f.client,
		Logger:     slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		GCInterval: 200 * time.Millisecond,
		ClientIP:   forwardedFor,
	}
	for _, m := range mods {
		m(&opts)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.svc, err = auth.New(ctx, opts)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = c.Start(ctx) }()
	go func() {
		defer wg.Done()
		if err := f.svc.Start(ctx); err != nil {
			t.Errorf("service: %v", err)
		}
	}()
	if !c.WaitForCacheSync(ctx) {
		cancel()
		t.Fatal("cache did not sync")
	}
	mux := http.NewServeMux()
	f.svc.Register(mux)
	f.srv = httptest.NewTLSServer(mux)
	t.Cleanup(func() {
		f.srv.Close()
		cancel()
		wg.Wait()
	})
	return f
}

// user creates a local user named base-<suffix> and returns it with its
// password.
func (f *fixture) user(base string) (*v1alpha1.User, string) {
	f.t.Helper()
	username := base + "-" + f.suffix
	password := "pw-" + strings.ToLower(rand.Text())
	u, err := f.svc.CreateLocalUser(context.Background(), username, strings.ToUpper(base[:1])+base[1:], password)
	if err != nil {
		f.t.Fatalf("create user %s: %v", username, err)
	}
	f.t.Cleanup(func() { _ = f.client.Delete(context.Background(), u) })
	return u, password
}

// makeAdmin binds the user to the admin GlobalRole.
func (f *fixture) makeAdmin(name string) {
	f.t.Helper()
	f.bind(v1alpha1.SubjectKindUser, name, v1alpha1.GlobalRoleAdmin)
}

func (f *fixture) bind(kind v1alpha1.SubjectKind, name, role string) {
	f.t.Helper()
	b := &v1alpha1.GlobalRoleBinding{
		ObjectMeta: metav1.ObjectMeta{GenerateName: role + "-"},
		Spec: v1alpha1.GlobalRoleBindingSpec{
			GlobalRoleName: role,
			Subject:        v1alpha1.Subject{Kind: kind, Name: name},
		},
	}
	if err := f.client.Create(context.Background(), b); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = f.client.Delete(context.Background(), b) })
}

// token issues an API token through the Go API.
func (f *fixture) token(userName string, req auth.TokenRequest) (string, *v1alpha1.Token) {
	f.t.Helper()
	v, tok, err := f.svc.CreateToken(context.Background(), userName, req)
	if err != nil {
		f.t.Fatalf("create token: %v", err)
	}
	f.record(v)
	return v, tok
}

func (f *fixture) record(v string) {
	if v == "" {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.issued = append(f.issued, v)
}

// checkNoLeaks fails the test when a token value it saw, or the secret part
// of one, appears in the service's logs or in any stored Token object.
func (f *fixture) checkNoLeaks() {
	f.mu.Lock()
	issued := append([]string(nil), f.issued...)
	f.mu.Unlock()
	if len(issued) == 0 {
		return
	}
	logs := f.logs.String()
	var objs unstructured.UnstructuredList
	objs.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("TokenList"))
	if err := f.client.List(context.Background(), &objs); err != nil {
		f.t.Errorf("list tokens: %v", err)
	}
	stored, err := json.Marshal(objs.Items)
	if err != nil {
		f.t.Error(err)
	}
	for _, v := range issued {
		secret := v[strings.LastIndex(v, "_")+1:]
		if strings.Contains(logs, secret) {
			f.t.Errorf("a token secret appears in the logs")
		}
		if bytes.Contains(stored, []byte(secret)) {
			f.t.Errorf("a token secret appears in a stored Token object")
		}
	}
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// code is the error code of a JSON error body.
func (r *response) code() string {
	var e struct {
		Error struct{ Code, Message string }
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Error.Code
}

// browser is an HTTP client with a cookie jar and the CSRF token of its
// session, like the web UI.
type browser struct {
	f    *fixture
	srv  *httptest.Server
	c    *http.Client
	csrf string
}

func (f *fixture) browser() *browser { return f.browserAt(f.srv) }

// browserAt is a browser for another server in front of the service.
func (f *fixture) browserAt(srv *httptest.Server) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		f.t.Fatal(err)
	}
	c := *srv.Client()
	c.Jar = jar
	return &browser{f: f, srv: srv, c: &c}
}

// login logs the browser in and keeps the CSRF token.
func (b *browser) login(t *testing.T, username, password string) *response {
	t.Helper()
	r := b.f.doAt(b.srv, b.c, "POST", "/v1/login", map[string]string{"username": username, "password": password}, nil)
	if r.status == http.StatusOK {
		var lr struct{ CSRFToken string }
		r.decode(t, &lr)
		b.csrf = lr.CSRFToken
	}
	return r
}

// do sends a request through the browser; header may add or override.
func (b *browser) do(method, path string, body any, header map[string]string) *response {
	return b.f.doAt(b.srv, b.c, method, path, body, header)
}

// sessionCookie is the cookie the jar holds.
func (b *browser) sessionCookie() string {
	for _, c := range b.c.Jar.Cookies(mustURL(b.srv.URL)) {
		if c.Name == auth.SessionCookieName {
			return c.Value
		}
	}
	return ""
}

// do sends a request. A body that is not a string or []byte is sent as
// JSON. Token values found in answers are recorded for the leak check.
func (f *fixture) do(c *http.Client, method, path string, body any, header map[string]string) *response {
	f.t.Helper()
	return f.doAt(f.srv, c, method, path, body, header)
}

func (f *fixture) doAt(srv *httptest.Server, c *http.Client, method, path string, body any, header map[string]string) *response {
	f.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			f.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	if c == nil {
		c = srv.Client()
	}
	resp, err := c.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == auth.SessionCookieName {
			f.record(ck.Value)
		}
	}
	var tok struct{ Token string }
	if json.Unmarshal(raw, &tok) == nil {
		f.record(tok.Token)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// bearer sends a request with a bearer token.
func (f *fixture) bearer(token, method, path string, body any) *response {
	f.t.Helper()
	return f.do(nil, method, path, body, map[string]string{"Authorization": "Bearer " + token})
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
