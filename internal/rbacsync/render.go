package rbacsync

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
)

var (
	// ErrRoleTemplateNotFound: a binding or an inherits list names a
	// RoleTemplate that does not exist.
	ErrRoleTemplateNotFound = errors.New("role template not found")
	// ErrContextMismatch: a template is used where its context does not
	// fit (a Project template in a cluster binding, a Cluster template
	// inherited by a Project one, and the reverse).
	ErrContextMismatch = errors.New("role template context mismatch")
)

// TemplateLookup returns a RoleTemplate by name, false if there is none.
type TemplateLookup func(name string) (*v1alpha1.RoleTemplate, bool)

// LookupIn is a TemplateLookup over a list.
func LookupIn(templates []v1alpha1.RoleTemplate) TemplateLookup {
	byName := make(map[string]*v1alpha1.RoleTemplate, len(templates))
	for i := range templates {
		byName[templates[i].Name] = &templates[i]
	}
	return func(name string) (*v1alpha1.RoleTemplate, bool) {
		t, ok := byName[name]
		return t, ok
	}
}

// FlattenRules returns the rules of t and of every template it inherits,
// directly or through others, in a stable order (t's own rules first, then
// depth-first in inherits order) without duplicates. Inheritance cycles are
// harmless: each template counts once. Every inherited template must exist
// and have t's context.
func FlattenRules(t *v1alpha1.RoleTemplate, lookup TemplateLookup) ([]rbacv1.PolicyRule, error) {
	var out []rbacv1.PolicyRule
	seenRule := map[string]bool{}
	seenTemplate := map[string]bool{}
	var walk func(t *v1alpha1.RoleTemplate) error
	walk = func(cur *v1alpha1.RoleTemplate) error {
		if seenTemplate[cur.Name] {
			return nil
		}
		seenTemplate[cur.Name] = true
		if cur.Spec.Context != t.Spec.Context {
			return fmt.Errorf("role template %q inherits %q: %w: %s and %s", t.Name, cur.Name, ErrContextMismatch, t.Spec.Context, cur.Spec.Context)
		}
		for _, r := range cur.Spec.Rules {
			r = normalizeRule(r)
			if k := ruleKey(r); !seenRule[k] {
				seenRule[k] = true
				out = append(out, r)
			}
		}
		for _, name := range cur.Spec.Inherits {
			next, ok := lookup(name)
			if !ok {
				return fmt.Errorf("role template %q inherits %q: %w", cur.Name, name, ErrRoleTemplateNotFound)
			}
			if err := walk(next); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(t); err != nil {
		return nil, err
	}
	return out, nil
}

// normalizeRule copies r with empty lists as nil, the way the API server
// returns them, so rendered and stored rules compare equal.
func normalizeRule(r rbacv1.PolicyRule) rbacv1.PolicyRule {
	clean := func(s []string) []string {
		if len(s) == 0 {
			return nil
		}
		return slices.Clone(s)
	}
	return rbacv1.PolicyRule{
		Verbs:           clean(r.Verbs),
		APIGroups:       clean(r.APIGroups),
		Resources:       clean(r.Resources),
		ResourceNames:   clean(r.ResourceNames),
		NonResourceURLs: clean(r.NonResourceURLs),
	}
}

func ruleKey(r rbacv1.PolicyRule) string {
	return fmt.Sprintf("%q|%q|%q|%q|%q", r.Verbs, r.APIGroups, r.Resources, r.ResourceNames, r.NonResourceURLs)
}

// DownstreamSubject is the RBAC subject of a binding's subject: the bokujo
// name with the prefix the proxy impersonates it with.
func DownstreamSubject(s v1alpha1.Subject) rbacv1.Subject {
	if s.Kind == v1alpha1.SubjectKindGroup {
		return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: v1alpha1.GroupPrefix + s.Name}
	}
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: v1alpha1.UserPrefix + s.Name}
}

// RenderClusterRole is the ClusterRole of a template with its flattened
// rules.
func RenderClusterRole(template string, rules []rbacv1.PolicyRule) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{
			Name:   ClusterRoleName(template),
			Labels: managedLabels(LabelRoleTemplate, template),
		},
		Rules: rules,
	}
}

// RenderClusterRoleBinding is the ClusterRoleBinding of a
// ClusterRoleTemplateBinding.
func RenderClusterRoleBinding(b *v1alpha1.ClusterRoleTemplateBinding) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{
			Name:   ClusterRoleBindingName(b.Name),
			Labels: managedLabels(LabelCRTB, b.Name),
		},
		RoleRef:  roleRef(b.Spec.RoleTemplateName),
		Subjects: []rbacv1.Subject{DownstreamSubject(b.Spec.Subject)},
	}
}

// RenderRoleBindings are the RoleBindings of a ProjectRoleTemplateBinding,
// one per namespace, in namespace order.
func RenderRoleBindings(b *v1alpha1.ProjectRoleTemplateBinding, namespaces []string) []*rbacv1.RoleBinding {
	ns := slices.Sorted(slices.Values(namespaces))
	ns = slices.Compact(ns)
	out := make([]*rbacv1.RoleBinding, 0, len(ns))
	for _, n := range ns {
		out = append(out, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{
				Name:      RoleBindingName(b.Name),
				Namespace: n,
				Labels:    managedLabels(LabelPRTB, b.Name),
			},
			RoleRef:  roleRef(b.Spec.RoleTemplateName),
			Subjects: []rbacv1.Subject{DownstreamSubject(b.Spec.Subject)},
		})
	}
	return out
}

