package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"bokujo.io/bokujo/internal/agent"
	"bokujo.io/bokujo/internal/audit"
	"bokujo.io/bokujo/internal/clusters"
)

// AgentTunnels serves an authenticated agent's tunnel (package tunnel).
type AgentTunnels interface {
	Serve(w http.ResponseWriter, r *http.Request, cluster string)
}

// AgentCluster is the answer to adding an agent cluster or reissuing its
// registration token: what to run in the cluster.
type AgentCluster struct {
	Name      string    `json:"name"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
	// ManifestURL serves the import manifest while the token is unused and
	// unexpired; no login is needed, the token is the secret.
	ManifestURL string `json:"manifestURL"`
	// Command installs the agent when the server's certificate is publicly
	// trusted; CommandWithCA when it is signed by bokujo's own CA
	// (kubectl fetches -f URLs with the system's roots only).
	Command       string `json:"command"`
	CommandWithCA string `json:"commandWithCA,omitempty"`
	CACertificate string `json:"caCertificate,omitempty"`
	// HelmCommand installs the same with charts/bokujo-agent.
	HelmCommand string `json:"helmCommand"`
}

type addAgentRequest struct {
	Name         string `json:"name"`
	DisplayName  string `json:"displayName,omitempty"`
	ClusterAdmin bool   `json:"clusterAdmin,omitempty"`
}

type reissueRequest struct {
	ClusterAdmin bool `json:"clusterAdmin,omitempty"`
}

// Unauthenticated agent endpoints are rate limited as a whole: registration
// and manifests cost a read of the management cluster (guessing a 256-bit
// token is hopeless anyway). Connects read the cache only and come in
// bursts when a server restarts and every agent returns, so their limit is
// far higher.
var (
	registrationLimiter = rate.NewLimiter(rate.Limit(20), 40)
	connectLimiter      = rate.NewLimiter(rate.Limit(200), 2000)
)

func (a *API) registerAgents(mux *http.ServeMux) {
	mux.Handle("POST /v1/clusters/agent", a.authed(a.admin(a.addAgentCluster)))
	mux.Handle("POST /v1/clusters/{name}/agent-token", a.authed(a.admin(a.reissueAgentToken)))
	mux.HandleFunc("GET /v1/import/{file}", limited(registrationLimiter, a.importManifest))
	mux.HandleFunc("POST /v1/agent/register", limited(registrationLimiter, a.registerAgent))
	mux.HandleFunc("GET /v1/connect", limited(connectLimiter, a.connectAgent))
}

func limited(l *rate.Limiter, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !l.Allow() {
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusTooManyRequests, "TooManyRequests", "too many requests; retry in a second")
			return
		}
		next(w, r)
	}
}

func (a *API) addAgentCluster(w http.ResponseWriter, r *http.Request, c caller) {
	var req addAgentRequest
	if !decode(w, r, &req) {
		return
	}
	if len(req.DisplayName) > 256 {
		writeError(w, http.StatusBadRequest, "BadRequest", "displayName is at most 256 characters")
		return
	}
	reg, err := a.opts.Registry.AddAgentCluster(r.Context(), req.Name, req.DisplayName)
	status := a.registryError(w, err, http.StatusCreated)
	a.record(r, c, "create", "clusters", req.Name, status)
	if err == nil {
		writeJSON(w, http.StatusCreated, a.agentCluster(reg, req.ClusterAdmin))
	}
}

func (a *API) reissueAgentToken(w http.ResponseWriter, r *http.Request, c caller) {
	var req reissueRequest
	if r.ContentLength != 0 && !decode(w, r, &req) {
		return
	}
	name := r.PathValue("name")
	reg, err := a.opts.Registry.IssueRegistrationToken(r.Context(), name)
	var status int
	if errors.Is(err, clusters.ErrNotAgentCluster) {
		writeError(w, http.StatusConflict, "NotAgentCluster", "cluster %q is not reached through an agent", name)
		status = http.StatusConflict
	} else {
		status = a.registryError(w, err, http.StatusCreated)
	}
	a.record(r, c, "create", "clusters/agent-token", name, status)
	if err == nil {
		writeJSON(w, http.StatusCreated, a.agentCluster(reg, req.ClusterAdmin))
	}
}

func (a *API) agentCluster(reg clusters.Registration, clusterAdmin bool) AgentCluster {
	u := *a.opts.PublicURL
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/import/" + reg.Token + ".yaml"
	if clusterAdmin {
		u.RawQuery = "clusterAdmin=true"
	}
	out := AgentCluster{Name: reg.Cluster, Token: reg.Token, ExpiresAt: reg.ExpiresAt, ManifestURL: u.String(),
		Command: "kubectl apply -f '" + u.String() + "'",
		HelmCommand: "helm install bokujo-agent charts/bokujo-agent --namespace bokujo-agent --create-namespace" +
			" --set server=" + a.opts.PublicURL.String() + " --set token=" + reg.Token + " --set-file caData=bokujo-ca.crt",
	}
	if len(a.opts.CACertPEM) > 0 {
		out.CACertificate = string(a.opts.CACertPEM)
		out.CommandWithCA = "curl -fsS --cacert bokujo-ca.crt '" + u.String() + "' | kubectl apply -f -"
	}
	return out
}

// importManifest serves the agent's install manifest for an unused,
// unexpired registration token. No login: the token is the secret.
func (a *API) importManifest(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutSuffix(r.PathValue("file"), ".yaml")
	if !ok {
		writeError(w, http.StatusNotFound, "NotFound", "the import manifest is at /v1/import/<token>.yaml")
		return
	}
	reg, err := a.opts.Registry.LookupRegistration(r.Context(), token)
	if err != nil {
		a.agentRefusal(w, err)
		return
	}
	body, err := agent.Manifest(agent.ManifestOptions{Server: a.opts.PublicURL.String(), CAPEM: a.opts.CACertPEM, Token: token,
		Image: a.agentImage(), ClusterAdmin: r.URL.Query().Get("clusterAdmin") == "true"})
	if err != nil {
		a.log.Error("render agent manifest", "cluster", reg.Cluster, "err", err)
		writeError(w, http.StatusInternalServerError, "Internal", "cannot render the manifest")
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(body)
}

func (a *API) agentImage() string {
	if a.opts.AgentImage != "" {
		return a.opts.AgentImage
	}
	return DefaultAgentImage()
}

// registerAgent exchanges a one-time registration token (bearer) for the
// agent's long-lived credential.
func (a *API) registerAgent(w http.ResponseWriter, r *http.Request) {
	token, ok := bearer(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, "Unauthorized", "send the registration token as Authorization: Bearer")
		return
	}
	var req agent.RegisterRequest
	if !decode(w, r, &req) {
		return
	}
	cluster, credential, err := a.opts.Registry.RegisterAgent(r.Context(), token, clusters.Credentials{
		Proxy: []byte(req.ProxyKubeconfig), Manager: []byte(req.ManagerKubeconfig)})
	status := http.StatusOK
	if err != nil {
		if errors.Is(err, clusters.ErrBadKubeconfig) || errors.Is(err, clusters.ErrInsecureKubeconfig) {
			status = http.StatusBadRequest
			writeError(w, status, "BadRequest", "%v", err)
		} else {
			status = a.agentRefusal(w, err)
		}
		cluster = a.opts.Registry.ClusterOfRegistration(r.Context(), token)
	}
	a.recordAgent(r, cluster, "register", status)
	if err == nil {
		a.log.Info("agent registered", "cluster", cluster)
		writeJSON(w, http.StatusOK, agent.RegisterResponse{Cluster: cluster, Credential: credential})
	}
}

// connectAgent authenticates an agent before upgrading its connection to
// the tunnel; refusals are JSON the agent logs.
func (a *API) connectAgent(w http.ResponseWriter, r *http.Request) {
	credential, ok := bearer(r)
	names := r.Header.Values(agent.ClusterHeader)
	if !ok || len(names) != 1 {
		writeError(w, http.StatusUnauthorized, "Unauthorized", "send the agent credential as Authorization: Bearer and the cluster id as one %s header", agent.ClusterHeader)
		return
	}
	cluster := names[0]
	if err := a.opts.Registry.VerifyAgent(r.Context(), cluster, credential); err != nil {
		status := a.agentRefusal(w, err)
		if clusters.ValidateName(cluster) == nil {
			a.recordAgent(r, cluster, "connect", status)
		}
		return
	}
	if a.opts.Tunnels == nil {
		writeError(w, http.StatusServiceUnavailable, "Unavailable", "this server does not accept agents")
		return
	}
	a.recordAgent(r, cluster, "connect", http.StatusSwitchingProtocols)
	a.opts.Tunnels.Serve(w, r, cluster)
}

// agentRefusal answers a token or credential failure and returns the
// status sent.
func (a *API) agentRefusal(w http.ResponseWriter, err error) int {
	switch {
	case errors.Is(err, clusters.ErrTokenUnknown), errors.Is(err, clusters.ErrAgentCredential):
		writeError(w, http.StatusUnauthorized, "Unauthorized", "%v", err)
		return http.StatusUnauthorized
	case errors.Is(err, clusters.ErrTokenUsed), errors.Is(err, clusters.ErrTokenExpired):
		writeError(w, http.StatusGone, "TokenNotUsable", "%v", err)
		return http.StatusGone
	case errors.Is(err, clusters.ErrNotFound):
		writeError(w, http.StatusNotFound, "NotFound", "%v", err)
		return http.StatusNotFound
	case errors.Is(err, clusters.ErrNotAgentCluster):
		writeError(w, http.StatusConflict, "NotAgentCluster", "%v", err)
		return http.StatusConflict
	default:
		a.log.Error("agent request", "err", err)
		writeError(w, http.StatusInternalServerError, "Internal", "cannot check the agent's token now; it retries")
		return http.StatusInternalServerError
	}
}

func (a *API) recordAgent(r *http.Request, cluster, verb string, status int) {
	if a.opts.Audit == nil {
		return
	}
	a.opts.Audit.Write(audit.Record{Kind: "management", User: "bokujo-agent:" + cluster, Cluster: cluster, Verb: verb,
		APIGroup: "management.bokujo.io", Resource: "clusters/agent", Name: cluster, Status: status, SourceIP: sourceIP(r)})
}

// bearer returns the request's one bearer credential.
func bearer(r *http.Request) (string, bool) {
	values := r.Header.Values("Authorization")
	if len(values) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}
