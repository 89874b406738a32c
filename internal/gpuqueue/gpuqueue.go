// Package gpuqueue decides which waiting GPU tasks are admitted: a pure
// function from a snapshot of queues and tasks to admissions, preemptions
// and the reason each remaining task waits. It knows nothing of Kubernetes,
// so the mltask controller, the simulation tests and the benchmark share
// one implementation.
//
// The model follows Kueue (ClusterQueue / LocalQueue / cohort, nominal
// quota, borrowing limit, flavors tried in order, reclaiming borrowed
// quota) and Volcano (queue weights), reduced to GPUs:
//
//   - A ClusterQueue (the GPUQueue API object) has a nominal quota per GPU
//     product. Queues of one cohort lend each other what they do not use;
//     a queue may exceed its nominal quota by at most its borrowing limit.
//   - A LocalQueue (a project's queue) draws from one ClusterQueue with a
//     weight. Within a LocalQueue tasks are ordered by priority, then age
//     (strict FIFO: a head that does not fit blocks its queue).
//   - Across LocalQueues the next head considered is the one whose queue
//     has had the least GPU-time per weight, counting the GPUs it holds
//     for a horizon ahead (fair sharing of one resource over time, like
//     Kueue's admission fair sharing and YARN's fair scheduler). When that head
//     does not fit only because the cohort is full, later heads may not
//     take the product it waits for: small tasks cannot starve large ones
//     and the fair order holds.
//   - A task is admitted whole (gang admission: all workers or none).
//   - With preemption LowerPriority, a task that fits its queue's nominal
//     quota reclaims it from lower-priority tasks of other queues that
//     borrow, newest first.
package gpuqueue

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Reasons a task waits; they match the MLTask condition reasons.
const (
	ReasonWaitingForQuota   = "WaitingForQuota"
	ReasonLocalQueueMissing = "LocalQueueNotFound"
	ReasonGPUQueueMissing   = "GPUQueueNotFound"
	ReasonExceedsQuota      = "ExceedsQuota"
)

// Quota is a ClusterQueue's share of one product.
type Quota struct {
	Product string
	Nominal int32
	// BorrowingLimit caps GPUs beyond Nominal; negative means no cap.
	BorrowingLimit int32
}

// ClusterQueue is a GPUQueue.
type ClusterQueue struct {
	Name   string
	Cohort string
	Quotas []Quota
	// Preempt reclaims borrowed quota from lower-priority tasks.
	Preempt bool
}

// LocalQueue is a project's queue; Key is namespace/name.
type LocalQueue struct {
	Key          string
	ClusterQueue string
	Weight       int32
	// Consumed is the GPU-time (GPU-seconds) the queue's tasks have
	// used so far, running ones included. Fair sharing compares it, so a
	// queue that got less earlier catches up; zero for all queues falls
	// back to GPUs in use.
	Consumed int64
}

// Assignment is the quota an admitted task holds.
type Assignment struct {
	ClusterQueue string
	Product      string
	Borrowed     int32
}

// Task is a task that is waiting or holds quota. Finished and stopped
// tasks are left out of the snapshot.
type Task struct {
	Key        string
	LocalQueue string // namespace/name
	Priority   int32
	// Created orders tasks of equal priority (older first); any
	// monotonic number, e.g. Unix nanoseconds.
	Created       int64
	Workers       int32
	GPUsPerWorker int32
	// Product is the product the task asks for; empty means any.
	Product string
	// Admitted is the quota the task holds, nil while it waits.
	Admitted *Assignment
}

// GPUs is the task's total.
func (t *Task) GPUs() int32 { return t.Workers * t.GPUsPerWorker }

// Snapshot is the input of one scheduling cycle.
type Snapshot struct {
	// Horizon is how long GPUs in use count ahead in fair sharing, in
	// the unit of LocalQueue.Consumed; about a typical task's run time
	// works best (see TestFairnessSimulation).
	Horizon       int64
	ClusterQueues []ClusterQueue
	LocalQueues   []LocalQueue
	Tasks         []Task
}

// Admission admits a waiting task.
type Admission struct {
	Key        string
	Assignment Assignment
}

