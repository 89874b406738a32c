package v1alpha1

import (
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Names of the built-in GlobalRoles the server creates at start.
const (
	// GlobalRoleAdmin may do everything in bokujo.
	GlobalRoleAdmin = "admin"
	// GlobalRoleUser may log in, manage their own tokens and see what they
	// were granted.
	GlobalRoleUser = "user"
)

// GlobalRoleSpec describes management rights: what a user may do to the
// objects of this API in the management cluster, not in downstream clusters.
type GlobalRoleSpec struct {
	// displayName is the name people see in the UI.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	DisplayName string `json:"displayName,omitempty"`

	// description says what the role is for.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Description string `json:"description,omitempty"`

	// rules are the rights, as in a Kubernetes ClusterRole, on the
	// management cluster's resources.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=128
	Rules []rbacv1.PolicyRule `json:"rules,omitempty"`

	// origin is Builtin for the roles the server ships (restored when
	// edited) and Custom for the rest. It is a field, not a label, so that
	// the API can refuse changing it.
	// +optional
	// +kubebuilder:default=Custom
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="origin is immutable"
	Origin Origin `json:"origin,omitempty"`
}

// GlobalRole is a named set of management rights.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=gr,categories=bokujo
// +kubebuilder:printcolumn:name="Display Name",type=string,JSONPath=`.spec.displayName`
// +kubebuilder:printcolumn:name="Origin",type=string,JSONPath=`.spec.origin`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type GlobalRole struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec describes the role.
	// +required
	Spec GlobalRoleSpec `json:"spec"`
}

// GlobalRoleList is a list of GlobalRoles.
// +kubebuilder:object:root=true
type GlobalRoleList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []GlobalRole `json:"items"`
}
