// Package security_test is bokujo's end-to-end security suite: one table,
// one row per hole that must stay closed, each run against the whole
// server (auth, API, proxy, RBAC sync) and a real downstream cluster.
// A new case is one row.
package security_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/app"
	"bokujo.io/bokujo/internal/auth"
	"bokujo.io/bokujo/internal/localcluster"
	"bokujo.io/bokujo/test/framework"
	"bokujo.io/bokujo/test/framework/testserver"
)

var env *framework.Env

func TestMain(m *testing.M) {
	framework.Main(m, &env,
		framework.ClusterSpec{Name: "mgmt"},
		framework.ClusterSpec{Name: "dev", Nodes: localcluster.CPUNodes("dev-cpu", 1)},
	)
}

const password = "a long enough password 42"

// fixture is the server and the people the cases act as.
type fixture struct {
	app     *app.App
	url     string
	host    string
	ca      *x509.CertPool
	logs    *testserver.SyncBuffer
	dir     string
	alice   string // project-member of "ml" in dev
	carol   string // may only get pods in ml-a
	admin   string
	revoked string
	expired string
	cookie  *http.Cookie // alice's session
	csrf    string
	pod     string
	secret  string // a Secret value alice stored through the proxy
	// bindPassword is an LDAP provider's secret given to the admin API.
	bindPassword string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	if env == nil {
		t.Skip("integration test: needs real clusters (runs without -short)")
	}
	ctx := context.Background()
	srv := testserver.Start(t, env.RESTConfig(t, "mgmt"))
	a := srv.App
	f := &fixture{app: a, url: srv.URL, host: srv.Host, ca: srv.CA, logs: srv.Logs, dir: srv.Dir, secret: "s3cr3t-value-never-logged", bindPassword: "ldap-bind-password-never-logged"}
	if err := a.Registry.ImportConfig(ctx, "dev", "", env.Cluster(t, "dev").RESTConfig()); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "carol", "root"} {
		if _, err := a.Auth.CreateLocalUser(ctx, u, u, password); err != nil {
			t.Fatal(err)
		}
	}
	objs := []client.Object{
		&mgmtv1.Project{ObjectMeta: metav1.ObjectMeta{Name: "ml"}, Spec: mgmtv1.ProjectSpec{ClusterName: "dev", Namespaces: []string{"ml-a"}}},
		&mgmtv1.RoleTemplate{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"}, Spec: mgmtv1.RoleTemplateSpec{Context: mgmtv1.RoleTemplateContextProject,
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}}}},
		&mgmtv1.ProjectRoleTemplateBinding{ObjectMeta: metav1.ObjectMeta{Name: "alice-ml"}, Spec: mgmtv1.ProjectRoleTemplateBindingSpec{
			ProjectName: "ml", RoleTemplateName: "project-member", Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: "alice"}}},
		&mgmtv1.ProjectRoleTemplateBinding{ObjectMeta: metav1.ObjectMeta{Name: "carol-ml"}, Spec: mgmtv1.ProjectRoleTemplateBindingSpec{
			ProjectName: "ml", RoleTemplateName: "pod-reader", Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: "carol"}}},
		&mgmtv1.GlobalRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "root-admin"}, Spec: mgmtv1.GlobalRoleBindingSpec{
			GlobalRoleName: mgmtv1.GlobalRoleAdmin, Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: "root"}}},
	}
	for _, o := range objs {
		if err := a.Client.Create(ctx, o); err != nil {
			t.Fatalf("create %s: %v", o.GetName(), err)
		}
	}
	token := func(user string) string {
		v, _, err := a.Auth.CreateToken(ctx, user, auth.TokenRequest{Type: mgmtv1.TokenTypeAPI, Description: "security suite", TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	f.alice, f.carol, f.admin = token("alice"), token("carol"), token("root")
	f.revoked = token("alice")
	if err := a.Auth.RevokeToken(ctx, strings.Split(f.revoked, "_")[1], ""); err != nil {
		t.Fatal(err)
	}
	f.expired = token("alice")
	var tok mgmtv1.Token
	if err := a.Client.Get(ctx, client.ObjectKey{Name: strings.Split(f.expired, "_")[1]}, &tok); err != nil {
		t.Fatal(err)
	}
	past := metav1.NewTime(time.Now().Add(-time.Minute))
	tok.Spec.ExpiresAt = &past
	if err := a.Client.Update(ctx, &tok); err != nil {
		t.Fatalf("expire token: %v", err)
	}
	// alice's browser session.
	resp := f.do(t, "POST", "/v1/login", "", jsonCT, strings.NewReader(`{"username":"alice","password":"`+password+`"}`))
	if resp.code != 200 {
		t.Fatalf("alice login: %d %s", resp.code, resp.body)
	}
	for _, c := range resp.cookies {
		if c.Name == "__Host-bokujo_session" {
			f.cookie = c
		}
	}
	f.csrf = jsonField(resp.body, "csrfToken")
	// Wait for RBAC sync, then give alice a running pod and a Secret.
	framework.Eventually(t, framework.Medium, func() error {
		r := f.do(t, "GET", "/k8s/clusters/dev/api/v1/namespaces/ml-a/pods", f.alice, nil, nil)
		if r.code != 200 {
			return fmt.Errorf("alice list pods: %d %s", r.code, r.body)
		}
		r = f.do(t, "GET", "/k8s/clusters/dev/api/v1/namespaces/ml-a/pods", f.carol, nil, nil)
		if r.code != 200 {
			return fmt.Errorf("carol list pods: %d %s", r.code, r.body)
		}
		return nil
	})
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}`
	if r := f.do(t, "POST", "/k8s/clusters/dev/api/v1/namespaces/ml-a/pods", f.alice, jsonCT, strings.NewReader(pod)); r.code != 201 {
		t.Fatalf("create pod: %d %s", r.code, r.body)
	}
	f.pod = "web"
	sec := `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"creds"},"stringData":{"password":"` + f.secret + `"}}`
	if r := f.do(t, "POST", "/k8s/clusters/dev/api/v1/namespaces/ml-a/secrets", f.alice, jsonCT, strings.NewReader(sec)); r.code != 201 {
		t.Fatalf("create secret: %d %s", r.code, r.body)
	}
	framework.Eventually(t, framework.Medium, func() error {
		p, err := env.Client(t, "dev").CoreV1().Pods("ml-a").Get(ctx, "web", metav1.GetOptions{})
		if err != nil || p.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("pod not running: %v", err)
		}
		return nil
	})
	return f
}

var jsonCT = http.Header{"Content-Type": {"application/json"}}

type result struct {
	code    int
	body    string
	header  http.Header
	cookies []*http.Cookie
}

// do sends a request; token "" sends none; extra headers are added as
// given (several values of one name stay several header lines).
func (f *fixture) do(t *testing.T, method, path, token string, hdr http.Header, body io.Reader) result {
	t.Helper()
	req, err := http.NewRequest(method, f.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: f.ca}}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return result{resp.StatusCode, string(data), resp.Header, resp.Cookies()}
}

// raw sends bytes as they are over TLS (paths no client library would
// send) and returns the status code.
func (f *fixture) raw(t *testing.T, request string) int {
	t.Helper()
	conn, err := tls.Dial("tcp", f.host, &tls.Config{RootCAs: f.ca, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func jsonField(body, field string) string {
	i := strings.Index(body, `"`+field+`":"`)
	if i < 0 {
		return ""
	}
	rest := body[i+len(field)+4:]
	return rest[:strings.IndexByte(rest, '"')]
}

