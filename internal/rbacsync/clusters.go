package rbacsync

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// ClusterConfigs gives the client configuration of bokujo's management
// identity in a downstream cluster (the cluster registry implements it). An
// error wrapping ErrClusterUnavailable means "not now": the cluster is
// skipped and tried again with back-off, without holding up the others.
type ClusterConfigs interface {
	ManagementConfig(ctx context.Context, cluster string) (*rest.Config, error)
}

// ErrClusterUnavailable is wrapped by ClusterConfigs errors for a cluster
// that cannot be reached now.
var ErrClusterUnavailable = errors.New("cluster unavailable")

// DownstreamRules are the rights bokujo's management identity needs in each
// downstream cluster for this package. escalate and bind are needed to
// write ClusterRoles and bindings granting rights the identity would not
// otherwise hold itself.
var DownstreamRules = []rbacv1.PolicyRule{
	{
		APIGroups: []string{rbacv1.GroupName},
		Resources: []string{"clusterroles", "clusterrolebindings", "rolebindings"},
		Verbs:     []string{"get", "list", "watch", "create", "update", "patch", "delete", "escalate", "bind"},
	},
	{
		APIGroups: []string{""},
		Resources: []string{"namespaces"},
		Verbs:     []string{"get", "list", "watch", "create", "update", "patch"},
	},
	{
		APIGroups: []string{""},
		Resources: []string{"resourcequotas", "limitranges"},
		Verbs:     []string{"get", "list", "watch", "create", "update", "patch", "delete"},
	},
}

// downstreamScheme knows the built-in Kubernetes types; the caches and
// writers of downstream clusters need nothing else.
var downstreamScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	// Registration into a fresh scheme fails only on programming errors,
	// which the package's tests would show.
	_ = clientgoscheme.AddToScheme(s)
	return s
}()

// indexName indexes RoleBindings in a downstream cache by name, which is
// the same for all RoleBindings of one binding across namespaces.
const indexName = "rbacsync.name"

// remote is one downstream cluster: a cache of bokujo's objects and the
// namespaces, and a direct client for writes.
type remote struct {
	name   string
	reader client.Reader
	writer client.Client
	cancel context.CancelFunc
	done   chan struct{}
}

// clusterSet runs the caches of the downstream clusters. It is a manager
// runnable: caches live as long as the manager (and its leadership), not a
// single reconcile.
type clusterSet struct {
	configs ClusterConfigs
	mgmt    client.Reader
	hub     *hub
	opts    Options

	ready chan struct{}
	mu    sync.Mutex
	base  context.Context
	// remotes are the started clusters.
	remotes map[string]*remote
	// failures counts failed connects per cluster, for back-off.
	failures map[string]int
}

func newClusterSet(configs ClusterConfigs, mgmt client.Reader, h *hub, opts Options) *clusterSet {
	return &clusterSet{
		configs: configs, mgmt: mgmt, hub: h, opts: opts,
		ready: make(chan struct{}), remotes: map[string]*remote{}, failures: map[string]int{},
	}
}

// Start holds the base context for the caches until the manager stops.
func (s *clusterSet) Start(ctx context.Context) error {
	s.mu.Lock()
	s.base = ctx
	s.mu.Unlock()
	close(s.ready)
	<-ctx.Done()
	s.mu.Lock()
	all := s.remotes
	s.remotes = map[string]*remote{}
	s.mu.Unlock()
	for _, rc := range all {
		rc.cancel()
		<-rc.done
	}
	return nil
}

// NeedLeaderElection: only the leader writes downstream.
func (s *clusterSet) NeedLeaderElection() bool { return true }

// get returns a started cluster, or nil.
func (s *clusterSet) get(name string) *remote {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.remotes[name]
}

// names lists the started clusters.
func (s *clusterSet) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.remotes))
	for n := range s.remotes {
		out = append(out, n)
	}
	return out
}

