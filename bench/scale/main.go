// Command scale measures the bokujo server at fleet scale: -clusters agent
// clusters (default 1,000) whose agents all run in this process and tunnel
// to a few real local API servers, with -users users and -bindings cluster
// role bindings. The server runs as its own `bin/bokujo server` process so
// that its RSS (read from /proc/<pid>/status) is its own.
//
// It prints the server's RSS before any cluster and with every cluster
// Ready, the memory per cluster, the time for every agent to reconnect
// after a server restart, proxy p50/p99 through bokujo against the same
// requests sent straight to the API servers (the baseline, measured in the
// same run, interleaved), and the failed requests to healthy clusters
// while -flap of the agents disconnect and reconnect.
//
// Targets: ≤ 4 GB RSS at 1,000 clusters; full reconnect ≤ 60 s; no failed
// request to a healthy cluster while 10% of the agents flap.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/agent"
	"bokujo.io/bokujo/internal/app"
	"bokujo.io/bokujo/internal/auth"
	"bokujo.io/bokujo/internal/clusters"
	"bokujo.io/bokujo/internal/localcluster"
	"bokujo.io/bokujo/internal/pki"
)

var (
	nClusters   = flag.Int("clusters", 1000, "agent clusters to register")
	nAPIServers = flag.Int("apiservers", 2, "real local API servers the agents tunnel to")
	nUsers      = flag.Int("users", 10000, "users")
	nBindings   = flag.Int("bindings", 20000, "cluster role template bindings (users to clusters)")
	flapShare   = flag.Float64("flap", 0.10, "share of agents that disconnect and reconnect during the flap phase")
	nRequests   = flag.Int("requests", 2000, "proxied requests per latency phase")
	flapFor     = flag.Duration("flap-duration", time.Minute, "how long the agents flap (requests keep going until then)")
	parallel    = flag.Int("parallel", 32, "parallel writers when creating objects")
	optIn       = flag.Bool("controllers-opt-in", false, "run the server with --cluster-controllers-opt-in (no MLTask/Release manager per cluster)")
	maxRSS      = flag.Int64("max-rss-mib", 8192, "stop the benchmark when the server's RSS passes this (protects a shared machine)")
	readyWait   = flag.Duration("ready-timeout", 20*time.Minute, "how long to wait for every cluster to be Ready")
)

