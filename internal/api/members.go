package api

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/rbacsync"
)

// Member is a role binding as the API shows it.
type Member struct {
	Binding      string         `json:"binding"`
	Subject      mgmtv1.Subject `json:"subject"`
	RoleTemplate string         `json:"roleTemplate"`
}

type memberRequest struct {
	Subject      mgmtv1.Subject `json:"subject"`
	RoleTemplate string         `json:"roleTemplate"`
}

// Writer creates management objects; the API writes through it so the
// controllers act on objects, never on API calls.
func (a *API) writer() client.Client { return a.opts.Writer }

func (a *API) registerMembers(mux *http.ServeMux) {
	mux.Handle("GET /v1/projects/{name}/members", a.authed(a.listProjectMembers))
	mux.Handle("POST /v1/projects/{name}/members", a.authed(a.addProjectMember))
	mux.Handle("DELETE /v1/projects/{name}/members/{binding}", a.authed(a.removeProjectMember))
	mux.Handle("GET /v1/clusters/{name}/members", a.authed(a.listClusterMembers))
	mux.Handle("POST /v1/clusters/{name}/members", a.authed(a.addClusterMember))
	mux.Handle("DELETE /v1/clusters/{name}/members/{binding}", a.authed(a.removeClusterMember))
	mux.Handle("POST /v1/projects/{name}/namespaces", a.authed(a.createProjectNamespace))
}

// project returns the project if the caller may see it; otherwise it
// answers 404 (existence is not revealed) and returns nil.
func (a *API) project(w http.ResponseWriter, r *http.Request, c caller) *mgmtv1.Project {
	name := r.PathValue("name")
	vis, err := a.visibility(r, c)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Internal", "cannot compute visibility; try again")
		return nil
	}
	var p mgmtv1.Project
	if a.opts.Reader.Get(r.Context(), clientKey(name), &p) != nil || (!vis.Admin && !vis.HasCluster(p.Spec.ClusterName)) ||
		(!vis.Admin && !slices.Contains(vis.Clusters[p.Spec.ClusterName], p.Name) && !a.hasClusterBinding(r, c, p.Spec.ClusterName)) {
		writeError(w, http.StatusNotFound, "NotFound", "project %q not found", name)
		return nil
	}
	return &p
}

func (a *API) hasClusterBinding(r *http.Request, c caller, cluster string) bool {
	var list mgmtv1.ClusterRoleTemplateBindingList
	if err := a.opts.Reader.List(r.Context(), &list); err != nil {
		return false
	}
	for _, b := range list.Items {
		if b.Spec.ClusterName == cluster && subjectIs(b.Spec.Subject, c) {
			return true
		}
	}
	return false
}

func subjectIs(s mgmtv1.Subject, c caller) bool {
	return (s.Kind == mgmtv1.SubjectKindUser && s.Name == c.user.Name) || (s.Kind == mgmtv1.SubjectKindGroup && slices.Contains(c.user.Groups, s.Name))
}

func (a *API) listProjectMembers(w http.ResponseWriter, r *http.Request, c caller) {
	p := a.project(w, r, c)
	if p == nil {
		return
	}
	var list mgmtv1.ProjectRoleTemplateBindingList
	if err := a.opts.Reader.List(r.Context(), &list); err != nil {
		writeError(w, http.StatusInternalServerError, "Internal", "cannot list members; try again")
		return
	}
	items := []Member{}
	for _, b := range list.Items {
		if b.Spec.ProjectName == p.Name {
			items = append(items, Member{Binding: b.Name, Subject: b.Spec.Subject, RoleTemplate: b.Spec.RoleTemplateName})
		}
	}
	slices.SortFunc(items, func(x, y Member) int { return strings.Compare(x.Binding, y.Binding) })
	writeJSON(w, http.StatusOK, List[Member]{Items: items})
}

// grantCheck loads the template and applies the escalation rule: a caller
// grants (or revokes) only templates whose rules they hold in that scope.
func (a *API) grantCheck(w http.ResponseWriter, r *http.Request, c caller, templateName string, scope rbacsync.Scope) bool {
	var rt mgmtv1.RoleTemplate
	if err := a.opts.Reader.Get(r.Context(), clientKey(templateName), &rt); err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", "role template %q not found", templateName)
		return false
	}
	if rt.Spec.State == mgmtv1.RoleTemplateStateLocked {
		writeError(w, http.StatusBadRequest, "BadRequest", "role template %q is locked: it cannot be newly bound", templateName)
		return false
	}
	err := rbacsync.CanGrant(r.Context(), a.opts.Reader, c.user.Name, c.user.Groups, &rt, scope)
	var esc *rbacsync.EscalationError
	switch {
	case err == nil:
		return true
	case errors.As(err, &esc):
		writeError(w, http.StatusForbidden, "Escalation", "%v", err)
	default:
		a.log.Error("grant check", "err", err)
		writeError(w, http.StatusInternalServerError, "Internal", "cannot check your rights; try again")
	}
	return false
}

