package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Reasons of a User's Ready condition, which is True while the user may log
// in and use their tokens.
const (
	// UserReasonActive: the user is active and not locked out.
	UserReasonActive = "Active"
	// UserReasonDisabled: an administrator disabled the user.
	UserReasonDisabled = "Disabled"
	// UserReasonLockedOut: logins are refused until status.lockedUntil after
	// repeated failed password attempts.
	UserReasonLockedOut = "LockedOut"
)

// UserState says whether a user may use bokujo.
// +kubebuilder:validation:Enum=Active;Disabled
type UserState string

const (
	// UserStateActive users may log in and use their tokens.
	UserStateActive UserState = "Active"
	// UserStateDisabled users cannot log in; their sessions and tokens are
	// refused and their downstream access is removed, but their bindings
	// and tokens are kept so that enabling them again restores everything.
	UserStateDisabled UserState = "Disabled"
)

// UserSpec describes a person (or robot) who uses bokujo.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.username) || (has(self.username) && self.username == oldSelf.username)",message="username cannot be changed or removed once set"
// +kubebuilder:validation:XValidation:rule="!has(self.passwordSecretRef) || has(self.username)",message="a user with a password needs a username to log in with"
type UserSpec struct {
	// displayName is the name people see in the UI.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	DisplayName string `json:"displayName,omitempty"`

	// username is the local login name. Users who only log in through an
	// external identity provider have none. It cannot change once set, so
	// that audit records keep naming the same person; bokujo's API keeps
	// usernames unique.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9._@]*[a-z0-9])?$`
	Username string `json:"username,omitempty"`

	// passwordSecretRef names the Secret whose "passwordHash" key holds the
	// user's salted, slow password hash. The password and its hash are
	// never stored in the User itself, which many may read.
	// +optional
	PasswordSecretRef *SecretReference `json:"passwordSecretRef,omitempty"`

	// state is Active or Disabled.
	// +optional
	// +kubebuilder:default=Active
	State UserState `json:"state,omitempty"`

	// identities link the user to accounts at external identity providers,
	// at most one per provider. bokujo's API keeps each identity linked to
	// one user only.
	// +optional
	// +listType=map
	// +listMapKey=provider
	// +kubebuilder:validation:MaxItems=16
	Identities []UserIdentity `json:"identities,omitempty"`
}

// UserIdentity is an account at an external identity provider.
type UserIdentity struct {
	// provider is the name of the identity provider's configuration.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Provider string `json:"provider"`

	// subject is the provider's stable, never reassigned id of the account
	// (OIDC "sub", a GitHub user id, an LDAP entryUUID), not a changeable
	// name or e-mail address.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Subject string `json:"subject"`
}

// UserStatus is what bokujo last observed about a user.
type UserStatus struct {
	// conditions: Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// lastLoginTime is when the user last logged in.
	// +optional
	LastLoginTime *metav1.Time `json:"lastLoginTime,omitempty"`

	// groups are the groups external identity providers reported for the
	// user at their last login. They count for bindings to Group subjects
	// like memberships of Group objects do.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=512
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	Groups []string `json:"groups,omitempty"`

	// failedLogins counts password failures since the last successful
	// login. It lives in the object so that every server replica sees it.
	// +optional
	// +kubebuilder:validation:Minimum=0
	FailedLogins *int32 `json:"failedLogins,omitempty"`

	// lockedUntil is when logins are accepted again after too many
	// failures.
	// +optional
	LockedUntil *metav1.Time `json:"lockedUntil,omitempty"`
}

// User is a bokujo user. Its name is what bindings, tokens and Group members
// refer to; the login name is spec.username.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=bku,categories=bokujo
// +kubebuilder:printcolumn:name="Username",type=string,JSONPath=`.spec.username`
// +kubebuilder:printcolumn:name="Display Name",type=string,JSONPath=`.spec.displayName`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.spec.state`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`,priority=1
// +kubebuilder:printcolumn:name="Last Login",type=date,JSONPath=`.status.lastLoginTime`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type User struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec describes the user.
	// +required
	Spec UserSpec `json:"spec"`

	// status is what bokujo last observed.
	// +optional
	Status UserStatus `json:"status,omitempty"`
}

// UserList is a list of Users.
// +kubebuilder:object:root=true
type UserList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []User `json:"items"`
}
