package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GlobalRoleBindingSpec grants a GlobalRole to a subject. Like a Kubernetes
// RoleBinding's roleRef, nothing in it can change: a different grant is a
// different binding, which keeps the audit trail of grants plain.
type GlobalRoleBindingSpec struct {
	// globalRoleName is the name of the GlobalRole granted.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="globalRoleName is immutable"
	GlobalRoleName string `json:"globalRoleName"`

	// subject is who the role is granted to.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="subject is immutable"
	Subject Subject `json:"subject"`
}

// GlobalRoleBinding grants management rights to a user or group.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=grb,categories=bokujo
// +kubebuilder:printcolumn:name="Role",type=string,JSONPath=`.spec.globalRoleName`
// +kubebuilder:printcolumn:name="Subject Kind",type=string,JSONPath=`.spec.subject.kind`
// +kubebuilder:printcolumn:name="Subject",type=string,JSONPath=`.spec.subject.name`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type GlobalRoleBinding struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec describes the grant.
	// +required
	Spec GlobalRoleBindingSpec `json:"spec"`
}

// GlobalRoleBindingList is a list of GlobalRoleBindings.
// +kubebuilder:object:root=true
type GlobalRoleBindingList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []GlobalRoleBinding `json:"items"`
}
