// Package quickstart is `bokujo up`: an embedded management control plane,
// demo downstream clusters with simulated GPU nodes and the bokujo server on
// one machine, with state kept in one directory across restarts.
package quickstart

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"golang.org/x/sync/errgroup"

	"bokujo.io/bokujo/internal/app"
	bclusters "bokujo.io/bokujo/internal/clusters"
	"bokujo.io/bokujo/internal/localcluster"
	"bokujo.io/bokujo/internal/pki"
)

// ManagementCluster is the name of the embedded management cluster.
const ManagementCluster = "local"

// AdminUser is the bootstrap administrator's name.
const AdminUser = "admin"

// Options configure Run.
type Options struct {
	StateDir string
	// Listen is the address the server binds, e.g. 127.0.0.1:8443.
	Listen string
	// BinDir holds the control-plane binaries (see localcluster.FindBinDir).
	BinDir string
	// Demo starts the demo downstream clusters.
	Demo   bool
	Out    io.Writer
	Logger *slog.Logger
	// Ready, if set, is called once everything runs, with the printed facts.
	Ready func(Info)
}

// Info is what `bokujo up` prints once ready.
type Info struct {
	URL           string
	CAFile        string
	AdminUser     string
	AdminPassword string // empty after the first start
	Kubeconfigs   map[string]string
}

// DemoClusters are the downstream clusters `bokujo up` starts.
func DemoClusters() map[string][]localcluster.NodeSpec {
	return map[string][]localcluster.NodeSpec{
		"dev":  localcluster.GPUNodes("dev-gpu", 2, 8),
		"prod": localcluster.CPUNodes("prod-cpu", 3),
	}
}

const stateVersion = 1

type upState struct {
	Version int       `json:"version"`
	Created time.Time `json:"created"`
}

// ErrCorruptState means the state directory cannot be used as it is.
var ErrCorruptState = errors.New("state directory is corrupt")

