package helm_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	releasecommon "helm.sh/helm/v4/pkg/release/common"
	repo "helm.sh/helm/v4/pkg/repo/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"bokujo.io/bokujo/internal/helm"
	"bokujo.io/bokujo/internal/localcluster"
	"bokujo.io/bokujo/test/framework"
)

var env *framework.Env

func TestMain(m *testing.M) {
	framework.Main(m, &env, framework.ClusterSpec{Name: "dev", Nodes: localcluster.CPUNodes("dev-cpu", 1)})
}

// chartRepo packages a scaffolded chart as versions 0.1.0 and 0.2.0 and
// serves them with an index.yaml, like a chart repository.
func chartRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src, err := chartutil.Create("web", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"0.1.0", "0.2.0"} {
		ch, err := loader.Load(src)
		if err != nil {
			t.Fatal(err)
		}
		ch.Metadata.Version = v
		if _, err := chartutil.Save(ch, dir); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	idx, err := repo.IndexDirectory(dir, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.WriteFile(filepath.Join(dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	return srv.URL
}

// as returns the cluster's admin configuration impersonating user, with
// ClusterRole role bound to user in ns.
func as(t *testing.T, ns, user, role string) *rest.Config {
	t.Helper()
	_, err := env.Client(t, "dev").RbacV1().RoleBindings(ns).Create(context.Background(), &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: user}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := env.RESTConfig(t, "dev")
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
	return cfg
}

// TestInstallUpgradeRollbackUninstall drives a chart from a repository
// through its life as a user with edit rights, and refuses a read-only user.
func TestInstallUpgradeRollbackUninstall(t *testing.T) {
	ns := env.Namespace(t, "dev")
	repoURL := chartRepo(t)
	cs := env.Client(t, "dev")
	ctx := context.Background()

	writer, err := helm.New(as(t, ns, "writer", "edit"), ns, nil)
	if err != nil {
		t.Fatal(err)
	}
	v1, err := writer.LoadFromRepo(repoURL, "web", "0.1.0")
	if err != nil {
		t.Fatal(err)
	}
	rel, err := writer.Install("shop", v1, map[string]any{"replicaCount": 1})
	if err != nil {
		t.Fatalf("install: %v", err)
	}
	if rel.Info.Status != releasecommon.StatusDeployed || rel.Version != 1 {
		t.Fatalf("installed %s revision %d", rel.Info.Status, rel.Version)
	}
	replicas := func() int32 {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "shop-web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return *d.Spec.Replicas
	}
	if r := replicas(); r != 1 {
		t.Fatalf("replicas %d after install", r)
	}

	v2, err := writer.LoadFromRepo(repoURL, "web", "") // the newest
	if err != nil {
		t.Fatal(err)
	}
	if v2.Metadata.Version != "0.2.0" {
		t.Fatalf("newest chart version %s", v2.Metadata.Version)
	}
	rel, err = writer.Upgrade("shop", v2, map[string]any{"replicaCount": 3})
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	if rel.Version != 2 || replicas() != 3 || rel.Chart.Metadata.Version != "0.2.0" {
		t.Fatalf("upgrade: revision %d, replicas %d, chart %s", rel.Version, replicas(), rel.Chart.Metadata.Version)
	}

	// A client that stopped mid-upgrade left the release pending: a
	// recent one blocks with a clear message, an old one is marked failed
	// and the next action goes through.
	if err := writer.LeavePending("shop", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := writer.Rollback("shop", 1); err == nil || !strings.Contains(err.Error(), "wait for it to finish") {
		t.Fatalf("rollback over a fresh pending revision: %v", err)
	}
	if err := writer.LeavePending("shop", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := writer.Rollback("shop", 1); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	hist, err := writer.History("shop")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 3 || hist[1].Info.Status != releasecommon.StatusFailed || hist[2].Info.Status != releasecommon.StatusDeployed || hist[2].Chart.Metadata.Version != "0.1.0" || replicas() != 1 {
		var got []string
		for _, h := range hist {
			got = append(got, fmt.Sprintf("%d:%s:%s", h.Version, h.Info.Status, h.Chart.Metadata.Version))
		}
		t.Fatalf("history after rollback %v, replicas %d", got, replicas())
	}

	// A read-only user is refused by the API server.
	reader, err := helm.New(as(t, ns, "reader", "view"), ns, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reader.Install("other", v1, nil); err == nil || !strings.Contains(strings.ToLower(err.Error()), "forbidden") || !strings.Contains(err.Error(), `"reader"`) {
		t.Fatalf("read-only install: %v, want Forbidden for reader", err)
	}
	if err := reader.Uninstall("shop"); err == nil || !strings.Contains(strings.ToLower(err.Error()), "forbidden") {
		t.Fatalf("read-only uninstall: %v, want Forbidden", err)
	}

	if err := writer.Uninstall("shop"); err != nil {
		t.Fatalf("uninstall: %v", err)
	}
	framework.Eventually(t, framework.Medium, func() error {
		if _, err := cs.AppsV1().Deployments(ns).Get(ctx, "shop-web", metav1.GetOptions{}); err == nil {
			return fmt.Errorf("deployment still there")
		}
		secrets, err := cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm"})
		if err != nil {
			return err
		}
		if len(secrets.Items) != 0 {
			return fmt.Errorf("%d release secrets left", len(secrets.Items))
		}
		return nil
	})
}
