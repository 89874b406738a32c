package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TokenType says what a token was issued for.
// +kubebuilder:validation:Enum=Session;API;Kubeconfig
type TokenType string

const (
	// TokenTypeSession backs a UI session cookie.
	TokenTypeSession TokenType = "Session"
	// TokenTypeAPI was minted by a user for scripts and tools.
	TokenTypeAPI TokenType = "API"
	// TokenTypeKubeconfig is embedded in a generated kubeconfig.
	TokenTypeKubeconfig TokenType = "Kubeconfig"
)

// TokenSpec describes a credential. The token value is never stored: a
// client presents the token's object name together with a random secret
// part, and bokujo compares the SHA-256 of that secret part with spec.hash.
// +kubebuilder:validation:XValidation:rule="self.type != 'Session' || has(self.expiresAt)",message="session tokens must expire"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.expiresAt) || (has(self.expiresAt) && self.expiresAt <= oldSelf.expiresAt)",message="expiresAt can only be moved earlier"
type TokenSpec struct {
	// userName is the name of the User the token authenticates as.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="userName is immutable"
	UserName string `json:"userName"`

	// type is Session, API or Kubeconfig.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="type is immutable"
	Type TokenType `json:"type"`

	// description says what the token is for.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Description string `json:"description,omitempty"`

	// expiresAt is when the token stops working; it is deleted some time
	// later. It can be moved earlier but never later, so a leaked token's
	// life cannot be extended. Without it an API or Kubeconfig token lasts
	// until revoked.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`

	// hash is the lowercase hex SHA-256 of the token's secret part.
	// +required
	// +kubebuilder:validation:MinLength=64
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{64}$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="hash is immutable"
	Hash string `json:"hash"`
}

// TokenStatus is what bokujo last observed about a token.
type TokenStatus struct {
	// lastUsedTime is when the token last authenticated a request. It is
	// approximate: writing it on every request would load the management
	// cluster with one write per proxied call.
	// +optional
	LastUsedTime *metav1.Time `json:"lastUsedTime,omitempty"`
}

// Token is a bearer credential of a User. Deleting it revokes it.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=bkt,categories=bokujo
// +kubebuilder:printcolumn:name="User",type=string,JSONPath=`.spec.userName`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Expires",type=date,JSONPath=`.spec.expiresAt`
// +kubebuilder:printcolumn:name="Last Used",type=date,JSONPath=`.status.lastUsedTime`,priority=1
// +kubebuilder:printcolumn:name="Description",type=string,JSONPath=`.spec.description`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Token struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec describes the token.
	// +required
	Spec TokenSpec `json:"spec"`

	// status is what bokujo last observed.
	// +optional
	Status TokenStatus `json:"status,omitempty"`
}

// TokenList is a list of Tokens.
// +kubebuilder:object:root=true
type TokenList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Token `json:"items"`
}