// Run starts everything and blocks until ctx ends, then stops it all.
func Run(ctx context.Context, opts Options) (err error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if _, _, err := net.SplitHostPort(opts.Listen); err != nil {
		return fmt.Errorf("invalid listen address %q: %v (want host:port, e.g. 127.0.0.1:8443)", opts.Listen, err)
	}
	binDir, err := localcluster.FindBinDir(opts.BinDir)
	if err != nil {
		return err
	}
	lock, err := localcluster.LockDir(opts.StateDir)
	if err != nil {
		if errors.Is(err, localcluster.ErrLocked) {
			return fmt.Errorf("another `bokujo up` runs on state dir %s: stop it first (Ctrl-C in its terminal), or pass another --state-dir: %w", opts.StateDir, err)
		}
		return err
	}
	defer lock.Unlock()
	if err := checkState(opts.StateDir); err != nil {
		return err
	}

	// The server's address is checked before minutes of cluster start-up.
	probe, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w: another program uses it; stop it or choose another --port", opts.Listen, err)
	}
	probe.Close()

	cert, caFile, err := serverCertificate(filepath.Join(opts.StateDir, "pki"), opts.Listen)
	if err != nil {
		return err
	}

	specs := map[string][]localcluster.NodeSpec{ManagementCluster: nil}
	if opts.Demo {
		for name, nodes := range DemoClusters() {
			specs[name] = nodes
		}
	}
	var mu sync.Mutex
	clusters := map[string]*localcluster.Cluster{}
	defer func() {
		var wg sync.WaitGroup
		for name, c := range clusters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				log.Info("stopping cluster", "cluster", name)
				c.Stop()
			}()
		}
		wg.Wait()
	}()
	log.Info("starting clusters (the first start takes about a minute)", "clusters", strings.Join(sortedKeys(specs), ","), "stateDir", opts.StateDir)
	g, gctx := errgroup.WithContext(ctx)
	for name, nodes := range specs {
		g.Go(func() error {
			lopts := localcluster.Options{
				Name: name, Dir: filepath.Join(opts.StateDir, "clusters", name),
				BinDir: binDir, Nodes: nodes, Logger: log,
			}
			if name == ManagementCluster {
				lopts.AuditPolicy = ManagementAuditPolicy
			}
			c, err := localcluster.Start(gctx, lopts)
			if err != nil {
				if errors.Is(err, localcluster.ErrCorruptState) {
					return fmt.Errorf("cluster %s: %w: fix it, or start again with `bokujo up --reset`", name, err)
				}
				return fmt.Errorf("cluster %s: %w", name, err)
			}
			mu.Lock()
			clusters[name] = c
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}

	mgmt := clusters[ManagementCluster]
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("read server ca: %w", err)
	}
	log.Info("starting the bokujo server")
	a, err := app.Start(ctx, app.Options{
		Management: mgmt.RESTConfig(), Listen: opts.Listen, PublicURL: "https://" + displayAddr(opts.Listen),
		Certificate: cert, CACertPEM: caPEM, DataDir: opts.StateDir, Logger: log,
		// The demo clusters run on this machine's loopback addresses.
		ClusterPolicy: clusterPolicy(opts.Listen),
	})
	if err != nil {
		return err
	}
	defer a.Stop()
	password, _, err := a.Auth.EnsureBootstrapAdmin(ctx)
	if err != nil {
		return fmt.Errorf("create the bootstrap admin: %w", err)
	}
	agentCtx, stopAgents := context.WithCancel(ctx)
	var agents sync.WaitGroup
	// The agents stop before the server does (defers run last first).
	defer func() { stopAgents(); agents.Wait() }()
	for name, c := range clusters {
		switch name {
		case ManagementCluster:
			continue
		case AgentCluster:
			if err := startDemoAgent(agentCtx, &agents, a, name, c, opts.StateDir, caPEM, log); err != nil {
				return err
			}
			continue
		}
		if err := a.Registry.ImportConfig(ctx, name, "demo cluster "+name, c.RESTConfig()); err != nil && !errors.Is(err, bclusters.ErrAlreadyExists) {
			return fmt.Errorf("register demo cluster %s: %w", name, err)
		}
	}

	// The demo's GPUs are shared through a GPU queue, so an MLTask runs
	// without an administrator setting one up first.
	for name, c := range clusters {
		if name == ManagementCluster {
			continue
		}
		agents.Add(1)
		go func() {
			defer agents.Done()
			if err := seedDemoQueues(agentCtx, c.RESTConfig(), name, c.Nodes(), 3*time.Minute, log); err != nil && agentCtx.Err() == nil {
				log.Warn("demo GPU queues not created; MLTasks wait for a queue until an administrator creates one", "cluster", name, "err", err)
			}
		}()
	}

	info := Info{URL: "https://" + displayAddr(a.Server.Addr()), CAFile: caFile, AdminUser: AdminUser, AdminPassword: password, Kubeconfigs: map[string]string{}}
	for name, c := range clusters {
		info.Kubeconfigs[name] = c.KubeconfigPath()
	}
	printInfo(opts.Out, info)
	if opts.Ready != nil {
		opts.Ready(info)
	}

	failed := make(chan error, len(clusters))
	for name, c := range clusters {
		go func() {
			<-c.Done()
			failed <- fmt.Errorf("cluster %s stopped unexpectedly: %w", name, c.Err())
		}()
	}
	var stopped error
	select {
	case <-ctx.Done():
	case stopped = <-a.Done():
	case stopped = <-failed:
	}
	if ctx.Err() != nil {
		// Shutdown was asked for: a part that ended on its way down (or
		// raced with the signal) is logged, not an error of the run.
		if stopped != nil {
			log.Warn("a part stopped while shutting down", "err", stopped)
		}
		log.Info("shutting down")
		return nil
	}
	return stopped
}

