package access_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/test/framework"
)

// TestCLIImportRunsOnTheUsersMachine imports a cluster with `bokujo
// clusters import`: the CLI provisions bokujo's identities with the user's
// own kubeconfig and sends the server only their credentials.
func TestCLIImportRunsOnTheUsersMachine(t *testing.T) {
	b := startServer(t)
	ctx := context.Background()
	if _, err := b.app.Auth.CreateLocalUser(ctx, "root", "Root", password); err != nil {
		t.Fatal(err)
	}
	grb := &mgmtv1.GlobalRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "root-admin"},
		Spec: mgmtv1.GlobalRoleBindingSpec{GlobalRoleName: mgmtv1.GlobalRoleAdmin, Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: "root"}}}
	if err := b.app.Client.Create(ctx, grb); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(framework.BinDir(t), "bokujo")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s not built: run `make build`", bin)
	}
	cfg := filepath.Join(t.TempDir(), "config.json")
	cli := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "BOKUJO_CONFIG="+cfg)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := cli(password+"\n", "login", b.url, "--ca-file", b.caFile, "--username", "root", "--password-stdin"); err != nil {
		t.Fatalf("login: %v\n%s", err, out)
	}
	if out, err := cli("", "clusters", "import", "imported", "--kubeconfig", env.Cluster(t, "prod").KubeconfigPath()); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	framework.Eventually(t, framework.Medium, func() error {
		out, err := cli("", "clusters", "list")
		if err != nil || !regexp.MustCompile(`(?m)^imported\s+true\s+v1.37.2`).MatchString(out) {
			return fmt.Errorf("clusters list: %v\n%s", err, out)
		}
		return nil
	})
	// The server never saw the admin credential: what it stores is the
	// two service accounts' kubeconfigs.
	for _, id := range []string{"proxy", "manager"} {
		s, err := env.Client(t, "mgmt").CoreV1().Secrets(mgmtv1.SystemNamespace).Get(ctx, "cluster-imported-"+id, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if kc := string(s.Data[mgmtv1.KubeconfigSecretKey]); !strings.Contains(kc, "token:") || strings.Contains(kc, "client-certificate-data") {
			t.Fatalf("%s credential is not a service-account token kubeconfig", id)
		}
	}
	if out, err := cli("", "clusters", "import", "imported", "--kubeconfig", env.Cluster(t, "prod").KubeconfigPath()); err == nil || !strings.Contains(out, "already exists") {
		t.Fatalf("second import: %v\n%s", err, out)
	}
	if out, err := cli("", "clusters", "remove", "imported"); err != nil {
		t.Fatalf("remove: %v\n%s", err, out)
	}
	if out, _ := cli("", "clusters", "list"); strings.Contains(out, "imported") {
		t.Fatalf("removed cluster still listed:\n%s", out)
	}
}
