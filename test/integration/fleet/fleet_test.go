// Package fleet_test runs internal/fleet inside a real bokujo server: a
// component's CRDs reach each imported cluster, its controller acts there
// with bokujo's management identity, and it stops when the cluster goes.
package fleet_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/app"
	"bokujo.io/bokujo/internal/fleet"
	"bokujo.io/bokujo/test/framework"
	"bokujo.io/bokujo/test/framework/testserver"
)

var env *framework.Env

func TestMain(m *testing.M) {
	framework.Main(m, &env, framework.ClusterSpec{Name: "mgmt"}, framework.ClusterSpec{Name: "dev"})
}

const seen = "fleet.test.bokujo.io/seen-by"

// widgetCRD is the test component's CRD.
func widgetCRD() *apiextensionsv1.CustomResourceDefinition {
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets.fleet.test.bokujo.io"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "fleet.test.bokujo.io", Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{Type: "object"}}}},
		},
	}
}

// marker annotates namespaces labelled fleet-test=yes with the name of the
// cluster whose manager saw them.
type marker struct {
	c       client.Client
	cluster string
}

func (m marker) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var ns corev1.Namespace
	if err := m.c.Get(ctx, req.NamespacedName, &ns); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if ns.Labels["fleet-test"] != "yes" || ns.Annotations[seen] == m.cluster {
		return reconcile.Result{}, nil
	}
	patch := client.MergeFrom(ns.DeepCopy())
	if ns.Annotations == nil {
		ns.Annotations = map[string]string{}
	}
	ns.Annotations[seen] = m.cluster
	return reconcile.Result{}, m.c.Patch(ctx, &ns, patch)
}

func markerComponent() fleet.Component {
	return fleet.Component{
		Name: "marker",
		CRDs: func() ([]*apiextensionsv1.CustomResourceDefinition, error) {
			return []*apiextensionsv1.CustomResourceDefinition{widgetCRD()}, nil
		},
		Setup: func(mgr manager.Manager, cluster string) error {
			return ctrl.NewControllerManagedBy(mgr).Named("marker").For(&corev1.Namespace{}).
				Complete(marker{c: mgr.GetClient(), cluster: cluster})
		},
	}
}

func TestComponentRunsInEachImportedClusterAndStopsWithIt(t *testing.T) {
	ctx := context.Background()
	s := testserver.Start(t, env.RESTConfig(t, "mgmt"), func(o *app.Options) {
		o.Components = []fleet.Component{markerComponent()}
	})
	dev := env.Cluster(t, "dev").RESTConfig()
	if err := s.App.Registry.ImportConfig(ctx, "dev", "", dev); err != nil {
		t.Fatal(err)
	}

	ext := apiextensionsclient.NewForConfigOrDie(dev)
	framework.Eventually(t, framework.Medium, func() error {
		_, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, widgetCRD().Name, metav1.GetOptions{})
		return err
	})

	cs := env.Client(t, "dev")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "fleet-", Labels: map[string]string{"fleet-test": "yes"}}}
	ns, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{}) })
	framework.Eventually(t, framework.Medium, func() error {
		got, err := cs.CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got.Annotations[seen] != "dev" {
			return errors.New("namespace not annotated yet")
		}
		return nil
	})
	if got := s.App.Fleet.Running(); len(got) != 1 || got[0] != "dev" {
		t.Fatalf("running = %v, want [dev]", got)
	}

	if err := s.App.Registry.Remove(ctx, "dev"); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, framework.Short, func() error {
		if got := s.App.Fleet.Running(); len(got) != 0 {
			return errors.New("still running: " + strings.Join(got, ","))
		}
		return nil
	})
}

// TestControllersFollowTheClusterLabel runs a component only where the
// Cluster's label says so: opt-in servers skip unlabelled clusters, and
// labelling a cluster disabled stops its manager.
func TestControllersFollowTheClusterLabel(t *testing.T) {
	ctx := context.Background()
	s := testserver.Start(t, env.RESTConfig(t, "mgmt"), func(o *app.Options) {
		o.Components = []fleet.Component{markerComponent()}
		o.ControllersOptIn = true
	})
	if err := s.App.Registry.ImportConfig(ctx, "dev", "", env.Cluster(t, "dev").RESTConfig()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.App.Registry.Remove(context.Background(), "dev") })
	label := func(v string) {
		t.Helper()
		var c mgmtv1.Cluster
		if err := s.App.Client.Get(ctx, client.ObjectKey{Name: "dev"}, &c); err != nil {
			t.Fatal(err)
		}
		base := c.DeepCopy()
		c.Labels = map[string]string{fleet.LabelControllers: v}
		if err := s.App.Client.Patch(ctx, &c, client.MergeFrom(base)); err != nil {
			t.Fatal(err)
		}
	}
	running := func(want bool) func() error {
		return func() error {
			if got := len(s.App.Fleet.Running()) == 1; got != want {
				return fmt.Errorf("controllers running: %v, want %v", got, want)
			}
			return nil
		}
	}
	// Ready without controllers: the health controller has written the
	// status the runner waits for, and the runner still starts none.
	framework.Eventually(t, framework.Medium, func() error {
		var c mgmtv1.Cluster
		if err := s.App.Client.Get(ctx, client.ObjectKey{Name: "dev"}, &c); err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(c.Status.Conditions, mgmtv1.ConditionReady) {
			return errors.New("dev not Ready yet")
		}
		return nil
	})
	if err := running(false)(); err != nil {
		t.Fatal(err)
	}
	label("enabled")
	framework.Eventually(t, framework.Medium, running(true))
	label("disabled")
	framework.Eventually(t, framework.Short, running(false))
}

func TestFailingComponentIsRetriedAndReported(t *testing.T) {
	ctx := context.Background()
	attempts := make(chan struct{}, 100)
	bad := fleet.Component{Name: "broken", Setup: func(manager.Manager, string) error {
		attempts <- struct{}{}
		return errors.New("deliberately broken")
	}}
	s := testserver.Start(t, env.RESTConfig(t, "mgmt"), func(o *app.Options) { o.Components = []fleet.Component{bad} })
	// The Runner's retry wait is 15 s; two attempts prove it retries.
	if err := s.App.Registry.ImportConfig(ctx, "dev2", "", env.Cluster(t, "dev").RESTConfig()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.App.Registry.Remove(context.Background(), "dev2") })
	for i := 0; i < 2; i++ {
		select {
		case <-attempts:
		case <-time.After(framework.Medium):
			t.Fatalf("attempt %d of the broken component never came", i+1)
		}
	}
	if got := s.App.Fleet.Running(); len(got) != 0 {
		t.Fatalf("running = %v, want none", got)
	}
	if !strings.Contains(s.Logs.String(), "deliberately broken") {
		t.Fatalf("the failure is not in the server log:\n%s", s.Logs.String())
	}
	var ns corev1.Namespace
	if err := s.App.Client.Get(ctx, types.NamespacedName{Name: "bokujo-system"}, &ns); err != nil {
		t.Fatalf("management cluster unaffected: %v", err)
	}
}
