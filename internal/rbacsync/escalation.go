package rbacsync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/component-helpers/auth/rbac/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// ErrEscalation is wrapped by every refusal of CanGrant.
var ErrEscalation = errors.New("escalation refused")

// Scope is where a grant applies: a whole cluster (Cluster set, Project
// empty) or a project (Project set; Cluster may be given and must then be
// the project's).
type Scope struct {
	Cluster string
	Project string
}

func (s Scope) String() string {
	if s.Project != "" {
		return "project " + s.Project
	}
	return "cluster " + s.Cluster
}

// EscalationError says why a grant was refused. Missing holds the rules,
// broken down to one verb, group and resource each, that the granter does
// not hold in the scope.
type EscalationError struct {
	User     string
	Template string
	Scope    Scope
	Reason   string
	Missing  []rbacv1.PolicyRule
}

func (e *EscalationError) Error() string {
	msg := fmt.Sprintf("user %q may not grant role template %q in %s: %s", e.User, e.Template, e.Scope, e.Reason)
	if len(e.Missing) == 0 {
		return msg
	}
	const shown = 3
	missing := mergeVerbs(e.Missing)
	var parts []string
	for _, r := range missing[:min(shown, len(missing))] {
		parts = append(parts, describeRule(r))
	}
	msg += ": missing " + strings.Join(parts, "; ")
	if n := len(missing) - shown; n > 0 {
		msg += fmt.Sprintf(" and %d more", n)
	}
	return msg
}

// mergeVerbs joins rules that differ only in their verbs, so that a refusal
// says "get,list,watch secrets" once instead of three times.
func mergeVerbs(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	idx := map[string]int{}
	var out []rbacv1.PolicyRule
	for _, r := range rules {
		k := fmt.Sprintf("%q|%q|%q|%q", r.APIGroups, r.Resources, r.ResourceNames, r.NonResourceURLs)
		if i, ok := idx[k]; ok {
			for _, v := range r.Verbs {
				if !slices.Contains(out[i].Verbs, v) {
					out[i].Verbs = append(out[i].Verbs, v)
				}
			}
			continue
		}
		idx[k] = len(out)
		out = append(out, normalizeRule(r))
	}
	return out
}

// Is makes errors.Is(err, ErrEscalation) true.
func (e *EscalationError) Is(target error) bool { return target == ErrEscalation }

// CanGrant reports whether user, a member of groups (bokujo names, without
// prefix; all of them, from Group objects and identity providers), may grant
// template in scope, like Kubernetes' escalate and bind checks: only if the
// user holds every rule of the template, inherited ones included, in that
// scope. Rights in a project come from the user's bindings to that project
// and to its cluster; rights in a cluster from cluster bindings alone, so a
// project-scoped granter never grants cluster-wide. A holder of a GlobalRole
// covering everything (the built-in admin) may grant anything. Whether the
// user may create bindings at all is the caller's check.
//
// It returns nil, an *EscalationError (errors.Is ErrEscalation), or an error
// reading the management cluster. c should read the management cluster
// directly or through an up-to-date cache; it reads GlobalRoles, bindings,
// templates, the Project and the User.
func CanGrant(ctx context.Context, c client.Reader, user string, groups []string, template *v1alpha1.RoleTemplate, scope Scope) error {
	if template == nil {
		return errors.New("check grant: no role template given")
	}
	refuse := func(reason string, missing ...rbacv1.PolicyRule) error {
		return &EscalationError{User: user, Template: template.Name, Scope: scope, Reason: reason, Missing: missing}
	}
	if scope.Cluster == "" && scope.Project == "" {
		return errors.New("check grant: scope names neither a cluster nor a project")
	}

	u := &v1alpha1.User{}
	if err := c.Get(ctx, client.ObjectKey{Name: user}, u); apierrors.IsNotFound(err) {
		return refuse("no such user")
	} else if err != nil {
		return fmt.Errorf("check grant: get user %s: %w", user, err)
	}
	if !userActive(u) {
		return refuse("the user is disabled")
	}
	holds := func(s v1alpha1.Subject) bool {
		if s.Kind == v1alpha1.SubjectKindGroup {
			return slices.Contains(groups, s.Name)
		}
		return s.Name == user
	}

	admin, err := isGlobalAdmin(ctx, c, holds)
	if err != nil {
		return err
	}

	var project *v1alpha1.Project
	if scope.Project != "" {
		project = &v1alpha1.Project{}
		if err := c.Get(ctx, client.ObjectKey{Name: scope.Project}, project); apierrors.IsNotFound(err) {
			return refuse("no such project")
		} else if err != nil {
			return fmt.Errorf("check grant: get project %s: %w", scope.Project, err)
		}
		if scope.Cluster != "" && scope.Cluster != project.Spec.ClusterName {
			return refuse(fmt.Sprintf("the project is in cluster %q", project.Spec.ClusterName))
		}
		scope.Cluster = project.Spec.ClusterName
		if template.Spec.Context != v1alpha1.RoleTemplateContextProject {
			return refuse("a cluster role template cannot be granted in a project; cluster-wide rights are granted on the cluster")
		}
	} else if template.Spec.Context != v1alpha1.RoleTemplateContextCluster {
		return refuse("a project role template is granted in a project, not on a whole cluster")
	}
	if template.Spec.State == v1alpha1.RoleTemplateStateLocked {
		return refuse("the role template is locked")
	}

	templates := &v1alpha1.RoleTemplateList{}
	if err := c.List(ctx, templates); err != nil {
		return fmt.Errorf("check grant: list role templates: %w", err)
	}
	lookup := LookupIn(templates.Items)
	want, err := FlattenRules(template, lookup)
	if err != nil {
		return fmt.Errorf("check grant: %w", err)
	}
	if admin {
		return nil
	}

	held, err := heldRules(ctx, c, holds, scope, project, lookup)
	if err != nil {
		return err
	}
	if ok, missing := validation.Covers(held, want); !ok {
		return refuse("the template grants rights the user does not hold there", missing...)
	}
	return nil
}

