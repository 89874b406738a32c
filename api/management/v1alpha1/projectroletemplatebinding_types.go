package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ProjectRoleTemplateBindingSpec grants a Project RoleTemplate in each
// namespace of a project. Nothing in it can change: a different grant is a
// different binding.
type ProjectRoleTemplateBindingSpec struct {
	// projectName is the name of the Project.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="projectName is immutable"
	ProjectName string `json:"projectName"`

	// roleTemplateName is the name of a RoleTemplate of context Project.
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

// ProjectRoleTemplateBinding grants a user or group a role in the namespaces
// of a project.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=prtb,categories=bokujo
// +kubebuilder:printcolumn:name="Project",type=string,JSONPath=`.spec.projectName`
// +kubebuilder:printcolumn:name="Role Template",type=string,JSONPath=`.spec.roleTemplateName`
// +kubebuilder:printcolumn:name="Subject Kind",type=string,JSONPath=`.spec.subject.kind`
// +kubebuilder:printcolumn:name="Subject",type=string,JSONPath=`.spec.subject.name`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ProjectRoleTemplateBinding struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec describes the grant.
	// +required
	Spec ProjectRoleTemplateBindingSpec `json:"spec"`

	// status is what RBAC sync last did.
	// +optional
	Status RoleTemplateBindingStatus `json:"status,omitempty"`
}

// ProjectRoleTemplateBindingList is a list of ProjectRoleTemplateBindings.
// +kubebuilder:object:root=true
type ProjectRoleTemplateBindingList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ProjectRoleTemplateBinding `json:"items"`
}