func main() {
	flag.Parse()
	// Interrupted, it still stops the clusters and the server it started.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	start := time.Now()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bench/scale:", err)
		os.Exit(1)
	}
	fmt.Printf("bench/scale took %s\n", time.Since(start).Round(time.Second))
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func run(ctx context.Context) error {
	if *nClusters < 1 || *nAPIServers < 1 || *flapShare < 0 || *flapShare >= 1 {
		return errors.New("need -clusters ≥ 1, -apiservers ≥ 1 and 0 ≤ -flap < 1")
	}
	binDir, err := localcluster.FindBinDir("")
	if err != nil {
		return err
	}
	bokujo := filepath.Join(binDir, "bokujo")
	if _, err := os.Stat(bokujo); err != nil {
		return fmt.Errorf("%s not built: run `make build`", bokujo)
	}
	dir, err := os.MkdirTemp("", "bokujo-bench-scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// 1. Management cluster and the API servers the agents tunnel to.
	progress("starting the management cluster and %d API servers", *nAPIServers)
	all := make([]*localcluster.Cluster, *nAPIServers+1)
	errs := make([]error, len(all))
	var wg sync.WaitGroup
	for i := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := "mgmt"
			if i > 0 {
				name = fmt.Sprintf("down%d", i)
			}
			all[i], errs[i] = localcluster.Start(ctx, localcluster.Options{Name: name, Dir: filepath.Join(dir, name), StartTimeout: 5 * time.Minute})
		}()
	}
	wg.Wait()
	for _, c := range all {
		if c != nil {
			defer c.Stop()
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	mgmt, downs := all[0], all[1:]

	// 2. PKI, an admin with a token (written by an in-process server that
	// is stopped again before the measured one starts).
	ca, err := pki.NewCA("bench-scale-ca")
	if err != nil {
		return err
	}
	kp, err := ca.Issue(pki.Spec{CommonName: "bokujo", IPs: []net.IP{net.ParseIP("127.0.0.1")}, Server: true})
	if err != nil {
		return err
	}
	if err := kp.Write(dir, "server"); err != nil {
		return err
	}
	caFile := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caFile, ca.CertPEM, 0o600); err != nil {
		return err
	}
	token, err := adminToken(ctx, mgmt, dir, ca.CertPEM, kp)
	if err != nil {
		return err
	}

	mcfg := rest.CopyConfig(mgmt.RESTConfig())
	mcfg.QPS, mcfg.Burst = 1000, 2000
	scheme, err := app.Scheme()
	if err != nil {
		return err
	}
	mc, err := client.New(mcfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}

	// 3. The measured server, alone in its process.
	port, err := freePort()
	if err != nil {
		return err
	}
	srv := &server{bin: bokujo, args: []string{"server", "--kubeconfig", mgmt.KubeconfigPath(), "--listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--tls-cert-file", filepath.Join(dir, "server.crt"), "--tls-key-file", filepath.Join(dir, "server.key"), "--ca-file", caFile,
		"--data-dir", filepath.Join(dir, "server"), "--allow-loopback-clusters", "--metrics-listen", ""},
		url: fmt.Sprintf("https://127.0.0.1:%d", port), log: filepath.Join(dir, "server.log")}
	if *optIn {
		srv.args = append(srv.args, "--cluster-controllers-opt-in")
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 64}}
	if err := srv.start(ctx, hc); err != nil {
		return err
	}
	defer srv.stop()
	time.Sleep(5 * time.Second)
	rss0, err := rss(srv.pid())
	if err != nil {
		return err
	}
	progress("server RSS with no clusters: %s", mib(rss0))
	// Watchdog: a server growing past -max-rss-mib is stopped, and the
	// benchmark fails saying so.
	var tooBig, peak atomic.Int64
	go func() {
		for ctx.Err() == nil {
			time.Sleep(2 * time.Second)
			r, err := rss(srv.pid())
			if err == nil && r > peak.Load() {
				peak.Store(r)
			}
			if err == nil && r > *maxRSS<<20 {
				tooBig.Store(r)
				progress("server RSS %s passed -max-rss-mib %d: stopping it", mib(r), *maxRSS)
				srv.stop()
				return
			}
		}
	}()
	defer func() {
		if r := tooBig.Load(); r > 0 {
			fmt.Printf("bench/scale: FAILED: server RSS reached %s (over -max-rss-mib %d) with %d clusters\n", mib(r), *maxRSS, *nClusters)
		}
	}()

	// 4. Clusters, registered server-side in parallel: the agents then
	// hold their credential already (registration has its own test and a
	// rate limit meant for real installs).
	names := make([]string, *nClusters)
	for i := range names {
		names[i] = fmt.Sprintf("c%04d", i)
	}
	creds := make([]clusters.Credentials, len(downs))
	for i, d := range downs {
		if creds[i], err = clusters.Provision(ctx, d.RESTConfig()); err != nil {
			return err
		}
		// The measured user may read in every API server by a binding of
		// its own: hundreds of bokujo clusters share each API server here,
		// and RBAC sync of one cluster sweeps the bindings it wrote for
		// the others sharing it (see README, sizing), which would turn
		// the latency figures into 403s.
		crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "bench-scale-view"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "bokujo:bench"}}}
		if _, err := kubernetes.NewForConfigOrDie(d.RESTConfig()).RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); ignoreExists(err) != nil {
			return err
		}
	}
	reg := clusters.NewRegistry(mc, clusters.Policy{AllowLoopback: true})
	reg.SetAPIReader(mc)
	credentials := make([]string, len(names))
	t := time.Now()
	if err := forEach(ctx, len(names), func(i int) error {
		r, err := reg.AddAgentCluster(ctx, names[i], "")
		if err != nil {
			return err
		}
		_, credentials[i], err = reg.RegisterAgent(ctx, r.Token, creds[i%len(downs)])
		return err
	}); err != nil {
		return fmt.Errorf("register clusters: %w", err)
	}
	progress("registered %d agent clusters in %s", len(names), time.Since(t).Round(time.Millisecond))

	// 5. Users and bindings.
	t = time.Now()
	if err := forEach(ctx, *nUsers, func(i int) error {
		return ignoreExists(mc.Create(ctx, &mgmtv1.User{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("u%05d", i)},
			Spec: mgmtv1.UserSpec{DisplayName: fmt.Sprintf("User %d", i)}}))
	}); err != nil {
		return fmt.Errorf("create users: %w", err)
	}
	if err := forEach(ctx, *nBindings, func(i int) error {
		return ignoreExists(mc.Create(ctx, &mgmtv1.ClusterRoleTemplateBinding{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("b%05d", i)},
			Spec: mgmtv1.ClusterRoleTemplateBindingSpec{ClusterName: names[i%len(names)], RoleTemplateName: "cluster-viewer",
				Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: fmt.Sprintf("u%05d", (i*7919)%max(*nUsers, 1))}}}))
	}); err != nil {
		return fmt.Errorf("create bindings: %w", err)
	}
	progress("created %d users and %d bindings in %s", *nUsers, *nBindings, time.Since(t).Round(time.Millisecond))

	// 6. The agents, all in this process.
	fleet := newFleet(srv.url, ca.CertPEM)
	for i, name := range names {
		fleet.add(ctx, name, credentials[i], downs[i%len(downs)].RESTConfig())
	}
	defer fleet.stopAll()
	t = time.Now()
	if err := waitReady(ctx, mc, len(names), *readyWait); err != nil {
		return err
	}
	allReady := time.Since(t)
	progress("all %d clusters Ready %s after their agents started", len(names), allReady.Round(time.Second))
	time.Sleep(15 * time.Second)
	rss1, err := rss(srv.pid())
	if err != nil {
		return err
	}

	// 7. Proxy latency under that load, against the API servers directly.
	paths, err := latencyPaths(names, downs, srv.url, token, hc)
	if err != nil {
		return err
	}
	lat := measure(ctx, paths, names, *nRequests)

	// 8. Flapping agents; requests go to the others only.
	nFlap := int(float64(len(names)) * *flapShare)
	flapping := map[string]bool{}
	for _, i := range rand.Perm(len(names))[:nFlap] {
		flapping[names[i]] = true
	}
	var healthy []string
	for _, n := range names {
		if !flapping[n] {
			healthy = append(healthy, n)
		}
	}
	fctx, stopFlap := context.WithCancel(ctx)
	var flaps atomic.Int64
	var fw sync.WaitGroup
	for n := range flapping {
		fw.Add(1)
		go func() {
			defer fw.Done()
			for fctx.Err() == nil {
				fleet.restart(ctx, n)
				flaps.Add(1)
				select {
				case <-fctx.Done():
				case <-time.After(time.Duration(1000+rand.IntN(2000)) * time.Millisecond):
				}
			}
		}()
	}
	flapRes := measureFor(ctx, paths[1:], healthy, *flapFor)
	stopFlap()
	fw.Wait()

	// 9. Server restart: every agent must come back.
	progress("restarting the server")
	srv.stop()
	restartAt := time.Now()
	if err := srv.start(ctx, hc); err != nil {
		return err
	}
	serving := time.Since(restartAt)
	var reconnect time.Duration
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if fleet.reconnectedSince(restartAt) == len(names) {
			reconnect = time.Since(restartAt)
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d agents reconnected within 5 minutes", fleet.reconnectedSince(restartAt), len(names))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := waitReady(ctx, mc, len(names), 5*time.Minute); err != nil {
		return err
	}
	readyAgain := time.Since(restartAt)
	time.Sleep(15 * time.Second)
	rss2, err := rss(srv.pid())
	if err != nil {
		return err
	}

	n := float64(len(names))
	fmt.Printf("\nbench/scale: %d agent clusters on %d API servers, %d users, %d bindings (server: separate process; in-cluster controllers opt-in: %v)\n\n",
		len(names), len(downs), *nUsers, *nBindings, *optIn)
	fmt.Printf("| server | RSS |\n|---|---|\n")
	fmt.Printf("| no clusters | %s |\n| %d clusters Ready | %s |\n| after a restart, all reconnected | %s |\n", mib(rss0), len(names), mib(rss1), mib(rss2))
	fmt.Printf("| highest seen (every 2 s, whole run) | %s |\n", mib(peak.Load()))
	fmt.Printf("| per cluster ((Ready − none) / clusters) | %.2f MiB |\n", float64(rss1-rss0)/n/(1<<20))
	fmt.Printf("| RSS at %d clusters / 4 GiB target | %.2f (highest: %.2f) |\n\n", len(names), float64(rss1)/float64(4<<30), float64(peak.Load())/float64(4<<30))
	fmt.Printf("| times | |\n|---|---|\n| all clusters Ready after the agents started | %s |\n", allReady.Round(100*time.Millisecond))
	fmt.Printf("| restart: server serving again | %s |\n| restart: every agent reconnected (target ≤ 60 s) | %s |\n| restart: every cluster Ready again | %s |\n\n",
		serving.Round(100*time.Millisecond), reconnect.Round(100*time.Millisecond), readyAgain.Round(100*time.Millisecond))
	fmt.Printf("| GET one ConfigMap, %d requests, 8 in flight | p50 | p99 | failed |\n|---|---|---|---|\n", *nRequests)
	for _, p := range paths {
		r := lat[p.name]
		fmt.Printf("| %s | %s | %s | %d |\n", p.name, ms(r.p50), ms(r.p99), r.failed)
	}
	direct, through := lat[paths[0].name], lat[paths[1].name]
	fmt.Printf("| bokujo / direct | %.2f | %.2f | |\n\n", ratio(through.p50, direct.p50), ratio(through.p99, direct.p99))
	fr := flapRes[paths[1].name]
	fmt.Printf("| while %d agents (%.0f%%) flap (%d reconnects) | p50 | p99 | failed to healthy clusters (target 0) |\n|---|---|---|---|\n",
		nFlap, *flapShare*100, flaps.Load())
	fmt.Printf("| through bokujo | %s | %s | %d of %d |\n", ms(fr.p50), ms(fr.p99), fr.failed, fr.n)
	if fr.failed > 0 {
		fmt.Printf("first failure: %s\n", fr.firstErr)
	}
	return nil
}

