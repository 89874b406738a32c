package api

import (
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

func TestValidateRoleTemplate(t *testing.T) {
	pods := rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}
	long := strings.Repeat("a", 254)
	for _, tc := range []struct {
		name    string
		req     roleTemplateRequest
		wantErr string
	}{
		{"valid project", roleTemplateRequest{Name: "pod-reader", Context: "project", Rules: []rbacv1.PolicyRule{pods}}, ""},
		{"valid cluster, CRD spelling", roleTemplateRequest{Name: "metrics", Context: "Cluster", Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/metrics"}}}}, ""},
		{"bad name", roleTemplateRequest{Name: "Pod_Reader", Context: "project", Rules: []rbacv1.PolicyRule{pods}}, "invalid role template name"},
		{"bad context", roleTemplateRequest{Name: "x", Context: "namespace", Rules: []rbacv1.PolicyRule{pods}}, "context must be"},
		{"no rules", roleTemplateRequest{Name: "x", Context: "project"}, "at least one rule"},
		{"no verbs", roleTemplateRequest{Name: "x", Context: "project", Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}}}}, "verbs must not be empty"},
		{"no apiGroups", roleTemplateRequest{Name: "x", Context: "project", Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, Resources: []string{"pods"}}}}, "apiGroups must not be empty"},
		{"no resources", roleTemplateRequest{Name: "x", Context: "project", Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}}}}, "resources must not be empty"},
		{"empty verb", roleTemplateRequest{Name: "x", Context: "project", Rules: []rbacv1.PolicyRule{{Verbs: []string{""}, APIGroups: []string{""}, Resources: []string{"pods"}}}}, "verbs has an empty entry"},
		{"nonResourceURLs in project", roleTemplateRequest{Name: "x", Context: "project", Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}}}, "cannot grant nonResourceURLs"},
		{"mixed rule", roleTemplateRequest{Name: "x", Context: "cluster", Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, Resources: []string{"pods"}, NonResourceURLs: []string{"/healthz"}}}}, "cannot also name"},
		{"long entry", roleTemplateRequest{Name: "x", Context: "project", Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{long}}}}, "over 253"},
		{"too many entries", roleTemplateRequest{Name: "x", Context: "project", Rules: []rbacv1.PolicyRule{{Verbs: make([]string, 65), APIGroups: []string{""}, Resources: []string{"pods"}}}}, "at most 64"},
		{"too many rules", roleTemplateRequest{Name: "x", Context: "project", Rules: make([]rbacv1.PolicyRule, 129)}, "at most 128 rules"},
		{"long description", roleTemplateRequest{Name: "x", Context: "project", Description: strings.Repeat("d", 1025), Rules: []rbacv1.PolicyRule{pods}}, "description is at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := validateRoleTemplate(&tc.req)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}
