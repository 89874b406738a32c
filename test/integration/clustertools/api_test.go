package clustertools_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/api"
	"bokujo.io/bokujo/internal/app"
	"bokujo.io/bokujo/internal/auth"
	"bokujo.io/bokujo/internal/clusters"
	"bokujo.io/bokujo/test/framework"
	"bokujo.io/bokujo/test/framework/testserver"
)

// TestToolsAPI: cluster owners enable and disable tools through /v1;
// viewers see them and may not change them; others do not see the cluster.
func TestToolsAPI(t *testing.T) {
	ctx := context.Background()
	s := testserver.Start(t, env.RESTConfig(t, "mgmt"), func(o *app.Options) { o.Components = nil })
	if err := s.App.Registry.ImportConfig(ctx, "dev", "", env.Cluster(t, "dev").RESTConfig()); err != nil && !errors.Is(err, clusters.ErrAlreadyExists) {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	for _, u := range []string{"tools-owner", "tools-viewer", "tools-nobody"} {
		if _, err := s.App.Auth.CreateLocalUser(ctx, u, u, "a-long-enough-password-1"); err != nil {
			t.Fatal(err)
		}
		tok, _, err := s.App.Auth.CreateToken(ctx, u, auth.TokenRequest{Type: mgmtv1.TokenTypeAPI, Description: "tools test", TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		tokens[u] = tok
	}
	for user, tpl := range map[string]string{"tools-owner": mgmtv1.RoleTemplateClusterOwner, "tools-viewer": mgmtv1.RoleTemplateClusterViewer} {
		b := &mgmtv1.ClusterRoleTemplateBinding{ObjectMeta: metav1.ObjectMeta{Name: user + "-dev"}, Spec: mgmtv1.ClusterRoleTemplateBindingSpec{
			ClusterName: "dev", RoleTemplateName: tpl, Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: user}}}
		if err := s.App.Client.Create(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	call := func(user, method, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, s.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tokens[user])
		resp, err := s.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tools := func(user string) map[mgmtv1.ClusterToolName]api.ClusterToolInfo {
		t.Helper()
		code, body := call(user, "GET", "/v1/clusters/dev/tools")
		if code != http.StatusOK {
			t.Fatalf("GET tools as %s: %d %s", user, code, body)
		}
		var list api.List[api.ClusterToolInfo]
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			t.Fatal(err)
		}
		out := map[mgmtv1.ClusterToolName]api.ClusterToolInfo{}
		for _, it := range list.Items {
			out[it.Tool] = it
		}
		return out
	}

	if got := tools("tools-viewer"); len(got) != 2 || got[mgmtv1.ToolLogging].Enabled || got[mgmtv1.ToolLogging].CanChange {
		t.Fatalf("viewer sees %+v, want monitoring and logging, logging not enabled, no right to change", got)
	}
	if got := tools("tools-owner"); !got[mgmtv1.ToolLogging].CanChange {
		t.Fatalf("owner sees %+v, want the right to change", got)
	}
	for _, tc := range []struct {
		user, method, path string
		want               int
		msg                string
	}{
		{"tools-nobody", "GET", "/v1/clusters/dev/tools", 404, `cluster \"dev\" not found`},
		{"tools-nobody", "PUT", "/v1/clusters/dev/tools/logging", 404, `cluster \"dev\" not found`},
		{"tools-viewer", "PUT", "/v1/clusters/dev/tools/logging", 403, "only administrators and owners"},
		{"tools-viewer", "DELETE", "/v1/clusters/dev/tools/logging", 403, "only administrators and owners"},
		{"tools-owner", "PUT", "/v1/clusters/dev/tools/tracing", 404, "unknown tool"},
		{"tools-owner", "DELETE", "/v1/clusters/dev/tools/logging", 404, "not enabled"},
		{"", "GET", "/v1/clusters/dev/tools", 401, ""},
	} {
		if code, body := call(tc.user, tc.method, tc.path); code != tc.want || !strings.Contains(body, tc.msg) {
			t.Errorf("%s %s as %q: %d %s, want %d with %q", tc.method, tc.path, tc.user, code, body, tc.want, tc.msg)
		}
	}

	if code, body := call("tools-owner", "PUT", "/v1/clusters/dev/tools/logging"); code != http.StatusCreated {
		t.Fatalf("enable: %d %s", code, body)
	}
	if code, body := call("tools-owner", "PUT", "/v1/clusters/dev/tools/logging"); code != http.StatusOK {
		t.Fatalf("enable again: %d %s, want 200", code, body)
	}
	framework.Eventually(t, framework.Medium, func() error {
		if l := tools("tools-viewer")[mgmtv1.ToolLogging]; !l.Enabled || !l.Installed || !l.Ready || l.Version == "" {
			return fmt.Errorf("logging %+v, want enabled, installed and ready", l)
		}
		return nil
	})
	if code, body := call("tools-owner", "DELETE", "/v1/clusters/dev/tools/logging"); code != http.StatusOK {
		t.Fatalf("disable: %d %s", code, body)
	}
	framework.Eventually(t, framework.Medium, func() error {
		if l := tools("tools-owner")[mgmtv1.ToolLogging]; l.Enabled {
			return fmt.Errorf("logging still %+v", l)
		}
		return nil
	})
	if _, err := env.Client(t, "dev").AppsV1().DaemonSets("bokujo-logging").Get(ctx, "fluent-bit", metav1.GetOptions{}); err == nil {
		t.Error("fluent-bit DaemonSet left after disabling logging")
	}
}
