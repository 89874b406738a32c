// Package mltask_test runs the MLTask controller and admission loop on a
// real cluster with simulated GPU nodes (kwok): Jobs, StatefulSets, pods
// and Services are real objects the real control plane schedules; only
// the containers are simulated.
package mltask_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	mlv1alpha1 "bokujo.io/bokujo/api/ml/v1alpha1"
	"bokujo.io/bokujo/api/ml/v1alpha1/crds"
	"bokujo.io/bokujo/internal/crdinstall"
	"bokujo.io/bokujo/internal/localcluster"
	"bokujo.io/bokujo/internal/mltask"
	"bokujo.io/bokujo/test/framework"
)

const (
	dev  = "dev"
	mgmt = "mgmt"
	// a100 is the product of the simulated GPU nodes.
	a100 = localcluster.DefaultGPUProduct
)

var env *framework.Env

func TestMain(m *testing.M) {
	log.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	framework.Main(m, &env,
		framework.ClusterSpec{Name: mgmt},
		// 4 nodes × 8 GPUs: every test's queues fit at once.
		framework.ClusterSpec{Name: dev, Nodes: localcluster.GPUNodes("gpu", 4, 8)},
	)
}

var installOnce sync.Once

// controller runs the mltask controllers against dev until stop is
// called or the test ends. Tests run one at a time, since the admission
// loop owns every queue of the cluster.
type controller struct {
	stop func()
	done chan struct{}
}

func startController(t *testing.T) *controller {
	t.Helper()
	cfg := env.RESTConfig(t, dev)
	var installErr error
	installOnce.Do(func() {
		list, err := crds.CRDs()
		if err != nil {
			installErr = err
			return
		}
		installErr = crdinstall.Install(context.Background(), cfg, list)
	})
	if installErr != nil {
		t.Fatal(installErr)
	}
	scheme := runtime.NewScheme()
	if err := mltask.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             ctrlconfig.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := mltask.Setup(mgr, mltask.Options{StatusInterval: 300 * time.Millisecond, FairShareHorizon: time.Minute}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &controller{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("controller manager: %v", err)
		}
	}()
	var once sync.Once
	c.stop = func() { once.Do(func() { cancel(); <-c.done }) }
	t.Cleanup(c.stop)
	return c
}

func mlClient(t *testing.T) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := mltask.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(env.RESTConfig(t, dev), client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// queues creates a GPUQueue named after the namespace with gpus A100s and
// a LocalQueue "default" bound to it in each namespace.
func queues(t *testing.T, c client.Client, name string, gpus int32, changes func(*mlv1alpha1.GPUQueue), namespaces ...string) *mlv1alpha1.GPUQueue {
	t.Helper()
	q := &mlv1alpha1.GPUQueue{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: mlv1alpha1.GPUQueueSpec{Quotas: []mlv1alpha1.GPUQuota{{Product: a100, GPUs: gpus}}}}
	if changes != nil {
		changes(q)
	}
	if err := c.Create(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), q) })
	for _, ns := range namespaces {
		lq := &mlv1alpha1.LocalQueue{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}, Spec: mlv1alpha1.LocalQueueSpec{GPUQueue: name}}
		if err := c.Create(context.Background(), lq); err != nil {
			t.Fatal(err)
		}
	}
	return q
}

func newTask(ns, name string, mode mlv1alpha1.MLTaskMode, workers, gpus int32, changes ...func(*mlv1alpha1.MLTask)) *mlv1alpha1.MLTask {
	t := &mlv1alpha1.MLTask{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: mlv1alpha1.MLTaskSpec{Mode: mode, Image: "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
			Command: []string{"torchrun", "train.py"}, Workers: workers, Resources: mlv1alpha1.WorkerResources{GPUs: gpus}},
	}
	for _, f := range changes {
		f(t)
	}
	return t
}

func create(t *testing.T, c client.Client, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := c.Create(context.Background(), o); err != nil {
			t.Fatalf("create %s: %v", o.GetName(), err)
		}
	}
}

func get(t *testing.T, c client.Client, ns, name string) *mlv1alpha1.MLTask {
	t.Helper()
	task := &mlv1alpha1.MLTask{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, task); err != nil {
		t.Fatalf("get MLTask %s: %v", name, err)
	}
	return task
}

// waitPhase waits for a task's phase.
func waitPhase(t *testing.T, c client.Client, ns, name string, phase mlv1alpha1.MLTaskPhase, timeout time.Duration) *mlv1alpha1.MLTask {
	t.Helper()
	var task *mlv1alpha1.MLTask
	framework.Eventually(t, timeout, func() error {
		task = &mlv1alpha1.MLTask{}
		if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, task); err != nil {
			return err
		}
		if task.Status.Phase != phase {
			return fmt.Errorf("task %s is %q (%s), want %s", name, task.Status.Phase, task.Status.Message, phase)
		}
		return nil
	})
	return task
}

// setState stops or starts an interactive task.
func setState(t *testing.T, c client.Client, ns, name string, state mlv1alpha1.MLTaskState) {
	t.Helper()
	task := get(t, c, ns, name)
	patch := client.MergeFrom(task.DeepCopy())
	task.Spec.State = state
	if err := c.Patch(context.Background(), task, patch); err != nil {
		t.Fatalf("set %s to %s: %v", name, state, err)
	}
}

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }
