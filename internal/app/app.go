// Package app assembles the bokujo server from its parts: the management
// API (CRDs) and its controllers, local authentication, the cluster
// registry, RBAC sync, the impersonating proxy, the /v1 API and the audit
// log, all behind one HTTPS listener. `bokujo up` and `bokujo server` both
// run it.
package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/event"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/api/management/v1alpha1/crds"
	"bokujo.io/bokujo/internal/access"
	"bokujo.io/bokujo/internal/api"
	"bokujo.io/bokujo/internal/audit"
	"bokujo.io/bokujo/internal/auth"
	"bokujo.io/bokujo/internal/chatops"
	"bokujo.io/bokujo/internal/clusters"
	"bokujo.io/bokujo/internal/clustertools"
	"bokujo.io/bokujo/internal/crdinstall"
	"bokujo.io/bokujo/internal/drivers"
	"bokujo.io/bokujo/internal/fleet"
	"bokujo.io/bokujo/internal/metrics"
	"bokujo.io/bokujo/internal/mltask"
	"bokujo.io/bokujo/internal/notify"
	"bokujo.io/bokujo/internal/peer"
	"bokujo.io/bokujo/internal/proxy"
	"bokujo.io/bokujo/internal/rbacsync"
	"bokujo.io/bokujo/internal/release"
	"bokujo.io/bokujo/internal/server"
	"bokujo.io/bokujo/internal/tunnel"
	"bokujo.io/bokujo/internal/web"
	"bokujo.io/bokujo/internal/webkubectl"
)

// Options configure the server.
type Options struct {
	// Management is the admin configuration of the management cluster.
	Management *rest.Config
	// Listen is host:port; PublicURL the address users reach (defaults to
	// https://Listen).
	Listen    string
	PublicURL string
	// Certificate serves HTTPS; CACertPEM is handed out in kubeconfigs.
	Certificate tls.Certificate
	CACertPEM   []byte
	// DataDir holds the audit log.
	DataDir string
	// ClusterPolicy limits which cluster addresses may be imported.
	ClusterPolicy clusters.Policy
	// LeaderElection runs controllers on one replica at a time.
	LeaderElection bool
	// HealthInterval between cluster probes (default 10 s).
	HealthInterval time.Duration
	// DriverPoll is how often clusters being created by a driver are
	// looked at again (default 15 s).
	DriverPoll time.Duration
	// GroupRefreshInterval is how often external users' groups are read
	// again from their providers (default auth.DefaultGroupRefreshInterval).
	GroupRefreshInterval time.Duration
	Logger               *slog.Logger
	// AgentImage is the image import manifests run for `bokujo agent`
	// (default ghcr.io/bokujo/bokujo:<version>).
	AgentImage string
	// Terminal configures the web terminal (kubectl in the browser); its
	// zero value takes webkubectl's defaults.
	Terminal webkubectl.Options
	// SlackSigningSecret turns the Slack endpoints on
	// (/v1/chat/slack/commands and /interactions), verified with it.
	SlackSigningSecret []byte
	// MetricsListen, when set, is the host:port serving Prometheus metrics
	// at /metrics over plain HTTP without authentication (see
	// internal/metrics): keep it reachable only by the scraper.
	MetricsListen string
	// SeveralPerProcess lets tests and benchmarks run more than one server
	// in a process; controller-runtime otherwise refuses a second
	// controller of the same name (their metrics would collide).
	SeveralPerProcess bool
	// Components run in every downstream cluster (see internal/fleet);
	// nil means DefaultComponents.
	Components []fleet.Component
	// ControllersOptIn runs Components only in clusters labelled
	// management.bokujo.io/cluster-controllers=enabled (fleet.Runner.OptIn).
	ControllersOptIn bool
	// PeerURL is this replica's address as the other replicas reach it,
	// for agent tunnels held by one replica and used by another (see
	// internal/peer). Default https://<Listen> when Listen names a host;
	// with a wildcard Listen and no PeerURL, replicas do not share tunnels.
	PeerURL string
}

