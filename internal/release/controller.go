// Package release runs Releases (delivery.bokujo.io/v1alpha1) in one
// downstream cluster: canary rollouts of a Deployment by replica count,
// judged by pod health and optional Prometheus queries, promoted or rolled
// back on their own.
//
// How the split works, without a service mesh: at the start the Deployment
// is paused (its own rollout stops) and remembered replica count N is kept
// in an annotation. The controller creates a canary ReplicaSet, owned by the
// Release, with the new pod template and the same labels plus its own
// pod-template-hash, so the Deployment's Service sends it traffic in
// proportion to its pods. Each step first starts canary pods and only when
// they are ready lowers the Deployment's replicas (the stable ReplicaSet) by
// as many, so the ready pods never drop below N. A failing canary is
// deleted after the Deployment is back at N ready stable pods. Promotion
// hands the canary ReplicaSet to the Deployment (its template is the new
// one, so the Deployment adopts it as its new ReplicaSet) and resumes the
// Deployment with the new template.
package release

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	deliveryv1 "bokujo.io/bokujo/api/delivery/v1alpha1"
)

// Finalizer makes a deleted Release roll its Deployment back first.
const Finalizer = "delivery.bokujo.io/rollback"

// Defaults of the analysis and strategy.
const (
	DefaultInterval     = 10 * time.Second
	DefaultReadyTimeout = 5 * time.Minute
	DefaultHistoryLimit = 10
)

// DefaultSteps is the strategy when a Release names none: one canary pod
// for a minute, half of the replicas for a minute, then all.
func DefaultSteps() []deliveryv1.CanaryStep {
	minute := &metav1.Duration{Duration: time.Minute}
	half := int32(50)
	return []deliveryv1.CanaryStep{
		{Pause: &deliveryv1.Pause{Duration: minute}},
		{Weight: &half, Pause: &deliveryv1.Pause{Duration: minute}},
	}
}

// Event is a release's notable move, handed to Options.Notify.
type Event struct {
	Namespace, Release, Deployment string
	// Kind is Started, CanaryHealthy, Promoted, RolledBack or Failed.
	Kind    string
	Message string
	By      string
	Images  []deliveryv1.ContainerImage
}

// Options configure the controller.
type Options struct {
	// HistoryLimit is how many finished Releases are kept per Deployment;
	// older ones are deleted. Default 10.
	HistoryLimit int
	// HTTPClient queries Prometheus. Default: a client with a 10 s timeout.
	HTTPClient *http.Client
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Notify, when set, is told of notable moves (to announce them in chat).
	// It must not block.
	Notify func(Event)
	// ClusterName labels the controller's metrics.
	ClusterName string
}

// AddToScheme registers the types the controller uses: the delivery API and
// the built-in kinds.
func AddToScheme(s *runtime.Scheme) error {
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return err
	}
	return deliveryv1.AddToScheme(s)
}

// Setup adds the Release controller to a manager whose client talks to one
// downstream cluster.
func Setup(mgr manager.Manager, opts Options) error {
	if opts.HistoryLimit <= 0 {
		opts.HistoryLimit = DefaultHistoryLimit
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Reconciler{client: mgr.GetClient(), reader: mgr.GetAPIReader(), opts: opts}
	return ctrl.NewControllerManagedBy(mgr).
		Named("release").
		For(&deliveryv1.Release{}).
		Owns(&appsv1.ReplicaSet{}).
		Complete(r)
}

// Reconciler drives Releases.
type Reconciler struct {
	client client.Client
	// reader reads Releases from the API server, not the cache: a
	// reconcile must never act on a status older than its own last write.
	reader client.Reader
	opts   Options
}

var _ reconcile.Reconciler = &Reconciler{}

// poll is how often a moving release is looked at even without events (pod
// restarts do not change the canary ReplicaSet).
const poll = time.Second

// +kubebuilder:rbac:groups=delivery.bokujo.io,resources=releases;releases/status,verbs=get;list;watch;update;patch;delete
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=apps,resources=replicasets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=pods;services,verbs=get;list;watch

// Reconcile moves one Release a step further.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	rel := &deliveryv1.Release{}
	if err := r.reader.Get(ctx, req.NamespacedName, rel); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := rel.Status.DeepCopy()

	if !rel.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, rel)
	}
	if !rel.Finished() && !controllerutil.ContainsFinalizer(rel, Finalizer) {
		controllerutil.AddFinalizer(rel, Finalizer)
		if err := r.client.Update(ctx, rel); err != nil {
			return ctrl.Result{}, err
		}
	}

	action, by := r.takeAction(rel)
	if action != "" {
		// The annotation goes first: an action must not run twice. If the
		// status write below fails the person asks again.
		delete(rel.Annotations, deliveryv1.ActionAnnotation)
		delete(rel.Annotations, deliveryv1.ActionByAnnotation)
		if err := r.client.Update(ctx, rel); err != nil {
			return ctrl.Result{}, err
		}
	}

	res, err := r.reconcile(ctx, rel, action, by)
	rel.Status.ObservedGeneration = rel.Generation
	if !equality.Semantic.DeepEqual(before, &rel.Status) {
		if uerr := r.client.Status().Update(ctx, rel); uerr != nil {
			return ctrl.Result{}, uerr
		}
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if rel.Finished() {
		// Only now, with the final status stored: the Deployment is free.
		if controllerutil.RemoveFinalizer(rel, Finalizer) {
			if err := r.client.Update(ctx, rel); err != nil {
				return ctrl.Result{}, err
			}
		}
		if err := r.cleanupFinished(ctx, rel); err != nil {
			return ctrl.Result{}, err
		}
		if r.canaryLeft(ctx, rel) {
			return ctrl.Result{RequeueAfter: poll}, nil
		}
	}
	return res, nil
}