func roleRef(template string) rbacv1.RoleRef {
	return rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ClusterRoleName(template)}
}

// userActive reports whether a binding's subject may hold rights: groups
// always (membership is decided at login), users only while their User
// exists and is not disabled.
func userActive(u *v1alpha1.User) bool {
	return u != nil && u.DeletionTimestamp == nil && u.Spec.State != v1alpha1.UserStateDisabled
}

// Inputs is the management state one cluster's RBAC is rendered from.
type Inputs struct {
	Templates       []v1alpha1.RoleTemplate
	ClusterBindings []v1alpha1.ClusterRoleTemplateBinding
	ProjectBindings []v1alpha1.ProjectRoleTemplateBinding
	Projects        []v1alpha1.Project
	// Users are the User objects; bindings to users not listed or
	// disabled render nothing.
	Users []v1alpha1.User
	// Namespaces maps a project name to its namespaces in the cluster as
	// observed downstream (see ProjectNamespaces).
	Namespaces map[string][]string
}

// Objects are the RBAC objects of one cluster.
type Objects struct {
	ClusterRoles        []*rbacv1.ClusterRole
	ClusterRoleBindings []*rbacv1.ClusterRoleBinding
	RoleBindings        []*rbacv1.RoleBinding
}

// Count is the number of objects.
func (o Objects) Count() int {
	return len(o.ClusterRoles) + len(o.ClusterRoleBindings) + len(o.RoleBindings)
}

// Render computes every RBAC object bokujo writes to cluster, with the same
// functions the controllers use. Bindings that cannot be rendered (missing
// template or project, context mismatch, inactive user) are skipped, as the
// controllers skip them; their errors are joined in the result.
func Render(cluster string, in Inputs) (Objects, error) {
	lookup := LookupIn(in.Templates)
	users := map[string]*v1alpha1.User{}
	for i := range in.Users {
		users[in.Users[i].Name] = &in.Users[i]
	}
	projects := map[string]*v1alpha1.Project{}
	for i := range in.Projects {
		projects[in.Projects[i].Name] = &in.Projects[i]
	}
	active := func(s v1alpha1.Subject) bool {
		return s.Kind == v1alpha1.SubjectKindGroup || userActive(users[s.Name])
	}
	var out Objects
	var errs []error
	inUse := map[string]bool{}
	for i := range in.ClusterBindings {
		b := &in.ClusterBindings[i]
		if b.Spec.ClusterName != cluster {
			continue
		}
		if _, err := bindingRules(b.Spec.RoleTemplateName, v1alpha1.RoleTemplateContextCluster, lookup); err != nil {
			errs = append(errs, fmt.Errorf("binding %s: %w", b.Name, err))
			continue
		}
		// A template stays in use while a binding of an inactive user
		// names it: the ClusterRole grants nothing by itself, and keeping
		// it makes enabling the user again a single write.
		inUse[b.Spec.RoleTemplateName] = true
		if !active(b.Spec.Subject) {
			continue
		}
		out.ClusterRoleBindings = append(out.ClusterRoleBindings, RenderClusterRoleBinding(b))
	}
	for i := range in.ProjectBindings {
		b := &in.ProjectBindings[i]
		p, ok := projects[b.Spec.ProjectName]
		if !ok || p.Spec.ClusterName != cluster {
			continue
		}
		if _, err := bindingRules(b.Spec.RoleTemplateName, v1alpha1.RoleTemplateContextProject, lookup); err != nil {
			errs = append(errs, fmt.Errorf("binding %s: %w", b.Name, err))
			continue
		}
		inUse[b.Spec.RoleTemplateName] = true
		if !active(b.Spec.Subject) {
			continue
		}
		out.RoleBindings = append(out.RoleBindings, RenderRoleBindings(b, in.Namespaces[p.Name])...)
	}
	names := make([]string, 0, len(inUse))
	for n := range inUse {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t, _ := lookup(n)
		rules, _ := FlattenRules(t, lookup)
		out.ClusterRoles = append(out.ClusterRoles, RenderClusterRole(n, rules))
	}
	return out, errors.Join(errs...)
}

// bindingRules resolves the template a binding names and checks it fits the
// binding's kind.
func bindingRules(name string, want v1alpha1.RoleTemplateContext, lookup TemplateLookup) ([]rbacv1.PolicyRule, error) {
	t, ok := lookup(name)
	if !ok || t.DeletionTimestamp != nil {
		return nil, fmt.Errorf("%w: %s", ErrRoleTemplateNotFound, name)
	}
	if t.Spec.Context != want {
		return nil, fmt.Errorf("%w: %s has context %s, the binding needs %s", ErrContextMismatch, name, t.Spec.Context, want)
	}
	return FlattenRules(t, lookup)
}

// describeRule says what a rule allows in kubectl's words, e.g.
// "create deployments.apps" or "get /metrics", for error messages.
func describeRule(r rbacv1.PolicyRule) string {
	verbs := strings.Join(r.Verbs, ",")
	if len(r.NonResourceURLs) > 0 {
		return verbs + " URL " + strings.Join(r.NonResourceURLs, ",")
	}
	var res []string
	for _, g := range r.APIGroups {
		for _, rs := range r.Resources {
			if g == "" {
				res = append(res, rs)
			} else {
				res = append(res, rs+"."+g)
			}
		}
	}
	s := verbs + " " + strings.Join(res, ",")
	if len(r.ResourceNames) > 0 {
		s += " named " + strings.Join(r.ResourceNames, ",")
	}
	return s
}
