package v1alpha1_test

import (
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "bokujo.io/bokujo/api/ml/v1alpha1"
	"bokujo.io/bokujo/api/ml/v1alpha1/crds"
	"bokujo.io/bokujo/test/framework"
)

const downstream = "dev"

var env *framework.Env

func TestMain(m *testing.M) {
	framework.Main(m, &env, framework.ClusterSpec{Name: downstream})
}

// mlClient installs the CRDs once per package and returns a client that
// knows the ml types.
func mlClient(t *testing.T) client.Client {
	t.Helper()
	return env.CRDClient(t, downstream, crds.CRDs, v1alpha1.AddToScheme)
}
