package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// Limits of role template rules; the CRD bounds the rule count, these
// keep one rule readable and a request small.
const (
	maxRules         = 128
	maxRuleEntries   = 64
	maxRuleEntryChar = 253
)

// RoleTemplate is a role template as the API shows it: the CRD's spec plus
// name and builtin. Context is "cluster" or "project" (the CRD's Cluster
// or Project; either spelling is accepted).
type RoleTemplate struct {
	Name        string              `json:"name"`
	DisplayName string              `json:"displayName,omitempty"`
	Description string              `json:"description,omitempty"`
	Context     string              `json:"context"`
	Builtin     bool                `json:"builtin"`
	Rules       []rbacv1.PolicyRule `json:"rules"`
	Inherits    []string            `json:"inherits,omitempty"`
	State       string              `json:"state,omitempty"`
}

// roleTemplateRequest is what POST and PUT accept; builtin is the
// server's to say.
type roleTemplateRequest struct {
	Name        string              `json:"name"`
	DisplayName string              `json:"displayName,omitempty"`
	Description string              `json:"description,omitempty"`
	Context     string              `json:"context"`
	Rules       []rbacv1.PolicyRule `json:"rules"`
}

func (a *API) registerRoleTemplates(mux *http.ServeMux) {
	mux.Handle("GET /v1/roletemplates", a.authed(a.listRoleTemplates))
	mux.Handle("POST /v1/roletemplates", a.authed(a.admin(a.createRoleTemplate)))
	mux.Handle("GET /v1/roletemplates/{name}", a.authed(a.getRoleTemplate))
	mux.Handle("PUT /v1/roletemplates/{name}", a.authed(a.admin(a.updateRoleTemplate)))
	mux.Handle("DELETE /v1/roletemplates/{name}", a.authed(a.admin(a.deleteRoleTemplate)))
}

func roleTemplateView(rt *mgmtv1.RoleTemplate) RoleTemplate {
	rules := rt.Spec.Rules
	if rules == nil {
		rules = []rbacv1.PolicyRule{}
	}
	return RoleTemplate{
		Name: rt.Name, DisplayName: rt.Spec.DisplayName, Description: rt.Spec.Description,
		Context: strings.ToLower(string(rt.Spec.Context)), Builtin: rt.Spec.Origin == mgmtv1.OriginBuiltin,
		Rules: rules, Inherits: rt.Spec.Inherits, State: string(rt.Spec.State),
	}
}

func (a *API) listRoleTemplates(w http.ResponseWriter, r *http.Request, _ caller) {
	var list mgmtv1.RoleTemplateList
	if err := a.opts.Reader.List(r.Context(), &list); err != nil {
		writeError(w, http.StatusInternalServerError, "Internal", "cannot list role templates; try again")
		return
	}
	items := make([]RoleTemplate, 0, len(list.Items))
	for i := range list.Items {
		items = append(items, roleTemplateView(&list.Items[i]))
	}
	slices.SortFunc(items, func(x, y RoleTemplate) int { return strings.Compare(x.Name, y.Name) })
	pg, next, ok := page(w, r, items)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, List[RoleTemplate]{Items: pg, Continue: next})
}

func (a *API) getRoleTemplate(w http.ResponseWriter, r *http.Request, _ caller) {
	var rt mgmtv1.RoleTemplate
	if err := a.opts.Reader.Get(r.Context(), clientKey(r.PathValue("name")), &rt); err != nil {
		writeError(w, http.StatusNotFound, "NotFound", "role template %q not found", r.PathValue("name"))
		return
	}
	writeJSON(w, http.StatusOK, roleTemplateView(&rt))
}

// parseContext accepts cluster|project in any case.
func parseContext(s string) (mgmtv1.RoleTemplateContext, error) {
	switch strings.ToLower(s) {
	case "cluster":
		return mgmtv1.RoleTemplateContextCluster, nil
	case "project":
		return mgmtv1.RoleTemplateContextProject, nil
	}
	return "", fmt.Errorf("context must be cluster or project, not %q", s)
}

