package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	webui "bokujo.io/bokujo/web"
)

const testIndex = `<!doctype html><html><head>` +
	`<script type="module" crossorigin src="/assets/index-abc123.js"></script>` +
	`<link rel="stylesheet" href="/assets/index-def456.css"></head><body><div id="root"></div></body></html>`

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func testFiles(t *testing.T) fstest.MapFS {
	return fstest.MapFS{
		"index.html":                {Data: []byte(testIndex)},
		"favicon.svg":               {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)},
		"assets/index-abc123.js":    {Data: []byte(`console.log("app")`)},
		"assets/index-abc123.js.gz": {Data: gz(t, `console.log("app")`)},
		"assets/index-def456.css":   {Data: []byte(`body{margin:0}`)},
	}
}

func newTestHandler(t *testing.T) *Handler {
	t.Helper()
	h, err := New(testFiles(t))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func do(h http.Handler, method, target string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	h := newTestHandler(t)
	want := map[string]string{
		"Content-Security-Policy": "default-src 'self'; base-uri 'none'; connect-src 'self'; font-src 'self'; form-action 'self'; " +
			"frame-ancestors 'none'; img-src 'self' data:; object-src 'none'; script-src 'self'; style-src 'self'",
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "same-origin",
	}
	for _, tc := range []struct{ method, path string }{
		{"GET", "/"},
		{"GET", "/clusters/dev"},
		{"GET", "/assets/index-abc123.js"},
		{"GET", "/assets/missing.js"},
		{"GET", "/favicon.svg"},
		{"POST", "/"},
		{"GET", "/a/../b"},
	} {
		rec := do(h, tc.method, tc.path)
		for k, v := range want {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("%s %s: %s = %q, want %q", tc.method, tc.path, k, got, v)
			}
		}
	}
}

func TestCSPHasNoUnsafeSources(t *testing.T) {
	csp := DefaultCSP.String()
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "*", "http:", "https:"} {
		if strings.Contains(csp, bad) {
			t.Errorf("CSP allows %s: %s", bad, csp)
		}
	}
}

func TestAssetsAreImmutableAndCompressed(t *testing.T) {
	h := newTestHandler(t)
	rec := do(h, "GET", "/assets/index-abc123.js", "Accept-Encoding", "gzip, br")
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	if got := rec.Header().Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
		t.Errorf("Cache-Control = %q", got)
	}
	if got := rec.Header().Get("Content-Type"); got != "text/javascript; charset=utf-8" {
		t.Errorf("Content-Type = %q", got)
	}
	if rec.Header().Get("Content-Encoding") != "gzip" || rec.Header().Get("Vary") != "Accept-Encoding" {
		t.Fatalf("not sent compressed: %v", rec.Header())
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := io.ReadAll(zr); string(body) != `console.log("app")` {
		t.Errorf("body %q", body)
	}

	plainRec := do(h, "GET", "/assets/index-abc123.js", "Accept-Encoding", "gzip;q=0")
	if plainRec.Header().Get("Content-Encoding") != "" || plainRec.Body.String() != `console.log("app")` {
		t.Errorf("gzip;q=0 got %v %q", plainRec.Header(), plainRec.Body.String())
	}
	if plainRec.Header().Get("ETag") == rec.Header().Get("ETag") {
		t.Error("compressed and plain answers share an ETag")
	}

	css := do(h, "GET", "/assets/index-def456.css")
	if css.Code != 200 || css.Header().Get("Content-Type") != "text/css; charset=utf-8" || css.Header().Get("Content-Encoding") != "" {
		t.Errorf("css: %d %v", css.Code, css.Header())
	}
	if again := do(h, "GET", "/assets/index-def456.css", "If-None-Match", css.Header().Get("ETag")); again.Code != http.StatusNotModified {
		t.Errorf("revalidation: %d, want 304", again.Code)
	}
}

func TestMissingAssetIsNotFound(t *testing.T) {
	h := newTestHandler(t)
	for _, p := range []string{"/assets/index-old999.js", "/assets/", "/assets/index-abc123.js.gz", "/assets/sub/x.css"} {
		rec := do(h, "GET", p)
		if rec.Code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, rec.Code)
		}
		if strings.Contains(rec.Body.String(), "<html") {
			t.Errorf("%s: answered with index.html", p)
		}
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s: a 404 may be cached: %q", p, rec.Header().Get("Cache-Control"))
		}
	}
}