func validSubject(w http.ResponseWriter, s mgmtv1.Subject) bool {
	if (s.Kind != mgmtv1.SubjectKindUser && s.Kind != mgmtv1.SubjectKindGroup) || s.Name == "" || len(s.Name) > 256 || strings.HasPrefix(s.Name, "system:") {
		writeError(w, http.StatusBadRequest, "BadRequest", "subject needs kind User or Group and a name (not system:*)")
		return false
	}
	return true
}

func (a *API) addProjectMember(w http.ResponseWriter, r *http.Request, c caller) {
	p := a.project(w, r, c)
	if p == nil {
		return
	}
	var req memberRequest
	if !decode(w, r, &req) || !validSubject(w, req.Subject) {
		return
	}
	if !a.grantCheck(w, r, c, req.RoleTemplate, rbacsync.Scope{Project: p.Name}) {
		return
	}
	b := &mgmtv1.ProjectRoleTemplateBinding{
		ObjectMeta: metav1.ObjectMeta{GenerateName: p.Name + "-"},
		Spec:       mgmtv1.ProjectRoleTemplateBindingSpec{ProjectName: p.Name, RoleTemplateName: req.RoleTemplate, Subject: req.Subject},
	}
	a.createBinding(w, r, c, b, "projectroletemplatebindings")
}

func (a *API) removeProjectMember(w http.ResponseWriter, r *http.Request, c caller) {
	p := a.project(w, r, c)
	if p == nil {
		return
	}
	var b mgmtv1.ProjectRoleTemplateBinding
	if err := a.opts.Reader.Get(r.Context(), clientKey(r.PathValue("binding")), &b); err != nil || b.Spec.ProjectName != p.Name {
		writeError(w, http.StatusNotFound, "NotFound", "member binding %q not found in project %q", r.PathValue("binding"), p.Name)
		return
	}
	if !a.grantCheck(w, r, c, b.Spec.RoleTemplateName, rbacsync.Scope{Project: p.Name}) {
		return
	}
	a.deleteBinding(w, r, c, &b, "projectroletemplatebindings")
}

func (a *API) clusterVisible(w http.ResponseWriter, r *http.Request, c caller) string {
	name := r.PathValue("name")
	vis, err := a.visibility(r, c)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Internal", "cannot compute visibility; try again")
		return ""
	}
	if !vis.HasCluster(name) {
		writeError(w, http.StatusNotFound, "NotFound", "cluster %q not found", name)
		return ""
	}
	return name
}

func (a *API) listClusterMembers(w http.ResponseWriter, r *http.Request, c caller) {
	cluster := a.clusterVisible(w, r, c)
	if cluster == "" {
		return
	}
	var list mgmtv1.ClusterRoleTemplateBindingList
	if err := a.opts.Reader.List(r.Context(), &list); err != nil {
		writeError(w, http.StatusInternalServerError, "Internal", "cannot list members; try again")
		return
	}
	items := []Member{}
	for _, b := range list.Items {
		if b.Spec.ClusterName == cluster {
			items = append(items, Member{Binding: b.Name, Subject: b.Spec.Subject, RoleTemplate: b.Spec.RoleTemplateName})
		}
	}
	slices.SortFunc(items, func(x, y Member) int { return strings.Compare(x.Binding, y.Binding) })
	writeJSON(w, http.StatusOK, List[Member]{Items: items})
}

func (a *API) addClusterMember(w http.ResponseWriter, r *http.Request, c caller) {
	cluster := a.clusterVisible(w, r, c)
	if cluster == "" {
		return
	}
	var req memberRequest
	if !decode(w, r, &req) || !validSubject(w, req.Subject) {
		return
	}
	if !a.grantCheck(w, r, c, req.RoleTemplate, rbacsync.Scope{Cluster: cluster}) {
		return
	}
	b := &mgmtv1.ClusterRoleTemplateBinding{
		ObjectMeta: metav1.ObjectMeta{GenerateName: cluster + "-"},
		Spec:       mgmtv1.ClusterRoleTemplateBindingSpec{ClusterName: cluster, RoleTemplateName: req.RoleTemplate, Subject: req.Subject},
	}
	a.createBinding(w, r, c, b, "clusterroletemplatebindings")
}

func (a *API) removeClusterMember(w http.ResponseWriter, r *http.Request, c caller) {
	cluster := a.clusterVisible(w, r, c)
	if cluster == "" {
		return
	}
	var b mgmtv1.ClusterRoleTemplateBinding
	if err := a.opts.Reader.Get(r.Context(), clientKey(r.PathValue("binding")), &b); err != nil || b.Spec.ClusterName != cluster {
		writeError(w, http.StatusNotFound, "NotFound", "member binding %q not found in cluster %q", r.PathValue("binding"), cluster)
		return
	}
	if !a.grantCheck(w, r, c, b.Spec.RoleTemplateName, rbacsync.Scope{Cluster: cluster}) {
		return
	}
	a.deleteBinding(w, r, c, &b, "clusterroletemplatebindings")
}

