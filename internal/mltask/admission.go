package mltask

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	mlv1alpha1 "bokujo.io/bokujo/api/ml/v1alpha1"
	"bokujo.io/bokujo/internal/gpuqueue"
)

// cycleKey is the one request of the admission loop: every change to a
// task or queue asks for a new cycle over the whole cluster, and the
// workqueue folds a burst of changes into one cycle.
var cycleKey = reconcile.Request{NamespacedName: types.NamespacedName{Name: "admission-cycle"}}

// admission runs gpuqueue.Schedule over the cached queues and tasks and
// writes its decisions into the tasks' status.
type admission struct {
	client client.Client
	opts   Options

	mu sync.Mutex
	// assumed holds decisions written but not yet seen in the cache, so
	// that a cycle running on a cache that lags its own writes neither
	// counts quota twice nor forgets it (Kueue's "assume" step).
	assumed         map[types.NamespacedName]assumption
	lastStatusWrite time.Time
	lastCycle       time.Time
	// lastCycleTook is how long the previous cycle took, writes included:
	// what a task admitted now is charged before the next cycle looks.
	lastCycleTook time.Duration
	// holds and history are the GPU-time ledger of fair sharing, in
	// GPU-milliseconds: holds of tasks that exist, keyed by UID, and per
	// LocalQueue what deleted tasks used. Times are as this loop saw
	// them, finer than the seconds the API stores; after a restart the
	// ledger starts again from the tasks' status.
	holds   map[types.UID]*hold
	history map[string]int64
}

// hold is one admission of a task: its GPUs from since until until (zero
// while it still holds them).
type hold struct {
	lq           string
	gpus         int64
	since, until time.Time
}

func (h *hold) ms(now time.Time) int64 {
	end := h.until
	if end.IsZero() {
		end = now
	}
	if d := end.Sub(h.since); d > 0 {
		return h.gpus * d.Milliseconds()
	}
	return 0
}

// account keeps the ledger of t's hold up to date.
func (a *admission) account(t *mlv1alpha1.MLTask, adm *mlv1alpha1.Admission, lq string, now time.Time) {
	h := a.holds[t.UID]
	if adm == nil {
		if h != nil { // preempted or stopped: the hold ended
			if h.until.IsZero() {
				h.until = now
			}
			a.history[h.lq] += h.ms(now)
			delete(a.holds, t.UID)
		}
		return
	}
	if h == nil {
		h = &hold{lq: lq, gpus: int64(t.TotalGPUs()), since: adm.AdmittedAt.Time}
		if t.Finished() && t.Status.CompletionTime != nil {
			h.until = t.Status.CompletionTime.Time
		}
		a.holds[t.UID] = h
	}
	if h.until.IsZero() && (t.Finished() || t.Spec.State == mlv1alpha1.StateStopped || !t.DeletionTimestamp.IsZero()) {
		h.until = now
	}
}

type assumption struct {
	uid       types.UID
	admission *mlv1alpha1.Admission // nil: released
}

var _ reconcile.Reconciler = &admission{}

func newAdmission(c client.Client, opts Options) *admission {
	return &admission{client: c, opts: opts, assumed: map[types.NamespacedName]assumption{},
		holds: map[types.UID]*hold{}, history: map[string]int64{}}
}

type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]

func (a *admission) always() handler.EventHandler {
	return handler.Funcs{
		CreateFunc:  func(_ context.Context, _ event.CreateEvent, q queue) { q.Add(cycleKey) },
		UpdateFunc:  func(_ context.Context, _ event.UpdateEvent, q queue) { q.Add(cycleKey) },
		DeleteFunc:  func(_ context.Context, _ event.DeleteEvent, q queue) { q.Add(cycleKey) },
		GenericFunc: func(_ context.Context, _ event.GenericEvent, q queue) { q.Add(cycleKey) },
	}
}