// App is a running server.
type App struct {
	Server   *server.Server
	Registry *clusters.Registry
	Auth     *auth.Service
	Client   client.Client
	Audit    *audit.Log
	Fleet    *fleet.Runner
	// Tunnels holds the agents' sessions.
	Tunnels *tunnel.Server
	// Peers shares tunnels between replicas; nil when off.
	Peers    *peer.Mesh
	Terminal *webkubectl.Handler
	// MetricsAddr is where /metrics is served, when Options.MetricsListen
	// was set.
	MetricsAddr string

	log      *slog.Logger
	cancel   context.CancelFunc
	mgrDone  chan error
	stopOnce sync.Once
}

// Scheme holds every type the server reads from the management cluster.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := mgmtv1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// Prepare installs the management API and bokujo's namespace into the
// management cluster. It is idempotent.
func Prepare(ctx context.Context, cfg *rest.Config) error {
	list, err := crds.CRDs()
	if err != nil {
		return fmt.Errorf("load management CRDs: %w", err)
	}
	if err := crdinstall.Install(ctx, cfg, list); err != nil {
		return fmt.Errorf("install management CRDs: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("management client: %w", err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: mgmtv1.SystemNamespace}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", mgmtv1.SystemNamespace, err)
	}
	return nil
}

// Start prepares the management cluster, starts the controllers and serves.
func Start(ctx context.Context, opts Options) (*App, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	public := opts.PublicURL
	if public == "" {
		public = "https://" + opts.Listen
	}
	publicURL, err := url.Parse(public)
	if err != nil || publicURL.Scheme != "https" || publicURL.Host == "" {
		return nil, fmt.Errorf("invalid public URL %q: want https://host[:port]", public)
	}
	if opts.Management != nil && opts.Management.QPS == 0 {
		// client-go's default of 5 requests a second (burst 10) would
		// make a thousand clusters' status writes and tunnel records
		// queue for minutes; the management apiserver's priority and
		// fairness protects it instead, as controller-runtime's own
		// GetConfig arranges.
		m := rest.CopyConfig(opts.Management)
		m.QPS = -1
		opts.Management = m
	}
	if err := Prepare(ctx, opts.Management); err != nil {
		return nil, err
	}
	scheme, err := Scheme()
	if err != nil {
		return nil, err
	}
	ctrl.SetLogger(logrFrom(log))
	mgr, err := ctrl.NewManager(opts.Management, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:  "0",
		LeaderElection:          opts.LeaderElection,
		LeaderElectionID:        "bokujo-controllers",
		LeaderElectionNamespace: mgmtv1.SystemNamespace,
		Logger:                  logrFrom(log),
		Controller:              ctrlconfig.Controller{SkipNameValidation: ptr.To(opts.SeveralPerProcess)},
		// bokujo reads Secrets only in its own namespace; caching every
		// Secret of the management cluster would hold others' credentials
		// in memory for nothing.
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Namespaces: map[string]cache.Config{mgmtv1.SystemNamespace: {}}},
			&coordv1.Lease{}: {Namespaces: map[string]cache.Config{mgmtv1.SystemNamespace: {}}},
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("create controller manager: %w", err)
	}
	a := &App{Client: mgr.GetClient(), log: log, mgrDone: make(chan error, 1)}
	a.Registry = clusters.NewRegistry(mgr.GetClient(), opts.ClusterPolicy)
	a.Registry.SetAPIReader(mgr.GetAPIReader())
	a.Tunnels = tunnel.NewServer(log.With("component", "tunnel"))
	a.Registry.SetTunnels(a.Tunnels)
	if peerURL := peerURLOf(opts); peerURL != "" {
		key, err := peer.EnsureKey(ctx, mgr.GetClient(), mgr.GetAPIReader(), mgmtv1.SystemNamespace)
		if err != nil {
			return nil, err
		}
		peerTLS := &tls.Config{ServerName: publicURL.Hostname(), MinVersion: tls.VersionTLS12}
		if len(opts.CACertPEM) > 0 {
			peerTLS.RootCAs = x509.NewCertPool()
			peerTLS.RootCAs.AppendCertsFromPEM(opts.CACertPEM)
		}
		a.Peers, err = peer.New(peer.Options{Local: a.Tunnels, Client: mgr.GetClient(), Cache: mgr.GetClient(), Reader: mgr.GetAPIReader(),
			Namespace: mgmtv1.SystemNamespace, URL: peerURL, TLS: peerTLS, Key: key, Logger: log.With("component", "peers")})
		if err != nil {
			return nil, err
		}
		if err := a.Peers.Announce(ctx); err != nil {
			return nil, fmt.Errorf("announce this replica to the others: %w", err)
		}
		a.Registry.SetTunnels(a.Peers)
	}
	// An agent connecting or going away is reflected in the cluster's
	// status at once, not at the next probe.
	healthTrigger := make(chan event.GenericEvent, 64)
	a.Tunnels.OnChange = func(cluster string) {
		if a.Peers != nil {
			if err := a.Peers.Record(context.Background(), cluster); err != nil {
				log.Warn("cannot record the agent tunnel for the other replicas", "cluster", cluster, "err", err)
			}
		}
		select {
		case healthTrigger <- event.GenericEvent{Object: &mgmtv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: cluster}}}:
		case <-time.After(10 * time.Second):
		}
	}
	if err := (&clusters.HealthReconciler{Client: mgr.GetClient(), Registry: a.Registry, Trigger: healthTrigger,
		Options: clusters.HealthOptions{Interval: opts.HealthInterval}}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("set up cluster health: %w", err)
	}
	comps := opts.Components
	if comps == nil {
		comps = defaultComponents(&chatops.Announcer{Reader: mgr.GetClient(), Logger: log.With("component", "announce")})
	}
	a.Fleet = &fleet.Runner{Client: mgr.GetClient(), Configs: a.Registry, Components: comps, OptIn: opts.ControllersOptIn,
		Logger: log.With("component", "fleet"), ControllerLogger: logrFrom(log)}
	if err := a.Fleet.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("set up cluster controllers: %w", err)
	}
	if err := notify.Setup(mgr, notify.Options{PublicURL: publicURL, Logger: log.With("component", "notify")}); err != nil {
		return nil, fmt.Errorf("set up notifications: %w", err)
	}
	if _, err := drivers.Setup(mgr, drivers.Options{Management: opts.Management, Registry: a.Registry, DataDir: opts.DataDir,
		Poll: opts.DriverPoll, Logger: log.With("component", "drivers")}); err != nil {
		return nil, fmt.Errorf("set up cluster drivers: %w", err)
	}
	if err := clustertools.Setup(mgr, clustertools.Options{Configs: toolConfigs{a.Registry}, Logger: log.With("component", "cluster-tools")}); err != nil {
		return nil, err
	}
	if err := rbacsync.Setup(mgr, rbacConfigs{a.Registry}, rbacsync.Options{}); err != nil {
		return nil, fmt.Errorf("set up rbac sync: %w", err)
	}
	a.Auth, err = auth.New(ctx, auth.Options{Cache: mgr.GetCache(), Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
		GroupRefreshInterval: opts.GroupRefreshInterval, Logger: log.With("component", "auth")})
	if err != nil {
		return nil, err
	}
	if err := mgr.Add(a.Auth); err != nil {
		return nil, fmt.Errorf("add auth service: %w", err)
	}
	if opts.DataDir != "" {
		a.Audit, err = audit.Open(audit.Options{Path: filepath.Join(opts.DataDir, "audit", "audit.log"), Logger: log})
		if err != nil {
			return nil, err
		}
	}

	grants := access.Grants{Reader: mgr.GetClient()}
	proxyOpts := proxy.Options{Authenticator: a.Auth, Resolver: &clusters.Resolver{Registry: a.Registry, Grants: grants}, Logger: log.With("component", "proxy")}
	if a.Audit != nil {
		proxyOpts.Auditor = a.Audit
	}
	px, err := proxy.New(proxyOpts)
	if err != nil {
		return nil, fmt.Errorf("create proxy: %w", err)
	}
	var slack *chatops.Slack
	if len(opts.SlackSigningSecret) > 0 {
		slack = chatops.New(chatops.Options{
			SigningSecret: opts.SlackSigningSecret,
			Users:         a.Auth,
			Releases: func(ctx context.Context, cluster string, u *proxy.User) (*release.Client, error) {
				return api.ReleaseClient(ctx, a.Registry, cluster, u)
			},
			Logger: log.With("component", "slack"),
		})
	}
	v1 := api.New(api.Options{Authenticator: a.Auth, Grants: grants, Registry: a.Registry, Reader: mgr.GetClient(), Writer: mgr.GetClient(), LiveReader: mgr.GetAPIReader(), Users: a.Auth,
		Tokens: kubeconfigTokens{a.Auth}, Audit: a.Audit, PublicURL: publicURL, CACertPEM: opts.CACertPEM, Logger: log.With("component", "api"),
		Tunnels: a.Tunnels, AgentImage: opts.AgentImage, Slack: slack})

	termOpts := opts.Terminal
	termOpts.Authenticator, termOpts.Grants, termOpts.Tokens = a.Auth, grants, terminalTokens{a.Auth}
	termOpts.PublicURL, termOpts.CACertPEM = publicURL, opts.CACertPEM
	if a.Audit != nil {
		termOpts.Auditor = a.Audit
	}
	if termOpts.Logger == nil {
		termOpts.Logger = log.With("component", "terminal")
	}
	a.Terminal, err = webkubectl.New(termOpts)
	if err != nil {
		return nil, err
	}

	mctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go func() { a.mgrDone <- mgr.Start(mctx) }()
	if a.Peers != nil {
		go a.Peers.Run(mctx)
	}
	if opts.LeaderElection {
		go func() {
			select {
			case <-mgr.Elected():
				log.Info("elected to run the controllers")
			case <-mctx.Done():
			}
		}()
	}
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		cancel()
		return nil, errors.New("management cache did not sync")
	}
	direct, err := client.New(opts.Management, client.Options{Scheme: scheme})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("management client: %w", err)
	}
	if err := rbacsync.EnsureBuiltins(ctx, direct); err != nil {
		cancel()
		return nil, fmt.Errorf("create built-in roles: %w", err)
	}

	a.Server = server.New(server.Options{
		Addr: opts.Listen, Certificate: opts.Certificate, Logger: log,
		Wrap: func(h http.Handler) http.Handler {
			return metrics.Instrument(px.Mount(h), metrics.Options{KnownCluster: func(name string) bool {
				if clusters.ValidateName(name) != nil {
					return false
				}
				return mgr.GetClient().Get(context.Background(), client.ObjectKey{Name: name}, &mgmtv1.Cluster{}) == nil
			}})
		},
		ReadyChecks: []server.Check{{Name: "management-cluster", Fn: func(ctx context.Context) error {
			var list mgmtv1.ClusterList
			return mgr.GetAPIReader().List(ctx, &list, client.Limit(1))
		}}},
	})
	mux := http.NewServeMux()
	a.Auth.Register(mux)
	v1.Register(mux)
	a.Terminal.Register(mux)
	a.Server.Handle("/v1/", mux)
	if a.Peers != nil {
		a.Server.Handle(peer.DialPath, a.Peers)
	}
	// The web UI takes every other path; the more specific /v1/, /healthz,
	// /readyz and /version patterns win, and /k8s/clusters/ never reaches
	// the mux.
	ui, err := web.Embedded()
	if err != nil {
		cancel()
		return nil, err
	}
	a.Server.Handle("/", ui)
	if opts.MetricsListen != "" {
		addr, done, err := metrics.Serve(mctx, opts.MetricsListen)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("serve metrics on %s: %w", opts.MetricsListen, err)
		}
		a.MetricsAddr = addr.String()
		go func() {
			if err := <-done; err != nil {
				log.Error("metrics listener stopped", "err", err)
			}
		}()
	}
	if err := a.Server.Start(); err != nil {
		cancel()
		return nil, err
	}
	return a, nil
}

