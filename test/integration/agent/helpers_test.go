package agent_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/agent"
	"bokujo.io/bokujo/test/framework"
	"bokujo.io/bokujo/test/framework/testserver"
)

// call does an API request with a bearer token and returns status and body.
func call(t *testing.T, s *testserver.Server, token, method, path string, body any, headers ...string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, s.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// errorMessage is the message of the API's one error shape.
func errorMessage(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Message == "" {
		t.Fatalf("not an API error: %s", body)
	}
	return e.Error.Message
}

// kubectl runs the bundled kubectl with a kubeconfig.
func kubectl(t *testing.T, kubeconfig string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), framework.Medium)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(framework.BinDir(t), "kubectl"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// streamLines runs a streaming kubectl command and waits for a line
// containing want.
func streamLines(t *testing.T, kc string, args []string, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), framework.Medium)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(framework.BinDir(t), "kubectl"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kc, "HOME="+t.TempDir())
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.Contains(sc.Text(), want) {
			return
		}
	}
	t.Fatalf("kubectl %v ended without a line containing %q", args, want)
}

// readyReason is the Ready condition of a cluster as "True/Healthy".
func readyReason(ctx context.Context, s *testserver.Server, name string) string {
	var c mgmtv1.Cluster
	if err := s.App.Client.Get(ctx, types.NamespacedName{Name: name}, &c); err != nil {
		return "error: " + err.Error()
	}
	cond := meta.FindStatusCondition(c.Status.Conditions, mgmtv1.ConditionReady)
	if cond == nil {
		return "none"
	}
	return string(cond.Status) + "/" + cond.Reason
}

func waitReady(t *testing.T, s *testserver.Server, name, want string, timeout time.Duration) {
	t.Helper()
	framework.Eventually(t, timeout, func() error {
		if got := readyReason(context.Background(), s, name); got != want {
			return fmt.Errorf("cluster %s: Ready %s, want %s", name, got, want)
		}
		return nil
	})
}

// agentConfig is what the agent sees in-cluster: the edge API server with
// a token of the bokujo-agent service account the manifest created, so the
// agent runs with exactly the manifest's rights.
func agentConfig(t *testing.T, cluster string) *rest.Config {
	t.Helper()
	admin := env.Cluster(t, cluster).RESTConfig()
	tr, err := env.Client(t, cluster).CoreV1().ServiceAccounts(agent.Namespace).CreateToken(context.Background(), agent.ServiceAccount,
		&authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(3600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token of the agent's service account: %v", err)
	}
	return &rest.Config{Host: admin.Host, BearerToken: tr.Status.Token, TLSClientConfig: rest.TLSClientConfig{CAData: admin.CAData}}
}

// runningAgent is an agent running in the test process.
type runningAgent struct {
	cancel context.CancelFunc
	done   chan error
	logs   *testserver.SyncBuffer
}

func startAgent(t *testing.T, s *testserver.Server, opts agent.Options) *runningAgent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ra := &runningAgent{cancel: cancel, done: make(chan error, 1), logs: &testserver.SyncBuffer{}}
	ca, _ := os.ReadFile(s.CAFile)
	opts.Server, opts.CAData = s.URL, ca
	opts.MinBackoff, opts.MaxBackoff = 200*time.Millisecond, 2*time.Second
	opts.Logger = slog.New(slog.NewTextHandler(ra.logs, nil))
	go func() { ra.done <- agent.Run(ctx, opts) }()
	t.Cleanup(ra.stop)
	return ra
}

// stop ends the agent as a killed process would: its tunnel goes away.
// It returns at once when the agent has ended and its result was taken.
func (ra *runningAgent) stop() {
	ra.cancel()
	select {
	case err := <-ra.done:
		ra.done <- err
	case <-time.After(framework.Short):
	}
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

func readAll(r io.Reader) []byte {
	data, _ := io.ReadAll(r)
	return data
}

// portForwardEcho forwards a local port to the pod's port 80 (kwok echoes
// there) through bokujo and the tunnel.
func portForwardEcho(t *testing.T, kc, ns, pod string) {
	t.Helper()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), framework.Medium)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(framework.BinDir(t), "kubectl"), "--context", "edge", "-n", ns, "port-forward", "pod/"+pod, fmt.Sprintf("%d:80", port))
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kc, "HOME="+t.TempDir())
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(out)
	if !sc.Scan() || !strings.Contains(sc.Text(), "Forwarding from") {
		t.Fatalf("port-forward: %q", sc.Text())
	}
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(framework.Short))
	fmt.Fprintln(conn, "echo through the tunnel")
	got, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || got != "echo through the tunnel\n" {
		t.Fatalf("port-forward echo: %q %v", got, err)
	}
}
