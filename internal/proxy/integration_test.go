package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	"bokujo.io/bokujo/internal/localcluster"
	"bokujo.io/bokujo/internal/proxy"
	"bokujo.io/bokujo/test/framework"
)

var env *framework.Env

func TestMain(m *testing.M) {
	framework.Main(m, &env, framework.ClusterSpec{Name: "dev", Nodes: localcluster.GPUNodes("dev-gpu", 1, 8)})
}

// liveUsers are the bokujo users of the integration tests, by bearer token.
var liveUsers = map[string]*proxy.User{
	"alice-token": {Name: "alice", Groups: []string{"ml"}},
	"carol-token": {Name: "carol"},
}

type liveAuthenticator struct{}

func (liveAuthenticator) Authenticate(r *http.Request) (*proxy.User, proxy.AuthMethod, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if u := liveUsers[tok]; ok && u != nil {
		return u, proxy.AuthMethod{Kind: proxy.AuthBearer}, nil
	}
	return nil, proxy.AuthMethod{}, proxy.ErrUnauthenticated
}

type liveResolver struct{ dev *proxy.Target }

func (r liveResolver) Resolve(_ context.Context, cluster string, _ *proxy.User) (*proxy.Target, error) {
	if cluster == "dev" {
		return r.dev, nil
	}
	return nil, proxy.ErrClusterNotFound
}

const (
	identityNamespace = "bokujo-system"
	identityName      = "bokujo-proxy"
)

var (
	identityOnce  sync.Once
	identityToken string
	identityErr   error
)

// proxyIdentity creates, once per package, the service account the proxy
// acts as, whose only right is to impersonate users and groups, and returns
// its token.
func proxyIdentity(t *testing.T) string {
	t.Helper()
	identityOnce.Do(func() { identityToken, identityErr = createProxyIdentity(env.Client(t, "dev")) })
	if identityErr != nil {
		t.Fatalf("create the proxy identity: %v", identityErr)
	}
	return identityToken
}

func createProxyIdentity(c kubernetes.Interface) (string, error) {
	ctx := context.Background()
	_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: identityNamespace}}, metav1.CreateOptions{})
	if ignoreExists(err) != nil {
		return "", err
	}
	_, err = c.CoreV1().ServiceAccounts(identityNamespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: identityName}}, metav1.CreateOptions{})
	if ignoreExists(err) != nil {
		return "", err
	}
	_, err = c.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: identityName},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"users", "groups"}, Verbs: []string{"impersonate"}}},
	}, metav1.CreateOptions{})
	if ignoreExists(err) != nil {
		return "", err
	}
	_, err = c.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: identityName},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: identityName},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: identityNamespace, Name: identityName}},
	}, metav1.CreateOptions{})
	if ignoreExists(err) != nil {
		return "", err
	}
	tr, err := c.CoreV1().ServiceAccounts(identityNamespace).CreateToken(ctx, identityName, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("request proxy identity token: %w", err)
	}
	return tr.Status.Token, nil
}