func printInfo(w io.Writer, info Info) {
	if w == nil {
		return
	}
	fmt.Fprintf(w, "\nbokujo is running at %s\n", info.URL)
	fmt.Fprintf(w, "  CA certificate:  %s   (curl --cacert %s %s/readyz)\n", info.CAFile, info.CAFile, info.URL)
	fmt.Fprintf(w, "  admin user:      %s\n", info.AdminUser)
	if info.AdminPassword != "" {
		fmt.Fprintf(w, "  admin password:  %s   (shown once: only its hash is stored)\n", info.AdminPassword)
	} else {
		fmt.Fprintf(w, "  admin password:  printed at the first start (only its hash is kept; `bokujo up --reset` starts over)\n")
	}
	fmt.Fprintf(w, "\nclusters (admin kubeconfigs):\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, name := range sortedKeys(info.Kubeconfigs) {
		fmt.Fprintf(tw, "  %s\t%s\n", name, info.Kubeconfigs[name])
	}
	tw.Flush()
	self := commandName()
	fmt.Fprintf(w, "\none kubeconfig for every cluster, through bokujo:\n  %s login %s --ca-file %s --username %s\n  %s kubeconfig -o ~/.kube/bokujo && export KUBECONFIG=~/.kube/bokujo\n", self, info.URL, info.CAFile, info.AdminUser, self)
	fmt.Fprintf(w, "\nPress Ctrl-C to stop; `bokujo up` again resumes with everything kept.\n")
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func displayAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "0.0.0.0" || host == "::" || host == "" {
		host = "127.0.0.1"
	}
	if host == "127.0.0.1" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// checkState validates up.json, creating it in an empty directory.
func checkState(dir string) error {
	path := filepath.Join(dir, "up.json")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		data, _ := json.MarshalIndent(upState{Version: stateVersion, Created: time.Now().UTC()}, "", "  ")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	var st upState
	if err := json.Unmarshal(data, &st); err != nil || st.Version != stateVersion {
		reason := fmt.Sprintf("unsupported version %d", st.Version)
		if err != nil {
			reason = err.Error()
		}
		return fmt.Errorf("%w: %s: %s: fix it, or start again with `bokujo up --reset`", ErrCorruptState, path, reason)
	}
	return nil
}

// serverCertificate loads or creates the server's CA and serving
// certificate. The serving certificate is reissued when the listen host is
// not among its names.
func serverCertificate(dir, listen string) (tls.Certificate, string, error) {
	ca, err := pki.LoadOrCreateCA(dir, "ca", "bokujo-ca")
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("server ca: %w", err)
	}
	host, _, _ := net.SplitHostPort(listen)
	names := []string{"localhost"}
	if hn, err := os.Hostname(); err == nil {
		names = append(names, hn)
	}
	ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		ips = append(ips, ip)
	} else if host != "" && ip == nil {
		names = append(names, host)
	}
	certFile, keyFile := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	if cert, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil && covers(cert, names, ips) {
		return cert, filepath.Join(dir, "ca.crt"), nil
	}
	kp, err := ca.Issue(pki.Spec{CommonName: "bokujo", DNSNames: names, IPs: ips, Server: true})
	if err != nil {
		return tls.Certificate{}, "", err
	}
	if err := kp.Write(dir, "server"); err != nil {
		return tls.Certificate{}, "", err
	}
	cert, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("load server certificate: %w", err)
	}
	return cert, filepath.Join(dir, "ca.crt"), nil
}

func covers(cert tls.Certificate, names []string, ips []net.IP) bool {
	leaf := cert.Leaf
	if leaf == nil {
		return false
	}
	for _, n := range names {
		if leaf.VerifyHostname(n) != nil {
			return false
		}
	}
	for _, ip := range ips {
		if leaf.VerifyHostname(ip.String()) != nil {
			return false
		}
	}
	return true
}

// Reset deletes the state directory after the caller confirmed. It refuses
// while another bokujo holds the directory.
func Reset(dir string) error {
	lock, err := localcluster.LockDir(dir)
	if err != nil {
		return fmt.Errorf("cannot reset: %w", err)
	}
	lock.Unlock()
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}

// ListenAddr joins an address and port.
func ListenAddr(address string, port int) string {
	return net.JoinHostPort(address, strconv.Itoa(port))
}

// clusterPolicy allows loopback cluster addresses (the demo clusters run
// here) but never the server's own address.
func clusterPolicy(listen string) bclusters.Policy {
	return bclusters.Policy{AllowLoopback: true, ServerAddrs: []string{listen}}
}

// commandName is how the user can run this binary again: "bokujo" when it
// is the one on PATH, else its path (relative to the working directory when
// shorter), so the printed commands work as typed.
func commandName() string {
	exe, err := os.Executable()
	if err != nil {
		return "bokujo"
	}
	if onPath, err := exec.LookPath("bokujo"); err == nil {
		if a, errA := filepath.EvalSymlinks(onPath); errA == nil {
			if b, errB := filepath.EvalSymlinks(exe); errB == nil && a == b {
				return "bokujo"
			}
		}
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, exe); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return exe
}