func (r *Reconciler) takeAction(rel *deliveryv1.Release) (deliveryv1.Action, string) {
	a := deliveryv1.Action(rel.Annotations[deliveryv1.ActionAnnotation])
	if a == "" {
		return "", ""
	}
	by := rel.Annotations[deliveryv1.ActionByAnnotation]
	if !slices.Contains(deliveryv1.Actions, a) {
		r.record(rel, deliveryv1.ReasonInvalidTarget, fmt.Sprintf("ignored unknown action %q: use one of promote, pause, resume, abort, retry", truncate(string(a), 64)), by)
		return "ignored", by
	}
	return a, by
}

func (r *Reconciler) reconcile(ctx context.Context, rel *deliveryv1.Release, action deliveryv1.Action, by string) (ctrl.Result, error) {
	if rel.Finished() {
		if action == deliveryv1.ActionRetry && rel.Status.Phase != deliveryv1.PhasePromoted {
			// The finalizer comes back at the next reconcile, once this
			// status is written (an Update now would overwrite it).
			r.reset(rel, by)
			return ctrl.Result{Requeue: true}, nil
		}
		if action != "" && action != "ignored" {
			r.record(rel, "ActionIgnored", fmt.Sprintf("%s ignored: the release is %s (only a rolled back or failed release can be retried)", action, rel.Status.Phase), by)
		}
		return ctrl.Result{}, nil
	}
	if rel.Status.Phase == "" || rel.Status.Phase == deliveryv1.PhasePending {
		if action == deliveryv1.ActionAbort {
			return ctrl.Result{}, r.rollback(ctx, rel, deliveryv1.ReasonAbortedByUser, "aborted before it started", by)
		}
		return r.start(ctx, rel)
	}
	switch action {
	case deliveryv1.ActionAbort:
		if rel.Status.Step > rel.Status.Steps && !r.holds(ctx, rel) {
			// Already handed to the Deployment: nothing left to roll back
			// here; a rollback is a new Release.
			r.record(rel, "ActionIgnored", "abort ignored: the Deployment already rolls out the new version; use `bokujo release rollback`", by)
			return r.progress(ctx, rel)
		}
		return ctrl.Result{}, r.rollback(ctx, rel, deliveryv1.ReasonAbortedByUser, "aborted", by)
	case deliveryv1.ActionPause:
		rel.Status.PausedByUser = orDefault(by, "someone")
		r.setPhase(rel, deliveryv1.PhasePaused, deliveryv1.ReasonPausedByUser, "paused", by)
	case deliveryv1.ActionResume:
		if rel.Status.PausedByUser != "" {
			rel.Status.PausedByUser = ""
			r.setPhase(rel, deliveryv1.PhaseProgressing, deliveryv1.ReasonResumed, "resumed", by)
		}
	case deliveryv1.ActionPromote:
		rel.Status.PausedByUser = ""
		return r.advance(ctx, rel, deliveryv1.ReasonPromotedByUser, by)
	}
	return r.progress(ctx, rel)
}

