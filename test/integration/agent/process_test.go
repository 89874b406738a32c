package agent_test

import (
	"context"
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
	"bokujo.io/bokujo/internal/agent"
	"bokujo.io/bokujo/internal/api"
	"bokujo.io/bokujo/internal/auth"
	"bokujo.io/bokujo/internal/clusters"
	"bokujo.io/bokujo/test/framework"
	"bokujo.io/bokujo/test/framework/testserver"
)

// agentProcess runs the real `bokujo agent` binary beside a cluster.
func agentProcess(t *testing.T, s *testserver.Server, kubeconfig, stateDir, token string) (*exec.Cmd, *testserver.SyncBuffer) {
	t.Helper()
	bin := filepath.Join(framework.BinDir(t), "bokujo")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s not built: run `make build`", bin)
	}
	args := []string{"agent", "--server", s.URL, "--ca-file", s.CAFile, "--kubeconfig", kubeconfig, "--state-dir", stateDir}
	if token != "" {
		args = append(args, "--token", token)
	}
	cmd := exec.Command(bin, args...)
	logs := &testserver.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, logs
}

// TestKilledAgentProcess runs `bokujo agent` as its own process, SIGKILLs
// it, and checks the cluster turns Disconnected within 10 s with a 503
// from the proxy, then Ready again when the process is started again
// (with the credential it kept, no token) and the server was never
// restarted.
func TestKilledAgentProcess(t *testing.T) {
	if env == nil {
		t.Skip("integration test: needs real clusters (runs without -short)")
	}
	ctx := context.Background()
	s := testserver.Start(t, env.RESTConfig(t, "mgmt"))
	if _, err := s.App.Auth.CreateLocalUser(ctx, "ops", "Ops", password); err != nil {
		t.Fatal(err)
	}
	if err := s.App.Client.Create(ctx, &mgmtv1.GlobalRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "root-admin-process"}, Spec: mgmtv1.GlobalRoleBindingSpec{
		GlobalRoleName: mgmtv1.GlobalRoleAdmin, Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: "ops"}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.App.Client.Delete(ctx, &mgmtv1.GlobalRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "root-admin-process"}})
	})
	root, _, err := s.App.Auth.CreateToken(ctx, "ops", auth.TokenRequest{Type: mgmtv1.TokenTypeAPI, Description: "test", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	code, body := call(t, s, root, "POST", "/v1/clusters/agent", map[string]any{"name": "edge-proc"})
	if code != http.StatusCreated {
		t.Fatalf("add agent cluster: %d %s", code, body)
	}
	var added api.AgentCluster
	mustJSON(t, body, &added)
	t.Cleanup(func() { _ = s.App.Registry.Remove(ctx, "edge-proc") })

	t.Run("two uses of one token at once: exactly one registers", func(t *testing.T) {
		creds, err := clusters.Provision(ctx, env.Cluster(t, "other").RESTConfig())
		if err != nil {
			t.Fatal(err)
		}
		tok, err := s.App.Registry.IssueRegistrationToken(ctx, "edge-proc")
		if err != nil {
			t.Fatal(err)
		}
		codes := make([]int, 4)
		var wg sync.WaitGroup
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i], _ = call(t, s, tok.Token, "POST", agent.RegisterPath,
					agent.RegisterRequest{ProxyKubeconfig: string(creds.Proxy), ManagerKubeconfig: string(creds.Manager)})
			}()
		}
		wg.Wait()
		ok, gone := 0, 0
		for _, c := range codes {
			switch c {
			case http.StatusOK:
				ok++
			case http.StatusGone:
				gone++
			}
		}
		if ok != 1 || gone != len(codes)-1 {
			t.Fatalf("concurrent registrations answered %v, want one 200 and the rest 410", codes)
		}
	})

	// A fresh token for the real agent process (the concurrent test used
	// the previous one).
	code, body = call(t, s, root, "POST", "/v1/clusters/edge-proc/agent-token", nil)
	if code != http.StatusCreated {
		t.Fatalf("reissue: %d %s", code, body)
	}
	mustJSON(t, body, &added)

	t.Run("bokujo clusters add-agent prints the commands", func(t *testing.T) {
		bin := filepath.Join(framework.BinDir(t), "bokujo")
		cfg := filepath.Join(t.TempDir(), "config.json")
		cli := func(stdin string, args ...string) (string, error) {
			cmd := exec.Command(bin, args...)
			cmd.Env = append(os.Environ(), "BOKUJO_CONFIG="+cfg)
			cmd.Stdin = strings.NewReader(stdin)
			out, err := cmd.CombinedOutput()
			return string(out), err
		}
		if out, err := cli(password+"\n", "login", s.URL, "--ca-file", s.CAFile, "--username", "ops", "--password-stdin"); err != nil {
			t.Fatalf("login: %v\n%s", err, out)
		}
		out, err := cli("", "clusters", "add-agent", "edge-cli")
		if err != nil || !strings.Contains(out, "kubectl apply -f '"+s.URL+"/v1/import/bkr_") ||
			!strings.Contains(out, "curl -fsS --cacert bokujo-ca.crt") || !strings.Contains(out, "BEGIN CERTIFICATE") ||
			!strings.Contains(out, "helm install bokujo-agent charts/bokujo-agent") {
			t.Fatalf("add-agent: %v\n%s", err, out)
		}
		t.Cleanup(func() { _ = s.App.Registry.Remove(ctx, "edge-cli") })
		if out, err := cli("", "clusters", "add-agent", "edge-cli", "--reissue"); err != nil || !strings.Contains(out, "/v1/import/bkr_") {
			t.Fatalf("add-agent --reissue: %v\n%s", err, out)
		}
		if out, err := cli("", "clusters", "add-agent", "edge-cli"); err == nil || !strings.Contains(out, "already exists") {
			t.Fatalf("add-agent twice: %v\n%s", err, out)
		}
		if out, err := cli("", "clusters", "add-agent", "Bad_Name"); err == nil || !strings.Contains(out, "invalid cluster name") {
			t.Fatalf("add-agent with a bad name: %v\n%s", err, out)
		}
		if out, err := cli("", "agent", "--kubeconfig", env.Cluster(t, "edge").KubeconfigPath(), "--state-dir", t.TempDir()); err == nil || !strings.Contains(out, "--server is required") {
			t.Fatalf("agent without --server: %v\n%s", err, out)
		}
		if out, err := cli("", "agent", "--server", s.URL, "--ca-file", s.CAFile, "--kubeconfig", env.Cluster(t, "edge").KubeconfigPath(), "--state-dir", t.TempDir()); err == nil || !strings.Contains(out, "no registration token") {
			t.Fatalf("agent without a token: %v\n%s", err, out)
		}
	})

	stateDir := t.TempDir()
	kubeconfig := env.Cluster(t, "edge").KubeconfigPath()
	cmd, logs := agentProcess(t, s, kubeconfig, stateDir, added.Token)
	waitReady(t, s, "edge-proc", "True/"+mgmtv1.ClusterReasonHealthy, framework.Medium)
	if !strings.Contains(logs.String(), "registered with the bokujo server") || !strings.Contains(logs.String(), "connected to the bokujo server") {
		t.Fatalf("agent log:\n%s", logs)
	}
	if strings.Contains(logs.String(), added.Token) {
		t.Fatal("the agent logged its token")
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitReady(t, s, "edge-proc", "False/"+mgmtv1.ClusterReasonAgentDisconnected, 10*time.Second)
	code, body = call(t, s, root, "GET", "/k8s/clusters/edge-proc/api/v1/nodes", nil)
	if code != http.StatusServiceUnavailable || !strings.Contains(string(body), `"kind":"Status"`) {
		t.Fatalf("want a 503 Status: %d %s", code, body)
	}

	_, logs = agentProcess(t, s, kubeconfig, stateDir, "")
	waitReady(t, s, "edge-proc", "True/"+mgmtv1.ClusterReasonHealthy, framework.Medium)
	framework.Eventually(t, framework.Medium, func() error {
		code, body := call(t, s, root, "GET", "/k8s/clusters/edge-proc/api/v1/nodes", nil)
		if code != http.StatusOK || !strings.Contains(string(body), "edge-cpu") {
			return &statusError{code, string(body)}
		}
		return nil
	})
	if strings.Contains(logs.String(), "registered with the bokujo server") {
		t.Fatalf("the restarted agent registered again instead of using its credential:\n%s", logs)
	}
}

type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string { return http.StatusText(e.code) + ": " + e.body }
