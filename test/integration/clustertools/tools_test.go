// Package clustertools_test runs the cluster tools controller inside a real
// bokujo server: a ClusterTool installs monitoring or logging into an
// imported cluster with simulated nodes, reports it healthy, repairs
// drift, and removes every object when deleted.
package clustertools_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/app"
	"bokujo.io/bokujo/internal/clusters"
	"bokujo.io/bokujo/internal/clustertools"
	"bokujo.io/bokujo/internal/localcluster"
	"bokujo.io/bokujo/test/framework"
	"bokujo.io/bokujo/test/framework/testserver"
)

var env *framework.Env

func TestMain(m *testing.M) {
	framework.Main(m, &env, framework.ClusterSpec{Name: "mgmt"}, framework.ClusterSpec{Name: "dev", Nodes: localcluster.CPUNodes("dev", 2)})
}

func newTool(cluster string, tool mgmtv1.ClusterToolName) *mgmtv1.ClusterTool {
	return &mgmtv1.ClusterTool{
		ObjectMeta: metav1.ObjectMeta{Name: cluster + "-" + string(tool)},
		Spec:       mgmtv1.ClusterToolSpec{ClusterName: cluster, Tool: tool},
	}
}

func waitCondition(t *testing.T, c client.Client, name, typ string, status metav1.ConditionStatus) *mgmtv1.ClusterTool {
	t.Helper()
	var got *mgmtv1.ClusterTool
	framework.Eventually(t, framework.Medium, func() error {
		got = &mgmtv1.ClusterTool{}
		if err := c.Get(context.Background(), client.ObjectKey{Name: name}, got); err != nil {
			return err
		}
		cond := meta.FindStatusCondition(got.Status.Conditions, typ)
		if cond == nil || cond.Status != status {
			return fmt.Errorf("%s %s = %+v, want %s", name, typ, cond, status)
		}
		return nil
	})
	return got
}