// validateRoleTemplate checks a request: name, text sizes and rules.
func validateRoleTemplate(req *roleTemplateRequest) (mgmtv1.RoleTemplateContext, error) {
	if errs := validation.IsDNS1123Subdomain(req.Name); len(errs) > 0 {
		return "", fmt.Errorf("invalid role template name %q: %s", req.Name, errs[0])
	}
	if len(req.DisplayName) > maxDisplayName {
		return "", fmt.Errorf("displayName is at most %d characters", maxDisplayName)
	}
	if len(req.Description) > maxDescription {
		return "", fmt.Errorf("description is at most %d characters", maxDescription)
	}
	ctx, err := parseContext(req.Context)
	if err != nil {
		return "", err
	}
	return ctx, validateRules(ctx, req.Rules)
}

// validateRules checks rules the way the Kubernetes RBAC API does, and
// keeps project templates to namespaced resource rules.
func validateRules(ctx mgmtv1.RoleTemplateContext, rules []rbacv1.PolicyRule) error {
	if len(rules) == 0 {
		return fmt.Errorf("a role template needs at least one rule")
	}
	if len(rules) > maxRules {
		return fmt.Errorf("a role template has at most %d rules", maxRules)
	}
	for i, rule := range rules {
		lists := map[string][]string{"verbs": rule.Verbs, "apiGroups": rule.APIGroups, "resources": rule.Resources,
			"resourceNames": rule.ResourceNames, "nonResourceURLs": rule.NonResourceURLs}
		for field, l := range lists {
			if len(l) > maxRuleEntries {
				return fmt.Errorf("rule %d: %s has at most %d entries", i+1, field, maxRuleEntries)
			}
			for _, e := range l {
				if len(e) > maxRuleEntryChar {
					return fmt.Errorf("rule %d: an entry of %s is over %d characters", i+1, field, maxRuleEntryChar)
				}
				if e == "" && field != "apiGroups" {
					// "" is the core API group; elsewhere it means nothing.
					return fmt.Errorf("rule %d: %s has an empty entry", i+1, field)
				}
			}
		}
		if len(rule.Verbs) == 0 {
			return fmt.Errorf("rule %d: verbs must not be empty", i+1)
		}
		if len(rule.NonResourceURLs) > 0 {
			if ctx == mgmtv1.RoleTemplateContextProject {
				return fmt.Errorf("rule %d: project role templates cannot grant nonResourceURLs (they apply in namespaces only)", i+1)
			}
			if len(rule.APIGroups) > 0 || len(rule.Resources) > 0 || len(rule.ResourceNames) > 0 {
				return fmt.Errorf("rule %d: a nonResourceURLs rule cannot also name apiGroups, resources or resourceNames", i+1)
			}
			continue
		}
		if len(rule.APIGroups) == 0 {
			return fmt.Errorf(`rule %d: apiGroups must not be empty (use "" for the core group)`, i+1)
		}
		if len(rule.Resources) == 0 {
			return fmt.Errorf("rule %d: resources must not be empty", i+1)
		}
	}
	return nil
}

func (a *API) createRoleTemplate(w http.ResponseWriter, r *http.Request, c caller) {
	var req roleTemplateRequest
	if !decode(w, r, &req) {
		return
	}
	ctx, err := validateRoleTemplate(&req)
	if err != nil {
		a.record(r, c, "create", "roletemplates", req.Name, http.StatusBadRequest)
		writeError(w, http.StatusBadRequest, "BadRequest", "%v", err)
		return
	}
	rt := &mgmtv1.RoleTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: req.Name},
		Spec: mgmtv1.RoleTemplateSpec{DisplayName: req.DisplayName, Description: req.Description, Context: ctx, Rules: req.Rules,
			Origin: mgmtv1.OriginCustom, State: mgmtv1.RoleTemplateStateActive},
	}
	if err := a.writer().Create(r.Context(), rt); err != nil {
		a.writeStoreError(w, r, c, "create", "roletemplates", req.Name, err)
		return
	}
	a.record(r, c, "create", "roletemplates", rt.Name, http.StatusCreated)
	writeJSON(w, http.StatusCreated, roleTemplateView(rt))
}