func (a *admission) onTaskCreate(_ context.Context, _ event.CreateEvent, q queue) { q.Add(cycleKey) }
func (a *admission) onTaskDelete(_ context.Context, _ event.DeleteEvent, q queue) { q.Add(cycleKey) }
func (a *admission) onTaskGeneric(_ context.Context, _ event.GenericEvent, q queue) {
	q.Add(cycleKey)
}

// onTaskUpdate skips updates that cannot change a decision (the positions
// this loop writes itself, workers becoming ready), which would otherwise
// run a cycle per task per write.
func (a *admission) onTaskUpdate(_ context.Context, e event.UpdateEvent, q queue) {
	o, ok1 := e.ObjectOld.(*mlv1alpha1.MLTask)
	n, ok2 := e.ObjectNew.(*mlv1alpha1.MLTask)
	if !ok1 || !ok2 || o.Generation != n.Generation || o.Status.Phase != n.Status.Phase ||
		(o.Status.Admission == nil) != (n.Status.Admission == nil) || !n.DeletionTimestamp.IsZero() {
		q.Add(cycleKey)
	}
}

// +kubebuilder:rbac:groups=ml.bokujo.io,resources=mltasks;gpuqueues;localqueues,verbs=get;list;watch
// +kubebuilder:rbac:groups=ml.bokujo.io,resources=mltasks/status;gpuqueues/status;localqueues/status,verbs=patch;update

// Reconcile runs one admission cycle.
func (a *admission) Reconcile(ctx context.Context, _ reconcile.Request) (ctrl.Result, error) {
	// Cycles are paced: changes arriving meanwhile fold into the next
	// one, which then decides more at once for the same cost of reading
	// every task.
	if wait := a.opts.CycleInterval - a.opts.Clock.Since(a.lastCycle); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	a.lastCycle = a.opts.Clock.Now()
	defer func() { a.lastCycleTook = a.opts.Clock.Since(a.lastCycle) }()
	noCopy := &client.ListOptions{UnsafeDisableDeepCopy: ptrTrue()}
	var gqs mlv1alpha1.GPUQueueList
	var lqs mlv1alpha1.LocalQueueList
	var tasks mlv1alpha1.MLTaskList
	if err := a.client.List(ctx, &gqs, noCopy); err != nil {
		return ctrl.Result{}, fmt.Errorf("list GPU queues: %w", err)
	}
	if err := a.client.List(ctx, &lqs, noCopy); err != nil {
		return ctrl.Result{}, fmt.Errorf("list local queues: %w", err)
	}
	if err := a.client.List(ctx, &tasks, noCopy); err != nil {
		return ctrl.Result{}, fmt.Errorf("list ML tasks: %w", err)
	}
	now := a.opts.Clock.Now()
	// stale are tasks whose cached status predates a decision this loop
	// wrote: their queue status is left alone until the cache shows it,
	// or a cycle on the lagging cache would overwrite, say, Preempted.
	snap, byKey, releases, stale := a.snapshot(now, &gqs, &lqs, &tasks)
	res := gpuqueue.Schedule(snap)

	// Decisions are written at once; positions and usage are throttled.
	var writes []func(context.Context) error
	for _, ad := range res.Admitted {
		t := byKey[ad.Key]
		adm := &mlv1alpha1.Admission{GPUQueue: ad.Assignment.ClusterQueue, GPUProduct: ad.Assignment.Product,
			Borrowed: ad.Assignment.Borrowed, AdmittedAt: metav1.NewTime(now.Truncate(time.Second))}
		a.mu.Lock()
		a.holds[t.UID] = &hold{lq: t.Namespace + "/" + t.Spec.Queue, gpus: int64(t.TotalGPUs()), since: now}
		a.mu.Unlock()
		writes = append(writes, a.writeDecision(t, adm, nil))
	}
	for _, p := range res.Preempted {
		t := byKey[p.Key]
		writes = append(writes, a.writeDecision(t, nil, &mlv1alpha1.QueueStatus{Reason: mlv1alpha1.ReasonPreempted, Message: p.Message}))
	}
	for _, t := range releases {
		writes = append(writes, a.writeDecision(t, nil, nil))
	}
	// While the loop is busy admitting, positions and usage wait longer:
	// the API server's writes go to admissions first.
	interval := a.opts.StatusInterval
	if len(writes) > 0 {
		interval *= 5
	}
	a.mu.Lock()
	statusDue := now.Sub(a.lastStatusWrite) >= interval
	if statusDue {
		a.lastStatusWrite = now
	}
	a.mu.Unlock()
	type deferred struct {
		t *mlv1alpha1.MLTask
		q *mlv1alpha1.QueueStatus
	}
	var later []deferred
	for key, w := range res.Waiting {
		if stale[key] {
			continue
		}
		t := byKey[key]
		want := &mlv1alpha1.QueueStatus{Position: w.Position, Reason: w.Reason, Message: truncate(w.Message, 1024)}
		have := t.Status.Queue
		if have != nil && have.Reason == mlv1alpha1.ReasonPreempted && want.Reason == gpuqueue.ReasonWaitingForQuota {
			// Why it waits again stays visible until it is re-admitted.
			want.Reason, want.Message = have.Reason, have.Message
		}
		if have != nil && *have == *want {
			continue
		}
		// A new reason (a task found inadmissible, a queue created) is
		// news and goes out at once; a place in the queue can wait.
		switch {
		case (have == nil && want.Reason != gpuqueue.ReasonWaitingForQuota) || (have != nil && have.Reason != want.Reason):
			writes = append(writes, a.writeQueue(t, want))
		case have == nil || positionNews(have.Position, want.Position) || (want.Position == 1 && have.Message != want.Message):
			later = append(later, deferred{t, want})
		}
	}
	pendingPositions := len(later) > 0
	if statusDue && len(later) > 0 {
		slices.SortFunc(later, func(x, y deferred) int { return cmp.Compare(x.q.Position, y.q.Position) })
		for _, d := range later[:min(len(later), a.opts.MaxPositionWrites)] {
			writes = append(writes, a.writeQueue(d.t, d.q))
		}
	}
	if statusDue {
		writes = append(writes, a.queueStatusWrites(&gqs, &lqs, res)...)
	}
	if err := a.run(ctx, writes); err != nil {
		return ctrl.Result{}, err
	}
	if pendingPositions {
		return ctrl.Result{RequeueAfter: a.opts.StatusInterval}, nil
	}
	return ctrl.Result{}, nil
}

