package rbacsync

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// orphanReconciler sweeps one downstream cluster for bokujo-labelled
// objects no source wants there: left by a binding or project deleted while
// bokujo was not running, moved to another cluster, or made up by someone
// with bokujo's label. Within a source's own objects the owning reconciler
// decides (which namespaces, which subjects); the sweep only asks whether
// the source exists and targets this cluster.
type orphanReconciler struct {
	client   client.Client
	clusters *clusterSet
	opts     Options
}

var _ reconcile.Reconciler = &orphanReconciler{}

// +kubebuilder:rbac:groups=management.bokujo.io,resources=roletemplates;clusterroletemplatebindings;projectroletemplatebindings;projects,verbs=get;list;watch

// Reconcile sweeps the cluster named by the request, then again after
// opts.OrphanSweepInterval.
func (r *orphanReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	rc := r.clusters.get(req.Name)
	if rc == nil {
		return ctrl.Result{}, nil
	}
	var doomed []client.Object
	for _, sweep := range []func(context.Context, *remote) ([]client.Object, error){
		r.clusterRoles, r.clusterRoleBindings, r.roleBindings, r.projectObjects,
	} {
		objs, err := sweep(ctx, rc)
		if err != nil {
			return ctrl.Result{}, err
		}
		doomed = append(doomed, objs...)
	}
	var errs []error
	for _, o := range doomed {
		log.FromContext(ctx).Info("deleting orphan", "kind", kindOf(o), "namespace", o.GetNamespace(), "name", o.GetName())
		errs = append(errs, remove(ctx, rc, o))
	}
	return ctrl.Result{RequeueAfter: r.opts.OrphanSweepInterval}, errors.Join(errs...)
}

func (r *orphanReconciler) clusterRoles(ctx context.Context, rc *remote) ([]client.Object, error) {
	list := &rbacv1.ClusterRoleList{}
	if err := rc.reader.List(ctx, list); err != nil {
		return nil, fmt.Errorf("list cluster roles in cluster %s: %w", rc.name, err)
	}
	var out []client.Object
	for i := range list.Items {
		template, ok := strings.CutPrefix(list.Items[i].Name, ClusterRolePrefix)
		if ok {
			_, used, err := templateInUse(ctx, r.client, rc.name, template)
			if err != nil {
				return nil, err
			}
			ok = used
		}
		if !ok {
			out = append(out, &list.Items[i])
		}
	}
	return out, nil
}

func (r *orphanReconciler) clusterRoleBindings(ctx context.Context, rc *remote) ([]client.Object, error) {
	list := &rbacv1.ClusterRoleBindingList{}
	if err := rc.reader.List(ctx, list); err != nil {
		return nil, fmt.Errorf("list cluster role bindings in cluster %s: %w", rc.name, err)
	}
	var out []client.Object
	for i := range list.Items {
		name, ok := strings.CutPrefix(list.Items[i].Name, ClusterRoleBindingPrefix)
		if ok {
			b := &v1alpha1.ClusterRoleTemplateBinding{}
			found, err := r.get(ctx, name, b)
			if err != nil {
				return nil, err
			}
			ok = found && b.Spec.ClusterName == rc.name
		}
		if !ok {
			out = append(out, &list.Items[i])
		}
	}
	return out, nil
}

func (r *orphanReconciler) roleBindings(ctx context.Context, rc *remote) ([]client.Object, error) {
	list := &rbacv1.RoleBindingList{}
	if err := rc.reader.List(ctx, list); err != nil {
		return nil, fmt.Errorf("list role bindings in cluster %s: %w", rc.name, err)
	}
	var out []client.Object
	for i := range list.Items {
		name, ok := strings.CutPrefix(list.Items[i].Name, RoleBindingPrefix)
		if ok {
			b := &v1alpha1.ProjectRoleTemplateBinding{}
			found, err := r.get(ctx, name, b)
			if err != nil {
				return nil, err
			}
			ok = found
			if found {
				ok, err = r.projectIn(ctx, b.Spec.ProjectName, rc.name)
				if err != nil {
					return nil, err
				}
			}
		}
		if !ok {
			out = append(out, &list.Items[i])
		}
	}
	return out, nil
}

func (r *orphanReconciler) projectObjects(ctx context.Context, rc *remote) ([]client.Object, error) {
	quotas := &corev1.ResourceQuotaList{}
	if err := rc.reader.List(ctx, quotas); err != nil {
		return nil, fmt.Errorf("list resource quotas in cluster %s: %w", rc.name, err)
	}
	limits := &corev1.LimitRangeList{}
	if err := rc.reader.List(ctx, limits); err != nil {
		return nil, fmt.Errorf("list limit ranges in cluster %s: %w", rc.name, err)
	}
	var all []client.Object
	for i := range quotas.Items {
		all = append(all, &quotas.Items[i])
	}
	for i := range limits.Items {
		all = append(all, &limits.Items[i])
	}
	var out []client.Object
	for _, o := range all {
		ok := o.GetName() == ProjectObjectName
		if ok {
			var err error
			ok, err = r.projectIn(ctx, o.GetLabels()[LabelProject], rc.name)
			if err != nil {
				return nil, err
			}
		}
		if !ok {
			out = append(out, o)
		}
	}
	return out, nil
}

// get reads a management object by name, reporting whether it exists.
func (r *orphanReconciler) get(ctx context.Context, name string, obj client.Object) (bool, error) {
	err := r.client.Get(ctx, client.ObjectKey{Name: name}, obj)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get %s: %w", name, err)
	}
	return true, nil
}

// projectIn reports whether a project exists and is in cluster.
func (r *orphanReconciler) projectIn(ctx context.Context, project, cluster string) (bool, error) {
	if project == "" {
		return false, nil
	}
	p := &v1alpha1.Project{}
	found, err := r.get(ctx, project, p)
	return found && p.Spec.ClusterName == cluster, err
}
