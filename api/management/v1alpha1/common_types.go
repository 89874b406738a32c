package v1alpha1

// Labels bokujo reads and writes on objects in the management cluster and in
// downstream clusters.
const (
	// ProjectLabel on a downstream namespace claims it for the Project of
	// that name, like an entry in the Project's spec.namespaces does.
	// Project names are therefore limited to what a label value allows.
	ProjectLabel = "bokujo.io/project"
)

// Keys of the Secrets the management API refers to.
const (
	// KubeconfigSecretKey holds a kubeconfig in the credential Secrets of a
	// Cluster imported from a kubeconfig.
	KubeconfigSecretKey = "kubeconfig"
	// PasswordHashSecretKey holds a User's salted, slow password hash in the
	// Secret named by spec.passwordSecretRef.
	PasswordHashSecretKey = "passwordHash"
)

// Condition types and reasons shared by several kinds.
const (
	// ConditionReady is the summary condition of every kind with status:
	// True when the object is in effect as its spec asks.
	ConditionReady = "Ready"

	// ReasonReconciling means the controller is still working towards the
	// spec.
	ReasonReconciling = "Reconciling"
	// ReasonClusterNotFound means the object names a Cluster that does not
	// exist.
	ReasonClusterNotFound = "ClusterNotFound"
	// ReasonClusterUnavailable means the Cluster exists but cannot be reached
	// now; the controller retries with back-off.
	ReasonClusterUnavailable = "ClusterUnavailable"
)

// SecretReference names a Secret in the namespace the bokujo server keeps its
// own state in. It has no namespace field on purpose: whoever may create a
// Cluster or a User must not be able to make bokujo read a Secret anywhere
// else in the management cluster.
type SecretReference struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
}

// SubjectKind is the kind of a Subject.
// +kubebuilder:validation:Enum=User;Group
type SubjectKind string

const (
	// SubjectKindUser names a User object.
	SubjectKindUser SubjectKind = "User"
	// SubjectKindGroup names a group: a bokujo Group object or a group an
	// external identity provider reports for its users.
	SubjectKindGroup SubjectKind = "Group"
)

// Subject is who a binding grants its role to.
// +kubebuilder:validation:XValidation:rule="self.kind != 'User' || (self.name.size() <= 253 && self.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'))",message="a User subject names a User object: a lowercase DNS subdomain"
// +kubebuilder:validation:XValidation:rule="!self.name.startsWith('system:')",message="names starting with system: are reserved by Kubernetes"
type Subject struct {
	// kind is User or Group.
	// +required
	Kind SubjectKind `json:"kind"`

	// name is the name of the User object, or the group's name. Group names
	// are free-form because external identity providers choose them (an
	// LDAP DN, a GitHub team); names starting with "system:" are refused so
	// no binding can reach Kubernetes' own groups such as
	// system:authenticated.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Name string `json:"name"`
}

// Origin tells who owns an object's definition.
// +kubebuilder:validation:Enum=Builtin;Custom
type Origin string

const (
	// OriginBuiltin objects are created by the bokujo server at start and
	// restored to their shipped definition when edited.
	OriginBuiltin Origin = "Builtin"
	// OriginCustom objects are created and owned by administrators.
	OriginCustom Origin = "Custom"
)
