package localcluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Options configure a cluster.
type Options struct {
	// Name is the cluster's name (a DNS label), used in kubeconfig contexts.
	Name string
	// Dir holds everything the cluster keeps. Required.
	Dir string
	// BinDir holds the binaries; see FindBinDir for the default.
	BinDir string
	// Nodes are created on the first start (when Dir has no cluster yet).
	Nodes []NodeSpec
	// Logger receives progress; nil discards.
	Logger *slog.Logger
	// StartTimeout bounds Start; default 3 minutes.
	StartTimeout time.Duration
	// AuditPolicy, when set, turns on the apiserver's audit log
	// (<dir>/logs/audit.log, rotated) with this policy (YAML).
	AuditPolicy string
}

// Cluster is a running local control plane.
type Cluster struct {
	Name string
	Dir  string

	log        *slog.Logger
	binDir     string
	state      *state
	lock       *Lock
	restConfig *rest.Config
	client     kubernetes.Interface

	auditPolicy string

	mu    sync.Mutex
	procs []*process
}

// Start starts the cluster in opts.Dir, creating it on first use, and waits
// until the apiserver is ready, the default service account exists and every
// simulated node is Ready.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	if err := ValidateName(opts.Name); err != nil {
		return nil, err
	}
	if opts.Dir == "" {
		return nil, errors.New("start local cluster: no directory given")
	}
	for _, n := range opts.Nodes {
		if err := n.Validate(); err != nil {
			return nil, err
		}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("cluster", opts.Name)
	binDir, err := FindBinDir(opts.BinDir)
	if err != nil {
		return nil, err
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 3 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	lock, err := LockDir(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("start cluster %q: %w", opts.Name, err)
	}
	c := &Cluster{Name: opts.Name, Dir: opts.Dir, log: log, binDir: binDir, lock: lock, auditPolicy: opts.AuditPolicy}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()

	st, err := readState(opts.Dir)
	fresh := errors.Is(err, os.ErrNotExist)
	switch {
	case fresh:
		st = &state{Version: stateVersion, Name: opts.Name, Created: time.Now().UTC(), Nodes: opts.Nodes}
	case err != nil:
		return nil, err
	case st.Name != opts.Name:
		return nil, fmt.Errorf("%w: %s holds cluster %q, not %q", ErrCorruptState, opts.Dir, st.Name, opts.Name)
	}
	c.state = st
	// Ports are picked free, but another process may take one before a
	// component binds it (tests start many clusters at once): then the
	// cluster tries again with new ports.
	for attempt := 1; ; attempt++ {
		err = c.launch(ctx, fresh, opts.Nodes)
		if err == nil || attempt == maxPortAttempts || !errors.Is(err, errPortTaken) {
			break
		}
		log.Warn("a port was taken while starting; retrying with new ports", "attempt", attempt)
		c.stopProcesses()
		st.Ports = ports{}
	}
	if err != nil {
		return nil, err
	}
	log.Info("cluster ready", "kubeconfig", c.KubeconfigPath())
	return c, nil
}

// maxPortAttempts bounds retries after a port was taken during start-up.
const maxPortAttempts = 3

// errPortTaken marks a component that could not bind its port.
var errPortTaken = errors.New("port taken")

// launch writes the cluster's files for its current ports and starts the
// components, waiting until they serve.
func (c *Cluster) launch(ctx context.Context, fresh bool, nodes []NodeSpec) error {
	st, log := c.state, c.log
	recorded := st.Ports != (ports{})
	changed, err := assignPorts(&st.Ports)
	if err != nil {
		return err
	}
	if changed && recorded && !fresh {
		log.Warn("recorded ports were taken by other programs; the cluster moves to new ports and its kubeconfig is rewritten")
	}
	for _, sub := range []string{"logs", "etcd", "kubeconfigs"} {
		if err := os.MkdirAll(filepath.Join(c.Dir, sub), 0o700); err != nil {
			return fmt.Errorf("create %s: %w", sub, err)
		}
	}
	if err := ensurePKI(c.Dir); err != nil {
		return fmt.Errorf("write cluster certificates: %w", err)
	}
	if err := c.writeKubeconfigs(); err != nil {
		return err
	}
	if err := c.writeKwokConfig(); err != nil {
		return err
	}
	if err := writeState(c.Dir, st); err != nil {
		return err
	}
	if c.auditPolicy != "" {
		if err := os.WriteFile(filepath.Join(c.Dir, "audit-policy.yaml"), []byte(c.auditPolicy), 0o600); err != nil {
			return fmt.Errorf("write audit policy: %w", err)
		}
	}
	c.restConfig, err = clientcmd.BuildConfigFromFlags("", c.KubeconfigPath())
	if err != nil {
		return fmt.Errorf("load admin kubeconfig: %w", err)
	}
	c.restConfig.QPS, c.restConfig.Burst = 200, 400
	c.client, err = kubernetes.NewForConfig(c.restConfig)
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}

	log.Info("starting etcd", "port", st.Ports.EtcdClient)
	etcd, err := c.start("etcd", c.etcdArgs())
	if err != nil {
		return err
	}
	if err := waitFor(ctx, 100*time.Millisecond, []*process{etcd}, c.etcdHealthy); err != nil {
		return fmt.Errorf("wait for etcd: %w", err)
	}
	log.Info("starting kube-apiserver", "port", st.Ports.APIServer)
	if _, err := c.start("kube-apiserver", c.apiserverArgs()); err != nil {
		return err
	}
	if err := waitFor(ctx, 200*time.Millisecond, c.running(), c.apiserverReady); err != nil {
		return fmt.Errorf("wait for kube-apiserver: %w", err)
	}
	log.Info("starting kube-controller-manager, kube-scheduler and kwok")
	for _, name := range []string{"kube-controller-manager", "kube-scheduler", "kwok"} {
		if _, err := c.start(name, c.args(name)); err != nil {
			return err
		}
	}
	if fresh {
		if err := c.CreateNodes(ctx, nodes...); err != nil {
			return err
		}
	}
	if err := waitFor(ctx, 200*time.Millisecond, c.running(), c.defaultServiceAccountExists); err != nil {
		return fmt.Errorf("wait for the default service account: %w", err)
	}
	if err := c.WaitNodesReady(ctx); err != nil {
		return err
	}
	return nil
}

