package auth_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/auth"
	"bokujo.io/bokujo/internal/proxy"
)

// managementCluster resolves the one cluster "mgmt" with the management
// cluster's admin credentials, which may impersonate.
type managementCluster struct{ target *proxy.Target }

func (c managementCluster) Resolve(_ context.Context, cluster string, _ *proxy.User) (*proxy.Target, error) {
	if cluster != mgmt {
		return nil, proxy.ErrClusterNotFound
	}
	return c.target, nil
}

// TestThroughProxy runs the proxy with this package's Authenticator: the
// downstream apiserver sees the bokujo user, and the proxy's own CSRF rules
// work from what Authenticate reports.
func TestThroughProxy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice, alicePW := f.user("alice")
	tok, tokObj := f.token(alice.Name, auth.TokenRequest{})
	target, err := proxy.NewTarget(env.RESTConfig(t, mgmt))
	if err != nil {
		t.Fatal(err)
	}
	h, err := proxy.New(proxy.Options{Authenticator: f.svc, Resolver: managementCluster{target}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	f.svc.Register(mux)
	srv := httptest.NewTLSServer(h.Mount(mux))
	t.Cleanup(srv.Close)

	b := f.browserAt(srv)
	if r := b.login(t, alice.Spec.Username, alicePW); r.status != http.StatusOK {
		t.Fatalf("login: %d %s", r.status, r.body)
	}

	const path = "/k8s/clusters/" + mgmt + "/api/v1/namespaces/default/configmaps"
	impersonated := `User \"` + v1alpha1.UserPrefix + alice.Name + `\" cannot`
	for _, tc := range []struct {
		name       string
		client     *http.Client
		method     string
		header     map[string]string
		wantStatus int
		wantBody   string
	}{
		// alice has no RBAC in the cluster: the apiserver's 403 names
		// the impersonated user, proving who the request arrived as.
		{"bearer token", srv.Client(), "GET", map[string]string{"Authorization": "Bearer " + tok}, 403, impersonated},
		{"no credential", srv.Client(), "GET", nil, 401, "Unauthorized"},
		{"wrong secret", srv.Client(), "GET", map[string]string{"Authorization": "Bearer " + tok[:len(tok)-2] + "00"}, 401, "Unauthorized"},
		{"session cookie, GET", b.c, "GET", nil, 403, impersonated},
		{"session cookie, POST without CSRF", b.c, "POST", nil, 403, "X-CSRF-Token"},
		{"session cookie, POST with CSRF", b.c, "POST", map[string]string{proxy.CSRFHeader: b.csrf}, 403, impersonated},
		{"session cookie, cross-site POST", b.c, "POST", map[string]string{proxy.CSRFHeader: b.csrf, "Sec-Fetch-Site": "cross-site"}, 403, "cross-site"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+path, strings.NewReader(`{"metadata":{"name":"x"}}`))
			req.Header.Set("Content-Type", "application/json")
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := tc.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || !strings.Contains(string(body), tc.wantBody) {
				t.Fatalf("got %d %s, want %d with %q", resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
		})
	}

	if err := f.svc.RevokeToken(context.Background(), tokObj.Name, ""); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("revoked token through the proxy: got %d", resp.StatusCode)
	}
}