// peerURLOf is the address other replicas reach this one at.
func peerURLOf(opts Options) string {
	if opts.PeerURL != "" {
		return opts.PeerURL
	}
	host, _, err := net.SplitHostPort(opts.Listen)
	if err != nil || host == "" {
		return ""
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return ""
	}
	return "https://" + opts.Listen
}

// DefaultComponents are the controllers bokujo runs in every downstream
// cluster.
func DefaultComponents() []fleet.Component { return defaultComponents(nil) }

// defaultComponents announces release events through a, when set.
func defaultComponents(a *chatops.Announcer) []fleet.Component {
	var notify func(string) func(release.Event)
	if a != nil {
		notify = a.Notify
	}
	return []fleet.Component{mltask.Component(mltask.Options{}), release.Component(release.Options{}, notify)}
}

// Done yields when the server or the controllers stop on their own.
func (a *App) Done() <-chan error {
	ch := make(chan error, 1)
	go func() {
		select {
		case err := <-a.Server.Done():
			ch <- fmt.Errorf("server stopped: %w", err)
		case err := <-a.mgrDone:
			ch <- fmt.Errorf("controllers stopped: %w", err)
		}
	}()
	return ch
}

// Stop shuts the server and the controllers down. Calling it again does
// nothing.
func (a *App) Stop() { a.stopOnce.Do(a.stop) }

