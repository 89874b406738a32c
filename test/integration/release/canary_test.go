package release_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	deliveryv1 "bokujo.io/bokujo/api/delivery/v1alpha1"
	"bokujo.io/bokujo/internal/localcluster"
	"bokujo.io/bokujo/internal/release"
	"bokujo.io/bokujo/test/framework"
)

// TestCanaryStepsUpAndPromotes: a 10-replica Deployment gets exactly one
// canary pod first, then half, then all; the Deployment ends with the new
// template and the ready pods never drop below 10 on the way.
func TestCanaryStepsUpAndPromotes(t *testing.T) {
	c := startController(t, release.Options{})
	ns := env.Namespace(t, cluster)
	webApp(t, ns, 10, "web:v1")
	cs := env.Client(t, cluster)
	ctx := context.Background()
	w := watchPods(t, ns, "web:v1")

	rel := &deliveryv1.Release{
		ObjectMeta: metav1.ObjectMeta{Name: "web-v2", Namespace: ns, Annotations: map[string]string{deliveryv1.CreatedByAnnotation: "alice"}},
		Spec: deliveryv1.ReleaseSpec{
			Deployment: "web",
			Service:    "web",
			Images:     []deliveryv1.ContainerImage{{Container: "web", Image: "web:v2"}},
			Strategy: deliveryv1.CanaryStrategy{Steps: []deliveryv1.CanaryStep{
				{Pause: &deliveryv1.Pause{}}, // manual: the test looks at step 1, then promotes
				{Weight: ptr(int32(50)), Pause: &deliveryv1.Pause{Duration: dur(time.Second)}},
			}},
			Analysis: deliveryv1.Analysis{Interval: dur(time.Second)},
		},
	}
	if err := c.Create(ctx, rel); err != nil {
		t.Fatal(err)
	}

	// Step 1 holds for promotion: exactly one canary pod, nine stable.
	got := waitPhase(t, c, ns, "web-v2", deliveryv1.PhasePaused, framework.Medium)
	if got.Status.Step != 1 || got.Status.ReadyCanaryReplicas != 1 {
		t.Fatalf("paused at step %d with %d canary pods, want step 1 with 1", got.Status.Step, got.Status.ReadyCanaryReplicas)
	}
	framework.Eventually(t, framework.Short, func() error {
		counts, err := countPods(ctx, cs, ns)
		if err != nil {
			return err
		}
		if counts["web:v2"] != 1 || counts["web:v1"] != 9 {
			return fmt.Errorf("ready pods %v, want 1 web:v2 and 9 web:v1", counts)
		}
		return nil
	})
	dep, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !dep.Spec.Paused || dep.Annotations[deliveryv1.ActiveReleaseAnnotation] != "web-v2" || dep.Spec.Template.Spec.Containers[0].Image != "web:v1" {
		t.Fatalf("during the canary the Deployment should be paused, held by web-v2 and keep web:v1: paused=%t annotations=%v image=%s",
			dep.Spec.Paused, dep.Annotations, dep.Spec.Template.Spec.Containers[0].Image)
	}
	if h := meta.FindStatusCondition(got.Status.Conditions, deliveryv1.ConditionHealthy); h == nil || h.Status != metav1.ConditionTrue {
		t.Fatalf("Healthy condition = %+v, want True", h)
	}
	if got.Status.StableRevision == "" || got.Status.CanaryRevision == "" || got.Status.StableRevision == got.Status.CanaryRevision {
		t.Fatalf("revisions stable=%q canary=%q", got.Status.StableRevision, got.Status.CanaryRevision)
	}
	if got.Status.CreatedBy != "alice" {
		t.Errorf("createdBy = %q, want alice", got.Status.CreatedBy)
	}

	// Promote through an annotation, as kubectl would.
	annotate(t, c, ns, "web-v2", deliveryv1.ActionPromote, "bob")
	final := waitPhase(t, c, ns, "web-v2", deliveryv1.PhasePromoted, framework.Medium)
	w.Stop()

	for _, step := range []int32{1, 2, 3} {
		if !hasHistory(final, deliveryv1.ReasonStepReached, step) {
			t.Errorf("no StepReached at step %d in history: %+v", step, final.Status.History)
		}
	}
	if !hasHistory(final, deliveryv1.ReasonPromotedByUser, -1) {
		t.Errorf("history lacks the promotion by bob: %+v", final.Status.History)
	}
	for _, h := range final.Status.History {
		if h.Reason == deliveryv1.ReasonPromotedByUser && h.By != "bob" {
			t.Errorf("promotion recorded by %q, want bob", h.By)
		}
	}
	framework.Eventually(t, framework.Short, func() error {
		if f := getRelease(t, c, ns, "web-v2").Finalizers; len(f) != 0 {
			return fmt.Errorf("finalizers left on a promoted release: %v", f)
		}
		return nil
	})
	framework.Eventually(t, framework.Medium, func() error {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Spec.Paused || d.Spec.Template.Spec.Containers[0].Image != "web:v2" || *d.Spec.Replicas != 10 {
			return fmt.Errorf("deployment paused=%t image=%s replicas=%d", d.Spec.Paused, d.Spec.Template.Spec.Containers[0].Image, *d.Spec.Replicas)
		}
		if _, ok := d.Annotations[deliveryv1.ActiveReleaseAnnotation]; ok {
			return fmt.Errorf("deployment still held: %v", d.Annotations)
		}
		if d.Status.ReadyReplicas != 10 || d.Status.UpdatedReplicas != 10 || d.Status.ObservedGeneration < d.Generation {
			return fmt.Errorf("deployment %d ready, %d updated", d.Status.ReadyReplicas, d.Status.UpdatedReplicas)
		}
		counts, err := countPods(ctx, cs, ns)
		if err != nil {
			return err
		}
		if counts["web:v2"] != 10 || counts["web:v1"] != 0 {
			return fmt.Errorf("ready pods %v, want 10 web:v2", counts)
		}
		return nil
	})
	// The canary ReplicaSet is gone; the Deployment owns what is left.
	rss, err := cs.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rss.Items) != 2 {
		t.Errorf("%d ReplicaSets, want 2 (the old and the new one of the Deployment; the canary deleted)", len(rss.Items))
	}
	for _, rs := range rss.Items {
		if ref := metav1.GetControllerOf(&rs); ref == nil || ref.Kind != "Deployment" {
			t.Errorf("ReplicaSet %s owned by %+v, want the Deployment", rs.Name, ref)
		}
	}
	if w.minTotal < 10 {
		t.Errorf("ready pods dropped to %d during the release, want never below 10 (%d samples)", w.minTotal, w.samples)
	}
}