// start checks the target, pauses the Deployment and records the stable
// version.
func (r *Reconciler) start(ctx context.Context, rel *deliveryv1.Release) (ctrl.Result, error) {
	dep := &appsv1.Deployment{}
	if err := r.client.Get(ctx, types.NamespacedName{Namespace: rel.Namespace, Name: rel.Spec.Deployment}, dep); err != nil {
		if apierrors.IsNotFound(err) {
			r.setPhase(rel, deliveryv1.PhasePending, deliveryv1.ReasonDeploymentNotFound,
				fmt.Sprintf("Deployment %s not found in namespace %s; create it or fix spec.deployment", rel.Spec.Deployment, rel.Namespace), "")
			return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
		}
		return ctrl.Result{}, err
	}
	if other := dep.Annotations[deliveryv1.ActiveReleaseAnnotation]; other != "" && other != rel.Name {
		busy, err := r.releaseActive(ctx, rel.Namespace, other)
		if err != nil {
			return ctrl.Result{}, err
		}
		if busy {
			r.setPhase(rel, deliveryv1.PhasePending, deliveryv1.ReasonDeploymentBusy,
				fmt.Sprintf("Release %s is rolling out Deployment %s; this one starts when it finishes", other, dep.Name), "")
			return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
		}
	}
	if dep.Spec.Paused && dep.Annotations[deliveryv1.ActiveReleaseAnnotation] != rel.Name {
		return ctrl.Result{}, r.fail(rel, fmt.Sprintf("Deployment %s is paused; resume it (kubectl rollout resume) and retry", dep.Name))
	}
	if dep.Annotations[deliveryv1.ActiveReleaseAnnotation] != rel.Name && !rolledOut(dep) {
		r.setPhase(rel, deliveryv1.PhasePending, deliveryv1.ReasonDeploymentRolling,
			fmt.Sprintf("Deployment %s is still rolling out; the release starts when it is done", dep.Name), "")
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	}
	replicas := int32(1)
	if dep.Spec.Replicas != nil {
		replicas = *dep.Spec.Replicas
	}
	if v, ok := dep.Annotations[deliveryv1.ReplicasAnnotation]; ok {
		// Restarted after pausing: the annotation keeps the real count.
		if _, err := fmt.Sscanf(v, "%d", &replicas); err != nil {
			return ctrl.Result{}, r.fail(rel, fmt.Sprintf("annotation %s on Deployment %s is not a number", deliveryv1.ReplicasAnnotation, dep.Name))
		}
	}
	if replicas < 1 {
		return ctrl.Result{}, r.fail(rel, fmt.Sprintf("Deployment %s has no replicas; scale it up first", dep.Name))
	}
	canary, err := canaryTemplate(rel, dep)
	if err != nil {
		return ctrl.Result{}, r.fail(rel, err.Error())
	}
	stable, err := r.stableReplicaSet(ctx, dep)
	if err != nil {
		return ctrl.Result{}, err
	}
	if stable == nil {
		r.setPhase(rel, deliveryv1.PhasePending, deliveryv1.ReasonDeploymentRolling,
			fmt.Sprintf("Deployment %s has no ReplicaSet for its template yet", dep.Name), "")
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	}
	if rel.Spec.Service != "" {
		if err := r.checkService(ctx, rel, canary); err != nil {
			return ctrl.Result{}, r.fail(rel, err.Error())
		}
	}

	if dep.Annotations[deliveryv1.ActiveReleaseAnnotation] != rel.Name {
		if dep.Annotations == nil {
			dep.Annotations = map[string]string{}
		}
		dep.Annotations[deliveryv1.ActiveReleaseAnnotation] = rel.Name
		dep.Annotations[deliveryv1.ReplicasAnnotation] = fmt.Sprint(replicas)
		dep.Spec.Paused = true
		// Update carries the resourceVersion read above: two Releases
		// cannot both take the Deployment.
		if err := r.client.Update(ctx, dep); err != nil {
			return ctrl.Result{}, err
		}
	}

	now := metav1.NewTime(r.opts.Now())
	st := &rel.Status
	st.Replicas = replicas
	st.Steps = int32(len(steps(rel)))
	st.Step = 1
	st.StableRevision = stable.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
	st.CanaryRevision = templateHash(canary)
	if equality.Semantic.DeepEqual(canary, &dep.Spec.Template) {
		return ctrl.Result{}, r.rollback(ctx, rel, deliveryv1.ReasonInvalidTarget, "the new version equals the running one; nothing to release", "")
	}
	st.StableImages = images(&dep.Spec.Template)
	st.CanaryImages = images(canary)
	st.StableTemplate = dep.Spec.Template.DeepCopy()
	st.StartTime = &now
	st.StepStartTime = nil
	st.CreatedBy = createdBy(rel)
	st.CanaryReplicas = 1
	r.setPhase(rel, deliveryv1.PhaseProgressing, deliveryv1.ReasonStarted,
		fmt.Sprintf("releasing %s to Deployment %s (%d replicas): one canary pod first", imageList(st.CanaryImages), dep.Name, replicas), st.CreatedBy)
	r.notify(rel, "Started", fmt.Sprintf("release of %s started: %s", dep.Name, diffImages(st.StableImages, st.CanaryImages)), st.CreatedBy)
	return ctrl.Result{Requeue: true}, nil
}

