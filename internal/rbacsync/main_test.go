package rbacsync_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/api/management/v1alpha1/crds"
	"bokujo.io/bokujo/internal/crdinstall"
	"bokujo.io/bokujo/internal/localcluster"
	"bokujo.io/bokujo/internal/rbacsync"
	"bokujo.io/bokujo/test/framework"
)

// Clusters of this package: the management cluster and two downstream ones.
// "offline" is a Cluster object whose configuration is never available.
const (
	mgmt    = "mgmt"
	dev     = "dev"
	prod    = "prod"
	offline = "offline"
)

// revocationBound is the acceptance bound for access changes (revoke,
// disable, restore after drift).
const revocationBound = 5 * time.Second

var env *framework.Env

func TestMain(m *testing.M) {
	framework.Main(m, &env,
		framework.ClusterSpec{Name: mgmt},
		framework.ClusterSpec{Name: dev, Nodes: localcluster.GPUNodes("dev-gpu", 1, 8)},
		framework.ClusterSpec{Name: prod},
	)
}

// testConfigs hands the controllers the framework clusters' admin
// configurations, and reports "offline" unavailable.
type testConfigs struct{ configs map[string]*rest.Config }

func (c testConfigs) ManagementConfig(_ context.Context, cluster string) (*rest.Config, error) {
	cfg, ok := c.configs[cluster]
	if !ok {
		return nil, fmt.Errorf("cluster %s: %w", cluster, rbacsync.ErrClusterUnavailable)
	}
	return rest.CopyConfig(cfg), nil
}

// fixture is what every integration test shares: the management API with
// built-ins, Cluster objects, and the controllers running.
type fixture struct {
	// mgmt reads and writes the management cluster directly, so tests
	// see their own writes at once.
	mgmt client.Client
	dev  kubernetes.Interface
	prod kubernetes.Interface
}

var shared struct {
	once sync.Once
	fx   *fixture
	err  error
}

// setup starts the controllers once per package; integration tests call it
// first and are skipped under -short.
func setup(t *testing.T) *fixture {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs local clusters")
	}
	shared.once.Do(func() { shared.fx, shared.err = start(t) })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.fx
}

// start runs in the first integration test; the manager it starts
// outlives that test and runs until the test binary exits, after which the
// framework stops the clusters.
func start(t *testing.T) (*fixture, error) {
	ctx := context.Background()
	mgmtCfg := env.RESTConfig(t, mgmt)
	list, err := crds.CRDs()
	if err != nil {
		return nil, err
	}
	if err := crdinstall.Install(ctx, mgmtCfg, list); err != nil {
		return nil, err
	}
	scheme := runtime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(scheme), v1alpha1.AddToScheme(scheme)); err != nil {
		return nil, err
	}
	c, err := client.New(mgmtCfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	if err := rbacsync.EnsureBuiltins(ctx, c); err != nil {
		return nil, err
	}
	for _, name := range []string{dev, prod, offline} {
		cl := &v1alpha1.Cluster{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       v1alpha1.ClusterSpec{Source: v1alpha1.ClusterSource{Agent: &v1alpha1.AgentSource{}}},
		}
		if err := c.Create(ctx, cl); err != nil {
			return nil, fmt.Errorf("create cluster %s: %w", name, err)
		}
	}

	// Controller logs go next to the clusters' component logs, kept when
	// the package fails.
	logFile, err := os.Create(filepath.Join(env.Dir, "controllers.log"))
	if err != nil {
		return nil, err
	}
	logger := logr.FromSlogHandler(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctrllog.SetLogger(logger)
	mgr, err := ctrl.NewManager(mgmtCfg, ctrl.Options{
		Scheme:  scheme,
		Logger:  logger,
		Metrics: metricsserver.Options{BindAddress: "0"},
	})
	if err != nil {
		return nil, err
	}
	configs := testConfigs{configs: map[string]*rest.Config{dev: env.RESTConfig(t, dev), prod: env.RESTConfig(t, prod)}}
	if err := rbacsync.Setup(mgr, configs, rbacsync.Options{RetryDelay: 2 * time.Second}); err != nil {
		return nil, err
	}
	go func() {
		if err := mgr.Start(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "rbacsync test: manager:", err)
		}
	}()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		return nil, errors.New("management cache did not sync")
	}
	return &fixture{mgmt: c, dev: env.Client(t, dev), prod: env.Client(t, prod)}, nil
}

// access asks a downstream API server whether the bokujo identity may do
// something, as the proxy would impersonate it.
type access struct {
	user      string   // bokujo user name, without prefix
	groups    []string // bokujo group names, without prefix
	verb      string
	group     string
	resource  string
	sub       string
	namespace string
}

func (a access) String() string {
	r := a.resource
	if a.sub != "" {
		r += "/" + a.sub
	}
	if a.group != "" {
		r += "." + a.group
	}
	where := "cluster-wide"
	if a.namespace != "" {
		where = "in " + a.namespace
	}
	return fmt.Sprintf("%s %s %s (groups %v)", a.verb, r, where, a.groups)
}

func allowed(ctx context.Context, cs kubernetes.Interface, a access) (bool, error) {
	groups := []string{"system:authenticated"}
	for _, g := range a.groups {
		groups = append(groups, v1alpha1.GroupPrefix+g)
	}
	sar, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   v1alpha1.UserPrefix + a.user,
			Groups: groups,
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: a.namespace, Verb: a.verb, Group: a.group, Resource: a.resource, Subresource: a.sub,
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	return sar.Status.Allowed, nil
}

// eventually waits until a is allowed (want true) or denied (want false),
// polling every 50 ms for up to framework.Short, and returns how long it
// took.
func eventually(t *testing.T, cs kubernetes.Interface, a access, want bool) time.Duration {
	t.Helper()
	begin := time.Now()
	framework.Eventually(t, framework.Short, func() error {
		got, err := allowed(context.Background(), cs, a)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("%s: allowed=%v, want %v", a, got, want)
		}
		return nil
	})
	return time.Since(begin)
}

// check asserts a decision now, without waiting.
func check(t *testing.T, cs kubernetes.Interface, a access, want bool) {
	t.Helper()
	got, err := allowed(context.Background(), cs, a)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("%s: allowed=%v, want %v", a, got, want)
	}
}
