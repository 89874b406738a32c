package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// Limits of a Group, as the CRD sets them.
const (
	maxDisplayName = 256
	maxDescription = 1024
	maxMembers     = 1024
)

// Group is a bokujo Group as the API shows it: the CRD's spec plus name.
type Group struct {
	Name        string   `json:"name"`
	DisplayName string   `json:"displayName,omitempty"`
	Description string   `json:"description,omitempty"`
	Members     []string `json:"members"`
}

func (a *API) registerGroups(mux *http.ServeMux) {
	mux.Handle("GET /v1/groups", a.authed(a.listGroups))
	mux.Handle("POST /v1/groups", a.authed(a.admin(a.createGroup)))
	mux.Handle("GET /v1/groups/{name}", a.authed(a.getGroup))
	mux.Handle("PUT /v1/groups/{name}", a.authed(a.admin(a.updateGroup)))
	mux.Handle("DELETE /v1/groups/{name}", a.authed(a.admin(a.deleteGroup)))
}

func groupView(g *mgmtv1.Group) Group {
	return Group{Name: g.Name, DisplayName: g.Spec.DisplayName, Description: g.Spec.Description, Members: append([]string{}, g.Spec.Members...)}
}

// groupVisible says whether the caller may see the group: admins see all,
// others the groups they are members of.
func groupVisible(g *mgmtv1.Group, c caller) bool {
	return c.admin || slices.Contains(g.Spec.Members, c.user.Name)
}

func (a *API) listGroups(w http.ResponseWriter, r *http.Request, c caller) {
	var list mgmtv1.GroupList
	if err := a.opts.Reader.List(r.Context(), &list); err != nil {
		writeError(w, http.StatusInternalServerError, "Internal", "cannot list groups; try again")
		return
	}
	items := []Group{}
	for i := range list.Items {
		if groupVisible(&list.Items[i], c) {
			items = append(items, groupView(&list.Items[i]))
		}
	}
	slices.SortFunc(items, func(x, y Group) int { return strings.Compare(x.Name, y.Name) })
	pg, next, ok := page(w, r, items)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, List[Group]{Items: pg, Continue: next})
}

func (a *API) getGroup(w http.ResponseWriter, r *http.Request, c caller) {
	var g mgmtv1.Group
	if err := a.opts.Reader.Get(r.Context(), clientKey(r.PathValue("name")), &g); err != nil || !groupVisible(&g, c) {
		// The same answer for a missing group and one the caller is not in.
		writeError(w, http.StatusNotFound, "NotFound", "group %q not found", r.PathValue("name"))
		return
	}
	writeJSON(w, http.StatusOK, groupView(&g))
}