func (c *Cluster) start(name string, args []string) (*process, error) {
	p, err := startProcess(name, filepath.Join(c.binDir, name), args, c.LogPath(name), nil)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	return p, nil
}

func (c *Cluster) running() []*process {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*process(nil), c.procs...)
}

// Stop shuts the components down in reverse start order and releases the
// directory. It is safe to call more than once.
func (c *Cluster) Stop() {
	c.stopProcesses()
	c.lock.Unlock()
}

func (c *Cluster) stopProcesses() {
	c.mu.Lock()
	procs := c.procs
	c.procs = nil
	c.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop(20 * time.Second)
	}
}

// Err returns a description of the first component that exited on its own,
// or nil while all run.
func (c *Cluster) Err() error {
	for _, p := range c.running() {
		if p.exited() {
			return p.failure()
		}
	}
	return nil
}

// Done is closed when any component exits.
func (c *Cluster) Done() <-chan struct{} {
	ch := make(chan struct{})
	procs := c.running()
	go func() {
		cases := make(chan struct{}, len(procs))
		for _, p := range procs {
			go func() { <-p.done; cases <- struct{}{} }()
		}
		if len(procs) > 0 {
			<-cases
		}
		close(ch)
	}()
	return ch
}

// KubeconfigPath is the admin (system:masters) kubeconfig.
func (c *Cluster) KubeconfigPath() string { return filepath.Join(c.Dir, "kubeconfig") }

// LogPath is the log file of a component.
func (c *Cluster) LogPath(component string) string {
	return filepath.Join(c.Dir, "logs", component+".log")
}

// RESTConfig returns a copy of the admin client configuration.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.restConfig) }

// Client returns an admin clientset.
func (c *Cluster) Client() kubernetes.Interface { return c.client }

// URL is the apiserver's address.
func (c *Cluster) URL() string { return "https://127.0.0.1:" + strconv.Itoa(c.state.Ports.APIServer) }

// CACertPEM returns the cluster CA certificate.
func (c *Cluster) CACertPEM() ([]byte, error) {
	return os.ReadFile(filepath.Join(c.Dir, "pki", "ca.crt"))
}

// PIDs maps each running component to its process id.
func (c *Cluster) PIDs() map[string]int {
	m := map[string]int{}
	for _, p := range c.running() {
		if !p.exited() {
			m[p.name] = p.cmd.Process.Pid
		}
	}
	return m
}

// Nodes returns the node specs the cluster was created with.
func (c *Cluster) Nodes() []NodeSpec { return c.state.Nodes }

