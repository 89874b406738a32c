package mltask_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mlv1alpha1 "bokujo.io/bokujo/api/ml/v1alpha1"
	"bokujo.io/bokujo/internal/mltask"
	"bokujo.io/bokujo/test/framework"
)

func envOf(c corev1.Container) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		m[e.Name] = e
	}
	return m
}

// TestTrainingFourWorkers: a 4-worker task with 2 GPUs each is admitted,
// its 4 pods land on GPU nodes with the distributed environment, it
// succeeds, and deleting it removes the Job, pods and Service.
func TestTrainingFourWorkers(t *testing.T) {
	startController(t)
	c := mlClient(t)
	ns := env.Namespace(t, dev)
	kube := env.Client(t, dev)
	ctx := context.Background()
	queues(t, c, ns, 16, nil, ns)
	task := newTask(ns, "resnet", mlv1alpha1.ModeTraining, 4, 2, func(t *mlv1alpha1.MLTask) {
		t.Spec.Env = []mlv1alpha1.EnvVar{{Name: "EPOCHS", Value: "3"}}
	})
	create(t, c, task)

	done := waitPhase(t, c, ns, "resnet", mlv1alpha1.PhaseSucceeded, framework.Medium)
	if done.Status.Admission == nil || done.Status.Admission.GPUQueue != ns || done.Status.Admission.GPUProduct != a100 {
		t.Fatalf("admission %+v", done.Status.Admission)
	}
	if done.Status.GPUs != 8 || done.Status.CompletionTime == nil || done.Status.StartTime == nil {
		t.Fatalf("status %+v", done.Status)
	}
	for _, typ := range []string{mlv1alpha1.ConditionAdmitted, mlv1alpha1.ConditionFinished} {
		if c := findCond(done, typ); c == nil || c.Status != metav1.ConditionTrue {
			t.Errorf("condition %s: %+v", typ, c)
		}
	}

	job, err := kube.BatchV1().Jobs(ns).Get(ctx, "resnet", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *job.Spec.Completions != 4 || *job.Spec.Parallelism != 4 || *job.Spec.CompletionMode != batchv1.IndexedCompletion {
		t.Errorf("job spec: completions %d parallelism %d mode %s", *job.Spec.Completions, *job.Spec.Parallelism, *job.Spec.CompletionMode)
	}
	if !metav1.IsControlledBy(job, done) {
		t.Error("the Job is not owned by the task")
	}
	svc, err := kube.CoreV1().Services(ns).Get(ctx, "resnet", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone || !svc.Spec.PublishNotReadyAddresses || svc.Spec.Selector[mltask.LabelTask] != "resnet" {
		t.Errorf("service %+v", svc.Spec)
	}

	pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: mltask.LabelTask + "=resnet"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 4 {
		t.Fatalf("%d pods, want 4", len(pods.Items))
	}
	master := "resnet-0.resnet." + ns + ".svc"
	var ranks []string
	hosts := map[string]bool{}
	for _, p := range pods.Items {
		node, err := kube.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("pod %s on node %q: %v", p.Name, p.Spec.NodeName, err)
		}
		if node.Labels["nvidia.com/gpu.product"] != a100 || p.Spec.NodeSelector["nvidia.com/gpu.product"] != a100 {
			t.Errorf("pod %s: node %s labels %v, selector %v", p.Name, node.Name, node.Labels, p.Spec.NodeSelector)
		}
		if p.Status.Phase != corev1.PodSucceeded {
			t.Errorf("pod %s is %s", p.Name, p.Status.Phase)
		}
		w := p.Spec.Containers[0]
		if q := w.Resources.Limits["nvidia.com/gpu"]; q.Value() != 2 {
			t.Errorf("pod %s: GPU limit %s", p.Name, q.String())
		}
		e := envOf(w)
		index := p.Annotations["batch.kubernetes.io/job-completion-index"]
		ranks = append(ranks, index)
		// The host name the Job gives worker i, in the Service's domain,
		// is what MASTER_ADDR names for worker 0.
		hosts[p.Spec.Hostname+"."+p.Spec.Subdomain+"."+ns+".svc"] = true
		for name, want := range map[string]string{
			"MASTER_ADDR": master, "PET_MASTER_ADDR": master, "MASTER_PORT": "29500", "PET_MASTER_PORT": "29500",
			"WORLD_SIZE": "4", "PET_NNODES": "4", "PET_NPROC_PER_NODE": "2", "EPOCHS": "3",
		} {
			if e[name].Value != want {
				t.Errorf("pod %s: %s=%q, want %q", p.Name, name, e[name].Value, want)
			}
		}
		for _, name := range []string{"RANK", "NODE_RANK", "PET_NODE_RANK"} {
			ref := e[name].ValueFrom
			if ref == nil || ref.FieldRef == nil || ref.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
				t.Errorf("pod %s: %s not taken from the completion index: %+v", p.Name, name, e[name])
			}
		}
	}
	slices.Sort(ranks)
	if !slices.Equal(ranks, []string{"0", "1", "2", "3"}) {
		t.Errorf("ranks %v", ranks)
	}
	if !hosts[master] {
		t.Errorf("no worker answers to %s: %v", master, hosts)
	}

	// Deleting the task removes everything it made.
	if err := c.Delete(ctx, done, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, framework.Medium, func() error {
		if _, err := kube.BatchV1().Jobs(ns).Get(ctx, "resnet", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("job still there: %v", err)
		}
		if _, err := kube.CoreV1().Services(ns).Get(ctx, "resnet", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("service still there: %v", err)
		}
		pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: mltask.LabelTask + "=resnet"})
		if err != nil || len(pods.Items) != 0 {
			return fmt.Errorf("%d pods left (%v)", len(pods.Items), err)
		}
		return nil
	})
}

