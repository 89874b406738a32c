// Package framework starts real local Kubernetes clusters once per test
// package and hands them to the tests. Use it from TestMain:
//
//	var env *framework.Env
//
//	func TestMain(m *testing.M) {
//		framework.Main(m, &env, framework.ClusterSpec{Name: "dev", Nodes: ...})
//	}
//
// Clusters start in parallel; every test gets its own namespace with
// env.Namespace(t, cluster). Component logs stay in the run's directory,
// printed when the package fails.
package framework

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"bokujo.io/bokujo/internal/localcluster"
)

// Named timeouts for Eventually-style waits.
const (
	// Short covers what a running control plane does at once (a watch
	// event, a controller's reaction).
	Short = 10 * time.Second
	// Medium covers scheduling and simulated pods turning Running.
	Medium = 60 * time.Second
	// Long covers a cluster start.
	Long = 4 * time.Minute
)

// ClusterSpec names a cluster to start and its simulated nodes.
type ClusterSpec struct {
	Name  string
	Nodes []localcluster.NodeSpec
}

// Env is the set of clusters a test package shares.
type Env struct {
	Dir      string
	clusters map[string]*localcluster.Cluster

	crdMu         sync.Mutex
	crdsInstalled map[string]bool
}

// Main starts the clusters, runs the tests, stops the clusters and exits.
// With -short the package's tests are skipped without starting anything.
func Main(m *testing.M, env **Env, specs ...ClusterSpec) {
	os.Exit(run(m, env, specs))
}

func run(m *testing.M, envp **Env, specs []ClusterSpec) int {
	if testingShort() {
		fmt.Println("framework: -short given: integration tests are skipped")
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "bokujo-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "framework:", err)
		return 1
	}
	env, err := Start(context.Background(), dir, specs...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "framework: start clusters:", err)
		return 1
	}
	*envp = env
	code := m.Run()
	env.Stop()
	if code == 0 {
		_ = os.RemoveAll(dir)
	} else {
		fmt.Fprintf(os.Stderr, "framework: cluster state and component logs kept in %s\n", dir)
	}
	return code
}

func testingShort() bool {
	for _, a := range os.Args[1:] {
		if a == "-test.short" || a == "-test.short=true" {
			return true
		}
	}
	return false
}

// Start starts the clusters in parallel under dir.
func Start(ctx context.Context, dir string, specs ...ClusterSpec) (*Env, error) {
	env := &Env{Dir: dir, clusters: map[string]*localcluster.Cluster{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []string
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	for _, s := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			begin := time.Now()
			c, err := localcluster.Start(ctx, localcluster.Options{
				Name: s.Name, Dir: filepath.Join(dir, s.Name), Nodes: s.Nodes, Logger: log, StartTimeout: Long,
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err.Error())
				return
			}
			fmt.Fprintf(os.Stderr, "framework: cluster %s ready in %s\n", s.Name, time.Since(begin).Round(100*time.Millisecond))
			env.clusters[s.Name] = c
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		env.Stop()
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return env, nil
}

// Stop stops every cluster.
func (e *Env) Stop() {
	var wg sync.WaitGroup
	for _, c := range e.clusters {
		wg.Add(1)
		go func() { defer wg.Done(); c.Stop() }()
	}
	wg.Wait()
}

// Cluster returns a started cluster by name; the test fails if unknown.
func (e *Env) Cluster(t testing.TB, name string) *localcluster.Cluster {
	t.Helper()
	c, ok := e.clusters[name]
	if !ok {
		t.Fatalf("framework: no cluster %q in this package's environment", name)
	}
	return c
}

// Client returns an admin clientset for a cluster.
func (e *Env) Client(t testing.TB, name string) kubernetes.Interface {
	return e.Cluster(t, name).Client()
}

// RESTConfig returns the admin client configuration of a cluster.
func (e *Env) RESTConfig(t testing.TB, name string) *rest.Config {
	return e.Cluster(t, name).RESTConfig()
}

// Namespace creates a namespace for the test, deleted when it ends.
func (e *Env) Namespace(t testing.TB, cluster string) string {
	t.Helper()
	client := e.Client(t, cluster)
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 40 {
		name = name[:40]
	}
	ns, err := client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: strings.Trim(name, "-") + "-"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("framework: create namespace: %v", err)
	}
	t.Cleanup(func() {
		_ = client.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{})
	})
	return ns.Name
}

// Eventually retries fn until it returns nil or timeout passes, then fails
// the test with fn's last error.
func Eventually(t testing.TB, timeout time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = fn(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not reached within %s: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// BinDir returns the directory of the control-plane binaries (kubectl,
// helm among them).
func BinDir(t testing.TB) string {
	t.Helper()
	d, err := localcluster.FindBinDir("")
	if err != nil {
		t.Fatal(err)
	}
	return d
}
