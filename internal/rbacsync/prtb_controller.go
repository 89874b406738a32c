package rbacsync

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// prtbReconciler keeps one RoleBinding per namespace of the project for
// each ProjectRoleTemplateBinding.
type prtbReconciler struct {
	client   client.Client
	clusters *clusterSet
	opts     Options
}

var _ reconcile.Reconciler = &prtbReconciler{}

// +kubebuilder:rbac:groups=management.bokujo.io,resources=projectroletemplatebindings,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=management.bokujo.io,resources=projectroletemplatebindings/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=management.bokujo.io,resources=projectroletemplatebindings/finalizers,verbs=update
// +kubebuilder:rbac:groups=management.bokujo.io,resources=roletemplates;users;clusters;projects,verbs=get;list;watch

// Reconcile writes, repairs or removes one binding's RoleBindings.
func (r *prtbReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	b := &v1alpha1.ProjectRoleTemplateBinding{}
	if err := r.client.Get(ctx, req.NamespacedName, b); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if b.DeletionTimestamp != nil {
		return r.finalize(ctx, b)
	}
	if controllerutil.AddFinalizer(b, Finalizer) {
		if err := r.client.Update(ctx, b); err != nil {
			return ctrl.Result{}, fmt.Errorf("add finalizer to project role template binding %s: %w", b.Name, err)
		}
	}
	orig := b.DeepCopy()
	gen := b.Generation

	p, err := r.project(ctx, b.Spec.ProjectName)
	if err != nil {
		return ctrl.Result{}, err
	}
	if p == nil {
		// Without the project the cluster is unknown: clean every
		// connected cluster.
		err := r.removeEverywhere(ctx, b)
		changed := setReady(&b.Status.Conditions, gen, false, v1alpha1.BindingReasonProjectNotFound,
			fmt.Sprintf("project %q does not exist", b.Spec.ProjectName))
		return ctrl.Result{}, errors.Join(err, patchStatus(ctx, r.client, b, orig, changed))
	}

	rc, reason, msg, err := r.clusters.lookup(ctx, p.Spec.ClusterName)
	if err != nil {
		return ctrl.Result{}, err
	}
	if rc == nil {
		changed := setReady(&b.Status.Conditions, gen, false, reason, msg)
		return retryLater(reason, r.opts), patchStatus(ctx, r.client, b, orig, changed)
	}

	reason, msg, err = grantable(ctx, r.client, b.Spec.RoleTemplateName, v1alpha1.RoleTemplateContextProject, b.Spec.Subject)
	if err != nil {
		return ctrl.Result{}, err
	}
	var namespaces []string
	if reason == "" {
		nsList := &corev1.NamespaceList{}
		if err := rc.reader.List(ctx, nsList); err != nil {
			return ctrl.Result{}, fmt.Errorf("list namespaces of cluster %s: %w", rc.name, err)
		}
		namespaces = ProjectNamespaces(p, nsList.Items)
		reason, msg = v1alpha1.BindingReasonSynced, fmt.Sprintf("RoleBinding %s is in place in %d namespaces", RoleBindingName(b.Name), len(namespaces))
	}
	if err := r.sync(ctx, rc, b, p, namespaces); err != nil {
		changed := setReady(&b.Status.Conditions, gen, false, v1alpha1.ReasonReconciling, err.Error())
		return ctrl.Result{}, errors.Join(err, patchStatus(ctx, r.client, b, orig, changed))
	}
	changed := setReady(&b.Status.Conditions, gen, reason == v1alpha1.BindingReasonSynced, reason, msg)
	return ctrl.Result{}, patchStatus(ctx, r.client, b, orig, changed)
}

// project returns the binding's project, or nil when it does not exist or
// is being deleted: a project on its way out grants nothing.
func (r *prtbReconciler) project(ctx context.Context, name string) (*v1alpha1.Project, error) {
	p := &v1alpha1.Project{}
	err := r.client.Get(ctx, client.ObjectKey{Name: name}, p)
	if apierrors.IsNotFound(err) || (err == nil && p.DeletionTimestamp != nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get project %s: %w", name, err)
	}
	return p, nil
}