func ptrTrue() *bool { b := true; return &b }

// snapshot turns the cache into the scheduler's input. It returns the
// tasks by key, the admitted tasks that must give their quota back
// because they were stopped, and the tasks whose cached status lags a
// decision written.
func (a *admission) snapshot(now time.Time, gqs *mlv1alpha1.GPUQueueList, lqs *mlv1alpha1.LocalQueueList, tasks *mlv1alpha1.MLTaskList) (gpuqueue.Snapshot, map[string]*mlv1alpha1.MLTask, []*mlv1alpha1.MLTask, map[string]bool) {
	// GPUs in use count ahead at least until the next cycle: under load a
	// cycle (its writes) can outlast the configured horizon, and a batch
	// admitted at once would otherwise be shared by GPU-time already used
	// alone, swinging from one project to the next.
	snap := gpuqueue.Snapshot{Horizon: max(a.opts.FairShareHorizon, a.lastCycleTook).Milliseconds()}
	for i := range gqs.Items {
		q := &gqs.Items[i]
		cq := gpuqueue.ClusterQueue{Name: q.Name, Cohort: q.Spec.Cohort, Preempt: q.Spec.Preemption == mlv1alpha1.PreemptLowerPriority}
		for _, quota := range q.Spec.Quotas {
			limit := int32(-1)
			if quota.BorrowingLimit != nil {
				limit = *quota.BorrowingLimit
			}
			cq.Quotas = append(cq.Quotas, gpuqueue.Quota{Product: quota.Product, Nominal: quota.GPUs, BorrowingLimit: limit})
		}
		snap.ClusterQueues = append(snap.ClusterQueues, cq)
	}
	byKey := make(map[string]*mlv1alpha1.MLTask, len(tasks.Items))
	var releases []*mlv1alpha1.MLTask
	a.mu.Lock()
	defer a.mu.Unlock()
	seen := make(map[types.NamespacedName]bool, len(tasks.Items))
	seenUID := make(map[types.UID]bool, len(tasks.Items))
	stale := map[string]bool{}
	for i := range tasks.Items {
		t := &tasks.Items[i]
		nn := types.NamespacedName{Namespace: t.Namespace, Name: t.Name}
		seen[nn] = true
		seenUID[t.UID] = true
		key := nn.String()
		byKey[key] = t
		lqKey := t.Namespace + "/" + t.Spec.Queue
		adm := t.Status.Admission
		if as, ok := a.assumed[nn]; ok {
			switch {
			case as.uid != t.UID:
				delete(a.assumed, nn)
			case (as.admission == nil) == (adm == nil):
				delete(a.assumed, nn) // the cache caught up
			default:
				adm = as.admission
				stale[key] = true
			}
		}
		a.account(t, adm, lqKey, now)
		if !t.DeletionTimestamp.IsZero() || t.Finished() {
			continue
		}
		if t.Spec.State == mlv1alpha1.StateStopped {
			if adm != nil {
				releases = append(releases, t)
			}
			continue
		}
		task := gpuqueue.Task{
			Key: key, LocalQueue: lqKey, Priority: t.Spec.Priority, Created: t.CreationTimestamp.UnixNano(),
			Workers: t.Spec.Workers, GPUsPerWorker: t.Spec.Resources.GPUs, Product: t.Spec.Resources.GPUProduct,
		}
		if adm != nil {
			task.Admitted = &gpuqueue.Assignment{ClusterQueue: adm.GPUQueue, Product: adm.GPUProduct, Borrowed: adm.Borrowed}
		}
		snap.Tasks = append(snap.Tasks, task)
	}
	for nn := range a.assumed {
		if !seen[nn] {
			delete(a.assumed, nn)
		}
	}
	consumed := make(map[string]int64, len(a.history))
	for lq, ms := range a.history {
		consumed[lq] = ms
	}
	for uid, h := range a.holds {
		if !seenUID[uid] {
			// The task is gone; what it used stays its queue's.
			a.history[h.lq] += h.ms(now)
			delete(a.holds, uid)
			continue
		}
		consumed[h.lq] += h.ms(now)
	}
	for i := range lqs.Items {
		q := &lqs.Items[i]
		key := q.Namespace + "/" + q.Name
		snap.LocalQueues = append(snap.LocalQueues, gpuqueue.LocalQueue{Key: key, ClusterQueue: q.Spec.GPUQueue, Weight: q.Spec.Weight, Consumed: consumed[key]})
	}
	return snap, byKey, releases, stale
}

