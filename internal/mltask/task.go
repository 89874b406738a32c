package mltask

import (
	"context"
	"fmt"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	mlv1alpha1 "bokujo.io/bokujo/api/ml/v1alpha1"
)

// taskReconciler makes one MLTask's objects match its spec and admission
// and reports their state.
type taskReconciler struct {
	client   client.Client
	recorder events.EventRecorder
	opts     Options
}

var _ reconcile.Reconciler = &taskReconciler{}

// observed is what exists of a task's workload.
type observed struct {
	ready    int32
	finished string // "", ReasonSucceeded, ReasonFailed or ReasonMaxRuntime
	message  string
	doneAt   *metav1.Time
	started  *metav1.Time // when the workload first ran
	conflict string       // an object of the task's name that is not the task's
}

// +kubebuilder:rbac:groups=ml.bokujo.io,resources=mltasks,verbs=get;list;watch;patch;delete
// +kubebuilder:rbac:groups=ml.bokujo.io,resources=mltasks/status,verbs=patch;update
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile observes the task's objects, creates or corrects them, and
// writes the task's status when it changed.
func (r *taskReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	t := &mlv1alpha1.MLTask{}
	if err := r.client.Get(ctx, req.NamespacedName, t); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !t.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil // owner references take the rest away
	}
	now := r.opts.Clock.Now()
	if t.Finished() {
		return r.expire(ctx, t, now)
	}
	var obs observed
	err := r.ensureService(ctx, t, &obs)
	if err == nil && t.Spec.Mode == mlv1alpha1.ModeInteractive {
		err = r.syncStatefulSet(ctx, t, &obs)
	} else if err == nil {
		err = r.syncJob(ctx, t, &obs)
	}
	if apierrors.IsConflict(err) {
		// Someone (the Job controller) changed the object since it was
		// read: look again.
		return ctrl.Result{RequeueAfter: 100 * time.Millisecond}, nil
	}
	if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		return ctrl.Result{}, nil // the namespace, and the task with it, is going away
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	res, err := r.writeStatus(ctx, t, &obs, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	if t.Spec.Mode == mlv1alpha1.ModeInteractive {
		return r.interactiveDeadline(ctx, t, now, res)
	}
	return res, nil
}

func (r *taskReconciler) ensureService(ctx context.Context, t *mlv1alpha1.MLTask, obs *observed) error {
	have := &corev1.Service{}
	err := r.client.Get(ctx, client.ObjectKeyFromObject(t), have)
	if apierrors.IsNotFound(err) {
		if err := r.client.Create(ctx, r.service(t)); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create Service of MLTask %s/%s: %w", t.Namespace, t.Name, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("read Service of MLTask %s/%s: %w", t.Namespace, t.Name, err)
	}
	if !metav1.IsControlledBy(have, t) {
		obs.conflict = fmt.Sprintf("a Service named %s exists in %s and does not belong to this task: rename the task or delete the Service", t.Name, t.Namespace)
	}
	return nil
}

func (r *taskReconciler) syncJob(ctx context.Context, t *mlv1alpha1.MLTask, obs *observed) error {
	want := r.job(t)
	have := &batchv1.Job{}
	err := r.client.Get(ctx, client.ObjectKeyFromObject(t), have)
	if apierrors.IsNotFound(err) {
		if err := r.client.Create(ctx, want); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create Job of MLTask %s/%s: %w", t.Namespace, t.Name, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("read Job of MLTask %s/%s: %w", t.Namespace, t.Name, err)
	}
	if !metav1.IsControlledBy(have, t) {
		obs.conflict = fmt.Sprintf("a Job named %s exists in %s and does not belong to this task: rename the task or delete the Job", t.Name, t.Namespace)
		return nil
	}
	obs.ready = ptr.Deref(have.Status.Ready, 0)
	obs.started = have.Status.StartTime
	for _, c := range have.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			obs.finished, obs.message = mlv1alpha1.ReasonSucceeded, fmt.Sprintf("all %d workers succeeded", t.Spec.Workers)
			obs.doneAt = have.Status.CompletionTime
		case batchv1.JobFailed:
			obs.finished, obs.message = mlv1alpha1.ReasonFailed, c.Message
			if c.Reason == batchv1.JobReasonDeadlineExceeded {
				obs.finished = mlv1alpha1.ReasonMaxRuntime
				obs.message = fmt.Sprintf("ran longer than maxRuntime %s", t.Spec.MaxRuntime.Duration)
			}
			obs.doneAt = ptr.To(c.LastTransitionTime)
		}
	}
	if obs.finished != "" {
		return nil
	}
	suspend := ptr.Deref(have.Spec.Suspend, false)
	admitted := t.Status.Admission != nil
	switch {
	case admitted && suspend:
		// Scheduling fields of a suspended Job may change; the product the
		// queue picked goes in with the resumption.
		upd := have.DeepCopy()
		upd.Spec.Suspend = ptr.To(false)
		upd.Spec.Template.Spec.NodeSelector = want.Spec.Template.Spec.NodeSelector
		if err := r.client.Update(ctx, upd); err != nil {
			if apierrors.IsInvalid(err) {
				// A Job that ran before keeps its old template; start
				// afresh (the owner reference's GC removes its pods).
				return r.deleteForRecreate(ctx, have)
			}
			return fmt.Errorf("resume Job of MLTask %s/%s: %w", t.Namespace, t.Name, err)
		}
	case !admitted && !suspend:
		upd := have.DeepCopy()
		upd.Spec.Suspend = ptr.To(true)
		if err := r.client.Update(ctx, upd); err != nil {
			return fmt.Errorf("suspend Job of MLTask %s/%s: %w", t.Namespace, t.Name, err)
		}
		obs.ready = 0
	}
	return nil
}

