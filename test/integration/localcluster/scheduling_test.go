package localcluster_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"bokujo.io/bokujo/internal/localcluster"
	"bokujo.io/bokujo/test/framework"
)

func TestGPUNodesAreReadyWithCapacity(t *testing.T) {
	client := env.Client(t, "dev")
	nodes, err := client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != 2 {
		t.Fatalf("dev has %d nodes, want 2", len(nodes.Items))
	}
	for _, n := range nodes.Items {
		gpus := n.Status.Capacity[localcluster.GPUResource]
		if gpus.Value() != 8 {
			t.Errorf("node %s advertises %s nvidia.com/gpu, want 8", n.Name, gpus.String())
		}
		if got := n.Labels[localcluster.GPUProductLabel]; got != localcluster.DefaultGPUProduct {
			t.Errorf("node %s gpu product label = %q", n.Name, got)
		}
		if !ready(n) {
			t.Errorf("node %s is not Ready", n.Name)
		}
	}
}

func TestGPUDeploymentReachesRunning(t *testing.T) {
	client := env.Client(t, "dev")
	ns := env.Namespace(t, "dev")
	dep := gpuDeployment("train", 3, 1)
	if _, err := client.AppsV1().Deployments(ns).Create(context.Background(), dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, framework.Medium, func() error {
		return runningPods(client, ns, "app=train", 3)
	})
	pods, _ := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=train"})
	for _, p := range pods.Items {
		if !strings.HasPrefix(p.Spec.NodeName, "dev-gpu-") {
			t.Errorf("pod %s scheduled on %q, want a GPU node", p.Name, p.Spec.NodeName)
		}
	}
}

func TestGPUOverRequestStaysPending(t *testing.T) {
	client := env.Client(t, "dev")
	ns := env.Namespace(t, "dev")
	// 9 GPUs per pod: no node has that many.
	if _, err := client.AppsV1().Deployments(ns).Create(context.Background(), gpuDeployment("huge", 1, 9), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, framework.Medium, func() error {
		evs, err := client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: "reason=FailedScheduling"})
		if err != nil {
			return err
		}
		for _, e := range evs.Items {
			if strings.Contains(e.Message, "Insufficient nvidia.com/gpu") {
				return nil
			}
		}
		return fmt.Errorf("no FailedScheduling event naming nvidia.com/gpu yet (%d events)", len(evs.Items))
	})
}

func TestJobPodsComplete(t *testing.T) {
	client := env.Client(t, "dev")
	ns := env.Namespace(t, "dev")
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "batch"},
		Spec: batchv1.JobSpec{
			Completions: ptr.To[int32](3),
			Parallelism: ptr.To[int32](3),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "work", Image: "busybox"}},
			}},
		},
	}
	if _, err := client.BatchV1().Jobs(ns).Create(context.Background(), job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, framework.Medium, func() error {
		j, err := client.BatchV1().Jobs(ns).Get(context.Background(), "batch", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range j.Status.Conditions {
			if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
				if j.Status.Succeeded != 3 {
					return fmt.Errorf("job complete with %d succeeded, want 3", j.Status.Succeeded)
				}
				return nil
			}
		}
		return fmt.Errorf("job not complete: succeeded=%d active=%d", j.Status.Succeeded, j.Status.Active)
	})
}

func TestClustersSideBySideAreIndependent(t *testing.T) {
	dev, prod := env.Cluster(t, "dev"), env.Cluster(t, "prod")
	if dev.URL() == prod.URL() {
		t.Fatalf("both clusters serve at %s", dev.URL())
	}
	ns := env.Namespace(t, "dev")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "only-in-dev"}}
	if _, err := dev.Client().CoreV1().ConfigMaps(ns).Create(context.Background(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := prod.Client().CoreV1().ConfigMaps(ns).Get(context.Background(), "only-in-dev", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("prod sees dev's object: err=%v", err)
	}
	nodes, err := prod.Client().CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != 3 {
		t.Fatalf("prod has %d nodes, want 3", len(nodes.Items))
	}
	for _, n := range nodes.Items {
		if q, ok := n.Status.Capacity[localcluster.GPUResource]; ok && !q.IsZero() {
			t.Errorf("prod node %s advertises GPUs", n.Name)
		}
	}
}

func gpuDeployment(name string, replicas int32, gpus int64) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	var limits corev1.ResourceList
	if gpus > 0 {
		limits = corev1.ResourceList{localcluster.GPUResource: *resource.NewQuantity(gpus, resource.DecimalSI)}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "main", Image: "pytorch/pytorch:latest",
					Resources: corev1.ResourceRequirements{Limits: limits},
				}}},
			},
		},
	}
}

func runningPods(client kubernetes.Interface, ns, selector string, want int) error {
	pods, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return err
	}
	running := 0
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning {
			running++
		}
	}
	if running != want {
		return fmt.Errorf("%d of %d pods Running, want %d", running, len(pods.Items), want)
	}
	return nil
}

func ready(n corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