// writeDecision sets or clears a task's admission, assuming the result
// until the cache shows it.
func (a *admission) writeDecision(t *mlv1alpha1.MLTask, adm *mlv1alpha1.Admission, q *mlv1alpha1.QueueStatus) func(context.Context) error {
	nn := types.NamespacedName{Namespace: t.Namespace, Name: t.Name}
	uid := t.UID
	a.mu.Lock()
	a.assumed[nn] = assumption{uid: uid, admission: adm}
	a.mu.Unlock()
	return func(ctx context.Context) error {
		err := a.patchStatus(ctx, nn, uid, map[string]any{"admission": adm, "queue": q})
		if err != nil {
			a.mu.Lock()
			delete(a.assumed, nn)
			a.mu.Unlock()
		}
		return err
	}
}

func (a *admission) writeQueue(t *mlv1alpha1.MLTask, q *mlv1alpha1.QueueStatus) func(context.Context) error {
	nn := types.NamespacedName{Namespace: t.Namespace, Name: t.Name}
	uid := t.UID
	return func(ctx context.Context) error {
		return a.patchStatus(ctx, nn, uid, map[string]any{"queue": q})
	}
}

// patchStatus merge-patches fields of a task's status that only this loop
// writes; the uid precondition keeps a decision for a deleted task off a
// new one of the same name.
func (a *admission) patchStatus(ctx context.Context, nn types.NamespacedName, uid types.UID, status map[string]any) error {
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{"uid": uid}, "status": status})
	if err != nil {
		return err
	}
	t := &mlv1alpha1.MLTask{}
	t.Namespace, t.Name = nn.Namespace, nn.Name
	if err := a.client.Status().Patch(ctx, t, client.RawPatch(types.MergePatchType, body)); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return nil
		}
		return fmt.Errorf("write admission status of MLTask %s: %w", nn, err)
	}
	return nil
}

