package v1alpha1

import (
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Names of the built-in RoleTemplates the server creates at start.
const (
	RoleTemplateClusterOwner  = "cluster-owner"
	RoleTemplateClusterMember = "cluster-member"
	RoleTemplateClusterViewer = "cluster-viewer"
	RoleTemplateProjectOwner  = "project-owner"
	RoleTemplateProjectMember = "project-member"
	RoleTemplateProjectViewer = "project-viewer"
)

// RoleTemplateContext is where a template's rules apply.
// +kubebuilder:validation:Enum=Cluster;Project
type RoleTemplateContext string

const (
	// RoleTemplateContextCluster templates are bound to a whole downstream
	// cluster by ClusterRoleTemplateBindings.
	RoleTemplateContextCluster RoleTemplateContext = "Cluster"
	// RoleTemplateContextProject templates are bound to the namespaces of a
	// Project by ProjectRoleTemplateBindings.
	RoleTemplateContextProject RoleTemplateContext = "Project"
)

// RoleTemplateState says whether a template may be newly bound.
// +kubebuilder:validation:Enum=Active;Locked
type RoleTemplateState string

const (
	// RoleTemplateStateActive templates can be bound.
	RoleTemplateStateActive RoleTemplateState = "Active"
	// RoleTemplateStateLocked templates keep working for existing bindings
	// but bokujo's API refuses new bindings to them, so a template can be
	// retired without cutting anyone off at once.
	RoleTemplateStateLocked RoleTemplateState = "Locked"
)

// RoleTemplateSpec is a reusable set of Kubernetes RBAC rules that bokujo
// writes into downstream clusters as one ClusterRole per template in use.
// +kubebuilder:validation:XValidation:rule="self.context != 'Project' || !has(self.rules) || self.rules.all(r, !has(r.nonResourceURLs))",message="project role templates cannot grant nonResourceURLs"
type RoleTemplateSpec struct {
	// displayName is the name people see in the UI.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	DisplayName string `json:"displayName,omitempty"`

	// description says what the template grants.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Description string `json:"description,omitempty"`

	// context is Cluster or Project. It cannot change, since bindings of
	// the other kind would suddenly grant something else.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="context is immutable"
	Context RoleTemplateContext `json:"context"`

	// rules are the rights, as in a Kubernetes ClusterRole, down to
	// resources and resource names. In a Project template they apply in
	// each of the project's namespaces only.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=128
	Rules []rbacv1.PolicyRule `json:"rules,omitempty"`

	// inherits names other templates of the same context whose rules this
	// one includes as well.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Inherits []string `json:"inherits,omitempty"`

	// origin is Builtin for the templates the server ships (restored when
	// edited) and Custom for the rest.
	// +optional
	// +kubebuilder:default=Custom
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="origin is immutable"
	Origin Origin `json:"origin,omitempty"`

	// state is Active or Locked.
	// +optional
	// +kubebuilder:default=Active
	State RoleTemplateState `json:"state,omitempty"`
}

// RoleTemplate is a reusable role for downstream clusters or projects, such
// as read-only, read-write or a custom set of rules.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=rt,categories=bokujo
// +kubebuilder:printcolumn:name="Display Name",type=string,JSONPath=`.spec.displayName`
// +kubebuilder:printcolumn:name="Context",type=string,JSONPath=`.spec.context`
// +kubebuilder:printcolumn:name="Origin",type=string,JSONPath=`.spec.origin`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.spec.state`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="!has(self.spec.inherits) || !(self.metadata.name in self.spec.inherits)",message="a role template cannot inherit itself",fieldPath=`.spec.inherits`
type RoleTemplate struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec describes the template.
	// +required
	Spec RoleTemplateSpec `json:"spec"`
}

// RoleTemplateList is a list of RoleTemplates.
// +kubebuilder:object:root=true
type RoleTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RoleTemplate `json:"items"`
}
