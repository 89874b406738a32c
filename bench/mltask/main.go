// Command mltask measures the GPU admission loop on a real control plane:
// a local cluster with 100 simulated GPU nodes (8 GPUs each), 5,000
// MLTasks queued across 20 projects of equal weight, one GPUQueue holding
// every GPU. It prints admissions per second, the ratio to the 100/s
// target, and the fairness deviation: how far each project's admitted
// GPU-time strays from the mean while every project still has work
// waiting.
//
// The admission loop runs alone (mltask.SetupAdmission): the bench plays
// the workloads, marking each admitted task Succeeded after its simulated
// run time, so the figure is the admission loop's and not the Job
// controller's or kwok's. The baseline, measured in the same run, is the
// rate of plain status writes to MLTasks on this machine; an admission is
// one such write, so admissions/s over writes/s says how much the loop
// costs on top.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	mlv1alpha1 "bokujo.io/bokujo/api/ml/v1alpha1"
	"bokujo.io/bokujo/api/ml/v1alpha1/crds"
	"bokujo.io/bokujo/internal/crdinstall"
	"bokujo.io/bokujo/internal/localcluster"
	"bokujo.io/bokujo/internal/mltask"
)

var (
	nTasks       = flag.Int("tasks", 5000, "queued tasks")
	nProjects    = flag.Int("projects", 20, "projects (namespaces with a LocalQueue)")
	nNodes       = flag.Int("nodes", 100, "simulated GPU nodes")
	gpusNode     = flag.Int("gpus-per-node", 8, "GPUs per node")
	runTime      = flag.Duration("run-time", time.Second, "mean simulated run time of a task (uniform from half to 1.5×)")
	baselineN    = flag.Int("baseline-writes", 1000, "status writes of the baseline")
	fairProjects = flag.Int("fair-projects", 2, "projects of the fairness phase")
	fairTasks    = flag.Int("fair-tasks", 100, "tasks of the fairness phase")
	fairGPUs     = flag.Int("fair-gpus", 16, "GPUQueue quota of the fairness phase")
	fairRunTime  = flag.Duration("fair-run-time", 4*time.Second, "mean run time in the fairness phase")
	timeout      = flag.Duration("timeout", 15*time.Minute, "give up after")
)

const (
	target   = 100.0 // admissions per second
	parallel = 8
	annoRun  = "bench.bokujo.io/run-ms"
)

func main() {
	flag.Parse()
	log.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "bench/mltask:", err)
		os.Exit(1)
	}
}

type taskInfo struct {
	project string
	gpus    int32
	run     time.Duration
}

func run(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "bokujo-bench-mltask-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	begin := time.Now()
	cluster, err := localcluster.Start(ctx, localcluster.Options{
		Name: "bench-mltask", Dir: dir, Nodes: localcluster.GPUNodes("gpu", *nNodes, *gpusNode),
		Logger:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		StartTimeout: 5 * time.Minute,
	})
	if err != nil {
		return fmt.Errorf("start cluster: %w", err)
	}
	defer cluster.Stop()
	fmt.Printf("cluster with %d GPU nodes (%d GPUs) ready in %s\n", *nNodes, *nNodes**gpusNode, time.Since(begin).Round(time.Second))
	cfg := cluster.RESTConfig()
	cfg.QPS, cfg.Burst = 2000, 4000
	list, err := crds.CRDs()
	if err != nil {
		return err
	}
	if err := crdinstall.Install(ctx, cfg, list); err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	if err := mltask.AddToScheme(scheme); err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}

	fmt.Println()
	fmt.Println("throughput: one GPUQueue holding every GPU")
	rate, _, err := phase(ctx, c, cfg, scheme, "project", int32(*nNodes**gpusNode), *nProjects, *nTasks, *runTime, *baselineN)
	if err != nil {
		return err
	}
	fmt.Printf("admissions/s: %.1f; ratio to the %.0f/s target: %.2f (≥ 1 meets it)\n", rate, target, rate/target)
	// Fairness is measured as the acceptance states it (two projects of
	// equal weight, 50 tasks each, 16 GPUs) with run times long enough
	// that the seconds a loaded machine adds to each write do not swamp
	// them: the loop shares GPU-time as it sees it, the bench measures it
	// by its own clock.
	fmt.Println()
	fmt.Printf("fairness: %d projects, %d tasks, a GPUQueue of %d GPUs, run time about %s\n", *fairProjects, *fairTasks, *fairGPUs, *fairRunTime)
	_, dev, err := phase(ctx, c, cfg, scheme, "fair", int32(*fairGPUs), *fairProjects, *fairTasks, *fairRunTime, 0)
	if err != nil {
		return err
	}
	fmt.Printf("fairness deviation: %.2f%% (target ≤ 5%%)\n", 100*dev)
	return nil
}