// adminToken creates user "bench", a global admin, and an API token for
// it with a short-lived in-process server.
func adminToken(ctx context.Context, mgmt *localcluster.Cluster, dir string, caPEM []byte, kp pki.KeyPair) (string, error) {
	cert, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	if err != nil {
		return "", err
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	a, err := app.Start(ctx, app.Options{Management: mgmt.RESTConfig(), Listen: addr, Certificate: cert, CACertPEM: caPEM,
		DataDir: filepath.Join(dir, "setup"), ClusterPolicy: clusters.Policy{AllowLoopback: true}, Components: nil})
	if err != nil {
		return "", err
	}
	defer a.Stop()
	if _, err := a.Auth.CreateLocalUser(ctx, "bench", "Bench", "bench-password-123456"); err != nil {
		return "", err
	}
	if err := a.Client.Create(ctx, &mgmtv1.GlobalRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "bench-admin"}, Spec: mgmtv1.GlobalRoleBindingSpec{
		GlobalRoleName: mgmtv1.GlobalRoleAdmin, Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: "bench"}}}); err != nil {
		return "", err
	}
	tok, _, err := a.Auth.CreateToken(ctx, "bench", auth.TokenRequest{Type: mgmtv1.TokenTypeAPI, Description: "bench", TTL: 24 * time.Hour})
	return tok, err
}

