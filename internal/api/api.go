// Package api serves bokujo's REST API under /v1 for the web UI and the
// CLI: clusters, projects, kubeconfigs and the audit log. Every answer is
// JSON; errors have one shape; lists are paginated; what a caller sees is
// limited to what they were granted.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"bokujo.io/bokujo/internal/access"
	"bokujo.io/bokujo/internal/audit"
	"bokujo.io/bokujo/internal/chatops"
	"bokujo.io/bokujo/internal/clusters"
	"bokujo.io/bokujo/internal/proxy"
	"bokujo.io/bokujo/internal/version"
)

// KubeconfigTokens issues the token a generated kubeconfig carries.
type KubeconfigTokens interface {
	IssueKubeconfigToken(ctx context.Context, user string, ttl time.Duration) (token string, expires time.Time, err error)
}

// Options wire the API to the rest of the server.
type Options struct {
	Authenticator proxy.Authenticator
	Grants        access.Grants
	Registry      *clusters.Registry
	// Reader reads management objects (a cached client); Writer writes them.
	Reader client.Reader
	Writer client.Client
	// LiveReader reads the API server itself, where a decision must not
	// rest on a cache a moment behind (deleting a group or template still
	// in use). Default: Reader.
	LiveReader client.Reader
	Users      Users
	Tokens     KubeconfigTokens
	Audit      *audit.Log
	// PublicURL is the URL users reach bokujo at (kubeconfig servers).
	PublicURL *url.URL
	// CACertPEM is embedded in kubeconfigs so clients trust the server.
	CACertPEM []byte
	// Tunnels serves agents' tunnels; AgentImage is the image the import
	// manifest runs (default DefaultAgentImage()).
	Tunnels    AgentTunnels
	AgentImage string
	Logger     *slog.Logger
	// Slack serves /v1/chat/slack/*; nil answers 404 there.
	Slack *chatops.Slack
}

// DefaultAgentImage is the agent image of this bokujo version.
func DefaultAgentImage() string { return "ghcr.io/bokujo/bokujo:" + version.Version }

// API is the /v1 handler set.
type API struct {
	opts Options
	log  *slog.Logger
}

// New returns the API.
func New(opts Options) *API {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &API{opts: opts, log: log}
}

// Register adds the routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.Handle("GET /v1/clusters", a.authed(a.listClusters))
	mux.Handle("GET /v1/clusters/{name}", a.authed(a.getCluster))
	mux.Handle("POST /v1/clusters", a.authed(a.admin(a.importCluster)))
	mux.Handle("POST /v1/clusters/register", a.authed(a.admin(a.registerCluster)))
	mux.Handle("DELETE /v1/clusters/{name}", a.authed(a.admin(a.deleteCluster)))
	mux.Handle("GET /v1/projects", a.authed(a.listProjects))
	mux.Handle("GET /v1/kubeconfig", a.authed(a.kubeconfig))
	mux.Handle("GET /v1/audit", a.authed(a.admin(a.searchAudit)))
	mux.HandleFunc("GET /v1/openapi.json", a.openapi)
	a.registerMembers(mux)
	a.registerGroups(mux)
	a.registerRoleTemplates(mux)
	a.registerProjectCRUD(mux)
	a.registerUsers(mux)
	a.registerAuthProviders(mux)
	a.registerNotifications(mux)
	a.registerAgents(mux)
	a.registerReleases(mux)
	a.registerChat(mux)
	a.registerTools(mux)
}

type ctxKey struct{}

type caller struct {
	user  *proxy.User
	admin bool
}

// authed authenticates the request like the proxy does: bearer token, or
// session cookie with a valid CSRF token on unsafe methods and no
// cross-site fetch.
func (a *API) authed(next func(http.ResponseWriter, *http.Request, caller)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, method, err := a.opts.Authenticator.Authenticate(r)
		if errors.Is(err, proxy.ErrPasswordChangeRequired) {
			writePasswordChangeRequired(w)
			return
		}
		if err != nil || user == nil {
			if err != nil && !errors.Is(err, proxy.ErrUnauthenticated) {
				a.log.Warn("authentication failed", "err", err)
			}
			writeError(w, http.StatusUnauthorized, "Unauthorized", "log in or send a bokujo token as Authorization: Bearer")
			return
		}
		if method.Kind == proxy.AuthCookie {
			unsafe := r.Method != http.MethodGet && r.Method != http.MethodHead
			site := r.Header.Get("Sec-Fetch-Site")
			if unsafe && (!method.CSRFValid || (site != "" && site != "same-origin" && site != "none")) {
				writeError(w, http.StatusForbidden, "CSRF", "missing or invalid %s header", proxy.CSRFHeader)
				return
			}
		} else if method.Kind != proxy.AuthBearer {
			writeError(w, http.StatusUnauthorized, "Unauthorized", "unsupported credential")
			return
		}
		admin, err := a.opts.Grants.IsAdmin(r.Context(), access.Subject{Name: user.Name, Groups: user.Groups})
		if err != nil {
			a.log.Error("admin check failed", "err", err)
			writeError(w, http.StatusInternalServerError, "Internal", "cannot read role bindings; try again")
			return
		}
		next(w, r, caller{user: user, admin: admin})
	})
}

func (a *API) admin(next func(http.ResponseWriter, *http.Request, caller)) func(http.ResponseWriter, *http.Request, caller) {
	return func(w http.ResponseWriter, r *http.Request, c caller) {
		if !c.admin {
			writeError(w, http.StatusForbidden, "Forbidden", "only administrators may do this")
			return
		}
		next(w, r, c)
	}
}

func (a *API) visibility(r *http.Request, c caller) (access.Visible, error) {
	return a.opts.Grants.Visibility(r.Context(), access.Subject{Name: c.user.Name, Groups: c.user.Groups})
}

// record writes a management change to the audit log.
func (a *API) record(r *http.Request, c caller, verb, resource, name string, status int) {
	if a.opts.Audit == nil {
		return
	}
	a.opts.Audit.Write(audit.Record{Kind: "management", User: c.user.Name, Groups: c.user.Groups, Verb: verb,
		APIGroup: "management.bokujo.io", Resource: resource, Name: name, Status: status, SourceIP: sourceIP(r)})
}

func sourceIP(r *http.Request) string {
	host := r.RemoteAddr
	for i := len(host) - 1; i >= 0; i-- {
		if host[i] == ':' {
			return host[:i]
		}
	}
	return host
}
