package mltask_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	mlv1alpha1 "bokujo.io/bokujo/api/ml/v1alpha1"
	"bokujo.io/bokujo/internal/app"
	"bokujo.io/bokujo/internal/auth"
	"bokujo.io/bokujo/internal/cli"
	"bokujo.io/bokujo/internal/fleet"
	"bokujo.io/bokujo/test/framework"
	"bokujo.io/bokujo/test/framework/testserver"
)

// member starts a bokujo server, imports dev as cluster, and makes a local user a
// member (or the given role) of a project over ns; it returns the server
// and an API token of the user.
func member(t *testing.T, cluster, ns, user, role string) (*testserver.Server, string) {
	t.Helper()
	ctx := context.Background()
	// No fleet components: these tests run the controllers themselves.
	srv := testserver.Start(t, env.RESTConfig(t, mgmt), func(o *app.Options) { o.Components = []fleet.Component{} })
	importDev(t, srv, cluster)
	if _, err := srv.App.Auth.CreateLocalUser(ctx, user, user, "correct horse battery staple 42"); err != nil {
		t.Fatal(err)
	}
	mc := srv.App.Client
	for _, o := range []client.Object{
		&mgmtv1.Project{ObjectMeta: metav1.ObjectMeta{Name: "p-" + user}, Spec: mgmtv1.ProjectSpec{ClusterName: cluster, Namespaces: []string{ns}}},
		&mgmtv1.ProjectRoleTemplateBinding{ObjectMeta: metav1.ObjectMeta{Name: user + "-p"}, Spec: mgmtv1.ProjectRoleTemplateBindingSpec{
			ProjectName: "p-" + user, RoleTemplateName: role, Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: user}}},
	} {
		if err := mc.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = mc.Delete(context.Background(), o) })
	}
	tok, _, err := srv.App.Auth.CreateToken(ctx, user, auth.TokenRequest{Type: mgmtv1.TokenTypeAPI, Description: "mltask test", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return srv, tok
}

// importDev registers the dev cluster under name with srv, and removes the
// registration when the test ends: the management cluster is shared by the
// package's tests, and a registration left behind would have the next
// server's RBAC sync sweep what this one's project needs.
func importDev(t *testing.T, srv *testserver.Server, name string) {
	t.Helper()
	if err := srv.App.Registry.ImportConfig(context.Background(), name, "", env.Cluster(t, dev).RESTConfig()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.App.Registry.Remove(context.Background(), name) })
}

// bokujoCLI runs `bokujo args...` in-process with a stored login.
func bokujoCLI(t *testing.T, config string, stdin string, args ...string) (string, error) {
	t.Helper()
	t.Setenv("BOKUJO_CONFIG", config)
	var out, errOut bytes.Buffer
	root := cli.NewRootCommand(cli.Streams{In: strings.NewReader(stdin), Out: &out, Err: &errOut})
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), framework.Medium)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return out.String() + errOut.String(), err
}

