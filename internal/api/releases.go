package api

import (
	"context"
	"errors"
	"net/http"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	deliveryv1 "bokujo.io/bokujo/api/delivery/v1alpha1"
	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/audit"
	"bokujo.io/bokujo/internal/clusters"
	"bokujo.io/bokujo/internal/proxy"
	"bokujo.io/bokujo/internal/release"
)

// Releases of the delivery API, read and written in the downstream cluster
// as the caller (impersonated like the proxy does), so the cluster's RBAC
// decides and its audit log names the caller.
func (a *API) registerReleases(mux *http.ServeMux) {
	mux.Handle("GET /v1/clusters/{cluster}/releases", a.authed(a.listReleases))
	mux.Handle("GET /v1/clusters/{cluster}/namespaces/{namespace}/releases", a.authed(a.listReleases))
	mux.Handle("POST /v1/clusters/{cluster}/namespaces/{namespace}/releases", a.authed(a.startRelease))
	mux.Handle("GET /v1/clusters/{cluster}/namespaces/{namespace}/releases/{name}", a.authed(a.getRelease))
	mux.Handle("POST /v1/clusters/{cluster}/namespaces/{namespace}/releases/{name}/actions", a.authed(a.releaseAction))
	mux.Handle("POST /v1/clusters/{cluster}/namespaces/{namespace}/releases/{name}/rollback", a.authed(a.rollbackRelease))
}

// ReleaseList is the answer of the list routes: history lines, newest first.
type ReleaseList struct {
	Items    []release.Summary `json:"items"`
	Continue string            `json:"continue,omitempty"`
}

// ReleaseActionRequest asks for an action on a release.
type ReleaseActionRequest struct {
	Action deliveryv1.Action `json:"action"`
}

// ReleaseClient returns a release client acting as user in cluster. It is
// shared with the chat integration.
func ReleaseClient(ctx context.Context, reg *clusters.Registry, cluster string, user *proxy.User) (*release.Client, error) {
	cfg, err := reg.Config(ctx, cluster, clusters.IdentityProxy)
	if err != nil {
		return nil, err
	}
	cfg, err = proxy.Impersonating(cfg, user)
	if err != nil {
		return nil, err
	}
	return release.NewClient(cfg)
}

// releaseScope checks the path's names and the caller's sight of the
// cluster, and returns a client acting as the caller.
func (a *API) releaseScope(w http.ResponseWriter, r *http.Request, c caller) (*release.Client, string, bool) {
	cluster, ns := r.PathValue("cluster"), r.PathValue("namespace")
	if err := clusters.ValidateName(cluster); err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", "%v", err)
		return nil, "", false
	}
	if ns != "" {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			writeError(w, http.StatusBadRequest, "BadRequest", "namespace %q: %s", ns, errs[0])
			return nil, "", false
		}
	}
	if name := r.PathValue("name"); name != "" {
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			writeError(w, http.StatusBadRequest, "BadRequest", "release name %q: %s", name, errs[0])
			return nil, "", false
		}
	}
	vis, err := a.visibility(r, c)
	if err != nil {
		a.log.Error("visibility", "err", err)
		writeError(w, http.StatusInternalServerError, "Internal", "cannot read role bindings; try again")
		return nil, "", false
	}
	if !vis.Admin && !vis.HasCluster(cluster) {
		writeError(w, http.StatusNotFound, "NotFound", "cluster %q not found", cluster)
		return nil, "", false
	}
	rc, err := ReleaseClient(r.Context(), a.opts.Registry, cluster, c.user)
	if err != nil {
		a.registryError(w, err, 0)
		return nil, "", false
	}
	return rc, ns, true
}

// kubeError answers with the downstream API server's verdict.
func (a *API) kubeError(w http.ResponseWriter, err error) {
	var status apierrors.APIStatus
	switch {
	case apierrors.IsForbidden(err):
		writeError(w, http.StatusForbidden, "Forbidden", "%v", err)
	case apierrors.IsNotFound(err):
		writeError(w, http.StatusNotFound, "NotFound", "%v", err)
	case apierrors.IsInvalid(err):
		writeError(w, http.StatusUnprocessableEntity, "Invalid", "%v", err)
	case apierrors.IsConflict(err), apierrors.IsAlreadyExists(err):
		writeError(w, http.StatusConflict, "Conflict", "%v", err)
	case apierrors.IsBadRequest(err):
		writeError(w, http.StatusBadRequest, "BadRequest", "%v", err)
	case meta.IsNoMatchError(err):
		writeError(w, http.StatusNotFound, "NotFound", "releases are not installed in this cluster")
	case errors.As(err, &status) && status.Status().Code == http.StatusNotFound:
		writeError(w, http.StatusNotFound, "NotFound", "releases are not installed in this cluster: %v", err)
	default:
		a.log.Error("release API", "err", err)
		writeError(w, http.StatusBadGateway, "ClusterError", "%v", err)
	}
}

