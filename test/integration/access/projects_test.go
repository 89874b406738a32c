package access_test

import (
	"context"
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

func TestProjectsAPI(t *testing.T) {
	b := startServer(t)
	ctx := context.Background()
	if err := b.app.Registry.ImportConfig(ctx, "pj-dev", "", env.Cluster(t, "dev").RESTConfig()); err != nil {
		t.Fatal(err)
	}
	toks := adminAndUsers(t, b, "pj-", "ann", "ben", "carl")
	admin, ann, ben, carl := toks[0], toks[1], toks[2], toks[3]
	mc := testserver.ManagementClient(t, env.RESTConfig(t, "mgmt"))
	bind := func(obj client.Object) {
		t.Helper()
		if err := mc.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	// ben owns the cluster; ann will own one project; carl has nothing.
	bind(&mgmtv1.ClusterRoleTemplateBinding{ObjectMeta: metav1.ObjectMeta{Name: "pj-ben-owner"},
		Spec: mgmtv1.ClusterRoleTemplateBindingSpec{ClusterName: "pj-dev", RoleTemplateName: mgmtv1.RoleTemplateClusterOwner, Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: "pj-ben"}}})

	for _, tc := range []struct {
		name, token, method, path, body string
		want                            int
		code                            string
	}{
		{"bad JSON", admin, "POST", "/v1/projects", `{`, 400, "BadRequest"},
		{"unknown field", admin, "POST", "/v1/projects", `{"name":"pj-x","clusterName":"pj-dev","owner":"me"}`, 400, "BadRequest"},
		{"system namespace", admin, "POST", "/v1/projects", `{"name":"pj-x","clusterName":"pj-dev","namespaces":["kube-system"]}`, 400, "BadRequest"},
		{"namespace twice", admin, "POST", "/v1/projects", `{"name":"pj-x","clusterName":"pj-dev","namespaces":["a","a"]}`, 400, "BadRequest"},
		{"bad namespace", admin, "POST", "/v1/projects", `{"name":"pj-x","clusterName":"pj-dev","namespaces":["A_B"]}`, 400, "BadRequest"},
		{"cluster differs", admin, "POST", "/v1/projects", `{"name":"pj-x","clusterName":"pj-dev","cluster":"other"}`, 400, "BadRequest"},
		{"too large", admin, "POST", "/v1/projects", `{"name":"` + strings.Repeat("x", 2<<20) + `"}`, 413, "TooLarge"},
		{"bad name", admin, "POST", "/v1/projects", `{"name":"a.b","clusterName":"pj-dev"}`, 400, "BadRequest"},
		{"unknown cluster", admin, "POST", "/v1/projects", `{"name":"pj-x","clusterName":"pj-nowhere"}`, 400, "BadRequest"},
		{"no rights on the cluster", carl, "POST", "/v1/projects", `{"name":"pj-x","clusterName":"pj-dev"}`, 400, "BadRequest"},
		{"long description", admin, "POST", "/v1/projects", `{"name":"pj-x","clusterName":"pj-dev","description":"` + strings.Repeat("d", 1025) + `"}`, 400, "BadRequest"},
		{"missing", admin, "GET", "/v1/projects/pj-missing", ``, 404, "NotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := b.raw(t, tc.token, tc.method, tc.path, tc.body, nil)
			if code != tc.want || errCode(body) != tc.code {
				t.Errorf("got %d %.200s, want %d %s", code, body, tc.want, tc.code)
			}
		})
	}

	quota := `"resourceQuota":{"hard":{"requests.nvidia.com/gpu":"2"}}`
	if code, body := b.raw(t, admin, "POST", "/v1/projects", `{"name":"pj-ml","clusterName":"pj-dev","displayName":"ML",`+quota+`}`, nil); code != http.StatusCreated {
		t.Fatalf("admin create: %d %s", code, body)
	}
	var p mgmtv1.Project
	if err := mc.Get(ctx, client.ObjectKey{Name: "pj-ml"}, &p); err != nil || p.Spec.ClusterName != "pj-dev" || p.Spec.ResourceQuota == nil {
		t.Fatalf("stored project: %+v %v", p.Spec, err)
	}
	framework.Eventually(t, framework.Short, func() error {
		if code, body := b.raw(t, ben, "POST", "/v1/projects", `{"name":"pj-web","clusterName":"pj-dev"}`, nil); code != http.StatusCreated {
			return fmt.Errorf("cluster owner create: %d %s", code, body)
		}
		return nil
	})
	bind(&mgmtv1.ProjectRoleTemplateBinding{ObjectMeta: metav1.ObjectMeta{Name: "pj-ann-owner"},
		Spec: mgmtv1.ProjectRoleTemplateBindingSpec{ProjectName: "pj-ml", RoleTemplateName: mgmtv1.RoleTemplateProjectOwner, Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: "pj-ann"}}})

	// A project carl cannot see is the same 404 as a missing one.
	code, body := b.call(t, carl, "GET", "/v1/projects/pj-ml", nil)
	if code != http.StatusNotFound || errCode(body) != "NotFound" {
		t.Errorf("hidden project: %d %s", code, body)
	}
	if code, body := b.call(t, carl, "PUT", "/v1/projects/pj-ml", map[string]any{"displayName": "mine"}); code != http.StatusNotFound {
		t.Errorf("hidden project put: %d %s", code, body)
	}

	// The project owner edits display fields, not the quota.
	framework.Eventually(t, framework.Short, func() error {
		code, body := b.raw(t, ann, "PUT", "/v1/projects/pj-ml", `{"displayName":"Machine learning","description":"models",`+quota+`}`, nil)
		if code != http.StatusOK {
			return fmt.Errorf("owner put: %d %s", code, body)
		}
		return nil
	})
	if code, body := b.raw(t, ann, "PUT", "/v1/projects/pj-ml", `{"displayName":"Machine learning","resourceQuota":{"hard":{"requests.nvidia.com/gpu":"8"}}}`, nil); code != http.StatusForbidden {
		t.Errorf("owner quota change: %d %s", code, body)
	}
	framework.Eventually(t, framework.Short, func() error {
		if code, body := b.raw(t, ben, "PUT", "/v1/projects/pj-ml", `{"displayName":"Machine learning","resourceQuota":{"hard":{"requests.nvidia.com/gpu":"8"}}}`, nil); code != http.StatusOK {
			return fmt.Errorf("cluster owner quota change: %d %s", code, body)
		}
		return nil
	})
	if err := mc.Get(ctx, client.ObjectKey{Name: "pj-ml"}, &p); err != nil || p.Spec.DisplayName != "Machine learning" || p.Spec.ResourceQuota.Hard.Name("requests.nvidia.com/gpu", "").String() != "8" {
		t.Fatalf("after puts: %+v %v", p.Spec, err)
	}

	// Declared namespaces: the cluster owner sets them, the project owner
	// may send them back unchanged (as the UI does) but not change them.
	framework.Eventually(t, framework.Short, func() error {
		if code, body := b.raw(t, ben, "PUT", "/v1/projects/pj-ml", `{"displayName":"Machine learning","namespaces":["pj-ml-a"],"resourceQuota":{"hard":{"requests.nvidia.com/gpu":"8"}}}`, nil); code != http.StatusOK {
			return fmt.Errorf("cluster owner namespaces: %d %s", code, body)
		}
		return nil
	})
	framework.Eventually(t, framework.Medium, func() error {
		code, body := b.call(t, ann, "GET", "/v1/projects/pj-ml", nil)
		if code != http.StatusOK || !strings.Contains(string(body), `"namespaces":["pj-ml-a"]`) || !strings.Contains(string(body), `"status":{"namespaces":["pj-ml-a"]}`) {
			return fmt.Errorf("project with a declared namespace: %d %s", code, body)
		}
		return nil
	})
	framework.Eventually(t, framework.Short, func() error {
		code, body := b.raw(t, ann, "PUT", "/v1/projects/pj-ml", `{"displayName":"ML team","cluster":"pj-dev","namespaces":["pj-ml-a"],"resourceQuota":{"hard":{"requests.nvidia.com/gpu":"8"}}}`, nil)
		if code != http.StatusOK {
			return fmt.Errorf("owner put with the namespaces unchanged: %d %s", code, body)
		}
		return nil
	})
	if code, body := b.raw(t, ann, "PUT", "/v1/projects/pj-ml", `{"displayName":"ML team","namespaces":["pj-ml-a","pj-other"],"resourceQuota":{"hard":{"requests.nvidia.com/gpu":"8"}}}`, nil); code != http.StatusForbidden {
		t.Errorf("owner namespace change: %d %s, want 403", code, body)
	}

	// Only cluster owners and admins delete; the answer says namespaces stay.
	if code, body := b.call(t, ann, "DELETE", "/v1/projects/pj-ml", nil); code != http.StatusForbidden {
		t.Errorf("project owner delete: %d %s", code, body)
	}
	if code, body := b.call(t, ben, "DELETE", "/v1/projects/pj-ml", nil); code != http.StatusOK || !strings.Contains(string(body), "namespacesKept") {
		t.Errorf("cluster owner delete: %d %s", code, body)
	}
	framework.Eventually(t, framework.Medium, func() error {
		if err := mc.Get(ctx, client.ObjectKey{Name: "pj-ml"}, &p); err == nil {
			return fmt.Errorf("project still there: %v", p.Finalizers)
		}
		return nil
	})
}