// TestCrashLoopingCanaryRollsBack: a canary whose pod crash-loops is rolled
// back automatically; the stable pods stay untouched and serving.
func TestCrashLoopingCanaryRollsBack(t *testing.T) {
	var events []release.Event
	evc := make(chan release.Event, 16)
	c := startController(t, release.Options{Notify: func(e release.Event) { evc <- e }})
	ns := env.Namespace(t, cluster)
	webApp(t, ns, 10, "web:v1")
	cs := env.Client(t, cluster)
	ctx := context.Background()
	w := watchPods(t, ns, "web:v1")

	dep, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tpl := dep.Spec.Template.DeepCopy()
	tpl.Labels[localcluster.CrashLoopLabel] = "true"
	tpl.Spec.Containers[0].Image = "web:v2-broken"
	rel := &deliveryv1.Release{
		ObjectMeta: metav1.ObjectMeta{Name: "web-broken", Namespace: ns},
		Spec: deliveryv1.ReleaseSpec{
			Deployment: "web",
			Template:   tpl,
			Strategy:   deliveryv1.CanaryStrategy{Steps: []deliveryv1.CanaryStep{{Pause: &deliveryv1.Pause{Duration: dur(time.Second)}}}},
			Analysis:   deliveryv1.Analysis{Interval: dur(time.Second)},
		},
	}
	if err := c.Create(ctx, rel); err != nil {
		t.Fatal(err)
	}
	final := waitPhase(t, c, ns, "web-broken", deliveryv1.PhaseRolledBack, framework.Medium)
	if !hasHistory(final, deliveryv1.ReasonCanaryCrashLooping, 1) {
		t.Fatalf("rolled back without a CanaryCrashLooping entry: %+v", final.Status.History)
	}
	if h := meta.FindStatusCondition(final.Status.Conditions, deliveryv1.ConditionHealthy); h == nil || h.Status != metav1.ConditionFalse || !strings.Contains(h.Message, "CrashLoopBackOff") {
		t.Fatalf("Healthy condition = %+v, want False naming CrashLoopBackOff", h)
	}
	var failed bool
	for _, m := range final.Status.Measurements {
		failed = failed || (m.Name == "pods" && m.Result == deliveryv1.ResultFailed)
	}
	if !failed {
		t.Errorf("no failed pods measurement: %+v", final.Status.Measurements)
	}
	framework.Eventually(t, framework.Medium, func() error {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Spec.Paused || *d.Spec.Replicas != 10 || d.Spec.Template.Spec.Containers[0].Image != "web:v1" {
			return fmt.Errorf("deployment paused=%t replicas=%d image=%s", d.Spec.Paused, *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Image)
		}
		if len(d.Annotations[deliveryv1.ActiveReleaseAnnotation]) > 0 {
			return fmt.Errorf("deployment still held by %s", d.Annotations[deliveryv1.ActiveReleaseAnnotation])
		}
		rss, err := cs.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if len(rss.Items) != 1 {
			return fmt.Errorf("%d ReplicaSets, want only the stable one", len(rss.Items))
		}
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if len(pods.Items) != 10 {
			return fmt.Errorf("%d pods left, want the 10 stable ones", len(pods.Items))
		}
		return nil
	})
	w.Stop()
	if w.minOfImage < 10 {
		t.Errorf("ready stable pods dropped to %d, want never below 10 (%d samples)", w.minOfImage, w.samples)
	}
	close(evc)
	for e := range evc {
		events = append(events, e)
	}
	var kinds []string
	for _, e := range events {
		kinds = append(kinds, e.Kind)
	}
	if strings.Join(kinds, ",") != "Started,RolledBack" {
		t.Errorf("announced %v, want Started then RolledBack", kinds)
	}
}

