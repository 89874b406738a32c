package access_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/cli"
	"bokujo.io/bokujo/test/framework"
	"bokujo.io/bokujo/test/framework/testserver"
)

// TestAdminCLI drives `bokujo group|project|roletemplate` in-process
// against the server, logged in as an administrator. It imports the dev
// cluster under a name of its own, so it must run after TestAliceAndBob
// (file order): two registrations of one cluster sync its RBAC apart.
func TestAdminCLI(t *testing.T) {
	b := startServer(t)
	ctx := context.Background()
	if err := b.app.Registry.ImportConfig(ctx, "cl-dev", "", env.Cluster(t, "dev").RESTConfig()); err != nil {
		t.Fatal(err)
	}
	adminAndUsers(t, b, "cl-", "ann", "ben")
	mc := testserver.ManagementClient(t, env.RESTConfig(t, "mgmt"))
	t.Setenv("BOKUJO_CONFIG", t.TempDir()+"/config.json")
	run := func(stdin string, args ...string) (string, error) {
		t.Helper()
		var out bytes.Buffer
		cmd := cli.NewRootCommand(cli.Streams{In: strings.NewReader(stdin), Out: &out, Err: &out})
		cmd.SetArgs(args)
		err := cmd.ExecuteContext(ctx)
		return out.String(), err
	}
	must := func(stdin string, args ...string) string {
		t.Helper()
		out, err := run(stdin, args...)
		if err != nil {
			t.Fatalf("bokujo %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	must(password+"\n", "login", b.url, "--ca-file", b.caFile, "--username", "cl-admin", "--password-stdin")

	must("", "group", "create", "cl-team", "--display-name", "Team", "--member", "cl-ann")
	must("", "group", "add-member", "cl-team", "cl-ben")
	must("", "group", "remove-member", "cl-team", "cl-ann")
	var g mgmtv1.Group
	if err := mc.Get(ctx, client.ObjectKey{Name: "cl-team"}, &g); err != nil || len(g.Spec.Members) != 1 || g.Spec.Members[0] != "cl-ben" {
		t.Fatalf("group after the CLI: %+v %v", g.Spec, err)
	}
	if out := must("", "group", "list"); !strings.Contains(out, "cl-team") || !strings.Contains(out, "cl-ben") {
		t.Errorf("group list:\n%s", out)
	}
	if out, err := run("", "group", "add-member", "cl-team", "cl-nobody"); err == nil || !strings.Contains(err.Error()+out, "cl-nobody") {
		t.Errorf("adding an unknown user: %v\n%s", err, out)
	}
	must("", "group", "delete", "cl-team")

	must("", "project", "create", "cl-ml", "--cluster", "cl-dev", "--display-name", "ML")
	framework.Eventually(t, framework.Short, func() error {
		out, err := run("", "project", "list", "--cluster", "cl-dev")
		if err == nil && !strings.Contains(out, "cl-ml") {
			err = errString("project list lacks cl-ml:\n" + out)
		}
		return err
	})
	if _, err := run("", "project", "create", "cl-x"); err == nil || !strings.Contains(err.Error(), "--cluster") {
		t.Errorf("create without --cluster: %v", err)
	}
	must("", "project", "delete", "cl-ml")
	if out := must("", "roletemplate", "list"); !strings.Contains(out, "project-member") || !strings.Contains(out, "cluster-owner") {
		t.Errorf("roletemplate list:\n%s", out)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
