package access_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/audit"
	"bokujo.io/bokujo/test/framework"
	"bokujo.io/bokujo/test/framework/testserver"
)

// adminAndUsers creates an administrator and plain users (names made
// unique by prefix, since the management cluster outlives each server)
// and returns their tokens, admin first.
func adminAndUsers(t *testing.T, b *bokujo, prefix string, users ...string) []string {
	t.Helper()
	ctx := context.Background()
	var toks []string
	for _, u := range append([]string{"admin"}, users...) {
		name := prefix + u
		if _, err := b.app.Auth.CreateLocalUser(ctx, name, name, password); err != nil {
			t.Fatal(err)
		}
		toks = append(toks, b.login(t, name, password))
	}
	grb := &mgmtv1.GlobalRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: prefix + "admin"},
		Spec: mgmtv1.GlobalRoleBindingSpec{GlobalRoleName: mgmtv1.GlobalRoleAdmin, Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: prefix + "admin"}}}
	if err := b.app.Client.Create(ctx, grb); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, framework.Short, func() error {
		if code, body := b.call(t, toks[0], "GET", "/v1/users", nil); code != http.StatusOK {
			return fmt.Errorf("admin not effective yet: %d %s", code, body)
		}
		return nil
	})
	return toks
}

// raw sends a body as is, with a bearer token.
func (b *bokujo) raw(t *testing.T, token, method, path, body string, header map[string]string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, b.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := b.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, []byte(sb.String())
}

func errCode(body []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error.Code
}

