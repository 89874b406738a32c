package proxy_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bokujo.io/bokujo/internal/proxy"
)

var (
	bearerAlice = [2]string{"Authorization", "Bearer alice-token"}
	cookieAlice = [2]string{"Cookie", "session=alice-token"}
	csrfAlice   = [2]string{"X-CSRF-Token", "csrf-alice-token"}
	// aliceDownstream is the only identity a request by alice may carry.
	aliceDownstream = map[string][]string{
		"impersonate-user":  {"bokujo:alice"},
		"impersonate-group": {"bokujo:data", "bokujo:ml", "system:authenticated"},
	}
	podsPath = "/k8s/clusters/dev/api/v1/namespaces/ml/pods"
)

func hdr(kv ...string) [][2]string {
	out := make([][2]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, [2]string{kv[i], kv[i+1]})
	}
	return out
}

func with(base [2]string, more ...[2]string) [][2]string {
	return append([][2]string{base}, more...)
}

func websocketHeaders(extra ...[2]string) [][2]string {
	return append(hdr(
		"Connection", "Upgrade",
		"Upgrade", "websocket",
		"Sec-WebSocket-Version", "13",
		"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==",
		"Sec-WebSocket-Protocol", "v5.channel.k8s.io",
	), extra...)
}

func spdyHeaders(extra ...[2]string) [][2]string {
	return append(hdr(
		"Connection", "Upgrade",
		"Upgrade", "SPDY/3.1",
		"X-Stream-Protocol-Version", "v4.channel.k8s.io",
	), extra...)
}