func (c *Cluster) pki(name string) string { return filepath.Join(c.Dir, "pki", name) }

func (c *Cluster) etcdArgs() []string {
	p := c.state.Ports
	client := "https://127.0.0.1:" + strconv.Itoa(p.EtcdClient)
	peer := "http://127.0.0.1:" + strconv.Itoa(p.EtcdPeer)
	return []string{
		"--name=" + c.Name,
		"--data-dir=" + filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=" + c.Name + "=" + peer,
		"--listen-metrics-urls=",
		"--cert-file=" + c.pki("etcd-server.crt"),
		"--key-file=" + c.pki("etcd-server.key"),
		"--client-cert-auth=true",
		"--trusted-ca-file=" + c.pki("ca.crt"),
		"--quota-backend-bytes=4294967296",
		"--snapshot-count=10000",
		"--log-level=warn",
		// Loopback disks on shared machines are slow to fsync; the defaults
		// make etcd log warnings for every slow write.
		"--heartbeat-interval=250",
		"--election-timeout=2500",
	}
}

func (c *Cluster) apiserverArgs() []string {
	p := c.state.Ports
	var audit []string
	if c.auditPolicy != "" {
		audit = []string{
			"--audit-policy-file=" + filepath.Join(c.Dir, "audit-policy.yaml"),
			"--audit-log-path=" + c.AuditLogPath(),
			"--audit-log-maxsize=100",
			"--audit-log-maxbackup=5",
			"--audit-log-format=json",
		}
	}
	return append(audit, []string{
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(p.APIServer),
		"--etcd-servers=https://127.0.0.1:" + strconv.Itoa(p.EtcdClient),
		"--etcd-cafile=" + c.pki("ca.crt"),
		"--etcd-certfile=" + c.pki("etcd-client.crt"),
		"--etcd-keyfile=" + c.pki("etcd-client.key"),
		"--tls-cert-file=" + c.pki("apiserver.crt"),
		"--tls-private-key-file=" + c.pki("apiserver.key"),
		"--client-ca-file=" + c.pki("ca.crt"),
		"--authorization-mode=Node,RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + c.pki("sa.key"),
		"--service-account-signing-key-file=" + c.pki("sa.key"),
		"--service-cluster-ip-range=10.96.0.0/16",
		// A loopback address cannot be an Endpoints address.
		"--endpoint-reconciler-type=none",
		"--allow-privileged=true",
		"--kubelet-client-certificate=" + c.pki("kubelet-client.crt"),
		"--kubelet-client-key=" + c.pki("kubelet-client.key"),
		"--kubelet-certificate-authority=" + c.pki("ca.crt"),
		"--kubelet-preferred-address-types=InternalIP",
		"--cert-dir=" + filepath.Join(c.Dir, "pki", "generated"),
		"--profiling=false",
		"--v=1",
	}...)
}

// AuditLogPath is where the apiserver writes its audit log when an audit
// policy was given.
func (c *Cluster) AuditLogPath() string { return filepath.Join(c.Dir, "logs", "audit.log") }

func (c *Cluster) args(component string) []string {
	p := c.state.Ports
	kc := func(n string) string { return filepath.Join(c.Dir, "kubeconfigs", n+".kubeconfig") }
	switch component {
	case "kube-controller-manager":
		return []string{
			"--kubeconfig=" + kc("controller-manager"),
			"--authentication-kubeconfig=" + kc("controller-manager"),
			"--authorization-kubeconfig=" + kc("controller-manager"),
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(p.ControllerManager),
			"--cert-dir=" + filepath.Join(c.Dir, "pki", "generated"),
			"--leader-elect=false",
			"--use-service-account-credentials=true",
			"--service-account-private-key-file=" + c.pki("sa.key"),
			"--root-ca-file=" + c.pki("ca.crt"),
			"--cluster-signing-cert-file=" + c.pki("ca.crt"),
			"--cluster-signing-key-file=" + c.pki("ca.key"),
			"--profiling=false",
			"--v=1",
		}
	case "kube-scheduler":
		return []string{
			"--kubeconfig=" + kc("scheduler"),
			"--authentication-kubeconfig=" + kc("scheduler"),
			"--authorization-kubeconfig=" + kc("scheduler"),
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(p.Scheduler),
			"--cert-dir=" + filepath.Join(c.Dir, "pki", "generated"),
			"--leader-elect=false",
			"--profiling=false",
			"--v=1",
		}
	case "kwok":
		return []string{
			"--kubeconfig=" + kc("kwok"),
			"--config=" + filepath.Join(c.Dir, "kwok.yaml"),
			"--tls-cert-file=" + c.pki("kwok-serving.crt"),
			"--tls-private-key-file=" + c.pki("kwok-serving.key"),
			"--node-ip=127.0.0.1",
			"--node-port=" + strconv.Itoa(p.Kwok),
			"--server-address=127.0.0.1:" + strconv.Itoa(p.Kwok),
			// Without a lease duration the heartbeat stage never runs and
			// nodes turn NotReady after the grace period.
			"--node-lease-duration-seconds=40",
			// The default pod range runs out at 254 pods.
			"--cidr=10.0.0.0/16",
			"--manage-nodes-with-annotation-selector=" + FakeNodeAnnotation + "=fake",
		}
	}
	panic("unknown component " + component) // programming error: callers pass constants
}