func TestGroupsAPI(t *testing.T) {
	b := startServer(t)
	ctx := context.Background()
	toks := adminAndUsers(t, b, "gr-", "ann", "ben")
	admin, ann, ben := toks[0], toks[1], toks[2]
	mc := testserver.ManagementClient(t, env.RESTConfig(t, "mgmt")) // uncached

	// Validation and authorization: every failure path.
	for _, tc := range []struct {
		name, token, method, path, body string
		want                            int
		code                            string
	}{
		{"not admin", ann, "POST", "/v1/groups", `{"name":"gr-x"}`, 403, "Forbidden"},
		{"no credential", "", "POST", "/v1/groups", `{"name":"gr-x"}`, 401, "Unauthorized"},
		{"bad JSON", admin, "POST", "/v1/groups", `{"name":`, 400, "BadRequest"},
		{"unknown field", admin, "POST", "/v1/groups", `{"name":"gr-x","owner":"me"}`, 400, "BadRequest"},
		{"two objects", admin, "POST", "/v1/groups", `{"name":"gr-x"}{}`, 400, "BadRequest"},
		{"too large", admin, "POST", "/v1/groups", `{"name":"gr-x","description":"` + strings.Repeat("a", 2<<20) + `"}`, 413, "TooLarge"},
		{"bad name", admin, "POST", "/v1/groups", `{"name":"Not_DNS"}`, 400, "BadRequest"},
		{"empty name", admin, "POST", "/v1/groups", `{}`, 400, "BadRequest"},
		{"long description", admin, "POST", "/v1/groups", `{"name":"gr-x","description":"` + strings.Repeat("a", 1025) + `"}`, 400, "BadRequest"},
		{"unknown member", admin, "POST", "/v1/groups", `{"name":"gr-x","members":["gr-nobody"]}`, 400, "BadRequest"},
		{"system member", admin, "POST", "/v1/groups", `{"name":"gr-x","members":["system:admin"]}`, 400, "BadRequest"},
		{"duplicate member", admin, "POST", "/v1/groups", `{"name":"gr-x","members":["gr-ann","gr-ann"]}`, 400, "BadRequest"},
		{"missing group", admin, "GET", "/v1/groups/gr-missing", ``, 404, "NotFound"},
		{"put not admin", ann, "PUT", "/v1/groups/gr-x", `{}`, 403, "Forbidden"},
		{"delete not admin", ann, "DELETE", "/v1/groups/gr-x", ``, 403, "Forbidden"},
		{"bad force", admin, "DELETE", "/v1/groups/gr-x?force=yes", ``, 400, "BadRequest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := b.raw(t, tc.token, tc.method, tc.path, tc.body, nil)
			if code != tc.want || errCode(body) != tc.code {
				t.Errorf("got %d %.200s, want %d %s", code, body, tc.want, tc.code)
			}
		})
	}

	// Create, and the object is a plain Group kubectl could have written.
	code, body := b.call(t, admin, "POST", "/v1/groups", map[string]any{"name": "gr-ml", "displayName": "ML team", "description": "trains models", "members": []string{"gr-ann"}})
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var g mgmtv1.Group
	if err := mc.Get(ctx, client.ObjectKey{Name: "gr-ml"}, &g); err != nil || g.Spec.DisplayName != "ML team" || len(g.Spec.Members) != 1 {
		t.Fatalf("stored group: %+v %v", g.Spec, err)
	}
	if code, body := b.call(t, admin, "POST", "/v1/groups", map[string]any{"name": "gr-ml"}); code != http.StatusConflict {
		t.Errorf("duplicate create: %d %s", code, body)
	}

	// Visibility: admins see all, members their groups, others nothing.
	listed := func(tok string) []string {
		t.Helper()
		var names []string
		framework.Eventually(t, framework.Short, func() error {
			code, body := b.call(t, tok, "GET", "/v1/groups?limit=1000", nil)
			var l struct{ Items []struct{ Name string } }
			if code != http.StatusOK || json.Unmarshal(body, &l) != nil {
				return fmt.Errorf("list: %d %s", code, body)
			}
			names = nil
			for _, it := range l.Items {
				names = append(names, it.Name)
			}
			return nil
		})
		return names
	}
	framework.Eventually(t, framework.Short, func() error {
		if n := listed(admin); !contains(n, "gr-ml") {
			return fmt.Errorf("admin list %v lacks gr-ml", n)
		}
		return nil
	})
	if n := listed(ann); !contains(n, "gr-ml") {
		t.Errorf("member list %v lacks gr-ml", n)
	}
	if n := listed(ben); contains(n, "gr-ml") {
		t.Errorf("non-member list %v shows gr-ml", n)
	}
	if code, _ := b.call(t, ben, "GET", "/v1/groups/gr-ml", nil); code != http.StatusNotFound {
		t.Errorf("non-member get: %d, want the 404 of a missing group", code)
	}
	if code, body := b.call(t, ann, "GET", "/v1/groups/gr-ml", nil); code != http.StatusOK || !strings.Contains(string(body), `"displayName":"ML team"`) {
		t.Errorf("member get: %d %s", code, body)
	}

	// Replace the members; a rename is refused.
	if code, body := b.call(t, admin, "PUT", "/v1/groups/gr-ml", map[string]any{"name": "gr-other"}); code != http.StatusBadRequest {
		t.Errorf("rename: %d %s", code, body)
	}
	framework.Eventually(t, framework.Short, func() error {
		code, body := b.call(t, admin, "PUT", "/v1/groups/gr-ml", map[string]any{"displayName": "ML", "members": []string{"gr-ann", "gr-ben"}})
		if code != http.StatusOK {
			return fmt.Errorf("put: %d %s", code, body)
		}
		return nil
	})
	if err := mc.Get(ctx, client.ObjectKey{Name: "gr-ml"}, &g); err != nil || len(g.Spec.Members) != 2 || g.Spec.DisplayName != "ML" {
		t.Fatalf("after put: %+v %v", g.Spec, err)
	}

	// A cookie session needs the CSRF token to delete.
	jar, _ := cookiejar.New(nil)
	hc := b.client()
	hc.Jar = jar
	resp, err := hc.Post(b.url+"/v1/login", "application/json", strings.NewReader(`{"username":"gr-admin","password":"`+password+`"}`))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("cookie login: %v %v", resp, err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest("DELETE", b.url+"/v1/groups/gr-ml", nil)
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cookie delete without CSRF token: %d, want 403", resp.StatusCode)
	}

	// A bound group cannot be deleted without force; the answer names the binding.
	crtb := &mgmtv1.ClusterRoleTemplateBinding{ObjectMeta: metav1.ObjectMeta{Name: "gr-ml-dev"},
		Spec: mgmtv1.ClusterRoleTemplateBindingSpec{ClusterName: "dev", RoleTemplateName: mgmtv1.RoleTemplateClusterViewer, Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindGroup, Name: "gr-ml"}}}
	if err := b.app.Client.Create(ctx, crtb); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, framework.Short, func() error {
		code, body := b.call(t, admin, "DELETE", "/v1/groups/gr-ml", nil)
		if code != http.StatusConflict || !strings.Contains(string(body), "gr-ml-dev") {
			return fmt.Errorf("delete of a bound group: %d %s", code, body)
		}
		return nil
	})
	code, body = b.call(t, admin, "DELETE", "/v1/groups/gr-ml?force=true", nil)
	if code != http.StatusOK || !strings.Contains(string(body), "clusterroletemplatebindings/gr-ml-dev") {
		t.Fatalf("forced delete: %d %s", code, body)
	}
	framework.Eventually(t, framework.Short, func() error {
		if err := mc.Get(ctx, client.ObjectKey{Name: "gr-ml-dev"}, &mgmtv1.ClusterRoleTemplateBinding{}); err == nil {
			return fmt.Errorf("binding still there")
		}
		if err := mc.Get(ctx, client.ObjectKey{Name: "gr-ml"}, &mgmtv1.Group{}); err == nil {
			return fmt.Errorf("group still there")
		}
		return nil
	})

	// Each change is in the audit log as a management record.
	recs, err := b.app.Audit.Search(audit.Query{User: "gr-admin", Kind: "management", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"create groups gr-ml 201": false, "update groups gr-ml 200": false, "delete groups gr-ml 409": false,
		"delete groups gr-ml 200": false, "delete clusterroletemplatebindings gr-ml-dev 200": false, "create groups Not_DNS 400": false}
	for _, r := range recs {
		k := fmt.Sprintf("%s %s %s %d", r.Verb, r.Resource, r.Name, r.Status)
		if _, ok := want[k]; ok {
			want[k] = true
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("no audit record %q", k)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
