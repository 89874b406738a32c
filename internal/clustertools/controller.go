package clustertools

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// Finalizer holds a ClusterTool until its objects are removed from the
// cluster.
const Finalizer = "management.bokujo.io/cluster-tool"

// Condition types and reasons of a ClusterTool.
const (
	ConditionInstalled = "Installed"
	ConditionReady     = "Ready"
)

// ErrClusterGone tells the controller the cluster is no longer registered:
// a tool being removed from it has nothing left to delete.
var ErrClusterGone = errors.New("cluster not registered")

// Configs gives the management identity's configuration of a cluster.
type Configs interface {
	// ManagementConfig fails with an error wrapping ErrClusterGone when
	// the cluster is not registered.
	ManagementConfig(ctx context.Context, cluster string) (*rest.Config, error)
}

// Options configure the controller.
type Options struct {
	Configs Configs
	Logger  *slog.Logger
	// Poll is how often a tool that is not ready yet is looked at;
	// a ready one is checked (and drift repaired) 10 times less often.
	// Default 10 s.
	Poll time.Duration
}

// Setup registers the ClusterTool controller with a manager of the
// management cluster.
func Setup(mgr ctrl.Manager, opts Options) error {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Poll <= 0 {
		opts.Poll = 10 * time.Second
	}
	r := &Reconciler{c: mgr.GetClient(), opts: opts}
	return ctrl.NewControllerManagedBy(mgr).Named("cluster-tools").For(&mgmtv1.ClusterTool{}).Complete(r)
}

// Reconciler installs, checks and removes cluster tools.
type Reconciler struct {
	c    client.Client
	opts Options
}

func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	tool := &mgmtv1.ClusterTool{}
	if err := r.c.Get(ctx, req.NamespacedName, tool); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !tool.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, r.remove(ctx, tool)
	}
	if controllerutil.AddFinalizer(tool, Finalizer) {
		if err := r.c.Update(ctx, tool); err != nil {
			return reconcile.Result{}, err
		}
	}
	before := tool.Status.DeepCopy()
	res := r.install(ctx, tool)
	tool.Status.ObservedGeneration = tool.Generation
	if !equality.Semantic.DeepEqual(before, &tool.Status) {
		if err := r.c.Status().Update(ctx, tool); err != nil {
			return reconcile.Result{}, err
		}
	}
	return res, nil
}

// install applies the tool's objects and records their health.
func (r *Reconciler) install(ctx context.Context, tool *mgmtv1.ClusterTool) reconcile.Result {
	set := func(typ string, ok bool, reason, msg string) {
		s := metav1.ConditionFalse
		if ok {
			s = metav1.ConditionTrue
		}
		meta.SetStatusCondition(&tool.Status.Conditions, metav1.Condition{Type: typ, Status: s, Reason: reason, Message: truncate(msg), ObservedGeneration: tool.Generation})
	}
	objs, err := Objects(tool.Spec.Tool)
	if err != nil {
		set(ConditionInstalled, false, "UnknownTool", err.Error())
		set(ConditionReady, false, "UnknownTool", err.Error())
		return reconcile.Result{}
	}
	c, err := r.clusterClient(ctx, tool.Spec.ClusterName)
	if err != nil {
		reason := "ClusterUnavailable"
		if errors.Is(err, ErrClusterGone) {
			reason = "ClusterNotFound"
		}
		msg := fmt.Sprintf("cannot reach cluster %s: %v", tool.Spec.ClusterName, err)
		set(ConditionInstalled, false, reason, msg)
		set(ConditionReady, false, reason, msg)
		return reconcile.Result{RequeueAfter: r.opts.Poll * 3}
	}
	for _, o := range objs {
		if err := c.Patch(ctx, o, client.Apply, client.ForceOwnership, client.FieldOwner(FieldManager)); err != nil {
			msg := fmt.Sprintf("apply %s %s: %v", o.GetKind(), objectName(o), err)
			if apierrors.IsForbidden(err) {
				msg += fmt.Sprintf("; bokujo's management account in %s lacks this right (clusters imported by an older bokujo: import the cluster again to update its RBAC)", tool.Spec.ClusterName)
			}
			set(ConditionInstalled, false, "ApplyFailed", msg)
			set(ConditionReady, false, "ApplyFailed", "not installed: "+msg)
			r.opts.Logger.Warn("cluster tool: apply failed", "tool", tool.Name, "err", err)
			return reconcile.Result{RequeueAfter: r.opts.Poll}
		}
	}
	tool.Status.Version = Versions[tool.Spec.Tool]
	set(ConditionInstalled, true, "Applied", fmt.Sprintf("%d objects applied (%s)", len(objs), tool.Status.Version))

	var status []mgmtv1.ClusterToolObject
	var waiting []string
	for _, o := range objs {
		st := mgmtv1.ClusterToolObject{Kind: o.GetKind(), Namespace: o.GetNamespace(), Name: o.GetName()}
		if ready, why, ok := r.workloadReady(ctx, c, o); ok {
			st.Ready = &ready
			if !ready {
				waiting = append(waiting, fmt.Sprintf("%s %s: %s", o.GetKind(), objectName(o), why))
			}
		}
		status = append(status, st)
	}
	tool.Status.Objects = status
	if len(waiting) > 0 {
		set(ConditionReady, false, "WorkloadsNotReady", fmt.Sprintf("waiting for %s", joinMax(waiting, 3)))
		return reconcile.Result{RequeueAfter: r.opts.Poll}
	}
	set(ConditionReady, true, "WorkloadsReady", "every workload of the tool has its pods ready")
	return reconcile.Result{RequeueAfter: r.opts.Poll * 10}
}