// progress runs the current step: canary pods up, stable down, analysis,
// and the move to the next step.
func (r *Reconciler) progress(ctx context.Context, rel *deliveryv1.Release) (ctrl.Result, error) {
	st := &rel.Status
	dep := &appsv1.Deployment{}
	if err := r.client.Get(ctx, types.NamespacedName{Namespace: rel.Namespace, Name: rel.Spec.Deployment}, dep); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, r.fail(rel, fmt.Sprintf("Deployment %s was deleted during the release", rel.Spec.Deployment))
		}
		return ctrl.Result{}, err
	}
	canaryTpl, err := canaryTemplate(rel, dep)
	if err != nil {
		return ctrl.Result{}, r.rollback(ctx, rel, deliveryv1.ReasonInvalidTarget, err.Error(), "")
	}
	if dep.Annotations[deliveryv1.ActiveReleaseAnnotation] != rel.Name {
		// Someone (or an earlier promotion whose status write was lost)
		// released the Deployment: never scale it again.
		if slices.Equal(images(&dep.Spec.Template), images(canaryTpl)) {
			return r.finishPromotion(ctx, rel, dep)
		}
		return ctrl.Result{}, r.fail(rel, fmt.Sprintf("Deployment %s was released from this Release by someone else (annotation %s removed); start a new Release", dep.Name, deliveryv1.ActiveReleaseAnnotation))
	}
	want := r.canaryWant(rel)
	st.CanaryReplicas = want
	rs, err := r.ensureCanary(ctx, rel, dep, canaryTpl, want)
	if err != nil {
		if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) {
			return ctrl.Result{}, r.rollback(ctx, rel, deliveryv1.ReasonInvalidTarget, "the new pod template is not valid: "+err.Error(), "")
		}
		return ctrl.Result{}, err
	}

	health, err := r.podHealth(ctx, rel, rs)
	if err != nil {
		return ctrl.Result{}, err
	}
	st.ReadyCanaryReplicas = health.ready
	if health.failure != "" {
		r.measure(rel, deliveryv1.Measurement{Name: "pods", Result: deliveryv1.ResultFailed, Value: fmt.Sprintf("%d/%d ready", health.ready, want), Message: health.failure})
		return ctrl.Result{}, r.rollback(ctx, rel, health.reason, health.failure, "")
	}

	now := r.opts.Now()
	if health.ready < want || rs.Status.ObservedGeneration < rs.Generation {
		started := r.stepScaledAt(rel)
		if started.IsZero() {
			r.record(rel, deliveryv1.ReasonCanaryStarting, fmt.Sprintf("step %d/%d: starting %d canary pod(s)", st.Step, st.Steps+1, want), "")
			started = now
		}
		if now.Sub(started) > readyTimeout(rel) {
			msg := fmt.Sprintf("%d of %d canary pods ready after %s", health.ready, want, readyTimeout(rel))
			r.measure(rel, deliveryv1.Measurement{Name: "pods", Result: deliveryv1.ResultFailed, Value: fmt.Sprintf("%d/%d ready", health.ready, want), Message: msg})
			return ctrl.Result{}, r.rollback(ctx, rel, deliveryv1.ReasonCanaryNotReady, msg, "")
		}
		return ctrl.Result{RequeueAfter: poll}, nil
	}

	// Canary pods of this step are ready: now make room by lowering the
	// stable replicas, never before.
	stableWant := st.Replicas - want
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != stableWant {
		dep.Spec.Replicas = &stableWant
		if err := r.client.Update(ctx, dep); err != nil {
			return ctrl.Result{}, err
		}
	}
	if st.StepStartTime == nil {
		t := metav1.NewTime(now)
		st.StepStartTime = &t
		st.LastAnalysisTime = nil
		r.record(rel, deliveryv1.ReasonStepReached, fmt.Sprintf("step %d/%d: %d of %d pods run the new version", st.Step, st.Steps+1, want, st.Replicas), "")
	}

	if st.Step > st.Steps {
		return r.promote(ctx, rel, dep)
	}

	interval := analysisInterval(rel)
	if st.LastAnalysisTime == nil || now.Sub(st.LastAnalysisTime.Time) >= interval {
		failed, err := r.analyze(ctx, rel, health)
		if err != nil {
			return ctrl.Result{}, err
		}
		if failed != "" {
			return ctrl.Result{}, r.rollback(ctx, rel, deliveryv1.ReasonAnalysisFailed, failed, "")
		}
	}
	next := interval - now.Sub(st.LastAnalysisTime.Time)
	if next > poll {
		next = poll
	}
	if next <= 0 {
		next = poll
	}

	if st.PausedByUser != "" {
		if st.Phase != deliveryv1.PhasePaused {
			r.setPhase(rel, deliveryv1.PhasePaused, deliveryv1.ReasonPausedByUser, "paused", st.PausedByUser)
		}
		return ctrl.Result{RequeueAfter: next}, nil
	}
	if !r.passedSinceStepStart(rel) {
		return ctrl.Result{RequeueAfter: next}, nil
	}
	step := steps(rel)[st.Step-1]
	if step.Pause != nil {
		if step.Pause.Duration == nil {
			if st.Phase != deliveryv1.PhasePaused {
				r.setPhase(rel, deliveryv1.PhasePaused, deliveryv1.ReasonWaitingForPromote,
					fmt.Sprintf("step %d/%d is healthy; waiting for promote", st.Step, st.Steps+1), "")
			}
			return ctrl.Result{RequeueAfter: next}, nil
		}
		if left := step.Pause.Duration.Duration - now.Sub(st.StepStartTime.Time); left > 0 {
			return ctrl.Result{RequeueAfter: min(left, next)}, nil
		}
	}
	return r.advance(ctx, rel, deliveryv1.ReasonAnalysisPassed, "")
}

// advance moves to the next step (or the final full rollout).
func (r *Reconciler) advance(ctx context.Context, rel *deliveryv1.Release, reason, by string) (ctrl.Result, error) {
	st := &rel.Status
	if st.Step == 1 {
		r.notify(rel, "CanaryHealthy", fmt.Sprintf("canary pod of %s is healthy", rel.Spec.Deployment), by)
	}
	if st.Step <= st.Steps {
		st.Step++
	}
	st.StepStartTime = nil
	st.ConsecutiveFailures = 0
	msg := fmt.Sprintf("moving to step %d/%d", st.Step, st.Steps+1)
	if st.Step > st.Steps {
		msg = "moving to the full rollout"
	}
	r.setPhase(rel, deliveryv1.PhaseProgressing, reason, msg, by)
	return ctrl.Result{Requeue: true}, nil
}

