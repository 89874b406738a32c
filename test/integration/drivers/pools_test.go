package drivers_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/drivers"
	"bokujo.io/bokujo/test/framework"
)

// readyNodes lists the Ready nodes of a pool.
func readyNodes(ctx context.Context, cs kubernetes.Interface, pool string) ([]string, error) {
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: drivers.PoolLabel + "=" + pool})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range list.Items {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				names = append(names, n.Name)
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

// scaleTo sets the pool's count and waits for exactly that many Ready
// nodes, no node left to remove, and the pool's status and condition.
func scaleTo(t *testing.T, c client.Client, cs kubernetes.Interface, name string, count int32) {
	t.Helper()
	ctx := context.Background()
	var cl mgmtv1.Cluster
	if err := c.Get(ctx, client.ObjectKey{Name: name}, &cl); err != nil {
		t.Fatal(err)
	}
	before := cl.DeepCopy()
	cl.Spec.Source.Driver.NodePools[0].Count = count
	if err := c.Patch(ctx, &cl, client.MergeFrom(before)); err != nil {
		t.Fatal(err)
	}
	waitScaled(t, c, cs, name, count)
}

func waitScaled(t *testing.T, c client.Client, cs kubernetes.Interface, name string, count int32) {
	t.Helper()
	ctx := context.Background()
	framework.Eventually(t, framework.Long, func() error {
		var got mgmtv1.Cluster
		if err := c.Get(ctx, client.ObjectKey{Name: name}, &got); err != nil {
			return err
		}
		cond := meta.FindStatusCondition(got.Status.Conditions, drivers.ConditionNodePools)
		if cond == nil || cond.Status != metav1.ConditionTrue || cond.ObservedGeneration != got.Generation {
			return fmt.Errorf("condition %+v", cond)
		}
		want := []mgmtv1.NodePoolStatus{{Name: "work", Desired: count, Ready: count}}
		if fmt.Sprint(got.Status.NodePools) != fmt.Sprint(want) {
			return fmt.Errorf("pools %+v, want %+v", got.Status.NodePools, want)
		}
		all, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		ready, err := readyNodes(ctx, cs, "work")
		if err != nil {
			return err
		}
		if len(ready) != int(count) || len(all.Items) != int(count) {
			return fmt.Errorf("%d Ready nodes of %d, want %d", len(ready), len(all.Items), count)
		}
		return nil
	})
}

// availability watches a Deployment's pods and remembers the fewest that
// were Ready and not being deleted at any moment after it was armed.
type availability struct {
	mu    sync.Mutex
	ready map[string]bool
	armed bool
	min   int
}

func (a *availability) observe(p *corev1.Pod, deleted bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ok := !deleted && p.DeletionTimestamp == nil
	if ok {
		ok = false
		for _, c := range p.Status.Conditions {
			ok = ok || (c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue)
		}
	}
	if ok {
		a.ready[p.Name] = true
	} else {
		delete(a.ready, p.Name)
	}
	if a.armed && len(a.ready) < a.min {
		a.min = len(a.ready)
	}
}

func (a *availability) arm() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.armed, a.min = true, len(a.ready)
}

func (a *availability) lowest() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.min
}

