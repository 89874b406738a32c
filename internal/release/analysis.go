package release

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	deliveryv1 "bokujo.io/bokujo/api/delivery/v1alpha1"
)

type podHealth struct {
	ready, restarts int32
	// failure is set when the canary is unhealthy beyond doubt.
	failure, reason string
}

// podHealth looks at the canary pods: ready, restarts, crash loops.
func (r *Reconciler) podHealth(ctx context.Context, rel *deliveryv1.Release, rs *appsv1.ReplicaSet) (podHealth, error) {
	var h podHealth
	sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		return h, err
	}
	var pods corev1.PodList
	if err := r.client.List(ctx, &pods, client.InNamespace(rel.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return h, err
	}
	maxRestarts := int32(0)
	if m := rel.Spec.Analysis.MaxRestarts; m != nil {
		maxRestarts = *m
	}
	var mine []corev1.Pod
	for i := range pods.Items {
		p := &pods.Items[i]
		if ref := metav1.GetControllerOf(p); ref == nil || ref.UID != rs.UID || !p.DeletionTimestamp.IsZero() {
			continue
		}
		mine = append(mine, *p)
	}
	return judgePods(mine, maxRestarts), nil
}

// judgePods gives the health verdict of the canary's pods.
func judgePods(pods []corev1.Pod, maxRestarts int32) podHealth {
	var h podHealth
	for i := range pods {
		p := &pods[i]
		if p.Status.Phase == corev1.PodFailed {
			h.failure = fmt.Sprintf("canary pod %s failed: %s", p.Name, orDefault(p.Status.Message, p.Status.Reason))
			h.reason = deliveryv1.ReasonCanaryCrashLooping
		}
		for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
			h.restarts += cs.RestartCount
			if w := cs.State.Waiting; w != nil {
				switch w.Reason {
				case "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError":
					h.failure = fmt.Sprintf("canary pod %s: container %s is in %s", p.Name, cs.Name, w.Reason)
					h.reason = deliveryv1.ReasonCanaryCrashLooping
				}
			}
		}
		if podReady(p) {
			h.ready++
		}
	}
	if h.failure == "" && h.restarts > maxRestarts {
		h.failure = fmt.Sprintf("canary containers restarted %d times (at most %d allowed)", h.restarts, maxRestarts)
		h.reason = deliveryv1.ReasonCanaryCrashLooping
	}
	return h
}

func podReady(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// analyze records a round of measurements; it returns why the release must
// roll back, or "".
func (r *Reconciler) analyze(ctx context.Context, rel *deliveryv1.Release, h podHealth) (string, error) {
	st := &rel.Status
	now := metav1.NewTime(r.opts.Now())
	st.LastAnalysisTime = &now
	r.measure(rel, deliveryv1.Measurement{
		Name: "pods", Result: deliveryv1.ResultPassed,
		Value:   fmt.Sprintf("%d/%d ready, %d restarts", h.ready, st.CanaryReplicas, h.restarts),
		Message: "canary pods ready, none crash-looping",
	})
	p := rel.Spec.Analysis.Prometheus
	if p == nil {
		r.setHealthy(rel, metav1.ConditionTrue, deliveryv1.ReasonAnalysisPassed, "canary pods are ready")
		return "", nil
	}
	limit := int32(0)
	if p.FailureLimit != nil {
		limit = *p.FailureLimit
	}
	breached := false
	var notes []string
	for _, q := range p.Queries {
		m := r.query(ctx, p.Address, q, st.CanaryRevision)
		r.measure(rel, m)
		switch m.Result {
		case deliveryv1.ResultFailed:
			breached = true
			notes = append(notes, fmt.Sprintf("%s = %s (%s)", q.Name, m.Value, m.Message))
		case deliveryv1.ResultInconclusive:
			notes = append(notes, fmt.Sprintf("%s: %s", q.Name, m.Message))
		}
	}
	if breached {
		st.ConsecutiveFailures++
		msg := "analysis failed: " + strings.Join(notes, "; ")
		if st.ConsecutiveFailures > limit {
			r.setHealthy(rel, metav1.ConditionFalse, deliveryv1.ReasonAnalysisFailed, msg)
			return msg, nil
		}
		r.setHealthy(rel, metav1.ConditionFalse, deliveryv1.ReasonAnalysisFailed,
			fmt.Sprintf("%s (%d of %d tolerated)", msg, st.ConsecutiveFailures, limit))
		return "", nil
	}
	st.ConsecutiveFailures = 0
	if len(notes) > 0 {
		r.setHealthy(rel, metav1.ConditionUnknown, deliveryv1.ReasonNoData, "waiting for measurements: "+strings.Join(notes, "; "))
		return "", nil
	}
	r.setHealthy(rel, metav1.ConditionTrue, deliveryv1.ReasonAnalysisPassed, "canary pods are ready and every query is within bounds")
	return "", nil
}

func (r *Reconciler) setHealthy(rel *deliveryv1.Release, s metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&rel.Status.Conditions, metav1.Condition{
		Type: deliveryv1.ConditionHealthy, Status: s, Reason: reason, Message: truncate(msg, 1024), ObservedGeneration: rel.Generation,
	})
}

// query runs one instant query and judges its first sample.
func (r *Reconciler) query(ctx context.Context, address string, q deliveryv1.PrometheusQuery, canary string) deliveryv1.Measurement {
	m := deliveryv1.Measurement{Name: q.Name, Result: deliveryv1.ResultInconclusive}
	c, err := promapi.NewClient(promapi.Config{Address: address, Client: r.opts.HTTPClient})
	if err != nil {
		m.Message = "bad Prometheus address: " + err.Error()
		return m
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	expr := strings.ReplaceAll(q.Query, "{{canary}}", canary)
	val, _, err := promv1.NewAPI(c).Query(ctx, expr, r.opts.Now())
	if err != nil {
		m.Message = "query failed: " + err.Error()
		return m
	}
	var v float64
	switch x := val.(type) {
	case model.Vector:
		if len(x) == 0 {
			m.Message = "the query returned no samples"
			return m
		}
		v = float64(x[0].Value)
	case *model.Scalar:
		v = float64(x.Value)
	default:
		m.Message = fmt.Sprintf("the query returned a %s; use an expression that gives one number", val.Type())
		return m
	}
	if math.IsNaN(v) {
		m.Value = "NaN"
		m.Message = "the query returned NaN (no traffic yet?)"
		return m
	}
	m.Value = strconv.FormatFloat(v, 'g', 6, 64)
	m.Result = deliveryv1.ResultPassed
	m.Message = "within bounds"
	if q.Max != "" {
		if hi, err := strconv.ParseFloat(q.Max, 64); err == nil && v > hi {
			m.Result = deliveryv1.ResultFailed
			m.Message = "above max " + q.Max
		}
	}
	if q.Min != "" {
		if lo, err := strconv.ParseFloat(q.Min, 64); err == nil && v < lo {
			m.Result = deliveryv1.ResultFailed
			m.Message = "below min " + q.Min
		}
	}
	return m
}
