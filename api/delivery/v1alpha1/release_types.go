package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Annotations a Release reads and writes.
const (
	// ActionAnnotation asks the controller for an action on a Release:
	// promote, pause, resume, abort or retry. The controller carries it out
	// and removes the annotation, so `kubectl annotate` drives a release:
	//
	//	kubectl annotate release web-v2 delivery.bokujo.io/action=promote
	ActionAnnotation = "delivery.bokujo.io/action"
	// ActionByAnnotation names who asked for the action in
	// ActionAnnotation; the API and the chat integration set it.
	ActionByAnnotation = "delivery.bokujo.io/action-by"
	// CreatedByAnnotation names the bokujo user who created the Release; the
	// API and the chat integration set it. Without it the history names the
	// field manager that created the object (e.g. kubectl).
	CreatedByAnnotation = "delivery.bokujo.io/created-by"
	// ActiveReleaseAnnotation on a Deployment names the Release that is
	// rolling it out; a second Release of the same Deployment waits.
	ActiveReleaseAnnotation = "delivery.bokujo.io/active-release"
	// ReplicasAnnotation on a Deployment keeps its replica count from before
	// the release, while the controller lowers spec.replicas to make room for
	// canary pods.
	ReplicasAnnotation = "delivery.bokujo.io/replicas"
)

// Action is something a person asks of a running Release.
// +kubebuilder:validation:Enum=promote;pause;resume;abort;retry
type Action string

const (
	// ActionPromote ends a manual pause, or with Full skips the remaining steps.
	ActionPromote Action = "promote"
	// ActionPause holds the release at its current step.
	ActionPause Action = "pause"
	// ActionResume continues a paused release.
	ActionResume Action = "resume"
	// ActionAbort rolls back to the stable version.
	ActionAbort Action = "abort"
	// ActionRetry starts an aborted or failed release again from its first step.
	ActionRetry Action = "retry"
)

// Actions lists every action in the order the CLI shows them.
var Actions = []Action{ActionPromote, ActionPause, ActionResume, ActionAbort, ActionRetry}

// Phase summarises where a Release is.
type Phase string

const (
	// PhasePending: the Release waits for its Deployment (missing, rolling
	// out, or busy with another Release).
	PhasePending Phase = "Pending"
	// PhaseProgressing: canary pods are starting or being watched.
	PhaseProgressing Phase = "Progressing"
	// PhasePaused: waiting for promote (a manual step) or resume.
	PhasePaused Phase = "Paused"
	// PhasePromoted: the new version runs on every replica; the Deployment
	// has the new template. Final.
	PhasePromoted Phase = "Promoted"
	// PhaseRolledBack: the release was aborted, by a person or by a failed
	// analysis, and the stable version runs on every replica. Final until
	// retried.
	PhaseRolledBack Phase = "RolledBack"
	// PhaseFailed: the release cannot start (bad target or template). Final
	// until retried.
	PhaseFailed Phase = "Failed"
)

// Condition types of a Release.
const (
	// ConditionProgressing is True while the release moves or waits at a
	// step, False once it finished.
	ConditionProgressing = "Progressing"
	// ConditionHealthy is the last analysis verdict of the canary.
	ConditionHealthy = "Healthy"
	// ConditionCompleted is True once the release is promoted.
	ConditionCompleted = "Completed"
)

// Reasons of conditions and history entries.
const (
	ReasonStarted            = "Started"
	ReasonDeploymentNotFound = "DeploymentNotFound"
	ReasonDeploymentBusy     = "DeploymentBusy"
	ReasonDeploymentRolling  = "DeploymentRollingOut"
	ReasonInvalidTarget      = "InvalidTarget"
	ReasonCanaryStarting     = "CanaryStarting"
	ReasonStepReached        = "StepReached"
	ReasonWaitingForPromote  = "WaitingForPromotion"
	ReasonPausedByUser       = "PausedByUser"
	ReasonResumed            = "Resumed"
	ReasonPromotedByUser     = "PromotedByUser"
	ReasonAnalysisPassed     = "AnalysisPassed"
	ReasonAnalysisFailed     = "AnalysisFailed"
	ReasonCanaryCrashLooping = "CanaryCrashLooping"
	ReasonCanaryNotReady     = "CanaryNotReady"
	ReasonAbortedByUser      = "AbortedByUser"
	ReasonRolledBack         = "RolledBack"
	ReasonPromoted           = "Promoted"
	ReasonRetried            = "Retried"
	ReasonQueryError         = "QueryError"
	ReasonNoData             = "NoData"
)