// server is the `bokujo server` process.
type server struct {
	bin  string
	args []string
	url  string
	log  string
	mu   sync.Mutex // cmd changes at a restart; the watchdog reads it
	cmd  *exec.Cmd
}

func (s *server) start(ctx context.Context, hc *http.Client) error {
	f, err := os.OpenFile(s.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); f.Close(); close(exited) }()
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		resp, err := hc.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("bokujo server exited at start; see %s", s.log)
		default:
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("bokujo server did not become ready; see %s", s.log)
}

func (s *server) pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd.Process.Pid
}

// stop ends the server as an orchestrator would (SIGTERM, then SIGKILL).
func (s *server) stop() {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	for i := 0; i < 150; i++ {
		if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	time.Sleep(200 * time.Millisecond)
}

// rss reads VmRSS of a process in bytes.
func rss(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// fleet runs the agents.
type fleet struct {
	server string
	ca     []byte
	mu     sync.Mutex
	agents map[string]*fleetAgent
}

type fleetAgent struct {
	cluster, credential string
	local               *rest.Config
	cancel              context.CancelFunc
	done                chan struct{}
	lastConnect         atomic.Int64 // unix nanos
}

// memStore keeps an agent's credential in memory.
type memStore struct{ s agent.State }

func (m *memStore) Load(context.Context) (agent.State, error) { return m.s, nil }
func (m *memStore) Save(_ context.Context, s agent.State) error {
	m.s = s
	return nil
}

func newFleet(server string, ca []byte) *fleet {
	return &fleet{server: server, ca: ca, agents: map[string]*fleetAgent{}}
}

func (f *fleet) add(ctx context.Context, cluster, credential string, local *rest.Config) {
	a := &fleetAgent{cluster: cluster, credential: credential, local: local}
	f.mu.Lock()
	f.agents[cluster] = a
	f.mu.Unlock()
	f.run(ctx, a)
}

func (f *fleet) run(ctx context.Context, a *fleetAgent) {
	actx, cancel := context.WithCancel(ctx)
	a.cancel, a.done = cancel, make(chan struct{})
	go func() {
		defer close(a.done)
		err := agent.Run(actx, agent.Options{Server: f.server, CAData: f.ca, Local: a.local,
			State:     &memStore{agent.State{Cluster: a.cluster, Credential: a.credential}},
			OnConnect: func() { a.lastConnect.Store(time.Now().UnixNano()) }})
		if err != nil && actx.Err() == nil {
			progress("agent of %s stopped: %v", a.cluster, err)
		}
	}()
}

// restart stops one agent (its tunnel closes as if it was killed) and
// starts it again.
func (f *fleet) restart(ctx context.Context, cluster string) {
	f.mu.Lock()
	a := f.agents[cluster]
	f.mu.Unlock()
	a.cancel()
	<-a.done
	time.Sleep(time.Duration(500+rand.IntN(1500)) * time.Millisecond)
	f.run(ctx, a)
}

func (f *fleet) reconnectedSince(t time.Time) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, a := range f.agents {
		if a.lastConnect.Load() >= t.UnixNano() {
			n++
		}
	}
	return n
}

func (f *fleet) stopAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.agents {
		a.cancel()
	}
	for _, a := range f.agents {
		<-a.done
	}
}

