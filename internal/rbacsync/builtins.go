package rbacsync

import (
	"context"
	"fmt"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// Verb sets. Write access is spelled out instead of "*" so that no built-in
// project template carries escalate, bind or impersonate: with bind on
// clusterroles in a namespace a project owner could bind cluster-admin
// there, with impersonate become a more powerful service account.
var (
	readOnly  = []string{"get", "list", "watch"}
	readWrite = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
)

// Downstream API groups the built-in templates grant on. RBAC has no "all
// but", and secrets live in the core group, so the templates that must not
// read secrets enumerate core resources and name the other groups; a
// custom template can add third-party groups.
var (
	viewerGroups = []string{
		"admissionregistration.k8s.io", "apiextensions.k8s.io", "apiregistration.k8s.io",
		"apps", "autoscaling", "batch", "certificates.k8s.io", "coordination.k8s.io",
		"discovery.k8s.io", "events.k8s.io", "flowcontrol.apiserver.k8s.io",
		"gateway.networking.k8s.io", "metrics.k8s.io", "networking.k8s.io", "node.k8s.io",
		"policy", "rbac.authorization.k8s.io", "resource.k8s.io", "scheduling.k8s.io",
		"snapshot.storage.k8s.io", "storage.k8s.io",
		"ml.bokujo.io", "delivery.bokujo.io",
	}
	// projectOwnerGroups are written whole by a project owner. RBAC is
	// left out (roles and rolebindings are granted below without bind and
	// escalate) and so is the core group, where the ResourceQuota and
	// LimitRange bokujo applies live: an owner who could edit them would
	// lift the project's GPU quota. ml.bokujo.io is left out for the same
	// reason: a LocalQueue's GPUQueue and weight, and an MLTask's
	// status.admission, are GPU quota; owners get mltasks only.
	projectOwnerGroups = []string{
		"apps", "autoscaling", "batch", "coordination.k8s.io", "discovery.k8s.io",
		"events.k8s.io", "gateway.networking.k8s.io", "metrics.k8s.io", "networking.k8s.io",
		"policy", "snapshot.storage.k8s.io", "delivery.bokujo.io",
	}
)

func rule(verbs []string, group string, resources ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: verbs, APIGroups: []string{group}, Resources: resources}
}

