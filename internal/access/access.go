// Package access answers "what may this user see" from the management
// objects: global role bindings, cluster and project role template bindings.
// Visibility (which clusters and projects a user is shown, which contexts
// their kubeconfig holds, which cluster ids the proxy resolves) comes from
// here; what the user may do inside a cluster is decided by that cluster's
// own RBAC, which rbacsync writes from the same bindings.
package access

import (
	"context"
	"fmt"
	"slices"

	"sigs.k8s.io/controller-runtime/pkg/client"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// readOnly skips the cache's deep copy: these lists are only read, and
// visibility is computed on every proxied request.
var readOnly = client.UnsafeDisableDeepCopy

// Subject is an authenticated user as bokujo knows them.
type Subject struct {
	Name   string
	Groups []string
}

// Grants reads bindings through a (cached) client.
type Grants struct {
	Reader client.Reader
}

func (s Subject) matches(sub mgmtv1.Subject) bool {
	switch sub.Kind {
	case mgmtv1.SubjectKindUser:
		return sub.Name == s.Name
	case mgmtv1.SubjectKindGroup:
		return slices.Contains(s.Groups, sub.Name)
	}
	return false
}

// IsAdmin reports whether the subject holds the built-in admin global role.
func (g Grants) IsAdmin(ctx context.Context, s Subject) (bool, error) {
	var grbs mgmtv1.GlobalRoleBindingList
	if err := g.Reader.List(ctx, &grbs, readOnly); err != nil {
		return false, fmt.Errorf("list global role bindings: %w", err)
	}
	for _, b := range grbs.Items {
		if b.Spec.GlobalRoleName == mgmtv1.GlobalRoleAdmin && s.matches(b.Spec.Subject) {
			return true, nil
		}
	}
	return false, nil
}

// Visible is what a subject may see.
type Visible struct {
	Admin bool
	// Clusters maps a visible cluster to the projects the subject was
	// granted in it (empty for cluster-wide grants only).
	Clusters map[string][]string
}

// HasCluster reports whether the cluster is visible.
func (v Visible) HasCluster(name string) bool {
	_, ok := v.Clusters[name]
	return ok
}

// Visibility computes what the subject may see. Admins see every cluster.
func (g Grants) Visibility(ctx context.Context, s Subject) (Visible, error) {
	v := Visible{Clusters: map[string][]string{}}
	admin, err := g.IsAdmin(ctx, s)
	if err != nil {
		return v, err
	}
	v.Admin = admin
	if admin {
		var clusters mgmtv1.ClusterList
		if err := g.Reader.List(ctx, &clusters, readOnly); err != nil {
			return v, fmt.Errorf("list clusters: %w", err)
		}
		for _, c := range clusters.Items {
			v.Clusters[c.Name] = nil
		}
		var projects mgmtv1.ProjectList
		if err := g.Reader.List(ctx, &projects, readOnly); err != nil {
			return v, fmt.Errorf("list projects: %w", err)
		}
		for _, p := range projects.Items {
			if _, ok := v.Clusters[p.Spec.ClusterName]; ok {
				v.Clusters[p.Spec.ClusterName] = append(v.Clusters[p.Spec.ClusterName], p.Name)
			}
		}
		return v, nil
	}
	var crtbs mgmtv1.ClusterRoleTemplateBindingList
	if err := g.Reader.List(ctx, &crtbs, readOnly); err != nil {
		return v, fmt.Errorf("list cluster bindings: %w", err)
	}
	for _, b := range crtbs.Items {
		if s.matches(b.Spec.Subject) {
			if _, ok := v.Clusters[b.Spec.ClusterName]; !ok {
				v.Clusters[b.Spec.ClusterName] = nil
			}
		}
	}
	var prtbs mgmtv1.ProjectRoleTemplateBindingList
	if err := g.Reader.List(ctx, &prtbs, readOnly); err != nil {
		return v, fmt.Errorf("list project bindings: %w", err)
	}
	granted := map[string]bool{}
	for _, b := range prtbs.Items {
		if s.matches(b.Spec.Subject) {
			granted[b.Spec.ProjectName] = true
		}
	}
	if len(granted) > 0 {
		var projects mgmtv1.ProjectList
		if err := g.Reader.List(ctx, &projects, readOnly); err != nil {
			return v, fmt.Errorf("list projects: %w", err)
		}
		for _, p := range projects.Items {
			if granted[p.Name] {
				v.Clusters[p.Spec.ClusterName] = append(v.Clusters[p.Spec.ClusterName], p.Name)
			}
		}
	}
	// Only clusters that exist are visible; a binding may outlive its
	// cluster or name one not yet imported.
	var clusters mgmtv1.ClusterList
	if err := g.Reader.List(ctx, &clusters, readOnly); err != nil {
		return v, fmt.Errorf("list clusters: %w", err)
	}
	exists := map[string]bool{}
	for _, c := range clusters.Items {
		exists[c.Name] = true
	}
	for name := range v.Clusters {
		if !exists[name] {
			delete(v.Clusters, name)
		}
	}
	for name := range v.Clusters {
		slices.Sort(v.Clusters[name])
	}
	return v, nil
}

// ClusterVisible reports whether the subject may use the cluster: the
// cluster exists and the subject is an admin, holds a binding in it, or a
// binding in one of its projects. The proxy asks this on every request, so
// it stops at the first grant and copies nothing.
func (g Grants) ClusterVisible(ctx context.Context, s Subject, cluster string) (bool, error) {
	var c mgmtv1.Cluster
	if err := g.Reader.Get(ctx, client.ObjectKey{Name: cluster}, &c, readOnlyGet); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return false, nil
		}
		return false, fmt.Errorf("get cluster %s: %w", cluster, err)
	}
	var crtbs mgmtv1.ClusterRoleTemplateBindingList
	if err := g.Reader.List(ctx, &crtbs, readOnly); err != nil {
		return false, fmt.Errorf("list cluster bindings: %w", err)
	}
	for i := range crtbs.Items {
		if b := &crtbs.Items[i]; b.Spec.ClusterName == cluster && s.matches(b.Spec.Subject) {
			return true, nil
		}
	}
	var prtbs mgmtv1.ProjectRoleTemplateBindingList
	if err := g.Reader.List(ctx, &prtbs, readOnly); err != nil {
		return false, fmt.Errorf("list project bindings: %w", err)
	}
	for i := range prtbs.Items {
		b := &prtbs.Items[i]
		if !s.matches(b.Spec.Subject) {
			continue
		}
		var p mgmtv1.Project
		if err := g.Reader.Get(ctx, client.ObjectKey{Name: b.Spec.ProjectName}, &p, readOnlyGet); err == nil && p.Spec.ClusterName == cluster {
			return true, nil
		}
	}
	return g.IsAdmin(ctx, s)
}

// readOnlyGet is readOnly for single objects.
var readOnlyGet = client.UnsafeDisableDeepCopy
