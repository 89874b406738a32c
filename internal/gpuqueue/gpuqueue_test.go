package gpuqueue

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

const a100 = "A100"

func cq(name, cohort string, nominal int32, opts ...func(*ClusterQueue)) ClusterQueue {
	c := ClusterQueue{Name: name, Cohort: cohort, Quotas: []Quota{{Product: a100, Nominal: nominal, BorrowingLimit: -1}}}
	for _, o := range opts {
		o(&c)
	}
	return c
}

func lq(key, cq string, weight int32) LocalQueue {
	return LocalQueue{Key: key, ClusterQueue: cq, Weight: weight}
}

func task(key, lq string, created int64, workers, gpus int32) Task {
	return Task{Key: key, LocalQueue: lq, Created: created, Workers: workers, GPUsPerWorker: gpus}
}

func admittedKeys(r Result) []string {
	var out []string
	for _, a := range r.Admitted {
		out = append(out, a.Key)
	}
	slices.Sort(out)
	return out
}

func TestPriorityThenFIFO(t *testing.T) {
	s := Snapshot{
		ClusterQueues: []ClusterQueue{cq("q", "", 2)},
		LocalQueues:   []LocalQueue{lq("ns/a", "q", 1)},
		Tasks: []Task{
			task("old", "ns/a", 1, 1, 1),
			task("older", "ns/a", 0, 1, 1),
			task("newer", "ns/a", 2, 1, 1),
		},
	}
	s.Tasks[2].Priority = 10
	r := Schedule(s)
	if got := admittedKeys(r); !slices.Equal(got, []string{"newer", "older"}) {
		t.Fatalf("admitted %v, want the high-priority one and the oldest", got)
	}
	if w := r.Waiting["old"]; w.Position != 1 || w.Reason != ReasonWaitingForQuota || !strings.Contains(w.Message, "waiting for 1 GPUs") {
		t.Fatalf("old waits %+v", w)
	}
}

func TestGangAllOrNothing(t *testing.T) {
	s := Snapshot{
		ClusterQueues: []ClusterQueue{cq("q", "", 8)},
		LocalQueues:   []LocalQueue{lq("ns/a", "q", 1)},
		Tasks: []Task{
			{Key: "running", LocalQueue: "ns/a", Workers: 1, GPUsPerWorker: 2, Admitted: &Assignment{ClusterQueue: "q", Product: a100}},
			task("gang", "ns/a", 1, 4, 2), // 8 GPUs; only 6 free
			task("small", "ns/a", 2, 1, 1),
		},
	}
	r := Schedule(s)
	if len(r.Admitted) != 0 {
		t.Fatalf("admitted %v: the gang does not fit and blocks its queue (strict FIFO)", admittedKeys(r))
	}
	if w := r.Waiting["gang"]; w.Position != 1 || !strings.Contains(w.Message, "waiting for 8 GPUs") {
		t.Fatalf("gang waits %+v", w)
	}
	if w := r.Waiting["small"]; w.Position != 2 || !strings.Contains(w.Message, "1 task(s) ahead") {
		t.Fatalf("small waits %+v", w)
	}
	s.Tasks = s.Tasks[1:] // the running task finished
	r = Schedule(s)
	if got := admittedKeys(r); !slices.Equal(got, []string{"gang"}) {
		t.Fatalf("admitted %v, want the whole gang", got)
	}
}

