package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PreemptionPolicy says whether a queue takes back lent GPUs.
// +kubebuilder:validation:Enum=Never;LowerPriority
type PreemptionPolicy string

const (
	// PreemptNever waits for borrowed GPUs to come back by themselves.
	PreemptNever PreemptionPolicy = "Never"
	// PreemptLowerPriority evicts tasks of other queues in the cohort that
	// borrow this queue's GPUs and have a lower priority than the task
	// that needs them. Evicted tasks go back to Queued.
	PreemptLowerPriority PreemptionPolicy = "LowerPriority"
)

// GPUQuota is a queue's share of one GPU product.
type GPUQuota struct {
	// product is the nvidia.com/gpu.product node label value.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`
	Product string `json:"product"`
	// gpus is the nominal quota: GPUs this queue may always use.
	// +required
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000000
	GPUs int32 `json:"gpus"`
	// borrowingLimit caps how many GPUs beyond the nominal quota the queue
	// may borrow from its cohort; unset means no cap.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000000
	BorrowingLimit *int32 `json:"borrowingLimit,omitempty"`
}

// GPUQueueSpec is how a set of GPUs is shared.
type GPUQueueSpec struct {
	// cohort names a group of GPUQueues that lend each other idle quota.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Cohort string `json:"cohort,omitempty"`
	// quotas lists the GPUs per product, in the order tasks that name no
	// product are placed.
	// +required
	// +listType=map
	// +listMapKey=product
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Quotas []GPUQuota `json:"quotas"`
	// preemption: Never (the default) or LowerPriority.
	// +optional
	// +kubebuilder:default=Never
	Preemption PreemptionPolicy `json:"preemption,omitempty"`
}

// GPUUsage is the use of one product.
type GPUUsage struct {
	// product is the GPU product.
	// +required
	// +kubebuilder:validation:MaxLength=63
	Product string `json:"product"`
	// gpus in use by admitted tasks of this queue.
	// +required
	GPUs int32 `json:"gpus"`
	// borrowed is the part of gpus above the nominal quota.
	// +optional
	Borrowed int32 `json:"borrowed,omitempty"`
}

// GPUQueueStatus is the queue's current use.
type GPUQueueStatus struct {
	// usage per product.
	// +optional
	// +listType=map
	// +listMapKey=product
	// +kubebuilder:validation:MaxItems=16
	Usage []GPUUsage `json:"usage,omitempty"`
	// admittedTasks counts tasks holding quota.
	// +optional
	AdmittedTasks int32 `json:"admittedTasks,omitempty"`
	// pendingTasks counts tasks waiting.
	// +optional
	PendingTasks int32 `json:"pendingTasks,omitempty"`
}

// GPUQueue is a cluster's quota of GPUs per product, shared between the
// LocalQueues bound to it.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=gpuq,categories=bokujo;ml
// +kubebuilder:printcolumn:name="Cohort",type=string,JSONPath=`.spec.cohort`
// +kubebuilder:printcolumn:name="Admitted",type=integer,JSONPath=`.status.admittedTasks`
// +kubebuilder:printcolumn:name="Pending",type=integer,JSONPath=`.status.pendingTasks`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type GPUQueue struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec GPUQueueSpec `json:"spec"`
	// +optional
	Status GPUQueueStatus `json:"status,omitempty"`
}

// GPUQueueList is a list of GPUQueues.
// +kubebuilder:object:root=true
type GPUQueueList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []GPUQueue `json:"items"`
}

// LocalQueueSpec binds a namespace's queue to a GPUQueue.
type LocalQueueSpec struct {
	// gpuQueue is the GPUQueue this queue draws from.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	GPUQueue string `json:"gpuQueue"`
	// weight is this queue's share relative to the other LocalQueues of
	// the GPUQueue: a queue of weight 2 gets twice the GPUs of one of
	// weight 1 when both have work waiting.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	Weight int32 `json:"weight,omitempty"`
}

// LocalQueueStatus is the queue's current use.
type LocalQueueStatus struct {
	// gpus in use by admitted tasks.
	// +optional
	GPUs int32 `json:"gpus,omitempty"`
	// admittedTasks counts tasks holding quota.
	// +optional
	AdmittedTasks int32 `json:"admittedTasks,omitempty"`
	// pendingTasks counts tasks waiting.
	// +optional
	PendingTasks int32 `json:"pendingTasks,omitempty"`
}

// LocalQueue is a project's queue in a namespace; MLTasks name it in
// spec.queue.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=lq,categories=bokujo;ml
// +kubebuilder:printcolumn:name="GPUQueue",type=string,JSONPath=`.spec.gpuQueue`
// +kubebuilder:printcolumn:name="Weight",type=integer,JSONPath=`.spec.weight`
// +kubebuilder:printcolumn:name="GPUs",type=integer,JSONPath=`.status.gpus`
// +kubebuilder:printcolumn:name="Admitted",type=integer,JSONPath=`.status.admittedTasks`
// +kubebuilder:printcolumn:name="Pending",type=integer,JSONPath=`.status.pendingTasks`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type LocalQueue struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec LocalQueueSpec `json:"spec"`
	// +optional
	Status LocalQueueStatus `json:"status,omitempty"`
}

// LocalQueueList is a list of LocalQueues.
// +kubebuilder:object:root=true
type LocalQueueList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []LocalQueue `json:"items"`
}
