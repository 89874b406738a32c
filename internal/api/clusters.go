package api

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/clusters"
)

// Cluster is a cluster as the API shows it.
type Cluster struct {
	Name              string              `json:"name"`
	DisplayName       string              `json:"displayName,omitempty"`
	Source            string              `json:"source"`
	Ready             bool                `json:"ready"`
	Message           string              `json:"message,omitempty"`
	KubernetesVersion string              `json:"kubernetesVersion,omitempty"`
	Nodes             int32               `json:"nodes"`
	Capacity          corev1.ResourceList `json:"capacity,omitempty"`
	Allocatable       corev1.ResourceList `json:"allocatable,omitempty"`
	Requested         corev1.ResourceList `json:"requested,omitempty"`
	Projects          []string            `json:"projects,omitempty"`
	Conditions        []metav1.Condition  `json:"conditions,omitempty"`
}

func toCluster(c *mgmtv1.Cluster, projects []string) Cluster {
	out := Cluster{
		Name: c.Name, DisplayName: c.Spec.DisplayName, KubernetesVersion: c.Status.KubernetesVersion,
		Capacity: c.Status.Capacity, Allocatable: c.Status.Allocatable, Requested: c.Status.Requested,
		Projects: projects, Conditions: c.Status.Conditions,
	}
	switch {
	case c.Spec.Source.Kubeconfig != nil:
		out.Source = "kubeconfig"
	case c.Spec.Source.Agent != nil:
		out.Source = "agent"
	case c.Spec.Source.Driver != nil:
		out.Source = "driver"
	}
	if c.Status.NodeCount != nil {
		out.Nodes = *c.Status.NodeCount
	}
	if cond := meta.FindStatusCondition(c.Status.Conditions, mgmtv1.ConditionReady); cond != nil {
		out.Ready = cond.Status == metav1.ConditionTrue
		out.Message = cond.Message
	} else {
		out.Message = "waiting for the first health probe"
	}
	return out
}

func (a *API) listClusters(w http.ResponseWriter, r *http.Request, c caller) {
	vis, err := a.visibility(r, c)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Internal", "cannot compute visibility; try again")
		return
	}
	var list mgmtv1.ClusterList
	if err := a.opts.Reader.List(r.Context(), &list); err != nil {
		writeError(w, http.StatusInternalServerError, "Internal", "cannot list clusters; try again")
		return
	}
	items := []Cluster{}
	for i := range list.Items {
		if projects, ok := vis.Clusters[list.Items[i].Name]; ok {
			items = append(items, toCluster(&list.Items[i], projects))
		}
	}
	slices.SortFunc(items, func(x, y Cluster) int { return strings.Compare(x.Name, y.Name) })
	pg, next, ok := page(w, r, items)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, List[Cluster]{Items: pg, Continue: next})
}

func (a *API) getCluster(w http.ResponseWriter, r *http.Request, c caller) {
	name := r.PathValue("name")
	vis, err := a.visibility(r, c)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Internal", "cannot compute visibility; try again")
		return
	}
	projects, ok := vis.Clusters[name]
	var cl mgmtv1.Cluster
	if !ok || a.opts.Reader.Get(r.Context(), clientKey(name), &cl) != nil {
		// Same answer for unknown and ungranted clusters.
		writeError(w, http.StatusNotFound, "NotFound", "cluster %q not found", name)
		return
	}
	writeJSON(w, http.StatusOK, toCluster(&cl, projects))
}

type importRequest struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName,omitempty"`
	Kubeconfig  string `json:"kubeconfig"`
	Context     string `json:"context,omitempty"`
}

func (a *API) importCluster(w http.ResponseWriter, r *http.Request, c caller) {
	var req importRequest
	if !decode(w, r, &req) {
		return
	}
	if len(req.DisplayName) > 256 {
		writeError(w, http.StatusBadRequest, "BadRequest", "displayName is at most 256 characters")
		return
	}
	err := a.opts.Registry.ImportKubeconfig(r.Context(), req.Name, req.DisplayName, []byte(req.Kubeconfig), req.Context)
	status := a.registryError(w, err, http.StatusCreated)
	a.record(r, c, "create", "clusters", req.Name, status)
	if err == nil {
		writeJSON(w, http.StatusCreated, map[string]string{"name": req.Name})
	}
}

type registerRequest struct {
	Name              string `json:"name"`
	DisplayName       string `json:"displayName,omitempty"`
	ProxyKubeconfig   string `json:"proxyKubeconfig"`
	ManagerKubeconfig string `json:"managerKubeconfig"`
}

// registerCluster stores credentials that `bokujo cluster import`
// provisioned on the user's machine (with plugins the server must not run).
func (a *API) registerCluster(w http.ResponseWriter, r *http.Request, c caller) {
	var req registerRequest
	if !decode(w, r, &req) {
		return
	}
	err := a.opts.Registry.Register(r.Context(), req.Name, req.DisplayName,
		clusters.Credentials{Proxy: []byte(req.ProxyKubeconfig), Manager: []byte(req.ManagerKubeconfig)})
	status := a.registryError(w, err, http.StatusCreated)
	a.record(r, c, "create", "clusters", req.Name, status)
	if err == nil {
		writeJSON(w, http.StatusCreated, map[string]string{"name": req.Name})
	}
}

func (a *API) deleteCluster(w http.ResponseWriter, r *http.Request, c caller) {
	name := r.PathValue("name")
	err := a.opts.Registry.Remove(r.Context(), name)
	status := a.registryError(w, err, http.StatusOK)
	a.record(r, c, "delete", "clusters", name, status)
	if err == nil {
		writeJSON(w, http.StatusOK, map[string]string{"name": name})
	}
}

// registryError answers a registry failure and returns the status sent
// (ok when err is nil, in which case nothing is written).
func (a *API) registryError(w http.ResponseWriter, err error, ok int) int {
	switch {
	case err == nil:
		return ok
	case errors.Is(err, clusters.ErrInvalidName), errors.Is(err, clusters.ErrBadKubeconfig):
		writeError(w, http.StatusBadRequest, "BadRequest", "%v", err)
		return http.StatusBadRequest
	case errors.Is(err, clusters.ErrInsecureKubeconfig):
		writeError(w, http.StatusUnprocessableEntity, "InsecureKubeconfig", "%v", err)
		return http.StatusUnprocessableEntity
	case errors.Is(err, clusters.ErrAlreadyExists):
		writeError(w, http.StatusConflict, "AlreadyExists", "%v", err)
		return http.StatusConflict
	case errors.Is(err, clusters.ErrNotFound):
		writeError(w, http.StatusNotFound, "NotFound", "%v", err)
		return http.StatusNotFound
	default:
		a.log.Error("cluster registry", "err", err)
		writeError(w, http.StatusBadGateway, "ClusterError", "%v", err)
		return http.StatusBadGateway
	}
}
