// Package rbacsync turns bokujo's management API (RoleTemplates,
// ClusterRoleTemplateBindings, ProjectRoleTemplateBindings and Projects in
// the management cluster) into plain Kubernetes RBAC objects, namespaces,
// ResourceQuotas and LimitRanges in every downstream cluster, and keeps them
// there. Every access decision is then made by the downstream API server's
// own RBAC; the proxy only impersonates.
//
// # What is written downstream
//
//	ClusterRole        bokujo:rt:<template>   one per RoleTemplate in use in the cluster,
//	                                          rules flattened with the inherited templates'
//	ClusterRoleBinding bokujo:crtb:<binding>  one per ClusterRoleTemplateBinding
//	RoleBinding        bokujo:prtb:<binding>  one per ProjectRoleTemplateBinding and
//	                                          namespace of its project
//	ResourceQuota      bokujo-project         one per project namespace with a quota
//	LimitRange         bokujo-project         one per project namespace with limits
//
// Subjects carry v1alpha1.UserPrefix / GroupPrefix (user alice is User
// "bokujo:alice"), the names the proxy impersonates. Every object carries
// app.kubernetes.io/managed-by=bokujo and a label naming its source, so the
// count of objects grows with bindings and namespaces, never with users.
//
// # Controllers
//
// One reconciler per object and step, all registered by Setup:
//
//   - rbacsync-cluster starts one cache per downstream cluster (bokujo's
//     objects and namespaces only) when a Cluster appears and stops it when
//     the Cluster goes. Its informers send every change of a bokujo object
//     back to the reconciler that owns it, which is how drift is repaired.
//   - rbacsync-clusterrole keeps ClusterRole bokujo:rt:<template> in each
//     cluster where the template is bound, and removes it where it is not.
//   - rbacsync-crtb and rbacsync-prtb keep the bindings; a finalizer makes
//     removal reliable, and a binding to a missing or disabled User grants
//     nothing until the user is active again.
//   - rbacsync-project claims namespaces for Projects (listed ones are
//     created and labelled bokujo.io/project; labelled ones join) and
//     applies quota and limits. Kubernetes' and bokujo's own namespaces
//     are never claimed (ReservedNamespace).
//   - rbacsync-orphans deletes bokujo-labelled objects no source wants.
//   - rbacsync-builtin-* restore the built-in GlobalRoles and RoleTemplates
//     (see EnsureBuiltins) when edited or deleted.
//
// CanGrant is the escalation check the API layer runs before it stores a
// binding; ProjectOf and ReservedNamespace help it judge namespace changes.
// Render computes a cluster's objects without a cluster (bench/rbacobjects).
//
// The identity bokujo uses downstream needs DownstreamRules; note that
// writing RBAC objects for others requires the escalate and bind verbs.
package rbacsync