func (r *taskReconciler) deleteForRecreate(ctx context.Context, j *batchv1.Job) error {
	err := r.client.Delete(ctx, j, client.PropagationPolicy(metav1.DeletePropagationForeground),
		client.Preconditions{UID: ptr.To(j.UID)})
	if client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("replace Job %s/%s: %w", j.Namespace, j.Name, err)
	}
	return nil
}

func (r *taskReconciler) syncStatefulSet(ctx context.Context, t *mlv1alpha1.MLTask, obs *observed) error {
	want := r.statefulSet(t)
	have := &appsv1.StatefulSet{}
	err := r.client.Get(ctx, client.ObjectKeyFromObject(t), have)
	if apierrors.IsNotFound(err) {
		if err := r.client.Create(ctx, want); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create StatefulSet of MLTask %s/%s: %w", t.Namespace, t.Name, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("read StatefulSet of MLTask %s/%s: %w", t.Namespace, t.Name, err)
	}
	if !metav1.IsControlledBy(have, t) {
		obs.conflict = fmt.Sprintf("a StatefulSet named %s exists in %s and does not belong to this task: rename the task or delete the StatefulSet", t.Name, t.Namespace)
		return nil
	}
	obs.ready = have.Status.ReadyReplicas
	if ptr.Deref(have.Spec.Replicas, 1) != *want.Spec.Replicas ||
		(*want.Spec.Replicas > 0 && !equality.Semantic.DeepEqual(have.Spec.Template.Spec.NodeSelector, want.Spec.Template.Spec.NodeSelector)) {
		upd := have.DeepCopy()
		upd.Spec.Replicas = want.Spec.Replicas
		if *want.Spec.Replicas > 0 {
			upd.Spec.Template.Spec.NodeSelector = want.Spec.Template.Spec.NodeSelector
		}
		if err := r.client.Update(ctx, upd); err != nil {
			return fmt.Errorf("scale StatefulSet of MLTask %s/%s: %w", t.Namespace, t.Name, err)
		}
	}
	if *want.Spec.Replicas == 0 {
		obs.ready = 0
	}
	return nil
}

