package clusters

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// HealthOptions tune the health controller.
type HealthOptions struct {
	// Interval between probes of a healthy cluster; default 10 s.
	Interval time.Duration
	// Timeout of one probe; default 5 s. An unreachable cluster costs one
	// worker this long and never delays the others.
	Timeout time.Duration
	// Workers probe clusters in parallel; default 16.
	Workers int
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// HealthReconciler keeps each Cluster's status current: reachability,
// Kubernetes version, nodes and their CPU, memory and GPU capacity,
// allocatable and requested.
type HealthReconciler struct {
	Client   client.Client
	Registry *Registry
	Options  HealthOptions
	// Trigger wakes the controller for one cluster at once, e.g. when its
	// agent connects or disconnects, rather than at the next probe.
	Trigger <-chan event.GenericEvent
}

var _ reconcile.Reconciler = &HealthReconciler{}

// SetupWithManager registers the controller.
func (h *HealthReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if h.Options.Interval == 0 {
		h.Options.Interval = 10 * time.Second
	}
	if h.Options.Timeout == 0 {
		h.Options.Timeout = 5 * time.Second
	}
	if h.Options.Workers == 0 {
		h.Options.Workers = 16
	}
	if h.Options.Now == nil {
		h.Options.Now = time.Now
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("cluster-health").
		For(&mgmtv1.Cluster{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: h.Options.Workers})
	if h.Trigger != nil {
		b = b.WatchesRawSource(source.Channel(h.Trigger, &handler.EnqueueRequestForObject{}))
	}
	return b.Complete(h)
}

// resources summarised in a Cluster's status.
var summarised = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods, "nvidia.com/gpu"}

// +kubebuilder:rbac:groups=management.bokujo.io,resources=clusters,verbs=get;list;watch
// +kubebuilder:rbac:groups=management.bokujo.io,resources=clusters/status,verbs=get;update;patch

// Reconcile probes one cluster and records what it found.
func (h *HealthReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var c mgmtv1.Cluster
	if err := h.Client.Get(ctx, req.NamespacedName, &c); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if d := c.Spec.Source.Driver; d != nil && d.ProxyCredentials == nil {
		// Until its driver has created it, a driver cluster's status is
		// the driver's to tell.
		return reconcile.Result{}, nil
	}
	status := c.Status.DeepCopy()
	now := metav1.NewTime(h.Options.Now())
	var probeErr error
	reason, msg, down := h.agentDown(&c)
	if down {
		// No tunnel: nothing to probe. The agent's connect wakes this
		// controller through Trigger.
		probeErr = errors.New(msg)
		for _, t := range []string{mgmtv1.ClusterConditionConnected, mgmtv1.ClusterConditionReachable, mgmtv1.ConditionReady} {
			meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: t, Status: metav1.ConditionFalse,
				Reason: reason, Message: msg, ObservedGeneration: c.Generation})
		}
	} else {
		if c.Spec.Source.Agent != nil {
			meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: mgmtv1.ClusterConditionConnected, Status: metav1.ConditionTrue,
				Reason: mgmtv1.ClusterReasonAgentConnected, Message: "the agent's tunnel is up", ObservedGeneration: c.Generation})
		}
		probeErr = h.probe(ctx, c.Name, status)
	}
	if down {
		// Conditions set above.
	} else if probeErr != nil {
		reason := mgmtv1.ClusterReasonProbeFailed
		if apierrors.IsUnauthorized(probeErr) || apierrors.IsForbidden(probeErr) {
			reason = mgmtv1.ClusterReasonUnauthorized
		} else if errors.Is(probeErr, ErrAgentDisconnected) {
			reason = mgmtv1.ClusterReasonAgentDisconnected
		} else if errors.Is(probeErr, ErrUnavailable) {
			reason = mgmtv1.ClusterReasonCredentialsNotFound
		}
		for _, t := range []string{mgmtv1.ClusterConditionReachable, mgmtv1.ConditionReady} {
			meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: t, Status: metav1.ConditionFalse,
				Reason: reason, Message: truncate(probeErr.Error(), 1024), ObservedGeneration: c.Generation})
		}
	} else {
		for _, t := range []string{mgmtv1.ClusterConditionReachable, mgmtv1.ConditionReady} {
			meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: t, Status: metav1.ConditionTrue,
				Reason: mgmtv1.ClusterReasonHealthy, Message: fmt.Sprintf("%d nodes", ptr.Deref(status.NodeCount, 0)), ObservedGeneration: c.Generation})
		}
	}
	// Write only on change, or to refresh lastProbeTime once a minute, so
	// a thousand healthy clusters do not become a thousand writes per probe.
	changed := !apiequality.Semantic.DeepEqual(withoutProbeTime(*status), withoutProbeTime(c.Status))
	stale := c.Status.LastProbeTime == nil || now.Sub(c.Status.LastProbeTime.Time) > time.Minute
	if changed || stale {
		status.LastProbeTime = &now
		c.Status = *status
		if err := h.Client.Status().Update(ctx, &c); err != nil {
			if apierrors.IsConflict(err) {
				// Someone else (a driver, the agent endpoint) wrote the
				// Cluster meanwhile: probe again on the fresh copy; this
				// is no error worth a log line.
				return reconcile.Result{Requeue: true}, nil
			}
			return reconcile.Result{}, client.IgnoreNotFound(err)
		}
	}
	interval := h.Options.Interval
	if probeErr != nil {
		interval = min(interval, 5*time.Second)
	}
	return reconcile.Result{RequeueAfter: interval}, nil
}

