package drivers

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubectl/pkg/drain"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/localcluster"
)

// ConditionNodePools is the driver's condition on a Cluster about its node
// pools: True when every pool has its count of Ready nodes and no node is
// being removed; False with reason Scaling and the progress otherwise.
const ConditionNodePools = "NodePoolsReady"

// Reasons of the NodePoolsReady condition.
const (
	ReasonScaled  = "Scaled"
	ReasonScaling = "Scaling"
	// ReasonDrainBlocked: a PodDisruptionBudget refuses an eviction; the
	// drain is retried until the budget allows it.
	ReasonDrainBlocked = "DrainBlocked"
)

var policyV1 = schema.GroupVersion{Group: "policy", Version: "v1"}

// PoolLabel names the node pool of a node bokujo created.
const PoolLabel = "bokujo.io/node-pool"

// PoolsResult is one step of bringing a cluster's nodes to its pools.
type PoolsResult struct {
	Pools []mgmtv1.NodePoolStatus
	// Done is true when every pool has its count of Ready nodes and no
	// node is left to remove.
	Done bool
	// Blocked lists the evictions a PodDisruptionBudget refused.
	Blocked []string
	// Message says what is going on, for the condition.
	Message string
	// Events are the repairs of this step, and the ones the budget held
	// back, for the Cluster's events.
	Events []RepairEvent
}

// RepairEvent is a node auto-repair, done or held back by the budget.
type RepairEvent struct {
	Warning bool
	Reason  string
	Node    string
	Message string
}

// Auto-repair defaults.
const (
	DefaultNotReadyTimeout   = 5 * time.Minute
	DefaultMaxRepairsPerHour = 3
)

type repairConfig struct {
	enabled bool
	timeout time.Duration
	budget  int32
}

func repairSettings(r *mgmtv1.NodeAutoRepair) repairConfig {
	cfg := repairConfig{enabled: true, timeout: DefaultNotReadyTimeout, budget: DefaultMaxRepairsPerHour}
	if r == nil {
		return cfg
	}
	cfg.enabled = !r.Disabled
	if r.NotReadyTimeout != nil && r.NotReadyTimeout.Duration > 0 {
		cfg.timeout = r.NotReadyTimeout.Duration
	}
	if r.MaxRepairsPerHour != nil {
		cfg.budget = *r.MaxRepairsPerHour
	}
	return cfg
}

// notReadySince reports when the node's Ready condition left True.
func notReadySince(n *corev1.Node) (time.Time, bool) {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.LastTransitionTime.Time, c.Status != corev1.ConditionTrue
		}
	}
	return time.Time{}, false
}

// repairNode evicts what it can from a NotReady node and deletes it; the
// next step creates its replacement. Pods on a node that does not answer
// never finish terminating, so the node does not wait for them: deleting
// the node lets the pod garbage collector remove them and their
// controllers start them elsewhere.
func repairNode(ctx context.Context, cs kubernetes.Interface, n *corev1.Node) error {
	h := &drain.Helper{Ctx: ctx, Client: cs, Force: true, IgnoreAllDaemonSets: true, DeleteEmptyDirData: true,
		GracePeriodSeconds: -1, Out: io.Discard, ErrOut: io.Discard}
	if err := drain.RunCordonOrUncordon(h, n, true); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("cordon node %s: %w", n.Name, err)
	}
	if pods, errs := h.GetPodsForDeletion(n.Name); len(errs) == 0 {
		for _, p := range pods.Pods() {
			if p.DeletionTimestamp == nil {
				_ = h.EvictPod(p, policyV1) // best effort: the node is going away either way
			}
		}
	}
	if err := cs.CoreV1().Nodes().Delete(ctx, n.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete node %s: %w", n.Name, err)
	}
	return nil
}

// recordNodeEvent writes an event on the node in the downstream cluster;
// best effort, the Cluster's own event and status carry the repair too.
func recordNodeEvent(ctx context.Context, cs kubernetes.Interface, n *corev1.Node, reason, msg string, now time.Time) {
	ts := metav1.NewTime(now)
	_, _ = cs.CoreV1().Events(metav1.NamespaceDefault).Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: n.Name + "."},
		InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: n.Name, UID: n.UID, APIVersion: "v1"},
		Reason:         reason, Message: msg, Type: corev1.EventTypeWarning,
		Source:         corev1.EventSource{Component: "bokujo-node-repair"},
		FirstTimestamp: ts, LastTimestamp: ts, Count: 1,
	}, metav1.CreateOptions{})
}