// BuiltinRoleTemplates are the RoleTemplates the server ships, in a fresh
// copy on each call.
func BuiltinRoleTemplates() []*v1alpha1.RoleTemplate {
	mk := func(name, display, desc string, ctx v1alpha1.RoleTemplateContext, inherits []string, rules ...rbacv1.PolicyRule) *v1alpha1.RoleTemplate {
		return &v1alpha1.RoleTemplate{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v1alpha1.RoleTemplateSpec{
				DisplayName: display, Description: desc, Context: ctx,
				Rules: rules, Inherits: inherits,
				Origin: v1alpha1.OriginBuiltin, State: v1alpha1.RoleTemplateStateActive,
			},
		}
	}
	cluster, project := v1alpha1.RoleTemplateContextCluster, v1alpha1.RoleTemplateContextProject
	return []*v1alpha1.RoleTemplate{
		mk(v1alpha1.RoleTemplateClusterOwner, "Cluster Owner",
			"Everything in the cluster, as cluster-admin.", cluster, nil,
			rbacv1.PolicyRule{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
			rbacv1.PolicyRule{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}},
		),
		// A member reads what a viewer reads; the template exists so
		// that membership of a cluster can be granted and reviewed apart
		// from a read-only grant, and work in namespaces comes from
		// project roles on top.
		mk(v1alpha1.RoleTemplateClusterMember, "Cluster Member",
			"A member of the cluster: reads everything in it but Secrets. Rights in namespaces come from project roles.", cluster,
			[]string{v1alpha1.RoleTemplateClusterViewer},
		),
		mk(v1alpha1.RoleTemplateClusterViewer, "Cluster Viewer",
			"Gets, lists and watches everything in the cluster but Secrets, pod logs included.", cluster, nil,
			rule(readOnly, "",
				"componentstatuses", "configmaps", "endpoints", "events", "limitranges",
				"namespaces", "namespaces/status", "nodes", "nodes/status",
				"persistentvolumeclaims", "persistentvolumeclaims/status",
				"persistentvolumes", "persistentvolumes/status", "pods", "pods/log", "pods/status",
				"podtemplates", "replicationcontrollers", "replicationcontrollers/scale",
				"replicationcontrollers/status", "resourcequotas", "resourcequotas/status",
				"serviceaccounts", "services", "services/status"),
			rbacv1.PolicyRule{Verbs: readOnly, APIGroups: viewerGroups, Resources: []string{"*"}},
		),
		mk(v1alpha1.RoleTemplateProjectOwner, "Project Owner",
			"Reads and writes every namespaced resource in the project's namespaces, RoleBindings "+
				"included; reads but cannot change their quota and limits.", project, nil,
			rule(readWrite, "",
				"configmaps", "endpoints", "events", "persistentvolumeclaims", "pods",
				"pods/attach", "pods/eviction", "pods/ephemeralcontainers", "pods/exec",
				"pods/portforward", "pods/proxy", "podtemplates", "replicationcontrollers",
				"replicationcontrollers/scale", "secrets", "serviceaccounts",
				"serviceaccounts/token", "services", "services/proxy"),
			rule(readOnly, "",
				"limitranges", "namespaces", "namespaces/status", "persistentvolumeclaims/status",
				"pods/log", "pods/status", "replicationcontrollers/status", "resourcequotas",
				"resourcequotas/status", "services/status"),
			rbacv1.PolicyRule{Verbs: readWrite, APIGroups: projectOwnerGroups, Resources: []string{"*"}},
			rule(readWrite, rbacv1.GroupName, "roles", "rolebindings"),
			rule(readWrite, "ml.bokujo.io", "mltasks"),
			rule(readOnly, "ml.bokujo.io", "mltasks/status", "localqueues", "localqueues/status"),
		),
		mk(v1alpha1.RoleTemplateProjectMember, "Project Member",
			"Reads and writes workloads in the project's namespaces: pods (exec, logs, "+
				"port-forward, attach), controllers, jobs, services, config, secrets, volumes, "+
				"ingresses, autoscalers, MLTasks and Releases.", project, nil,
			rule(readWrite, "",
				"configmaps", "persistentvolumeclaims", "pods", "pods/attach", "pods/exec",
				"pods/portforward", "secrets", "services"),
			rule(readOnly, "", "events", "limitranges", "namespaces", "pods/log", "pods/status", "resourcequotas"),
			rule(readWrite, "apps",
				"daemonsets", "deployments", "deployments/scale", "replicasets", "replicasets/scale",
				"statefulsets", "statefulsets/scale"),
			rule(readWrite, "batch", "cronjobs", "jobs"),
			rule(readWrite, "autoscaling", "horizontalpodautoscalers"),
			rule(readWrite, "networking.k8s.io", "ingresses"),
			rule(readWrite, "ml.bokujo.io", "mltasks"),
			rule(readOnly, "ml.bokujo.io", "mltasks/status", "localqueues", "localqueues/status"),
			rule(readWrite, "delivery.bokujo.io", "releases"),
			rule(readOnly, "events.k8s.io", "events"),
		),
		mk(v1alpha1.RoleTemplateProjectViewer, "Project Viewer",
			"Gets, lists and watches the project's workloads and reads pod logs; no Secrets.", project, nil,
			rule(readOnly, "",
				"configmaps", "events", "limitranges", "namespaces", "persistentvolumeclaims",
				"pods", "pods/log", "pods/status", "resourcequotas", "services"),
			rule(readOnly, "apps", "daemonsets", "deployments", "replicasets", "statefulsets"),
			rule(readOnly, "batch", "cronjobs", "jobs"),
			rule(readOnly, "autoscaling", "horizontalpodautoscalers"),
			rule(readOnly, "networking.k8s.io", "ingresses"),
			rule(readOnly, "ml.bokujo.io", "mltasks", "mltasks/status", "localqueues", "localqueues/status"),
			rule(readOnly, "delivery.bokujo.io", "releases"),
			rule(readOnly, "events.k8s.io", "events"),
		),
	}
}

// BuiltinGlobalRoles are the GlobalRoles the server ships, in a fresh copy
// on each call. Their rules are on the management API; the API layer
// narrows "user" to the caller's own objects (own tokens, own User) and to
// what they were granted.
func BuiltinGlobalRoles() []*v1alpha1.GlobalRole {
	mgmt := v1alpha1.GroupName
	return []*v1alpha1.GlobalRole{
		{
			ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.GlobalRoleAdmin},
			Spec: v1alpha1.GlobalRoleSpec{
				DisplayName: "Administrator",
				Description: "Everything in bokujo: every cluster, project, user and setting.",
				Origin:      v1alpha1.OriginBuiltin,
				Rules: []rbacv1.PolicyRule{
					{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
					{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}},
				},
			},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.GlobalRoleUser},
			Spec: v1alpha1.GlobalRoleSpec{
				DisplayName: "User",
				Description: "Logs in, manages their own tokens and sees the clusters and projects they were granted.",
				Origin:      v1alpha1.OriginBuiltin,
				Rules: []rbacv1.PolicyRule{
					rule([]string{"get", "list", "watch", "create", "delete"}, mgmt, "tokens"),
					rule([]string{"get"}, mgmt, "users"),
					rule(readOnly, mgmt, "clusters", "projects", "roletemplates"),
				},
			},
		},
	}
}

