// Command ui measures the web UI's pods page in a real Chromium against a
// namespace of 30,000 simulated pods, beside a baseline of 300 pods
// measured in the same run: time to the first rows, time until every row
// is in the table, the JavaScript heap, and how long a search and a
// scroll take to show their rows. One local control plane serves as
// management cluster and, imported into bokujo, as the cluster whose pods
// are shown. The pods name a scheduler that does not exist, so they stay
// Pending and cost the apiserver nothing after their creation.
//
// The browser side is web/e2e/bench.mjs (playwright-core driving Debian's
// Chromium); the server is the in-process bokujo of test/framework/testserver,
// which takes a testing.TB, supplied by testing.Benchmark.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/localcluster"
	"bokujo.io/bokujo/test/framework/testserver"
)

var (
	big      = flag.Int("pods", 30000, "pods in the measured namespace")
	baseline = flag.Int("baseline", 300, "pods in the baseline namespace")
	workers  = flag.Int("workers", 16, "concurrent pod creations")
)

const password = "bench-Pa55word-ui!"

// figures is what web/e2e/bench.mjs prints for one namespace.
type figures struct {
	Namespace     string  `json:"namespace"`
	Pods          int     `json:"pods"`
	FirstRowsMs   float64 `json:"firstRowsMs"`
	AllRowsMs     float64 `json:"allRowsMs"`
	HeapMB        float64 `json:"heapMB"`
	DOMRows       int     `json:"domRows"`
	SearchMs      float64 `json:"searchMs"`
	ScrollMs      float64 `json:"scrollMs"`
	SortMs        float64 `json:"sortMs"`
	LongestTaskMs float64 `json:"longestTaskMs"`
}

func main() {
	flag.Parse()
	var out []figures
	var runErr error
	done := false
	testing.Benchmark(func(b *testing.B) {
		if done { // testing.Benchmark calls again with a larger N
			b.SkipNow()
		}
		done = true
		out, runErr = measure(b)
	})
	if runErr != nil {
		fmt.Fprintln(os.Stderr, "bench/ui:", runErr)
		os.Exit(1)
	}
	if len(out) != 2 {
		fmt.Fprintln(os.Stderr, "bench/ui: the browser reported", len(out), "namespaces, want 2")
		os.Exit(1)
	}
	base, large := out[0], out[1]
	ratio := func(a, b float64) string {
		if b <= 0 {
			return "—"
		}
		return fmt.Sprintf("%.1fx", a/b)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "pods page in Chromium\t%d pods\t%d pods\tratio\t\n", base.Pods, large.Pods)
	fmt.Fprintf(tw, "time to first rows (ms)\t%.0f\t%.0f\t%s\t\n", base.FirstRowsMs, large.FirstRowsMs, ratio(large.FirstRowsMs, base.FirstRowsMs))
	fmt.Fprintf(tw, "time to all rows (ms)\t%.0f\t%.0f\t%s\t\n", base.AllRowsMs, large.AllRowsMs, ratio(large.AllRowsMs, base.AllRowsMs))
	fmt.Fprintf(tw, "JS heap (MB)\t%.1f\t%.1f\t%s\t\n", base.HeapMB, large.HeapMB, ratio(large.HeapMB, base.HeapMB))
	fmt.Fprintf(tw, "table rows in the DOM\t%d\t%d\t%s\t\n", base.DOMRows, large.DOMRows, ratio(float64(large.DOMRows), float64(base.DOMRows)))
	fmt.Fprintf(tw, "search to filtered rows (ms)\t%.0f\t%.0f\t%s\t\n", base.SearchMs, large.SearchMs, ratio(large.SearchMs, base.SearchMs))
	fmt.Fprintf(tw, "scroll to rows in view (ms)\t%.0f\t%.0f\t%s\t\n", base.ScrollMs, large.ScrollMs, ratio(large.ScrollMs, base.ScrollMs))
	fmt.Fprintf(tw, "sort by age (ms)\t%.0f\t%.0f\t%s\t\n", base.SortMs, large.SortMs, ratio(large.SortMs, base.SortMs))
	fmt.Fprintf(tw, "longest main-thread task (ms)\t%.0f\t%.0f\t%s\t\n", base.LongestTaskMs, large.LongestTaskMs, ratio(large.LongestTaskMs, base.LongestTaskMs))
	tw.Flush()
}

