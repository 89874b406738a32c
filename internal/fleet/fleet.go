// Package fleet runs bokujo's in-cluster controllers (MLTasks, Releases and
// whatever else must act inside every downstream cluster) once per managed
// cluster. Each component is written against one cluster: it gets a
// controller-runtime manager whose client talks to that cluster with
// bokujo's management identity. The Runner starts such a manager when a
// cluster becomes Ready for the first time, installs the components' CRDs
// there first, restarts it when the cluster's credentials change and stops
// it when the cluster goes away.
//
// The Runner is itself a controller of the management manager, so it runs
// on the elected replica only; a replica that loses leadership exits and
// takes its downstream managers with it.
package fleet

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/go-logr/logr"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/crdinstall"
)

// Component is one thing that runs in every downstream cluster.
type Component struct {
	// Name appears in logs.
	Name string
	// CRDs are installed into the cluster before Setup is called.
	CRDs func() ([]*apiextensionsv1.CustomResourceDefinition, error)
	// AddToScheme registers the component's types.
	AddToScheme func(*runtime.Scheme) error
	// Setup registers the component's controllers with the cluster's
	// manager.
	Setup func(mgr manager.Manager, cluster string) error
}

// Configs gives the management identity's client configuration of a
// cluster (clusters.Registry does).
type Configs interface {
	ManagementConfig(ctx context.Context, cluster string) (*rest.Config, error)
}

// Runner starts and stops the per-cluster managers.
type Runner struct {
	Client     client.Client
	Configs    Configs
	Components []Component
	Logger     *slog.Logger
	// ControllerLogger is handed to the downstream managers
	// (controller-runtime logs through logr); zero discards.
	ControllerLogger logr.Logger
	// RetryAfter is the wait before another attempt after a failed start;
	// default 15 s.
	RetryAfter time.Duration
	// OptIn runs the components only in clusters labelled
	// LabelControllers=enabled. A manager per cluster with its informers
	// costs a few MiB of server memory per cluster (see bench/scale), so
	// large fleets where few clusters use MLTasks or Releases can choose.
	// Without it, every cluster but those labelled disabled runs them.
	OptIn bool

	mu      sync.Mutex
	running map[string]*member
	stopped bool
}

// LabelControllers on a Cluster turns its in-cluster controllers on
// ("enabled") or off ("disabled"); see Runner.OptIn.
const LabelControllers = "management.bokujo.io/cluster-controllers"

// Wanted reports whether c's in-cluster controllers should run.
func (r *Runner) Wanted(c *mgmtv1.Cluster) bool {
	switch c.Labels[LabelControllers] {
	case "enabled":
		return true
	case "disabled":
		return false
	}
	return !r.OptIn
}

// member is one cluster's running manager.
type member struct {
	fingerprint [32]byte
	cancel      context.CancelFunc
	done        chan struct{}
	err         error // set before done closes
}

// SetupWithManager registers the Runner with the management manager.
func (r *Runner) SetupWithManager(mgr ctrl.Manager) error {
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	if r.ControllerLogger.GetSink() == nil {
		r.ControllerLogger = logr.Discard()
	}
	if r.RetryAfter == 0 {
		r.RetryAfter = 15 * time.Second
	}
	r.running = map[string]*member{}
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		<-ctx.Done()
		r.StopAll()
		return nil
	})); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("fleet").
		For(&mgmtv1.Cluster{}).
		Complete(r)
}

