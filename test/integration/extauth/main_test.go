// Package extauth_test runs external logins end to end: the bokujo server
// on a management cluster, an imported downstream cluster, a real slapd,
// and kubectl reaching the cluster through the proxy with rights that come
// only from a binding to the directory's group.
package extauth_test

import (
	"testing"

	"bokujo.io/bokujo/internal/localcluster"
	"bokujo.io/bokujo/test/framework"
)

var env *framework.Env

func TestMain(m *testing.M) {
	framework.Main(m, &env,
		framework.ClusterSpec{Name: "mgmt"},
		framework.ClusterSpec{Name: "prod", Nodes: localcluster.CPUNodes("prod-cpu", 1)},
	)
}
