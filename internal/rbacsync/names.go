package rbacsync

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// Labels on every object bokujo writes downstream.
const (
	// LabelManagedBy with value ManagedBy marks bokujo's objects; the
	// per-cluster caches watch only objects carrying it.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedBy is the value of LabelManagedBy.
	ManagedBy = "bokujo"

	// LabelRoleTemplate names the RoleTemplate of a ClusterRole.
	LabelRoleTemplate = "bokujo.io/role-template"
	// LabelCRTB names the ClusterRoleTemplateBinding of a
	// ClusterRoleBinding.
	LabelCRTB = "bokujo.io/crtb"
	// LabelPRTB names the ProjectRoleTemplateBinding of a RoleBinding.
	LabelPRTB = "bokujo.io/prtb"
	// LabelProject names the Project of a ResourceQuota or LimitRange. It
	// is the same key that claims a namespace, on purpose: both say "this
	// belongs to project X".
	LabelProject = v1alpha1.ProjectLabel

	// AnnotationListedBy is put on a namespace when bokujo labels it
	// because a Project lists it in spec.namespaces. It lets bokujo take
	// the label away again when the project stops listing it, without ever
	// touching labels a person set.
	AnnotationListedBy = "bokujo.io/listed-by-project"
)

// Name prefixes and names of downstream objects. RBAC object names are path
// segments, not DNS names, so the colon is allowed and the full source name
// always fits; that keeps the owner recoverable from the name alone, which a
// person cannot edit.
const (
	ClusterRolePrefix        = "bokujo:rt:"
	ClusterRoleBindingPrefix = "bokujo:crtb:"
	RoleBindingPrefix        = "bokujo:prtb:"

	// ProjectObjectName names the ResourceQuota and the LimitRange in each
	// project namespace.
	ProjectObjectName = "bokujo-project"
)

// ClusterRoleName is the ClusterRole of a RoleTemplate.
func ClusterRoleName(template string) string { return ClusterRolePrefix + template }

// ClusterRoleBindingName is the ClusterRoleBinding of a
// ClusterRoleTemplateBinding.
func ClusterRoleBindingName(binding string) string { return ClusterRoleBindingPrefix + binding }

// RoleBindingName is the RoleBinding of a ProjectRoleTemplateBinding, the
// same in each namespace of the project.
func RoleBindingName(binding string) string { return RoleBindingPrefix + binding }

// ProjectOf returns the project a downstream namespace belongs to by its
// label, or "" if none. The API layer uses it to check that whoever changes
// the label may manage both projects.
func ProjectOf(ns *corev1.Namespace) string {
	if ns == nil {
		return ""
	}
	return ns.Labels[v1alpha1.ProjectLabel]
}

// labelValue fits a source name into a label value. Names are DNS
// subdomains of up to 253 characters, label values at most 63; a long name
// is cut and suffixed with a hash of the whole so that distinct names keep
// distinct values. The object name, not the label, is what maps an object
// back to its source.
func labelValue(name string) string {
	if len(validation.IsValidLabelValue(name)) == 0 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	head := strings.TrimRight(name[:min(len(name), 50)], "-_.")
	return head + "-" + hex.EncodeToString(sum[:6])
}

func managedLabels(key, source string) map[string]string {
	return map[string]string{LabelManagedBy: ManagedBy, key: labelValue(source)}
}
