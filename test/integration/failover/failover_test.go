// Package failover_test runs two `bokujo server` processes on one
// management cluster, kills the one running the controllers with SIGKILL
// and checks that the other takes over: tokens and bindings survive, the
// proxy keeps answering, and RBAC sync acts on a new binding.
package failover_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/auth"
	"bokujo.io/bokujo/internal/localcluster"
	"bokujo.io/bokujo/internal/pki"
	"bokujo.io/bokujo/test/framework"
	"bokujo.io/bokujo/test/framework/testserver"
)

var env *framework.Env

func TestMain(m *testing.M) {
	framework.Main(m, &env,
		framework.ClusterSpec{Name: "mgmt"},
		framework.ClusterSpec{Name: "dev", Nodes: localcluster.CPUNodes("dev-cpu", 1)},
		// A cluster of its own for the agent test: RBAC sync of "dev"
		// would prune the bindings another registration wrote there.
		framework.ClusterSpec{Name: "edge", Nodes: localcluster.CPUNodes("edge-cpu", 1)},
	)
}

// replica is one `bokujo server` process.
type replica struct {
	cmd     *exec.Cmd
	url     string
	mu      sync.Mutex
	elected bool
}

func (r *replica) isElected() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.elected
}

func startReplica(t *testing.T, kubeconfig, certFile, keyFile, caFile string) *replica {
	t.Helper()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	bin := filepath.Join(framework.BinDir(t), "bokujo")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s not built: run `make build`", bin)
	}
	cmd := exec.Command(bin, "server", "--kubeconfig", kubeconfig, "--listen", addr, "--tls-cert-file", certFile,
		"--tls-key-file", keyFile, "--ca-file", caFile, "--data-dir", t.TempDir(), "--leader-elect", "--allow-loopback-clusters",
		// Two replicas on one machine: each its own metrics port.
		"--metrics-listen", "127.0.0.1:0")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{cmd: cmd, url: "https://" + addr}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "elected to run the controllers") {
				r.mu.Lock()
				r.elected = true
				r.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return r
}

func TestLeaderKilledOtherTakesOver(t *testing.T) {
	if env == nil {
		t.Skip("integration test: needs real clusters (runs without -short)")
	}
	ctx := context.Background()
	// Prepare state with an in-process server: a user, a token, the dev
	// cluster and a binding. Then stop it; only the two replicas remain.
	setup := testserver.Start(t, env.RESTConfig(t, "mgmt"))
	a := setup.App
	if err := a.Registry.ImportConfig(ctx, "dev", "", env.Cluster(t, "dev").RESTConfig()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Auth.CreateLocalUser(ctx, "alice", "Alice", "a long enough password 42"); err != nil {
		t.Fatal(err)
	}
	token, _, err := a.Auth.CreateToken(ctx, "alice", auth.TokenRequest{Type: mgmtv1.TokenTypeAPI, Description: "failover", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	bind := func(name, template string) {
		b := &mgmtv1.ClusterRoleTemplateBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: mgmtv1.ClusterRoleTemplateBindingSpec{
			ClusterName: "dev", RoleTemplateName: template, Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: "alice"}}}
		if err := a.Client.Create(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	bind("alice-viewer", "cluster-viewer")
	a.Stop()

	dir := t.TempDir()
	ca, _ := pki.NewCA("failover-ca")
	kp, _ := ca.Issue(pki.Spec{CommonName: "bokujo", IPs: []net.IP{net.ParseIP("127.0.0.1")}, Server: true})
	if err := kp.Write(dir, "server"); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.crt")
	os.WriteFile(caFile, ca.CertPEM, 0o600)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(base, path string) (int, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	kc := env.Cluster(t, "mgmt").KubeconfigPath()
	r1 := startReplica(t, kc, filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"), caFile)
	r2 := startReplica(t, kc, filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"), caFile)
	var leader, follower *replica
	framework.Eventually(t, framework.Medium, func() error {
		switch {
		case r1.isElected() && r2.isElected():
			t.Fatal("both replicas run the controllers")
		case r1.isElected():
			leader, follower = r1, r2
		case r2.isElected():
			leader, follower = r2, r1
		default:
			return fmt.Errorf("no replica elected yet")
		}
		return nil
	})
	for _, r := range []*replica{leader, follower} {
		framework.Eventually(t, framework.Medium, func() error {
			if code, body := get(r.url, "/k8s/clusters/dev/api/v1/namespaces/default/pods"); code != 200 {
				return fmt.Errorf("%s: %d %s", r.url, code, body)
			}
			return nil
		})
	}

	if err := leader.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = leader.cmd.Wait()
	start := time.Now()

	// The survivor serves at once: the token and the binding are objects
	// in the management cluster, not state of the killed process.
	if code, body := get(follower.url, "/k8s/clusters/dev/api/v1/namespaces/default/pods"); code != 200 {
		t.Fatalf("follower after the leader died: %d %s", code, body)
	}
	// It takes over the controllers...
	framework.Eventually(t, framework.Medium, func() error {
		if !follower.isElected() {
			return fmt.Errorf("follower not elected yet")
		}
		return nil
	})
	t.Logf("controllers taken over %s after the leader was killed", time.Since(start).Round(100*time.Millisecond))
	// ...and they work: a new binding reaches the downstream cluster.
	bindClient := env.Client(t, "dev")
	if err := createBinding(ctx, t, "alice-owner"); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, framework.Medium, func() error {
		_, err := bindClient.RbacV1().ClusterRoleBindings().Get(ctx, "bokujo:crtb:alice-owner", metav1.GetOptions{})
		return err
	})
	if code, body := get(follower.url, "/v1/clusters"); code != 200 || !strings.Contains(body, `"name":"dev"`) {
		t.Fatalf("clusters after failover: %d %s", code, body)
	}
}

// createBinding writes a binding with a plain client: the in-process setup
// server is stopped by now.
func createBinding(ctx context.Context, t *testing.T, name string) error {
	c := testserver.ManagementClient(t, env.RESTConfig(t, "mgmt"))
	return c.Create(ctx, &mgmtv1.ClusterRoleTemplateBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: mgmtv1.ClusterRoleTemplateBindingSpec{
		ClusterName: "dev", RoleTemplateName: "cluster-owner", Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: "alice"}}})
}
