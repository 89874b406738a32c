package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Reasons of the Ready condition of ClusterRoleTemplateBindings and
// ProjectRoleTemplateBindings, which is True once the downstream RBAC
// objects match the binding.
const (
	// BindingReasonSynced: the downstream ClusterRole and bindings are in
	// place.
	BindingReasonSynced = "Synced"
	// BindingReasonRoleTemplateNotFound: the named RoleTemplate, or one it
	// inherits, does not exist.
	BindingReasonRoleTemplateNotFound = "RoleTemplateNotFound"
	// BindingReasonContextMismatch: the RoleTemplate's context does not fit
	// the binding (a Project template in a cluster binding or the reverse).
	BindingReasonContextMismatch = "ContextMismatch"
	// BindingReasonProjectNotFound: the named Project does not exist.
	BindingReasonProjectNotFound = "ProjectNotFound"
)

// RoleTemplateBindingStatus is what RBAC sync last did for a binding.
type RoleTemplateBindingStatus struct {
	// conditions: Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// ClusterRoleTemplateBindingSpec grants a Cluster RoleTemplate in a whole
// downstream cluster. Nothing in it can change: a different grant is a
// different binding.
type ClusterRoleTemplateBindingSpec struct {
	// clusterName is the name of the Cluster.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="clusterName is immutable"
	ClusterName string `json:"clusterName"`

	// roleTemplateName is the name of a RoleTemplate of context Cluster.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="roleTemplateName is immutable"
	RoleTemplateName string `json:"roleTemplateName"`

	// subject is who the role is granted to.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="subject is immutable"
	Subject Subject `json:"subject"`
}

// ClusterRoleTemplateBinding grants a user or group a role in a downstream
// cluster.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=crtb,categories=bokujo
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.clusterName`
// +kubebuilder:printcolumn:name="Role Template",type=string,JSONPath=`.spec.roleTemplateName`
// +kubebuilder:printcolumn:name="Subject Kind",type=string,JSONPath=`.spec.subject.kind`
// +kubebuilder:printcolumn:name="Subject",type=string,JSONPath=`.spec.subject.name`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterRoleTemplateBinding struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec describes the grant.
	// +required
	Spec ClusterRoleTemplateBindingSpec `json:"spec"`

	// status is what RBAC sync last did.
	// +optional
	Status RoleTemplateBindingStatus `json:"status,omitempty"`
}

// ClusterRoleTemplateBindingList is a list of ClusterRoleTemplateBindings.
// +kubebuilder:object:root=true
type ClusterRoleTemplateBindingList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterRoleTemplateBinding `json:"items"`
}
