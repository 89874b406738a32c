package proxy_test

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"testing"

	"k8s.io/client-go/rest"

	"bokujo.io/bokujo/internal/proxy"
)

// TestNewTarget checks the two transports against an HTTP/2-capable
// server: the ordinary one negotiates HTTP/2, the upgrade one HTTP/1.1, and
// both carry the identity's credential.
func TestNewTarget(t *testing.T) {
	t.Parallel()
	type seen struct {
		proto int
		auth  string
	}
	got := make(chan seen, 2)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.ProtoMajor, r.Header.Get("Authorization")}
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})

	target, err := proxy.NewTarget(&rest.Config{Host: srv.URL, BearerToken: "proxy-identity", TLSClientConfig: rest.TLSClientConfig{CAData: ca}})
	if err != nil {
		t.Fatal(err)
	}
	if target.URL.String() != srv.URL {
		t.Errorf("target url %s, want %s", target.URL, srv.URL)
	}
	for _, tc := range []struct {
		name  string
		rt    http.RoundTripper
		proto int
	}{
		{"transport", target.Transport, 2},
		{"upgrade transport", target.UpgradeTransport, 1},
	} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/api", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := tc.rt.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		resp.Body.Close()
		s := <-got
		if s.proto != tc.proto || s.auth != "Bearer proxy-identity" {
			t.Errorf("%s: HTTP/%d with Authorization %q, want HTTP/%d with the identity's token", tc.name, s.proto, s.auth, tc.proto)
		}
	}
}

func TestNewTargetRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  *rest.Config
	}{
		{"nil config", nil},
		{"impersonating config", &rest.Config{Host: "https://127.0.0.1:6443", Impersonate: rest.ImpersonationConfig{UserName: "system:admin"}}},
		{"insecure TLS", &rest.Config{Host: "https://127.0.0.1:6443", TLSClientConfig: rest.TLSClientConfig{Insecure: true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := proxy.NewTarget(tc.cfg); err == nil {
				t.Fatal("NewTarget accepted the configuration")
			}
		})
	}
}