func (a *admission) queueStatusWrites(gqs *mlv1alpha1.GPUQueueList, lqs *mlv1alpha1.LocalQueueList, res gpuqueue.Result) []func(context.Context) error {
	var out []func(context.Context) error
	for i := range gqs.Items {
		q := &gqs.Items[i]
		u := res.ClusterQueueUsage[q.Name]
		want := mlv1alpha1.GPUQueueStatus{AdmittedTasks: u.Admitted, PendingTasks: u.Pending}
		for _, quota := range q.Spec.Quotas {
			want.Usage = append(want.Usage, mlv1alpha1.GPUUsage{Product: quota.Product, GPUs: u.GPUs[quota.Product], Borrowed: u.Borrowed[quota.Product]})
		}
		if reflect.DeepEqual(want, q.Status) {
			continue
		}
		name := q.Name
		out = append(out, func(ctx context.Context) error {
			obj := &mlv1alpha1.GPUQueue{}
			obj.Name = name
			return a.patchObjectStatus(ctx, obj, want)
		})
	}
	for i := range lqs.Items {
		q := &lqs.Items[i]
		u := res.LocalQueueUsage[q.Namespace+"/"+q.Name]
		var gpus int32
		for _, n := range u.GPUs {
			gpus += n
		}
		want := mlv1alpha1.LocalQueueStatus{GPUs: gpus, AdmittedTasks: u.Admitted, PendingTasks: u.Pending}
		if want == q.Status {
			continue
		}
		ns, name := q.Namespace, q.Name
		out = append(out, func(ctx context.Context) error {
			obj := &mlv1alpha1.LocalQueue{}
			obj.Namespace, obj.Name = ns, name
			return a.patchObjectStatus(ctx, obj, want)
		})
	}
	return out
}

func (a *admission) patchObjectStatus(ctx context.Context, obj client.Object, status any) error {
	body, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return err
	}
	if err := a.client.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, body)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("write status of %s: %w", obj.GetName(), err)
	}
	return nil
}

// run performs the writes, WriteParallelism at a time.
func (a *admission) run(ctx context.Context, writes []func(context.Context) error) error {
	if len(writes) == 0 {
		return nil
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(a.opts.WriteParallelism)
	for _, w := range writes {
		g.Go(func() error { return w(ctx) })
	}
	err := g.Wait()
	if err != nil {
		log.FromContext(ctx).Error(err, "admission cycle: some writes failed; retrying")
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// positionNews says whether a waiting task's new place is worth a write:
// exact among the first ten of a queue, within a tenth further back. Every
// admission moves every task behind it, and writing each move would cost
// more API writes than the admissions themselves.
func positionNews(old, cur int32) bool {
	if old == cur {
		return false
	}
	if cur <= 10 || old <= 10 {
		return true
	}
	d := old - cur
	if d < 0 {
		d = -d
	}
	return d*10 >= old
}
