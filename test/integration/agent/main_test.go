// Package agent_test runs the agent path on real clusters: a bokujo server
// on a management cluster, a downstream cluster "edge" that bokujo reaches
// only through `bokujo agent`'s tunnel (installed with the import manifest
// the server serves, running with the manifest's least-privilege service
// account), and an imported cluster "other" beside it.
package agent_test

import (
	"testing"

	"bokujo.io/bokujo/internal/localcluster"
	"bokujo.io/bokujo/test/framework"
)

var env *framework.Env

func TestMain(m *testing.M) {
	framework.Main(m, &env,
		framework.ClusterSpec{Name: "mgmt"},
		framework.ClusterSpec{Name: "edge", Nodes: localcluster.CPUNodes("edge-cpu", 1)},
		framework.ClusterSpec{Name: "other", Nodes: localcluster.CPUNodes("other-cpu", 1)},
	)
}