// Preemption takes quota back from an admitted task.
type Preemption struct {
	Key     string
	Message string
}

// Wait says where a task that stays waiting stands.
type Wait struct {
	// Position is 1-based among the waiting tasks of its LocalQueue.
	Position int32
	Reason   string
	Message  string
}

// Usage is GPUs in use per product, and how many are borrowed.
type Usage struct {
	GPUs     map[string]int32
	Borrowed map[string]int32
	Admitted int32
	Pending  int32
}

// Result is the outcome of one cycle.
type Result struct {
	Admitted  []Admission
	Preempted []Preemption
	// Waiting holds every task left waiting, keyed by Task.Key.
	Waiting map[string]Wait
	// ClusterQueueUsage and LocalQueueUsage are after this cycle's
	// decisions, keyed by ClusterQueue.Name and LocalQueue.Key.
	ClusterQueueUsage map[string]Usage
	LocalQueueUsage   map[string]Usage
}

type cqState struct {
	ClusterQueue
	quota map[string]Quota
	usage map[string]int32
}

func (c *cqState) limit(product string) int32 {
	q := c.quota[product]
	if q.BorrowingLimit < 0 {
		return -1
	}
	return q.Nominal + q.BorrowingLimit
}

type cohortState struct {
	capacity map[string]int32
	usage    map[string]int32
	blocked  map[string]bool
	members  []*cqState
}

type lqState struct {
	LocalQueue
	cq      *cqState
	usage   int32
	pending []*Task
	blocked bool
}

type scheduler struct {
	cqs     map[string]*cqState
	cohorts map[string]*cohortState
	lqs     map[string]*lqState
	res     Result
	byKey   map[string]*Task
}

