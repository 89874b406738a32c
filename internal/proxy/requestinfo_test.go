package proxy

import (
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
