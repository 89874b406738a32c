package rbacsync

import (
	"context"
	"errors"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// crtbReconciler keeps the ClusterRoleBinding of each
// ClusterRoleTemplateBinding in its cluster.
type crtbReconciler struct {
	client   client.Client
	clusters *clusterSet
	opts     Options
}

var _ reconcile.Reconciler = &crtbReconciler{}

// +kubebuilder:rbac:groups=management.bokujo.io,resources=clusterroletemplatebindings,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=management.bokujo.io,resources=clusterroletemplatebindings/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=management.bokujo.io,resources=clusterroletemplatebindings/finalizers,verbs=update
// +kubebuilder:rbac:groups=management.bokujo.io,resources=roletemplates;users;clusters,verbs=get;list;watch

// Reconcile writes, repairs or removes one binding's ClusterRoleBinding.
func (r *crtbReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	b := &v1alpha1.ClusterRoleTemplateBinding{}
	if err := r.client.Get(ctx, req.NamespacedName, b); err != nil {
		// A binding gone without its finalizer leaves objects only the
		// orphan sweep can find.
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if b.DeletionTimestamp != nil {
		return r.finalize(ctx, b)
	}
	if controllerutil.AddFinalizer(b, Finalizer) {
		if err := r.client.Update(ctx, b); err != nil {
			return ctrl.Result{}, fmt.Errorf("add finalizer to cluster role template binding %s: %w", b.Name, err)
		}
	}
	orig := b.DeepCopy()
	gen := b.Generation

	rc, reason, msg, err := r.clusters.lookup(ctx, b.Spec.ClusterName)
	if err != nil {
		return ctrl.Result{}, err
	}
	if rc == nil {
		changed := setReady(&b.Status.Conditions, gen, false, reason, msg)
		return retryLater(reason, r.opts), patchStatus(ctx, r.client, b, orig, changed)
	}

	reason, msg, err = grantable(ctx, r.client, b.Spec.RoleTemplateName, v1alpha1.RoleTemplateContextCluster, b.Spec.Subject)
	if err != nil {
		return ctrl.Result{}, err
	}
	want := RenderClusterRoleBinding(b)
	if reason != "" {
		err = remove(ctx, rc, want)
	} else {
		err = ensure(ctx, rc, want, &rbacv1.ClusterRoleBinding{}, syncClusterRoleBinding)
		reason, msg = v1alpha1.BindingReasonSynced, fmt.Sprintf("ClusterRoleBinding %s is in place", want.Name)
	}
	if err != nil {
		changed := setReady(&b.Status.Conditions, gen, false, v1alpha1.ReasonReconciling, err.Error())
		return ctrl.Result{}, errors.Join(err, patchStatus(ctx, r.client, b, orig, changed))
	}
	changed := setReady(&b.Status.Conditions, gen, reason == v1alpha1.BindingReasonSynced, reason, msg)
	return ctrl.Result{}, patchStatus(ctx, r.client, b, orig, changed)
}

// finalize removes the ClusterRoleBinding, then the finalizer. While the
// cluster is unreachable the finalizer stays and the removal is retried;
// once the Cluster itself is gone there is nothing left to reach.
func (r *crtbReconciler) finalize(ctx context.Context, b *v1alpha1.ClusterRoleTemplateBinding) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(b, Finalizer) {
		return ctrl.Result{}, nil
	}
	rc, reason, _, err := r.clusters.lookup(ctx, b.Spec.ClusterName)
	if err != nil {
		return ctrl.Result{}, err
	}
	if rc == nil && reason == v1alpha1.ReasonClusterUnavailable {
		return ctrl.Result{RequeueAfter: r.opts.RetryDelay}, nil
	}
	if rc != nil {
		if err := remove(ctx, rc, RenderClusterRoleBinding(b)); err != nil {
			return ctrl.Result{}, err
		}
	}
	controllerutil.RemoveFinalizer(b, Finalizer)
	if err := r.client.Update(ctx, b); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("remove finalizer from cluster role template binding %s: %w", b.Name, err)
	}
	return ctrl.Result{}, nil
}