func h(kv ...string) http.Header {
	out := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Add(kv[i], kv[i+1])
	}
	return out
}

func TestSecurityCases(t *testing.T) {
	f := setup(t)
	kubeSystemPods := "/k8s/clusters/dev/api/v1/namespaces/kube-system/pods"
	cases := []struct {
		name string
		run  func(t *testing.T) result
		code int
		// body, when set, must appear in the answer.
		body string
	}{
		{"impersonate-user header is stripped", func(t *testing.T) result {
			return f.do(t, "GET", kubeSystemPods, f.alice, h("Impersonate-User", "system:admin"), nil)
		}, 403, `bokujo:alice`},
		{"impersonate-group in mixed case is stripped", func(t *testing.T) result {
			return f.do(t, "GET", kubeSystemPods, f.alice, h("iMpErSoNaTe-GrOuP", "system:masters"), nil)
		}, 403, `bokujo:alice`},
		{"duplicated impersonation headers are stripped", func(t *testing.T) result {
			return f.do(t, "GET", kubeSystemPods, f.alice, h("Impersonate-User", "system:admin", "Impersonate-User", "admin", "Impersonate-Group", "system:masters"), nil)
		}, 403, `bokujo:alice`},
		{"impersonate-uid and extra are stripped", func(t *testing.T) result {
			return f.do(t, "GET", kubeSystemPods, f.alice, h("Impersonate-Uid", "0", "Impersonate-Extra-Scopes", "all"), nil)
		}, 403, `bokujo:alice`},
		{"impersonation header named in Connection is stripped", func(t *testing.T) result {
			return f.do(t, "GET", kubeSystemPods, f.alice, h("Connection", "Impersonate-User", "Impersonate-User", "system:admin"), nil)
		}, 403, `bokujo:alice`},
		{"a downstream service-account token is not a bokujo credential", func(t *testing.T) result {
			return f.do(t, "GET", kubeSystemPods, "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", nil, nil)
		}, 401, ""},
		{"no credential", func(t *testing.T) result { return f.do(t, "GET", kubeSystemPods, "", nil, nil) }, 401, ""},
		{"revoked token", func(t *testing.T) result { return f.do(t, "GET", "/v1/clusters", f.revoked, nil, nil) }, 401, ""},
		{"expired token", func(t *testing.T) result { return f.do(t, "GET", "/v1/clusters", f.expired, nil, nil) }, 401, ""},
		{"malformed token", func(t *testing.T) result { return f.do(t, "GET", "/v1/clusters", "bokujo_!!!_x", nil, nil) }, 401, ""},
		{"another user's token id with a wrong secret", func(t *testing.T) result {
			id := strings.Split(f.carol, "_")[1]
			return f.do(t, "GET", "/v1/clusters", "bokujo_"+id+"_"+strings.Repeat("A", 43), nil, nil)
		}, 401, ""},
		{"system:admin cannot be created as a user", func(t *testing.T) result {
			return f.do(t, "POST", "/v1/users", f.admin, jsonCT, strings.NewReader(`{"username":"system:admin","password":"`+password+`"}`))
		}, 400, ""},
		{"path traversal to another cluster", func(t *testing.T) result {
			return result{code: f.raw(t, "GET /k8s/clusters/dev/../prod/api HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+f.alice+"\r\n\r\n")}
		}, 400, ""},
		{"encoded dot-dot traversal", func(t *testing.T) result {
			return result{code: f.raw(t, "GET /k8s/clusters/dev/%2e%2e/%2E%2E/v1/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+f.alice+"\r\n\r\n")}
		}, 400, ""},
		{"double slash", func(t *testing.T) result {
			return result{code: f.raw(t, "GET /k8s/clusters/dev//api/v1/pods HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+f.alice+"\r\n\r\n")}
		}, 400, ""},
		{"encoded slash out to the server API", func(t *testing.T) result {
			return result{code: f.raw(t, "GET /k8s/clusters/dev/..%2f..%2fv1%2fusers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+f.alice+"\r\n\r\n")}
		}, 400, ""},
		{"cookie POST without CSRF token to the proxy", func(t *testing.T) result {
			return f.do(t, "POST", "/k8s/clusters/dev/api/v1/namespaces/ml-a/configmaps", "", h("Cookie", f.cookie.Name+"="+f.cookie.Value, "Content-Type", "application/json"),
				strings.NewReader(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"csrf"}}`))
		}, 403, ""},
		{"cookie POST from another site with a CSRF token", func(t *testing.T) result {
			return f.do(t, "POST", "/v1/projects/ml/namespaces", "", h("Cookie", f.cookie.Name+"="+f.cookie.Value, "X-CSRF-Token", f.csrf,
				"Sec-Fetch-Site", "cross-site", "Content-Type", "application/json"), strings.NewReader(`{"name":"ml-csrf"}`))
		}, 403, ""},
		{"cookie POST with CSRF token from the same site works", func(t *testing.T) result {
			return f.do(t, "POST", "/k8s/clusters/dev/api/v1/namespaces/ml-a/configmaps", "", h("Cookie", f.cookie.Name+"="+f.cookie.Value, "X-CSRF-Token", f.csrf,
				"Sec-Fetch-Site", "same-origin", "Content-Type", "application/json"), strings.NewReader(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"same-site"}}`))
		}, 201, ""},
		{"websocket exec from a foreign origin (cross-site websocket hijacking)", func(t *testing.T) result {
			return f.do(t, "GET", "/k8s/clusters/dev/api/v1/namespaces/ml-a/pods/"+f.pod+"/exec?command=id&stdout=true", "",
				h("Cookie", f.cookie.Name+"="+f.cookie.Value, "Origin", "https://evil.example", "Connection", "Upgrade", "Upgrade", "websocket",
					"Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", base64.StdEncoding.EncodeToString([]byte("0123456789abcdef")),
					"Sec-WebSocket-Protocol", "v5.channel.k8s.io"), nil)
		}, 403, ""},
		{"exec with only get pods rights", func(t *testing.T) result {
			return f.do(t, "POST", "/k8s/clusters/dev/api/v1/namespaces/ml-a/pods/"+f.pod+"/exec?command=id&stdout=true", f.carol, nil, nil)
		}, 403, `pods/exec`},
		{"project member grants themselves project-owner", func(t *testing.T) result {
			return f.do(t, "POST", "/v1/projects/ml/members", f.alice, jsonCT,
				strings.NewReader(`{"subject":{"kind":"User","name":"alice"},"roleTemplate":"project-owner"}`))
		}, 403, `Escalation`},
		{"project member grants a cluster role", func(t *testing.T) result {
			return f.do(t, "POST", "/v1/clusters/dev/members", f.alice, jsonCT,
				strings.NewReader(`{"subject":{"kind":"User","name":"alice"},"roleTemplate":"cluster-owner"}`))
		}, 403, `Escalation`},
		{"an administrator grants a project role (the allowed path)", func(t *testing.T) result {
			return f.do(t, "POST", "/v1/projects/ml/members", f.admin, jsonCT,
				strings.NewReader(`{"subject":{"kind":"Group","name":"ml-team"},"roleTemplate":"project-viewer"}`))
		}, 201, `"binding":"ml-`},
		{"a binding to a system group is refused", func(t *testing.T) result {
			return f.do(t, "POST", "/v1/projects/ml/members", f.admin, jsonCT,
				strings.NewReader(`{"subject":{"kind":"Group","name":"system:masters"},"roleTemplate":"project-viewer"}`))
		}, 400, ""},
		{"project member creates a namespace outside the project through bokujo", func(t *testing.T) result {
			return f.do(t, "POST", "/v1/projects/other/namespaces", f.alice, jsonCT, strings.NewReader(`{"name":"elsewhere"}`))
		}, 404, ""},
		{"project member creates a namespace directly in the cluster", func(t *testing.T) result {
			return f.do(t, "POST", "/k8s/clusters/dev/api/v1/namespaces", f.alice, jsonCT,
				strings.NewReader(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"sneaky","labels":{"bokujo.io/project":"ml"}}}`))
		}, 403, ""},
		{"project member relabels a namespace into the project", func(t *testing.T) result {
			return f.do(t, "PATCH", "/k8s/clusters/dev/api/v1/namespaces/default", f.alice, h("Content-Type", "application/merge-patch+json"),
				strings.NewReader(`{"metadata":{"labels":{"bokujo.io/project":"ml"}}}`))
		}, 403, ""},
		{"project member creates a namespace in the project through bokujo", func(t *testing.T) result {
			return f.do(t, "POST", "/v1/projects/ml/namespaces", f.alice, jsonCT, strings.NewReader(`{"name":"ml-b"}`))
		}, 201, ""},
		{"imported kubeconfig pointing at bokujo itself", func(t *testing.T) result {
			return f.do(t, "POST", "/v1/clusters", f.admin, jsonCT, strings.NewReader(importBody("self", "https://"+f.host)))
		}, 422, `bokujo server itself`},
		{"imported kubeconfig pointing at the metadata address", func(t *testing.T) result {
			return f.do(t, "POST", "/v1/clusters", f.admin, jsonCT, strings.NewReader(importBody("meta", "https://169.254.169.254")))
		}, 422, `link-local`},
		{"very large headers", func(t *testing.T) result {
			return f.do(t, "GET", "/v1/clusters", f.alice, h("X-Padding", strings.Repeat("a", 200<<10)), nil)
		}, 431, ""},
		{"very large body to the API", func(t *testing.T) result {
			return f.do(t, "POST", "/v1/projects/ml/namespaces", f.alice, jsonCT, strings.NewReader(`{"name":"`+strings.Repeat("a", 2<<20)+`"}`))
		}, 413, ""},
		{"very large body to the proxy", func(t *testing.T) result {
			return f.do(t, "POST", "/k8s/clusters/dev/api/v1/namespaces/ml-a/configmaps", f.alice, jsonCT, bytes.NewReader(make([]byte, 33<<20)))
		}, 413, ""},
		{"a non-admin cannot create users", func(t *testing.T) result {
			return f.do(t, "POST", "/v1/users", f.alice, jsonCT, strings.NewReader(`{"username":"mallory","password":"`+password+`"}`))
		}, 403, ""},
		{"an admin creates a user", func(t *testing.T) result {
			return f.do(t, "POST", "/v1/users", f.admin, jsonCT, strings.NewReader(`{"username":"dave","password":"`+password+`"}`))
		}, 201, `"name":"dave"`},
		{"a duplicate user is a conflict", func(t *testing.T) result {
			return f.do(t, "POST", "/v1/users", f.admin, jsonCT, strings.NewReader(`{"username":"dave","password":"`+password+`"}`))
		}, 409, ""},
		{"a weak password is refused", func(t *testing.T) result {
			return f.do(t, "POST", "/v1/users", f.admin, jsonCT, strings.NewReader(`{"username":"erin","password":"short"}`))
		}, 400, ""},
		{"disabling an unknown user", func(t *testing.T) result {
			return f.do(t, "POST", "/v1/users/nobody-here/disable", f.admin, nil, nil)
		}, 404, ""},
		{"a disabled user's token stops working at once", func(t *testing.T) result {
			if r := f.do(t, "POST", "/v1/users/carol/disable", f.admin, nil, nil); r.code != 200 {
				return r
			}
			return f.do(t, "GET", "/v1/clusters", f.carol, nil, nil)
		}, 401, ""},
		{"a non-admin cannot configure identity providers", func(t *testing.T) result {
			return f.do(t, "PUT", "/v1/admin/authproviders/corp", f.alice, jsonCT, strings.NewReader(ldapProvider("Enabled", f.bindPassword)))
		}, 403, ""},
		{"a new identity provider needs its secret", func(t *testing.T) result {
			return f.do(t, "PUT", "/v1/admin/authproviders/corp", f.admin, jsonCT, strings.NewReader(ldapProvider("Enabled", "")))
		}, 400, "needs its secret"},
		{"an admin adds an LDAP provider; the secret is not echoed", func(t *testing.T) result {
			r := f.do(t, "PUT", "/v1/admin/authproviders/corp", f.admin, jsonCT, strings.NewReader(ldapProvider("Enabled", f.bindPassword)))
			if strings.Contains(r.body, f.bindPassword) {
				t.Error("the answer holds the bind password")
			}
			var sec corev1.Secret
			if err := f.app.Client.Get(context.Background(), client.ObjectKey{Namespace: mgmtv1.SystemNamespace, Name: "authprovider-corp"}, &sec); err != nil ||
				string(sec.Data[mgmtv1.BindPasswordSecretKey]) != f.bindPassword {
				t.Errorf("bind password not stored in the provider's Secret: %v", err)
			}
			return r
		}, 201, `"bindPasswordRef":{"name":"authprovider-corp"}`},
		{"the provider list never shows secrets", func(t *testing.T) result {
			r := f.do(t, "GET", "/v1/admin/authproviders", f.admin, nil, nil)
			if strings.Contains(r.body, f.bindPassword) {
				t.Error("the list holds the bind password")
			}
			return r
		}, 200, `"name":"corp"`},
		{"an admin disables a provider and keeps its secret", func(t *testing.T) result {
			return f.do(t, "PUT", "/v1/admin/authproviders/corp", f.admin, jsonCT, strings.NewReader(ldapProvider("Disabled", "")))
		}, 200, `"state":"Disabled"`},
		{"a provider whose settings contradict its type is refused with the reason", func(t *testing.T) result {
			body := strings.Replace(ldapProvider("Enabled", ""), `"type":"LDAP"`, `"type":"OIDC"`, 1)
			return f.do(t, "PUT", "/v1/admin/authproviders/corp", f.admin, jsonCT, strings.NewReader(body))
		}, 400, "Invalid"},
		{"an admin deletes a provider", func(t *testing.T) result {
			return f.do(t, "DELETE", "/v1/admin/authproviders/corp", f.admin, nil, nil)
		}, 200, ""},
		{"deleting it again", func(t *testing.T) result {
			return f.do(t, "DELETE", "/v1/admin/authproviders/corp", f.admin, nil, nil)
		}, 404, ""},
		{"brute-force login is throttled", func(t *testing.T) result {
			var last result
			for i := 0; i < 8; i++ {
				last = f.do(t, "POST", "/v1/login", "", jsonCT, strings.NewReader(`{"username":"carol","password":"wrong password `+fmt.Sprint(i)+`"}`))
				if last.code == 429 {
					if last.header.Get("Retry-After") == "" {
						t.Error("429 without Retry-After")
					}
					return last
				}
			}
			return last
		}, 429, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.run(t)
			if got.code != tc.code || !strings.Contains(got.body, tc.body) {
				t.Fatalf("got %d %s\nwant %d with %q", got.code, truncate(got.body), tc.code, tc.body)
			}
		})
	}

	t.Run("no token or secret value in logs or audit", func(t *testing.T) {
		audit, _ := os.ReadFile(filepath.Join(f.dir, "audit", "audit.log"))
		if len(audit) == 0 {
			t.Fatal("audit log is empty")
		}
		for where, text := range map[string]string{"server log": f.logs.String(), "audit log": string(audit)} {
			for _, v := range []string{f.alice, f.carol, f.admin, f.revoked, f.expired, f.cookie.Value, f.secret, password, f.bindPassword} {
				if strings.Contains(text, v) {
					t.Errorf("%s contains a credential or secret value", where)
				}
			}
		}
	})
}

func importBody(name, server string) string {
	kc := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: %s\n    certificate-authority-data: %s\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\n",
		server, base64.StdEncoding.EncodeToString([]byte("ca")))
	return fmt.Sprintf(`{"name":%q,"kubeconfig":%q}`, name, kc)
}

func truncate(s string) string {
	if len(s) > 400 {
		return s[:400] + "…"
	}
	return s
}

func ldapProvider(state, secret string) string {
	return fmt.Sprintf(`{"spec":{"type":"LDAP","state":%q,"displayName":"Corporate directory","ldap":{"url":"ldaps://ldap.example.com",`+
		`"bindDN":"cn=reader,dc=example,dc=com","bindPasswordRef":{"name":"ignored"},"userBaseDN":"ou=people,dc=example,dc=com"}},"secret":%q}`, state, secret)
}