// phase queues tasks across the projects onto one GPUQueue of quota GPUs,
// then runs the admission loop until every task was admitted. It returns
// admissions per second and the fairness deviation.
func phase(ctx context.Context, c client.Client, cfg *rest.Config, scheme *runtime.Scheme, prefix string, quota int32, nProjects, nTasks int, runTime time.Duration, baselineN int) (float64, float64, error) {
	project := func(p int) string { return fmt.Sprintf("%s-%02d", prefix, p) }
	if err := c.Create(ctx, &mlv1alpha1.GPUQueue{ObjectMeta: metav1.ObjectMeta{Name: prefix},
		Spec: mlv1alpha1.GPUQueueSpec{Quotas: []mlv1alpha1.GPUQuota{{Product: localcluster.DefaultGPUProduct, GPUs: quota}}}}); err != nil {
		return 0, 0, err
	}
	for p := range nProjects {
		ns := project(p)
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return 0, 0, err
		}
		if err := c.Create(ctx, &mlv1alpha1.LocalQueue{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns},
			Spec: mlv1alpha1.LocalQueueSpec{GPUQueue: prefix}}); err != nil {
			return 0, 0, err
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	infos := map[types.NamespacedName]taskInfo{}
	var objs []*mlv1alpha1.MLTask
	for i := range nTasks {
		p := i % nProjects
		workers, gpus := int32(1+rng.IntN(2)), int32(1+rng.IntN(2))
		runFor := time.Duration(float64(runTime) * (0.5 + rng.Float64()))
		t := &mlv1alpha1.MLTask{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("t%05d", i), Namespace: project(p),
				Annotations: map[string]string{annoRun: strconv.FormatInt(runFor.Milliseconds(), 10)}},
			Spec: mlv1alpha1.MLTaskSpec{Image: "bench", Workers: workers, Resources: mlv1alpha1.WorkerResources{GPUs: gpus}},
		}
		objs = append(objs, t)
		infos[types.NamespacedName{Namespace: t.Namespace, Name: t.Name}] = taskInfo{project: t.Namespace, gpus: workers * gpus, run: runFor}
	}
	begin := time.Now()
	if err := each(ctx, objs, func(ctx context.Context, t *mlv1alpha1.MLTask) error { return c.Create(ctx, t) }); err != nil {
		return 0, 0, fmt.Errorf("create tasks: %w", err)
	}
	fmt.Printf("%d tasks across %d projects queued in %s\n", nTasks, nProjects, time.Since(begin).Round(time.Second))

	// Baseline: the same kind of write an admission is, without the loop.
	begin = time.Now()
	n := min(baselineN, len(objs))
	if err := each(ctx, objs[:n], func(ctx context.Context, t *mlv1alpha1.MLTask) error {
		body, _ := json.Marshal(map[string]any{"status": map[string]any{"message": "baseline write"}})
		return c.Status().Patch(ctx, t, client.RawPatch(types.MergePatchType, body))
	}); err != nil {
		return 0, 0, fmt.Errorf("baseline: %w", err)
	}
	baseline := float64(n) / time.Since(begin).Seconds()
	if n > 0 {
		fmt.Printf("baseline: %d status writes at %.0f/s (%d at a time)\n", n, baseline, parallel)
	}

	// The admission loop and the simulated workloads.
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller: ctrlconfig.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return 0, 0, err
	}
	if err := mltask.SetupAdmission(mgr, mltask.Options{FairShareHorizon: runTime, WriteParallelism: parallel}); err != nil {
		return 0, 0, err
	}
	rec := &recorder{infos: infos, admitted: map[types.NamespacedName]time.Time{}, finished: map[types.NamespacedName]time.Time{}, left: map[string]int{}}
	for _, i := range infos {
		rec.left[i.project]++
	}
	inf, err := mgr.GetCache().GetInformer(ctx, &mlv1alpha1.MLTask{})
	if err != nil {
		return 0, 0, err
	}
	finish := make(chan *mlv1alpha1.MLTask, nTasks)
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) {
			t, ok := obj.(*mlv1alpha1.MLTask)
			if !ok || t.Status.Admission == nil || t.Status.Phase != "" {
				return
			}
			if info, first := rec.admit(t); first {
				// A fresh object: the patch writes the answer into it,
				// and t belongs to the informer's cache.
				done := &mlv1alpha1.MLTask{ObjectMeta: metav1.ObjectMeta{Namespace: t.Namespace, Name: t.Name}}
				time.AfterFunc(info.run, func() { finish <- done })
			}
		},
	}); err != nil {
		return 0, 0, err
	}
	var finished atomic.Int64
	for range parallel {
		go func() {
			for t := range finish {
				body, _ := json.Marshal(map[string]any{"status": map[string]any{"phase": mlv1alpha1.PhaseSucceeded, "completionTime": metav1.Now()}})
				if err := c.Status().Patch(ctx, t, client.RawPatch(types.MergePatchType, body)); err != nil {
					if ctx.Err() == nil {
						fmt.Fprintln(os.Stderr, "finish:", err)
					}
					continue
				}
				rec.finish(t)
				finished.Add(1)
			}
		}()
	}
	mctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = mgr.Start(mctx) }()
	rec.start = time.Now()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return 0, 0, fmt.Errorf("only %d of %d tasks admitted before the timeout", rec.count(), nTasks)
		case <-tick.C:
			fmt.Printf("  %s: %d admitted, %d finished\n", time.Since(rec.start).Round(time.Second), rec.count(), finished.Load())
			continue
		case <-rec.doneCh():
		}
		break
	}
	elapsed := rec.last.Sub(rec.start)
	rate := float64(nTasks) / elapsed.Seconds()
	dev, window := rec.deviation()
	fmt.Printf("admitted %d tasks in %s: %.1f admissions/s\n", nTasks, elapsed.Round(10*time.Millisecond), rate)
	if n > 0 {
		fmt.Printf("ratio to the baseline of plain status writes: %.2f (an admission is one such write, its workload's end another)\n", rate/baseline)
	}
	fmt.Printf("GPU-time per project over the first %s (every project waiting): deviation %.2f%%\n", window.Round(100*time.Millisecond), 100*dev)
	stop()

	return rate, dev, nil
}

