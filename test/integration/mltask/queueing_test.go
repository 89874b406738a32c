package mltask_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mlv1alpha1 "bokujo.io/bokujo/api/ml/v1alpha1"
	"bokujo.io/bokujo/test/framework"
)

// admittedGPUs sums the GPUs of admitted, unfinished tasks per namespace.
func admittedGPUs(t *testing.T, c client.Client, namespaces ...string) map[string]int32 {
	t.Helper()
	out := map[string]int32{}
	for _, ns := range namespaces {
		var list mlv1alpha1.MLTaskList
		if err := c.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for _, task := range list.Items {
			if task.Status.Admission != nil && !task.Finished() && task.Spec.State != mlv1alpha1.StateStopped {
				out[ns] += task.TotalGPUs()
			}
		}
	}
	return out
}

func admittedNames(t *testing.T, c client.Client, ns string) []string {
	t.Helper()
	var list mlv1alpha1.MLTaskList
	if err := c.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, task := range list.Items {
		if task.Status.Admission != nil && task.Spec.State != mlv1alpha1.StateStopped {
			out = append(out, task.Name)
		}
	}
	return out
}

// TestFairShareOnRealCluster: two projects of equal weight queue ten
// 2-GPU interactive tasks each on 8 GPUs; every round (the admitted tasks
// stopped, making room) each project holds half the GPUs. Interactive
// tasks hold their GPUs until stopped, which lets the test end each round
// (simulated Job pods finish at once). The fairness of GPU-time over many
// mixed tasks is simulated in internal/gpuqueue.
func TestFairShareOnRealCluster(t *testing.T) {
	startController(t)
	c := mlClient(t)
	a, b := env.Namespace(t, dev), env.Namespace(t, dev)
	queues(t, c, a, 8, nil, a, b)
	for i := range 10 {
		for _, ns := range []string{a, b} {
			create(t, c, newTask(ns, fmt.Sprintf("t%02d", i), mlv1alpha1.ModeInteractive, 1, 2))
		}
	}
	for round := range 5 {
		var names map[string][]string
		framework.Eventually(t, framework.Medium, func() error {
			got := admittedGPUs(t, c, a, b)
			if got[a]+got[b] > 8 {
				t.Fatalf("round %d: %v GPUs admitted on a quota of 8", round, got)
			}
			if got[a] != 4 || got[b] != 4 {
				return fmt.Errorf("round %d: admitted GPUs %v, want 4 each", round, got)
			}
			names = map[string][]string{a: admittedNames(t, c, a), b: admittedNames(t, c, b)}
			return nil
		})
		// FIFO within each project: round r runs tasks 2r and 2r+1.
		for _, ns := range []string{a, b} {
			want := fmt.Sprintf("[t%02d t%02d]", 2*round, 2*round+1)
			if got := fmt.Sprint(names[ns]); got != want {
				t.Fatalf("round %d, %s: admitted %s, want %s", round, ns, got, want)
			}
			for _, n := range names[ns] {
				setState(t, c, ns, n, mlv1alpha1.StateStopped)
			}
		}
	}
}

