package mltask_test

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mlv1alpha1 "bokujo.io/bokujo/api/ml/v1alpha1"
	"bokujo.io/bokujo/internal/app"
	"bokujo.io/bokujo/internal/fleet"
	"bokujo.io/bokujo/internal/mltask"
	"bokujo.io/bokujo/test/framework"
	"bokujo.io/bokujo/test/framework/testserver"
)

// TestRunsThroughTheFleet: with mltask.Component among the server's
// components, importing a cluster is all it takes: the fleet runner
// installs the CRDs and runs the controllers there with bokujo's
// management identity, whose rights suffice to admit and run a task.
func TestRunsThroughTheFleet(t *testing.T) {
	ctx := context.Background()
	srv := testserver.Start(t, env.RESTConfig(t, mgmt), func(o *app.Options) {
		o.Components = []fleet.Component{mltask.Component(mltask.Options{})}
	})
	importDev(t, srv, "dev-fleet")
	ns := env.Namespace(t, dev)
	// The CRDs arrive with the runner; the first client may be made
	// before they exist, so each try makes a fresh one.
	var c client.Client
	framework.Eventually(t, framework.Medium, func() error {
		c = mlClient(t)
		q := &mlv1alpha1.GPUQueue{ObjectMeta: metav1.ObjectMeta{Name: ns},
			Spec: mlv1alpha1.GPUQueueSpec{Quotas: []mlv1alpha1.GPUQuota{{Product: a100, GPUs: 8}}}}
		if err := c.Create(ctx, q); err != nil {
			return err
		}
		t.Cleanup(func() { _ = c.Delete(context.Background(), q) })
		return nil
	})
	create(t, c, &mlv1alpha1.LocalQueue{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}, Spec: mlv1alpha1.LocalQueueSpec{GPUQueue: ns}})
	create(t, c, newTask(ns, "via-fleet", mlv1alpha1.ModeTraining, 2, 2))
	done := waitPhase(t, c, ns, "via-fleet", mlv1alpha1.PhaseSucceeded, framework.Medium)
	if done.Status.Admission == nil || done.Status.Admission.GPUProduct != a100 {
		t.Fatalf("admission %+v", done.Status.Admission)
	}
}