// EnsureBuiltins creates the built-in GlobalRoles and RoleTemplates, and
// puts back the shipped definition of any that was edited. It fails when an
// object of a built-in's name exists as Custom, since origin cannot change
// and silently leaving an administrator's object under a built-in name
// would make "cluster-owner" mean something else.
//
// An API server that has just established the CRDs may still answer
// "error resolving resource" or not know the kinds for a moment; such
// errors are retried for about ten seconds.
func EnsureBuiltins(ctx context.Context, c client.Client) error {
	for _, want := range BuiltinGlobalRoles() {
		if err := retry.OnError(startupBackoff, transient, func() error { return restoreGlobalRole(ctx, c, want, true) }); err != nil {
			return err
		}
	}
	for _, want := range BuiltinRoleTemplates() {
		if err := retry.OnError(startupBackoff, transient, func() error { return restoreTemplate(ctx, c, want, true) }); err != nil {
			return err
		}
	}
	return nil
}

// startupBackoff spans about ten seconds.
var startupBackoff = wait.Backoff{Duration: 100 * time.Millisecond, Factor: 1.5, Steps: 12, Cap: 2 * time.Second}

func transient(err error) bool {
	return apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsTimeout(err) ||
		apierrors.IsServerTimeout(err) || apierrors.IsTooManyRequests(err) || apierrors.IsConflict(err) ||
		meta.IsNoMatchError(err)
}

func restoreTemplate(ctx context.Context, c client.Client, want *v1alpha1.RoleTemplate, strict bool) error {
	have := &v1alpha1.RoleTemplate{}
	return restoreBuiltin(ctx, c, "RoleTemplate", want, have, strict, func() (v1alpha1.Origin, bool) {
		origin, same := have.Spec.Origin, equality.Semantic.DeepEqual(have.Spec, want.Spec)
		have.Spec = want.Spec
		return origin, !same
	})
}

func restoreGlobalRole(ctx context.Context, c client.Client, want *v1alpha1.GlobalRole, strict bool) error {
	have := &v1alpha1.GlobalRole{}
	return restoreBuiltin(ctx, c, "GlobalRole", want, have, strict, func() (v1alpha1.Origin, bool) {
		origin, same := have.Spec.Origin, equality.Semantic.DeepEqual(have.Spec, want.Spec)
		have.Spec = want.Spec
		return origin, !same
	})
}

// restoreBuiltin creates want or, after reading the stored object into
// have, lets restore put want's spec into have; restore returns the origin
// have had and whether it changed anything. An administrator's Custom object
// under a built-in's name is an error when strict (at start) and is logged
// and left alone otherwise (in the controller, which would retry forever).
func restoreBuiltin[T client.Object](ctx context.Context, c client.Client, kind string, want, have T, strict bool, restore func() (v1alpha1.Origin, bool)) error {
	if err := c.Get(ctx, client.ObjectKeyFromObject(want), have); apierrors.IsNotFound(err) {
		if err := c.Create(ctx, want); client.IgnoreAlreadyExists(err) != nil {
			return fmt.Errorf("create built-in %s %s: %w", kind, want.GetName(), err)
		}
		return nil
	} else if err != nil {
		return fmt.Errorf("get built-in %s %s: %w", kind, want.GetName(), err)
	}
	if have.GetDeletionTimestamp() != nil {
		// Recreated once the deletion completes.
		return nil
	}
	origin, changed := restore()
	if origin != v1alpha1.OriginBuiltin {
		if strict {
			return fmt.Errorf("built-in %s %s: an object of that name exists with origin %q; rename or delete it", kind, want.GetName(), origin)
		}
		log.FromContext(ctx).Info("an administrator's object has a built-in's name; leaving it", "kind", kind, "name", want.GetName())
		return nil
	}
	if !changed {
		return nil
	}
	if err := c.Update(ctx, have); err != nil {
		return fmt.Errorf("restore built-in %s %s: %w", kind, want.GetName(), err)
	}
	return nil
}