func measure(b *testing.B) ([]figures, error) {
	ctx := context.Background()
	// hack/bench.sh runs `go run ./bench/ui` from the repository's root.
	root, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	script := filepath.Join(root, "web", "e2e", "bench.mjs")
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("%s not found: run from the repository's root (make bench)", script)
	}
	if _, err := os.Stat(filepath.Join(root, "web", "node_modules", "playwright-core")); err != nil {
		return nil, fmt.Errorf("playwright-core not installed: run `make web`")
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		return nil, fmt.Errorf("%s not found: run `make deps`", chromium)
	}

	fmt.Println("starting a local control plane…")
	c, err := localcluster.Start(ctx, localcluster.Options{Name: "big", Dir: filepath.Join(b.TempDir(), "big")})
	if err != nil {
		return nil, err
	}
	defer c.Stop()
	srv := testserver.Start(b, c.RESTConfig())
	if err := srv.App.Registry.ImportConfig(ctx, "big", "", c.RESTConfig()); err != nil {
		return nil, fmt.Errorf("import the cluster: %w", err)
	}
	if _, err := srv.App.Auth.CreateLocalUser(ctx, "bench", "Bench", password); err != nil {
		return nil, err
	}
	grb := &mgmtv1.GlobalRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "bench-admin"},
		Spec: mgmtv1.GlobalRoleBindingSpec{GlobalRoleName: mgmtv1.GlobalRoleAdmin, Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: "bench"}}}
	if err := srv.App.Client.Create(ctx, grb); err != nil {
		return nil, err
	}

	cfg := c.RESTConfig()
	cfg.QPS, cfg.Burst = 5000, 5000
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	small := fmt.Sprintf("pods-%d", *baseline)
	large := fmt.Sprintf("pods-%d", *big)
	for _, ns := range []struct {
		name string
		n    int
	}{{small, *baseline}, {large, *big}} {
		if err := createPods(ctx, cs, ns.name, ns.n); err != nil {
			return nil, err
		}
	}

	fmt.Println("measuring in Chromium…")
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = filepath.Join(root, "web")
	cmd.Env = append(os.Environ(),
		"BOKUJO_URL="+srv.URL,
		"BOKUJO_CA_FILE="+srv.CAFile,
		"NODE_EXTRA_CA_CERTS="+srv.CAFile,
		"BENCH_USER=bench",
		"BENCH_PASSWORD="+password,
		"BENCH_CLUSTER=big",
		"BENCH_NAMESPACES="+small+","+large,
		"CHROMIUM="+chromium,
	)
	cmd.Stderr = os.Stderr
	data, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("browser: %w\n%s", err, data)
	}
	var out []figures
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("browser output: %w\n%s", err, data)
	}
	return out, nil
}

// createPods creates n pods in a new namespace, printing progress. The
// scheduler they name does not exist: they stay Pending, untouched.
func createPods(ctx context.Context, cs kubernetes.Interface, namespace string, n int) error {
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	start := time.Now()
	var next atomic.Int64
	var made atomic.Int64
	var first atomic.Pointer[error]
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || first.Load() != nil {
					return
				}
				pod := &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%05d", i), Labels: map[string]string{"app": "bench"}},
					Spec: corev1.PodSpec{
						SchedulerName: "bench-no-scheduler",
						Containers:    []corev1.Container{{Name: "main", Image: "bench"}},
					},
				}
				if _, err := cs.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
					first.CompareAndSwap(nil, &err)
					return
				}
				if m := made.Add(1); m%5000 == 0 {
					fmt.Printf("  %s: %d/%d pods (%s)\n", namespace, m, n, time.Since(start).Round(time.Second))
				}
			}
		}()
	}
	wg.Wait()
	if p := first.Load(); p != nil {
		return fmt.Errorf("create pods in %s: %w", namespace, *p)
	}
	fmt.Printf("  %s: %d pods in %s\n", namespace, n, time.Since(start).Round(time.Second))
	return nil
}
