package rbacsync_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/rbacsync"
)

// CanGrant against real management objects: a user grants only what they
// hold in that scope, and nothing cluster-wide from a project.
func TestCanGrant(t *testing.T) {
	f := setup(t)
	disabled := newUser("esc-disabled")
	disabled.Spec.State = v1alpha1.UserStateDisabled
	f.create(t,
		newUser("esc-member"), newUser("esc-owner"), newUser("esc-admin"), newUser("esc-viewer"),
		newUser("esc-cowner"), newUser("esc-grouped"), disabled,
		newProject("esc", dev), newProject("esc-other", dev), newProject("esc-prod", prod),
		newPRTB("esc-member", "esc", v1alpha1.RoleTemplateProjectMember, userSubject("esc-member")),
		newPRTB("esc-owner", "esc", v1alpha1.RoleTemplateProjectOwner, userSubject("esc-owner")),
		newPRTB("esc-owners-group", "esc", v1alpha1.RoleTemplateProjectOwner, groupSubject("esc-owners")),
		newPRTB("esc-disabled", "esc", v1alpha1.RoleTemplateProjectOwner, userSubject("esc-disabled")),
		newCRTB("esc-viewer", dev, v1alpha1.RoleTemplateClusterViewer, userSubject("esc-viewer")),
		newCRTB("esc-cowner", dev, v1alpha1.RoleTemplateClusterOwner, userSubject("esc-cowner")),
		newGRB("esc-admin", v1alpha1.GlobalRoleAdmin, userSubject("esc-admin")),
	)
	ctx := context.Background()
	template := func(name string) *v1alpha1.RoleTemplate {
		t.Helper()
		rt := &v1alpha1.RoleTemplate{}
		if err := f.mgmt.Get(ctx, client.ObjectKey{Name: name}, rt); err != nil {
			t.Fatal(err)
		}
		return rt
	}
	inProject := func(p string) rbacsync.Scope { return rbacsync.Scope{Project: p} }
	onCluster := func(c string) rbacsync.Scope { return rbacsync.Scope{Cluster: c} }

	cases := []struct {
		name     string
		user     string
		groups   []string
		template string
		scope    rbacsync.Scope
		// wantErr is a substring of the refusal; "" means allowed.
		wantErr string
	}{
		{"project member grants project-owner", "esc-member", nil, v1alpha1.RoleTemplateProjectOwner, inProject("esc"), "missing"},
		{"project member grants project-member", "esc-member", nil, v1alpha1.RoleTemplateProjectMember, inProject("esc"), ""},
		{"project member grants project-viewer", "esc-member", nil, v1alpha1.RoleTemplateProjectViewer, inProject("esc"), ""},
		{"project member grants in another project", "esc-member", nil, v1alpha1.RoleTemplateProjectViewer, inProject("esc-other"), "missing"},
		{"project owner grants project-member", "esc-owner", nil, v1alpha1.RoleTemplateProjectMember, inProject("esc"), ""},
		{"project owner grants project-owner", "esc-owner", nil, v1alpha1.RoleTemplateProjectOwner, inProject("esc"), ""},
		{"project owner grants cluster-member on the cluster", "esc-owner", nil, v1alpha1.RoleTemplateClusterMember, onCluster(dev), "missing"},
		{"project owner grants cluster-member in the project", "esc-owner", nil, v1alpha1.RoleTemplateClusterMember, inProject("esc"), "cannot be granted in a project"},
		{"project owner grants project-owner elsewhere", "esc-owner", nil, v1alpha1.RoleTemplateProjectOwner, inProject("esc-other"), "missing"},
		{"group-held project owner grants project-member", "esc-grouped", []string{"esc-owners"}, v1alpha1.RoleTemplateProjectMember, inProject("esc"), ""},
		{"group-held rights do not come from a missing group", "esc-grouped", nil, v1alpha1.RoleTemplateProjectMember, inProject("esc"), "missing"},
		{"cluster viewer grants cluster-viewer", "esc-viewer", nil, v1alpha1.RoleTemplateClusterViewer, onCluster(dev), ""},
		{"cluster viewer grants cluster-member", "esc-viewer", nil, v1alpha1.RoleTemplateClusterMember, onCluster(dev), ""},
		{"cluster viewer grants cluster-owner", "esc-viewer", nil, v1alpha1.RoleTemplateClusterOwner, onCluster(dev), "missing * *.*; * URL *"},
		{"cluster viewer grants project-viewer in its cluster", "esc-viewer", nil, v1alpha1.RoleTemplateProjectViewer, inProject("esc"), ""},
		{"cluster viewer grants project-member in its cluster", "esc-viewer", nil, v1alpha1.RoleTemplateProjectMember, inProject("esc"), "missing"},
		{"cluster owner grants project-owner in its cluster", "esc-cowner", nil, v1alpha1.RoleTemplateProjectOwner, inProject("esc"), ""},
		{"cluster owner grants cluster-owner in its cluster", "esc-cowner", nil, v1alpha1.RoleTemplateClusterOwner, onCluster(dev), ""},
		{"cluster owner grants in another cluster", "esc-cowner", nil, v1alpha1.RoleTemplateClusterViewer, onCluster(prod), "missing"},
		{"cluster owner grants in a project of another cluster", "esc-cowner", nil, v1alpha1.RoleTemplateProjectViewer, inProject("esc-prod"), "missing"},
		{"admin grants cluster-owner", "esc-admin", nil, v1alpha1.RoleTemplateClusterOwner, onCluster(prod), ""},
		{"admin grants project-owner", "esc-admin", nil, v1alpha1.RoleTemplateProjectOwner, inProject("esc"), ""},
		{"admin grants a project template on a cluster", "esc-admin", nil, v1alpha1.RoleTemplateProjectOwner, onCluster(dev), "granted in a project"},
		{"disabled user grants", "esc-disabled", nil, v1alpha1.RoleTemplateProjectViewer, inProject("esc"), "disabled"},
		{"unknown user grants", "esc-nobody", nil, v1alpha1.RoleTemplateProjectViewer, inProject("esc"), "no such user"},
		{"scope names a project of another cluster", "esc-owner", nil, v1alpha1.RoleTemplateProjectViewer, rbacsync.Scope{Cluster: prod, Project: "esc"}, "is in cluster"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := rbacsync.CanGrant(ctx, f.mgmt, c.user, c.groups, template(c.template), c.scope)
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("allowed, want an error containing %q", c.wantErr)
			}
			t.Log(err)
			if !errors.Is(err, rbacsync.ErrEscalation) {
				t.Errorf("error %v is not ErrEscalation", err)
			}
			if !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("error %q does not contain %q", err, c.wantErr)
			}
		})
	}
}
