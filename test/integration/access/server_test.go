package access_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/app"
	"bokujo.io/bokujo/internal/audit"
	"bokujo.io/bokujo/internal/auth"
	"bokujo.io/bokujo/test/framework"
	"bokujo.io/bokujo/test/framework/testserver"
)

// bokujo is a running server for a test.
type bokujo struct {
	app    *app.App
	url    string
	caFile string
	dir    string
	srv    *testserver.Server
}

func startServer(t *testing.T) *bokujo {
	t.Helper()
	if env == nil {
		t.Skip("integration test: needs real clusters (runs without -short)")
	}
	s := testserver.Start(t, env.RESTConfig(t, "mgmt"))
	return &bokujo{app: s.App, url: s.URL, caFile: s.CAFile, dir: s.Dir, srv: s}
}

func (b *bokujo) client() *http.Client { return b.srv.HTTPClient() }

// call does an API request with a bearer token and returns status and body.
func (b *bokujo) call(t *testing.T, token, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, b.url+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := b.client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// login logs a local user in and returns an API token for them.
func (b *bokujo) login(t *testing.T, user, password string) string {
	t.Helper()
	tok, _, err := b.app.Auth.CreateToken(context.Background(), user, authTokenRequest())
	if err != nil {
		t.Fatalf("token for %s: %v", user, err)
	}
	// The password path is exercised too: a session login must succeed.
	code, body := b.call(t, "", "POST", "/v1/login", map[string]string{"username": user, "password": password})
	if code != 200 {
		t.Fatalf("login %s: %d %s", user, code, body)
	}
	return tok
}

// kubeconfig fetches the user's generated kubeconfig into a file.
func (b *bokujo) kubeconfig(t *testing.T, token string) string {
	t.Helper()
	code, body := b.call(t, token, "GET", "/v1/kubeconfig", nil)
	if code != 200 {
		t.Fatalf("kubeconfig: %d %s", code, body)
	}
	f := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(f, body, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// run executes a bundled binary (kubectl, helm) with a kubeconfig.
func run(t *testing.T, kubeconfig, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), framework.Medium)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(framework.BinDir(t), bin), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func authTokenRequest() auth.TokenRequest {
	return auth.TokenRequest{Type: mgmtv1.TokenTypeAPI, Description: "integration test", TTL: time.Hour}
}

func auditQuery(user string) audit.Query { return audit.Query{User: user, Kind: "request", Limit: 10} }