func (a *API) createBinding(w http.ResponseWriter, r *http.Request, c caller, b client.Object, resource string) {
	if err := a.writer().Create(r.Context(), b); err != nil {
		status := http.StatusBadRequest
		if !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) {
			status = http.StatusInternalServerError
		}
		a.record(r, c, "create", resource, b.GetName(), status)
		writeError(w, status, "Invalid", "%v", apiMessage(err))
		return
	}
	a.record(r, c, "create", resource, b.GetName(), http.StatusCreated)
	writeJSON(w, http.StatusCreated, map[string]string{"binding": b.GetName()})
}

func (a *API) deleteBinding(w http.ResponseWriter, r *http.Request, c caller, b client.Object, resource string) {
	if err := a.writer().Delete(r.Context(), b); err != nil && !apierrors.IsNotFound(err) {
		a.record(r, c, "delete", resource, b.GetName(), http.StatusInternalServerError)
		writeError(w, http.StatusInternalServerError, "Internal", "%v", apiMessage(err))
		return
	}
	a.record(r, c, "delete", resource, b.GetName(), http.StatusOK)
	writeJSON(w, http.StatusOK, map[string]string{"binding": b.GetName()})
}

// apiMessage is the apiserver's own message of an error, which names the
// field and the rule (CEL validation) that failed.
func apiMessage(err error) string {
	var s apierrors.APIStatus
	if errors.As(err, &s) {
		return s.Status().Message
	}
	return err.Error()
}

// namespaceCreators are the project role templates whose holders may add
// namespaces to their project through bokujo. Namespaces are cluster-scoped,
// so no project template grants them downstream; bokujo creates them with
// its management identity, labelled into the project.
var namespaceCreators = []string{"project-owner", "project-member"}

type namespaceRequest struct {
	Name string `json:"name"`
}

func (a *API) createProjectNamespace(w http.ResponseWriter, r *http.Request, c caller) {
	p := a.project(w, r, c)
	if p == nil {
		return
	}
	var req namespaceRequest
	if !decode(w, r, &req) {
		return
	}
	if errs := validation.IsDNS1123Label(req.Name); len(errs) > 0 {
		writeError(w, http.StatusBadRequest, "BadRequest", "invalid namespace name %q: %s", req.Name, errs[0])
		return
	}
	if rbacsync.ReservedNamespace(req.Name) || strings.HasPrefix(req.Name, "kube-") {
		writeError(w, http.StatusBadRequest, "BadRequest", "namespace %q is reserved", req.Name)
		return
	}
	if !c.admin && !a.holdsProjectTemplate(r, c, p.Name, namespaceCreators) && !a.hasClusterBinding(r, c, p.Spec.ClusterName) {
		writeError(w, http.StatusForbidden, "Forbidden", "creating namespaces in project %q needs the project-owner or project-member role", p.Name)
		return
	}
	cfg, err := a.opts.Registry.ManagementConfig(r.Context(), p.Spec.ClusterName)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "ClusterUnavailable", "cluster %q cannot be reached now; try again", p.Spec.ClusterName)
		return
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Internal", "cluster client: %v", err)
		return
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: req.Name, Labels: map[string]string{mgmtv1.ProjectLabel: p.Name}}}
	if _, err := cs.CoreV1().Namespaces().Create(r.Context(), ns, metav1.CreateOptions{}); err != nil {
		status := http.StatusBadGateway
		if apierrors.IsAlreadyExists(err) {
			status = http.StatusConflict
			writeError(w, status, "AlreadyExists", "namespace %q already exists in cluster %q; an administrator can add it to the project", req.Name, p.Spec.ClusterName)
		} else {
			writeError(w, status, "ClusterError", "%v", apiMessage(err))
		}
		a.record(r, c, "create", "namespaces", req.Name, status)
		return
	}
	a.record(r, c, "create", "namespaces", req.Name, http.StatusCreated)
	writeJSON(w, http.StatusCreated, map[string]string{"name": req.Name, "project": p.Name})
}

func (a *API) holdsProjectTemplate(r *http.Request, c caller, project string, templates []string) bool {
	var list mgmtv1.ProjectRoleTemplateBindingList
	if err := a.opts.Reader.List(r.Context(), &list); err != nil {
		return false
	}
	for _, b := range list.Items {
		if b.Spec.ProjectName == project && subjectIs(b.Spec.Subject, c) && slices.Contains(templates, b.Spec.RoleTemplateName) {
			return true
		}
	}
	return false
}
