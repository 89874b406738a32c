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
	// Namespaces are the ones the project declares (spec.namespaces).
	Namespaces []string `json:"namespaces"`
	// Status.Namespaces are the namespaces that belong to it now: the
	// declared ones and those labelled into it.
	Status ProjectDetailStatus `json:"status"`
}

// ProjectDetailStatus is what the project controller observed.
type ProjectDetailStatus struct {
	Namespaces []string `json:"namespaces"`
}

type projectRequest struct {
	Name          string                       `json:"name"`
	ClusterName   string                       `json:"clusterName"`
	DisplayName   string                       `json:"displayName,omitempty"`
	Description   string                       `json:"description,omitempty"`
	ResourceQuota *mgmtv1.ProjectResourceQuota `json:"resourceQuota,omitempty"`
	LimitRange    *mgmtv1.ProjectLimitRange    `json:"limitRange,omitempty"`
	// Namespaces declares namespaces of the project (created and labelled
	// by the project controller); administrators and cluster owners only.
	Namespaces []string `json:"namespaces,omitempty"`
	// Cluster is the read-only echo of clusterName that GET returns; it
	// is accepted back unchanged.
	Cluster string `json:"cluster,omitempty"`
	// Status is GET's read-only status, accepted back and ignored.
	Status *ProjectDetailStatus `json:"status,omitempty"`
}

// systemNamespaces never join a project: their members would gain rights
// on the cluster's own machinery.
var systemNamespaces = map[string]bool{"kube-system": true, "kube-public": true, "kube-node-lease": true, "default": true, "bokujo-system": true, "bokujo-agent": true}

const maxProjectNamespaces = 100

func validateProjectNamespaces(req *projectRequest) error {
	if len(req.Namespaces) > maxProjectNamespaces {
		return fmt.Errorf("at most %d namespaces per project", maxProjectNamespaces)
	}
	seen := map[string]bool{}
	for _, ns := range req.Namespaces {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return fmt.Errorf("namespace %q: %s", ns, errs[0])
		}
		if systemNamespaces[ns] {
			return fmt.Errorf("namespace %q is a system namespace and cannot join a project", ns)
		}
		if seen[ns] {
			return fmt.Errorf("namespace %q is listed twice", ns)
		}
		seen[ns] = true
	}
	if req.Cluster != "" && req.ClusterName != "" && req.Cluster != req.ClusterName {
		return fmt.Errorf("cluster %q and clusterName %q differ; send clusterName only", req.Cluster, req.ClusterName)
	}
	return nil
}

func (a *API) registerProjectCRUD(mux *http.ServeMux) {
	mux.Handle("POST /v1/projects", a.authed(a.createProject))
	mux.Handle("GET /v1/projects/{name}", a.authed(a.getProject))
	mux.Handle("PUT /v1/projects/{name}", a.authed(a.updateProject))
	mux.Handle("DELETE /v1/projects/{name}", a.authed(a.deleteProject))
}

func projectDetail(p *mgmtv1.Project) ProjectDetail {
	return ProjectDetail{Name: p.Name, ClusterName: p.Spec.ClusterName, Cluster: p.Spec.ClusterName, DisplayName: p.Spec.DisplayName,
		Description: p.Spec.Description, ResourceQuota: p.Spec.ResourceQuota, LimitRange: p.Spec.LimitRange,
		Namespaces: append([]string{}, p.Spec.Namespaces...), Status: ProjectDetailStatus{Namespaces: append([]string{}, p.Status.Namespaces...)}}
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
	if err := validateProjectNamespaces(&req); err != nil {
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
			ResourceQuota: req.ResourceQuota, LimitRange: req.LimitRange, Namespaces: req.Namespaces},
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
	if err := validateProjectNamespaces(&req); err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", "%v", err)
		return
	}
	owner := a.clusterOwner(r, c, p.Spec.ClusterName)
	quotaChange := !reflect.DeepEqual(req.ResourceQuota, p.Spec.ResourceQuota) || !reflect.DeepEqual(req.LimitRange, p.Spec.LimitRange)
	// Omitted namespaces stay as they are; [] clears them.
	nsChange := req.Namespaces != nil && !slices.Equal(req.Namespaces, p.Spec.Namespaces)
	switch {
	case quotaChange && !owner:
		a.record(r, c, "update", "projects", p.Name, http.StatusForbidden)
		writeError(w, http.StatusForbidden, "Forbidden", "only administrators and owners of cluster %q change a project's resourceQuota and limitRange; send them unchanged to edit the rest", p.Spec.ClusterName)
		return
	case nsChange && !owner:
		a.record(r, c, "update", "projects", p.Name, http.StatusForbidden)
		writeError(w, http.StatusForbidden, "Forbidden", "only administrators and owners of cluster %q change which namespaces a project declares; project members add new ones with POST /v1/projects/%s/namespaces", p.Spec.ClusterName, p.Name)
		return
	case !owner && !a.holdsProjectTemplate(r, c, p.Name, []string{mgmtv1.RoleTemplateProjectOwner}):
		a.record(r, c, "update", "projects", p.Name, http.StatusForbidden)
		writeError(w, http.StatusForbidden, "Forbidden", "editing project %q needs the project-owner role", p.Name)
		return
	}
	p = p.DeepCopy()
	if err := a.update(r.Context(), p, func() {
		p.Spec.DisplayName, p.Spec.Description, p.Spec.ResourceQuota, p.Spec.LimitRange = req.DisplayName, req.Description, req.ResourceQuota, req.LimitRange
		if req.Namespaces != nil {
			p.Spec.Namespaces = req.Namespaces
		}
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