// TestSecurity is the proxy's security suite: one row per case, each
// failing if its hole opens. A row states the answer the client must get,
// whether the backend may be reached at all, and if so exactly which
// identity headers it received and on which path.
func TestSecurity(t *testing.T) {
	t.Parallel()
	const execPath = "/k8s/clusters/dev/api/v1/namespaces/ml/pods/p/exec?command=sh&stdin=true"
	tests := []struct {
		name string
		req  rawRequest
		code int
		// backend: whether the request may reach the cluster.
		backend bool
		// identity: the identity headers the backend must have got
		// (aliceDownstream when nil and backend is true).
		identity map[string][]string
		// uri: the request-URI the backend must have got, when set.
		uri string
		// bodyContains: a fragment the proxy's answer must hold.
		bodyContains string
		// bodyExcludes: fragments the answer must not hold.
		bodyExcludes []string
		// header: headers (other than identity) the backend must have got.
		header map[string]string
		// absent: headers the backend must not have got.
		absent []string
	}{
		// Forwarding as it should be.
		{name: "plain get is forwarded with alice's identity", req: rawRequest{target: podsPath + "?limit=5&labelSelector=app%3Dweb", headers: hdr(bearerAlice[0], bearerAlice[1])},
			code: 200, backend: true, uri: "/api/v1/namespaces/ml/pods?limit=5&labelSelector=app%3Dweb"},
		{name: "cluster root maps to downstream root", req: rawRequest{target: "/k8s/clusters/dev", headers: hdr(bearerAlice[0], bearerAlice[1])},
			code: 200, backend: true, uri: "/"},
		{name: "escaped name stays escaped", req: rawRequest{target: "/k8s/clusters/dev/api/v1/namespaces/ml/pods/a%3Ab", headers: hdr(bearerAlice[0], bearerAlice[1])},
			code: 200, backend: true, uri: "/api/v1/namespaces/ml/pods/a%3Ab"},

		// Client-sent impersonation, every spelling.
		{name: "Impersonate-User lower case", req: rawRequest{target: podsPath, headers: with(bearerAlice, [2]string{"impersonate-user", "system:admin"})}, code: 200, backend: true},
		{name: "Impersonate-Group upper case", req: rawRequest{target: podsPath, headers: with(bearerAlice, [2]string{"IMPERSONATE-GROUP", "system:masters"})}, code: 200, backend: true},
		{name: "Impersonate-Uid", req: rawRequest{target: podsPath, headers: with(bearerAlice, [2]string{"Impersonate-Uid", "0"})}, code: 200, backend: true},
		{name: "Impersonate-Extra-Foo mixed case", req: rawRequest{target: podsPath, headers: with(bearerAlice, [2]string{"impersonate-EXTRA-Foo", "bar"}, [2]string{"Impersonate-Extra-Scopes", "all"})}, code: 200, backend: true},
		{name: "Impersonate-User duplicated", req: rawRequest{target: podsPath, headers: with(bearerAlice, [2]string{"Impersonate-User", "system:admin"}, [2]string{"impersonate-user", "system:kube-controller-manager"})}, code: 200, backend: true},
		{name: "Impersonate-Group duplicated", req: rawRequest{target: podsPath, headers: with(bearerAlice, [2]string{"Impersonate-Group", "system:masters"}, [2]string{"Impersonate-Group", "system:nodes"})}, code: 200, backend: true},
		{name: "Impersonate-User named in Connection", req: rawRequest{target: podsPath, headers: with(bearerAlice, [2]string{"Connection", "Impersonate-User"}, [2]string{"Impersonate-User", "system:admin"})}, code: 200, backend: true},
		{name: "Impersonate-Group named in Connection with keep-alive", req: rawRequest{target: podsPath, headers: with(bearerAlice, [2]string{"Connection", "keep-alive, Impersonate-Group"}, [2]string{"Impersonate-Group", "system:masters"})}, code: 200, backend: true},
		{name: "Connection-named header is dropped", req: rawRequest{target: podsPath, headers: with(bearerAlice, [2]string{"Connection", "close, X-Secret"}, [2]string{"X-Secret", "s3cr3t"})}, code: 200, backend: true, absent: []string{"X-Secret"}},
		{name: "Impersonate_User with underscore", req: rawRequest{target: podsPath, headers: with(bearerAlice, [2]string{"Impersonate_User", "system:admin"})}, code: 200, backend: true},
		{name: "X-Remote-User front-proxy header", req: rawRequest{target: podsPath, headers: with(bearerAlice, [2]string{"X-Remote-User", "system:admin"}, [2]string{"X-Remote-Group", "system:masters"})}, code: 200, backend: true},

		// Client credentials never travel downstream.
		{name: "Authorization is not forwarded", req: rawRequest{target: podsPath, headers: hdr(bearerAlice[0], bearerAlice[1])}, code: 200, backend: true},
		{name: "second Authorization is not forwarded", req: rawRequest{target: podsPath, headers: with(bearerAlice, [2]string{"authorization", "Bearer downstream-admin-token"})}, code: 200, backend: true},
		{name: "Proxy-Authorization is not forwarded", req: rawRequest{target: podsPath, headers: with(bearerAlice, [2]string{"Proxy-Authorization", "Basic YWRtaW46YWRtaW4="})}, code: 200, backend: true},
		{name: "session cookie and CSRF token are not forwarded", req: rawRequest{target: podsPath, headers: [][2]string{cookieAlice, csrfAlice}}, code: 200, backend: true},
		{name: "websocket bearer subprotocol is not forwarded", req: rawRequest{target: podsPath, headers: with(bearerAlice, [2]string{"Sec-WebSocket-Protocol", "base64url.bearer.authorization.k8s.io.ZG93bnN0cmVhbQ, v5.channel.k8s.io"})},
			code: 200, backend: true, header: map[string]string{"Sec-Websocket-Protocol": "v5.channel.k8s.io"}},
		{name: "client X-Forwarded-For is replaced", req: rawRequest{target: podsPath, headers: with(bearerAlice, [2]string{"X-Forwarded-For", "10.9.8.7"}, [2]string{"Forwarded", "for=10.9.8.7"})},
			code: 200, backend: true, header: map[string]string{"X-Forwarded-For": "127.0.0.1"}, absent: []string{"Forwarded"}},

		// Nobody becomes system:* or a service account.
		{name: "user system:admin in system:masters is prefixed", req: rawRequest{target: podsPath, headers: hdr("Authorization", "Bearer root-token")}, code: 200, backend: true,
			identity: map[string][]string{"impersonate-user": {"bokujo:system:admin"}, "impersonate-group": {"bokujo:system:masters", "system:authenticated"}}},
		{name: "service account name is prefixed", req: rawRequest{target: podsPath, headers: hdr("Authorization", "Bearer sa-token")}, code: 200, backend: true,
			identity: map[string][]string{"impersonate-user": {"bokujo:system:serviceaccount:kube-system:default"}, "impersonate-group": {"bokujo:system:serviceaccounts", "system:authenticated"}}},
		{name: "empty user name is refused before forwarding", req: rawRequest{target: podsPath, headers: hdr("Authorization", "Bearer empty-token")}, code: 403},
		{name: "user name with newline is refused", req: rawRequest{target: podsPath, headers: hdr("Authorization", "Bearer ctrl-token")}, code: 403},
		{name: "user name with NUL is refused", req: rawRequest{target: podsPath, headers: hdr("Authorization", "Bearer nul-token")}, code: 403},
		{name: "user name with leading space is refused", req: rawRequest{target: podsPath, headers: hdr("Authorization", "Bearer space-token")}, code: 403},
		{name: "empty group is refused", req: rawRequest{target: podsPath, headers: hdr("Authorization", "Bearer egroup-token")}, code: 403},
		{name: "group with CRLF is refused", req: rawRequest{target: podsPath, headers: hdr("Authorization", "Bearer cgroup-token")}, code: 403},

		// Path traversal out of /k8s/clusters/{cluster}.
		{name: "dot-dot to another cluster", req: rawRequest{target: "/k8s/clusters/dev/../prod/api", headers: hdr(bearerAlice[0], bearerAlice[1])}, code: 400},
		{name: "dot-dot to the server API", req: rawRequest{target: "/k8s/clusters/dev/../../../v1/users", headers: hdr(bearerAlice[0], bearerAlice[1])}, code: 400},
		{name: "encoded dot-dot lower case", req: rawRequest{target: "/k8s/clusters/dev/%2e%2e/prod/api", headers: hdr(bearerAlice[0], bearerAlice[1])}, code: 400},
		{name: "encoded dot-dot upper case", req: rawRequest{target: "/k8s/clusters/dev/%2E%2E/prod/api", headers: hdr(bearerAlice[0], bearerAlice[1])}, code: 400},
		{name: "half-encoded dot-dot", req: rawRequest{target: "/k8s/clusters/dev/.%2e/prod/api", headers: hdr(bearerAlice[0], bearerAlice[1])}, code: 400},
		{name: "double-encoded dot-dot", req: rawRequest{target: "/k8s/clusters/dev/%252e%252e/prod/api", headers: hdr(bearerAlice[0], bearerAlice[1])}, code: 400},
		{name: "single dot segment", req: rawRequest{target: "/k8s/clusters/dev/./api", headers: hdr(bearerAlice[0], bearerAlice[1])}, code: 400},
		{name: "double slash after cluster", req: rawRequest{target: "/k8s/clusters/dev//api", headers: hdr(bearerAlice[0], bearerAlice[1])}, code: 400},
		{name: "double slash before cluster", req: rawRequest{target: "/k8s/clusters//dev/api", headers: hdr(bearerAlice[0], bearerAlice[1])}, code: 400},
		{name: "encoded slash lower case", req: rawRequest{target: "/k8s/clusters/dev%2f..%2fprod/api", headers: hdr(bearerAlice[0], bearerAlice[1])}, code: 400},
		{name: "encoded slash upper case", req: rawRequest{target: "/k8s/clusters/dev/api%2Fv1", headers: hdr(bearerAlice[0], bearerAlice[1])}, code: 400},
		{name: "backslash", req: rawRequest{target: `/k8s/clusters/dev/..\prod/api`, headers: hdr(bearerAlice[0], bearerAlice[1])}, code: 400},
		{name: "encoded backslash", req: rawRequest{target: "/k8s/clusters/dev/..%5cprod/api", headers: hdr(bearerAlice[0], bearerAlice[1])}, code: 400},
		{name: "encoded NUL", req: rawRequest{target: "/k8s/clusters/dev/api%00", headers: hdr(bearerAlice[0], bearerAlice[1])}, code: 400},
		{name: "cluster name not a DNS label", req: rawRequest{target: "/k8s/clusters/Dev_1/api", headers: hdr(bearerAlice[0], bearerAlice[1])}, code: 400},
		{name: "encoded letter in prefix", req: rawRequest{target: "/k8s/%63lusters/dev/api", headers: hdr(bearerAlice[0], bearerAlice[1])}, code: 400},
		{name: "path traversal refused before authentication", req: rawRequest{target: "/k8s/clusters/dev/../prod/api"}, code: 400},

		// Clusters that do not exist or were not granted look the same.
		{name: "unknown cluster", req: rawRequest{target: "/k8s/clusters/ghost/api", headers: hdr(bearerAlice[0], bearerAlice[1])}, code: 404,
			bodyContains: `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"clusters \"ghost\" not found","reason":"NotFound","details":{"name":"ghost","kind":"clusters"},"code":404}`},
		{name: "ungranted cluster", req: rawRequest{target: "/k8s/clusters/prod/api", headers: hdr("Authorization", "Bearer bob-token")}, code: 404,
			bodyContains: `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"clusters \"prod\" not found","reason":"NotFound","details":{"name":"prod","kind":"clusters"},"code":404}`},
		{name: "granted cluster", req: rawRequest{target: "/k8s/clusters/prod/api", headers: hdr(bearerAlice[0], bearerAlice[1])}, code: 200, backend: true},
		{name: "disconnected cluster", req: rawRequest{target: "/k8s/clusters/down/api", headers: hdr(bearerAlice[0], bearerAlice[1])}, code: 503, bodyContains: `"reason":"ServiceUnavailable"`},
		{name: "unreachable apiserver does not reveal its address", req: rawRequest{target: "/k8s/clusters/dead/api", headers: hdr(bearerAlice[0], bearerAlice[1])}, code: 502,
			bodyContains: `"reason":"BadGateway"`, bodyExcludes: []string{"127.0.0.1", "dial", "connection refused"}},

		// Authentication.
		{name: "no credential", req: rawRequest{target: podsPath}, code: 401,
			bodyContains: `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`},
		{name: "unknown token", req: rawRequest{target: podsPath, headers: hdr("Authorization", "Bearer nope")}, code: 401},
		{name: "basic auth", req: rawRequest{target: podsPath, headers: hdr("Authorization", "Basic YWxpY2U6cHc=")}, code: 401},
		{name: "token does not appear in the 401", req: rawRequest{target: podsPath, headers: hdr("Authorization", "Bearer secret-looking-token")}, code: 401, bodyExcludes: []string{"secret-looking-token"}},

		// Cookies: CSRF on unsafe methods.
		{name: "cookie GET without CSRF token is allowed", req: rawRequest{target: podsPath, headers: [][2]string{cookieAlice}}, code: 200, backend: true},
		{name: "cookie POST without CSRF token", req: rawRequest{method: "POST", target: podsPath, headers: [][2]string{cookieAlice}, body: "{}"}, code: 403},
		{name: "cookie POST with a wrong CSRF token", req: rawRequest{method: "POST", target: podsPath, headers: [][2]string{cookieAlice, {"X-CSRF-Token", "csrf-bob-token"}}, body: "{}"}, code: 403},
		{name: "cookie DELETE without CSRF token", req: rawRequest{method: "DELETE", target: podsPath + "/p", headers: [][2]string{cookieAlice}}, code: 403},
		{name: "cookie PATCH without CSRF token", req: rawRequest{method: "PATCH", target: podsPath + "/p", headers: [][2]string{cookieAlice}, body: "{}"}, code: 403},
		{name: "cookie PUT without CSRF token", req: rawRequest{method: "PUT", target: podsPath + "/p", headers: [][2]string{cookieAlice}, body: "{}"}, code: 403},
		{name: "cookie POST cross-site with CSRF token", req: rawRequest{method: "POST", target: podsPath, headers: [][2]string{cookieAlice, csrfAlice, {"Sec-Fetch-Site", "cross-site"}}, body: "{}"}, code: 403},
		{name: "cookie POST same-site sibling with CSRF token", req: rawRequest{method: "POST", target: podsPath, headers: [][2]string{cookieAlice, csrfAlice, {"Sec-Fetch-Site", "same-site"}}, body: "{}"}, code: 403},
		{name: "cookie POST same-origin with CSRF token", req: rawRequest{method: "POST", target: podsPath, headers: [][2]string{cookieAlice, csrfAlice, {"Sec-Fetch-Site", "same-origin"}}, body: "{}"}, code: 200, backend: true},
		{name: "cookie POST with CSRF token and no fetch metadata", req: rawRequest{method: "POST", target: podsPath, headers: [][2]string{cookieAlice, csrfAlice}, body: "{}"}, code: 200, backend: true},
		{name: "bearer POST needs no CSRF token", req: rawRequest{method: "POST", target: podsPath, headers: hdr(bearerAlice[0], bearerAlice[1], "Sec-Fetch-Site", "cross-site"), body: "{}"}, code: 200, backend: true},

		// Upgrades: cross-site WebSocket hijacking, both protocols.
		{name: "cookie websocket from a foreign origin", req: rawRequest{target: execPath, headers: websocketHeaders(cookieAlice, [2]string{"Origin", "https://evil.example"})}, code: 403},
		{name: "cookie websocket without origin", req: rawRequest{target: execPath, headers: websocketHeaders(cookieAlice)}, code: 403},
		{name: "cookie websocket with origin null", req: rawRequest{target: execPath, headers: websocketHeaders(cookieAlice, [2]string{"Origin", "null"})}, code: 403},
		{name: "cookie websocket cross-site fetch metadata", req: rawRequest{target: execPath, headers: websocketHeaders(cookieAlice, [2]string{"Origin", "SELF"}, [2]string{"Sec-Fetch-Site", "cross-site"})}, code: 403},
		{name: "cookie websocket from own origin", req: rawRequest{target: execPath, headers: websocketHeaders(cookieAlice, [2]string{"Origin", "SELF"})}, code: 101, backend: true},
		{name: "cookie SPDY POST without CSRF token", req: rawRequest{method: "POST", target: execPath, headers: spdyHeaders(cookieAlice, [2]string{"Origin", "SELF"})}, code: 403},
		{name: "bearer websocket upgrade", req: rawRequest{target: execPath, headers: websocketHeaders(bearerAlice)}, code: 101, backend: true,
			header: map[string]string{"Upgrade": "websocket", "Sec-Websocket-Protocol": "v5.channel.k8s.io"}},
		{name: "bearer websocket with foreign origin", req: rawRequest{target: execPath, headers: websocketHeaders(bearerAlice, [2]string{"Origin", "https://evil.example"})}, code: 101, backend: true},
		{name: "bearer SPDY upgrade over HTTP/1.1 transport", req: rawRequest{method: "POST", target: execPath, headers: spdyHeaders(bearerAlice)}, code: 101, backend: true,
			header: map[string]string{"Upgrade": "SPDY/3.1", "X-Stream-Protocol-Version": "v4.channel.k8s.io"}},
		{name: "upgrade with impersonation named in Connection", req: rawRequest{target: execPath, headers: append(websocketHeaders(bearerAlice), [2]string{"Connection", "Impersonate-User"}, [2]string{"Impersonate-User", "system:admin"})}, code: 101, backend: true},

		// Bodies.
		{name: "body at the limit", req: rawRequest{method: "POST", target: podsPath, headers: hdr(bearerAlice[0], bearerAlice[1]), body: strings.Repeat("x", 1<<10)}, code: 200, backend: true},
		{name: "body over the limit by Content-Length", req: rawRequest{method: "POST", target: podsPath, headers: hdr(bearerAlice[0], bearerAlice[1]), body: strings.Repeat("x", 1<<10+1)}, code: 413,
			bodyContains: `"reason":"RequestEntityTooLarge"`},
		{name: "chunked body over the limit", req: rawRequest{method: "POST", target: podsPath, headers: hdr(bearerAlice[0], bearerAlice[1]), body: strings.Repeat("x", 4<<10), chunked: true}, code: 413,
			backend: true, bodyContains: `"reason":"RequestEntityTooLarge"`},
		{name: "body over the limit on an upgrade", req: rawRequest{method: "POST", target: execPath, headers: spdyHeaders(bearerAlice), body: strings.Repeat("x", 1<<10+1)}, code: 413},

		// Methods outside the Kubernetes API.
		{name: "TRACE", req: rawRequest{method: "TRACE", target: podsPath, headers: hdr(bearerAlice[0], bearerAlice[1])}, code: 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			for i, h := range tc.req.headers {
				if h[0] == "Origin" && h[1] == "SELF" {
					tc.req.headers[i][1] = "http://" + f.addr
				}
			}
			res := f.send(t, tc.req)
			if res.code != tc.code {
				t.Fatalf("status %d, want %d; body %s", res.code, tc.code, res.body)
			}
			if res.code >= 400 && res.code != 499 {
				if ct := res.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("error answer has Content-Type %q, want application/json", ct)
				}
			}
			if tc.bodyContains != "" && !strings.Contains(string(res.body), tc.bodyContains) {
				t.Errorf("body %s\ndoes not contain %s", res.body, tc.bodyContains)
			}
			for _, s := range tc.bodyExcludes {
				if strings.Contains(string(res.body), s) {
					t.Errorf("body %s contains %q", res.body, s)
				}
			}
			if res.code == http.StatusSwitchingProtocols {
				// The switched connection reaches the backend's echo.
				if _, err := io.WriteString(res.conn, "ping\n"); err != nil {
					t.Fatal(err)
				}
				line, err := res.r.ReadString('\n')
				if err != nil || line != "ping\n" {
					t.Fatalf("echo over the upgraded connection: %q, %v", line, err)
				}
			}
			calls := f.backend.calls.Load()
			if !tc.backend {
				if calls != 0 {
					t.Fatalf("the backend was called %d times; the request must be refused before forwarding", calls)
				}
				return
			}
			if tc.code == 413 {
				return
			}
			seen := f.backend.last(t)
			want := tc.identity
			if want == nil {
				want = aliceDownstream
			}
			if diff := cmp.Diff(want, identityHeaders(seen.Header)); diff != "" {
				t.Errorf("identity headers at the backend (-want +got):\n%s", diff)
			}
			if tc.uri != "" && seen.RequestURI != tc.uri {
				t.Errorf("backend request URI %q, want %q", seen.RequestURI, tc.uri)
			}
			for k, v := range tc.header {
				if got := seen.Header.Values(k); len(got) != 1 || got[0] != v {
					t.Errorf("backend header %s = %q, want [%q]", k, got, v)
				}
			}
			for _, k := range tc.absent {
				if got := seen.Header.Values(k); len(got) != 0 {
					t.Errorf("backend header %s = %q, want none", k, got)
				}
			}
		})
	}
}

// TestNotFoundRevealsNothing compares full answers: a cluster that exists
// but was not granted and a cluster that does not exist must not differ in
// a single byte of status, headers or body.
func TestNotFoundRevealsNothing(t *testing.T) {
	t.Parallel()
	exists := newFixture(t)
	missing := newFixture(t, func(_ *proxy.Options, r *testResolver) { r.prodExists = false })
	req := rawRequest{target: "/k8s/clusters/prod/api/v1/namespaces/default/pods", headers: hdr("Authorization", "Bearer bob-token")}
	ungranted := exists.send(t, req)
	unknown := missing.send(t, req)
	for _, r := range []rawResponse{ungranted, unknown} {
		r.header.Del("Date")
	}
	if ungranted.code != http.StatusNotFound {
		t.Fatalf("status %d, want 404", ungranted.code)
	}
	if diff := cmp.Diff(
		struct {
			Code   int
			Header http.Header
			Body   string
		}{unknown.code, unknown.header, string(unknown.body)},
		struct {
			Code   int
			Header http.Header
			Body   string
		}{ungranted.code, ungranted.header, string(ungranted.body)},
	); diff != "" {
		t.Errorf("unknown and ungranted clusters answer differently (-unknown +ungranted):\n%s", diff)
	}
}