// writeKubeconfigs writes the admin kubeconfig and one per component, all
// with embedded certificates so they can be copied elsewhere.
func (c *Cluster) writeKubeconfigs() error {
	caPEM, err := os.ReadFile(c.pki("ca.crt"))
	if err != nil {
		return fmt.Errorf("read cluster ca: %w", err)
	}
	write := func(path, certName string) error {
		cert, err := os.ReadFile(c.pki(certName + ".crt"))
		if err != nil {
			return fmt.Errorf("read %s certificate: %w", certName, err)
		}
		key, err := os.ReadFile(c.pki(certName + ".key"))
		if err != nil {
			return fmt.Errorf("read %s key: %w", certName, err)
		}
		cfg := clientcmdapi.NewConfig()
		cfg.Clusters[c.Name] = &clientcmdapi.Cluster{Server: c.URL(), CertificateAuthorityData: caPEM}
		cfg.AuthInfos[c.Name+"-"+certName] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
		cfg.Contexts[c.Name] = &clientcmdapi.Context{Cluster: c.Name, AuthInfo: c.Name + "-" + certName}
		cfg.CurrentContext = c.Name
		if err := clientcmd.WriteToFile(*cfg, path); err != nil {
			return fmt.Errorf("write kubeconfig %s: %w", path, err)
		}
		return os.Chmod(path, 0o600)
	}
	if err := write(c.KubeconfigPath(), "admin"); err != nil {
		return err
	}
	for _, n := range []string{"controller-manager", "scheduler", "kwok"} {
		if err := write(filepath.Join(c.Dir, "kubeconfigs", n+".kubeconfig"), n); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) etcdHealthy(ctx context.Context) (bool, error) {
	rt, err := rest.TransportFor(&rest.Config{TLSClientConfig: rest.TLSClientConfig{
		CAFile: c.pki("ca.crt"), CertFile: c.pki("etcd-client.crt"), KeyFile: c.pki("etcd-client.key"),
	}})
	if err != nil {
		return false, fmt.Errorf("etcd client transport: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://127.0.0.1:"+strconv.Itoa(c.state.Ports.EtcdClient)+"/health", nil)
	if err != nil {
		return false, err
	}
	resp, err := (&http.Client{Transport: rt, Timeout: 2 * time.Second}).Do(req)
	if err != nil {
		return false, nil
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}

func (c *Cluster) apiserverReady(ctx context.Context) (bool, error) {
	res := c.client.Discovery().RESTClient().Get().AbsPath("/readyz").Timeout(2 * time.Second).Do(ctx)
	var code int
	res.StatusCode(&code)
	return code == http.StatusOK, nil
}

func (c *Cluster) defaultServiceAccountExists(ctx context.Context) (bool, error) {
	_, err := c.client.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, nil
}

// WaitNodesReady waits until every simulated node reports Ready.
func (c *Cluster) WaitNodesReady(ctx context.Context) error {
	var notReady []string
	err := waitFor(ctx, 250*time.Millisecond, c.running(), func(ctx context.Context) (bool, error) {
		nodes, err := c.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		notReady = notReady[:0]
		for _, n := range nodes.Items {
			if !nodeReady(&n) {
				notReady = append(notReady, n.Name)
			}
		}
		return len(notReady) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("wait for nodes %v to be Ready: %w", notReady, err)
	}
	return nil
}

func nodeReady(n *corev1.Node) bool {
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}
