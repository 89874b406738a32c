package v1alpha1_test

import (
	"context"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "bokujo.io/bokujo/api/ml/v1alpha1"
	"bokujo.io/bokujo/api/ml/v1alpha1/crds"
	"bokujo.io/bokujo/internal/crdinstall"
	"bokujo.io/bokujo/test/framework"
)

const downstream = "dev"

var env *framework.Env

func TestMain(m *testing.M) {
	framework.Main(m, &env, framework.ClusterSpec{Name: downstream})
}

var installOnce struct {
	sync.Mutex
	done bool
}

// mlClient installs the CRDs once per package and returns a client that
// knows the ml types.
func mlClient(t *testing.T) client.Client {
	t.Helper()
	cfg := env.RESTConfig(t, downstream)
	installOnce.Lock()
	defer installOnce.Unlock()
	if !installOnce.done {
		list, err := crds.CRDs()
		if err != nil {
			t.Fatal(err)
		}
		if err := crdinstall.Install(context.Background(), cfg, list); err != nil {
			t.Fatal(err)
		}
		installOnce.done = true
	}
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