func TestInadmissible(t *testing.T) {
	s := Snapshot{
		ClusterQueues: []ClusterQueue{cq("q", "lab", 8), cq("other", "lab", 4), cq("capped", "", 8, func(c *ClusterQueue) { c.Quotas[0].BorrowingLimit = 0 })},
		LocalQueues:   []LocalQueue{lq("ns/a", "q", 1), lq("ns/orphan", "gone", 1), lq("ns/c", "capped", 1)},
		Tasks: []Task{
			task("huge", "ns/a", 0, 4, 4),   // 16 > 12 in the cohort
			task("borrow", "ns/a", 1, 3, 4), // 12 fits by borrowing
			task("noqueue", "ns/none", 2, 1, 1),
			task("nogpuq", "ns/orphan", 3, 1, 1),
			{Key: "product", LocalQueue: "ns/a", Workers: 1, GPUsPerWorker: 1, Product: "H100"},
		},
	}
	r := Schedule(s)
	for key, want := range map[string]string{
		"huge":    ReasonExceedsQuota,
		"noqueue": ReasonLocalQueueMissing,
		"nogpuq":  ReasonGPUQueueMissing,
		"product": ReasonExceedsQuota,
	} {
		if w := r.Waiting[key]; w.Reason != want || w.Message == "" {
			t.Errorf("%s: %+v, want reason %s", key, w, want)
		}
	}
	if !strings.Contains(r.Waiting["huge"].Message, "needs 16 GPUs at once (4 workers × 4)") {
		t.Errorf("huge: %q", r.Waiting["huge"].Message)
	}
	if !strings.Contains(r.Waiting["product"].Message, `no quota for GPU product "H100"`) {
		t.Errorf("product: %q", r.Waiting["product"].Message)
	}
	if got := admittedKeys(r); !slices.Equal(got, []string{"borrow"}) {
		t.Errorf("admitted %v", got)
	}
	if r.Admitted[0].Assignment.Borrowed != 4 {
		t.Errorf("borrowed %d, want 4", r.Admitted[0].Assignment.Borrowed)
	}
	if u := r.ClusterQueueUsage["q"]; u.GPUs[a100] != 12 || u.Borrowed[a100] != 4 {
		t.Errorf("usage %+v", u)
	}
	// With a borrowing limit of 0 the queue's own quota is the most.
	s = Snapshot{ClusterQueues: s.ClusterQueues, LocalQueues: s.LocalQueues, Tasks: []Task{task("big", "ns/c", 0, 3, 4)}}
	if w := Schedule(s).Waiting["big"]; w.Reason != ReasonExceedsQuota || !strings.Contains(w.Message, "at most 8") {
		t.Errorf("capped: %+v", w)
	}
}

func TestBorrowingWithinCohort(t *testing.T) {
	s := Snapshot{
		ClusterQueues: []ClusterQueue{cq("a", "lab", 4), cq("b", "lab", 4), cq("alone", "", 4)},
		LocalQueues:   []LocalQueue{lq("ns/a", "a", 1), lq("ns/b", "b", 1), lq("ns/alone", "alone", 1)},
		Tasks: []Task{
			task("a1", "ns/a", 0, 2, 3), // 6: 4 own + 2 borrowed from b
			task("alone1", "ns/alone", 0, 2, 3),
		},
	}
	r := Schedule(s)
	if got := admittedKeys(r); !slices.Equal(got, []string{"a1"}) {
		t.Fatalf("admitted %v", got)
	}
	if r.Waiting["alone1"].Reason != ReasonExceedsQuota {
		t.Fatalf("a queue without cohort borrows from nobody: %+v", r.Waiting["alone1"])
	}
}

func TestPreemptLowerPriorityBorrowed(t *testing.T) {
	mk := func(preempt bool) Snapshot {
		return Snapshot{
			ClusterQueues: []ClusterQueue{
				cq("a", "lab", 4, func(c *ClusterQueue) { c.Preempt = preempt }),
				cq("b", "lab", 4),
			},
			LocalQueues: []LocalQueue{lq("ns/a", "a", 1), lq("ns/b", "b", 1)},
			Tasks: []Task{
				// b borrows all of a's quota with two tasks.
				{Key: "b-own", LocalQueue: "ns/b", Created: 0, Workers: 4, GPUsPerWorker: 1, Admitted: &Assignment{ClusterQueue: "b", Product: a100}},
				{Key: "b-old", LocalQueue: "ns/b", Created: 1, Workers: 2, GPUsPerWorker: 1, Admitted: &Assignment{ClusterQueue: "b", Product: a100, Borrowed: 2}},
				{Key: "b-new", LocalQueue: "ns/b", Created: 2, Workers: 2, GPUsPerWorker: 1, Admitted: &Assignment{ClusterQueue: "b", Product: a100, Borrowed: 2}},
				{Key: "a-urgent", LocalQueue: "ns/a", Created: 3, Workers: 2, GPUsPerWorker: 1, Priority: 100},
			},
		}
	}
	r := Schedule(mk(false))
	if len(r.Admitted) != 0 || len(r.Preempted) != 0 {
		t.Fatalf("without preemption: admitted %v preempted %v", r.Admitted, r.Preempted)
	}
	r = Schedule(mk(true))
	if got := admittedKeys(r); !slices.Equal(got, []string{"a-urgent"}) {
		t.Fatalf("admitted %v", got)
	}
	if len(r.Preempted) != 1 || r.Preempted[0].Key != "b-new" || !strings.Contains(r.Preempted[0].Message, "reclaimed") {
		t.Fatalf("preempted %+v, want only the newest borrower", r.Preempted)
	}
	// Equal priority never preempts, and b's nominal tasks are never
	// taken.
	s := mk(true)
	s.Tasks[3].Priority = 0
	if r := Schedule(s); len(r.Preempted) != 0 || len(r.Admitted) != 0 {
		t.Fatalf("equal priority: %+v", r)
	}
	s = mk(true)
	s.Tasks[3].Workers = 6 // beyond a's nominal 4: nothing to reclaim
	if r := Schedule(s); len(r.Preempted) != 0 {
		t.Fatalf("beyond nominal: %+v", r.Preempted)
	}
}

