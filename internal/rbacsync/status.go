package rbacsync

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// Finalizer keeps a binding or a project in the management cluster until
// its downstream objects are gone, so a deletion takes effect even if the
// cluster was unreachable at that moment.
const Finalizer = "management.bokujo.io/rbac-sync"

// ReasonUserInactive is the Ready reason of a binding whose subject is a
// User that does not exist or is disabled: it grants nothing until the user
// is active again. The API's reasons have none for this, and it belongs to
// this controller alone.
const ReasonUserInactive = "UserInactive"

// retryLater polls a cluster that exists but is not connected. A missing
// Cluster is not polled: creating it connects it, and connecting requeues
// everything that writes there.
func retryLater(reason string, opts Options) ctrl.Result {
	if reason == v1alpha1.ReasonClusterUnavailable {
		return ctrl.Result{RequeueAfter: opts.RetryDelay}
	}
	return ctrl.Result{}
}

// setReady sets the Ready condition and reports whether it changed.
func setReady(conds *[]metav1.Condition, generation int64, ready bool, reason, message string) bool {
	status := metav1.ConditionFalse
	if ready {
		status = metav1.ConditionTrue
	}
	return meta.SetStatusCondition(conds, metav1.Condition{
		Type: v1alpha1.ConditionReady, Status: status, Reason: reason,
		Message: message, ObservedGeneration: generation,
	})
}

// patchStatus writes obj's status when it differs from orig's.
func patchStatus(ctx context.Context, c client.Client, obj, orig client.Object, changed bool) error {
	if !changed {
		return nil
	}
	if err := c.Status().Patch(ctx, obj, client.MergeFrom(orig)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("update status of %s: %w", obj.GetName(), err)
	}
	return nil
}

// cachedTemplates is a TemplateLookup over the management cache.
func cachedTemplates(ctx context.Context, c client.Reader) TemplateLookup {
	return func(name string) (*v1alpha1.RoleTemplate, bool) {
		t := &v1alpha1.RoleTemplate{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, t); err != nil {
			return nil, false
		}
		return t, true
	}
}

// grantable checks what a binding needs to grant anything: its template,
// resolvable and of the binding's context, and an active subject. It
// returns an empty reason when the binding grants, else the Ready reason
// and message.
func grantable(ctx context.Context, c client.Reader, template string, want v1alpha1.RoleTemplateContext, subject v1alpha1.Subject) (string, string, error) {
	if _, err := bindingRules(template, want, cachedTemplates(ctx, c)); err != nil {
		reason := v1alpha1.BindingReasonRoleTemplateNotFound
		if errors.Is(err, ErrContextMismatch) {
			reason = v1alpha1.BindingReasonContextMismatch
		}
		return reason, err.Error(), nil
	}
	if subject.Kind != v1alpha1.SubjectKindUser {
		return "", "", nil
	}
	u := &v1alpha1.User{}
	err := c.Get(ctx, client.ObjectKey{Name: subject.Name}, u)
	switch {
	case apierrors.IsNotFound(err):
		return ReasonUserInactive, fmt.Sprintf("user %q does not exist", subject.Name), nil
	case err != nil:
		return "", "", fmt.Errorf("get user %s: %w", subject.Name, err)
	case !userActive(u):
		return ReasonUserInactive, fmt.Sprintf("user %q is disabled", subject.Name), nil
	}
	return "", "", nil
}