// Schedule runs one admission cycle. It does not modify s.
func Schedule(s Snapshot) Result {
	sc := &scheduler{
		cqs:     map[string]*cqState{},
		cohorts: map[string]*cohortState{},
		lqs:     map[string]*lqState{},
		byKey:   map[string]*Task{},
		res:     Result{Waiting: map[string]Wait{}},
	}
	for _, cq := range s.ClusterQueues {
		st := &cqState{ClusterQueue: cq, quota: map[string]Quota{}, usage: map[string]int32{}}
		for _, q := range cq.Quotas {
			st.quota[q.Product] = q
		}
		sc.cqs[cq.Name] = st
		co := sc.cohort(st)
		co.members = append(co.members, st)
		for _, q := range cq.Quotas {
			co.capacity[q.Product] += q.Nominal
		}
	}
	for _, lq := range s.LocalQueues {
		w := lq.Weight
		if w < 1 {
			w = 1
		}
		lq.Weight = w
		sc.lqs[lq.Key] = &lqState{LocalQueue: lq, cq: sc.cqs[lq.ClusterQueue]}
	}
	tasks := make([]*Task, len(s.Tasks))
	for i := range s.Tasks {
		t := s.Tasks[i]
		if t.Admitted != nil {
			a := *t.Admitted
			t.Admitted = &a
		}
		tasks[i] = &t
		sc.byKey[t.Key] = &t
	}
	// Quota held by admitted tasks counts first, wherever they came from.
	for _, t := range tasks {
		if t.Admitted == nil {
			continue
		}
		sc.charge(t, t.Admitted, 1)
	}
	for _, t := range tasks {
		if t.Admitted != nil {
			continue
		}
		lq := sc.lqs[t.LocalQueue]
		if lq == nil {
			sc.res.Waiting[t.Key] = Wait{Reason: ReasonLocalQueueMissing,
				Message: fmt.Sprintf("LocalQueue %q does not exist: create it (bound to a GPUQueue) or set spec.queue to an existing one", name(t.LocalQueue))}
			continue
		}
		if lq.cq == nil {
			sc.res.Waiting[t.Key] = Wait{Reason: ReasonGPUQueueMissing,
				Message: fmt.Sprintf("LocalQueue %q points at GPUQueue %q, which does not exist: ask an administrator to create it", name(t.LocalQueue), lq.ClusterQueue)}
			continue
		}
		if msg := sc.neverFits(t, lq.cq); msg != "" {
			sc.res.Waiting[t.Key] = Wait{Reason: ReasonExceedsQuota, Message: msg}
			continue
		}
		lq.pending = append(lq.pending, t)
	}
	order := make([]*lqState, 0, len(sc.lqs))
	for _, lq := range sc.lqs {
		slices.SortFunc(lq.pending, byPriorityThenAge)
		order = append(order, lq)
	}
	slices.SortFunc(order, func(a, b *lqState) int { return strings.Compare(a.Key, b.Key) })
	heads := make([]int, len(order))
	for {
		// The fairest head: least GPUs after admission per weight, then
		// higher priority, then older, then the queue's name.
		var best *lqState
		bi := -1
		for i, lq := range order {
			if lq.blocked || heads[i] >= len(lq.pending) {
				continue
			}
			if best == nil || fairer(lq, lq.pending[heads[i]], best, best.pending[heads[bi]], max(s.Horizon, 1)) {
				best, bi = lq, i
			}
		}
		if best == nil {
			break
		}
		t := best.pending[heads[bi]]
		if a, victims, ok := sc.place(t, best.cq); ok {
			for _, v := range victims {
				sc.charge(v, v.Admitted, -1)
				sc.res.Preempted = append(sc.res.Preempted, Preemption{Key: v.Key,
					Message: fmt.Sprintf("preempted: GPUQueue %q reclaimed %d borrowed %s GPUs for the higher-priority task %s", best.cq.Name, v.GPUs(), v.Admitted.Product, t.Key)})
				v.Admitted = nil
			}
			t.Admitted = &a
			sc.charge(t, &a, 1)
			sc.res.Admitted = append(sc.res.Admitted, Admission{Key: t.Key, Assignment: a})
			heads[bi]++
			continue
		}
		best.blocked = true
		sc.res.Waiting[t.Key] = Wait{Reason: ReasonWaitingForQuota, Message: sc.whyWaiting(t, best.cq)}
		// Block the products this head waits for in its cohort when only
		// the cohort's fullness stops it, so that later heads do not take
		// the GPUs it waits for.
		for _, p := range sc.products(t, best.cq) {
			if l := best.cq.limit(p); l < 0 || best.cq.usage[p]+t.GPUs() <= l {
				sc.cohort(best.cq).blocked[p] = true
			}
		}
	}
	// Positions and reasons of the tasks still waiting.
	for i, lq := range order {
		for j, t := range lq.pending[heads[i]:] {
			w, ok := sc.res.Waiting[t.Key]
			if !ok {
				if j == 0 {
					w = Wait{Reason: ReasonWaitingForQuota, Message: sc.whyWaiting(t, lq.cq)}
				} else {
					w = Wait{Reason: ReasonWaitingForQuota, Message: fmt.Sprintf("%d task(s) ahead in LocalQueue %q", j, name(lq.Key))}
				}
			} else if j > 0 {
				w.Message = fmt.Sprintf("%d task(s) ahead in LocalQueue %q", j, name(lq.Key))
			}
			w.Position = int32(j + 1)
			sc.res.Waiting[t.Key] = w
		}
	}
	sc.usage(tasks)
	return sc.res
}

func (sc *scheduler) cohort(cq *cqState) *cohortState {
	key := cq.Cohort
	if key == "" {
		key = "\x00" + cq.Name // a queue without cohort is its own
	}
	co := sc.cohorts[key]
	if co == nil {
		co = &cohortState{capacity: map[string]int32{}, usage: map[string]int32{}, blocked: map[string]bool{}}
		sc.cohorts[key] = co
	}
	return co
}

// charge adds (sign 1) or removes (-1) a task's GPUs from the usage of its
// queues.
func (sc *scheduler) charge(t *Task, a *Assignment, sign int32) {
	n := sign * t.GPUs()
	if cq := sc.cqs[a.ClusterQueue]; cq != nil {
		cq.usage[a.Product] += n
		sc.cohort(cq).usage[a.Product] += n
	}
	if lq := sc.lqs[t.LocalQueue]; lq != nil {
		lq.usage += n
	}
}