// promote gives the Deployment the new template and its full replica
// count and resumes it. The Deployment controller then rolls out a
// ReplicaSet of its own with the new template while the canary pods (by now
// all N of them) keep serving; finishPromotion deletes the canary once the
// Deployment is fully available.
//
// Handing the canary ReplicaSet itself to the Deployment was tried and is
// unsafe: while a Deployment owns a single active ReplicaSet it scales it to
// spec.replicas at once, and there is no order of the two writes in which
// that count is right at every moment.
func (r *Reconciler) promote(ctx context.Context, rel *deliveryv1.Release, dep *appsv1.Deployment) (ctrl.Result, error) {
	tpl, err := canaryTemplate(rel, dep)
	if err != nil {
		return ctrl.Result{}, r.rollback(ctx, rel, deliveryv1.ReasonInvalidTarget, err.Error(), "")
	}
	dep.Spec.Template = *tpl
	replicas := rel.Status.Replicas
	dep.Spec.Replicas = &replicas
	dep.Spec.Paused = false
	delete(dep.Annotations, deliveryv1.ActiveReleaseAnnotation)
	delete(dep.Annotations, deliveryv1.ReplicasAnnotation)
	if err := r.client.Update(ctx, dep); err != nil {
		return ctrl.Result{}, err
	}
	r.record(rel, "HandedOver", fmt.Sprintf("Deployment %s resumed with the new template; the canary pods serve until it is fully available", dep.Name), "")
	return r.finishPromotion(ctx, rel, dep)
}

// finishPromotion waits for the Deployment's own rollout of the new
// template, then deletes the canary ReplicaSet and marks the release
// promoted.
func (r *Reconciler) finishPromotion(ctx context.Context, rel *deliveryv1.Release, dep *appsv1.Deployment) (ctrl.Result, error) {
	// Only a Deployment read after the hand-over counts: full count, new
	// template, rolled out.
	// Images, not the whole template, are compared: the API server's
	// defaults may fill a template a Release gave in full.
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != rel.Status.Replicas || dep.Spec.Paused ||
		!slices.Equal(images(&dep.Spec.Template), rel.Status.CanaryImages) || !rolledOut(dep) || dep.Status.ReadyReplicas < rel.Status.Replicas {
		return ctrl.Result{RequeueAfter: poll}, nil
	}
	rs, err := r.canaryReplicaSet(ctx, rel)
	if err != nil {
		return ctrl.Result{}, err
	}
	if rs != nil {
		if ready, err := r.readyOutside(ctx, dep, rs); err != nil || ready < rel.Status.Replicas {
			return ctrl.Result{RequeueAfter: poll}, err
		}
		if err := r.client.Delete(ctx, rs, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, err
		}
	}
	now := metav1.NewTime(r.opts.Now())
	rel.Status.CompletionTime = &now
	rel.Status.PausedByUser = ""
	r.setPhase(rel, deliveryv1.PhasePromoted, deliveryv1.ReasonPromoted,
		fmt.Sprintf("%s runs on all %d replicas of %s", imageList(rel.Status.CanaryImages), rel.Status.Replicas, dep.Name), "")
	r.notify(rel, "Promoted", fmt.Sprintf("%s promoted: %s on all %d replicas", dep.Name, imageList(rel.Status.CanaryImages), rel.Status.Replicas), "")
	return ctrl.Result{}, nil
}

// rollback returns the Deployment to the stable version at its full replica
// count; the canary ReplicaSet is deleted once the stable pods are all ready
// (cleanupFinished).
func (r *Reconciler) rollback(ctx context.Context, rel *deliveryv1.Release, reason, msg, by string) error {
	if err := r.restoreDeployment(ctx, rel); err != nil {
		return err
	}
	now := metav1.NewTime(r.opts.Now())
	rel.Status.CompletionTime = &now
	rel.Status.PausedByUser = ""
	rel.Status.CanaryReplicas = 0
	meta.SetStatusCondition(&rel.Status.Conditions, metav1.Condition{
		Type: deliveryv1.ConditionHealthy, Status: healthyStatus(reason), Reason: reason, Message: truncate(msg, 1024), ObservedGeneration: rel.Generation,
	})
	r.setPhase(rel, deliveryv1.PhaseRolledBack, reason, "rolled back to the stable version: "+msg, by)
	r.notify(rel, "RolledBack", fmt.Sprintf("release of %s rolled back: %s", rel.Spec.Deployment, msg), by)
	return nil
}

func healthyStatus(reason string) metav1.ConditionStatus {
	switch reason {
	case deliveryv1.ReasonAnalysisFailed, deliveryv1.ReasonCanaryCrashLooping, deliveryv1.ReasonCanaryNotReady:
		return metav1.ConditionFalse
	}
	return metav1.ConditionUnknown
}