func findCond(t *mlv1alpha1.MLTask, typ string) *metav1.Condition {
	for i := range t.Status.Conditions {
		if t.Status.Conditions[i].Type == typ {
			return &t.Status.Conditions[i]
		}
	}
	return nil
}

// TestTrainingVolumesAndTTL: dataset, output and scratch become volumes,
// a dataset URI an init container; a finished task with a TTL of 0 is
// deleted with its objects.
func TestTrainingVolumesAndTTL(t *testing.T) {
	startController(t)
	c := mlClient(t)
	ns := env.Namespace(t, dev)
	kube := env.Client(t, dev)
	ctx := context.Background()
	queues(t, c, ns, 8, nil, ns)
	keep := newTask(ns, "volumes", mlv1alpha1.ModeTraining, 1, 1, func(t *mlv1alpha1.MLTask) {
		t.Spec.Dataset = &mlv1alpha1.Dataset{URI: "https://data.example.com/imagenet.tar"}
		t.Spec.Output = &mlv1alpha1.Output{PVC: &mlv1alpha1.PVCSource{ClaimName: "results", SubPath: "run-1"}}
		t.Spec.Scratch = &mlv1alpha1.Scratch{Size: mustQuantity("10Gi"), Medium: mlv1alpha1.ScratchMemory}
	})
	create(t, c, keep)
	framework.Eventually(t, framework.Medium, func() error {
		job, err := kube.BatchV1().Jobs(ns).Get(ctx, "volumes", metav1.GetOptions{})
		if err != nil {
			return err
		}
		spec := job.Spec.Template.Spec
		if len(spec.InitContainers) != 1 || envOf(spec.InitContainers[0])["BOKUJO_DATASET_URI"].Value != "https://data.example.com/imagenet.tar" {
			return fmt.Errorf("fetcher: %+v", spec.InitContainers)
		}
		var got []string
		for _, m := range spec.Containers[0].VolumeMounts {
			got = append(got, fmt.Sprintf("%s:%s:%s:%t", m.Name, m.MountPath, m.SubPath, m.ReadOnly))
		}
		want := []string{"data:/data::true", "output:/output:run-1:false", "scratch:/scratch::false"}
		if !slices.Equal(got, want) {
			return fmt.Errorf("mounts %v, want %v", got, want)
		}
		for _, v := range spec.Volumes {
			if v.Name == "scratch" && (v.EmptyDir == nil || v.EmptyDir.Medium != corev1.StorageMediumMemory || v.EmptyDir.SizeLimit.String() != "10Gi") {
				return fmt.Errorf("scratch volume %+v", v)
			}
			if v.Name == "output" && (v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "results") {
				return fmt.Errorf("output volume %+v", v)
			}
		}
		return nil
	})

	ttl := newTask(ns, "short-lived", mlv1alpha1.ModeTraining, 2, 1, func(t *mlv1alpha1.MLTask) {
		t.Spec.TTLSecondsAfterFinished = new(int32)
	})
	create(t, c, ttl)
	framework.Eventually(t, framework.Medium, func() error {
		err := c.Get(ctx, client.ObjectKeyFromObject(ttl), &mlv1alpha1.MLTask{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("finished task with TTL 0 still there: %v", err)
		}
		return nil
	})
	events, err := kube.EventsV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, e := range events.Items {
		if e.Regarding.Name == "short-lived" {
			reasons = append(reasons, e.Reason)
		}
	}
	if !slices.Contains(reasons, "Admitted") || !slices.Contains(reasons, "Succeeded") {
		t.Errorf("events of short-lived: %v", strings.Join(reasons, ","))
	}
}
