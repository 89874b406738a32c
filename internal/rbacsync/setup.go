package rbacsync

import (
	"context"
	"errors"
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// Options tune the controllers; the zero value is the default everywhere.
type Options struct {
	// MaxConcurrentReconciles per controller (default 4), so that a
	// cluster that answers slowly holds up at most one worker while the
	// others serve the rest.
	MaxConcurrentReconciles int
	// RetryDelay is how soon a binding or project waiting for an
	// unavailable cluster is tried again (default 30s); a cluster that
	// connects requeues them at once anyway.
	RetryDelay time.Duration
	// MaxClusterBackoff bounds the doubling delay between attempts to
	// connect to a cluster (default 2m).
	MaxClusterBackoff time.Duration
	// CacheSyncTimeout bounds the first list of a cluster's objects
	// (default 30s).
	CacheSyncTimeout time.Duration
	// RequestTimeout bounds each request that writes to a downstream
	// cluster (default 15s).
	RequestTimeout time.Duration
	// OrphanSweepInterval is how often each cluster is swept for objects
	// no source wants, besides at connect (default 10m).
	OrphanSweepInterval time.Duration
}

func (o Options) withDefaults() Options {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if o.MaxConcurrentReconciles <= 0 {
		o.MaxConcurrentReconciles = 4
	}
	def(&o.RetryDelay, 30*time.Second)
	def(&o.MaxClusterBackoff, 2*time.Minute)
	def(&o.CacheSyncTimeout, 30*time.Second)
	def(&o.RequestTimeout, 15*time.Second)
	def(&o.OrphanSweepInterval, 10*time.Minute)
	return o
}

// Field indexes on the management cache.
const (
	indexCluster   = "rbacsync.cluster"   // ClusterRoleTemplateBinding, Project: spec.clusterName
	indexTemplate  = "rbacsync.template"  // both bindings: spec.roleTemplateName
	indexUser      = "rbacsync.user"      // both bindings: the User subject's name
	indexProject   = "rbacsync.project"   // ProjectRoleTemplateBinding: spec.projectName
	indexNamespace = "rbacsync.namespace" // Project: "<cluster>/<namespace>" per listed namespace
	indexInherits  = "rbacsync.inherits"  // RoleTemplate: spec.inherits
)

// Setup registers the RBAC sync and project controllers, their field
// indexes and the downstream cluster caches on mgr, whose scheme must know
// the management API. The server and the tests both call it; call it once
// per manager. Built-ins are not created here: call EnsureBuiltins at
// start, with a client that does not wait for the manager's cache.
func Setup(mgr ctrl.Manager, configs ClusterConfigs, opts Options) error {
	if configs == nil {
		return errors.New("set up rbac sync: no cluster configs")
	}
	if !mgr.GetScheme().Recognizes(v1alpha1.GroupVersion.WithKind("ClusterRoleTemplateBinding")) {
		return errors.New("set up rbac sync: the manager's scheme lacks the management API")
	}
	opts = opts.withDefaults()
	if err := addIndexes(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return fmt.Errorf("set up rbac sync: %w", err)
	}
	c := mgr.GetClient()
	h := newHub()
	set := newClusterSet(configs, c, h, opts)
	if err := mgr.Add(set); err != nil {
		return fmt.Errorf("set up rbac sync: %w", err)
	}
	m := &mapper{client: c, clusters: set}
	copts := controller.Options{MaxConcurrentReconciles: opts.MaxConcurrentReconciles}

	steps := []struct {
		name string
		err  error
	}{
		{"cluster", ctrl.NewControllerManagedBy(mgr).Named("rbacsync-cluster").WithOptions(copts).
			For(&v1alpha1.Cluster{}).
			Complete(&clusterReconciler{client: c, configs: configs, clusters: set})},
		{"clusterrole", ctrl.NewControllerManagedBy(mgr).Named("rbacsync-clusterrole").WithOptions(copts).
			Watches(&v1alpha1.ClusterRoleTemplateBinding{}, handler.EnqueueRequestsFromMapFunc(m.crtbRole)).
			Watches(&v1alpha1.ProjectRoleTemplateBinding{}, handler.EnqueueRequestsFromMapFunc(m.prtbRole)).
			Watches(&v1alpha1.Project{}, handler.EnqueueRequestsFromMapFunc(m.projectRoles)).
			Watches(&v1alpha1.RoleTemplate{}, handler.EnqueueRequestsFromMapFunc(m.templateRoles)).
			WatchesRawSource(h.source(queueClusterRole)).
			Complete(&clusterRoleReconciler{client: c, clusters: set})},
		{"crtb", ctrl.NewControllerManagedBy(mgr).Named("rbacsync-crtb").WithOptions(copts).
			For(&v1alpha1.ClusterRoleTemplateBinding{}).
			Watches(&v1alpha1.User{}, handler.EnqueueRequestsFromMapFunc(m.userCRTBs)).
			Watches(&v1alpha1.RoleTemplate{}, handler.EnqueueRequestsFromMapFunc(m.templateCRTBs)).
			WatchesRawSource(h.source(queueCRTB)).
			Complete(&crtbReconciler{client: c, clusters: set, opts: opts})},
		{"prtb", ctrl.NewControllerManagedBy(mgr).Named("rbacsync-prtb").WithOptions(copts).
			For(&v1alpha1.ProjectRoleTemplateBinding{}).
			Watches(&v1alpha1.User{}, handler.EnqueueRequestsFromMapFunc(m.userPRTBs)).
			Watches(&v1alpha1.RoleTemplate{}, handler.EnqueueRequestsFromMapFunc(m.templatePRTBs)).
			Watches(&v1alpha1.Project{}, handler.EnqueueRequestsFromMapFunc(m.projectPRTBs)).
			WatchesRawSource(h.source(queuePRTB)).
			Complete(&prtbReconciler{client: c, clusters: set, opts: opts})},
		{"project", ctrl.NewControllerManagedBy(mgr).Named("rbacsync-project").WithOptions(copts).
			For(&v1alpha1.Project{}).
			WatchesRawSource(h.source(queueProject)).
			Complete(&projectReconciler{client: c, clusters: set, opts: opts})},
		{"orphans", ctrl.NewControllerManagedBy(mgr).Named("rbacsync-orphans").WithOptions(copts).
			WatchesRawSource(h.source(queueOrphans)).
			Complete(&orphanReconciler{client: c, clusters: set, opts: opts})},
		{"builtin role templates", ctrl.NewControllerManagedBy(mgr).Named("rbacsync-builtin-roletemplate").
			For(&v1alpha1.RoleTemplate{}, builder.WithPredicates(isBuiltinName(builtinTemplateNames()))).
			Complete(&builtinTemplateReconciler{client: c})},
		{"global admins", setupGlobalAdmins(ctrl.NewControllerManagedBy(mgr), c)},
		{"builtin global roles", ctrl.NewControllerManagedBy(mgr).Named("rbacsync-builtin-globalrole").
			For(&v1alpha1.GlobalRole{}, builder.WithPredicates(isBuiltinName(builtinGlobalRoleNames()))).
			Complete(&builtinGlobalRoleReconciler{client: c})},
	}
	for _, s := range steps {
		if s.err != nil {
			return fmt.Errorf("set up rbac sync: %s controller: %w", s.name, s.err)
		}
	}
	return nil
}

func builtinTemplateNames() map[string]bool {
	out := map[string]bool{}
	for _, t := range BuiltinRoleTemplates() {
		out[t.Name] = true
	}
	return out
}

func builtinGlobalRoleNames() map[string]bool {
	out := map[string]bool{}
	for _, r := range BuiltinGlobalRoles() {
		out[r.Name] = true
	}
	return out
}

func isBuiltinName(names map[string]bool) predicate.Predicate {
	return predicate.NewPredicateFuncs(func(o client.Object) bool { return names[o.GetName()] })
}

func addIndexes(ctx context.Context, idx client.FieldIndexer) error {
	userOf := func(s v1alpha1.Subject) []string {
		if s.Kind == v1alpha1.SubjectKindUser {
			return []string{s.Name}
		}
		return nil
	}
	indexes := []struct {
		obj   client.Object
		field string
		fn    client.IndexerFunc
	}{
		{&v1alpha1.ClusterRoleTemplateBinding{}, indexCluster, func(o client.Object) []string {
			return []string{o.(*v1alpha1.ClusterRoleTemplateBinding).Spec.ClusterName}
		}},
		{&v1alpha1.ClusterRoleTemplateBinding{}, indexTemplate, func(o client.Object) []string {
			return []string{o.(*v1alpha1.ClusterRoleTemplateBinding).Spec.RoleTemplateName}
		}},
		{&v1alpha1.ClusterRoleTemplateBinding{}, indexUser, func(o client.Object) []string {
			return userOf(o.(*v1alpha1.ClusterRoleTemplateBinding).Spec.Subject)
		}},
		{&v1alpha1.ProjectRoleTemplateBinding{}, indexProject, func(o client.Object) []string {
			return []string{o.(*v1alpha1.ProjectRoleTemplateBinding).Spec.ProjectName}
		}},
		{&v1alpha1.ProjectRoleTemplateBinding{}, indexTemplate, func(o client.Object) []string {
			return []string{o.(*v1alpha1.ProjectRoleTemplateBinding).Spec.RoleTemplateName}
		}},
		{&v1alpha1.ProjectRoleTemplateBinding{}, indexUser, func(o client.Object) []string {
			return userOf(o.(*v1alpha1.ProjectRoleTemplateBinding).Spec.Subject)
		}},
		{&v1alpha1.Project{}, indexCluster, func(o client.Object) []string {
			return []string{o.(*v1alpha1.Project).Spec.ClusterName}
		}},
		{&v1alpha1.Project{}, indexNamespace, func(o client.Object) []string {
			p := o.(*v1alpha1.Project)
			out := make([]string, 0, len(p.Spec.Namespaces))
			for _, ns := range p.Spec.Namespaces {
				out = append(out, p.Spec.ClusterName+"/"+ns)
			}
			return out
		}},
		{&v1alpha1.RoleTemplate{}, indexInherits, func(o client.Object) []string {
			return o.(*v1alpha1.RoleTemplate).Spec.Inherits
		}},
	}
	for _, i := range indexes {
		if err := idx.IndexField(ctx, i.obj, i.field, i.fn); err != nil {
			return fmt.Errorf("index %s: %w", i.field, err)
		}
	}
	return nil
}

// mapper turns management events into requests of the controllers that
// depend on the changed object.
type mapper struct {
	client   client.Reader
	clusters *clusterSet
}

func names[T any](items []T, name func(*T) string) []reconcile.Request {
	out := make([]reconcile.Request, 0, len(items))
	for i := range items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Name: name(&items[i])}})
	}
	return out
}