// TestAbortPauseResumeRetry drives a release with the action annotation the
// way `kubectl annotate` would.
func TestAbortPauseResumeRetry(t *testing.T) {
	c := startController(t, release.Options{})
	ns := env.Namespace(t, cluster)
	webApp(t, ns, 4, "web:v1")
	ctx := context.Background()
	rel := &deliveryv1.Release{
		ObjectMeta: metav1.ObjectMeta{Name: "web-v2", Namespace: ns},
		Spec: deliveryv1.ReleaseSpec{
			Deployment: "web",
			Images:     []deliveryv1.ContainerImage{{Container: "web", Image: "web:v2"}},
			Strategy:   deliveryv1.CanaryStrategy{Steps: []deliveryv1.CanaryStep{{Pause: &deliveryv1.Pause{Duration: dur(time.Hour)}}}},
			Analysis:   deliveryv1.Analysis{Interval: dur(time.Second)},
		},
	}
	if err := c.Create(ctx, rel); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, framework.Medium, func() error {
		r := getRelease(t, c, ns, "web-v2")
		if r.Status.Step != 1 || r.Status.StepStartTime == nil {
			return fmt.Errorf("step %d: %s", r.Status.Step, lastHistory(r))
		}
		return nil
	})
	// The real kubectl pauses it.
	out, err := exec.Command(filepath.Join(framework.BinDir(t), "kubectl"), "--kubeconfig", env.Cluster(t, cluster).KubeconfigPath(),
		"-n", ns, "annotate", "release", "web-v2", deliveryv1.ActionAnnotation+"=pause", deliveryv1.ActionByAnnotation+"=carol").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl annotate: %v\n%s", err, out)
	}
	r := waitPhase(t, c, ns, "web-v2", deliveryv1.PhasePaused, framework.Short)
	if r.Status.PausedByUser != "carol" {
		t.Errorf("pausedByUser = %q", r.Status.PausedByUser)
	}
	annotate(t, c, ns, "web-v2", deliveryv1.ActionResume, "carol")
	waitPhase(t, c, ns, "web-v2", deliveryv1.PhaseProgressing, framework.Short)
	annotate(t, c, ns, "web-v2", deliveryv1.ActionAbort, "carol")
	r = waitPhase(t, c, ns, "web-v2", deliveryv1.PhaseRolledBack, framework.Short)
	if !hasHistory(r, deliveryv1.ReasonAbortedByUser, -1) {
		t.Errorf("history lacks AbortedByUser: %+v", r.Status.History)
	}
	if _, ok := r.Annotations[deliveryv1.ActionAnnotation]; ok {
		t.Error("action annotation left after it was carried out")
	}
	// Retry starts again from step 1.
	annotate(t, c, ns, "web-v2", deliveryv1.ActionRetry, "carol")
	framework.Eventually(t, framework.Medium, func() error {
		r := getRelease(t, c, ns, "web-v2")
		if r.Status.Phase != deliveryv1.PhaseProgressing || r.Status.ReadyCanaryReplicas != 1 {
			return fmt.Errorf("%s with %d canary pods: %s", r.Status.Phase, r.Status.ReadyCanaryReplicas, lastHistory(r))
		}
		return nil
	})
	// Deleting a running Release rolls the Deployment back first.
	if err := c.Delete(ctx, getRelease(t, c, ns, "web-v2")); err != nil {
		t.Fatal(err)
	}
	cs := env.Client(t, cluster)
	framework.Eventually(t, framework.Medium, func() error {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Spec.Paused || *d.Spec.Replicas != 4 || d.Annotations[deliveryv1.ActiveReleaseAnnotation] != "" {
			return fmt.Errorf("deployment paused=%t replicas=%d annotations=%v", d.Spec.Paused, *d.Spec.Replicas, d.Annotations)
		}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-v2"}, &deliveryv1.Release{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("release still there: %v", err)
		}
		return nil
	})
}

