// Package access_test runs the whole access core on real clusters: the
// bokujo server (app) on a management cluster, two imported downstream
// clusters, users with bindings, and the real kubectl and helm binaries
// using the kubeconfig bokujo generates.
package access_test

import (
	"testing"

	"bokujo.io/bokujo/internal/localcluster"
	"bokujo.io/bokujo/test/framework"
)

var env *framework.Env

func TestMain(m *testing.M) {
	framework.Main(m, &env,
		framework.ClusterSpec{Name: "mgmt"},
		framework.ClusterSpec{Name: "dev", Nodes: localcluster.GPUNodes("dev-gpu", 1, 8)},
		framework.ClusterSpec{Name: "prod", Nodes: localcluster.CPUNodes("prod-cpu", 1)},
	)
}
