package api

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/proxy"
)

// Kubeconfig token lifetimes: long enough for a laptop, bounded so a lost
// file stops working on its own.
const (
	defaultKubeconfigTTL = 30 * 24 * time.Hour
	maxKubeconfigTTL     = 365 * 24 * time.Hour
)

// kubeconfig returns a kubeconfig with one context per cluster the caller
// may use, all pointing at this server's proxy, backed by a new named token.
func (a *API) kubeconfig(w http.ResponseWriter, r *http.Request, c caller) {
	ttl := defaultKubeconfigTTL
	if s := r.URL.Query().Get("ttlSeconds"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 60 || time.Duration(n)*time.Second > maxKubeconfigTTL {
			writeError(w, http.StatusBadRequest, "BadRequest", "ttlSeconds must be between 60 and %d", int(maxKubeconfigTTL.Seconds()))
			return
		}
		ttl = time.Duration(n) * time.Second
	}
	vis, err := a.visibility(r, c)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Internal", "cannot compute visibility; try again")
		return
	}
	defaultNS := map[string]string{}
	var projects mgmtv1.ProjectList
	if err := a.opts.Reader.List(r.Context(), &projects); err == nil {
		slices.SortFunc(projects.Items, func(x, y mgmtv1.Project) int { return cmpString(x.Name, y.Name) })
		for _, p := range projects.Items {
			granted := slices.Contains(vis.Clusters[p.Spec.ClusterName], p.Name)
			ns := p.Status.Namespaces
			if len(ns) == 0 {
				ns = p.Spec.Namespaces
			}
			if granted && len(ns) > 0 && defaultNS[p.Spec.ClusterName] == "" {
				defaultNS[p.Spec.ClusterName] = ns[0]
			}
		}
	}
	cfg := clientcmdapi.NewConfig()
	names := make([]string, 0, len(vis.Clusters))
	for name := range vis.Clusters {
		names = append(names, name)
	}
	slices.Sort(names)
	user := "bokujo-" + c.user.Name
	if len(names) > 0 {
		token, _, err := a.opts.Tokens.IssueKubeconfigToken(r.Context(), c.user.Name, ttl)
		if err != nil {
			a.log.Error("issue kubeconfig token", "user", c.user.Name, "err", err)
			writeError(w, http.StatusInternalServerError, "Internal", "cannot issue a token; try again")
			return
		}
		cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: token}
	}
	for _, name := range names {
		u := *a.opts.PublicURL
		u.Path = proxy.PathPrefix + name
		cfg.Clusters[name] = &clientcmdapi.Cluster{Server: u.String(), CertificateAuthorityData: a.opts.CACertPEM}
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: user, Namespace: defaultNS[name]}
	}
	if len(names) > 0 {
		cfg.CurrentContext = names[0]
	}
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Internal", "cannot render kubeconfig")
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Content-Disposition", `attachment; filename="bokujo-kubeconfig.yaml"`)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(data)
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