func waitReady(ctx context.Context, mc client.Client, want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := -1
	for {
		var list mgmtv1.ClusterList
		if err := mc.List(ctx, &list); err != nil {
			return err
		}
		ready := 0
		for i := range list.Items {
			if meta.IsStatusConditionTrue(list.Items[i].Status.Conditions, mgmtv1.ConditionReady) {
				ready++
			}
		}
		if ready >= want {
			return nil
		}
		if ready != last {
			progress("%d of %d clusters Ready", ready, want)
			last = ready
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d clusters Ready after %s", ready, want, timeout)
		}
		time.Sleep(2 * time.Second)
	}
}

// path is one way to GET a ConfigMap in a cluster.
type path struct {
	name string
	url  func(cluster string) string
	do   func(req *http.Request) (*http.Response, error)
}

func latencyPaths(names []string, downs []*localcluster.Cluster, bokujo, token string, hc *http.Client) ([]path, error) {
	index := map[string]int{}
	for i, n := range names {
		index[n] = i % len(downs)
	}
	direct := make([]*http.Client, len(downs))
	for i, d := range downs {
		rt, err := rest.TransportFor(d.RESTConfig())
		if err != nil {
			return nil, err
		}
		direct[i] = &http.Client{Timeout: 30 * time.Second, Transport: rt}
	}
	const obj = "/api/v1/namespaces/kube-system/configmaps/kube-root-ca.crt"
	return []path{
		{name: "direct to the API server (admin)", url: func(c string) string { return downs[index[c]].RESTConfig().Host + obj },
			do: func(r *http.Request) (*http.Response, error) {
				return direct[index[r.Header.Get("X-Bench-Cluster")]].Do(r)
			}},
		{name: "through bokujo and the agent tunnel", url: func(c string) string { return bokujo + "/k8s/clusters/" + c + obj },
			do: func(r *http.Request) (*http.Response, error) {
				r.Header.Set("Authorization", "Bearer "+token)
				return hc.Do(r)
			}},
	}, nil
}