// TestPriorityOvertakes: with the queue full, a high-priority task
// submitted last waits at position 1 and runs next.
func TestPriorityOvertakes(t *testing.T) {
	startController(t)
	c := mlClient(t)
	ns := env.Namespace(t, dev)
	queues(t, c, ns, 4, nil, ns)
	create(t, c, newTask(ns, "running", mlv1alpha1.ModeInteractive, 1, 4))
	waitPhase(t, c, ns, "running", mlv1alpha1.PhaseRunning, framework.Medium)
	for _, n := range []string{"low-1", "low-2"} {
		create(t, c, newTask(ns, n, mlv1alpha1.ModeInteractive, 1, 4))
	}
	create(t, c, newTask(ns, "urgent", mlv1alpha1.ModeInteractive, 1, 4, func(t *mlv1alpha1.MLTask) { t.Spec.Priority = 100 }))
	framework.Eventually(t, framework.Medium, func() error {
		for name, want := range map[string]int32{"urgent": 1, "low-1": 2, "low-2": 3} {
			q := get(t, c, ns, name).Status.Queue
			if q == nil || q.Position != want {
				return fmt.Errorf("%s at %+v, want position %d", name, q, want)
			}
		}
		// The task's message follows its queue status in a write of its
		// own, a moment later.
		if urgent := get(t, c, ns, "urgent"); urgent.Status.Phase != mlv1alpha1.PhaseQueued || !strings.Contains(urgent.Status.Message, "waiting for 4 GPUs") {
			return fmt.Errorf("urgent: %s %q, want Queued waiting for 4 GPUs", urgent.Status.Phase, urgent.Status.Message)
		}
		return nil
	})
	setState(t, c, ns, "running", mlv1alpha1.StateStopped)
	waitPhase(t, c, ns, "urgent", mlv1alpha1.PhaseRunning, framework.Medium)
	if p := get(t, c, ns, "low-1").Status.Phase; p != mlv1alpha1.PhaseQueued {
		t.Fatalf("low-1 is %s", p)
	}
}

// TestGangAdmission: a 4×2-GPU task waits whole while 6 GPUs are free —
// its Job stays suspended without pods — and all 4 workers start together
// once 8 are.
func TestGangAdmission(t *testing.T) {
	startController(t)
	c := mlClient(t)
	kube := env.Client(t, dev)
	ctx := context.Background()
	ns := env.Namespace(t, dev)
	queues(t, c, ns, 8, nil, ns)
	create(t, c, newTask(ns, "holder", mlv1alpha1.ModeInteractive, 1, 2))
	waitPhase(t, c, ns, "holder", mlv1alpha1.PhaseRunning, framework.Medium)
	create(t, c, newTask(ns, "gang", mlv1alpha1.ModeTraining, 4, 2))
	framework.Eventually(t, framework.Medium, func() error {
		task := get(t, c, ns, "gang")
		if task.Status.Queue == nil || task.Status.Queue.Reason != mlv1alpha1.ReasonWaitingForQuota {
			return fmt.Errorf("gang queue status %+v", task.Status.Queue)
		}
		job, err := kube.BatchV1().Jobs(ns).Get(ctx, "gang", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !ptr.Deref(job.Spec.Suspend, false) {
			t.Fatal("the Job of a waiting gang is not suspended")
		}
		return nil
	})
	pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "ml.bokujo.io/task=gang"})
	if err != nil || len(pods.Items) != 0 {
		t.Fatalf("a waiting gang has %d pods (%v)", len(pods.Items), err)
	}
	setState(t, c, ns, "holder", mlv1alpha1.StateStopped)
	done := waitPhase(t, c, ns, "gang", mlv1alpha1.PhaseSucceeded, framework.Medium)
	if done.Status.Admission == nil {
		t.Fatal("no admission recorded")
	}
	pods, err = kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "ml.bokujo.io/task=gang"})
	if err != nil || len(pods.Items) != 4 {
		t.Fatalf("gang ran %d pods (%v), want 4", len(pods.Items), err)
	}
}

