package api

import (
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/clustertools"
)

// ClusterToolInfo is one bundled tool of a cluster: whether it is enabled
// and, if so, how it runs.
type ClusterToolInfo struct {
	Tool    mgmtv1.ClusterToolName `json:"tool"`
	Enabled bool                   `json:"enabled"`
	// Removing is true while the tool's objects are being deleted.
	Removing  bool   `json:"removing,omitempty"`
	Installed bool   `json:"installed"`
	Ready     bool   `json:"ready"`
	Message   string `json:"message,omitempty"`
	Version   string `json:"version,omitempty"`
	// CanChange tells whether the caller may enable or disable it.
	CanChange bool `json:"canChange"`
}

func (a *API) registerTools(mux *http.ServeMux) {
	mux.Handle("GET /v1/clusters/{name}/tools", a.authed(a.listTools))
	mux.Handle("PUT /v1/clusters/{name}/tools/{tool}", a.authed(a.enableTool))
	mux.Handle("DELETE /v1/clusters/{name}/tools/{tool}", a.authed(a.disableTool))
}

var toolOrder = []mgmtv1.ClusterToolName{mgmtv1.ToolMonitoring, mgmtv1.ToolLogging}

func (a *API) listTools(w http.ResponseWriter, r *http.Request, c caller) {
	cluster := a.clusterVisible(w, r, c)
	if cluster == "" {
		return
	}
	can := a.clusterOwner(r, c, cluster)
	items := []ClusterToolInfo{}
	for _, tool := range toolOrder {
		info := ClusterToolInfo{Tool: tool, CanChange: can}
		var ct mgmtv1.ClusterTool
		err := a.opts.Reader.Get(r.Context(), clientKey(cluster+"-"+string(tool)), &ct)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			writeError(w, http.StatusInternalServerError, "Internal", "cannot read the tools of %q; try again", cluster)
			return
		default:
			info.Enabled, info.Removing, info.Version = true, !ct.DeletionTimestamp.IsZero(), ct.Status.Version
			if cond := meta.FindStatusCondition(ct.Status.Conditions, clustertools.ConditionInstalled); cond != nil {
				info.Installed = cond.Status == metav1.ConditionTrue
				if !info.Installed {
					info.Message = cond.Message
				}
			}
			if cond := meta.FindStatusCondition(ct.Status.Conditions, clustertools.ConditionReady); cond != nil {
				info.Ready = cond.Status == metav1.ConditionTrue
				if info.Message == "" && !info.Ready {
					info.Message = cond.Message
				}
			}
		}
		items = append(items, info)
	}
	writeJSON(w, http.StatusOK, List[ClusterToolInfo]{Items: items})
}

// toolScope checks the path and that the caller may change the cluster's
// tools: administrators and the cluster's owners.
func (a *API) toolScope(w http.ResponseWriter, r *http.Request, c caller) (string, mgmtv1.ClusterToolName, bool) {
	cluster := a.clusterVisible(w, r, c)
	if cluster == "" {
		return "", "", false
	}
	tool := mgmtv1.ClusterToolName(r.PathValue("tool"))
	if _, ok := clustertools.Versions[tool]; !ok {
		writeError(w, http.StatusNotFound, "NotFound", "unknown tool %.64q: use monitoring or logging", string(tool))
		return "", "", false
	}
	if !a.clusterOwner(r, c, cluster) {
		writeError(w, http.StatusForbidden, "Forbidden", "only administrators and owners of cluster %q may change its tools", cluster)
		return "", "", false
	}
	return cluster, tool, true
}

func (a *API) enableTool(w http.ResponseWriter, r *http.Request, c caller) {
	cluster, tool, ok := a.toolScope(w, r, c)
	if !ok {
		return
	}
	name := cluster + "-" + string(tool)
	ct := &mgmtv1.ClusterTool{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       mgmtv1.ClusterToolSpec{ClusterName: cluster, Tool: tool},
	}
	status := http.StatusCreated
	if err := a.writer().Create(r.Context(), ct); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			a.record(r, c, "create", "clustertools", name, http.StatusInternalServerError)
			writeError(w, http.StatusInternalServerError, "Internal", "%v", apiMessage(err))
			return
		}
		var existing mgmtv1.ClusterTool
		if err := a.opts.Reader.Get(r.Context(), clientKey(name), &existing); err == nil && !existing.DeletionTimestamp.IsZero() {
			writeError(w, http.StatusConflict, "Conflict", "%s is still being removed from %q; enable it again when that is done", tool, cluster)
			return
		}
		status = http.StatusOK
	}
	a.record(r, c, "create", "clustertools", name, status)
	writeJSON(w, status, ClusterToolInfo{Tool: tool, Enabled: true})
}

func (a *API) disableTool(w http.ResponseWriter, r *http.Request, c caller) {
	cluster, tool, ok := a.toolScope(w, r, c)
	if !ok {
		return
	}
	name := cluster + "-" + string(tool)
	if err := a.writer().Delete(r.Context(), &mgmtv1.ClusterTool{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		if apierrors.IsNotFound(err) {
			writeError(w, http.StatusNotFound, "NotFound", "%s is not enabled on %q", tool, cluster)
			return
		}
		a.record(r, c, "delete", "clustertools", name, http.StatusInternalServerError)
		writeError(w, http.StatusInternalServerError, "Internal", "%v", apiMessage(err))
		return
	}
	a.record(r, c, "delete", "clustertools", name, http.StatusOK)
	writeJSON(w, http.StatusOK, ClusterToolInfo{Tool: tool, Enabled: true, Removing: true})
}
