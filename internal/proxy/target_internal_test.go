package proxy

import (
	"net/url"
	"testing"
)

func TestDownstreamURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, base, path, raw, query, want string
	}{
		{"root base", "https://10.0.0.1:6443", "/api/v1/pods", "/api/v1/pods", "limit=1", "https://10.0.0.1:6443/api/v1/pods?limit=1"},
		{"base with prefix", "https://lb.example/k8s/clusters/c-1/", "/api", "/api", "", "https://lb.example/k8s/clusters/c-1/api"},
		{"empty path", "https://10.0.0.1:6443", "", "", "", "https://10.0.0.1:6443/"},
		{"escaped name", "https://10.0.0.1:6443", "/api/v1/namespaces/a/pods/a:b", "/api/v1/namespaces/a/pods/a%3Ab", "", "https://10.0.0.1:6443/api/v1/namespaces/a/pods/a%3Ab"},
		{"user info dropped", "https://u:p@10.0.0.1:6443", "/api", "/api", "", "https://10.0.0.1:6443/api"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := url.Parse(tc.base)
			if err != nil {
				t.Fatal(err)
			}
			got := (&Target{URL: u}).downstreamURL(tc.path, tc.raw, tc.query).String()
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