func byPriorityThenAge(a, b *Task) int {
	if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Created, b.Created); c != 0 {
		return c
	}
	return strings.Compare(a.Key, b.Key)
}

// fairer reports whether queue a's head ta goes before queue b's head tb:
// the queue with less GPU-time per weight first, counting GPU-time
// consumed plus the GPUs in use for the horizon ahead. Consumed time lets
// a queue that got less catch up; the in-use part stops a queue that just
// got many GPUs from getting more before they show in its consumption.
// Counting what is in use before the head (not after, as Kueue does)
// keeps a queue whose head is large from losing its turn to every queue
// with small tasks. Shares are compared as fractions by cross
// multiplication to stay exact.
func fairer(a *lqState, ta *Task, b *lqState, tb *Task, horizon int64) bool {
	ca := (a.Consumed + int64(a.usage)*horizon) * int64(b.Weight)
	cb := (b.Consumed + int64(b.usage)*horizon) * int64(a.Weight)
	if ca != cb {
		return ca < cb
	}
	sa := int64(a.usage) * int64(b.Weight)
	sb := int64(b.usage) * int64(a.Weight)
	if sa != sb {
		return sa < sb
	}
	if c := byPriorityThenAge(ta, tb); c != 0 {
		return c < 0
	}
	return a.Key < b.Key
}

// products lists the products t may run on in cq, in the queue's order.
func (sc *scheduler) products(t *Task, cq *cqState) []string {
	if t.GPUs() == 0 {
		return []string{""}
	}
	var out []string
	for _, q := range cq.Quotas {
		if t.Product == "" || t.Product == q.Product {
			out = append(out, q.Product)
		}
	}
	return out
}

// neverFits explains why t cannot be admitted however empty the cluster
// is, or returns "".
func (sc *scheduler) neverFits(t *Task, cq *cqState) string {
	if t.GPUs() == 0 {
		return ""
	}
	ps := sc.products(t, cq)
	if len(ps) == 0 {
		have := make([]string, 0, len(cq.Quotas))
		for _, q := range cq.Quotas {
			have = append(have, q.Product)
		}
		return fmt.Sprintf("GPUQueue %q has no quota for GPU product %q (it has %s): change spec.resources.gpuProduct or use another queue",
			cq.Name, t.Product, strings.Join(have, ", "))
	}
	var most int32
	var mostProduct string
	for _, p := range ps {
		m := sc.cohort(cq).capacity[p]
		if l := cq.limit(p); l >= 0 && l < m {
			m = l
		}
		if m >= t.GPUs() {
			return ""
		}
		if m >= most {
			most, mostProduct = m, p
		}
	}
	return fmt.Sprintf("needs %d GPUs at once (%d workers × %d), more than GPUQueue %q can ever give (at most %d %s GPUs): use fewer workers or GPUs per worker",
		t.GPUs(), t.Workers, t.GPUsPerWorker, cq.Name, most, mostProduct)
}

// place finds a product for t: first one where it fits within the
// queue's nominal quota, then one where it fits by borrowing, then one
// where preemption makes room.
func (sc *scheduler) place(t *Task, cq *cqState) (Assignment, []*Task, bool) {
	need := t.GPUs()
	if need == 0 {
		return Assignment{ClusterQueue: cq.Name}, nil, true
	}
	co := sc.cohort(cq)
	ps := sc.products(t, cq)
	for _, borrow := range []bool{false, true} {
		for _, p := range ps {
			if co.blocked[p] {
				continue
			}
			q := cq.quota[p]
			used := cq.usage[p]
			if co.capacity[p]-co.usage[p] < need {
				continue
			}
			if !borrow && used+need > q.Nominal {
				continue
			}
			if l := cq.limit(p); l >= 0 && used+need > l {
				continue
			}
			return Assignment{ClusterQueue: cq.Name, Product: p, Borrowed: borrowed(used, need, q.Nominal)}, nil, true
		}
	}
	if !cq.Preempt {
		return Assignment{}, nil, false
	}
	for _, p := range ps {
		q := cq.quota[p]
		if cq.usage[p]+need > q.Nominal {
			continue // reclaiming is for nominal quota only
		}
		if victims := sc.reclaim(t, cq, p, need); victims != nil {
			return Assignment{ClusterQueue: cq.Name, Product: p}, victims, true
		}
	}
	return Assignment{}, nil, false
}