// validateGroup checks a request before it is written; the CRD checks the
// same again, but this answers with every problem in plain words and
// checks what the CRD cannot: that members are existing users.
func (a *API) validateGroup(r *http.Request, g *Group) error {
	if errs := validation.IsDNS1123Subdomain(g.Name); len(errs) > 0 {
		return fmt.Errorf("invalid group name %q: %s", g.Name, errs[0])
	}
	if len(g.DisplayName) > maxDisplayName {
		return fmt.Errorf("displayName is at most %d characters", maxDisplayName)
	}
	if len(g.Description) > maxDescription {
		return fmt.Errorf("description is at most %d characters", maxDescription)
	}
	if len(g.Members) > maxMembers {
		return fmt.Errorf("a group has at most %d members; bigger groups belong in an external identity provider", maxMembers)
	}
	seen := map[string]bool{}
	var unknown []string
	for _, m := range g.Members {
		if seen[m] {
			return fmt.Errorf("member %q is listed twice", m)
		}
		seen[m] = true
		if errs := validation.IsDNS1123Subdomain(m); len(errs) > 0 {
			return fmt.Errorf("member %q is not a bokujo user name: %s", m, errs[0])
		}
		var u mgmtv1.User
		if err := a.opts.Reader.Get(r.Context(), clientKey(m), &u); err != nil {
			if !apierrors.IsNotFound(err) {
				return fmt.Errorf("cannot read user %q; try again", m)
			}
			unknown = append(unknown, m)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("no such users: %s (members are names of bokujo users, as GET /v1/users lists them)", strings.Join(unknown, ", "))
	}
	return nil
}

func (a *API) createGroup(w http.ResponseWriter, r *http.Request, c caller) {
	var req Group
	if !decode(w, r, &req) {
		return
	}
	if err := a.validateGroup(r, &req); err != nil {
		a.record(r, c, "create", "groups", req.Name, http.StatusBadRequest)
		writeError(w, http.StatusBadRequest, "BadRequest", "%v", err)
		return
	}
	g := &mgmtv1.Group{
		ObjectMeta: metav1.ObjectMeta{Name: req.Name},
		Spec:       mgmtv1.GroupSpec{DisplayName: req.DisplayName, Description: req.Description, Members: req.Members},
	}
	if err := a.writer().Create(r.Context(), g); err != nil {
		a.writeStoreError(w, r, c, "create", "groups", req.Name, err)
		return
	}
	a.record(r, c, "create", "groups", g.Name, http.StatusCreated)
	writeJSON(w, http.StatusCreated, groupView(g))
}

func (a *API) updateGroup(w http.ResponseWriter, r *http.Request, c caller) {
	name := r.PathValue("name")
	var req Group
	if !decode(w, r, &req) {
		return
	}
	if req.Name == "" {
		req.Name = name
	}
	if req.Name != name {
		writeError(w, http.StatusBadRequest, "BadRequest", "the body names group %q but the path %q; a group cannot be renamed", req.Name, name)
		return
	}
	if err := a.validateGroup(r, &req); err != nil {
		a.record(r, c, "update", "groups", name, http.StatusBadRequest)
		writeError(w, http.StatusBadRequest, "BadRequest", "%v", err)
		return
	}
	var g mgmtv1.Group
	if err := a.opts.Reader.Get(r.Context(), clientKey(name), &g); err != nil {
		a.writeStoreError(w, r, c, "update", "groups", name, err)
		return
	}
	if err := a.update(r.Context(), &g, func() {
		g.Spec = mgmtv1.GroupSpec{DisplayName: req.DisplayName, Description: req.Description, Members: req.Members}
	}); err != nil {
		a.writeStoreError(w, r, c, "update", "groups", name, err)
		return
	}
	a.record(r, c, "update", "groups", name, http.StatusOK)
	writeJSON(w, http.StatusOK, groupView(&g))
}

func (a *API) deleteGroup(w http.ResponseWriter, r *http.Request, c caller) {
	name := r.PathValue("name")
	force, ok := boolParam(w, r, "force")
	if !ok {
		return
	}
	var g mgmtv1.Group
	if err := a.opts.Reader.Get(r.Context(), clientKey(name), &g); err != nil {
		a.writeStoreError(w, r, c, "delete", "groups", name, err)
		return
	}
	bindings, err := a.bindingsOf(r, func(s mgmtv1.Subject, _ string) bool { return s.Kind == mgmtv1.SubjectKindGroup && s.Name == name })
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Internal", "cannot list bindings; try again")
		return
	}
	if len(bindings) > 0 && !force {
		a.record(r, c, "delete", "groups", name, http.StatusConflict)
		writeError(w, http.StatusConflict, "InUse", "group %q is still bound by %s; remove those bindings first, or add ?force=true to delete them with the group", name, bindingNames(bindings))
		return
	}
	// With force the bindings go first: left behind, they would grant
	// their role to any external group of the same name.
	for _, b := range bindings {
		if err := a.writer().Delete(r.Context(), b); err != nil && !apierrors.IsNotFound(err) {
			a.writeStoreError(w, r, c, "delete", "groups", name, err)
			return
		}
		a.record(r, c, "delete", bindingResource(b), b.GetName(), http.StatusOK)
	}
	if err := a.writer().Delete(r.Context(), &g); err != nil && !apierrors.IsNotFound(err) {
		a.writeStoreError(w, r, c, "delete", "groups", name, err)
		return
	}
	a.record(r, c, "delete", "groups", name, http.StatusOK)
	writeJSON(w, http.StatusOK, map[string]any{"name": name, "deletedBindings": bindingList(bindings)})
}

