package rbacsync

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// clusterRoleReconciler keeps ClusterRole bokujo:rt:<template> in each
// cluster where a binding uses the template, and nowhere else. Its
// requests carry the cluster in the namespace field (see roleKey).
type clusterRoleReconciler struct {
	client   client.Client
	clusters *clusterSet
}

var _ reconcile.Reconciler = &clusterRoleReconciler{}

// +kubebuilder:rbac:groups=management.bokujo.io,resources=roletemplates;clusterroletemplatebindings;projectroletemplatebindings;projects,verbs=get;list;watch

// Reconcile writes, repairs or removes one template's ClusterRole in one
// cluster.
func (r *clusterRoleReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	cluster, template := req.Namespace, req.Name
	rc := r.clusters.get(cluster)
	if rc == nil {
		// Connecting requeues every template in use there.
		return ctrl.Result{}, nil
	}
	rules, inUse, err := templateInUse(ctx, r.client, cluster, template)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !inUse {
		return ctrl.Result{}, remove(ctx, rc, &rbacv1.ClusterRole{ObjectMeta: metaName("", ClusterRoleName(template))})
	}
	return ctrl.Result{}, ensure(ctx, rc, RenderClusterRole(template, rules), &rbacv1.ClusterRole{}, syncClusterRole)
}

// templateInUse reports whether a binding that is not being deleted uses
// template in cluster, and if so the template's flattened rules. A
// template that cannot be resolved is in use nowhere: its bindings grant
// nothing.
func templateInUse(ctx context.Context, c client.Reader, cluster, template string) ([]rbacv1.PolicyRule, bool, error) {
	t := &v1alpha1.RoleTemplate{}
	if err := c.Get(ctx, client.ObjectKey{Name: template}, t); apierrors.IsNotFound(err) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, fmt.Errorf("get role template %s: %w", template, err)
	}
	rules, err := bindingRules(template, t.Spec.Context, cachedTemplates(ctx, c))
	if err != nil {
		return nil, false, nil
	}
	used, err := bindingUses(ctx, c, cluster, t)
	return rules, used, err
}

func bindingUses(ctx context.Context, c client.Reader, cluster string, t *v1alpha1.RoleTemplate) (bool, error) {
	if t.Spec.Context == v1alpha1.RoleTemplateContextCluster {
		crtbs := &v1alpha1.ClusterRoleTemplateBindingList{}
		if err := c.List(ctx, crtbs, client.MatchingFields{indexTemplate: t.Name}); err != nil {
			return false, fmt.Errorf("list cluster role template bindings of %s: %w", t.Name, err)
		}
		for _, b := range crtbs.Items {
			if b.DeletionTimestamp == nil && b.Spec.ClusterName == cluster {
				return true, nil
			}
		}
		return false, nil
	}
	prtbs := &v1alpha1.ProjectRoleTemplateBindingList{}
	if err := c.List(ctx, prtbs, client.MatchingFields{indexTemplate: t.Name}); err != nil {
		return false, fmt.Errorf("list project role template bindings of %s: %w", t.Name, err)
	}
	for _, b := range prtbs.Items {
		if b.DeletionTimestamp != nil {
			continue
		}
		p := &v1alpha1.Project{}
		if err := c.Get(ctx, client.ObjectKey{Name: b.Spec.ProjectName}, p); apierrors.IsNotFound(err) {
			continue
		} else if err != nil {
			return false, fmt.Errorf("get project %s: %w", b.Spec.ProjectName, err)
		}
		if p.DeletionTimestamp == nil && p.Spec.ClusterName == cluster {
			return true, nil
		}
	}
	return false, nil
}