// ReleaseSpec is the new version of a Deployment and how carefully to roll
// it out.
// +kubebuilder:validation:XValidation:rule="has(self.images) != has(self.template)",message="set exactly one of images or template"
// +kubebuilder:validation:XValidation:rule="self.deployment == oldSelf.deployment",message="deployment cannot be changed; create a new Release"
type ReleaseSpec struct {
	// deployment names the Deployment, in the Release's namespace, to release.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Deployment string `json:"deployment"`

	// service optionally names the Service in front of the Deployment; the
	// controller checks that it selects the canary pods too, so they serve.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z]([-a-z0-9]*[a-z0-9])?$`
	Service string `json:"service,omitempty"`

	// images sets new images on containers of the Deployment's pod template,
	// the common case. Everything else of the template stays.
	// +optional
	// +listType=map
	// +listMapKey=container
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Images []ContainerImage `json:"images,omitempty"`

	// template replaces the whole pod template. Its labels must still match
	// the Deployment's selector.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	Template *corev1.PodTemplateSpec `json:"template,omitempty"`

	// strategy is the canary's steps. The default is one canary pod watched
	// for a minute, then half of the replicas watched for a minute, then all.
	// +optional
	Strategy CanaryStrategy `json:"strategy,omitempty"`

	// analysis is how the canary is judged.
	// +optional
	Analysis Analysis `json:"analysis,omitempty"`

	// rollbackOf names the Release whose stable version this one restores;
	// set by `bokujo release rollback`, shown in the history.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	RollbackOf string `json:"rollbackOf,omitempty"`
}

// ContainerImage is a new image for one container.
type ContainerImage struct {
	// container is the name of a container (or init container) in the pod
	// template.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Container string `json:"container"`

	// image is the new image reference.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^[^\s]+$`
	Image string `json:"image"`
}

// CanaryStrategy lists the steps of a release. The first step always runs
// exactly one canary pod beside all the stable ones; each later step runs a
// percentage of the replicas as canary pods. After the last step the new
// version is promoted to every replica.
// +kubebuilder:validation:XValidation:rule="!has(self.steps) || !has(self.steps[0].weight)",message="the first step runs exactly one canary pod: leave its weight out"
// +kubebuilder:validation:XValidation:rule="!has(self.steps) || self.steps.size() < 2 || self.steps.all(s, s == self.steps[0] || has(s.weight))",message="every step after the first needs a weight"
type CanaryStrategy struct {
	// steps of the release, at most 10.
	// +optional
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=10
	Steps []CanaryStep `json:"steps,omitempty"`
}

// CanaryStep is one step of a release.
type CanaryStep struct {
	// weight is the percentage of the replicas that run the new version at
	// this step, rounded up to whole pods. Left out on the first step, which
	// always runs exactly one canary pod.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	Weight *int32 `json:"weight,omitempty"`

	// pause is how long the step is watched before the next. Without pause
	// the release moves on after one passing analysis; with an empty pause
	// ({}) it waits for a person to promote it.
	// +optional
	Pause *Pause `json:"pause,omitempty"`
}

// Pause holds a step.
type Pause struct {
	// duration of the pause, e.g. "5m". Left out, the step waits until
	// promoted.
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`
}

// Analysis judges the canary. Pod health is always checked: a canary
// container that restarts more than maxRestarts times, crash-loops, or does
// not become ready within readyTimeout fails the release.
type Analysis struct {
	// interval between two measurements. Default 10s.
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`

	// readyTimeout is how long canary pods may take to become ready.
	// Default 5m.
	// +optional
	ReadyTimeout *metav1.Duration `json:"readyTimeout,omitempty"`

	// maxRestarts is how many container restarts of the canary pods are
	// tolerated in total. Default 0.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	MaxRestarts *int32 `json:"maxRestarts,omitempty"`

	// prometheus adds metric queries to the verdict.
	// +optional
	Prometheus *PrometheusAnalysis `json:"prometheus,omitempty"`
}

// PrometheusAnalysis queries a Prometheus server at every interval.
type PrometheusAnalysis struct {
	// address of the Prometheus HTTP API, e.g.
	// http://prometheus.monitoring:9090.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && (self.startsWith('http://') || self.startsWith('https://'))",message="address must be an http or https URL"
	Address string `json:"address"`

	// failureLimit is how many breaching measurements in a row are
	// tolerated; the next one fails the release. Default 0.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	FailureLimit *int32 `json:"failureLimit,omitempty"`

	// queries, each evaluated as an instant query; the first sample's value
	// must stay within the query's bounds.
	// +required
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=10
	Queries []PrometheusQuery `json:"queries"`
}

// PrometheusQuery is one metric and its bounds. Bounds are decimal strings
// (e.g. "0.01") so they keep their exact spelling.
// +kubebuilder:validation:XValidation:rule="has(self.max) || has(self.min)",message="set max, min or both"
type PrometheusQuery struct {
	// name of the measurement, e.g. error-ratio.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// query in PromQL. The text {{canary}} is replaced by the canary pods'
	// pod-template-hash, to narrow a query to the canary.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	Query string `json:"query"`

	// max is the highest passing value.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$`
	Max string `json:"max,omitempty"`

	// min is the lowest passing value.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$`
	Min string `json:"min,omitempty"`
}

// MeasurementResult is the verdict of one measurement.
type MeasurementResult string

const (
	ResultPassed       MeasurementResult = "Passed"
	ResultFailed       MeasurementResult = "Failed"
	ResultInconclusive MeasurementResult = "Inconclusive"
)