// isGlobalAdmin reports whether a GlobalRole covering every verb on every
// resource is bound to the subject.
func isGlobalAdmin(ctx context.Context, c client.Reader, holds func(v1alpha1.Subject) bool) (bool, error) {
	bindings := &v1alpha1.GlobalRoleBindingList{}
	if err := c.List(ctx, bindings); err != nil {
		return false, fmt.Errorf("check grant: list global role bindings: %w", err)
	}
	everything := []rbacv1.PolicyRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}}
	for _, b := range bindings.Items {
		if b.DeletionTimestamp != nil || !holds(b.Spec.Subject) {
			continue
		}
		role := &v1alpha1.GlobalRole{}
		if err := c.Get(ctx, client.ObjectKey{Name: b.Spec.GlobalRoleName}, role); apierrors.IsNotFound(err) {
			continue
		} else if err != nil {
			return false, fmt.Errorf("check grant: get global role %s: %w", b.Spec.GlobalRoleName, err)
		}
		if ok, _ := validation.Covers(role.Spec.Rules, everything); ok {
			return true, nil
		}
	}
	return false, nil
}

// heldRules are the downstream rules the subject holds in scope: its
// cluster bindings on scope.Cluster and, for a project scope, its bindings
// to that project. Bindings whose template cannot be resolved grant nothing,
// as downstream.
func heldRules(ctx context.Context, c client.Reader, holds func(v1alpha1.Subject) bool, scope Scope, project *v1alpha1.Project, lookup TemplateLookup) ([]rbacv1.PolicyRule, error) {
	var held []rbacv1.PolicyRule
	crtbs := &v1alpha1.ClusterRoleTemplateBindingList{}
	if err := c.List(ctx, crtbs); err != nil {
		return nil, fmt.Errorf("check grant: list cluster role template bindings: %w", err)
	}
	for _, b := range crtbs.Items {
		if b.DeletionTimestamp != nil || b.Spec.ClusterName != scope.Cluster || !holds(b.Spec.Subject) {
			continue
		}
		if rules, err := bindingRules(b.Spec.RoleTemplateName, v1alpha1.RoleTemplateContextCluster, lookup); err == nil {
			held = append(held, rules...)
		}
	}
	if project == nil {
		return held, nil
	}
	prtbs := &v1alpha1.ProjectRoleTemplateBindingList{}
	if err := c.List(ctx, prtbs); err != nil {
		return nil, fmt.Errorf("check grant: list project role template bindings: %w", err)
	}
	for _, b := range prtbs.Items {
		if b.DeletionTimestamp != nil || b.Spec.ProjectName != project.Name || !holds(b.Spec.Subject) {
			continue
		}
		if rules, err := bindingRules(b.Spec.RoleTemplateName, v1alpha1.RoleTemplateContextProject, lookup); err == nil {
			held = append(held, rules...)
		}
	}
	return held, nil
}
