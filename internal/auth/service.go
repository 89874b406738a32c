package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// Defaults of Options.
const (
	DefaultSessionTTL      = 12 * time.Hour
	DefaultTokenTTL        = 30 * 24 * time.Hour
	DefaultMaxTokenTTL     = 365 * 24 * time.Hour
	DefaultGCInterval      = time.Minute
	DefaultLastUsedEvery   = time.Minute
	defaultCacheWaitPeriod = 5 * time.Second
)

// Options configure a Service.
type Options struct {
	// Cache serves the Users, Tokens, Groups and GlobalRoleBindings that
	// authentication reads (a manager's GetCache()). New adds field indexes
	// to it, so it must be called before the cache starts.
	Cache cache.Cache
	// Client writes to the management cluster. Only its write methods are
	// used, so a manager's GetClient() does.
	Client client.Client
	// APIReader reads straight from the apiserver (a manager's
	// GetAPIReader()): password-hash Secrets, which are never cached so
	// that no replica holds every hash in memory, the server key, and the
	// reads that must not be stale (bootstrap, uniqueness checks). It
	// defaults to Client, which must then be a direct client: a cached
	// one would start an informer on every Secret of the cluster.
	APIReader client.Reader
	// Logger receives the service's logs; it never receives a token value
	// or a password. Defaults to discarding.
	Logger *slog.Logger
	// Clock defaults to the real clock; tests inject a fake one.
	Clock clock.WithTicker

	// SessionTTL is how long a UI session lasts. Default 12 h.
	SessionTTL time.Duration
	// DefaultTokenTTL applies when a token request names none. Default 30 days.
	DefaultTokenTTL time.Duration
	// MaxTokenTTL bounds API and kubeconfig tokens: every token expires,
	// so a forgotten leaked token does not work forever. Default 365 days.
	MaxTokenTTL time.Duration
	// GCInterval is how often expired tokens are deleted. Default 1 min.
	GCInterval time.Duration
	// LastUsedEvery bounds how often a token's status.lastUsedTime is
	// written. Default 1 min.
	LastUsedEvery time.Duration

	// UserBackoff and IPBackoff throttle failed logins per username and per
	// source address. Zero values take DefaultUserBackoff and
	// DefaultIPBackoff.
	UserBackoff BackoffPolicy
	IPBackoff   BackoffPolicy

	// GroupRefreshInterval is how often the groups of external users are
	// read again from their providers (see RefreshGroups), bounding how
	// long a group removed there keeps granting access. Default 15 min.
	GroupRefreshInterval time.Duration

	// ClientIP returns the address a login comes from, for the per-address
	// back-off. The default is the connection's remote address; a server
	// behind a load balancer it trusts passes a function reading the
	// balancer's header instead, since a client-set header must not be
	// believed by default.
	ClientIP func(*http.Request) string
}

// Service implements local users, tokens and sessions. Build it with New,
// run Start, and serve its API with Register.
type Service struct {
	cache     cache.Cache
	client    client.Client
	apiReader client.Reader
	log       *slog.Logger
	clock     clock.WithTicker

	sessionTTL      time.Duration
	defaultTokenTTL time.Duration
	maxTokenTTL     time.Duration
	gcInterval      time.Duration
	clientIP        func(*http.Request) string

	groupRefreshInterval time.Duration

	userLimiter *limiter
	ipLimiter   *limiter
	hasher      *hasher
	usage       *usageRecorder
	csrfKey     []byte
	oidcClients oidcClients
	// githubHTTP reaches GitHub servers, trusting the CAs of
	// SetGitHubRootCAs; nil until first used.
	githubHTTP atomic.Pointer[http.Client]
	// githubCAClients are the clients of providers with caData, by bundle.
	githubCAMu      sync.Mutex
	githubCAClients map[string]*http.Client
}

