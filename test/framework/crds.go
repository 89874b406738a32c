package framework

import (
	"context"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"bokujo.io/bokujo/internal/crdinstall"
)

// CRDClient installs the CRDs crds gives into the named cluster (once per
// test binary, cluster and set of CRDs) and returns a client whose scheme
// holds the types addToScheme registers.
func (e *Env) CRDClient(t testing.TB, cluster string, crds func() ([]*apiextensionsv1.CustomResourceDefinition, error), addToScheme func(*runtime.Scheme) error) client.Client {
	t.Helper()
	cfg := e.RESTConfig(t, cluster)
	list, err := crds()
	if err != nil {
		t.Fatal(err)
	}
	key := cluster
	for _, c := range list {
		key += "/" + c.Name
	}
	e.crdMu.Lock()
	if !e.crdsInstalled[key] {
		if err := crdinstall.Install(context.Background(), cfg, list); err != nil {
			e.crdMu.Unlock()
			t.Fatal(err)
		}
		if e.crdsInstalled == nil {
			e.crdsInstalled = map[string]bool{}
		}
		e.crdsInstalled[key] = true
	}
	e.crdMu.Unlock()
	scheme := runtime.NewScheme()
	if err := addToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
