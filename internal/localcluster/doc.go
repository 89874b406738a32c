// Package localcluster starts and stops real Kubernetes control planes on
// this machine: etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler built from upstream source, plus kwok, which drives
// simulated nodes (including nodes that advertise nvidia.com/gpu) so pods are
// scheduled, report Running and Job pods complete.
//
// A cluster lives in one directory: its PKI, etcd data, kubeconfigs, component
// logs and a cluster.json with its ports. Starting a cluster again from the
// same directory keeps every object. Components run in their own process
// groups and die with the parent (PR_SET_PDEATHSIG) so a killed parent leaves
// no process behind; Stop shuts them down gracefully in reverse order.
package localcluster