func TestClientRoutesFallBackToIndex(t *testing.T) {
	h := newTestHandler(t)
	for _, p := range []string{"/", "/index.html", "/login", "/clusters/dev", "/clusters/dev/namespaces/ml/pods/train-0.1"} {
		rec := do(h, "GET", p)
		if rec.Code != 200 || rec.Body.String() != testIndex {
			t.Errorf("%s: %d %q", p, rec.Code, rec.Body.String())
			continue
		}
		if rec.Header().Get("Cache-Control") != "no-cache" || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
			t.Errorf("%s: headers %v", p, rec.Header())
		}
	}
	etag := do(h, "GET", "/").Header().Get("ETag")
	if rec := do(h, "GET", "/clusters/prod", "If-None-Match", etag); rec.Code != http.StatusNotModified {
		t.Errorf("index revalidation: %d, want 304", rec.Code)
	}
	if rec := do(h, "HEAD", "/login"); rec.Code != 200 {
		t.Errorf("HEAD: %d", rec.Code)
	}
}

func TestRootFilesAndAPIPaths(t *testing.T) {
	h := newTestHandler(t)
	rec := do(h, "GET", "/favicon.svg")
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "image/svg+xml" || rec.Header().Get("Cache-Control") != "no-cache" {
		t.Errorf("favicon: %d %v", rec.Code, rec.Header())
	}
	for _, p := range []string{"/v1/nothing", "/k8s/other", "/k8s", "/v1"} {
		if rec := do(h, "GET", p); rec.Code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404 (an API path must not get the web page)", p, rec.Code)
		}
	}
}

func TestRejectsTraversalAndOtherMethods(t *testing.T) {
	h := newTestHandler(t)
	for _, p := range []string{"/assets/../index.html", "/../etc/passwd", "/assets/..%2f..%2fweb.go", `/assets/..\..\web.go`, "/assets/%5c..%5cindex.html", "/./index.html", "/a%00b"} {
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.Path = strings.NewReplacer("%2f", "/", "%5c", `\`, "%00", "\x00").Replace(p)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%q: %d, want 400", req.URL.Path, rec.Code)
		}
	}
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		rec := do(h, m, "/")
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: %d Allow=%q", m, rec.Code, rec.Header().Get("Allow"))
		}
	}
}

func TestRefusesIndexTheCSPWouldBreak(t *testing.T) {
	for name, index := range map[string]string{
		"inline script": `<html><script>alert(1)</script></html>`,
		"inline module": `<html><SCRIPT type="module">import "/x.js"</SCRIPT></html>`,
		"style element": `<html><style>body{}</style></html>`,
		"style attr":    `<html><body style="margin:0"></body></html>`,
	} {
		if _, err := New(fstest.MapFS{"index.html": {Data: []byte(index)}}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(fstest.MapFS{}); err == nil || !strings.Contains(err.Error(), "make web") {
		t.Errorf("missing index.html: %v", err)
	}
}

// TestEmbeddedBuild checks the UI that ships: it loads, names only
// bundles it carries, and every one is served with long caching.
func TestEmbeddedBuild(t *testing.T) {
	h, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	index := do(h, "GET", "/")
	if index.Code != 200 || !strings.Contains(index.Body.String(), `<div id="root">`) {
		t.Fatalf("index: %d %q", index.Code, index.Body.String())
	}
	refs := regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`).FindAllStringSubmatch(index.Body.String(), -1)
	if len(refs) == 0 {
		t.Fatal("index.html names no bundle under /assets/")
	}
	for _, ref := range refs {
		rec := do(h, "GET", ref[1], "Accept-Encoding", "gzip")
		if rec.Code != 200 || rec.Header().Get("Cache-Control") != immutableCache {
			t.Errorf("%s: %d %q", ref[1], rec.Code, rec.Header().Get("Cache-Control"))
		}
	}
	n := 0
	_ = fs.WalkDir(webui.Dist(), "assets", func(string, fs.DirEntry, error) error { n++; return nil })
	if n < 2 {
		t.Errorf("assets/ holds %d entries", n)
	}
}
