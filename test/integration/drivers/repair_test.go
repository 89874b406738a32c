package drivers_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/drivers"
	"bokujo.io/bokujo/internal/localcluster"
	"bokujo.io/bokujo/test/framework"
)

// failNode makes kwok stop driving the node (its selector annotation goes)
// and reports the node NotReady, like a machine whose kubelet died.
func failNode(t *testing.T, cs kubernetes.Interface, name string) types.UID {
	t.Helper()
	return failNodeSince(t, cs, name, time.Now())
}

// failNodeSince reports the node NotReady since the given time; kwok may
// still heartbeat a node it drove before (and turn it Ready again), so the
// test reports it again while it waits, like a kubelet that keeps failing.
func failNodeSince(t *testing.T, cs kubernetes.Interface, name string, since time.Time) types.UID {
	t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:null}}}`, localcluster.FakeNodeAnnotation)
	n, err := cs.CoreV1().Nodes().Patch(context.Background(), name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The kubelet's last word before it died, without waiting out the node
	// lifecycle controller's grace period.
	now := since.UTC().Format(time.RFC3339)
	status := fmt.Sprintf(`{"status":{"conditions":[{"type":"Ready","status":"False","reason":"KubeletNotReady","message":"simulated failure","lastHeartbeatTime":%q,"lastTransitionTime":%q}]}}`, now, now)
	if _, err := cs.CoreV1().Nodes().Patch(context.Background(), name, types.StrategicMergePatchType, []byte(status), metav1.PatchOptions{}, "status"); err != nil {
		t.Fatal(err)
	}
	return n.UID
}

// clusterEvents lists the events on a Cluster object with the reason.
func clusterEvents(t *testing.T, name, reason string) []string {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(env.RESTConfig(t, "mgmt"))
	list, err := cs.EventsV1().Events(metav1.NamespaceAll).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Kind == "Cluster" && e.Regarding.Name == name && e.Reason == reason {
			out = append(out, e.Note)
		}
	}
	return out
}

// TestLocalDriverRepairsNotReadyNodes: one node that dies is drained and
// replaced by a new node of its pool; five that die at once are repaired
// only as far as the pool's repair budget allows, and an event says the
// budget held the rest back.
func TestLocalDriverRepairsNotReadyNodes(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	c := s.App.Client
	cl := &mgmtv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "repair"}, Spec: mgmtv1.ClusterSpec{Source: mgmtv1.ClusterSource{Driver: &mgmtv1.DriverSource{
		Name: mgmtv1.DriverLocal, NodePools: []mgmtv1.NodePool{{Name: "work", Count: 6}},
		AutoRepair: &mgmtv1.NodeAutoRepair{NotReadyTimeout: &metav1.Duration{Duration: 2 * time.Second}, MaxRepairsPerHour: ptr.To[int32](3)},
	}}}}
	if err := c.Create(ctx, cl); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), cl) })
	provisioned(t, c, "repair", drivers.ReasonProvisioned)
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(s.Dir, "clusters", "repair", "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	waitScaled(t, c, cs, "repair", 6)

	repaired := func(name string, old types.UID) (bool, error) {
		n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil // deleted, its replacement not created yet
		}
		return n.UID != old && nodeIsReady(n), nil
	}

	old := failNode(t, cs, "work-0")
	framework.Eventually(t, framework.Long, func() error {
		ok, err := repaired("work-0", old)
		if err != nil || !ok {
			return fmt.Errorf("work-0 not replaced yet (%v)", err)
		}
		return nil
	})
	var got mgmtv1.Cluster
	if err := c.Get(ctx, client.ObjectKey{Name: "repair"}, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Status.NodePools) != 1 || len(got.Status.NodePools[0].Repairs) != 1 || got.Status.NodePools[0].Repairs[0].Node != "work-0" {
		t.Fatalf("repairs in status: %+v", got.Status.NodePools)
	}
	framework.Eventually(t, framework.Medium, func() error {
		if ev := clusterEvents(t, "repair", "NodeRepair"); len(ev) != 1 || !strings.Contains(ev[0], "work-0") {
			return fmt.Errorf("NodeRepair events %q", ev)
		}
		return nil
	})

	// Five at once: the budget (3 per hour) has two repairs left.
	olds := map[string]types.UID{}
	failedAt := time.Now()
	for _, n := range []string{"work-1", "work-2", "work-3", "work-4", "work-5"} {
		olds[n] = failNodeSince(t, cs, n, failedAt)
	}
	var held []string
	framework.Eventually(t, framework.Long, func() error {
		var fixed []string
		held = held[:0]
		for n, uid := range olds {
			ok, err := repaired(n, uid)
			if err != nil {
				return err
			}
			if ok {
				fixed = append(fixed, n)
			} else if node, err := cs.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{}); err == nil && node.UID == uid {
				held = append(held, n)
				failNodeSince(t, cs, n, failedAt)
			}
		}
		if len(fixed) != 2 {
			return fmt.Errorf("replaced %v", fixed)
		}
		notes := strings.Join(clusterEvents(t, "repair", "RepairBudgetExhausted"), "\n")
		for _, n := range held {
			if !strings.Contains(notes, "node "+n+" ") {
				return fmt.Errorf("no budget event for %s in %q", n, notes)
			}
		}
		return nil
	})
	if err := c.Get(ctx, client.ObjectKey{Name: "repair"}, &got); err != nil {
		t.Fatal(err)
	}
	if r := got.Status.NodePools[0].Repairs; len(r) != 3 {
		t.Errorf("repairs in status: %+v", r)
	}
	// The held back nodes stay as they are: still the failed machines.
	for _, n := range held {
		node, err := cs.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
		if err != nil || node.UID != olds[n] {
			t.Errorf("%s was replaced beyond the budget: %v", n, err)
		}
	}
	if ev := clusterEvents(t, "repair", "NodeRepair"); len(ev) != 3 {
		t.Errorf("NodeRepair events on the Cluster: %q", ev)
	}
	notes, err := cs.CoreV1().Events(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.kind=Node,reason=NodeRepair"})
	if err != nil || len(notes.Items) != 3 {
		t.Errorf("node events: %v %d", err, len(notes.Items))
	}
}

func nodeIsReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