// workloadReady tells whether a Deployment or DaemonSet has all its pods
// ready; ok is false for other kinds.
func (r *Reconciler) workloadReady(ctx context.Context, c client.Client, o *unstructured.Unstructured) (ready bool, why string, ok bool) {
	key := client.ObjectKeyFromObject(o)
	switch o.GetKind() {
	case "Deployment":
		d := &appsv1.Deployment{}
		if err := c.Get(ctx, key, d); err != nil {
			return false, err.Error(), true
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		if d.Status.ObservedGeneration < d.Generation || d.Status.UpdatedReplicas < want || d.Status.AvailableReplicas < want {
			return false, fmt.Sprintf("%d of %d pods available", d.Status.AvailableReplicas, want), true
		}
		return true, "", true
	case "DaemonSet":
		d := &appsv1.DaemonSet{}
		if err := c.Get(ctx, key, d); err != nil {
			return false, err.Error(), true
		}
		s := d.Status
		if s.ObservedGeneration < d.Generation || s.NumberReady < s.DesiredNumberScheduled || s.UpdatedNumberScheduled < s.DesiredNumberScheduled {
			return false, fmt.Sprintf("%d of %d nodes ready", s.NumberReady, s.DesiredNumberScheduled), true
		}
		return true, "", true
	}
	return false, "", false
}

// remove deletes the tool's objects from the cluster, then lets the
// ClusterTool go.
func (r *Reconciler) remove(ctx context.Context, tool *mgmtv1.ClusterTool) error {
	if !controllerutil.ContainsFinalizer(tool, Finalizer) {
		return nil
	}
	objs, err := Objects(tool.Spec.Tool)
	if err == nil {
		c, cerr := r.clusterClient(ctx, tool.Spec.ClusterName)
		switch {
		case errors.Is(cerr, ErrClusterGone):
			// Nothing left to remove from.
		case cerr != nil:
			return fmt.Errorf("remove tool %s: %w", tool.Name, cerr)
		default:
			for _, o := range slices.Backward(objs) {
				if err := c.Delete(ctx, o, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) && !meta.IsNoMatchError(err) {
					return fmt.Errorf("remove %s %s of tool %s: %w", o.GetKind(), objectName(o), tool.Name, err)
				}
			}
		}
	}
	controllerutil.RemoveFinalizer(tool, Finalizer)
	return r.c.Update(ctx, tool)
}

func (r *Reconciler) clusterClient(ctx context.Context, cluster string) (client.Client, error) {
	cfg, err := r.opts.Configs.ManagementConfig(ctx, cluster)
	if err != nil {
		return nil, err
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: scheme})
}

func objectName(o client.Object) string {
	if o.GetNamespace() == "" {
		return o.GetName()
	}
	return o.GetNamespace() + "/" + o.GetName()
}

func truncate(s string) string {
	const max = 1024
	if len(s) <= max {
		return s
	}
	return s[:max-3] + "..."
}

func joinMax(items []string, n int) string {
	out := ""
	for i, s := range items {
		if i == n {
			return out + fmt.Sprintf(" and %d more", len(items)-n)
		}
		if i > 0 {
			out += "; "
		}
		out += s
	}
	return out
}