// bindingsOf lists the cluster and project bindings whose subject and
// template match.
//
// It reads the API server, not the cache: a deletion it allows must not
// miss a binding created a moment before.
func (a *API) bindingsOf(r *http.Request, match func(s mgmtv1.Subject, template string) bool) ([]client.Object, error) {
	live := a.opts.LiveReader
	if live == nil {
		live = a.opts.Reader
	}
	var crtbs mgmtv1.ClusterRoleTemplateBindingList
	if err := live.List(r.Context(), &crtbs); err != nil {
		return nil, err
	}
	var prtbs mgmtv1.ProjectRoleTemplateBindingList
	if err := live.List(r.Context(), &prtbs); err != nil {
		return nil, err
	}
	var out []client.Object
	for i := range crtbs.Items {
		if b := &crtbs.Items[i]; match(b.Spec.Subject, b.Spec.RoleTemplateName) {
			out = append(out, b)
		}
	}
	for i := range prtbs.Items {
		if b := &prtbs.Items[i]; match(b.Spec.Subject, b.Spec.RoleTemplateName) {
			out = append(out, b)
		}
	}
	return out, nil
}

func bindingResource(o client.Object) string {
	if _, ok := o.(*mgmtv1.ClusterRoleTemplateBinding); ok {
		return "clusterroletemplatebindings"
	}
	return "projectroletemplatebindings"
}

func bindingList(objs []client.Object) []string {
	out := []string{}
	for _, o := range objs {
		out = append(out, bindingResource(o)+"/"+o.GetName())
	}
	return out
}

// bindingNames names at most 20 bindings for an error message.
func bindingNames(objs []client.Object) string {
	names := bindingList(objs)
	if len(names) > 20 {
		return strings.Join(names[:20], ", ") + fmt.Sprintf(" and %d more", len(names)-20)
	}
	return strings.Join(names, ", ")
}

func boolParam(w http.ResponseWriter, r *http.Request, name string) (bool, bool) {
	switch r.URL.Query().Get(name) {
	case "", "false":
		return false, true
	case "true":
		return true, true
	}
	writeError(w, http.StatusBadRequest, "BadRequest", "%s must be true or false", name)
	return false, false
}

// writeStoreError answers a failed read or write of a management object
// with the matching status and the apiserver's own message (which names
// the field and rule for a validation failure).
func (a *API) writeStoreError(w http.ResponseWriter, r *http.Request, c caller, verb, resource, name string, err error) {
	status, code := http.StatusInternalServerError, "Internal"
	switch {
	case apierrors.IsNotFound(err):
		status, code = http.StatusNotFound, "NotFound"
	case apierrors.IsAlreadyExists(err):
		status, code = http.StatusConflict, "AlreadyExists"
	case apierrors.IsConflict(err):
		status, code = http.StatusConflict, "Conflict"
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		status, code = http.StatusBadRequest, "Invalid"
	default:
		a.log.Error("management object", "verb", verb, "resource", resource, "name", name, "err", err)
	}
	a.record(r, c, verb, resource, name, status)
	switch status {
	case http.StatusNotFound:
		writeError(w, status, code, "%s %q not found", strings.TrimSuffix(resource, "s"), name)
	case http.StatusConflict:
		writeError(w, status, code, "%s %q: %s; reload and try again", strings.TrimSuffix(resource, "s"), name, apiMessage(err))
	case http.StatusInternalServerError:
		writeError(w, status, code, "cannot %s %s %q; try again", verb, strings.TrimSuffix(resource, "s"), name)
	default:
		writeError(w, status, code, "%s", apiMessage(err))
	}
}