// sync makes the binding's RoleBindings in rc exactly one per namespace
// given: it writes those and deletes the binding's RoleBindings elsewhere,
// including, by name, in the project's namespaces the cache may not show
// (someone took the label off).
func (r *prtbReconciler) sync(ctx context.Context, rc *remote, b *v1alpha1.ProjectRoleTemplateBinding, p *v1alpha1.Project, namespaces []string) error {
	var errs []error
	keep := map[string]bool{}
	for _, want := range RenderRoleBindings(b, namespaces) {
		keep[want.Namespace] = true
		errs = append(errs, ensure(ctx, rc, want, &rbacv1.RoleBinding{}, syncRoleBinding))
	}
	stale, err := cachedRoleBindings(ctx, rc, b.Name)
	if err != nil {
		return err
	}
	if len(namespaces) == 0 && p != nil {
		// Revocation: also delete by name where the cache cannot see.
		nsList := &corev1.NamespaceList{}
		if err := rc.reader.List(ctx, nsList); err != nil {
			return fmt.Errorf("list namespaces of cluster %s: %w", rc.name, err)
		}
		stale = append(stale, ProjectNamespaces(p, nsList.Items)...)
	}
	done := map[string]bool{}
	for _, ns := range stale {
		if keep[ns] || done[ns] {
			continue
		}
		done[ns] = true
		errs = append(errs, remove(ctx, rc, &rbacv1.RoleBinding{ObjectMeta: metaName(ns, RoleBindingName(b.Name))}))
	}
	return errors.Join(errs...)
}

// cachedRoleBindings lists the namespaces holding a binding's RoleBinding.
func cachedRoleBindings(ctx context.Context, rc *remote, binding string) ([]string, error) {
	list := &rbacv1.RoleBindingList{}
	if err := rc.reader.List(ctx, list, client.MatchingFields{indexName: RoleBindingName(binding)}); err != nil {
		return nil, fmt.Errorf("list role bindings of %s in cluster %s: %w", binding, rc.name, err)
	}
	out := make([]string, 0, len(list.Items))
	for _, rb := range list.Items {
		out = append(out, rb.Namespace)
	}
	return out, nil
}

// removeEverywhere deletes the binding's RoleBindings from every connected
// cluster, for when its project, and so its cluster, is unknown.
func (r *prtbReconciler) removeEverywhere(ctx context.Context, b *v1alpha1.ProjectRoleTemplateBinding) error {
	var errs []error
	for _, name := range r.clusters.names() {
		if rc := r.clusters.get(name); rc != nil {
			errs = append(errs, r.sync(ctx, rc, b, nil, nil))
		}
	}
	return errors.Join(errs...)
}

// finalize removes the RoleBindings, then the finalizer; like the cluster
// binding's, it waits for an unreachable cluster but not for a deleted one.
func (r *prtbReconciler) finalize(ctx context.Context, b *v1alpha1.ProjectRoleTemplateBinding) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(b, Finalizer) {
		return ctrl.Result{}, nil
	}
	p := &v1alpha1.Project{}
	err := r.client.Get(ctx, client.ObjectKey{Name: b.Spec.ProjectName}, p)
	if client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("get project %s: %w", b.Spec.ProjectName, err)
	}
	if err == nil {
		rc, reason, _, err := r.clusters.lookup(ctx, p.Spec.ClusterName)
		if err != nil {
			return ctrl.Result{}, err
		}
		if rc == nil && reason == v1alpha1.ReasonClusterUnavailable {
			return ctrl.Result{RequeueAfter: r.opts.RetryDelay}, nil
		}
		if rc != nil {
			if err := r.sync(ctx, rc, b, p, nil); err != nil {
				return ctrl.Result{}, err
			}
		}
	}
	if err := r.removeEverywhere(ctx, b); err != nil {
		return ctrl.Result{}, err
	}
	controllerutil.RemoveFinalizer(b, Finalizer)
	if err := r.client.Update(ctx, b); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("remove finalizer from project role template binding %s: %w", b.Name, err)
	}
	return ctrl.Result{}, nil
}
