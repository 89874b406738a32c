package mltask

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	mlv1alpha1 "bokujo.io/bokujo/api/ml/v1alpha1"
)

func testTask() *mlv1alpha1.MLTask {
	return &mlv1alpha1.MLTask{
		ObjectMeta: metav1.ObjectMeta{Name: "bert", Namespace: "team-a", UID: "u1"},
		Spec: mlv1alpha1.MLTaskSpec{
			Mode: mlv1alpha1.ModeTraining, Image: "img", Workers: 3, Retries: 2,
			Resources:  mlv1alpha1.WorkerResources{GPUs: 4, CPU: ptr.To(resource.MustParse("8"))},
			Env:        []mlv1alpha1.EnvVar{{Name: "LR", Value: "0.1"}},
			MaxRuntime: &metav1.Duration{Duration: 90 * 60 * 1e9},
		},
	}
}

func TestJobFollowsAdmission(t *testing.T) {
	r := &taskReconciler{opts: Options{}.withDefaults()}
	task := testTask()
	j := r.job(task)
	if !*j.Spec.Suspend || j.Spec.Template.Spec.NodeSelector != nil {
		t.Fatalf("unadmitted job: suspend %v selector %v", *j.Spec.Suspend, j.Spec.Template.Spec.NodeSelector)
	}
	if *j.Spec.Completions != 3 || *j.Spec.Parallelism != 3 || *j.Spec.BackoffLimit != 2 || *j.Spec.ActiveDeadlineSeconds != 5400 {
		t.Fatalf("job spec %+v", j.Spec)
	}
	if j.OwnerReferences[0].UID != "u1" || !*j.OwnerReferences[0].Controller {
		t.Fatalf("owner %+v", j.OwnerReferences)
	}
	task.Status.Admission = &mlv1alpha1.Admission{GPUQueue: "q", GPUProduct: "H100"}
	j = r.job(task)
	if *j.Spec.Suspend || j.Spec.Template.Spec.NodeSelector[GPUProductLabel] != "H100" {
		t.Fatalf("admitted job: suspend %v selector %v", *j.Spec.Suspend, j.Spec.Template.Spec.NodeSelector)
	}
	c := j.Spec.Template.Spec.Containers[0]
	if q := c.Resources.Limits[GPUResource]; q.Value() != 4 {
		t.Fatalf("GPU limit %s", q.String())
	}
	env := map[string]corev1.EnvVar{}
	for i, e := range c.Env {
		env[e.Name] = e
		if e.Name == "LR" && i != 0 {
			t.Errorf("user variables come first, LR is at %d", i)
		}
	}
	if env["MASTER_ADDR"].Value != "bert-0.bert.team-a.svc" || env["WORLD_SIZE"].Value != "3" || env["PET_NPROC_PER_NODE"].Value != "4" {
		t.Fatalf("env %+v", env)
	}
	if j.Spec.Template.Spec.Subdomain != "bert" || *j.Spec.Template.Spec.AutomountServiceAccountToken {
		t.Fatal("pods are not in the task's Service domain or mount a token")
	}
}

func TestStatefulSetReplicas(t *testing.T) {
	r := &taskReconciler{opts: Options{}.withDefaults()}
	task := testTask()
	task.Spec.Mode = mlv1alpha1.ModeInteractive
	if n := *r.statefulSet(task).Spec.Replicas; n != 0 {
		t.Fatalf("queued: %d replicas", n)
	}
	task.Status.Admission = &mlv1alpha1.Admission{GPUQueue: "q"}
	if n := *r.statefulSet(task).Spec.Replicas; n != 3 {
		t.Fatalf("admitted: %d replicas", n)
	}
	task.Spec.State = mlv1alpha1.StateStopped
	if n := *r.statefulSet(task).Spec.Replicas; n != 0 {
		t.Fatalf("stopped: %d replicas", n)
	}
	rank := r.statefulSet(task).Spec.Template.Spec.Containers[0].Env
	for _, e := range rank {
		if e.Name == "RANK" && e.ValueFrom.FieldRef.FieldPath != "metadata.labels['apps.kubernetes.io/pod-index']" {
			t.Fatalf("RANK from %s", e.ValueFrom.FieldRef.FieldPath)
		}
	}
}

func TestDatasetURIFetcher(t *testing.T) {
	r := &taskReconciler{opts: Options{}.withDefaults()}
	task := testTask()
	task.Spec.Dataset = &mlv1alpha1.Dataset{URI: "s3://bucket/set", FetcherImage: "my/fetcher:1"}
	task.Spec.Output = &mlv1alpha1.Output{URI: "s3://bucket/out"}
	spec := r.job(task).Spec.Template.Spec
	if len(spec.InitContainers) != 2 || spec.InitContainers[0].Image != "my/fetcher:1" || spec.InitContainers[0].Args != nil {
		t.Fatalf("init containers %+v", spec.InitContainers)
	}
	up := spec.InitContainers[1]
	if up.RestartPolicy == nil || *up.RestartPolicy != corev1.ContainerRestartPolicyAlways || up.Image != defaultFetcherImage {
		t.Fatalf("uploader is not a native sidecar: %+v", up)
	}
}

func TestPositionNews(t *testing.T) {
	for _, tc := range []struct {
		old, cur int32
		want     bool
	}{
		{5, 5, false}, {5, 4, true}, {11, 10, true}, {100, 95, false}, {100, 90, true}, {4000, 3700, false}, {4000, 3600, true}, {20, 30, true},
	} {
		if got := positionNews(tc.old, tc.cur); got != tc.want {
			t.Errorf("positionNews(%d, %d) = %t", tc.old, tc.cur, got)
		}
	}
}