// writeStatus derives conditions and phase, emits events for transitions
// and patches the status when it changed.
func (r *taskReconciler) writeStatus(ctx context.Context, t *mlv1alpha1.MLTask, obs *observed, now time.Time) (ctrl.Result, error) {
	orig := t.DeepCopy()
	st := &t.Status
	st.ObservedGeneration = t.Generation
	st.Workers = t.Spec.Workers
	st.GPUs = t.TotalGPUs()
	st.WorkersReady = obs.ready
	gen := t.Generation
	set := func(typ string, status metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: truncate(msg, 1024), ObservedGeneration: gen})
	}
	q := st.Queue
	if q == nil {
		q = &mlv1alpha1.QueueStatus{Reason: mlv1alpha1.ReasonWaitingForQuota, Message: "waiting for the admission loop"}
	}
	stopped := t.Spec.State == mlv1alpha1.StateStopped
	switch a := st.Admission; {
	case a != nil:
		msg := fmt.Sprintf("admitted to GPUQueue %s", a.GPUQueue)
		if a.GPUProduct != "" {
			msg += " on " + a.GPUProduct
		}
		if a.Borrowed > 0 {
			msg += fmt.Sprintf(", borrowing %d GPUs from its cohort", a.Borrowed)
		}
		set(mlv1alpha1.ConditionAdmitted, metav1.ConditionTrue, mlv1alpha1.ReasonQuotaReserved, msg)
	case stopped:
		set(mlv1alpha1.ConditionAdmitted, metav1.ConditionFalse, mlv1alpha1.ReasonStopped, "stopped: the task holds no GPUs")
	default:
		set(mlv1alpha1.ConditionAdmitted, metav1.ConditionFalse, q.Reason, q.Message)
	}
	inadmissible := st.Admission == nil && !stopped && (q.Reason == mlv1alpha1.ReasonLocalQueueMissing ||
		q.Reason == mlv1alpha1.ReasonGPUQueueMissing || q.Reason == mlv1alpha1.ReasonExceedsQuota)
	if obs.conflict != "" {
		set(mlv1alpha1.ConditionInadmissible, metav1.ConditionTrue, "NameConflict", obs.conflict)
	} else if inadmissible {
		set(mlv1alpha1.ConditionInadmissible, metav1.ConditionTrue, q.Reason, q.Message)
	} else {
		set(mlv1alpha1.ConditionInadmissible, metav1.ConditionFalse, mlv1alpha1.ReasonAdmissible, "the task fits its queue")
	}
	running := st.Admission != nil && obs.ready >= t.Spec.Workers && obs.finished == ""
	if running {
		set(mlv1alpha1.ConditionRunning, metav1.ConditionTrue, mlv1alpha1.ReasonWorkersReady, fmt.Sprintf("all %d workers ready", t.Spec.Workers))
		if st.StartTime == nil {
			st.StartTime = ptr.To(metav1.NewTime(now.Truncate(time.Second)))
		}
	} else {
		if st.StartTime == nil && obs.finished != "" && obs.started != nil {
			st.StartTime = obs.started // it ran and ended between two looks
		}
		set(mlv1alpha1.ConditionRunning, metav1.ConditionFalse, mlv1alpha1.ReasonWorkersStarting, fmt.Sprintf("%d of %d workers ready", obs.ready, t.Spec.Workers))
	}
	switch {
	case obs.finished != "":
		status := metav1.ConditionTrue
		set(mlv1alpha1.ConditionFinished, status, obs.finished, obs.message)
		st.Phase = mlv1alpha1.PhaseFailed
		if obs.finished == mlv1alpha1.ReasonSucceeded {
			st.Phase = mlv1alpha1.PhaseSucceeded
		}
		st.CompletionTime = obs.doneAt
		if st.CompletionTime == nil {
			st.CompletionTime = ptr.To(metav1.NewTime(now.Truncate(time.Second)))
		}
		st.Message = obs.message
		st.Queue = nil
	case stopped:
		st.Phase, st.Message, st.StartTime = mlv1alpha1.PhaseStopped, "stopped: set spec.state to Running to start it again", nil
	case st.Admission == nil:
		st.Phase, st.Message = mlv1alpha1.PhaseQueued, q.Message
		if obs.conflict != "" {
			st.Message = obs.conflict
		}
	case running:
		st.Phase, st.Message = mlv1alpha1.PhaseRunning, fmt.Sprintf("all %d workers ready", t.Spec.Workers)
	default:
		st.Phase, st.Message = mlv1alpha1.PhaseAdmitted, fmt.Sprintf("%d of %d workers ready", obs.ready, t.Spec.Workers)
	}
	st.Message = truncate(st.Message, 1024)
	r.events(orig, t)
	if reflect.DeepEqual(orig.Status, t.Status) {
		return ctrl.Result{}, nil
	}
	// A merge patch of what changed: the admission loop's fields
	// (admission, queue) are left alone unless this reconciler cleared
	// queue on finishing.
	if err := r.client.Status().Patch(ctx, t, client.MergeFrom(orig)); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("write status of MLTask %s/%s: %w", t.Namespace, t.Name, err)
	}
	if t.Finished() {
		return r.expire(ctx, t, now)
	}
	return ctrl.Result{}, nil
}