// Measurement is one analysis result.
type Measurement struct {
	// name is "pods" for the pod-health check or a query's name.
	// +required
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`
	// step the measurement was taken at, counted from 1.
	// +required
	Step int32 `json:"step"`
	// result of the measurement.
	// +required
	// +kubebuilder:validation:MaxLength=32
	Result MeasurementResult `json:"result"`
	// value measured, as text.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Value string `json:"value,omitempty"`
	// message explains the result.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
	// time of the measurement.
	// +required
	Time metav1.Time `json:"time"`
}

// HistoryEntry records why a release moved.
type HistoryEntry struct {
	// time of the move.
	// +required
	Time metav1.Time `json:"time"`
	// step the release was at, counted from 1; 0 before the first.
	// +required
	Step int32 `json:"step"`
	// phase after the move.
	// +required
	// +kubebuilder:validation:MaxLength=32
	Phase Phase `json:"phase"`
	// reason, one word.
	// +required
	// +kubebuilder:validation:MaxLength=64
	Reason string `json:"reason"`
	// message for people.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
	// by names the person whose action caused the move, if any.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	By string `json:"by,omitempty"`
}

// ReleaseStatus is what the controller did and saw.
type ReleaseStatus struct {
	// observedGeneration is the generation last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// phase summarises the release.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	Phase Phase `json:"phase,omitempty"`

	// step is the current step, counted from 1; 0 before the first.
	// +optional
	Step int32 `json:"step,omitempty"`

	// steps is the number of steps.
	// +optional
	Steps int32 `json:"steps,omitempty"`

	// replicas the Deployment had before the release; the total kept.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// canaryReplicas the current step asks for.
	// +optional
	CanaryReplicas int32 `json:"canaryReplicas,omitempty"`

	// readyCanaryReplicas is how many canary pods are ready.
	// +optional
	ReadyCanaryReplicas int32 `json:"readyCanaryReplicas,omitempty"`

	// stableRevision is the pod-template-hash of the stable pods.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	StableRevision string `json:"stableRevision,omitempty"`

	// canaryRevision is the pod-template-hash of the canary pods.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	CanaryRevision string `json:"canaryRevision,omitempty"`

	// stableImages are the images of the stable version, by container.
	// +optional
	// +listType=map
	// +listMapKey=container
	// +kubebuilder:validation:MaxItems=32
	StableImages []ContainerImage `json:"stableImages,omitempty"`

	// canaryImages are the images of the new version, by container.
	// +optional
	// +listType=map
	// +listMapKey=container
	// +kubebuilder:validation:MaxItems=32
	CanaryImages []ContainerImage `json:"canaryImages,omitempty"`

	// stableTemplate is the stable pod template, kept so that a later
	// Release can roll back to it exactly.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	StableTemplate *corev1.PodTemplateSpec `json:"stableTemplate,omitempty"`

	// createdBy is who started the release.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	CreatedBy string `json:"createdBy,omitempty"`

	// stepStartTime is when the current step's canary pods were all ready
	// (its pause counts from there).
	// +optional
	StepStartTime *metav1.Time `json:"stepStartTime,omitempty"`

	// startTime is when the release started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// completionTime is when the release was promoted or rolled back.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// lastAnalysisTime is when the canary was last measured.
	// +optional
	LastAnalysisTime *metav1.Time `json:"lastAnalysisTime,omitempty"`

	// paused is set while a person holds the release.
	// +optional
	PausedByUser string `json:"pausedByUser,omitempty"`

	// consecutiveFailures counts breaching Prometheus measurements in a row.
	// +optional
	ConsecutiveFailures int32 `json:"consecutiveFailures,omitempty"`

	// measurements, the latest 30.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=30
	Measurements []Measurement `json:"measurements,omitempty"`

	// history of the release's moves, the latest 40.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=40
	History []HistoryEntry `json:"history,omitempty"`

	// conditions: Progressing, Healthy, Completed.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Release rolls a new version out to a Deployment, one canary pod first.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=rel,categories=bokujo
// +kubebuilder:printcolumn:name="Deployment",type=string,JSONPath=`.spec.deployment`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Step",type=string,JSONPath=`.status.step`
// +kubebuilder:printcolumn:name="Canary",type=integer,JSONPath=`.status.readyCanaryReplicas`
// +kubebuilder:printcolumn:name="Healthy",type=string,JSONPath=`.status.conditions[?(@.type=="Healthy")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Progressing")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Release struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec ReleaseSpec `json:"spec"`
	// +optional
	Status ReleaseStatus `json:"status,omitempty"`
}

// ReleaseList is a list of Releases.
// +kubebuilder:object:root=true
type ReleaseList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Release `json:"items"`
}

// Finished reports whether the release reached a final phase.
func (r *Release) Finished() bool {
	switch r.Status.Phase {
	case PhasePromoted, PhaseRolledBack, PhaseFailed:
		return true
	}
	return false
}