func writeLogin(t *testing.T, srv *testserver.Server, token string) string {
	t.Helper()
	ca, err := os.ReadFile(srv.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(map[string]string{"server": srv.URL, "caData": string(ca), "token": token})
	f := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(f, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestCLI drives `bokujo ml` through bokujo's proxy as a project member:
// run, list, describe, logs of a chosen worker, stop/start, delete, and
// the errors a user meets.
func TestCLI(t *testing.T) {
	startController(t)
	c := mlClient(t)
	ns := env.Namespace(t, dev)
	queues(t, c, ns, 8, nil, ns)
	const cluster = "dev-cli"
	srv, tok := member(t, cluster, ns, "grace", mgmtv1.RoleTemplateProjectMember)
	login := writeLogin(t, srv, tok)
	ml := func(stdin string, args ...string) (string, error) {
		return bokujoCLI(t, login, stdin, append([]string{"ml", "--cluster", cluster, "-n", ns}, args...)...)
	}
	training := `apiVersion: ml.bokujo.io/v1alpha1
kind: MLTask
metadata:
  name: bert
spec:
  image: pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime
  command: [torchrun, train.py]
  workers: 2
  resources: {gpus: 2}
`
	framework.Eventually(t, framework.Medium, func() error { // until RBAC sync granted grace the project
		out, err := ml(training, "run", "-f", "-")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if !strings.Contains(out, "mltask/bert created") {
			t.Fatalf("run: %s", out)
		}
		return nil
	})
	waitPhase(t, c, ns, "bert", mlv1alpha1.PhaseSucceeded, framework.Medium)
	out, err := ml("", "list")
	if err != nil || !strings.Contains(out, "bert") || !strings.Contains(out, "Succeeded") || !strings.Contains(out, "POSITION") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = ml("", "describe", "bert")
	if err != nil || !strings.Contains(out, "Phase:") || !strings.Contains(out, "Succeeded") || !strings.Contains(out, "QuotaReserved") || !strings.Contains(out, "Admitted") {
		t.Fatalf("describe: %v\n%s", err, out)
	}
	out, err = ml("", "logs", "bert", "--worker", "1")
	if err != nil || !strings.Contains(out, "simulated container started") {
		t.Fatalf("logs --worker 1: %v\n%s", err, out)
	}
	if out, err := ml("", "logs", "bert", "--worker", "2"); err == nil || !strings.Contains(out+err.Error(), "workers 0 to 1") {
		t.Fatalf("logs of a worker that does not exist: %v %s", err, out)
	}
	if _, err := ml("", "stop", "bert"); err == nil || !strings.Contains(err.Error(), "Training task") {
		t.Fatalf("stop of a training task: %v", err)
	}

	// Interactive: stop and start.
	nb := strings.Replace(strings.Replace(training, "name: bert", "name: nb", 1), "workers: 2", "workers: 1\n  mode: Interactive", 1)
	f := filepath.Join(t.TempDir(), "nb.yaml")
	if err := os.WriteFile(f, []byte(nb), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := ml("", "run", "-f", f); err != nil {
		t.Fatalf("run -f: %v %s", err, out)
	}
	waitPhase(t, c, ns, "nb", mlv1alpha1.PhaseRunning, framework.Medium)
	if out, err := ml("", "stop", "nb"); err != nil {
		t.Fatalf("stop: %v %s", err, out)
	}
	waitPhase(t, c, ns, "nb", mlv1alpha1.PhaseStopped, framework.Medium)
	if out, err := ml("", "start", "nb"); err != nil {
		t.Fatalf("start: %v %s", err, out)
	}
	waitPhase(t, c, ns, "nb", mlv1alpha1.PhaseRunning, framework.Medium)
	for _, name := range []string{"bert", "nb"} {
		if out, err := ml("", "delete", name); err != nil || !strings.Contains(out, "deleted") {
			t.Fatalf("delete %s: %v %s", name, err, out)
		}
	}
	if _, err := ml("", "describe", "bert"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("describe after delete: %v", err)
	}

	// What users get wrong.
	for name, tc := range map[string]struct {
		stdin string
		args  []string
		want  string
	}{
		"misspelt field":  {strings.Replace(training, "workers:", "wrokers:", 1), []string{"run", "-f", "-"}, "unknown field"},
		"not an MLTask":   {"apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n", []string{"run", "-f", "-"}, "kind MLTask"},
		"bad input":       {strings.Replace(training, "gpus: 2", "gpus: -2", 1), []string{"run", "-f", "-"}, "refused by the cluster"},
		"no file":         {"", []string{"run"}, "pass -f"},
		"other namespace": {"", []string{"list", "-n", "kube-system"}, "forbidden"},
	} {
		out, err := bokujoCLI(t, login, tc.stdin, append([]string{"ml", "--cluster", cluster, "-n", ns}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v (%s), want %q", name, err, out, tc.want)
		}
	}
	if _, err := bokujoCLI(t, login, "", "ml", "-n", ns, "list"); err == nil || !strings.Contains(err.Error(), "--cluster") {
		t.Errorf("no cluster: %v", err)
	}
	if _, err := bokujoCLI(t, filepath.Join(t.TempDir(), "none.json"), "", "ml", "--cluster", cluster, "-n", ns, "list"); err == nil || !strings.Contains(err.Error(), "bokujo login") {
		t.Errorf("not logged in: %v", err)
	}
}
