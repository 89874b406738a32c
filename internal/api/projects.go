package api

import (
	"net/http"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// Project is a project as the API shows it.
type Project struct {
	Name        string   `json:"name"`
	Cluster     string   `json:"cluster"`
	DisplayName string   `json:"displayName,omitempty"`
	Namespaces  []string `json:"namespaces,omitempty"`
}

func clientKey(name string) types.NamespacedName { return types.NamespacedName{Name: name} }

func (a *API) listProjects(w http.ResponseWriter, r *http.Request, c caller) {
	vis, err := a.visibility(r, c)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Internal", "cannot compute visibility; try again")
		return
	}
	var list mgmtv1.ProjectList
	if err := a.opts.Reader.List(r.Context(), &list); err != nil {
		writeError(w, http.StatusInternalServerError, "Internal", "cannot list projects; try again")
		return
	}
	cluster := r.URL.Query().Get("cluster")
	items := []Project{}
	for _, p := range list.Items {
		if cluster != "" && p.Spec.ClusterName != cluster {
			continue
		}
		if !vis.Admin && !slices.Contains(vis.Clusters[p.Spec.ClusterName], p.Name) {
			continue
		}
		ns := p.Status.Namespaces
		if len(ns) == 0 {
			ns = p.Spec.Namespaces
		}
		items = append(items, Project{Name: p.Name, Cluster: p.Spec.ClusterName, DisplayName: p.Spec.DisplayName, Namespaces: ns})
	}
	slices.SortFunc(items, func(x, y Project) int { return strings.Compare(x.Name, y.Name) })
	pg, next, ok := page(w, r, items)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, List[Project]{Items: pg, Continue: next})
}