func TestProductsInOrder(t *testing.T) {
	two := ClusterQueue{Name: "q", Quotas: []Quota{{Product: "A100", Nominal: 2, BorrowingLimit: -1}, {Product: "H100", Nominal: 4, BorrowingLimit: -1}}}
	s := Snapshot{
		ClusterQueues: []ClusterQueue{two},
		LocalQueues:   []LocalQueue{lq("ns/a", "q", 1)},
		Tasks: []Task{
			task("first", "ns/a", 0, 1, 2),
			task("second", "ns/a", 1, 1, 2),
			{Key: "pinned", LocalQueue: "ns/a", Created: 2, Workers: 1, GPUsPerWorker: 2, Product: "H100"},
			task("cpu", "ns/a", 3, 2, 0),
		},
	}
	r := Schedule(s)
	got := map[string]string{}
	for _, a := range r.Admitted {
		got[a.Key] = a.Assignment.Product
	}
	want := map[string]string{"first": "A100", "second": "H100", "pinned": "H100", "cpu": ""}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("placed %v, want %v", got, want)
	}
}

func TestWeights(t *testing.T) {
	s := Snapshot{
		ClusterQueues: []ClusterQueue{cq("q", "", 12)},
		LocalQueues:   []LocalQueue{lq("ns/a", "q", 2), lq("ns/b", "q", 1)},
	}
	for i := range 20 {
		s.Tasks = append(s.Tasks, task(fmt.Sprintf("a%02d", i), "ns/a", int64(i), 1, 1), task(fmt.Sprintf("b%02d", i), "ns/b", int64(i), 1, 1))
	}
	r := Schedule(s)
	if a, b := r.LocalQueueUsage["ns/a"].GPUs[a100], r.LocalQueueUsage["ns/b"].GPUs[a100]; a != 8 || b != 4 {
		t.Fatalf("weight 2:1 got %d:%d GPUs", a, b)
	}
	if r.LocalQueueUsage["ns/a"].Pending != 12 || r.ClusterQueueUsage["q"].Admitted != 12 {
		t.Fatalf("counts %+v %+v", r.LocalQueueUsage["ns/a"], r.ClusterQueueUsage["q"])
	}
}

// TestSmallTasksDoNotStarveLargeOnes: the fairest head waits for 4 GPUs
// and the cohort holds them for it instead of giving them to another
// queue's small tasks one by one.
func TestSmallTasksDoNotStarveLargeOnes(t *testing.T) {
	s := Snapshot{
		ClusterQueues: []ClusterQueue{cq("q", "", 4)},
		LocalQueues:   []LocalQueue{lq("ns/a", "q", 1), lq("ns/b", "q", 1)},
		Tasks: []Task{
			{Key: "b-run", LocalQueue: "ns/b", Workers: 1, GPUsPerWorker: 2, Admitted: &Assignment{ClusterQueue: "q", Product: a100}},
			task("a-big", "ns/a", 0, 1, 4),
			task("b-small", "ns/b", 1, 1, 1),
		},
	}
	r := Schedule(s)
	if len(r.Admitted) != 0 {
		t.Fatalf("admitted %v while a's larger head waits with a smaller share", admittedKeys(r))
	}
}

func TestDoesNotModifySnapshot(t *testing.T) {
	s := Snapshot{
		ClusterQueues: []ClusterQueue{cq("q", "", 4)},
		LocalQueues:   []LocalQueue{lq("ns/a", "q", 1)},
		Tasks:         []Task{task("t", "ns/a", 0, 1, 1)},
	}
	Schedule(s)
	if s.Tasks[0].Admitted != nil {
		t.Fatal("the snapshot was changed")
	}
}
