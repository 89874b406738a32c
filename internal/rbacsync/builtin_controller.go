package rbacsync

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// builtinTemplateReconciler puts back a built-in RoleTemplate that was
// edited or deleted, as its origin promises, so that "cluster-viewer" means
// the same everywhere bokujo runs.
type builtinTemplateReconciler struct {
	client client.Client
}

var _ reconcile.Reconciler = &builtinTemplateReconciler{}

// +kubebuilder:rbac:groups=management.bokujo.io,resources=roletemplates,verbs=get;list;watch;create;update

// Reconcile restores one built-in RoleTemplate.
func (r *builtinTemplateReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	for _, want := range BuiltinRoleTemplates() {
		if want.Name == req.Name {
			return ctrl.Result{}, restoreTemplate(ctx, r.client, want, false)
		}
	}
	return ctrl.Result{}, nil
}

// builtinGlobalRoleReconciler does the same for the built-in GlobalRoles.
type builtinGlobalRoleReconciler struct {
	client client.Client
}

var _ reconcile.Reconciler = &builtinGlobalRoleReconciler{}

// +kubebuilder:rbac:groups=management.bokujo.io,resources=globalroles,verbs=get;list;watch;create;update

// Reconcile restores one built-in GlobalRole.
func (r *builtinGlobalRoleReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	for _, want := range BuiltinGlobalRoles() {
		if want.Name == req.Name {
			return ctrl.Result{}, restoreGlobalRole(ctx, r.client, want, false)
		}
	}
	return ctrl.Result{}, nil
}
