package rbacsync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// ReservedNamespace reports whether a namespace can never belong to a
// project: Kubernetes' own, whose Secrets hold the tokens of the cluster's
// controllers, and bokujo's, which holds bokujo's downstream credentials.
// Granting a project role there would grant the cluster.
func ReservedNamespace(name string) bool {
	switch name {
	case "kube-system", "kube-public", "kube-node-lease", v1alpha1.SystemNamespace:
		return true
	}
	return false
}

// ProjectNamespaces returns, sorted, the namespaces among namespaces (all
// of the project's cluster) that belong to p: those labelled with its name,
// and those it lists that carry no project label yet (bokujo is labelling
// them). Left out are reserved and terminating namespaces, namespaces
// another project's label claims, and namespaces bokujo labelled for a
// listing p has since dropped (bokujo is taking the label off).
func ProjectNamespaces(p *v1alpha1.Project, namespaces []corev1.Namespace) []string {
	listed := map[string]bool{}
	for _, n := range p.Spec.Namespaces {
		listed[n] = true
	}
	var out []string
	for i := range namespaces {
		ns := &namespaces[i]
		if ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating || ReservedNamespace(ns.Name) {
			continue
		}
		switch ProjectOf(ns) {
		case p.Name:
			if ns.Annotations[AnnotationListedBy] == p.Name && !listed[ns.Name] {
				continue
			}
			out = append(out, ns.Name)
		case "":
			if listed[ns.Name] {
				out = append(out, ns.Name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// RenderResourceQuota is a project's ResourceQuota in one namespace, nil if
// the project sets no quota.
func RenderResourceQuota(p *v1alpha1.Project, namespace string) *corev1.ResourceQuota {
	if p.Spec.ResourceQuota == nil {
		return nil
	}
	return &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: ProjectObjectName, Namespace: namespace, Labels: managedLabels(LabelProject, p.Name)},
		Spec:       corev1.ResourceQuotaSpec{Hard: p.Spec.ResourceQuota.Hard.DeepCopy()},
	}
}

// RenderLimitRange is a project's LimitRange in one namespace, nil if the
// project sets no limits. A default limit without a default request is
// also the request, as the API server would default it; rendering it so
// keeps the stored object equal to the rendered one.
func RenderLimitRange(p *v1alpha1.Project, namespace string) *corev1.LimitRange {
	if p.Spec.LimitRange == nil {
		return nil
	}
	item := corev1.LimitRangeItem{
		Type:           corev1.LimitTypeContainer,
		Default:        p.Spec.LimitRange.DefaultLimits.DeepCopy(),
		DefaultRequest: p.Spec.LimitRange.DefaultRequests.DeepCopy(),
	}
	for name, q := range item.Default {
		if _, ok := item.DefaultRequest[name]; !ok {
			if item.DefaultRequest == nil {
				item.DefaultRequest = corev1.ResourceList{}
			}
			item.DefaultRequest[name] = q.DeepCopy()
		}
	}
	return &corev1.LimitRange{
		ObjectMeta: metav1.ObjectMeta{Name: ProjectObjectName, Namespace: namespace, Labels: managedLabels(LabelProject, p.Name)},
		Spec:       corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{item}},
	}
}

// maxStatusNamespaces is the CRD's bound on status.namespaces.
const maxStatusNamespaces = 1024

// projectReconciler claims a Project's namespaces in its cluster and keeps
// the project's ResourceQuota and LimitRange in each.
type projectReconciler struct {
	client   client.Client
	clusters *clusterSet
	opts     Options
}

var _ reconcile.Reconciler = &projectReconciler{}

// +kubebuilder:rbac:groups=management.bokujo.io,resources=projects,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=management.bokujo.io,resources=projects/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=management.bokujo.io,resources=projects/finalizers,verbs=update
// +kubebuilder:rbac:groups=management.bokujo.io,resources=clusters,verbs=get;list;watch

// Reconcile brings one project's namespaces, labels, quota and limits in
// line and reports them in status.
func (r *projectReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	p := &v1alpha1.Project{}
	if err := r.client.Get(ctx, req.NamespacedName, p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if p.DeletionTimestamp != nil {
		return r.finalize(ctx, p)
	}
	if controllerutil.AddFinalizer(p, Finalizer) {
		if err := r.client.Update(ctx, p); err != nil {
			return ctrl.Result{}, fmt.Errorf("add finalizer to project %s: %w", p.Name, err)
		}
	}
	orig := p.DeepCopy()
	gen := p.Generation

	rc, reason, msg, err := r.clusters.lookup(ctx, p.Spec.ClusterName)
	if err != nil {
		return ctrl.Result{}, err
	}
	if rc == nil {
		changed := setReady(&p.Status.Conditions, gen, false, reason, msg)
		return retryLater(reason, r.opts), patchStatus(ctx, r.client, p, orig, changed)
	}

	nsList := &corev1.NamespaceList{}
	if err := rc.reader.List(ctx, nsList); err != nil {
		return ctrl.Result{}, fmt.Errorf("list namespaces of cluster %s: %w", rc.name, err)
	}
	members, conflicts, claimErr := r.claim(ctx, rc, p, nsList.Items)
	applyErr := r.applyPolicies(ctx, rc, p, members)

	// The status list is bounded by the CRD; a project labelled into
	// more namespaces than that still works, its status says how many.
	shown := members[:min(len(members), maxStatusNamespaces)]
	changed := !slices.Equal(p.Status.Namespaces, shown)
	p.Status.Namespaces = shown
	switch err := errors.Join(claimErr, applyErr); {
	case err != nil:
		changed = setReady(&p.Status.Conditions, gen, false, v1alpha1.ReasonReconciling, err.Error()) || changed
		return ctrl.Result{}, errors.Join(err, patchStatus(ctx, r.client, p, orig, changed))
	case len(conflicts) > 0:
		changed = setReady(&p.Status.Conditions, gen, false, v1alpha1.ProjectReasonNamespaceConflict,
			"namespaces listed but not claimable, left alone: "+strings.Join(conflicts, ", ")) || changed
	default:
		changed = setReady(&p.Status.Conditions, gen, true, v1alpha1.ProjectReasonSynced,
			fmt.Sprintf("%d namespaces labelled, with the project's quota and limits", len(members))) || changed
	}
	return ctrl.Result{}, patchStatus(ctx, r.client, p, orig, changed)
}

// claim creates and labels the listed namespaces, takes bokujo's label off
// namespaces no longer listed, and returns the project's namespaces and
// the listed ones it cannot have (another project's, or reserved).
func (r *projectReconciler) claim(ctx context.Context, rc *remote, p *v1alpha1.Project, all []corev1.Namespace) ([]string, []string, error) {
	byName := map[string]*corev1.Namespace{}
	for i := range all {
		byName[all[i].Name] = &all[i]
	}
	members := ProjectNamespaces(p, all)
	var conflicts []string
	var errs []error
	for _, name := range p.Spec.Namespaces {
		if ReservedNamespace(name) {
			conflicts = append(conflicts, name+" (reserved)")
			continue
		}
		ns, ok := byName[name]
		if !ok {
			created, err := r.createNamespace(ctx, rc, p, name)
			if err != nil {
				errs = append(errs, err)
			}
			if created {
				members = append(members, name)
			}
			continue
		}
		if ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating {
			continue
		}
		switch ProjectOf(ns) {
		case "":
			errs = append(errs, r.label(ctx, rc, ns, p.Name))
		case p.Name:
		default:
			conflicts = append(conflicts, fmt.Sprintf("%s (project %s)", name, ProjectOf(ns)))
		}
	}
	for i := range all {
		ns := &all[i]
		if ns.Annotations[AnnotationListedBy] == p.Name && !slices.Contains(p.Spec.Namespaces, ns.Name) {
			errs = append(errs, r.unlabel(ctx, rc, ns, p.Name))
		}
	}
	slices.Sort(members)
	return slices.Compact(members), conflicts, errors.Join(errs...)
}

// createNamespace creates a listed namespace, labelled; it reports whether
// the namespace now exists for the project.
func (r *projectReconciler) createNamespace(ctx context.Context, rc *remote, p *v1alpha1.Project, name string) (bool, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:        name,
		Labels:      map[string]string{v1alpha1.ProjectLabel: p.Name},
		Annotations: map[string]string{AnnotationListedBy: p.Name},
	}}
	err := rc.writer.Create(ctx, ns)
	if apierrors.IsAlreadyExists(err) {
		// The cache is behind; the namespace event brings this project
		// back with the namespace in view.
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create namespace %s in cluster %s: %w", name, rc.name, err)
	}
	return true, nil
}

// label claims a namespace for a project that lists it.
func (r *projectReconciler) label(ctx context.Context, rc *remote, ns *corev1.Namespace, project string) error {
	orig := ns.DeepCopy()
	ns = ns.DeepCopy()
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	if ns.Annotations == nil {
		ns.Annotations = map[string]string{}
	}
	ns.Labels[v1alpha1.ProjectLabel] = project
	ns.Annotations[AnnotationListedBy] = project
	// Optimistic lock: two projects listing the same free namespace must
	// not both believe they labelled it.
	if err := rc.writer.Patch(ctx, ns, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("label namespace %s in cluster %s: %w", ns.Name, rc.name, err)
	}
	return nil
}

// unlabel releases a namespace bokujo labelled for a project listing.
func (r *projectReconciler) unlabel(ctx context.Context, rc *remote, ns *corev1.Namespace, project string) error {
	orig := ns.DeepCopy()
	ns = ns.DeepCopy()
	delete(ns.Annotations, AnnotationListedBy)
	if ns.Labels[v1alpha1.ProjectLabel] == project {
		delete(ns.Labels, v1alpha1.ProjectLabel)
	}
	if err := rc.writer.Patch(ctx, ns, client.MergeFrom(orig)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("unlabel namespace %s in cluster %s: %w", ns.Name, rc.name, err)
	}
	return nil
}

// applyPolicies puts the project's quota and limits into each member
// namespace and takes them out of every other.
func (r *projectReconciler) applyPolicies(ctx context.Context, rc *remote, p *v1alpha1.Project, members []string) error {
	var errs []error
	keep := map[string]bool{}
	for _, ns := range members {
		keep[ns] = true
		if rq := RenderResourceQuota(p, ns); rq != nil {
			errs = append(errs, ensure(ctx, rc, rq, &corev1.ResourceQuota{}, syncResourceQuota))
		} else {
			errs = append(errs, remove(ctx, rc, &corev1.ResourceQuota{ObjectMeta: metaName(ns, ProjectObjectName)}))
		}
		if lr := RenderLimitRange(p, ns); lr != nil {
			errs = append(errs, ensure(ctx, rc, lr, &corev1.LimitRange{}, syncLimitRange))
		} else {
			errs = append(errs, remove(ctx, rc, &corev1.LimitRange{ObjectMeta: metaName(ns, ProjectObjectName)}))
		}
	}
	errs = append(errs, r.removePolicies(ctx, rc, p.Name, keep))
	return errors.Join(errs...)
}

// removePolicies deletes the project's quotas and limits outside keep.
func (r *projectReconciler) removePolicies(ctx context.Context, rc *remote, project string, keep map[string]bool) error {
	var errs []error
	sel := client.MatchingLabels{LabelProject: project}
	quotas := &corev1.ResourceQuotaList{}
	if err := rc.reader.List(ctx, quotas, sel); err != nil {
		return fmt.Errorf("list resource quotas in cluster %s: %w", rc.name, err)
	}
	for i := range quotas.Items {
		if !keep[quotas.Items[i].Namespace] {
			errs = append(errs, remove(ctx, rc, &quotas.Items[i]))
		}
	}
	limits := &corev1.LimitRangeList{}
	if err := rc.reader.List(ctx, limits, sel); err != nil {
		return fmt.Errorf("list limit ranges in cluster %s: %w", rc.name, err)
	}
	for i := range limits.Items {
		if !keep[limits.Items[i].Namespace] {
			errs = append(errs, remove(ctx, rc, &limits.Items[i]))
		}
	}
	return errors.Join(errs...)
}

// finalize releases the namespaces bokujo labelled for the project and
// removes its quotas and limits, then the finalizer. Namespaces are never
// deleted, and labels a person set are left: they hold workloads.
func (r *projectReconciler) finalize(ctx context.Context, p *v1alpha1.Project) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(p, Finalizer) {
		return ctrl.Result{}, nil
	}
	rc, reason, _, err := r.clusters.lookup(ctx, p.Spec.ClusterName)
	if err != nil {
		return ctrl.Result{}, err
	}
	if rc == nil && reason == v1alpha1.ReasonClusterUnavailable {
		return ctrl.Result{RequeueAfter: r.opts.RetryDelay}, nil
	}
	if rc != nil {
		nsList := &corev1.NamespaceList{}
		if err := rc.reader.List(ctx, nsList); err != nil {
			return ctrl.Result{}, fmt.Errorf("list namespaces of cluster %s: %w", rc.name, err)
		}
		var errs []error
		for i := range nsList.Items {
			if nsList.Items[i].Annotations[AnnotationListedBy] == p.Name {
				errs = append(errs, r.unlabel(ctx, rc, &nsList.Items[i], p.Name))
			}
		}
		errs = append(errs, r.removePolicies(ctx, rc, p.Name, nil))
		if err := errors.Join(errs...); err != nil {
			return ctrl.Result{}, err
		}
	}
	controllerutil.RemoveFinalizer(p, Finalizer)
	if err := r.client.Update(ctx, p); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("remove finalizer from project %s: %w", p.Name, err)
	}
	return ctrl.Result{}, nil
}
