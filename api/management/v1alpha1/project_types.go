package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Reasons of a Project's Ready condition, which is True once every namespace
// of the project carries the project's label, quota and limits.
const (
	// ProjectReasonSynced: every namespace is labelled and has the
	// project's ResourceQuota and LimitRange.
	ProjectReasonSynced = "Synced"
	// ProjectReasonNamespaceConflict: a namespace listed in spec.namespaces
	// already belongs to another project; it is left alone.
	ProjectReasonNamespaceConflict = "NamespaceConflict"
)

// ProjectSpec describes a set of namespaces in one downstream cluster.
type ProjectSpec struct {
	// clusterName is the name of the Cluster the namespaces are in.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="clusterName is immutable"
	ClusterName string `json:"clusterName"`

	// displayName is the name people see in the UI.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	DisplayName string `json:"displayName,omitempty"`

	// description says what the project is for.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Description string `json:"description,omitempty"`

	// namespaces lists namespaces that belong to the project; bokujo labels
	// them with bokujo.io/project. Namespaces that already carry that label
	// with this project's name belong to it as well without being listed.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespaces []string `json:"namespaces,omitempty"`

	// resourceQuota is applied as a ResourceQuota to each namespace of the
	// project (a limit per namespace, not for the project in total).
	// +optional
	ResourceQuota *ProjectResourceQuota `json:"resourceQuota,omitempty"`

	// limitRange is applied as a LimitRange to each namespace of the
	// project, giving containers that set no resources defaults.
	// +optional
	LimitRange *ProjectLimitRange `json:"limitRange,omitempty"`
}

// ProjectResourceQuota is the quota each namespace of a project gets.
type ProjectResourceQuota struct {
	// hard is the ResourceQuota's hard limits, e.g. requests.cpu,
	// limits.memory, pods or requests.nvidia.com/gpu for GPUs.
	// +required
	// +kubebuilder:validation:MinProperties=1
	// +kubebuilder:validation:MaxProperties=64
	Hard corev1.ResourceList `json:"hard"`
}

// ProjectLimitRange is the container defaults each namespace of a project
// gets.
// +kubebuilder:validation:XValidation:rule="has(self.defaultLimits) || has(self.defaultRequests)",message="set defaultLimits, defaultRequests or both"
type ProjectLimitRange struct {
	// defaultLimits are the limits of containers that set none.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	DefaultLimits corev1.ResourceList `json:"defaultLimits,omitempty"`

	// defaultRequests are the requests of containers that set none.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	DefaultRequests corev1.ResourceList `json:"defaultRequests,omitempty"`
}

// ProjectStatus is what bokujo last observed about a project.
type ProjectStatus struct {
	// conditions: Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// namespaces are the namespaces that belong to the project now, listed
	// or labelled.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=1024
	// +kubebuilder:validation:items:MaxLength=63
	Namespaces []string `json:"namespaces,omitempty"`
}

// Project groups namespaces of one downstream cluster, for granting roles
// and applying quotas to them together. Its name is unique across clusters
// and is the value of the bokujo.io/project label, so it is a DNS label.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=bkp,categories=bokujo
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.clusterName`
// +kubebuilder:printcolumn:name="Display Name",type=string,JSONPath=`.spec.displayName`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 63 && self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="a project name must be a DNS label: at most 63 lowercase letters, digits and '-'"
type Project struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec describes the project.
	// +required
	Spec ProjectSpec `json:"spec"`

	// status is what bokujo last observed.
	// +optional
	Status ProjectStatus `json:"status,omitempty"`
}

// ProjectList is a list of Projects.
// +kubebuilder:object:root=true
type ProjectList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Project `json:"items"`
}
