// Package localcluster_test runs real local control planes: two clusters
// side by side, GPU scheduling on simulated nodes, Jobs, kubectl's streaming
// commands, restart and shutdown behaviour.
package localcluster_test

import (
	"os"
	"testing"

	"bokujo.io/bokujo/internal/localcluster"
	"bokujo.io/bokujo/test/framework"
)

var env *framework.Env

func TestMain(m *testing.M) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		os.Exit(runChildCluster(dir))
	}
	framework.Main(m, &env,
		framework.ClusterSpec{Name: "dev", Nodes: localcluster.GPUNodes("dev-gpu", 2, 8)},
		framework.ClusterSpec{Name: "prod", Nodes: localcluster.CPUNodes("prod-cpu", 3)},
	)
}