// TestLocalDriverScalesANodePool scales a pool 3 → 5 → 2. The scale down
// drains the removed nodes through the Eviction API: while a
// PodDisruptionBudget refuses every eviction the nodes stay (condition
// DrainBlocked naming the pod); once it allows one disruption the drain
// goes on and the Deployment never has fewer Ready pods than the budget's
// minAvailable.
func TestLocalDriverScalesANodePool(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	c := s.App.Client
	cl := &mgmtv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "scale"}, Spec: mgmtv1.ClusterSpec{Source: mgmtv1.ClusterSource{Driver: &mgmtv1.DriverSource{
		Name: mgmtv1.DriverLocal, NodePools: []mgmtv1.NodePool{{Name: "work", Count: 3}},
	}}}}
	if err := c.Create(ctx, cl); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), cl) })
	provisioned(t, c, "scale", drivers.ReasonProvisioned)
	// The cluster's admin kubeconfig, as a cluster owner would use it.
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(s.Dir, "clusters", "scale", "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	waitScaled(t, c, cs, "scale", 3)
	scaleTo(t, c, cs, "scale", 5)

	// Five replicas spread over the five nodes, so the scale down to two
	// must evict three of them.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "app"}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "web"}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "app"}, Spec: appsv1.DeploymentSpec{
		Replicas: ptr.To[int32](5), Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "web", Image: "registry.k8s.io/pause:3.10"}},
			TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "kubernetes.io/hostname",
				WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: &metav1.LabelSelector{MatchLabels: labels}}},
		}},
	}}
	if _, err := cs.AppsV1().Deployments("app").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "app"}, Spec: policyv1.PodDisruptionBudgetSpec{
		MinAvailable: ptr.To(intstr.FromInt32(5)), Selector: &metav1.LabelSelector{MatchLabels: labels}}}
	if _, err := cs.PolicyV1().PodDisruptionBudgets("app").Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, framework.Medium, func() error {
		d, err := cs.AppsV1().Deployments("app").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Status.ReadyReplicas != 5 {
			return fmt.Errorf("%d ready replicas", d.Status.ReadyReplicas)
		}
		p, err := cs.PolicyV1().PodDisruptionBudgets("app").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.CurrentHealthy != 5 || p.Status.ObservedGeneration != p.Generation {
			return fmt.Errorf("pdb status %+v", p.Status)
		}
		return nil
	})

	av := &availability{ready: map[string]bool{}}
	pods, err := cs.CoreV1().Pods("app").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	onRemoved := 0
	for i := range pods.Items {
		av.observe(&pods.Items[i], false)
		if n := pods.Items[i].Spec.NodeName; n != "work-0" && n != "work-1" {
			onRemoved++
		}
	}
	if onRemoved == 0 {
		t.Fatalf("no pod runs on the nodes the scale down removes; the test would not drain anything")
	}
	w, err := cs.CoreV1().Pods("app").Watch(ctx, metav1.ListOptions{LabelSelector: "app=web", ResourceVersion: pods.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	watched := make(chan struct{})
	var stopping, endedEarly atomic.Bool
	go func() {
		defer close(watched)
		for ev := range w.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok {
				av.observe(p, ev.Type == watch.Deleted)
			}
		}
		endedEarly.Store(!stopping.Load())
	}()
	av.arm()

	// The budget allows no disruption: the drain is stuck and says why.
	var got mgmtv1.Cluster
	if err := c.Get(ctx, client.ObjectKey{Name: "scale"}, &got); err != nil {
		t.Fatal(err)
	}
	before := got.DeepCopy()
	got.Spec.Source.Driver.NodePools[0].Count = 2
	if err := c.Patch(ctx, &got, client.MergeFrom(before)); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, framework.Long, func() error {
		if err := c.Get(ctx, client.ObjectKey{Name: "scale"}, &got); err != nil {
			return err
		}
		cond := meta.FindStatusCondition(got.Status.Conditions, drivers.ConditionNodePools)
		if cond == nil || cond.Reason != drivers.ReasonDrainBlocked || !strings.Contains(cond.Message, "app/web-") {
			return fmt.Errorf("condition %+v", cond)
		}
		return nil
	})
	if len(got.Status.NodePools) != 1 || got.Status.NodePools[0].Updating == 0 {
		t.Errorf("pool status while the drain is blocked: %+v", got.Status.NodePools)
	}
	// Cordoned, not deleted.
	n, err := cs.CoreV1().Nodes().Get(ctx, "work-4", metav1.GetOptions{})
	if err != nil || !n.Spec.Unschedulable {
		t.Fatalf("work-4 while its drain is blocked: %v %+v", err, n)
	}

	// One disruption at a time: the drain goes on without going below 4.
	p, err := cs.PolicyV1().PodDisruptionBudgets("app").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Spec.MinAvailable = ptr.To(intstr.FromInt32(4))
	if _, err := cs.PolicyV1().PodDisruptionBudgets("app").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitScaled(t, c, cs, "scale", 2)
	framework.Eventually(t, framework.Medium, func() error {
		pods, err := cs.CoreV1().Pods("app").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return err
		}
		ready := 0
		for _, p := range pods.Items {
			if p.Spec.NodeName != "work-0" && p.Spec.NodeName != "work-1" {
				return fmt.Errorf("pod %s on %s", p.Name, p.Spec.NodeName)
			}
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil {
					ready++
				}
			}
		}
		if ready != 5 {
			return fmt.Errorf("%d ready pods", ready)
		}
		return nil
	})
	stopping.Store(true)
	w.Stop()
	<-watched
	if endedEarly.Load() {
		t.Fatal("the pod watch ended before the scale down finished; availability was not observed throughout")
	}
	if low := av.lowest(); low < 4 {
		t.Errorf("the Deployment went down to %d Ready pods during the scale down; the PodDisruptionBudget asks for 4", low)
	}
	t.Logf("fewest Ready pods during the scale down: %d (minAvailable 4)", av.lowest())
}