// Running lists the clusters whose manager runs, sorted.
func (r *Runner) Running() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var names []string
	for name, m := range r.running {
		select {
		case <-m.done:
		default:
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// Reconcile implements reconcile.Reconciler.
func (r *Runner) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	name := req.Name
	var c mgmtv1.Cluster
	if err := r.Client.Get(ctx, req.NamespacedName, &c); err != nil {
		if apierrors.IsNotFound(err) {
			r.stop(name)
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, err
	}
	if !c.DeletionTimestamp.IsZero() || !r.Wanted(&c) {
		r.stop(name)
		return reconcile.Result{}, nil
	}
	r.mu.Lock()
	m := r.running[name]
	r.mu.Unlock()
	if m == nil && !meta.IsStatusConditionTrue(c.Status.Conditions, mgmtv1.ConditionReady) {
		// Not reached yet: the health controller's status change brings
		// us back. A running manager is kept through short outages; its
		// informers retry on their own.
		return reconcile.Result{}, nil
	}
	cfg, err := r.Configs.ManagementConfig(ctx, name)
	if err != nil {
		r.Logger.Info("cluster controllers wait for credentials", "cluster", name, "error", err)
		return reconcile.Result{RequeueAfter: r.RetryAfter}, nil
	}
	fp := fingerprint(cfg)
	if m != nil {
		select {
		case <-m.done:
			r.Logger.Warn("cluster controllers stopped; starting them again", "cluster", name, "error", m.err)
		default:
			if m.fingerprint == fp {
				return reconcile.Result{}, nil
			}
			r.Logger.Info("cluster credentials changed; restarting its controllers", "cluster", name)
		}
		r.stop(name)
	}
	if err := r.start(ctx, name, cfg, fp); err != nil {
		r.Logger.Warn("cannot start cluster controllers; will retry", "cluster", name, "error", err, "retryAfter", r.RetryAfter)
		return reconcile.Result{RequeueAfter: r.RetryAfter}, nil
	}
	return reconcile.Result{}, nil
}

func (r *Runner) start(ctx context.Context, name string, cfg *rest.Config, fp [32]byte) error {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, comp := range r.Components {
		if comp.AddToScheme != nil {
			if err := comp.AddToScheme(scheme); err != nil {
				return fmt.Errorf("%s: scheme: %w", comp.Name, err)
			}
		}
		if comp.CRDs != nil {
			list, err := comp.CRDs()
			if err != nil {
				return fmt.Errorf("%s: load CRDs: %w", comp.Name, err)
			}
			crds = append(crds, list...)
		}
	}
	if len(crds) > 0 {
		ictx, cancel := context.WithTimeout(ctx, time.Minute)
		err := crdinstall.Install(ictx, cfg, crds)
		cancel()
		if err != nil {
			return fmt.Errorf("install CRDs: %w", err)
		}
	}
	log := r.Logger.With("cluster", name)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Logger:                 r.ControllerLogger.WithValues("cluster", name),
		// Every cluster runs controllers of the same names.
		Controller: ctrlconfig.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	for _, comp := range r.Components {
		if comp.Setup == nil {
			continue
		}
		if err := comp.Setup(mgr, name); err != nil {
			return fmt.Errorf("%s: set up: %w", comp.Name, err)
		}
	}
	mctx, cancel := context.WithCancel(context.Background())
	m := &member{fingerprint: fp, cancel: cancel, done: make(chan struct{})}
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		cancel()
		return errors.New("shutting down")
	}
	r.running[name] = m
	r.mu.Unlock()
	go func() {
		m.err = mgr.Start(mctx)
		if m.err != nil {
			log.Warn("cluster controllers stopped", "error", m.err)
		}
		close(m.done)
	}()
	log.Info("cluster controllers started")
	return nil
}

func (r *Runner) stop(name string) {
	r.mu.Lock()
	m := r.running[name]
	delete(r.running, name)
	r.mu.Unlock()
	if m == nil {
		return
	}
	m.cancel()
	<-m.done
	r.Logger.Info("cluster controllers stopped", "cluster", name)
}

// StopAll stops every cluster's manager; later starts are refused.
func (r *Runner) StopAll() {
	r.mu.Lock()
	r.stopped = true
	names := make([]string, 0, len(r.running))
	for name := range r.running {
		names = append(names, name)
	}
	r.mu.Unlock()
	for _, name := range names {
		r.stop(name)
	}
}

// fingerprint identifies the credentials a manager was started with.
func fingerprint(cfg *rest.Config) [32]byte {
	h := sha256.New()
	for _, s := range []string{cfg.Host, cfg.APIPath, cfg.BearerToken, cfg.BearerTokenFile, cfg.Username, cfg.ServerName} {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	for _, b := range [][]byte{cfg.CAData, cfg.CertData, cfg.KeyData} {
		fmt.Fprintf(h, "%d:", len(b))
		h.Write(b)
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}
