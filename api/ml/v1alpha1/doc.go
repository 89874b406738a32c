// Package v1alpha1 holds bokujo's machine-learning API, group
// ml.bokujo.io, installed into every downstream cluster bokujo manages:
//
//   - MLTask (namespaced): a training run or an interactive GPU machine,
//     described in a few lines; the mltask controller turns it into a Job
//     or a StatefulSet with their Services.
//   - GPUQueue (cluster-scoped): GPUs per product an administrator shares
//     out; queues of one cohort lend each other idle quota.
//   - LocalQueue (namespaced): a project's queue in a namespace, bound to a
//     GPUQueue with a weight for fair sharing.
//
// The design follows Kueue's ClusterQueue / LocalQueue / cohort split and
// Volcano's weighted queues, reduced to GPUs, which is what bokujo shares.
//
// The CRD manifests in the crds subpackage and zz_generated.deepcopy.go are
// generated from these types by hack/generate.sh.
//
// +kubebuilder:object:generate=true
// +groupName=ml.bokujo.io
package v1alpha1
