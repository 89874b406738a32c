package api

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// ProjectDetail is one project as GET/POST/PUT /v1/projects/{name} show
// it: the CRD's spec fields plus name (and cluster, as the list has it).
type ProjectDetail struct {
	Name          string                       `json:"name"`
	ClusterName   string                       `json:"clusterName"`
	Cluster       string                       `json:"cluster"`
	DisplayName   string                       `json:"displayName,omitempty"`
	Description   string                       `json:"description,omitempty"`
	ResourceQuota *mgmtv1.ProjectResourceQuota `json:"resourceQuota,omitempty"`
	LimitRange    *mgmtv1.ProjectLimitRange    `json:"limitRange,omitempty"`
	Namespaces    []string                     `json:"namespaces"`
}

type projectRequest struct {
	Name          string                       `json:"name"`
	ClusterName   string                       `json:"clusterName"`
	DisplayName   string                       `json:"displayName,omitempty"`
	Description   string                       `json:"description,omitempty"`
	ResourceQuota *mgmtv1.ProjectResourceQuota `json:"resourceQuota,omitempty"`
	LimitRange    *mgmtv1.ProjectLimitRange    `json:"limitRange,omitempty"`
}

func (a *API) registerProjectCRUD(mux *http.ServeMux) {
	mux.Handle("POST /v1/projects", a.authed(a.createProject))
	mux.Handle("GET /v1/projects/{name}", a.authed(a.getProject))
	mux.Handle("PUT /v1/projects/{name}", a.authed(a.updateProject))
	mux.Handle("DELETE /v1/projects/{name}", a.authed(a.deleteProject))
}

func projectDetail(p *mgmtv1.Project) ProjectDetail {
	ns := p.Status.Namespaces
	if len(ns) == 0 {
		ns = p.Spec.Namespaces
	}
	return ProjectDetail{Name: p.Name, ClusterName: p.Spec.ClusterName, Cluster: p.Spec.ClusterName, DisplayName: p.Spec.DisplayName,
		Description: p.Spec.Description, ResourceQuota: p.Spec.ResourceQuota, LimitRange: p.Spec.LimitRange, Namespaces: append([]string{}, ns...)}
}

// clusterOwner says whether the caller administers the cluster: a global
// admin, or bound to it with cluster-owner (as a user or through a group).
func (a *API) clusterOwner(r *http.Request, c caller, cluster string) bool {
	if c.admin {
		return true
	}
	var list mgmtv1.ClusterRoleTemplateBindingList
	if err := a.opts.Reader.List(r.Context(), &list); err != nil {
		return false
	}
	for _, b := range list.Items {
		if b.Spec.ClusterName == cluster && b.Spec.RoleTemplateName == mgmtv1.RoleTemplateClusterOwner && subjectIs(b.Spec.Subject, c) {
			return true
		}
	}
	return false
}

func validateProjectText(req *projectRequest) error {
	if len(req.DisplayName) > maxDisplayName {
		return fmt.Errorf("displayName is at most %d characters", maxDisplayName)
	}
	if len(req.Description) > maxDescription {
		return fmt.Errorf("description is at most %d characters", maxDescription)
	}
	return nil
}

func (a *API) createProject(w http.ResponseWriter, r *http.Request, c caller) {
	var req projectRequest
	if !decode(w, r, &req) {
		return
	}
	// A project's name is a label value on its namespaces: a DNS-1123 label.
	if errs := validation.IsDNS1123Label(req.Name); len(errs) > 0 {
		writeError(w, http.StatusBadRequest, "BadRequest", "invalid project name %q: %s", req.Name, errs[0])
		return
	}
	if err := validateProjectText(&req); err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", "%v", err)
		return
	}
	vis, err := a.visibility(r, c)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Internal", "cannot compute visibility; try again")
		return
	}
	var cl mgmtv1.Cluster
	if req.ClusterName == "" || !vis.HasCluster(req.ClusterName) || a.opts.Reader.Get(r.Context(), clientKey(req.ClusterName), &cl) != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", "cluster %q not found; clusterName names a cluster of GET /v1/clusters", req.ClusterName)
		return
	}
	if !a.clusterOwner(r, c, req.ClusterName) {
		a.record(r, c, "create", "projects", req.Name, http.StatusForbidden)
		writeError(w, http.StatusForbidden, "Forbidden", "creating projects in cluster %q needs an administrator or the cluster-owner role there", req.ClusterName)
		return
	}
	p := &mgmtv1.Project{
		ObjectMeta: metav1.ObjectMeta{Name: req.Name},
		Spec: mgmtv1.ProjectSpec{ClusterName: req.ClusterName, DisplayName: req.DisplayName, Description: req.Description,
			ResourceQuota: req.ResourceQuota, LimitRange: req.LimitRange},
	}
	if err := a.writer().Create(r.Context(), p); err != nil {
		a.writeStoreError(w, r, c, "create", "projects", req.Name, err)
		return
	}
	a.record(r, c, "create", "projects", p.Name, http.StatusCreated)
	writeJSON(w, http.StatusCreated, projectDetail(p))
}

