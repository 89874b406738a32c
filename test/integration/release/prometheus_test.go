package release_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	deliveryv1 "bokujo.io/bokujo/api/delivery/v1alpha1"
	"bokujo.io/bokujo/internal/metrics"
	"bokujo.io/bokujo/internal/release"
	"bokujo.io/bokujo/test/framework"
)

// startPrometheus runs the real Prometheus server (Debian package
// prometheus, see hack/install-deps.sh) scraping target every second, and
// returns its base URL.
func startPrometheus(t *testing.T, targets ...string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("prometheus not found: run `make deps` (Debian package prometheus)")
	}
	dir := t.TempDir()
	cfg := "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n"
	for i, target := range targets {
		u, err := url.Parse(target)
		if err != nil {
			t.Fatal(err)
		}
		cfg += fmt.Sprintf("- job_name: job%d\n  static_configs:\n  - targets: [%q]\n", i, u.Host)
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "prometheus.log")); err == nil {
				t.Logf("prometheus log:\n%s", b)
			}
		}
	})
	base := "http://" + addr
	framework.Eventually(t, framework.Medium, func() error {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("prometheus not ready: %s", resp.Status)
		}
		return nil
	})
	return base
}

// promValue is the value Prometheus gives for query now, or an error.
func promValue(base, query string) (float64, error) {
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var out struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, err
	}
	if len(out.Data.Result) == 0 {
		return 0, fmt.Errorf("no samples for %s", query)
	}
	s, _ := out.Data.Result[0].Value[1].(string)
	return strconv.ParseFloat(s, 64)
}

// TestPrometheusAnalysis: a real Prometheus scrapes an error ratio the test
// serves. A release whose canary keeps it under the threshold is promoted;
// one that breaches it is rolled back with the stable version serving.
func TestPrometheusAnalysis(t *testing.T) {
	reg := prometheus.NewRegistry()
	errorRatio := prometheus.NewGauge(prometheus.GaugeOpts{Name: "web_error_ratio", Help: "Share of requests answered with 5xx."})
	reg.MustRegister(errorRatio)
	app := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(app.Close)
	// Prometheus also scrapes bokujo's own metrics listener.
	mctx, stopMetrics := context.WithCancel(context.Background())
	t.Cleanup(stopMetrics)
	maddr, _, err := metrics.Serve(mctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	prom := startPrometheus(t, app.URL, "http://"+maddr.String())

	// The metrics are the process's own: a cluster name of this run keeps
	// counts of earlier runs (go test -count N) apart.
	clusterName := fmt.Sprintf("prom-test-%d", time.Now().UnixNano())
	c := startController(t, release.Options{ClusterName: clusterName})
	ns := env.Namespace(t, cluster)
	webApp(t, ns, 10, "web:v1")
	cs := env.Client(t, cluster)
	ctx := context.Background()

	waitScraped := func(v float64) {
		t.Helper()
		framework.Eventually(t, framework.Medium, func() error {
			got, err := promValue(prom, "web_error_ratio")
			if err != nil {
				return err
			}
			if got != v {
				return fmt.Errorf("prometheus has %g, want %g", got, v)
			}
			return nil
		})
	}
	newRelease := func(name, image string) *deliveryv1.Release {
		return &deliveryv1.Release{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: deliveryv1.ReleaseSpec{
				Deployment: "web",
				Images:     []deliveryv1.ContainerImage{{Container: "web", Image: image}},
				Strategy: deliveryv1.CanaryStrategy{Steps: []deliveryv1.CanaryStep{
					{Pause: &deliveryv1.Pause{Duration: dur(2 * time.Second)}},
				}},
				Analysis: deliveryv1.Analysis{
					Interval: dur(time.Second),
					Prometheus: &deliveryv1.PrometheusAnalysis{
						Address: prom,
						Queries: []deliveryv1.PrometheusQuery{{Name: "error-ratio", Query: "max(web_error_ratio)", Max: "0.01"}},
					},
				},
			},
		}
	}

	// A healthy canary: 0.1 % errors.
	errorRatio.Set(0.001)
	waitScraped(0.001)
	if err := c.Create(ctx, newRelease("web-v2", "web:v2")); err != nil {
		t.Fatal(err)
	}
	good := waitPhase(t, c, ns, "web-v2", deliveryv1.PhasePromoted, framework.Medium)
	var passed int
	for _, m := range good.Status.Measurements {
		if m.Name == "error-ratio" {
			if m.Result != deliveryv1.ResultPassed || m.Value != "0.001" {
				t.Errorf("measurement %+v, want Passed with 0.001", m)
			}
			passed++
		}
	}
	if passed == 0 {
		t.Fatalf("no error-ratio measurement recorded: %+v", good.Status.Measurements)
	}
	framework.Eventually(t, framework.Medium, func() error {
		counts, err := countPods(ctx, cs, ns)
		if err != nil {
			return err
		}
		if counts["web:v2"] != 10 {
			return fmt.Errorf("ready pods %v, want 10 web:v2", counts)
		}
		return nil
	})

	// A bad canary: 20 % errors, above the 1 % threshold.
	errorRatio.Set(0.2)
	waitScraped(0.2)
	w := watchPods(t, ns, "web:v2")
	if err := c.Create(ctx, newRelease("web-v3", "web:v3")); err != nil {
		t.Fatal(err)
	}
	bad := waitPhase(t, c, ns, "web-v3", deliveryv1.PhaseRolledBack, framework.Medium)
	if !hasHistory(bad, deliveryv1.ReasonAnalysisFailed, 1) {
		t.Fatalf("rolled back without AnalysisFailed at step 1: %+v", bad.Status.History)
	}
	h := meta.FindStatusCondition(bad.Status.Conditions, deliveryv1.ConditionHealthy)
	if h == nil || h.Status != metav1.ConditionFalse || !strings.Contains(h.Message, "error-ratio = 0.2") {
		t.Fatalf("Healthy = %+v, want False naming error-ratio = 0.2", h)
	}
	framework.Eventually(t, framework.Medium, func() error {
		counts, err := countPods(ctx, cs, ns)
		if err != nil {
			return err
		}
		if counts["web:v2"] != 10 || counts["web:v3"] != 0 {
			return fmt.Errorf("ready pods %v, want 10 web:v2 and no web:v3", counts)
		}
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Spec.Paused || d.Spec.Template.Spec.Containers[0].Image != "web:v2" {
			return fmt.Errorf("deployment paused=%t image=%s", d.Spec.Paused, d.Spec.Template.Spec.Containers[0].Image)
		}
		return nil
	})
	w.Stop()
	if w.minTotal < 10 {
		t.Errorf("ready pods dropped to %d, want never below 10", w.minTotal)
	}

	// bokujo's metrics, as Prometheus scraped them, count one promoted and
	// one rolled back release of this cluster.
	for _, q := range []string{
		`sum(bokujo_releases_finished_total{cluster="` + clusterName + `",outcome="Promoted"})`,
		`sum(bokujo_releases_finished_total{cluster="` + clusterName + `",outcome="RolledBack",reason="AnalysisFailed"})`,
		`sum(bokujo_releases_started_total{cluster="` + clusterName + `"})`,
	} {
		want := 1.0
		if strings.Contains(q, "started") {
			want = 2
		}
		framework.Eventually(t, framework.Medium, func() error {
			v, err := promValue(prom, q)
			if err != nil {
				return err
			}
			if v != want {
				return fmt.Errorf("%s = %g, want %g", q, v, want)
			}
			return nil
		})
	}
}