// TestReleaseValidation: the API server refuses malformed Releases.
func TestReleaseValidation(t *testing.T) {
	c := startController(t, release.Options{})
	ns := env.Namespace(t, cluster)
	ctx := context.Background()
	img := []deliveryv1.ContainerImage{{Container: "web", Image: "web:v2"}}
	cases := map[string]struct {
		spec deliveryv1.ReleaseSpec
		want string
	}{
		"weight on first step":        {deliveryv1.ReleaseSpec{Deployment: "web", Images: img, Strategy: deliveryv1.CanaryStrategy{Steps: []deliveryv1.CanaryStep{{Weight: ptr(int32(10))}}}}, "exactly one canary pod"},
		"later step without weight":   {deliveryv1.ReleaseSpec{Deployment: "web", Images: img, Strategy: deliveryv1.CanaryStrategy{Steps: []deliveryv1.CanaryStep{{}, {Pause: &deliveryv1.Pause{}}}}}, "needs a weight"},
		"neither images nor template": {deliveryv1.ReleaseSpec{Deployment: "web"}, "exactly one of images or template"},
		"weight above 100":            {deliveryv1.ReleaseSpec{Deployment: "web", Images: img, Strategy: deliveryv1.CanaryStrategy{Steps: []deliveryv1.CanaryStep{{}, {Weight: ptr(int32(150))}}}}, "100"},
		"image with spaces":           {deliveryv1.ReleaseSpec{Deployment: "web", Images: []deliveryv1.ContainerImage{{Container: "web", Image: "a b"}}}, "image"},
		"prometheus address not http": {deliveryv1.ReleaseSpec{Deployment: "web", Images: img, Analysis: deliveryv1.Analysis{Prometheus: &deliveryv1.PrometheusAnalysis{
			Address: "file:///etc/passwd", Queries: []deliveryv1.PrometheusQuery{{Name: "q", Query: "up", Max: "1"}}}}}, "http or https"},
		"query without bounds": {deliveryv1.ReleaseSpec{Deployment: "web", Images: img, Analysis: deliveryv1.Analysis{Prometheus: &deliveryv1.PrometheusAnalysis{
			Address: "http://prom:9090", Queries: []deliveryv1.PrometheusQuery{{Name: "q", Query: "up"}}}}}, "max, min or both"},
		"bound not a number": {deliveryv1.ReleaseSpec{Deployment: "web", Images: img, Analysis: deliveryv1.Analysis{Prometheus: &deliveryv1.PrometheusAnalysis{
			Address: "http://prom:9090", Queries: []deliveryv1.PrometheusQuery{{Name: "q", Query: "up", Max: "1%"}}}}}, "max"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := c.Create(ctx, &deliveryv1.Release{ObjectMeta: metav1.ObjectMeta{GenerateName: "bad-", Namespace: ns}, Spec: tc.spec})
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want Invalid mentioning %q", err, tc.want)
			}
		})
	}
	// A Release of a Deployment that does not exist waits and says why; a
	// container the Deployment lacks fails the release.
	if err := c.Create(ctx, &deliveryv1.Release{ObjectMeta: metav1.ObjectMeta{Name: "nodep", Namespace: ns}, Spec: deliveryv1.ReleaseSpec{Deployment: "nope", Images: img}}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, framework.Short, func() error {
		r := getRelease(t, c, ns, "nodep")
		if r.Status.Phase != deliveryv1.PhasePending || !hasHistory(r, deliveryv1.ReasonDeploymentNotFound, -1) {
			return fmt.Errorf("%s: %s", r.Status.Phase, lastHistory(r))
		}
		return nil
	})
	webApp(t, ns, 2, "web:v1")
	if err := c.Create(ctx, &deliveryv1.Release{ObjectMeta: metav1.ObjectMeta{Name: "nocontainer", Namespace: ns}, Spec: deliveryv1.ReleaseSpec{
		Deployment: "web", Images: []deliveryv1.ContainerImage{{Container: "sidecar", Image: "x:1"}}}}); err != nil {
		t.Fatal(err)
	}
	r := waitPhase(t, c, ns, "nocontainer", deliveryv1.PhaseFailed, framework.Short)
	if !strings.Contains(lastHistory(r), `no container "sidecar"`) {
		t.Errorf("failure says %q", lastHistory(r))
	}
	d, err := env.Client(t, cluster).AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Spec.Paused || d.Annotations[deliveryv1.ActiveReleaseAnnotation] != "" {
		t.Errorf("a failed release left the Deployment held: paused=%t %v", d.Spec.Paused, d.Annotations)
	}
	_ = appsv1.DefaultDeploymentUniqueLabelKey
}

func annotate(t *testing.T, c client.Client, ns, name string, action deliveryv1.Action, by string) {
	t.Helper()
	framework.Eventually(t, framework.Short, func() error {
		rel := &deliveryv1.Release{}
		if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, rel); err != nil {
			return err
		}
		if rel.Annotations == nil {
			rel.Annotations = map[string]string{}
		}
		rel.Annotations[deliveryv1.ActionAnnotation] = string(action)
		rel.Annotations[deliveryv1.ActionByAnnotation] = by
		return c.Update(context.Background(), rel)
	})
}
