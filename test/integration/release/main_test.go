// Package release_test runs the Release controller against a real local
// cluster with simulated nodes: canary steps, automatic rollback of a
// crash-looping canary, and analysis against a real Prometheus server.
package release_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	deliveryv1 "bokujo.io/bokujo/api/delivery/v1alpha1"
	"bokujo.io/bokujo/api/delivery/v1alpha1/crds"
	"bokujo.io/bokujo/internal/crdinstall"
	"bokujo.io/bokujo/internal/localcluster"
	"bokujo.io/bokujo/internal/release"
	"bokujo.io/bokujo/test/framework"
)

var env *framework.Env

const cluster = "dev"

func TestMain(m *testing.M) {
	ctrl.SetLogger(funcr.New(func(prefix, args string) { fmt.Fprintln(os.Stderr, prefix, args) }, funcr.Options{}))
	framework.Main(m, &env,
		framework.ClusterSpec{Name: "mgmt"},
		framework.ClusterSpec{Name: cluster, Nodes: localcluster.CPUNodes("dev-cpu", 2)},
	)
}

var (
	installOnce sync.Once
	installErr  error
)

// installCRDs installs the delivery CRDs in the test cluster once.
func installCRDs(t *testing.T) {
	t.Helper()
	installOnce.Do(func() {
		list, err := crds.CRDs()
		if err != nil {
			installErr = err
			return
		}
		installErr = crdinstall.Install(context.Background(), env.RESTConfig(t, cluster), list)
	})
	if installErr != nil {
		t.Fatal(installErr)
	}
}

// mustDeliveryClient is an admin client of the test cluster with the
// delivery types.
func mustDeliveryClient(t *testing.T) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := release.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(env.RESTConfig(t, cluster), client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startController installs the delivery CRDs and runs the Release
// controller in a manager against the test cluster until the test ends. It
// returns a client with the delivery types.
func startController(t *testing.T, opts release.Options) client.Client {
	t.Helper()
	cfg := env.RESTConfig(t, cluster)
	installCRDs(t)
	scheme := runtime.NewScheme()
	if err := release.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Every test runs its own manager; their controllers share a name.
		Controller: config.Controller{SkipNameValidation: ptr(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := release.Setup(mgr, opts); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// webApp creates a Deployment "web" of replicas pods running image and a
// Service in front of it, and waits until every pod is ready.
func webApp(t *testing.T, ns string, replicas int32, image string) {
	t.Helper()
	cs := env.Client(t, cluster)
	ctx := context.Background()
	labels := map[string]string{"app": "web"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "web", Image: image,
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: corev1.ServiceSpec{
			Selector: labels,
			Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, framework.Medium, func() error {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Status.ReadyReplicas != replicas || d.Status.UpdatedReplicas != replicas || d.Status.ObservedGeneration < d.Generation {
			return fmt.Errorf("deployment web: %d/%d ready", d.Status.ReadyReplicas, replicas)
		}
		return nil
	})
}

// podCounts is a snapshot of the ready, not terminating pods by image.
type podCounts map[string]int

func countPods(ctx context.Context, cs kubernetes.Interface, ns string) (podCounts, error) {
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		return nil, err
	}
	out := podCounts{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				out[p.Spec.Containers[0].Image]++
			}
		}
	}
	return out, nil
}

// watcher samples the pods of a namespace until stopped and keeps the
// fewest ready pods seen, overall and of one image.
type watcher struct {
	stop       chan struct{}
	done       chan struct{}
	mu         sync.Mutex
	minTotal   int
	minOfImage int
	maxOfOther int
	samples    int
}

// watchPods starts sampling; image is the stable image whose ready count
// is tracked, and maxOfOther keeps the most ready pods of any other image
// (the canary) seen while the stable image still had pods.
func watchPods(t *testing.T, ns, image string) *watcher {
	cs := env.Client(t, cluster)
	w := &watcher{stop: make(chan struct{}), done: make(chan struct{}), minTotal: 1 << 30, minOfImage: 1 << 30}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			counts, err := countPods(context.Background(), cs, ns)
			if err == nil {
				total := 0
				for _, n := range counts {
					total += n
				}
				w.mu.Lock()
				w.samples++
				w.minTotal = min(w.minTotal, total)
				w.minOfImage = min(w.minOfImage, counts[image])
				w.mu.Unlock()
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	t.Cleanup(w.Stop)
	return w
}

// Stop ends sampling; safe to call twice.
func (w *watcher) Stop() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

func getRelease(t *testing.T, c client.Client, ns, name string) *deliveryv1.Release {
	t.Helper()
	rel := &deliveryv1.Release{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, rel); err != nil {
		t.Fatal(err)
	}
	return rel
}

// waitPhase waits for a Release to reach phase and returns it.
func waitPhase(t *testing.T, c client.Client, ns, name string, phase deliveryv1.Phase, timeout time.Duration) *deliveryv1.Release {
	t.Helper()
	var rel *deliveryv1.Release
	framework.Eventually(t, timeout, func() error {
		rel = &deliveryv1.Release{}
		if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, rel); err != nil {
			return err
		}
		if rel.Status.Phase != phase {
			return fmt.Errorf("release %s is %s at step %d (want %s): %s", name, rel.Status.Phase, rel.Status.Step, phase, lastHistory(rel))
		}
		return nil
	})
	return rel
}

func lastHistory(rel *deliveryv1.Release) string {
	if n := len(rel.Status.History); n > 0 {
		h := rel.Status.History[n-1]
		return h.Reason + ": " + h.Message
	}
	return "no history yet"
}

func hasHistory(rel *deliveryv1.Release, reason string, step int32) bool {
	for _, h := range rel.Status.History {
		if h.Reason == reason && (step < 0 || h.Step == step) {
			return true
		}
	}
	return false
}

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

func ptr[T any](v T) *T { return &v }
