package proxy

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRequestInfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		method string
		path   string
		query  string
		want   requestInfo
	}{
		{"list pods", "GET", "/api/v1/namespaces/ml/pods", "limit=500",
			requestInfo{IsResourceRequest: true, Verb: "list", APIVersion: "v1", Namespace: "ml", Resource: "pods"}},
		{"watch pods", "GET", "/api/v1/namespaces/ml/pods", "watch=true",
			requestInfo{IsResourceRequest: true, Verb: "watch", APIVersion: "v1", Namespace: "ml", Resource: "pods"}},
		{"watch=0 is a list", "GET", "/api/v1/pods", "watch=0",
			requestInfo{IsResourceRequest: true, Verb: "list", APIVersion: "v1", Resource: "pods"}},
		{"watch one object by field selector", "GET", "/api/v1/namespaces/ml/pods", "watch=1&fieldSelector=metadata.name%3Dp",
			requestInfo{IsResourceRequest: true, Verb: "watch", APIVersion: "v1", Namespace: "ml", Resource: "pods", Name: "p"}},
		{"old watch path", "GET", "/api/v1/watch/namespaces/ml/pods", "",
			requestInfo{IsResourceRequest: true, Verb: "watch", APIVersion: "v1", Namespace: "ml", Resource: "pods"}},
		{"get deployment", "GET", "/apis/apps/v1/namespaces/ml/deployments/web", "",
			requestInfo{IsResourceRequest: true, Verb: "get", APIGroup: "apps", APIVersion: "v1", Namespace: "ml", Resource: "deployments", Name: "web"}},
		{"create", "POST", "/api/v1/namespaces/ml/configmaps", "",
			requestInfo{IsResourceRequest: true, Verb: "create", APIVersion: "v1", Namespace: "ml", Resource: "configmaps"}},
		{"server-side apply", "PATCH", "/api/v1/namespaces/ml/configmaps/c", "fieldManager=kubectl",
			requestInfo{IsResourceRequest: true, Verb: "patch", APIVersion: "v1", Namespace: "ml", Resource: "configmaps", Name: "c"}},
		{"update", "PUT", "/api/v1/namespaces/ml/configmaps/c", "",
			requestInfo{IsResourceRequest: true, Verb: "update", APIVersion: "v1", Namespace: "ml", Resource: "configmaps", Name: "c"}},
		{"delete", "DELETE", "/api/v1/namespaces/ml/configmaps/c", "",
			requestInfo{IsResourceRequest: true, Verb: "delete", APIVersion: "v1", Namespace: "ml", Resource: "configmaps", Name: "c"}},
		{"deletecollection", "DELETE", "/api/v1/namespaces/ml/configmaps", "",
			requestInfo{IsResourceRequest: true, Verb: "deletecollection", APIVersion: "v1", Namespace: "ml", Resource: "configmaps"}},
		{"exec over SPDY", "POST", "/api/v1/namespaces/ml/pods/p/exec", "command=ls",
			requestInfo{IsResourceRequest: true, Verb: "create", APIVersion: "v1", Namespace: "ml", Resource: "pods", Subresource: "exec", Name: "p"}},
		{"exec over websocket", "GET", "/api/v1/namespaces/ml/pods/p/exec", "command=ls",
			requestInfo{IsResourceRequest: true, Verb: "get", APIVersion: "v1", Namespace: "ml", Resource: "pods", Subresource: "exec", Name: "p"}},
		{"logs", "GET", "/api/v1/namespaces/ml/pods/p/log", "follow=true",
			requestInfo{IsResourceRequest: true, Verb: "get", APIVersion: "v1", Namespace: "ml", Resource: "pods", Subresource: "log", Name: "p"}},
		{"port-forward", "POST", "/api/v1/namespaces/ml/pods/p/portforward", "",
			requestInfo{IsResourceRequest: true, Verb: "create", APIVersion: "v1", Namespace: "ml", Resource: "pods", Subresource: "portforward", Name: "p"}},
		{"namespace object", "GET", "/api/v1/namespaces/ml", "",
			requestInfo{IsResourceRequest: true, Verb: "get", APIVersion: "v1", Namespace: "ml", Resource: "namespaces", Name: "ml"}},
		{"namespace status", "PUT", "/api/v1/namespaces/ml/status", "",
			requestInfo{IsResourceRequest: true, Verb: "update", APIVersion: "v1", Namespace: "ml", Resource: "namespaces", Name: "ml", Subresource: "status"}},
		{"list namespaces", "GET", "/api/v1/namespaces", "",
			requestInfo{IsResourceRequest: true, Verb: "list", APIVersion: "v1", Resource: "namespaces"}},
		{"cluster-scoped node", "GET", "/api/v1/nodes/n1", "",
			requestInfo{IsResourceRequest: true, Verb: "get", APIVersion: "v1", Resource: "nodes", Name: "n1"}},
		{"service proxy keeps its path out of the subresource", "GET", "/api/v1/proxy/namespaces/ml/services/s/healthz", "",
			requestInfo{IsResourceRequest: true, Verb: "proxy", APIVersion: "v1", Namespace: "ml", Resource: "services", Name: "s"}},
		{"group discovery", "GET", "/apis/apps/v1", "", requestInfo{Path: "/apis/apps/v1", Verb: "get"}},
		{"core discovery", "GET", "/api", "", requestInfo{Path: "/api", Verb: "get"}},
		{"version", "GET", "/version", "", requestInfo{Path: "/version", Verb: "get"}},
		{"openapi", "GET", "/openapi/v3/api/v1", "", requestInfo{Path: "/openapi/v3/api/v1", Verb: "get"}},
		{"root", "GET", "/", "", requestInfo{Path: "/", Verb: "get"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, parseRequestInfo(tc.method, tc.path, q)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDownstreamIdentity(t *testing.T) {
	t.Parallel()
	long := make([]byte, maxIdentityValue+1)
	for i := range long {
		long[i] = 'a'
	}
	manyGroups := make([]string, maxGroups+1)
	for i := range manyGroups {
		manyGroups[i] = "g"
	}
	tests := []struct {
		name    string
		user    *User
		want    identity
		wantErr bool
	}{
		{name: "groups prefixed, de-duplicated, sorted, authenticated added", user: &User{Name: "alice", Groups: []string{"ml", "data", "ml"}},
			want: identity{user: "bokujo:alice", groups: []string{"bokujo:data", "bokujo:ml", "system:authenticated"}}},
		{name: "no groups", user: &User{Name: "bob"}, want: identity{user: "bokujo:bob", groups: []string{"system:authenticated"}}},
		{name: "system:authenticated as a bokujo group stays prefixed", user: &User{Name: "eve", Groups: []string{"system:authenticated"}},
			want: identity{user: "bokujo:eve", groups: []string{"bokujo:system:authenticated", "system:authenticated"}}},
		{name: "unicode name", user: &User{Name: "zoë@example.com"}, want: identity{user: "bokujo:zoë@example.com", groups: []string{"system:authenticated"}}},
		{name: "nil user", user: nil, wantErr: true},
		{name: "empty name", user: &User{}, wantErr: true},
		{name: "tab in name", user: &User{Name: "a\tb"}, wantErr: true},
		{name: "DEL in name", user: &User{Name: "a\x7fb"}, wantErr: true},
		{name: "C1 control in name", user: &User{Name: "a\u0085b"}, wantErr: true},
		{name: "invalid UTF-8", user: &User{Name: "a\xffb"}, wantErr: true},
		{name: "trailing space", user: &User{Name: "alice "}, wantErr: true},
		{name: "too long", user: &User{Name: string(long)}, wantErr: true},
		{name: "too many groups", user: &User{Name: "a", Groups: manyGroups}, wantErr: true},
		{name: "empty group", user: &User{Name: "a", Groups: []string{"ml", ""}}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := downstreamIdentity(tc.user)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("identity %+v built, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(identity{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestStripCredentials(t *testing.T) {
	t.Parallel()
	in := http.Header{
		"Connection":             {"Upgrade, Impersonate-Extra-Scopes, x-hop"},
		"Upgrade":                {"websocket"},
		"Authorization":          {"Bearer a", "Bearer b"},
		"impersonate-user":       {"system:admin"},
		"IMPERSONATE-GROUP":      {"system:masters"},
		"Impersonate-Uid":        {"0"},
		"Impersonate-Extra-Foo":  {"bar"},
		"Impersonate_Group":      {"system:masters"},
		"Cookie":                 {"session=x"},
		"X-Csrf-Token":           {"t"},
		"X-Remote-User":          {"root"},
		"X-Hop":                  {"1"},
		"Sec-Websocket-Protocol": {"base64url.bearer.authorization.k8s.io.dG9r, v5.channel.k8s.io", "Base64url.Bearer.Authorization.K8s.Io.eA"},
		"Accept":                 {"application/json"},
	}
	out := in.Clone()
	stripCredentials(out, in)
	setIdentity(out, identity{user: "bokujo:alice", groups: []string{"bokujo:ml", "system:authenticated"}})
	want := http.Header{
		"Connection":             {"Upgrade, Impersonate-Extra-Scopes, x-hop"},
		"Upgrade":                {"websocket"},
		"Sec-Websocket-Protocol": {"v5.channel.k8s.io"},
		"Accept":                 {"application/json"},
		"Impersonate-User":       {"bokujo:alice"},
		"Impersonate-Group":      {"bokujo:ml", "system:authenticated"},
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

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