// holds reports whether this Release still holds its Deployment (true when
// it cannot tell, so that an abort is not ignored on a read error).
func (r *Reconciler) holds(ctx context.Context, rel *deliveryv1.Release) bool {
	dep := &appsv1.Deployment{}
	if err := r.client.Get(ctx, types.NamespacedName{Namespace: rel.Namespace, Name: rel.Spec.Deployment}, dep); err != nil {
		return true
	}
	return dep.Annotations[deliveryv1.ActiveReleaseAnnotation] == rel.Name
}

// restoreDeployment gives the Deployment back its replica count and resumes
// it, if this Release holds it.
func (r *Reconciler) restoreDeployment(ctx context.Context, rel *deliveryv1.Release) error {
	dep := &appsv1.Deployment{}
	if err := r.client.Get(ctx, types.NamespacedName{Namespace: rel.Namespace, Name: rel.Spec.Deployment}, dep); err != nil {
		return client.IgnoreNotFound(err)
	}
	if dep.Annotations[deliveryv1.ActiveReleaseAnnotation] != rel.Name {
		return nil
	}
	replicas := rel.Status.Replicas
	if v, ok := dep.Annotations[deliveryv1.ReplicasAnnotation]; ok {
		_, _ = fmt.Sscanf(v, "%d", &replicas)
	}
	if replicas > 0 {
		dep.Spec.Replicas = &replicas
	}
	dep.Spec.Paused = false
	delete(dep.Annotations, deliveryv1.ActiveReleaseAnnotation)
	delete(dep.Annotations, deliveryv1.ReplicasAnnotation)
	return r.client.Update(ctx, dep)
}

func (r *Reconciler) fail(rel *deliveryv1.Release, msg string) error {
	now := metav1.NewTime(r.opts.Now())
	rel.Status.CompletionTime = &now
	r.setPhase(rel, deliveryv1.PhaseFailed, deliveryv1.ReasonInvalidTarget, msg, "")
	r.notify(rel, "Failed", fmt.Sprintf("release of %s failed: %s", rel.Spec.Deployment, msg), "")
	return nil
}

// finalize rolls back a Release deleted while it runs.
func (r *Reconciler) finalize(ctx context.Context, rel *deliveryv1.Release) error {
	if !controllerutil.ContainsFinalizer(rel, Finalizer) {
		return nil
	}
	if err := r.restoreDeployment(ctx, rel); err != nil {
		return err
	}
	controllerutil.RemoveFinalizer(rel, Finalizer)
	return r.client.Update(ctx, rel)
}

func (r *Reconciler) reset(rel *deliveryv1.Release, by string) {
	st := &rel.Status
	st.Step, st.CanaryReplicas, st.ReadyCanaryReplicas, st.ConsecutiveFailures = 0, 0, 0, 0
	st.StepStartTime, st.CompletionTime, st.LastAnalysisTime = nil, nil, nil
	st.PausedByUser = ""
	st.StableTemplate = nil
	meta.RemoveStatusCondition(&st.Conditions, deliveryv1.ConditionHealthy)
	r.setPhase(rel, deliveryv1.PhasePending, deliveryv1.ReasonRetried, "retrying from the first step", by)
}

// cleanupFinished deletes the canary ReplicaSet of a rolled back release once
// the stable pods are back, and old finished Releases beyond the limit.
func (r *Reconciler) cleanupFinished(ctx context.Context, rel *deliveryv1.Release) error {
	if rel.Status.Phase != deliveryv1.PhasePromoted {
		rs, err := r.canaryReplicaSet(ctx, rel)
		if err != nil {
			return err
		}
		if rs != nil {
			dep := &appsv1.Deployment{}
			err := r.client.Get(ctx, types.NamespacedName{Namespace: rel.Namespace, Name: rel.Spec.Deployment}, dep)
			if err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			// Another release holding the Deployment means this one's
			// canary is stale. This release's own mark, still on a cached
			// copy from before the rollback, does not: deleting the
			// canary then would leave the stable pods one short.
			holder := ""
			if err == nil {
				holder = dep.Annotations[deliveryv1.ActiveReleaseAnnotation]
			}
			drop := err != nil || (holder != "" && holder != rel.Name)
			if !drop && dep.Spec.Replicas != nil && *dep.Spec.Replicas == rel.Status.Replicas {
				ready, err := r.readyOutside(ctx, dep, rs)
				if err != nil {
					return err
				}
				drop = ready >= rel.Status.Replicas
			}
			if drop {
				if err := r.client.Delete(ctx, rs, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
					return err
				}
			}
		}
	}
	return r.pruneHistory(ctx, rel)
}

func (r *Reconciler) canaryLeft(ctx context.Context, rel *deliveryv1.Release) bool {
	if rel.Status.Phase == deliveryv1.PhasePromoted {
		return false
	}
	rs, err := r.canaryReplicaSet(ctx, rel)
	return err != nil || rs != nil
}