func (m *mapper) crtbsBy(ctx context.Context, field, value string) []v1alpha1.ClusterRoleTemplateBinding {
	list := &v1alpha1.ClusterRoleTemplateBindingList{}
	if err := m.client.List(ctx, list, client.MatchingFields{field: value}); err != nil {
		return nil
	}
	return list.Items
}

func (m *mapper) prtbsBy(ctx context.Context, field, value string) []v1alpha1.ProjectRoleTemplateBinding {
	list := &v1alpha1.ProjectRoleTemplateBindingList{}
	if err := m.client.List(ctx, list, client.MatchingFields{field: value}); err != nil {
		return nil
	}
	return list.Items
}

// dependents returns template and every template inheriting it, directly
// or not: a change to its rules changes all their ClusterRoles.
func (m *mapper) dependents(ctx context.Context, template string) []string {
	seen := map[string]bool{template: true}
	queue := []string{template}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		list := &v1alpha1.RoleTemplateList{}
		if err := m.client.List(ctx, list, client.MatchingFields{indexInherits: cur}); err != nil {
			continue
		}
		for _, t := range list.Items {
			if !seen[t.Name] {
				seen[t.Name] = true
				queue = append(queue, t.Name)
			}
		}
	}
	out := make([]string, 0, len(seen))
	for t := range seen {
		out = append(out, t)
	}
	return out
}