// lookup returns a started cluster, or why there is none as a condition
// reason and message.
func (s *clusterSet) lookup(ctx context.Context, name string) (*remote, string, string, error) {
	if rc := s.get(name); rc != nil {
		return rc, "", "", nil
	}
	err := s.mgmt.Get(ctx, client.ObjectKey{Name: name}, &v1alpha1.Cluster{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, v1alpha1.ReasonClusterNotFound, fmt.Sprintf("cluster %q does not exist", name), nil
	case err != nil:
		return nil, "", "", fmt.Errorf("get cluster %s: %w", name, err)
	}
	return nil, v1alpha1.ReasonClusterUnavailable, fmt.Sprintf("cluster %q is not connected; retrying", name), nil
}

// stop stops a cluster's cache; it reports whether one was running.
func (s *clusterSet) stop(name string) bool {
	s.mu.Lock()
	rc := s.remotes[name]
	delete(s.remotes, name)
	delete(s.failures, name)
	s.mu.Unlock()
	if rc == nil {
		return false
	}
	rc.cancel()
	<-rc.done
	return true
}

// backoff returns the next delay for a cluster that failed to connect:
// doubling from a second up to opts.MaxClusterBackoff.
func (s *clusterSet) backoff(name string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.failures[name]
	s.failures[name] = n + 1
	d := time.Second << min(n, 20)
	return min(d, s.opts.MaxClusterBackoff)
}

// start connects to a cluster: builds its cache, registers the event
// handlers, and waits until the first lists are in, at most
// opts.CacheSyncTimeout.
func (s *clusterSet) start(ctx context.Context, name string, cfg *rest.Config) error {
	select {
	case <-s.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	base := s.base
	s.mu.Unlock()

	watchCfg := rest.CopyConfig(cfg)
	// A client timeout would cut every watch; watches end on their own.
	watchCfg.Timeout = 0
	if watchCfg.QPS == 0 {
		// client-go's default of 5 requests a second would take minutes
		// to write a few hundred RoleBindings.
		watchCfg.QPS, watchCfg.Burst = 50, 100
	}
	httpClient, err := rest.HTTPClientFor(watchCfg)
	if err != nil {
		return fmt.Errorf("connect to cluster %s: %w", name, err)
	}
	mapper, err := apiutil.NewDynamicRESTMapper(watchCfg, httpClient)
	if err != nil {
		return fmt.Errorf("connect to cluster %s: %w", name, err)
	}
	managed := labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagedBy})
	c, err := cache.New(watchCfg, cache.Options{
		HTTPClient: httpClient,
		Scheme:     downstreamScheme,
		Mapper:     mapper,
		ByObject: map[client.Object]cache.ByObject{
			&rbacv1.ClusterRole{}:        {Label: managed},
			&rbacv1.ClusterRoleBinding{}: {Label: managed},
			&rbacv1.RoleBinding{}:        {Label: managed},
			&corev1.ResourceQuota{}:      {Label: managed},
			&corev1.LimitRange{}:         {Label: managed},
			&corev1.Namespace{}:          {},
		},
		DefaultTransform: cache.TransformStripManagedFields(),
		// Reading a kind not listed above is a bug, not a reason to
		// start watching a whole cluster.
		ReaderFailOnMissingInformer: true,
	})
	if err != nil {
		return fmt.Errorf("connect to cluster %s: %w", name, err)
	}
	if err := c.IndexField(ctx, &rbacv1.RoleBinding{}, indexName, func(o client.Object) []string {
		return []string{o.GetName()}
	}); err != nil {
		return fmt.Errorf("connect to cluster %s: index role bindings: %w", name, err)
	}
	ev := &downstreamEvents{cluster: name, mgmt: s.mgmt, hub: s.hub}
	for obj, h := range ev.handlers() {
		inf, err := c.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("connect to cluster %s: %w", name, err)
		}
		if _, err := inf.AddEventHandler(h); err != nil {
			return fmt.Errorf("connect to cluster %s: %w", name, err)
		}
	}

	writeCfg := rest.CopyConfig(watchCfg)
	writeCfg.Timeout = s.opts.RequestTimeout
	writeHTTP, err := rest.HTTPClientFor(writeCfg)
	if err != nil {
		return fmt.Errorf("connect to cluster %s: %w", name, err)
	}
	writer, err := client.New(writeCfg, client.Options{HTTPClient: writeHTTP, Scheme: downstreamScheme, Mapper: mapper})
	if err != nil {
		return fmt.Errorf("connect to cluster %s: %w", name, err)
	}

	runCtx, cancel := context.WithCancel(base)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Start(runCtx); err != nil {
			log.FromContext(ctx).Error(err, "downstream cache stopped", "cluster", name)
		}
	}()
	syncCtx, syncCancel := context.WithTimeout(runCtx, s.opts.CacheSyncTimeout)
	defer syncCancel()
	if !c.WaitForCacheSync(syncCtx) {
		cancel()
		<-done
		return fmt.Errorf("connect to cluster %s: %w: objects not listed within %s", name, ErrClusterUnavailable, s.opts.CacheSyncTimeout)
	}
	s.mu.Lock()
	old := s.remotes[name]
	s.remotes[name] = &remote{name: name, reader: c, writer: writer, cancel: cancel, done: done}
	delete(s.failures, name)
	s.mu.Unlock()
	if old != nil {
		old.cancel()
		<-old.done
	}
	return nil
}