// New checks opts, registers the cache indexes authentication needs, and
// loads (or on the first start creates) the server key. Call it before the
// cache starts, then run Start.
func New(ctx context.Context, opts Options) (*Service, error) {
	if opts.Cache == nil || opts.Client == nil {
		return nil, errors.New("new auth service: a cache and a client are required")
	}
	s := &Service{
		cache:           opts.Cache,
		client:          opts.Client,
		apiReader:       opts.APIReader,
		log:             opts.Logger,
		clock:           opts.Clock,
		sessionTTL:      orDefault(opts.SessionTTL, DefaultSessionTTL),
		defaultTokenTTL: orDefault(opts.DefaultTokenTTL, DefaultTokenTTL),
		maxTokenTTL:     orDefault(opts.MaxTokenTTL, DefaultMaxTokenTTL),
		gcInterval:      orDefault(opts.GCInterval, DefaultGCInterval),
		clientIP:        opts.ClientIP,

		groupRefreshInterval: orDefault(opts.GroupRefreshInterval, DefaultGroupRefreshInterval),
	}
	if s.apiReader == nil {
		s.apiReader = opts.Client
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.clock == nil {
		s.clock = clock.RealClock{}
	}
	if s.clientIP == nil {
		s.clientIP = remoteIP
	}
	if s.defaultTokenTTL > s.maxTokenTTL {
		return nil, fmt.Errorf("new auth service: default token TTL %s exceeds the maximum %s", s.defaultTokenTTL, s.maxTokenTTL)
	}
	userPolicy, ipPolicy := opts.UserBackoff, opts.IPBackoff
	if userPolicy == (BackoffPolicy{}) {
		userPolicy = DefaultUserBackoff
	}
	if ipPolicy == (BackoffPolicy{}) {
		ipPolicy = DefaultIPBackoff
	}
	s.userLimiter = newLimiter(s.clock, userPolicy)
	s.ipLimiter = newLimiter(s.clock, ipPolicy)
	s.usage = newUsageRecorder(orDefault(opts.LastUsedEvery, DefaultLastUsedEvery))

	var err error
	if s.hasher, err = newHasher(); err != nil {
		return nil, fmt.Errorf("new auth service: %w", err)
	}
	if err := registerIndexes(ctx, s.cache); err != nil {
		return nil, fmt.Errorf("new auth service: %w", err)
	}
	if s.csrfKey, err = s.loadServerKey(ctx); err != nil {
		return nil, fmt.Errorf("new auth service: %w", err)
	}
	return s, nil
}

// Start waits for the cache, then records token use and deletes expired
// tokens until ctx ends. It implements controller-runtime's Runnable; every
// replica runs it (see NeedLeaderElection).
func (s *Service) Start(ctx context.Context) error {
	if !s.cache.WaitForCacheSync(ctx) {
		if ctx.Err() != nil {
			return nil
		}
		return errors.New("auth service: cache did not sync")
	}
	done := make(chan struct{}, 2)
	go func() {
		defer func() { done <- struct{}{} }()
		s.usage.run(ctx, s)
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		s.runGroupRefresh(ctx)
	}()
	s.runGC(ctx)
	<-done
	<-done
	return nil
}

// NeedLeaderElection is false: each replica records the use of the tokens
// it authenticated, and deleting an expired token twice is harmless.
func (s *Service) NeedLeaderElection() bool { return false }

// Names of the cache indexes.
const (
	indexTokenUser    = "spec.userName"
	indexUserUsername = "spec.username"
	indexGroupMember  = "spec.members"
)

func registerIndexes(ctx context.Context, c cache.Cache) error {
	indexes := []struct {
		obj   client.Object
		field string
		fn    client.IndexerFunc
	}{
		{&v1alpha1.Token{}, indexTokenUser, func(o client.Object) []string {
			return []string{o.(*v1alpha1.Token).Spec.UserName}
		}},
		{&v1alpha1.User{}, indexUserUsername, func(o client.Object) []string {
			if u := o.(*v1alpha1.User).Spec.Username; u != "" {
				return []string{u}
			}
			return nil
		}},
		{&v1alpha1.Group{}, indexGroupMember, func(o client.Object) []string {
			return o.(*v1alpha1.Group).Spec.Members
		}},
		{&v1alpha1.User{}, indexUserIdentity, func(o client.Object) []string {
			var keys []string
			for _, id := range o.(*v1alpha1.User).Spec.Identities {
				keys = append(keys, identityKey(id.Provider, id.Subject))
			}
			return keys
		}},
	}
	for _, ix := range indexes {
		if err := c.IndexField(ctx, ix.obj, ix.field, ix.fn); err != nil {
			return fmt.Errorf("index %T by %s: %w", ix.obj, ix.field, err)
		}
	}
	// Bindings have no index but must be watched from the start, so the
	// first admin check does not wait for an informer to sync.
	if _, err := c.GetInformer(ctx, &v1alpha1.GlobalRoleBinding{}); err != nil {
		return fmt.Errorf("watch global role bindings: %w", err)
	}
	if _, err := c.GetInformer(ctx, &v1alpha1.AuthProvider{}); err != nil {
		return fmt.Errorf("watch auth providers: %w", err)
	}
	return nil
}

// remoteIP is the host part of the connection's address.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
