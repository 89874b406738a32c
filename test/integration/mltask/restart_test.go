package mltask_test

import (
	"context"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	mlv1alpha1 "bokujo.io/bokujo/api/ml/v1alpha1"
	"bokujo.io/bokujo/test/framework"
)

// TestControllerRestart: the controller stops with tasks admitted and
// tasks waiting; a new one keeps every admission and Job (same UIDs),
// admits the rest as room frees, and never creates a second Job or goes
// over quota.
func TestControllerRestart(t *testing.T) {
	first := startController(t)
	c := mlClient(t)
	kube := env.Client(t, dev)
	ctx := context.Background()
	ns := env.Namespace(t, dev)
	queues(t, c, ns, 8, nil, ns)
	for i := range 8 {
		create(t, c, newTask(ns, fmt.Sprintf("w%d", i), mlv1alpha1.ModeInteractive, 2, 1))
	}
	framework.Eventually(t, framework.Medium, func() error {
		if n := len(admittedNames(t, c, ns)); n != 4 {
			return fmt.Errorf("%d admitted, want 4", n)
		}
		return nil
	})
	admittedBefore := admittedNames(t, c, ns)
	uids := map[string]types.UID{}
	for _, n := range admittedBefore {
		waitPhase(t, c, ns, n, mlv1alpha1.PhaseRunning, framework.Medium)
		sts, err := kube.AppsV1().StatefulSets(ns).Get(ctx, n, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		uids[n] = sts.UID
	}
	first.stop()

	// While no controller runs, two tasks are stopped by their users.
	setState(t, c, ns, admittedBefore[0], mlv1alpha1.StateStopped)
	setState(t, c, ns, admittedBefore[1], mlv1alpha1.StateStopped)
	startController(t)
	framework.Eventually(t, framework.Medium, func() error {
		now := admittedNames(t, c, ns)
		if len(now) != 4 {
			return fmt.Errorf("admitted %v, want 4", now)
		}
		for _, n := range admittedBefore[2:] {
			if p := get(t, c, ns, n).Status.Phase; p != mlv1alpha1.PhaseRunning {
				return fmt.Errorf("%s is %s", n, p)
			}
		}
		return nil
	})
	if got := admittedGPUs(t, c, ns)[ns]; got > 8 {
		t.Fatalf("%d GPUs admitted on 8", got)
	}
	for _, n := range admittedBefore[2:] {
		sts, err := kube.AppsV1().StatefulSets(ns).Get(ctx, n, metav1.GetOptions{})
		if err != nil || sts.UID != uids[n] {
			t.Fatalf("StatefulSet %s replaced across the restart (%v)", n, err)
		}
	}
	list, err := kube.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 8 {
		t.Fatalf("%d StatefulSets for 8 tasks (%v)", len(list.Items), err)
	}

	// Training tasks too: one Job per task, whatever restarts happen.
	for i := range 3 {
		create(t, c, newTask(ns, fmt.Sprintf("train%d", i), mlv1alpha1.ModeTraining, 2, 1))
	}
	for i := range 3 {
		waitPhase(t, c, ns, fmt.Sprintf("train%d", i), mlv1alpha1.PhaseQueued, framework.Medium)
	}
	for i := range 8 {
		if name := fmt.Sprintf("w%d", i); get(t, c, ns, name).Spec.State != mlv1alpha1.StateStopped {
			setState(t, c, ns, name, mlv1alpha1.StateStopped)
		}
	}
	for i := range 3 {
		waitPhase(t, c, ns, fmt.Sprintf("train%d", i), mlv1alpha1.PhaseSucceeded, framework.Medium)
	}
	jobs, err := kube.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(jobs.Items) != 3 {
		t.Fatalf("%d Jobs for 3 training tasks (%v)", len(jobs.Items), err)
	}
}