// clusterUsable reports whether bokujo should try to connect: not while
// the health controller says the cluster is disconnected or not ready, but
// yes when it has said nothing yet.
func clusterUsable(c *v1alpha1.Cluster) bool {
	for _, t := range []string{v1alpha1.ClusterConditionConnected, v1alpha1.ConditionReady} {
		if cond := meta.FindStatusCondition(c.Status.Conditions, t); cond != nil && cond.Status == metav1.ConditionFalse {
			return false
		}
	}
	return true
}

// clusterReconciler connects to each Cluster's API server and disconnects
// when the Cluster goes.
type clusterReconciler struct {
	client   client.Reader
	configs  ClusterConfigs
	clusters *clusterSet
}

var _ reconcile.Reconciler = &clusterReconciler{}

// +kubebuilder:rbac:groups=management.bokujo.io,resources=clusters,verbs=get;list;watch

// Reconcile starts or stops the cache of one downstream cluster and, when
// that changes, requeues everything that writes there.
func (r *clusterReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	logger := log.FromContext(ctx)
	c := &v1alpha1.Cluster{}
	err := r.client.Get(ctx, req.NamespacedName, c)
	if err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, fmt.Errorf("get cluster %s: %w", req.Name, err)
	}
	if apierrors.IsNotFound(err) || c.DeletionTimestamp != nil {
		if r.clusters.stop(req.Name) {
			logger.Info("disconnected from cluster")
			return ctrl.Result{}, resync(ctx, r.client, r.clusters.hub, req.Name)
		}
		return ctrl.Result{}, nil
	}
	if r.clusters.get(req.Name) != nil || !clusterUsable(c) {
		// A running cache reconnects by itself; a cluster that is
		// down is tried when its status changes.
		return ctrl.Result{}, nil
	}
	cfg, err := r.configs.ManagementConfig(ctx, req.Name)
	if err == nil {
		err = r.clusters.start(ctx, req.Name, cfg)
	}
	if err != nil {
		delay := r.clusters.backoff(req.Name)
		if errors.Is(err, ErrClusterUnavailable) {
			logger.Info("cluster unavailable, retrying", "after", delay, "reason", err.Error())
		} else {
			logger.Error(err, "cannot connect to cluster, retrying", "after", delay)
		}
		return ctrl.Result{RequeueAfter: delay}, nil
	}
	logger.Info("connected to cluster")
	return ctrl.Result{}, resync(ctx, r.client, r.clusters.hub, req.Name)
}

// resync queues everything that writes to a cluster: after a connect the
// cluster may lack anything, after a disconnect the sources' status must
// say so.
func resync(ctx context.Context, c client.Reader, h *hub, cluster string) error {
	crtbs := &v1alpha1.ClusterRoleTemplateBindingList{}
	if err := c.List(ctx, crtbs, client.MatchingFields{indexCluster: cluster}); err != nil {
		return fmt.Errorf("resync cluster %s: %w", cluster, err)
	}
	for _, b := range crtbs.Items {
		h.addName(queueCRTB, b.Name)
		h.add(queueClusterRole, roleKey(cluster, b.Spec.RoleTemplateName))
	}
	projects := &v1alpha1.ProjectList{}
	if err := c.List(ctx, projects, client.MatchingFields{indexCluster: cluster}); err != nil {
		return fmt.Errorf("resync cluster %s: %w", cluster, err)
	}
	for _, p := range projects.Items {
		h.addName(queueProject, p.Name)
		prtbs := &v1alpha1.ProjectRoleTemplateBindingList{}
		if err := c.List(ctx, prtbs, client.MatchingFields{indexProject: p.Name}); err != nil {
			return fmt.Errorf("resync cluster %s: %w", cluster, err)
		}
		for _, b := range prtbs.Items {
			h.addName(queuePRTB, b.Name)
			h.add(queueClusterRole, roleKey(cluster, b.Spec.RoleTemplateName))
		}
	}
	h.addName(queueOrphans, cluster)
	return nil
}