func (a *App) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Hijacked WebSockets outlive Shutdown: end the terminals first.
	a.Terminal.Close()
	_ = a.Server.Shutdown(ctx)
	// Tunnels are hijacked connections Shutdown does not wait for.
	a.Tunnels.Close()
	a.cancel()
	select {
	case <-a.mgrDone:
	case <-ctx.Done():
	}
	if a.Audit != nil {
		_ = a.Audit.Close()
	}
}

// kubeconfigTokens adapts the auth service to the API's token needs.
type kubeconfigTokens struct{ s *auth.Service }

func (k kubeconfigTokens) IssueKubeconfigToken(ctx context.Context, user string, ttl time.Duration) (string, time.Time, error) {
	value, tok, err := k.s.CreateToken(ctx, user, auth.TokenRequest{Type: mgmtv1.TokenTypeKubeconfig, Description: "kubeconfig", TTL: ttl})
	if err != nil {
		return "", time.Time{}, err
	}
	var exp time.Time
	if tok.Spec.ExpiresAt != nil {
		exp = tok.Spec.ExpiresAt.Time
	}
	return value, exp, nil
}

// terminalTokens adapts the auth service to the web terminal's tokens.
type terminalTokens struct{ s *auth.Service }

func (k terminalTokens) IssueTerminalToken(ctx context.Context, user string, ttl time.Duration) (string, string, time.Time, error) {
	value, tok, err := k.s.CreateToken(ctx, user, auth.TokenRequest{Type: mgmtv1.TokenTypeKubeconfig, Description: "web terminal session", TTL: ttl})
	if err != nil {
		return "", "", time.Time{}, err
	}
	var exp time.Time
	if tok.Spec.ExpiresAt != nil {
		exp = tok.Spec.ExpiresAt.Time
	}
	return value, tok.Name, exp, nil
}

func (k terminalTokens) RevokeToken(ctx context.Context, id, user string) error {
	return k.s.RevokeToken(ctx, id, user)
}

// rbacConfigs gives RBAC sync the management identity of each cluster,
// mapping the registry's "cannot reach it now" errors to the one RBAC sync
// retries on.
// toolConfigs tells the cluster tools which clusters are gone for good.
type toolConfigs struct{ r *clusters.Registry }

func (c toolConfigs) ManagementConfig(ctx context.Context, cluster string) (*rest.Config, error) {
	cfg, err := c.r.ManagementConfig(ctx, cluster)
	if errors.Is(err, clusters.ErrNotFound) {
		return nil, fmt.Errorf("%w: %v", clustertools.ErrClusterGone, err)
	}
	return cfg, err
}

type rbacConfigs struct{ r *clusters.Registry }

func (c rbacConfigs) ManagementConfig(ctx context.Context, cluster string) (*rest.Config, error) {
	cfg, err := c.r.ManagementConfig(ctx, cluster)
	if errors.Is(err, clusters.ErrNotFound) || errors.Is(err, clusters.ErrUnavailable) {
		return nil, fmt.Errorf("%w: %v", rbacsync.ErrClusterUnavailable, err)
	}
	return cfg, err
}
