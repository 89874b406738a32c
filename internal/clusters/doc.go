// Package clusters is bokujo's cluster registry: it imports downstream
// clusters (creating bokujo's two identities there and keeping only their
// credentials), validates every kubeconfig it is given, keeps each
// Cluster's health in its status, and hands out clients: the proxy's
// impersonate-only identity and the management identity used by RBAC sync
// and the controllers.
package clusters
