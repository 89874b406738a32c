package release

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	deliveryv1 "bokujo.io/bokujo/api/delivery/v1alpha1"
)

func ptr[T any](v T) *T { return &v }

func TestCanaryWant(t *testing.T) {
	r := &Reconciler{}
	rel := &deliveryv1.Release{Spec: deliveryv1.ReleaseSpec{Strategy: deliveryv1.CanaryStrategy{Steps: []deliveryv1.CanaryStep{
		{}, {Weight: ptr(int32(10))}, {Weight: ptr(int32(33))}, {Weight: ptr(int32(100))},
	}}}}
	rel.Status.Steps = 4
	for _, tc := range []struct {
		replicas, step, want int32
	}{
		{10, 1, 1}, {10, 2, 1}, {10, 3, 4}, {10, 4, 10}, {10, 5, 10},
		{1, 1, 1}, {1, 3, 1}, {3, 2, 1}, {3, 3, 1}, {200, 2, 20},
	} {
		rel.Status.Replicas, rel.Status.Step = tc.replicas, tc.step
		if got := r.canaryWant(rel); got != tc.want {
			t.Errorf("%d replicas, step %d: %d canary pods, want %d", tc.replicas, tc.step, got, tc.want)
		}
	}
}

func deployment() *appsv1.Deployment {
	labels := map[string]string{"app": "web"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					InitContainers: []corev1.Container{{Name: "migrate", Image: "migrate:v1"}},
					Containers:     []corev1.Container{{Name: "web", Image: "web:v1"}, {Name: "proxy", Image: "envoy:1"}},
				},
			},
		},
	}
}

func TestCanaryTemplate(t *testing.T) {
	dep := deployment()
	rel := &deliveryv1.Release{Spec: deliveryv1.ReleaseSpec{Images: []deliveryv1.ContainerImage{{Container: "web", Image: "web:v2"}, {Container: "migrate", Image: "migrate:v2"}}}}
	tpl, err := canaryTemplate(rel, dep)
	if err != nil {
		t.Fatal(err)
	}
	if tpl.Spec.Containers[0].Image != "web:v2" || tpl.Spec.Containers[1].Image != "envoy:1" || tpl.Spec.InitContainers[0].Image != "migrate:v2" {
		t.Errorf("images %s %s %s", tpl.Spec.Containers[0].Image, tpl.Spec.Containers[1].Image, tpl.Spec.InitContainers[0].Image)
	}
	if dep.Spec.Template.Spec.Containers[0].Image != "web:v1" {
		t.Error("the Deployment's template was modified")
	}
	if d := diffImages(images(&dep.Spec.Template), images(tpl)); d != "migrate: migrate:v1 → migrate:v2; web: web:v1 → web:v2" {
		t.Errorf("diff %q", d)
	}
	if templateHash(tpl) == templateHash(&dep.Spec.Template) || templateHash(tpl) != templateHash(tpl.DeepCopy()) {
		t.Error("template hash is not a function of the template")
	}

	rel.Spec.Images = []deliveryv1.ContainerImage{{Container: "sidecar", Image: "x"}}
	if _, err := canaryTemplate(rel, dep); err == nil || !strings.Contains(err.Error(), `no container "sidecar"`) {
		t.Errorf("missing container: %v", err)
	}
	other := dep.Spec.Template.DeepCopy()
	other.Labels = map[string]string{"app": "other"}
	rel.Spec.Images, rel.Spec.Template = nil, other
	if _, err := canaryTemplate(rel, dep); err == nil || !strings.Contains(err.Error(), "do not match") {
		t.Errorf("template outside the selector: %v", err)
	}
	rel.Spec.Template = &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}}
	if _, err := canaryTemplate(rel, dep); err == nil {
		t.Error("template without containers accepted")
	}
}

func TestPodHealthVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status corev1.PodStatus
		ready  int32
		fail   string
	}{
		{"ready", corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}, 1, ""},
		{"crash loop", corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "web", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}}}, 0, "CrashLoopBackOff"},
		{"image pull", corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{Name: "web", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}}}}, 0, "ImagePullBackOff"},
		{"restarted", corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "web", RestartCount: 2}}}, 0, "restarted 2 times"},
		{"failed", corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"}, 0, "failed: Evicted"},
		{"starting", corev1.PodStatus{Phase: corev1.PodPending}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := judgePods([]corev1.Pod{{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Status: tc.status}}, 0)
			if h.ready != tc.ready || (tc.fail == "") != (h.failure == "") || !strings.Contains(h.failure, tc.fail) {
				t.Fatalf("ready %d failure %q, want %d %q", h.ready, h.failure, tc.ready, tc.fail)
			}
		})
	}
}