// TestQuotaChangeWithoutRestart: a task larger than its queue is
// Inadmissible; raising the quota admits it with the same controller.
func TestQuotaChangeWithoutRestart(t *testing.T) {
	startController(t)
	c := mlClient(t)
	ns := env.Namespace(t, dev)
	q := queues(t, c, ns, 2, nil, ns)
	create(t, c, newTask(ns, "big", mlv1alpha1.ModeInteractive, 2, 2))
	framework.Eventually(t, framework.Medium, func() error {
		task := get(t, c, ns, "big")
		cond := findCond(task, mlv1alpha1.ConditionInadmissible)
		if cond == nil || cond.Status != metav1.ConditionTrue || cond.Reason != mlv1alpha1.ReasonExceedsQuota {
			return fmt.Errorf("inadmissible condition %+v", cond)
		}
		if !strings.Contains(cond.Message, "needs 4 GPUs at once (2 workers × 2)") || !strings.Contains(cond.Message, "at most 2") {
			return fmt.Errorf("message %q", cond.Message)
		}
		return nil
	})
	patch := client.MergeFrom(q.DeepCopy())
	q.Spec.Quotas[0].GPUs = 4
	if err := c.Patch(context.Background(), q, patch); err != nil {
		t.Fatal(err)
	}
	task := waitPhase(t, c, ns, "big", mlv1alpha1.PhaseRunning, framework.Medium)
	if cond := findCond(task, mlv1alpha1.ConditionInadmissible); cond.Status != metav1.ConditionFalse {
		t.Fatalf("still inadmissible: %+v", cond)
	}
	framework.Eventually(t, framework.Short, func() error {
		gq := &mlv1alpha1.GPUQueue{}
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(q), gq); err != nil {
			return err
		}
		if len(gq.Status.Usage) != 1 || gq.Status.Usage[0].GPUs != 4 || gq.Status.AdmittedTasks != 1 {
			return fmt.Errorf("GPUQueue status %+v", gq.Status)
		}
		return nil
	})
}