// events reports transitions as Kubernetes events on the task.
func (r *taskReconciler) events(old, cur *mlv1alpha1.MLTask) {
	if r.recorder == nil {
		return
	}
	was := func(typ string) *metav1.Condition { return meta.FindStatusCondition(old.Status.Conditions, typ) }
	is := func(typ string) *metav1.Condition { return meta.FindStatusCondition(cur.Status.Conditions, typ) }
	changed := func(typ string) (*metav1.Condition, bool) {
		c, o := is(typ), was(typ)
		return c, c != nil && (o == nil || o.Status != c.Status || o.Reason != c.Reason)
	}
	if c, ok := changed(mlv1alpha1.ConditionAdmitted); ok {
		switch {
		case c.Status == metav1.ConditionTrue:
			r.recorder.Eventf(cur, nil, corev1.EventTypeNormal, "Admitted", "Admit", "%s", c.Message)
		case c.Reason == mlv1alpha1.ReasonPreempted:
			r.recorder.Eventf(cur, nil, corev1.EventTypeWarning, "Preempted", "Preempt", "%s", c.Message)
		}
	}
	if c, ok := changed(mlv1alpha1.ConditionInadmissible); ok && c.Status == metav1.ConditionTrue {
		r.recorder.Eventf(cur, nil, corev1.EventTypeWarning, "Inadmissible", "Admit", "%s", c.Message)
	}
	if c, ok := changed(mlv1alpha1.ConditionRunning); ok && c.Status == metav1.ConditionTrue {
		r.recorder.Eventf(cur, nil, corev1.EventTypeNormal, "Running", "Start", "%s", c.Message)
	}
	if c, ok := changed(mlv1alpha1.ConditionFinished); ok && c.Status == metav1.ConditionTrue {
		typ := corev1.EventTypeNormal
		if c.Reason != mlv1alpha1.ReasonSucceeded {
			typ = corev1.EventTypeWarning
		}
		r.recorder.Eventf(cur, nil, typ, c.Reason, "Finish", "%s", c.Message)
	}
	if old.Status.Phase != mlv1alpha1.PhaseStopped && cur.Status.Phase == mlv1alpha1.PhaseStopped {
		r.recorder.Eventf(cur, nil, corev1.EventTypeNormal, "Stopped", "Stop", "%s", cur.Status.Message)
	}
}

// expire deletes a finished task once its time to live has passed.
func (r *taskReconciler) expire(ctx context.Context, t *mlv1alpha1.MLTask, now time.Time) (ctrl.Result, error) {
	ttl := r.opts.DefaultTTL
	if t.Spec.TTLSecondsAfterFinished != nil {
		ttl = time.Duration(*t.Spec.TTLSecondsAfterFinished) * time.Second
	}
	if ttl < 0 || t.Status.CompletionTime == nil {
		return ctrl.Result{}, nil
	}
	left := t.Status.CompletionTime.Add(ttl).Sub(now)
	if left > 0 {
		return ctrl.Result{RequeueAfter: left}, nil
	}
	err := r.client.Delete(ctx, t, client.PropagationPolicy(metav1.DeletePropagationBackground), client.Preconditions{UID: ptr.To(t.UID)})
	if client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("delete finished MLTask %s/%s after its TTL: %w", t.Namespace, t.Name, err)
	}
	return ctrl.Result{}, nil
}

// interactiveDeadline stops an interactive task that ran past maxRuntime
// by setting spec.state to Stopped, where people see it and can start it
// again.
func (r *taskReconciler) interactiveDeadline(ctx context.Context, t *mlv1alpha1.MLTask, now time.Time, res ctrl.Result) (ctrl.Result, error) {
	d := t.Spec.MaxRuntime
	if d == nil || d.Duration <= 0 || t.Status.StartTime == nil || t.Spec.State == mlv1alpha1.StateStopped {
		return res, nil
	}
	left := t.Status.StartTime.Add(d.Duration).Sub(now)
	if left > 0 {
		if res.RequeueAfter == 0 || left < res.RequeueAfter {
			res.RequeueAfter = left
		}
		return res, nil
	}
	patch := []byte(`{"spec":{"state":"Stopped"}}`)
	if err := r.client.Patch(ctx, t, client.RawPatch(types.MergePatchType, patch)); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("stop MLTask %s/%s after maxRuntime: %w", t.Namespace, t.Name, err)
	}
	if r.recorder != nil {
		r.recorder.Eventf(t, nil, corev1.EventTypeNormal, mlv1alpha1.ReasonMaxRuntime, "Stop", "ran longer than maxRuntime %s: stopped", d.Duration)
	}
	return ctrl.Result{}, nil
}
