package v1alpha1

// SystemNamespace is the namespace of the management cluster where the
// bokujo server keeps its own Secrets (password hashes, downstream cluster
// credentials) and leader-election leases. Every SecretReference in this API
// points into it.
const SystemNamespace = "bokujo-system"

// UserPrefix and GroupPrefix are put in front of bokujo user and group names
// when they are impersonated in a downstream cluster and in the subjects of
// the RBAC objects bokujo writes there, so that no bokujo user or group can
// ever be mistaken for a Kubernetes identity such as system:admin,
// system:masters or a service account.
const (
	UserPrefix  = "bokujo:"
	GroupPrefix = "bokujo:"
)
