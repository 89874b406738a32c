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
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/auth"
	"bokujo.io/bokujo/internal/peer"
	"bokujo.io/bokujo/internal/pki"
	"bokujo.io/bokujo/test/framework"
	"bokujo.io/bokujo/test/framework/testserver"
)

// TestAgentTunnelHeldByOtherReplica connects an agent to replica A and
// uses its cluster through replica B: kubectl get, watch and exec are
// relayed to A's tunnel, and a client cannot use the replicas' relay
// endpoint with any header it makes up.
func TestAgentTunnelHeldByOtherReplica(t *testing.T) {
	if env == nil {
		t.Skip("integration test: needs real clusters (runs without -short)")
	}
	ctx := context.Background()
	setup := testserver.Start(t, env.RESTConfig(t, "mgmt"))
	a := setup.App
	if _, err := a.Auth.CreateLocalUser(ctx, "bob", "Bob", "a long enough password 42"); err != nil {
		t.Fatal(err)
	}
	token, _, err := a.Auth.CreateToken(ctx, "bob", auth.TokenRequest{Type: mgmtv1.TokenTypeAPI, Description: "peers", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := a.Registry.AddAgentCluster(ctx, "edge-ha", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Client.Create(ctx, &mgmtv1.ClusterRoleTemplateBinding{ObjectMeta: metav1.ObjectMeta{Name: "bob-edge-ha"}, Spec: mgmtv1.ClusterRoleTemplateBindingSpec{
		ClusterName: "edge-ha", RoleTemplateName: "cluster-owner", Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: "bob"}}}); err != nil {
		t.Fatal(err)
	}
	a.Stop()

	dir := t.TempDir()
	ca, _ := pki.NewCA("peers-ca")
	kp, _ := ca.Issue(pki.Spec{CommonName: "bokujo", IPs: []net.IP{net.ParseIP("127.0.0.1")}, Server: true})
	if err := kp.Write(dir, "server"); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caFile, ca.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	kc := env.Cluster(t, "mgmt").KubeconfigPath()
	ra := startReplica(t, kc, filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"), caFile)
	rb := startReplica(t, kc, filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"), caFile)

	// The agent knows replica A only.
	agent := exec.Command(filepath.Join(framework.BinDir(t), "bokujo"), "agent", "--server", ra.url, "--ca-file", caFile,
		"--kubeconfig", env.Cluster(t, "edge").KubeconfigPath(), "--state-dir", t.TempDir(), "--token", reg.Token)
	logs := &testserver.SyncBuffer{}
	agent.Stdout, agent.Stderr = logs, logs
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = agent.Process.Kill(); _ = agent.Wait() })

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(base, path string, header http.Header) (int, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header = header.Clone()
		if req.Header == nil {
			req.Header = http.Header{}
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	// Through B, once RBAC sync (on whichever replica leads, itself
	// going through A's tunnel when B leads) has given bob his rights.
	framework.Eventually(t, framework.Long, func() error {
		if code, body := get(rb.url, "/k8s/clusters/edge-ha/api/v1/namespaces/default/configmaps", nil); code != 200 {
			return fmt.Errorf("through replica B: %d %s (agent log: %s)", code, body, lastLine(logs.String()))
		}
		return nil
	})

	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: edge-ha
  cluster: {server: %q, certificate-authority: %q}
users:
- name: bob
  user: {token: %q}
contexts:
- name: edge-ha
  context: {cluster: edge-ha, user: bob}
current-context: edge-ha
`, rb.url+"/k8s/clusters/edge-ha", caFile, token), 0o600); err != nil {
		t.Fatal(err)
	}
	ns := env.Namespace(t, "edge")

	t.Run("get", func(t *testing.T) {
		out, err := kubectlRun(t, kubeconfig, "get", "nodes", "-o", "name")
		if err != nil || !strings.Contains(out, "node/edge-cpu") {
			t.Fatalf("kubectl get nodes through replica B: %v %s", err, out)
		}
	})

	t.Run("watch", func(t *testing.T) {
		wctx, cancel := context.WithTimeout(ctx, framework.Medium)
		defer cancel()
		cmd := exec.CommandContext(wctx, filepath.Join(framework.BinDir(t), "kubectl"), "-n", ns, "get", "configmaps", "--watch-only", "-o", "name")
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "HOME="+t.TempDir())
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		// Created only after the watch is open: what kubectl prints came
		// through the stream.
		go func() {
			for i := 0; wctx.Err() == nil; i++ {
				_, _ = env.Client(t, "edge").CoreV1().ConfigMaps(ns).Create(wctx,
					&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("watched-%d", i)}}, metav1.CreateOptions{})
				select {
				case <-wctx.Done():
				case <-time.After(time.Second):
				}
			}
		}()
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "configmap/watched-") {
				return
			}
		}
		t.Fatal("kubectl get --watch through replica B ended without an event")
	})

	t.Run("exec", func(t *testing.T) {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(1)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}}}}}
		if _, err := env.Client(t, "edge").AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var pod string
		framework.Eventually(t, framework.Medium, func() error {
			out, err := kubectlRun(t, kubeconfig, "-n", ns, "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name} {.items[0].status.phase}")
			if err != nil || !strings.HasSuffix(strings.TrimSpace(out), " Running") {
				return fmt.Errorf("pod not running yet: %v %s", err, out)
			}
			pod = strings.Fields(out)[0]
			return nil
		})
		if out, err := kubectlRun(t, kubeconfig, "-n", ns, "exec", pod, "--", "echo", "via-the-other-replica"); err != nil || strings.TrimSpace(out) != "via-the-other-replica" {
			t.Fatalf("exec through replica B: %v %q", err, out)
		}
	})

	t.Run("forged relay requests are refused", func(t *testing.T) {
		q := "?" + url.Values{"cluster": {"edge-ha"}, "address": {"127.0.0.1:6443"}}.Encode()
		upgrade := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}}
		for name, h := range map[string]http.Header{
			"user token only":     upgrade,
			"made-up signature":   withHeader(upgrade, peer.AuthHeader, peer.Sign([]byte("not the replicas' key, 32 bytes long"), "edge-ha", "127.0.0.1:6443", time.Now().Add(time.Minute))),
			"garbage":             withHeader(upgrade, peer.AuthHeader, "v1.9999999999.00"),
			"signature for other": withHeader(upgrade, peer.AuthHeader, "v1."+fmt.Sprint(time.Now().Add(time.Minute).Unix())+"."+strings.Repeat("ab", 32)),
		} {
			for _, r := range []*replica{ra, rb} {
				if code, body := get(r.url, peer.DialPath+q, h); code != http.StatusForbidden {
					t.Errorf("%s on %s: want 403, got %d %s", name, r.url, code, body)
				}
			}
		}
	})

	t.Run("holder killed: clean 503 from the other replica", func(t *testing.T) {
		_ = ra.cmd.Process.Kill()
		_ = ra.cmd.Wait()
		// B stops relaying when A's lease expires (three missed renewals).
		framework.Eventually(t, framework.Medium, func() error {
			code, body := get(rb.url, "/k8s/clusters/edge-ha/api/v1/namespaces/default/configmaps", nil)
			if code != http.StatusServiceUnavailable || !strings.Contains(body, `"kind":"Status"`) {
				return fmt.Errorf("want a 503 Status, got %d %s", code, body)
			}
			return nil
		})
	})
}

func withHeader(h http.Header, k, v string) http.Header {
	h = h.Clone()
	h.Set(k, v)
	return h
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func kubectlRun(t *testing.T, kubeconfig string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), framework.Medium)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(framework.BinDir(t), "kubectl"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}
