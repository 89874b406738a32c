package quickstart

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mlv1alpha1 "bokujo.io/bokujo/api/ml/v1alpha1"
	"bokujo.io/bokujo/internal/localcluster"
)

const (
	// DemoGPUQueue is the GPUQueue `bokujo up` shares a demo cluster's
	// GPUs with, and DemoLocalQueue the LocalQueue of the default
	// namespace drawing from it: a task with `queue: default` in the
	// default namespace runs at once.
	DemoGPUQueue   = "demo"
	DemoLocalQueue = "default"
)

// demoQueues are the GPU queues of a demo cluster: one GPUQueue holding
// every simulated GPU, by product, and a LocalQueue in the default
// namespace. Nil for a cluster without GPUs.
func demoQueues(nodes []localcluster.NodeSpec) []client.Object {
	gpus := map[string]int32{}
	for _, n := range nodes {
		if n.GPUs > 0 {
			p := n.GPUProduct
			if p == "" {
				p = localcluster.DefaultGPUProduct
			}
			gpus[p] += int32(n.GPUs)
		}
	}
	if len(gpus) == 0 {
		return nil
	}
	gq := &mlv1alpha1.GPUQueue{ObjectMeta: metav1.ObjectMeta{Name: DemoGPUQueue}}
	for _, p := range slices.Sorted(maps.Keys(gpus)) {
		gq.Spec.Quotas = append(gq.Spec.Quotas, mlv1alpha1.GPUQuota{Product: p, GPUs: gpus[p]})
	}
	lq := &mlv1alpha1.LocalQueue{
		ObjectMeta: metav1.ObjectMeta{Name: DemoLocalQueue, Namespace: "default"},
		Spec:       mlv1alpha1.LocalQueueSpec{GPUQueue: DemoGPUQueue, Weight: 1},
	}
	return []client.Object{gq, lq}
}

// seedDemoQueues creates the demo GPU queues of a cluster once bokujo has
// installed the ml.bokujo.io API there. Existing queues are left as they
// are (an administrator may have changed them), so a restart changes
// nothing. It gives up, with a warning, when ctx ends or after timeout.
func seedDemoQueues(ctx context.Context, cfg *rest.Config, name string, nodes []localcluster.NodeSpec, timeout time.Duration, log *slog.Logger) error {
	objs := demoQueues(nodes)
	if len(objs) == 0 {
		return nil
	}
	scheme := runtime.NewScheme()
	if err := mlv1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, o := range objs {
		for {
			err := c.Create(ctx, o)
			if err == nil || apierrors.IsAlreadyExists(err) {
				break
			}
			// The API appears once the fleet runner has installed the
			// CRDs in the new cluster.
			select {
			case <-ctx.Done():
				return fmt.Errorf("demo GPU queue %s/%s in cluster %s: %w (last error: %v)", o.GetNamespace(), o.GetName(), name, ctx.Err(), err)
			case <-time.After(time.Second):
			}
		}
	}
	log.Info("demo GPU queues ready", "cluster", name, "gpuQueue", DemoGPUQueue, "localQueue", "default/"+DemoLocalQueue)
	return nil
}