func (r *Reconciler) pruneHistory(ctx context.Context, rel *deliveryv1.Release) error {
	var list deliveryv1.ReleaseList
	if err := r.client.List(ctx, &list, client.InNamespace(rel.Namespace)); err != nil {
		return err
	}
	var done []*deliveryv1.Release
	for i := range list.Items {
		it := &list.Items[i]
		if it.Spec.Deployment == rel.Spec.Deployment && it.Finished() && it.DeletionTimestamp.IsZero() {
			done = append(done, it)
		}
	}
	if len(done) <= r.opts.HistoryLimit {
		return nil
	}
	sort.Slice(done, func(i, j int) bool { return finishedAt(done[i]).After(finishedAt(done[j])) })
	for _, old := range done[r.opts.HistoryLimit:] {
		if err := r.client.Delete(ctx, old); client.IgnoreNotFound(err) != nil {
			return err
		}
	}
	return nil
}

func finishedAt(r *deliveryv1.Release) time.Time {
	if r.Status.CompletionTime != nil {
		return r.Status.CompletionTime.Time
	}
	return r.CreationTimestamp.Time
}

func (r *Reconciler) releaseActive(ctx context.Context, ns, name string) (bool, error) {
	other := &deliveryv1.Release{}
	if err := r.client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, other); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	return !other.Finished(), nil
}

func (r *Reconciler) checkService(ctx context.Context, rel *deliveryv1.Release, tpl *corev1.PodTemplateSpec) error {
	svc := &corev1.Service{}
	if err := r.client.Get(ctx, types.NamespacedName{Namespace: rel.Namespace, Name: rel.Spec.Service}, svc); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("Service %s not found in namespace %s; create it or drop spec.service", rel.Spec.Service, rel.Namespace)
		}
		return err
	}
	for k, v := range svc.Spec.Selector {
		if k == appsv1.DefaultDeploymentUniqueLabelKey || tpl.Labels[k] != v {
			return fmt.Errorf("Service %s does not select the new pods (selector %s=%s): canary pods would get no traffic", svc.Name, k, v)
		}
	}
	if len(svc.Spec.Selector) == 0 {
		return fmt.Errorf("Service %s has no selector: canary pods would get no traffic", svc.Name)
	}
	return nil
}

func (r *Reconciler) setPhase(rel *deliveryv1.Release, phase deliveryv1.Phase, reason, msg, by string) {
	if phase != rel.Status.Phase {
		switch phase {
		case deliveryv1.PhasePromoted, deliveryv1.PhaseRolledBack, deliveryv1.PhaseFailed:
			releasesFinished.WithLabelValues(r.opts.ClusterName, string(phase), reason).Inc()
		}
		if reason == deliveryv1.ReasonStarted {
			releasesStarted.WithLabelValues(r.opts.ClusterName).Inc()
		}
	}
	rel.Status.Phase = phase
	progressing := metav1.ConditionTrue
	if rel.Finished() {
		progressing = metav1.ConditionFalse
	}
	meta.SetStatusCondition(&rel.Status.Conditions, metav1.Condition{
		Type: deliveryv1.ConditionProgressing, Status: progressing, Reason: reason, Message: truncate(msg, 1024), ObservedGeneration: rel.Generation,
	})
	completed := metav1.ConditionFalse
	if phase == deliveryv1.PhasePromoted {
		completed = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&rel.Status.Conditions, metav1.Condition{
		Type: deliveryv1.ConditionCompleted, Status: completed, Reason: reason, Message: truncate(msg, 1024), ObservedGeneration: rel.Generation,
	})
	r.record(rel, reason, msg, by)
}

// record appends to the history, keeping the latest entries.
func (r *Reconciler) record(rel *deliveryv1.Release, reason, msg, by string) {
	h := rel.Status.History
	if n := len(h); n > 0 && h[n-1].Reason == reason && h[n-1].Message == truncate(msg, 1024) && h[n-1].Phase == rel.Status.Phase {
		return
	}
	h = append(h, deliveryv1.HistoryEntry{
		Time: metav1.NewTime(r.opts.Now()), Step: rel.Status.Step, Phase: rel.Status.Phase,
		Reason: reason, Message: truncate(msg, 1024), By: truncate(by, 256),
	})
	if len(h) > 40 {
		h = h[len(h)-40:]
	}
	rel.Status.History = h
}

func (r *Reconciler) measure(rel *deliveryv1.Release, m deliveryv1.Measurement) {
	kind := "prometheus"
	if m.Name == "pods" {
		kind = "pods"
	}
	measurements.WithLabelValues(r.opts.ClusterName, kind, string(m.Result)).Inc()
	m.Step = rel.Status.Step
	m.Time = metav1.NewTime(r.opts.Now())
	m.Message = truncate(m.Message, 1024)
	m.Value = truncate(m.Value, 128)
	ms := append(rel.Status.Measurements, m)
	if len(ms) > 30 {
		ms = ms[len(ms)-30:]
	}
	rel.Status.Measurements = ms
}

func (r *Reconciler) notify(rel *deliveryv1.Release, kind, msg, by string) {
	if r.opts.Notify == nil {
		return
	}
	r.opts.Notify(Event{
		Namespace: rel.Namespace, Release: rel.Name, Deployment: rel.Spec.Deployment,
		Kind: kind, Message: msg, By: by, Images: rel.Status.CanaryImages,
	})
}

