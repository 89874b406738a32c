// Package v1alpha1 holds bokujo's delivery API, group delivery.bokujo.io:
// the objects that run in a downstream cluster to release a new version of
// a workload safely.
//
// A Release targets one Deployment in its namespace. It starts exactly one
// pod of the new version beside the stable ones, watches it (pod health and
// optional Prometheus queries), then moves a growing share of the replicas
// to the new version step by step, and either promotes it to 100 % or rolls
// back to the stable version on its own. Canary and stable pods run in two
// ReplicaSets behind the same Service, so no service mesh is needed.
//
// The CRD manifests in the crds subpackage and zz_generated.deepcopy.go are
// generated from these types by hack/generate.sh.
//
// +kubebuilder:object:generate=true
// +groupName=delivery.bokujo.io
package v1alpha1