func ignoreExists(err error) error {
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// liveProxy is the proxy in front of the dev cluster, served over TLS with
// HTTP/2 like the bokujo server.
type liveProxy struct {
	url     string
	caPEM   []byte
	caFile  string
	auditor *memAuditor

	mu sync.Mutex
	// upgrades are the Upgrade headers of requests that reached the proxy.
	upgrades []string
	// protos counts requests by HTTP major version.
	protos map[int]int
}

func startLiveProxy(t *testing.T) *liveProxy {
	t.Helper()
	if env == nil {
		t.Skip("integration test: needs the local cluster (skipped with -short)")
	}
	token := proxyIdentity(t)
	cluster := env.Cluster(t, "dev")
	ca, err := cluster.CACertPEM()
	if err != nil {
		t.Fatal(err)
	}
	target, err := proxy.NewTarget(&rest.Config{Host: cluster.URL(), BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: ca}})
	if err != nil {
		t.Fatal(err)
	}
	lp := &liveProxy{auditor: &memAuditor{}, protos: map[int]int{}}
	h, err := proxy.New(proxy.Options{Authenticator: liveAuthenticator{}, Resolver: liveResolver{dev: target}, Auditor: lp.auditor})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lp.mu.Lock()
		if u := r.Header.Get("Upgrade"); u != "" {
			lp.upgrades = append(lp.upgrades, u)
		}
		lp.protos[r.ProtoMajor]++
		lp.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	lp.url = srv.URL
	lp.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	lp.caFile = filepath.Join(t.TempDir(), "proxy-ca.crt")
	if err := os.WriteFile(lp.caFile, lp.caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return lp
}

func (lp *liveProxy) seenUpgrades() []string {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	return append([]string(nil), lp.upgrades...)
}

// kubeconfig writes a kubeconfig for one user that points at the proxy,
// as bokujo's generated kubeconfigs do.
func (lp *liveProxy) kubeconfig(t *testing.T, token, namespace string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["dev"] = &clientcmdapi.Cluster{Server: lp.url + "/k8s/clusters/dev", CertificateAuthority: lp.caFile}
	cfg.AuthInfos["user"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["dev"] = &clientcmdapi.Context{Cluster: "dev", AuthInfo: "user", Namespace: namespace}
	cfg.CurrentContext = "dev"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// kubectlCmd prepares the real kubectl with a clean environment: its own
// HOME (discovery cache) and the user's kubeconfig.
func (lp *liveProxy) kubectlCmd(ctx context.Context, t *testing.T, token, namespace string, extraEnv []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(ctx, filepath.Join(framework.BinDir(t), "kubectl"), args...)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"KUBECONFIG=" + lp.kubeconfig(t, token, namespace),
	}, extraEnv...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// kubectl runs kubectl to completion and returns stdout and stderr.
func (lp *liveProxy) kubectl(t *testing.T, token, namespace string, extraEnv []string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), framework.Medium)
	defer cancel()
	cmd := lp.kubectlCmd(ctx, t, token, namespace, extraEnv, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// lineStream runs a long-lived kubectl and hands its output lines over a
// channel; the command is killed when the test ends.
func (lp *liveProxy) lineStream(t *testing.T, token, namespace string, extraEnv []string, args ...string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), framework.Medium)
	cmd := lp.kubectlCmd(ctx, t, token, namespace, extraEnv, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1000)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("kubectl %s stderr: %s", strings.Join(args, " "), stderr.String())
		}
	})
	return lines
}

// waitLine waits for a line holding want; more lines may come before it.
func waitLine(t *testing.T, lines <-chan string, want string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("kubectl ended before printing %q", want)
			}
			if strings.Contains(l, want) {
				return l
			}
		case <-deadline:
			t.Fatalf("kubectl did not print %q within %s", want, timeout)
		}
	}
}

// grant binds a downstream user to a Role in a namespace, as RBAC sync
// will: the subject is the prefixed name.
func grant(t *testing.T, namespace, user string, rules ...rbacv1.PolicyRule) {
	t.Helper()
	ctx := context.Background()
	c := env.Client(t, "dev")
	name := "bokujo-" + user
	if _, err := c.RbacV1().Roles(namespace).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RbacV1().RoleBindings(namespace).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: proxy.UserPrefix + user}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// developer is what alice may do in her namespace.
var developer = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"pods", "pods/log", "configmaps"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
	{APIGroups: []string{""}, Resources: []string{"pods/exec", "pods/portforward", "pods/attach"}, Verbs: []string{"get", "create"}},
}

// viewer may only read pods.
var viewer = []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}}

// runningPod creates a pod on the simulated node and waits until it runs.
func runningPod(t *testing.T, namespace, name string) {
	t.Helper()
	c := env.Client(t, "dev")
	_, err := c.CoreV1().Pods(namespace).Create(context.Background(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, framework.Medium, func() error {
		p, err := c.CoreV1().Pods(namespace).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("pod %s is %s", name, p.Status.Phase)
		}
		return nil
	})
}