// stepScaledAt is when the current step began starting its canary pods.
func (r *Reconciler) stepScaledAt(rel *deliveryv1.Release) time.Time {
	for i := len(rel.Status.History) - 1; i >= 0; i-- {
		h := rel.Status.History[i]
		if h.Step != rel.Status.Step {
			break
		}
		if h.Reason == deliveryv1.ReasonCanaryStarting {
			return h.Time.Time
		}
	}
	return time.Time{}
}

func (r *Reconciler) passedSinceStepStart(rel *deliveryv1.Release) bool {
	st := rel.Status
	if st.StepStartTime == nil {
		return false
	}
	passed := map[string]bool{}
	for _, m := range st.Measurements {
		if m.Step == st.Step && !m.Time.Before(st.StepStartTime) && m.Result == deliveryv1.ResultPassed {
			passed[m.Name] = true
		}
	}
	if !passed["pods"] {
		return false
	}
	if p := rel.Spec.Analysis.Prometheus; p != nil {
		for _, q := range p.Queries {
			if !passed[q.Name] {
				return false
			}
		}
	}
	return true
}

// canaryWant is the number of canary pods the current step asks for.
func (r *Reconciler) canaryWant(rel *deliveryv1.Release) int32 {
	st := rel.Status
	if st.Step <= 1 {
		return 1
	}
	if st.Step > st.Steps {
		return st.Replicas
	}
	w := int32(100)
	if s := steps(rel)[st.Step-1]; s.Weight != nil {
		w = *s.Weight
	}
	n := (st.Replicas*w + 99) / 100
	return max(1, min(n, st.Replicas))
}

func steps(rel *deliveryv1.Release) []deliveryv1.CanaryStep {
	if len(rel.Spec.Strategy.Steps) == 0 {
		return DefaultSteps()
	}
	return rel.Spec.Strategy.Steps
}

func analysisInterval(rel *deliveryv1.Release) time.Duration {
	if d := rel.Spec.Analysis.Interval; d != nil && d.Duration > 0 {
		return d.Duration
	}
	return DefaultInterval
}

func readyTimeout(rel *deliveryv1.Release) time.Duration {
	if d := rel.Spec.Analysis.ReadyTimeout; d != nil && d.Duration > 0 {
		return d.Duration
	}
	return DefaultReadyTimeout
}

func createdBy(rel *deliveryv1.Release) string {
	if by := rel.Annotations[deliveryv1.CreatedByAnnotation]; by != "" {
		return truncate(by, 256)
	}
	for _, mf := range rel.ManagedFields {
		if mf.Manager != "" {
			return truncate("field manager "+mf.Manager, 256)
		}
	}
	return "unknown"
}

func rolledOut(dep *appsv1.Deployment) bool {
	want := int32(1)
	if dep.Spec.Replicas != nil {
		want = *dep.Spec.Replicas
	}
	s := dep.Status
	return s.ObservedGeneration >= dep.Generation && s.UpdatedReplicas == want && s.Replicas == want && s.AvailableReplicas == want
}

// readyOutside counts the Deployment's ready pods that are not the
// canary's, read from the API server. Neither the cached Deployment's status
// nor its ReplicaSets' can tell: after a quick scale down and up their ready
// counts may still include a pod already deleted, and deleting the canary
// then would leave the Deployment one pod short.
func (r *Reconciler) readyOutside(ctx context.Context, dep *appsv1.Deployment, canary *appsv1.ReplicaSet) (int32, error) {
	sel, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector)
	if err != nil {
		return 0, err
	}
	var pods corev1.PodList
	if err := r.reader.List(ctx, &pods, client.InNamespace(dep.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return 0, err
	}
	var n int32
	for i := range pods.Items {
		p := &pods.Items[i]
		if ref := metav1.GetControllerOf(p); ref != nil && canary != nil && ref.UID == canary.UID {
			continue
		}
		if p.DeletionTimestamp.IsZero() && podReady(p) {
			n++
		}
	}
	return n, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

func imageList(imgs []deliveryv1.ContainerImage) string {
	var parts []string
	for _, i := range imgs {
		parts = append(parts, i.Container+"="+i.Image)
	}
	return strings.Join(parts, ", ")
}

// diffImages says which container images change.
func diffImages(from, to []deliveryv1.ContainerImage) string {
	old := map[string]string{}
	for _, i := range from {
		old[i.Container] = i.Image
	}
	var parts []string
	for _, i := range to {
		if o := old[i.Container]; o != i.Image {
			parts = append(parts, fmt.Sprintf("%s: %s → %s", i.Container, orDefault(o, "(none)"), i.Image))
		}
	}
	if len(parts) == 0 {
		return "pod template changed, images unchanged"
	}
	return strings.Join(parts, "; ")
}

// DiffImages says which container images a release changes.
func DiffImages(rel *deliveryv1.Release) string {
	return diffImages(rel.Status.StableImages, rel.Status.CanaryImages)
}