// TestBorrowAndPreempt: queues of one cohort lend idle GPUs; a
// higher-priority task of the lender takes them back from the newest
// borrower, whose StatefulSet scales to zero and who waits Queued.
func TestBorrowAndPreempt(t *testing.T) {
	startController(t)
	c := mlClient(t)
	kube := env.Client(t, dev)
	lender, borrower := env.Namespace(t, dev), env.Namespace(t, dev)
	cohort := "lab-" + lender[strings.LastIndex(lender, "-")+1:]
	queues(t, c, lender, 4, func(q *mlv1alpha1.GPUQueue) {
		q.Spec.Cohort = cohort
		q.Spec.Preemption = mlv1alpha1.PreemptLowerPriority
	}, lender)
	queues(t, c, borrower, 4, func(q *mlv1alpha1.GPUQueue) { q.Spec.Cohort = cohort }, borrower)
	create(t, c, newTask(borrower, "own", mlv1alpha1.ModeInteractive, 2, 2))
	waitPhase(t, c, borrower, "own", mlv1alpha1.PhaseRunning, framework.Medium)
	create(t, c, newTask(borrower, "borrowed", mlv1alpha1.ModeInteractive, 2, 2))
	task := waitPhase(t, c, borrower, "borrowed", mlv1alpha1.PhaseRunning, framework.Medium)
	if task.Status.Admission.Borrowed != 4 {
		t.Fatalf("borrowed %d GPUs, want 4", task.Status.Admission.Borrowed)
	}
	create(t, c, newTask(lender, "urgent", mlv1alpha1.ModeInteractive, 1, 4, func(t *mlv1alpha1.MLTask) { t.Spec.Priority = 10 }))
	waitPhase(t, c, lender, "urgent", mlv1alpha1.PhaseRunning, framework.Medium)
	evicted := waitPhase(t, c, borrower, "borrowed", mlv1alpha1.PhaseQueued, framework.Short)
	if cond := findCond(evicted, mlv1alpha1.ConditionAdmitted); cond == nil || cond.Reason != mlv1alpha1.ReasonPreempted || !strings.Contains(cond.Message, "reclaimed") {
		t.Fatalf("admitted condition of the evicted task %+v", cond)
	}
	framework.Eventually(t, framework.Medium, func() error {
		sts, err := kube.AppsV1().StatefulSets(borrower).Get(context.Background(), "borrowed", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if *sts.Spec.Replicas != 0 || sts.Status.Replicas != 0 {
			return fmt.Errorf("evicted StatefulSet: %d wanted, %d running", *sts.Spec.Replicas, sts.Status.Replicas)
		}
		return nil
	})
	if p := get(t, c, borrower, "own").Status.Phase; p != mlv1alpha1.PhaseRunning {
		t.Fatalf("the task within its own quota was touched: %s", p)
	}
}

// TestBadInput: what the schema refuses never reaches the controller;
// what only the controller can know (an unknown queue) is Inadmissible at
// once with a message and a Warning event.
func TestBadInput(t *testing.T) {
	startController(t)
	c := mlClient(t)
	ns := env.Namespace(t, dev)
	ctx := context.Background()
	for name, tc := range map[string]struct {
		change func(*mlv1alpha1.MLTask)
		want   string
	}{
		"missing image":    {func(t *mlv1alpha1.MLTask) { t.Spec.Image = "" }, "spec.image"},
		"workers negative": {func(t *mlv1alpha1.MLTask) { t.Spec.Workers = -1 }, "spec.workers"},
		"negative gpus":    {func(t *mlv1alpha1.MLTask) { t.Spec.Resources.GPUs = -1 }, "spec.resources.gpus"},
		"file dataset":     {func(t *mlv1alpha1.MLTask) { t.Spec.Dataset = &mlv1alpha1.Dataset{URI: "file:///etc/shadow"} }, "file:// and other schemes are refused"},
		"metadata server":  {func(t *mlv1alpha1.MLTask) { t.Spec.Dataset = &mlv1alpha1.Dataset{URI: "http://169.254.169.254/latest"} }, "internal address"},
		"cluster service": {func(t *mlv1alpha1.MLTask) {
			t.Spec.Dataset = &mlv1alpha1.Dataset{URI: "http://kubernetes.default.svc.cluster.local/api"}
		}, "internal name"},
		"loopback output": {func(t *mlv1alpha1.MLTask) { t.Spec.Output = &mlv1alpha1.Output{URI: "https://127.0.0.1/out"} }, "internal address"},
	} {
		err := c.Create(ctx, newTask(ns, "bad", mlv1alpha1.ModeTraining, 1, 1, tc.change))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error about %q", name, err, tc.want)
		}
	}
	// Workers 0 in Go is "unset" and defaults to 1; sent literally it is
	// refused by the minimum.
	raw := []byte(`{"apiVersion":"ml.bokujo.io/v1alpha1","kind":"MLTask","metadata":{"name":"zero","namespace":"` + ns + `"},"spec":{"image":"x","workers":0}}`)
	res := env.Client(t, dev).CoreV1().RESTClient().Post().AbsPath("/apis/ml.bokujo.io/v1alpha1/namespaces/" + ns + "/mltasks").Body(raw).Do(ctx)
	if err := res.Error(); err == nil || !strings.Contains(err.Error(), "spec.workers") {
		t.Errorf("workers 0: %v", err)
	}

	create(t, c, newTask(ns, "lost", mlv1alpha1.ModeTraining, 1, 1, func(t *mlv1alpha1.MLTask) { t.Spec.Queue = "nope" }))
	framework.Eventually(t, framework.Short, func() error {
		task := get(t, c, ns, "lost")
		cond := findCond(task, mlv1alpha1.ConditionInadmissible)
		if cond == nil || cond.Status != metav1.ConditionTrue || cond.Reason != mlv1alpha1.ReasonLocalQueueMissing ||
			!strings.Contains(cond.Message, `LocalQueue "nope" does not exist`) {
			return fmt.Errorf("condition %+v", cond)
		}
		if task.Status.Phase != mlv1alpha1.PhaseQueued || task.Status.Message != cond.Message {
			return fmt.Errorf("phase %s message %q", task.Status.Phase, task.Status.Message)
		}
		events, err := env.Client(t, dev).EventsV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.Regarding.Name == "lost" && e.Reason == "Inadmissible" && e.Type == "Warning" {
				return nil
			}
		}
		return fmt.Errorf("no Inadmissible event")
	})
}