func TestMonitoringAndLoggingInstallReportHealthAndGoAway(t *testing.T) {
	ctx := context.Background()
	s := testserver.Start(t, env.RESTConfig(t, "mgmt"), func(o *app.Options) { o.Components = nil })
	if err := s.App.Registry.ImportConfig(ctx, "dev", "", env.Cluster(t, "dev").RESTConfig()); err != nil && !errors.Is(err, clusters.ErrAlreadyExists) {
		t.Fatal(err)
	}
	mc := testserver.ManagementClient(t, env.RESTConfig(t, "mgmt"))
	dev := env.Client(t, "dev")

	mon := newTool("dev", mgmtv1.ToolMonitoring)
	if err := mc.Create(ctx, mon); err != nil {
		t.Fatal(err)
	}
	got := waitCondition(t, mc, mon.Name, clustertools.ConditionReady, metav1.ConditionTrue)
	if got.Status.Version != clustertools.Versions[mgmtv1.ToolMonitoring] {
		t.Errorf("version %q", got.Status.Version)
	}
	objs, err := clustertools.Objects(mgmtv1.ToolMonitoring)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Objects) != len(objs) {
		t.Errorf("status lists %d objects, want %d", len(got.Status.Objects), len(objs))
	}
	workloads := 0
	for _, o := range got.Status.Objects {
		if o.Ready != nil {
			workloads++
			if !*o.Ready {
				t.Errorf("%s %s not ready while the tool is Ready", o.Kind, o.Name)
			}
		}
	}
	if workloads != 3 {
		t.Errorf("%d workloads in status, want 3 (prometheus, kube-state-metrics, node-exporter)", workloads)
	}
	ds, err := dev.AppsV1().DaemonSets("bokujo-monitoring").Get(ctx, "node-exporter", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Status.NumberReady != 2 || ds.Labels[clustertools.ToolLabel] != "monitoring" {
		t.Errorf("node-exporter ready on %d nodes with labels %v, want 2 and the tool label", ds.Status.NumberReady, ds.Labels)
	}
	if _, err := dev.RbacV1().ClusterRoles().Get(ctx, "bokujo-monitoring-prometheus", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}

	t.Run("drift is repaired", func(t *testing.T) {
		if err := dev.CoreV1().ConfigMaps("bokujo-monitoring").Delete(ctx, "prometheus-config", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		// Any change of the object starts a pass at once (a ready tool is
		// otherwise looked at every 100 s).
		patch := client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"annotations":{"test/touch":"1"}}}`))
		if err := mc.Patch(ctx, &mgmtv1.ClusterTool{ObjectMeta: metav1.ObjectMeta{Name: mon.Name}}, patch); err != nil {
			t.Fatal(err)
		}
		framework.Eventually(t, framework.Medium, func() error {
			cm, err := dev.CoreV1().ConfigMaps("bokujo-monitoring").Get(ctx, "prometheus-config", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if !strings.Contains(cm.Data["prometheus.yml"], "kube-state-metrics") {
				return fmt.Errorf("restored config lacks the scrape jobs")
			}
			return nil
		})
	})

	t.Run("logging runs on every node", func(t *testing.T) {
		lg := newTool("dev", mgmtv1.ToolLogging)
		if err := mc.Create(ctx, lg); err != nil {
			t.Fatal(err)
		}
		waitCondition(t, mc, lg.Name, clustertools.ConditionReady, metav1.ConditionTrue)
		ds, err := dev.AppsV1().DaemonSets("bokujo-logging").Get(ctx, "fluent-bit", metav1.GetOptions{})
		if err != nil || ds.Status.NumberReady != 2 {
			t.Fatalf("fluent-bit: %v, ready on %d nodes", err, ds.Status.NumberReady)
		}
		if err := mc.Delete(ctx, lg); err != nil {
			t.Fatal(err)
		}
	})

	// Removing the tool removes what it installed, cluster-scoped objects
	// included; the other tool's objects are gone too after its deletion.
	if err := mc.Delete(ctx, mon); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, framework.Medium, func() error {
		if err := mc.Get(ctx, client.ObjectKey{Name: mon.Name}, &mgmtv1.ClusterTool{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("ClusterTool still there: %v", err)
		}
		for _, name := range []string{"bokujo-monitoring-prometheus", "bokujo-monitoring-kube-state-metrics", "bokujo-logging-fluent-bit"} {
			if _, err := dev.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("ClusterRole %s left: %v", name, err)
			}
		}
		for _, ns := range []string{"bokujo-monitoring", "bokujo-logging"} {
			n, err := dev.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			if err == nil && n.DeletionTimestamp.IsZero() {
				return fmt.Errorf("namespace %s left", ns)
			}
		}
		return nil
	})
}

func TestBadToolsAreRefusedOrReported(t *testing.T) {
	ctx := context.Background()
	testserver.Start(t, env.RESTConfig(t, "mgmt"), func(o *app.Options) { o.Components = nil })
	mc := testserver.ManagementClient(t, env.RESTConfig(t, "mgmt"))

	bad := []struct {
		name string
		tool *mgmtv1.ClusterTool
		want string
	}{
		{"name must be cluster-tool", &mgmtv1.ClusterTool{ObjectMeta: metav1.ObjectMeta{Name: "metrics"}, Spec: mgmtv1.ClusterToolSpec{ClusterName: "dev", Tool: mgmtv1.ToolMonitoring}},
			"metadata.name must be <spec.clusterName>-<spec.tool>"},
		{"unknown tool", &mgmtv1.ClusterTool{ObjectMeta: metav1.ObjectMeta{Name: "dev-tracing"}, Spec: mgmtv1.ClusterToolSpec{ClusterName: "dev", Tool: "tracing"}},
			`Unsupported value: "tracing"`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			err := mc.Create(ctx, tc.tool)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("create: %v, want an error naming %q", err, tc.want)
			}
		})
	}

	// A tool for a cluster bokujo does not know says so, and can be
	// deleted (nothing to remove).
	ghost := newTool("ghost", mgmtv1.ToolLogging)
	if err := mc.Create(ctx, ghost); err != nil {
		t.Fatal(err)
	}
	got := waitCondition(t, mc, ghost.Name, clustertools.ConditionInstalled, metav1.ConditionFalse)
	if c := meta.FindStatusCondition(got.Status.Conditions, clustertools.ConditionInstalled); c.Reason != "ClusterNotFound" || !strings.Contains(c.Message, "ghost") {
		t.Errorf("Installed = %+v, want ClusterNotFound naming the cluster", c)
	}
	// The cluster and tool cannot be changed in place.
	got.Spec.Tool = mgmtv1.ToolMonitoring
	if err := mc.Update(ctx, got); err == nil || !strings.Contains(err.Error(), "cannot change") {
		t.Errorf("changing the tool: %v, want refused", err)
	}
	if err := mc.Delete(ctx, ghost); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, framework.Medium, func() error {
		if err := mc.Get(ctx, client.ObjectKey{Name: ghost.Name}, &mgmtv1.ClusterTool{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("ghost tool still there: %v", err)
		}
		return nil
	})
}