func (a *API) getProject(w http.ResponseWriter, r *http.Request, c caller) {
	if p := a.project(w, r, c); p != nil {
		writeJSON(w, http.StatusOK, projectDetail(p))
	}
}

func (a *API) updateProject(w http.ResponseWriter, r *http.Request, c caller) {
	var req projectRequest
	if !decode(w, r, &req) {
		return
	}
	p := a.project(w, r, c)
	if p == nil {
		return
	}
	if (req.Name != "" && req.Name != p.Name) || (req.ClusterName != "" && req.ClusterName != p.Spec.ClusterName) {
		writeError(w, http.StatusBadRequest, "BadRequest", "a project cannot be renamed or moved to another cluster")
		return
	}
	if err := validateProjectText(&req); err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", "%v", err)
		return
	}
	owner := a.clusterOwner(r, c, p.Spec.ClusterName)
	quotaChange := !reflect.DeepEqual(req.ResourceQuota, p.Spec.ResourceQuota) || !reflect.DeepEqual(req.LimitRange, p.Spec.LimitRange)
	switch {
	case quotaChange && !owner:
		a.record(r, c, "update", "projects", p.Name, http.StatusForbidden)
		writeError(w, http.StatusForbidden, "Forbidden", "only administrators and owners of cluster %q change a project's resourceQuota and limitRange; send them unchanged to edit the rest", p.Spec.ClusterName)
		return
	case !owner && !a.holdsProjectTemplate(r, c, p.Name, []string{mgmtv1.RoleTemplateProjectOwner}):
		a.record(r, c, "update", "projects", p.Name, http.StatusForbidden)
		writeError(w, http.StatusForbidden, "Forbidden", "editing project %q needs the project-owner role", p.Name)
		return
	}
	p = p.DeepCopy()
	if err := a.update(r.Context(), p, func() {
		p.Spec.DisplayName, p.Spec.Description, p.Spec.ResourceQuota, p.Spec.LimitRange = req.DisplayName, req.Description, req.ResourceQuota, req.LimitRange
	}); err != nil {
		a.writeStoreError(w, r, c, "update", "projects", p.Name, err)
		return
	}
	a.record(r, c, "update", "projects", p.Name, http.StatusOK)
	writeJSON(w, http.StatusOK, projectDetail(p))
}

// deleteProject deletes the Project object. Its controller then removes
// the project's ResourceQuotas and LimitRanges and the project label it
// set on namespaces; it never deletes a namespace (they hold workloads).
func (a *API) deleteProject(w http.ResponseWriter, r *http.Request, c caller) {
	p := a.project(w, r, c)
	if p == nil {
		return
	}
	if !a.clusterOwner(r, c, p.Spec.ClusterName) {
		a.record(r, c, "delete", "projects", p.Name, http.StatusForbidden)
		writeError(w, http.StatusForbidden, "Forbidden", "deleting project %q needs an administrator or the cluster-owner role on %q", p.Name, p.Spec.ClusterName)
		return
	}
	if err := a.writer().Delete(r.Context(), p); err != nil && !apierrors.IsNotFound(err) {
		a.writeStoreError(w, r, c, "delete", "projects", p.Name, err)
		return
	}
	a.record(r, c, "delete", "projects", p.Name, http.StatusOK)
	writeJSON(w, http.StatusOK, map[string]any{"name": p.Name, "namespacesKept": slices.Clone(projectDetail(p).Namespaces)})
}
