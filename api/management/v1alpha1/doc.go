// Package v1alpha1 holds bokujo's management API, group
// management.bokujo.io: the objects an administrator keeps in the management
// cluster to describe downstream clusters, people, credentials and access.
//
// Everything the UI or the REST API can change is one of these objects, so
// access can be kept in Git and applied with kubectl; controllers act on the
// objects rather than on API calls.
//
// All kinds are cluster-scoped. Secrets they refer to live in the namespace
// the bokujo server keeps its own state in (see SecretReference), never in
// the objects themselves.
//
// The CRD manifests in the crds subpackage and zz_generated.deepcopy.go are
// generated from these types by hack/generate.sh.
//
// +kubebuilder:object:generate=true
// +groupName=management.bokujo.io
package v1alpha1