func crtbName(b *v1alpha1.ClusterRoleTemplateBinding) string { return b.Name }
func prtbName(b *v1alpha1.ProjectRoleTemplateBinding) string { return b.Name }

func (m *mapper) userCRTBs(ctx context.Context, o client.Object) []reconcile.Request {
	return names(m.crtbsBy(ctx, indexUser, o.GetName()), crtbName)
}

func (m *mapper) userPRTBs(ctx context.Context, o client.Object) []reconcile.Request {
	return names(m.prtbsBy(ctx, indexUser, o.GetName()), prtbName)
}

func (m *mapper) projectPRTBs(ctx context.Context, o client.Object) []reconcile.Request {
	return names(m.prtbsBy(ctx, indexProject, o.GetName()), prtbName)
}

func (m *mapper) templateCRTBs(ctx context.Context, o client.Object) []reconcile.Request {
	var out []reconcile.Request
	for _, t := range m.dependents(ctx, o.GetName()) {
		out = append(out, names(m.crtbsBy(ctx, indexTemplate, t), crtbName)...)
	}
	return out
}

func (m *mapper) templatePRTBs(ctx context.Context, o client.Object) []reconcile.Request {
	var out []reconcile.Request
	for _, t := range m.dependents(ctx, o.GetName()) {
		out = append(out, names(m.prtbsBy(ctx, indexTemplate, t), prtbName)...)
	}
	return out
}

func (m *mapper) crtbRole(_ context.Context, o client.Object) []reconcile.Request {
	b := o.(*v1alpha1.ClusterRoleTemplateBinding)
	return []reconcile.Request{roleKey(b.Spec.ClusterName, b.Spec.RoleTemplateName)}
}

func (m *mapper) prtbRole(ctx context.Context, o client.Object) []reconcile.Request {
	b := o.(*v1alpha1.ProjectRoleTemplateBinding)
	p := &v1alpha1.Project{}
	if err := m.client.Get(ctx, client.ObjectKey{Name: b.Spec.ProjectName}, p); err != nil {
		return nil
	}
	return []reconcile.Request{roleKey(p.Spec.ClusterName, b.Spec.RoleTemplateName)}
}

func (m *mapper) projectRoles(ctx context.Context, o client.Object) []reconcile.Request {
	p := o.(*v1alpha1.Project)
	var out []reconcile.Request
	for _, b := range m.prtbsBy(ctx, indexProject, p.Name) {
		out = append(out, roleKey(p.Spec.ClusterName, b.Spec.RoleTemplateName))
	}
	return out
}

// templateRoles requeues the template's ClusterRole, and those of the
// templates inheriting it, in every connected cluster; where one is not
// in use the reconciler finds nothing to do.
func (m *mapper) templateRoles(ctx context.Context, o client.Object) []reconcile.Request {
	var out []reconcile.Request
	for _, t := range m.dependents(ctx, o.GetName()) {
		for _, c := range m.clusters.names() {
			out = append(out, roleKey(c, t))
		}
	}
	return out
}