// TestProxyIdentityOnlyImpersonates checks the premise of the design: the
// proxy's own identity can do nothing but impersonate, so a request that
// somehow left without impersonation headers would be refused.
func TestProxyIdentityOnlyImpersonates(t *testing.T) {
	t.Parallel()
	startLiveProxy(t)
	token := proxyIdentity(t)
	ca, err := env.Cluster(t, "dev").CACertPEM()
	if err != nil {
		t.Fatal(err)
	}
	c, err := kubernetes.NewForConfig(&rest.Config{Host: env.Cluster(t, "dev").URL(), BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: ca}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("the proxy identity listed pods on its own: %v", err)
	}
}

func TestKubectlGetPods(t *testing.T) {
	t.Parallel()
	lp := startLiveProxy(t)
	ns, other := env.Namespace(t, "dev"), env.Namespace(t, "dev")
	grant(t, ns, "alice", developer...)

	t.Run("allowed in her namespace", func(t *testing.T) {
		_, stderr, err := lp.kubectl(t, "alice-token", ns, nil, "get", "pods")
		if err != nil {
			t.Fatalf("kubectl get pods: %v: %s", err, stderr)
		}
	})
	t.Run("forbidden in another namespace", func(t *testing.T) {
		_, stderr, err := lp.kubectl(t, "alice-token", other, nil, "get", "pods")
		if err == nil {
			t.Fatal("kubectl get pods in a namespace alice has no rights in succeeded")
		}
		want := fmt.Sprintf(`User "bokujo:alice" cannot list resource "pods" in API group "" in the namespace "%s"`, other)
		if !strings.Contains(stderr, "Forbidden") || !strings.Contains(stderr, want) {
			t.Fatalf("stderr %q does not hold the apiserver's Forbidden for %s", stderr, want)
		}
	})
	t.Run("unknown cluster gives a clean NotFound", func(t *testing.T) {
		// kubectl's discovery turns any 404 into its own fixed message.
		_, stderr, err := lp.kubectl(t, "alice-token", ns, nil, "--server", lp.url+"/k8s/clusters/ghost", "get", "pods")
		if err == nil || !strings.Contains(stderr, "Error from server (NotFound)") {
			t.Fatalf("kubectl against an unknown cluster: %v: %q", err, stderr)
		}
		// client-go decodes the Status and shows the proxy's message.
		c, err := kubernetes.NewForConfig(&rest.Config{Host: lp.url + "/k8s/clusters/ghost", BearerToken: "alice-token", TLSClientConfig: rest.TLSClientConfig{CAData: lp.caPEM}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		if !apierrors.IsNotFound(err) || err.Error() != `clusters "ghost" not found` {
			t.Fatalf("client-go against an unknown cluster: %v", err)
		}
	})
	t.Run("audited", func(t *testing.T) {
		var codes []int
		for _, r := range lp.auditor.records() {
			if r.Cluster == "dev" && r.Verb == "list" && r.Resource == "pods" && (r.Namespace == ns || r.Namespace == other) {
				codes = append(codes, r.Code)
				if r.User != "alice" {
					t.Errorf("record %+v", r)
				}
			}
		}
		if fmt.Sprint(codes) != "[200 403]" {
			t.Errorf("audited list pods codes %v, want [200 403]", codes)
		}
	})
}

func TestKubectlServerSideApply(t *testing.T) {
	t.Parallel()
	lp := startLiveProxy(t)
	ns := env.Namespace(t, "dev")
	grant(t, ns, "alice", developer...)
	manifest := filepath.Join(t.TempDir(), "cm.yaml")
	if err := os.WriteFile(manifest, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := lp.kubectl(t, "alice-token", ns, nil, "apply", "--server-side", "-f", manifest)
	if err != nil || !strings.Contains(stdout, "configmap/settings serverside-applied") {
		t.Fatalf("kubectl apply --server-side: %v: %s %s", err, stdout, stderr)
	}
	cm, err := env.Client(t, "dev").CoreV1().ConfigMaps(ns).Get(context.Background(), "settings", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["mode"] != "fast" || len(cm.ManagedFields) == 0 || cm.ManagedFields[0].Operation != metav1.ManagedFieldsOperationApply {
		t.Fatalf("configmap not server-side applied: %+v", cm)
	}
}

func TestKubectlWatch(t *testing.T) {
	t.Parallel()
	lp := startLiveProxy(t)
	ns := env.Namespace(t, "dev")
	grant(t, ns, "alice", developer...)
	c := env.Client(t, "dev")
	pod := func(name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}}
	}
	if _, err := c.CoreV1().Pods(ns).Create(context.Background(), pod("before-watch"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	lines := lp.lineStream(t, "alice-token", ns, nil, "get", "pods", "-w")
	// The initial list is printed; whatever follows comes from the watch.
	waitLine(t, lines, "before-watch", framework.Short)
	if _, err := c.CoreV1().Pods(ns).Create(context.Background(), pod("during-watch"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitLine(t, lines, "during-watch", framework.Short)
}

func TestKubectlLogsFollow(t *testing.T) {
	t.Parallel()
	lp := startLiveProxy(t)
	ns := env.Namespace(t, "dev")
	grant(t, ns, "alice", developer...)
	runningPod(t, ns, "trainer")
	lines := lp.lineStream(t, "alice-token", ns, nil, "logs", "-f", "trainer")
	waitLine(t, lines, "simulated container started", framework.Short)
	// A line appended now can only arrive through the open follow stream.
	marker := fmt.Sprintf("follow-marker-%d", time.Now().UnixNano())
	if err := env.Cluster(t, "dev").AppendSimulatedLog(marker); err != nil {
		t.Fatal(err)
	}
	waitLine(t, lines, marker, framework.Short)
}

func TestKubectlExec(t *testing.T) {
	t.Parallel()
	lp := startLiveProxy(t)
	ns := env.Namespace(t, "dev")
	grant(t, ns, "alice", developer...)
	runningPod(t, ns, "shell")
	for _, tc := range []struct {
		name     string
		env      []string
		protocol string
	}{
		{"websocket", nil, "websocket"},
		{"spdy", []string{"KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false"}, "SPDY/3.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(lp.seenUpgrades())
			stdout, stderr, err := lp.kubectl(t, "alice-token", ns, tc.env, "exec", "shell", "--", "echo", "hello")
			if err != nil || stdout != "hello\n" {
				t.Fatalf("kubectl exec: %v: stdout %q stderr %q", err, stdout, stderr)
			}
			// kubectl falls back from WebSocket to SPDY on its own; the
			// upgrades seen prove which protocol carried the session.
			if got := lp.seenUpgrades()[before:]; len(got) != 1 || !strings.EqualFold(got[0], tc.protocol) {
				t.Fatalf("upgrades seen by the proxy %q, want exactly one %s", got, tc.protocol)
			}
		})
	}
}

func TestKubectlExecForbiddenWithGetOnly(t *testing.T) {
	t.Parallel()
	lp := startLiveProxy(t)
	ns := env.Namespace(t, "dev")
	grant(t, ns, "carol", viewer...)
	runningPod(t, ns, "shell")
	if _, stderr, err := lp.kubectl(t, "carol-token", ns, nil, "get", "pod", "shell"); err != nil {
		t.Fatalf("carol cannot get the pod she may read: %v: %s", err, stderr)
	}
	stdout, stderr, err := lp.kubectl(t, "carol-token", ns, nil, "exec", "shell", "--", "echo", "hello")
	if err == nil || strings.Contains(stdout, "hello") {
		t.Fatalf("exec with only get rights ran: stdout %q", stdout)
	}
	// The downstream apiserver decided, for the impersonated user.
	if want := `User "bokujo:carol" cannot create resource "pods/exec"`; !strings.Contains(stderr, want) {
		t.Fatalf("exec refused without the apiserver's Forbidden (%s): %q", want, stderr)
	}
	for _, r := range lp.auditor.records() {
		if r.Subresource == "exec" && r.Code == http.StatusSwitchingProtocols {
			t.Fatalf("an exec session was switched for carol: %+v", r)
		}
	}
}

var forwardingFrom = regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> 8080`)

func TestKubectlPortForward(t *testing.T) {
	t.Parallel()
	lp := startLiveProxy(t)
	ns := env.Namespace(t, "dev")
	grant(t, ns, "alice", developer...)
	runningPod(t, ns, "server")
	for _, tc := range []struct {
		name     string
		env      []string
		protocol string
	}{
		{"websocket", nil, "websocket"},
		{"spdy", []string{"KUBECTL_PORT_FORWARD_WEBSOCKETS=false"}, "SPDY/3.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(lp.seenUpgrades())
			lines := lp.lineStream(t, "alice-token", ns, tc.env, "port-forward", "--address", "127.0.0.1", "pod/server", ":8080")
			m := forwardingFrom.FindStringSubmatch(waitLine(t, lines, "Forwarding from 127.0.0.1", framework.Short))
			if m == nil {
				t.Fatal("no local port in kubectl's output")
			}
			conn, err := net.DialTimeout("tcp", "127.0.0.1:"+m[1], 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(framework.Short))
			msg := "bytes through bokujo's proxy " + tc.name + "\n"
			if _, err := io.WriteString(conn, msg); err != nil {
				t.Fatal(err)
			}
			got, err := bufio.NewReader(conn).ReadString('\n')
			if err != nil || got != msg {
				t.Fatalf("echo through port-forward: %q, %v", got, err)
			}
			if got := lp.seenUpgrades()[before:]; len(got) != 1 || !strings.EqualFold(got[0], tc.protocol) {
				t.Fatalf("upgrades seen by the proxy %q, want exactly one %s", got, tc.protocol)
			}
		})
	}
}

// TestClientGoChunkedList pages through a few hundred objects with
// Limit/Continue over HTTP/2, as informers and `kubectl get` do.
func TestClientGoChunkedList(t *testing.T) {
	t.Parallel()
	lp := startLiveProxy(t)
	ns := env.Namespace(t, "dev")
	grant(t, ns, "alice", developer...)
	const total, page = 300, 40
	admin := env.Client(t, "dev")
	var wg sync.WaitGroup
	errs := make(chan error, total)
	sem := make(chan struct{}, 8)
	for i := range total {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			_, err := admin.CoreV1().ConfigMaps(ns).Create(context.Background(), &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%03d", i), Labels: map[string]string{"bulk": "true"}},
				Data:       map[string]string{"payload": strings.Repeat("x", 512)},
			}, metav1.CreateOptions{})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	if err := errors.Join(collect(errs)...); err != nil {
		t.Fatal(err)
	}

	c, err := kubernetes.NewForConfig(&rest.Config{
		Host: lp.url + "/k8s/clusters/dev", BearerToken: "alice-token",
		TLSClientConfig: rest.TLSClientConfig{CAData: lp.caPEM},
	})
	if err != nil {
		t.Fatal(err)
	}
	lp.mu.Lock()
	h1 := lp.protos[1]
	lp.mu.Unlock()
	seen := map[string]bool{}
	pages := 0
	opts := metav1.ListOptions{LabelSelector: "bulk=true", Limit: page}
	for {
		list, err := c.CoreV1().ConfigMaps(ns).List(context.Background(), opts)
		if err != nil {
			t.Fatalf("list page %d: %v", pages, err)
		}
		pages++
		for _, cm := range list.Items {
			seen[cm.Name] = true
		}
		if list.Continue == "" {
			break
		}
		opts.Continue = list.Continue
	}
	if len(seen) != total || pages != (total+page-1)/page {
		t.Fatalf("%d configmaps in %d pages, want %d in %d", len(seen), pages, total, (total+page-1)/page)
	}
	lp.mu.Lock()
	defer lp.mu.Unlock()
	if lp.protos[1] != h1 || lp.protos[2] < pages {
		t.Fatalf("requests by protocol %v: client-go should have used HTTP/2 only", lp.protos)
	}
}

func collect(ch <-chan error) []error {
	var out []error
	for err := range ch {
		out = append(out, err)
	}
	return out
}
