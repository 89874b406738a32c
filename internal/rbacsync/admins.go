package rbacsync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"bokujo.io/bokujo/api/management/v1alpha1"
)

// LabelGlobalAdmin marks the ClusterRoleTemplateBindings that give global
// administrators cluster-owner in every cluster. They are ordinary bindings
// (visible, audited, synced like any other), derived from the admin
// GlobalRoleBindings and the Clusters, so objects grow with admins ×
// clusters and nothing else.
const LabelGlobalAdmin = "bokujo.io/global-admin"

// adminsKey is the single work item: the desired set is recomputed whole.
var adminsKey = reconcile.Request{NamespacedName: types.NamespacedName{Name: "global-admins"}}

// globalAdminReconciler keeps one cluster-owner binding per admin
// GlobalRoleBinding and Cluster.
type globalAdminReconciler struct {
	client client.Client
}

var _ reconcile.Reconciler = &globalAdminReconciler{}

func setupGlobalAdmins(b *ctrl.Builder, c client.Client) error {
	all := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{adminsKey}
	})
	return b.Named("rbacsync-global-admins").
		Watches(&v1alpha1.GlobalRoleBinding{}, all).
		Watches(&v1alpha1.Cluster{}, all).
		Watches(&v1alpha1.ClusterRoleTemplateBinding{}, all).
		Complete(&globalAdminReconciler{client: c})
}

// adminBindingName is stable for a (cluster, GlobalRoleBinding) pair and
// short enough for any names.
func adminBindingName(cluster, grb string) string {
	sum := sha256.Sum256([]byte(cluster + "/" + grb))
	return "global-admin-" + cluster + "-" + hex.EncodeToString(sum[:])[:10]
}

// +kubebuilder:rbac:groups=management.bokujo.io,resources=globalrolebindings;clusters,verbs=get;list;watch
// +kubebuilder:rbac:groups=management.bokujo.io,resources=clusterroletemplatebindings,verbs=get;list;watch;create;delete

func (r *globalAdminReconciler) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	var grbs v1alpha1.GlobalRoleBindingList
	if err := r.client.List(ctx, &grbs); err != nil {
		return reconcile.Result{}, fmt.Errorf("list global role bindings: %w", err)
	}
	var clusters v1alpha1.ClusterList
	if err := r.client.List(ctx, &clusters); err != nil {
		return reconcile.Result{}, fmt.Errorf("list clusters: %w", err)
	}
	want := map[string]*v1alpha1.ClusterRoleTemplateBinding{}
	for i := range grbs.Items {
		g := &grbs.Items[i]
		if g.Spec.GlobalRoleName != v1alpha1.GlobalRoleAdmin || !g.DeletionTimestamp.IsZero() {
			continue
		}
		for j := range clusters.Items {
			c := &clusters.Items[j]
			if !c.DeletionTimestamp.IsZero() {
				continue
			}
			name := adminBindingName(c.Name, g.Name)
			want[name] = &v1alpha1.ClusterRoleTemplateBinding{
				ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{LabelGlobalAdmin: "true"},
					OwnerReferences: []metav1.OwnerReference{
						{APIVersion: v1alpha1.GroupVersion.String(), Kind: "GlobalRoleBinding", Name: g.Name, UID: g.UID},
						{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Cluster", Name: c.Name, UID: c.UID},
					}},
				Spec: v1alpha1.ClusterRoleTemplateBindingSpec{ClusterName: c.Name, RoleTemplateName: "cluster-owner", Subject: g.Spec.Subject},
			}
		}
	}
	var have v1alpha1.ClusterRoleTemplateBindingList
	if err := r.client.List(ctx, &have, client.HasLabels{LabelGlobalAdmin}); err != nil {
		return reconcile.Result{}, fmt.Errorf("list admin bindings: %w", err)
	}
	for i := range have.Items {
		b := &have.Items[i]
		if _, ok := want[b.Name]; ok {
			delete(want, b.Name)
			continue
		}
		if err := r.client.Delete(ctx, b); err != nil && !apierrors.IsNotFound(err) {
			return reconcile.Result{}, fmt.Errorf("delete admin binding %s: %w", b.Name, err)
		}
	}
	for _, b := range want {
		if err := r.client.Create(ctx, b); err != nil && !apierrors.IsAlreadyExists(err) {
			return reconcile.Result{}, fmt.Errorf("create admin binding %s: %w", b.Name, err)
		}
	}
	return reconcile.Result{}, nil
}