func borrowed(used, need, nominal int32) int32 {
	over := used + need - nominal
	if over <= 0 {
		return 0
	}
	return min(over, need)
}

// reclaim picks lower-priority tasks of other queues of the cohort that
// borrow product p, lowest priority and newest first, until need GPUs are
// free; nil if that is not enough.
func (sc *scheduler) reclaim(t *Task, cq *cqState, p string, need int32) []*Task {
	co := sc.cohort(cq)
	var cands []*Task
	for _, v := range sc.byKey {
		a := v.Admitted
		if a == nil || a.Product != p || a.ClusterQueue == cq.Name || v.Priority >= t.Priority {
			continue
		}
		if vq := sc.cqs[a.ClusterQueue]; vq == nil || sc.cohort(vq) != co {
			continue
		}
		cands = append(cands, v)
	}
	slices.SortFunc(cands, func(a, b *Task) int {
		if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Created, a.Created); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	free := co.capacity[p] - co.usage[p]
	over := map[string]int32{} // GPUs each victim's queue borrows
	for _, m := range co.members {
		over[m.Name] = m.usage[p] - m.quota[p].Nominal
	}
	var victims []*Task
	for _, v := range cands {
		if free >= need {
			break
		}
		if over[v.Admitted.ClusterQueue] <= 0 {
			continue // that queue no longer borrows
		}
		over[v.Admitted.ClusterQueue] -= v.GPUs()
		free += v.GPUs()
		victims = append(victims, v)
	}
	if free < need {
		return nil
	}
	return victims
}

func (sc *scheduler) whyWaiting(t *Task, cq *cqState) string {
	var parts []string
	for _, p := range sc.products(t, cq) {
		co := sc.cohort(cq)
		q := cq.quota[p]
		parts = append(parts, fmt.Sprintf("%s: queue uses %d of %d nominal, cohort has %d free", p, cq.usage[p], q.Nominal, max(co.capacity[p]-co.usage[p], 0)))
	}
	return fmt.Sprintf("waiting for %d GPUs in GPUQueue %q (%s)", t.GPUs(), cq.Name, strings.Join(parts, "; "))
}

func (sc *scheduler) usage(tasks []*Task) {
	sc.res.ClusterQueueUsage = map[string]Usage{}
	sc.res.LocalQueueUsage = map[string]Usage{}
	for name, cq := range sc.cqs {
		u := Usage{GPUs: map[string]int32{}, Borrowed: map[string]int32{}}
		for p, n := range cq.usage {
			if p == "" {
				continue
			}
			u.GPUs[p] = n
			if over := n - cq.quota[p].Nominal; over > 0 {
				u.Borrowed[p] = over
			}
		}
		sc.res.ClusterQueueUsage[name] = u
	}
	for key := range sc.lqs {
		sc.res.LocalQueueUsage[key] = Usage{GPUs: map[string]int32{}}
	}
	for _, t := range tasks {
		lu, lok := sc.res.LocalQueueUsage[t.LocalQueue]
		var cname string
		if t.Admitted != nil {
			cname = t.Admitted.ClusterQueue
		} else if lq := sc.lqs[t.LocalQueue]; lq != nil {
			cname = lq.ClusterQueue
		}
		cu, cok := sc.res.ClusterQueueUsage[cname]
		if t.Admitted != nil {
			lu.Admitted++
			cu.Admitted++
			if t.Admitted.Product != "" {
				lu.GPUs[t.Admitted.Product] += t.GPUs()
			}
		} else {
			lu.Pending++
			cu.Pending++
		}
		if lok {
			sc.res.LocalQueueUsage[t.LocalQueue] = lu
		}
		if cok {
			sc.res.ClusterQueueUsage[cname] = cu
		}
	}
}

func name(key string) string {
	if i := strings.IndexByte(key, '/'); i >= 0 {
		return key[i+1:]
	}
	return key
}
