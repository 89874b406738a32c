package access_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/test/framework"
	"bokujo.io/bokujo/test/framework/testserver"
)

func TestRoleTemplatesAPI(t *testing.T) {
	b := startServer(t)
	ctx := context.Background()
	toks := adminAndUsers(t, b, "rt-", "ann")
	admin, ann := toks[0], toks[1]
	mc := testserver.ManagementClient(t, env.RESTConfig(t, "mgmt"))

	// Every user reads the templates, built-ins marked.
	code, body := b.call(t, ann, "GET", "/v1/roletemplates?limit=1000", nil)
	var l struct {
		Items []struct {
			Name    string `json:"name"`
			Context string `json:"context"`
			Builtin bool   `json:"builtin"`
			Rules   []any  `json:"rules"`
		} `json:"items"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &l) != nil {
		t.Fatalf("list: %d %s", code, body)
	}
	found := false
	for _, it := range l.Items {
		if it.Name == mgmtv1.RoleTemplateProjectMember {
			found = it.Builtin && it.Context == "project" && len(it.Rules) > 0
		}
	}
	if !found {
		t.Errorf("project-member is not listed as a built-in project template with rules: %s", body)
	}

	valid := `{"name":"rt-pod-reader","displayName":"Pod reader","context":"project","rules":[{"verbs":["get","list"],"apiGroups":[""],"resources":["pods"]}]}`
	for _, tc := range []struct {
		name, token, method, path, body string
		want                            int
		code                            string
	}{
		{"not admin", ann, "POST", "/v1/roletemplates", valid, 403, "Forbidden"},
		{"bad JSON", admin, "POST", "/v1/roletemplates", `[`, 400, "BadRequest"},
		{"unknown field", admin, "POST", "/v1/roletemplates", `{"name":"rt-x","builtin":true}`, 400, "BadRequest"},
		{"too large", admin, "POST", "/v1/roletemplates", `{"name":"` + strings.Repeat("x", 2<<20) + `"}`, 413, "TooLarge"},
		{"empty verbs", admin, "POST", "/v1/roletemplates", `{"name":"rt-x","context":"project","rules":[{"verbs":[],"apiGroups":[""],"resources":["pods"]}]}`, 400, "BadRequest"},
		{"nonResourceURLs in project", admin, "POST", "/v1/roletemplates", `{"name":"rt-x","context":"project","rules":[{"verbs":["get"],"nonResourceURLs":["/metrics"]}]}`, 400, "BadRequest"},
		{"change built-in", admin, "PUT", "/v1/roletemplates/project-member", `{"context":"project","rules":[{"verbs":["*"],"apiGroups":["*"],"resources":["*"]}]}`, 403, "Builtin"},
		{"delete built-in", admin, "DELETE", "/v1/roletemplates/cluster-owner", ``, 403, "Builtin"},
		{"missing", ann, "GET", "/v1/roletemplates/rt-missing", ``, 404, "NotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := b.raw(t, tc.token, tc.method, tc.path, tc.body, nil)
			if code != tc.want || errCode(body) != tc.code {
				t.Errorf("got %d %.200s, want %d %s", code, body, tc.want, tc.code)
			}
		})
	}

	if code, body := b.raw(t, admin, "POST", "/v1/roletemplates", valid, nil); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var rt mgmtv1.RoleTemplate
	if err := mc.Get(ctx, client.ObjectKey{Name: "rt-pod-reader"}, &rt); err != nil || rt.Spec.Context != mgmtv1.RoleTemplateContextProject || rt.Spec.Origin != mgmtv1.OriginCustom {
		t.Fatalf("stored template: %+v %v", rt.Spec, err)
	}
	framework.Eventually(t, framework.Short, func() error {
		code, body := b.raw(t, admin, "PUT", "/v1/roletemplates/rt-pod-reader", `{"context":"project","description":"reads pods","rules":[{"verbs":["get"],"apiGroups":[""],"resources":["pods"]}]}`, nil)
		if code != http.StatusOK {
			return fmt.Errorf("put: %d %s", code, body)
		}
		return nil
	})
	if code, body := b.raw(t, admin, "PUT", "/v1/roletemplates/rt-pod-reader", `{"context":"cluster","rules":[{"verbs":["get"],"apiGroups":[""],"resources":["pods"]}]}`, nil); code != http.StatusBadRequest {
		t.Errorf("context change: %d %s", code, body)
	}

	// In use: 409 naming the binding; free again after it goes.
	prtb := &mgmtv1.ProjectRoleTemplateBinding{ObjectMeta: metav1.ObjectMeta{Name: "rt-binding"},
		Spec: mgmtv1.ProjectRoleTemplateBindingSpec{ProjectName: "rt-nowhere", RoleTemplateName: "rt-pod-reader", Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: "rt-ann"}}}
	if err := mc.Create(ctx, prtb); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, framework.Short, func() error {
		code, body := b.call(t, admin, "DELETE", "/v1/roletemplates/rt-pod-reader", nil)
		if code != http.StatusConflict || !strings.Contains(string(body), "rt-binding") {
			return fmt.Errorf("delete in use: %d %s", code, body)
		}
		return nil
	})
	if err := mc.Delete(ctx, prtb); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, framework.Short, func() error {
		if code, body := b.call(t, admin, "DELETE", "/v1/roletemplates/rt-pod-reader", nil); code != http.StatusOK {
			return fmt.Errorf("delete: %d %s", code, body)
		}
		return nil
	})
}
