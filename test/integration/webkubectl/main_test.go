// Package webkubectl_test runs the web terminal against real clusters: a
// bokujo server (app) on a management cluster, an imported downstream
// cluster with simulated nodes, users with bindings, WebSocket sessions
// opened like the browser does (session cookie, CSRF parameter, Origin),
// and the real bundled kubectl run by the server as the user.
package webkubectl_test

import (
	"testing"

	"bokujo.io/bokujo/internal/localcluster"
	"bokujo.io/bokujo/test/framework"
)

var env *framework.Env

func TestMain(m *testing.M) {
	framework.Main(m, &env,
		framework.ClusterSpec{Name: "mgmt"},
		framework.ClusterSpec{Name: "dev", Nodes: localcluster.CPUNodes("dev-cpu", 1)},
	)
}