// ReconcilePools takes one step towards the desired nodes: it creates the
// missing ones (kwok manages every node with localcluster's annotation) and,
// for each node of a pool that is no longer wanted, cordons it, evicts its
// pods through the Eviction API (so PodDisruptionBudgets are respected; a
// refused eviction is retried at the next step) and deletes the node once
// no pod is left on it. It never waits: the caller calls again until Done.
func ReconcilePools(ctx context.Context, cs kubernetes.Interface, c *mgmtv1.Cluster, desired []localcluster.NodeSpec, now time.Time) (PoolsResult, error) {
	var res PoolsResult
	pools := c.Spec.Source.Driver.NodePools
	repair := repairSettings(c.Spec.Source.Driver.AutoRepair)
	previous := map[string]mgmtv1.NodePoolStatus{}
	for _, p := range c.Status.NodePools {
		previous[p.Name] = p
	}
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: PoolLabel})
	if err != nil {
		return res, fmt.Errorf("list nodes: %w", err)
	}
	existing := map[string]*corev1.Node{}
	for i := range list.Items {
		existing[list.Items[i].Name] = &list.Items[i]
	}
	status := map[string]*mgmtv1.NodePoolStatus{}
	for _, p := range pools {
		st := mgmtv1.NodePoolStatus{Name: p.Name, Desired: p.Count}
		for _, r := range previous[p.Name].Repairs {
			if now.Sub(r.Time.Time) < time.Hour {
				st.Repairs = append(st.Repairs, r)
			}
		}
		res.Pools = append(res.Pools, st)
	}
	for i := range res.Pools {
		status[res.Pools[i].Name] = &res.Pools[i]
	}
	want := map[string]bool{}
	var adding []string
	for _, spec := range desired {
		want[spec.Name] = true
		st := status[spec.Labels[PoolLabel]]
		n, ok := existing[spec.Name]
		if !ok {
			if _, err := cs.CoreV1().Nodes().Create(ctx, spec.Node(), metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				return res, fmt.Errorf("create node %s: %w", spec.Name, err)
			}
			st.Updating++
			adding = append(adding, spec.Name)
			continue
		}
		if nodeReady(n) {
			st.Ready++
			continue
		}
		st.Updating++
		adding = append(adding, spec.Name)
		since, notReady := notReadySince(n)
		if !repair.enabled || !notReady || n.Spec.Unschedulable || now.Sub(since) < repair.timeout {
			continue
		}
		if int32(len(st.Repairs)) >= repair.budget {
			res.Events = append(res.Events, RepairEvent{Warning: true, Reason: "RepairBudgetExhausted", Node: n.Name, Message: fmt.Sprintf(
				"node %s has been NotReady since %s but pool %s already had %d repairs in the last hour (maxRepairsPerHour %d); it is left alone until the budget allows, or repair it by hand",
				n.Name, since.UTC().Format(time.RFC3339), st.Name, len(st.Repairs), repair.budget)})
			continue
		}
		msg := fmt.Sprintf("node %s has been NotReady since %s (longer than %s): draining it and replacing it with a new node of pool %s",
			n.Name, since.UTC().Format(time.RFC3339), repair.timeout, st.Name)
		recordNodeEvent(ctx, cs, n, "NodeRepair", msg, now)
		if err := repairNode(ctx, cs, n); err != nil {
			return res, err
		}
		st.Repairs = append(st.Repairs, mgmtv1.NodeRepair{Node: n.Name, Time: metav1.NewTime(now)})
		res.Events = append(res.Events, RepairEvent{Reason: "NodeRepair", Node: n.Name, Message: msg})
	}
	var removing []string
	names := make([]string, 0, len(existing))
	for name := range existing {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if want[name] {
			continue
		}
		n := existing[name]
		if st := status[n.Labels[PoolLabel]]; st != nil {
			st.Updating++
		}
		removing = append(removing, name)
		blocked, err := removeNode(ctx, cs, n)
		if err != nil {
			return res, err
		}
		res.Blocked = append(res.Blocked, blocked...)
	}
	res.Done = len(adding) == 0 && len(removing) == 0
	var parts []string
	for _, p := range res.Pools {
		parts = append(parts, fmt.Sprintf("%s %d/%d ready", p.Name, p.Ready, p.Desired))
	}
	msg := strings.Join(parts, ", ")
	if len(adding) > 0 {
		msg += fmt.Sprintf("; waiting for %s to be Ready", strings.Join(adding, ", "))
	}
	if len(removing) > 0 {
		msg += fmt.Sprintf("; draining and removing %s", strings.Join(removing, ", "))
	}
	if len(res.Blocked) > 0 {
		msg += fmt.Sprintf("; a PodDisruptionBudget refuses to evict %s yet, retrying", strings.Join(res.Blocked, ", "))
	}
	res.Message = msg
	return res, nil
}

// removeNode cordons the node, evicts what is on it and deletes it once it
// is empty. It returns the pods whose eviction a PodDisruptionBudget refused.
func removeNode(ctx context.Context, cs kubernetes.Interface, n *corev1.Node) ([]string, error) {
	// kubectl's drain library: the same pod filters (DaemonSet and mirror
	// pods stay) and eviction calls as `kubectl drain`, driven one
	// non-blocking step at a time.
	h := &drain.Helper{Ctx: ctx, Client: cs, Force: true, IgnoreAllDaemonSets: true, DeleteEmptyDirData: true,
		GracePeriodSeconds: -1, Out: io.Discard, ErrOut: io.Discard}
	if !n.Spec.Unschedulable {
		if err := drain.RunCordonOrUncordon(h, n, true); err != nil {
			return nil, fmt.Errorf("cordon node %s: %w", n.Name, err)
		}
	}
	pods, errs := h.GetPodsForDeletion(n.Name)
	if len(errs) > 0 {
		return nil, fmt.Errorf("list pods of node %s: %v", n.Name, errs)
	}
	var blocked []string
	left := 0
	for _, p := range pods.Pods() {
		left++
		if p.DeletionTimestamp != nil {
			continue // evicted, terminating
		}
		err := h.EvictPod(p, policyV1)
		switch {
		case err == nil, apierrors.IsNotFound(err):
		case apierrors.IsTooManyRequests(err):
			blocked = append(blocked, p.Namespace+"/"+p.Name)
		default:
			return nil, fmt.Errorf("evict pod %s/%s from node %s: %w", p.Namespace, p.Name, n.Name, err)
		}
	}
	if left > 0 {
		return blocked, nil
	}
	if err := cs.CoreV1().Nodes().Delete(ctx, n.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("delete node %s: %w", n.Name, err)
	}
	return nil, nil
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
