package v1alpha1_test

import (
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/api/management/v1alpha1/crds"
	"bokujo.io/bokujo/test/framework"
)

// mgmt is the management cluster the CRDs are installed into.
const mgmt = "mgmt"

var env *framework.Env

func TestMain(m *testing.M) {
	framework.Main(m, &env, framework.ClusterSpec{Name: mgmt})
}

// managementClient installs the CRDs once per package and returns a client that
// knows the management types.
func managementClient(t *testing.T) client.Client {
	t.Helper()
	return env.CRDClient(t, mgmt, crds.CRDs, v1alpha1.AddToScheme)
}