type result struct {
	p50, p99 time.Duration
	samples  []time.Duration
	n        int
	failed   int
	firstErr string
}

// measure sends n requests per path to random clusters of names, 8 in
// flight, the paths interleaved.
func measure(ctx context.Context, paths []path, names []string, n int) map[string]result {
	type sample struct {
		path int
		d    time.Duration
		err  string
	}
	jobs := make(chan int)
	out := make(chan sample, 64)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				p := paths[j%len(paths)]
				c := names[rand.IntN(len(names))]
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url(c), nil)
				req.Header.Set("X-Bench-Cluster", c)
				start := time.Now()
				resp, err := p.do(req)
				s := sample{path: j % len(paths)}
				if err != nil {
					s.err = err.Error()
				} else {
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						s.err = fmt.Sprintf("%s: HTTP %d %.200s", c, resp.StatusCode, body)
					}
				}
				s.d = time.Since(start)
				out <- s
			}
		}()
	}
	go func() {
		for j := range n * len(paths) {
			jobs <- j
		}
		close(jobs)
		wg.Wait()
		close(out)
	}()
	lat := make([][]time.Duration, len(paths))
	res := map[string]result{}
	for s := range out {
		r := res[paths[s.path].name]
		r.n++
		if s.err != "" {
			r.failed++
			if r.firstErr == "" {
				r.firstErr = s.err
			}
		} else {
			lat[s.path] = append(lat[s.path], s.d)
		}
		res[paths[s.path].name] = r
	}
	for i, p := range paths {
		r := res[p.name]
		slices.Sort(lat[i])
		r.samples = lat[i]
		if len(lat[i]) > 0 {
			r.p50 = lat[i][len(lat[i])/2]
			r.p99 = lat[i][len(lat[i])*99/100]
		}
		res[p.name] = r
	}
	return res
}

// measureFor sends requests like measure until d has passed.
func measureFor(ctx context.Context, paths []path, names []string, d time.Duration) map[string]result {
	total := map[string]result{}
	var all = map[string][]time.Duration{}
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		for name, r := range measure(ctx, paths, names, 200) {
			t := total[name]
			t.n += r.n
			t.failed += r.failed
			if t.firstErr == "" {
				t.firstErr = r.firstErr
			}
			total[name] = t
			all[name] = append(all[name], r.samples...)
		}
	}
	for name, l := range all {
		t := total[name]
		slices.Sort(l)
		if len(l) > 0 {
			t.p50, t.p99 = l[len(l)/2], l[len(l)*99/100]
		}
		total[name] = t
	}
	return total
}

func forEach(ctx context.Context, n int, fn func(i int) error) error {
	jobs := make(chan int)
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	var done atomic.Int64
	for range *parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
				}
				if d := done.Add(1); d%2000 == 0 {
					progress("  %d of %d", d, n)
				}
			}
		}()
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return first
}

func ignoreExists(err error) error {
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