// customTemplate loads a template that may be changed: it answers 404 for
// a missing one and 403 for a built-in.
func (a *API) customTemplate(w http.ResponseWriter, r *http.Request, c caller, verb string) *mgmtv1.RoleTemplate {
	name := r.PathValue("name")
	var rt mgmtv1.RoleTemplate
	if err := a.opts.Reader.Get(r.Context(), clientKey(name), &rt); err != nil {
		a.writeStoreError(w, r, c, verb, "roletemplates", name, err)
		return nil
	}
	if rt.Spec.Origin == mgmtv1.OriginBuiltin {
		a.record(r, c, verb, "roletemplates", name, http.StatusForbidden)
		writeError(w, http.StatusForbidden, "Builtin", "role template %q is built in and cannot be changed or deleted; create a custom template instead", name)
		return nil
	}
	return &rt
}

func (a *API) updateRoleTemplate(w http.ResponseWriter, r *http.Request, c caller) {
	var req roleTemplateRequest
	if !decode(w, r, &req) {
		return
	}
	rt := a.customTemplate(w, r, c, "update")
	if rt == nil {
		return
	}
	if req.Name == "" {
		req.Name = rt.Name
	}
	if req.Context == "" {
		req.Context = string(rt.Spec.Context)
	}
	if req.Name != rt.Name {
		writeError(w, http.StatusBadRequest, "BadRequest", "the body names %q but the path %q; a role template cannot be renamed", req.Name, rt.Name)
		return
	}
	ctx, err := validateRoleTemplate(&req)
	if err == nil && ctx != rt.Spec.Context {
		err = fmt.Errorf("context cannot change (bindings of the other kind would suddenly grant something else); create a new template")
	}
	if err != nil {
		a.record(r, c, "update", "roletemplates", rt.Name, http.StatusBadRequest)
		writeError(w, http.StatusBadRequest, "BadRequest", "%v", err)
		return
	}
	if err := a.update(r.Context(), rt, func() {
		rt.Spec.DisplayName, rt.Spec.Description, rt.Spec.Rules = req.DisplayName, req.Description, req.Rules
	}); err != nil {
		a.writeStoreError(w, r, c, "update", "roletemplates", rt.Name, err)
		return
	}
	a.record(r, c, "update", "roletemplates", rt.Name, http.StatusOK)
	writeJSON(w, http.StatusOK, roleTemplateView(rt))
}

func (a *API) deleteRoleTemplate(w http.ResponseWriter, r *http.Request, c caller) {
	rt := a.customTemplate(w, r, c, "delete")
	if rt == nil {
		return
	}
	bindings, err := a.bindingsOf(r, func(_ mgmtv1.Subject, template string) bool { return template == rt.Name })
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Internal", "cannot list bindings; try again")
		return
	}
	if len(bindings) > 0 {
		a.record(r, c, "delete", "roletemplates", rt.Name, http.StatusConflict)
		writeError(w, http.StatusConflict, "InUse", "role template %q is used by %s; remove those bindings first (or lock the template: spec.state Locked)", rt.Name, bindingNames(bindings))
		return
	}
	if err := a.writer().Delete(r.Context(), rt); err != nil && !apierrors.IsNotFound(err) {
		a.writeStoreError(w, r, c, "delete", "roletemplates", rt.Name, err)
		return
	}
	a.record(r, c, "delete", "roletemplates", rt.Name, http.StatusOK)
	writeJSON(w, http.StatusOK, map[string]string{"name": rt.Name})
}