// agentDown says why an agent cluster cannot be probed, if it cannot.
func (h *HealthReconciler) agentDown(c *mgmtv1.Cluster) (reason, msg string, down bool) {
	a := c.Spec.Source.Agent
	switch {
	case a == nil:
		return "", "", false
	case a.ProxyCredentials == nil || a.ManagementCredentials == nil:
		return mgmtv1.ClusterReasonAgentNotRegistered, "waiting for the agent to register: apply the import manifest in the cluster", true
	case !h.Registry.AgentConnected(c.Name):
		return mgmtv1.ClusterReasonAgentDisconnected, "the agent is not connected; it reconnects by itself when it runs and reaches the server", true
	}
	return "", "", false
}

func withoutProbeTime(s mgmtv1.ClusterStatus) mgmtv1.ClusterStatus {
	s.LastProbeTime = nil
	out := s.DeepCopy()
	for i := range out.Conditions {
		out.Conditions[i].LastTransitionTime = metav1.Time{}
	}
	return *out
}

func (h *HealthReconciler) probe(ctx context.Context, cluster string, status *mgmtv1.ClusterStatus) error {
	cfg, err := h.Registry.ManagementConfig(ctx, cluster)
	if err != nil {
		return err
	}
	cfg.Timeout = h.Options.Timeout
	ctx, cancel := context.WithTimeout(ctx, h.Options.Timeout)
	defer cancel()
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if cfg.Dial != nil {
		// client-go cannot cache a transport with a custom dialler (agent
		// clusters), so each probe has its own: close its tunnel streams
		// now rather than after the idle timeout.
		defer utilnet.CloseIdleConnectionsFor(hc.Transport)
	}
	cs, err := kubernetes.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		return fmt.Errorf("server version: %w", err)
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	capacity, allocatable := corev1.ResourceList{}, corev1.ResourceList{}
	for _, n := range nodes.Items {
		add(capacity, n.Status.Capacity)
		add(allocatable, n.Status.Allocatable)
	}
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{ResourceVersion: "0",
		FieldSelector: "status.phase!=Succeeded,status.phase!=Failed"})
	if err != nil {
		return fmt.Errorf("list pods: %w", err)
	}
	requested := corev1.ResourceList{}
	for _, p := range pods.Items {
		if p.Spec.NodeName == "" {
			continue
		}
		add(requested, podRequests(&p))
	}
	status.KubernetesVersion = v.GitVersion
	status.NodeCount = ptr.To(int32(len(nodes.Items)))
	status.Capacity, status.Allocatable, status.Requested = capacity, allocatable, requested
	return nil
}

func add(total, more corev1.ResourceList) {
	for _, name := range summarised {
		q, ok := more[name]
		if !ok {
			continue
		}
		t := total[name]
		t.Add(q)
		total[name] = t
	}
}

// podRequests is the pod's effective request: the sum over containers, or
// the largest init container when larger (as the scheduler counts it). A
// limit without a request counts as the request, as the apiserver defaults.
func podRequests(p *corev1.Pod) corev1.ResourceList {
	sum := corev1.ResourceList{}
	req := func(c corev1.Container) corev1.ResourceList {
		out := corev1.ResourceList{}
		for k, v := range c.Resources.Limits {
			out[k] = v
		}
		for k, v := range c.Resources.Requests {
			out[k] = v
		}
		return out
	}
	for _, c := range p.Spec.Containers {
		add(sum, req(c))
	}
	for _, c := range p.Spec.InitContainers {
		for k, v := range req(c) {
			if cur, ok := sum[k]; !ok || v.Cmp(cur) > 0 {
				sum[k] = v.DeepCopy()
			}
		}
	}
	sum[corev1.ResourcePods] = *resource.NewQuantity(1, resource.DecimalSI)
	return sum
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