// each runs fn over objs, parallel at a time.
func each[T any](ctx context.Context, objs []T, fn func(context.Context, T) error) error {
	var wg sync.WaitGroup
	var first atomic.Pointer[error]
	ch := make(chan T)
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range ch {
				if err := fn(ctx, o); err != nil {
					first.CompareAndSwap(nil, &err)
				}
			}
		}()
	}
	for _, o := range objs {
		ch <- o
	}
	close(ch)
	wg.Wait()
	if e := first.Load(); e != nil {
		return *e
	}
	return nil
}

// recorder notes when each task was first seen admitted.
type recorder struct {
	mu       sync.Mutex
	infos    map[types.NamespacedName]taskInfo
	admitted map[types.NamespacedName]time.Time
	finished map[types.NamespacedName]time.Time
	left     map[string]int // tasks not yet admitted per project
	start    time.Time
	last     time.Time
	// windowEnd is when the first project had nothing left waiting.
	windowEnd time.Time
	done      chan struct{}
}

func (r *recorder) doneCh() chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done == nil {
		r.done = make(chan struct{})
	}
	return r.done
}

func (r *recorder) admit(t *mlv1alpha1.MLTask) (taskInfo, bool) {
	nn := types.NamespacedName{Namespace: t.Namespace, Name: t.Name}
	r.mu.Lock()
	defer r.mu.Unlock()
	info, ok := r.infos[nn]
	if _, seen := r.admitted[nn]; seen || !ok {
		return info, false
	}
	now := time.Now()
	r.admitted[nn] = now
	r.last = now
	r.left[info.project]--
	if r.left[info.project] == 0 && r.windowEnd.IsZero() {
		r.windowEnd = now
	}
	if len(r.admitted) == len(r.infos) {
		if r.done == nil {
			r.done = make(chan struct{})
		}
		close(r.done)
	}
	return info, true
}

func (r *recorder) finish(t *mlv1alpha1.MLTask) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finished[types.NamespacedName{Namespace: t.Namespace, Name: t.Name}] = time.Now()
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.admitted)
}

// deviation is max |g - mean| / mean over the projects' GPU-time: GPUs
// held from admission until the workload's end was written, within the
// window from the loop's start until the first project had nothing left
// waiting.
func (r *recorder) deviation() (float64, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	per := map[string]float64{}
	for nn, from := range r.admitted {
		to, ok := r.finished[nn]
		if !ok || to.After(r.windowEnd) {
			to = r.windowEnd
		}
		if to.After(from) {
			info := r.infos[nn]
			per[info.project] += float64(info.gpus) * to.Sub(from).Seconds()
		}
	}
	var sum float64
	for p := range r.left {
		sum += per[p]
	}
	mean := sum / float64(len(r.left))
	worst := 0.0
	lo, hi := "", ""
	for p := range r.left {
		worst = max(worst, math.Abs(per[p]-mean)/mean)
		if lo == "" || per[p] < per[lo] {
			lo = p
		}
		if hi == "" || per[p] > per[hi] {
			hi = p
		}
	}
	fmt.Printf("GPU-seconds per project: mean %.0f, least %.0f (%s), most %.0f (%s)\n", mean, per[lo], lo, per[hi], hi)
	return worst, r.windowEnd.Sub(r.start)
}