func (a *API) listReleases(w http.ResponseWriter, r *http.Request, c caller) {
	rc, ns, ok := a.releaseScope(w, r, c)
	if !ok {
		return
	}
	dep := r.URL.Query().Get("deployment")
	if dep != "" {
		if errs := validation.IsDNS1123Subdomain(dep); len(errs) > 0 {
			writeError(w, http.StatusBadRequest, "BadRequest", "deployment %q: %s", dep, errs[0])
			return
		}
	}
	list, err := rc.List(r.Context(), ns, dep)
	if ns == "" && apierrors.IsForbidden(err) {
		// Not allowed to list across the cluster: gather the namespaces of
		// the projects granted in it instead.
		list, err = a.listProjectReleases(r, c, rc, dep)
	}
	if err != nil {
		a.kubeError(w, err)
		return
	}
	items := make([]release.Summary, 0, len(list))
	for i := range list {
		items = append(items, release.Summarize(&list[i]))
	}
	pg, next, ok := page(w, r, items)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, ReleaseList{Items: pg, Continue: next})
}

func (a *API) getRelease(w http.ResponseWriter, r *http.Request, c caller) {
	rc, ns, ok := a.releaseScope(w, r, c)
	if !ok {
		return
	}
	rel, err := rc.Get(r.Context(), ns, r.PathValue("name"))
	if err != nil {
		a.kubeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rel)
}

func (a *API) startRelease(w http.ResponseWriter, r *http.Request, c caller) {
	var req release.StartRequest
	if !decode(w, r, &req) {
		return
	}
	if errs := validation.IsDNS1123Subdomain(req.Deployment); len(errs) > 0 {
		writeError(w, http.StatusBadRequest, "BadRequest", "deployment %q: %s", req.Deployment, errs[0])
		return
	}
	if len(req.Images) == 0 {
		writeError(w, http.StatusBadRequest, "BadRequest", "images: name at least one container and its new image")
		return
	}
	rc, ns, ok := a.releaseScope(w, r, c)
	if !ok {
		return
	}
	rel, err := rc.Start(r.Context(), ns, req, c.user.Name)
	a.recordRelease(r, c, "create", ns, req.Deployment, err)
	if err != nil {
		a.kubeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, rel)
}

func (a *API) releaseAction(w http.ResponseWriter, r *http.Request, c caller) {
	var req ReleaseActionRequest
	if !decode(w, r, &req) {
		return
	}
	if !slices.Contains(deliveryv1.Actions, req.Action) {
		writeError(w, http.StatusBadRequest, "BadRequest", "action %q: use one of promote, pause, resume, abort, retry", req.Action)
		return
	}
	rc, ns, ok := a.releaseScope(w, r, c)
	if !ok {
		return
	}
	rel, err := rc.Act(r.Context(), ns, r.PathValue("name"), req.Action, c.user.Name)
	a.recordRelease(r, c, string(req.Action), ns, r.PathValue("name"), err)
	if err != nil {
		a.kubeError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, rel)
}

func (a *API) rollbackRelease(w http.ResponseWriter, r *http.Request, c caller) {
	rc, ns, ok := a.releaseScope(w, r, c)
	if !ok {
		return
	}
	rel, err := rc.Rollback(r.Context(), ns, r.PathValue("name"), c.user.Name)
	a.recordRelease(r, c, "rollback", ns, r.PathValue("name"), err)
	if err != nil {
		var status apierrors.APIStatus
		if !errors.As(err, &status) {
			writeError(w, http.StatusConflict, "Conflict", "%v", err)
			return
		}
		a.kubeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, rel)
}

func (a *API) recordRelease(r *http.Request, c caller, verb, ns, name string, err error) {
	if a.opts.Audit == nil {
		return
	}
	status := http.StatusOK
	if err != nil {
		status = http.StatusBadRequest
		var s apierrors.APIStatus
		if errors.As(err, &s) {
			status = int(s.Status().Code)
		}
	}
	a.opts.Audit.Write(audit.Record{Kind: "management", User: c.user.Name, Groups: c.user.Groups, Verb: verb,
		APIGroup: deliveryv1.GroupName, Resource: "releases", Name: r.PathValue("cluster") + "/" + ns + "/" + name, Status: status, SourceIP: sourceIP(r)})
}

// listProjectReleases lists the releases in the namespaces of the caller's
// projects in the request's cluster, skipping namespaces the cluster's
// RBAC refuses.
func (a *API) listProjectReleases(r *http.Request, c caller, rc *release.Client, dep string) ([]deliveryv1.Release, error) {
	vis, err := a.visibility(r, c)
	if err != nil {
		return nil, err
	}
	var out []deliveryv1.Release
	seen := map[string]bool{}
	for _, name := range vis.Clusters[r.PathValue("cluster")] {
		var p mgmtv1.Project
		if err := a.opts.Reader.Get(r.Context(), types.NamespacedName{Name: name}, &p); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return nil, err
		}
		for _, ns := range p.Status.Namespaces {
			if seen[ns] {
				continue
			}
			seen[ns] = true
			list, err := rc.List(r.Context(), ns, dep)
			if apierrors.IsForbidden(err) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, list...)
		}
	}
	release.SortNewestFirst(out)
	return out, nil
}
