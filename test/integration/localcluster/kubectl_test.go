package localcluster_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"bokujo.io/bokujo/test/framework"
)

// kubectl runs the bundled kubectl against the dev cluster as admin.
func kubectl(t *testing.T, env2 []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), framework.Medium)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(framework.BinDir(t), "kubectl"), append([]string{"--kubeconfig", env.Cluster(t, "dev").KubeconfigPath()}, args...)...)
	cmd.Env = append(os.Environ(), env2...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestKubectlStreamingOnSimulatedPods checks that the kwok debugging
// configuration lets kubectl exec (WebSocket and SPDY), logs -f and
// port-forward reach simulated pods.
func TestKubectlStreamingOnSimulatedPods(t *testing.T) {
	client := env.Client(t, "dev")
	ns := env.Namespace(t, "dev")
	if _, err := client.AppsV1().Deployments(ns).Create(context.Background(), gpuDeployment("shell", 1, 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, framework.Medium, func() error { return runningPods(client, ns, "app=shell", 1) })
	pods, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=shell"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("list pods: %v (%d)", err, len(pods.Items))
	}
	pod := pods.Items[0].Name

	for name, extraEnv := range map[string][]string{
		"websocket": nil,
		"spdy":      {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false"},
	} {
		t.Run("exec-"+name, func(t *testing.T) {
			out, err := kubectl(t, extraEnv, "-n", ns, "exec", pod, "--", "echo", "hello-from-"+name)
			if err != nil || strings.TrimSpace(out) != "hello-from-"+name {
				t.Fatalf("kubectl exec: %v: %q", err, out)
			}
		})
	}

	t.Run("logs", func(t *testing.T) {
		out, err := kubectl(t, nil, "-n", ns, "logs", pod)
		if err != nil || !strings.Contains(out, "simulated container started") {
			t.Fatalf("kubectl logs: %v: %q", err, out)
		}
	})

	t.Run("logs-follow", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), framework.Medium)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(framework.BinDir(t), "kubectl"), "--kubeconfig", env.Cluster(t, "dev").KubeconfigPath(), "-n", ns, "logs", "-f", pod)
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		lines := make(chan string, 100)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		marker := fmt.Sprintf("follow-marker-%d", time.Now().UnixNano())
		// Keep appending until kubectl, which may attach after the first
		// write, shows the marker.
		deadline := time.After(framework.Medium)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatal("kubectl logs -f ended before the appended line arrived")
				}
				if strings.Contains(l, marker) {
					return
				}
			case <-tick.C:
				if err := env.Cluster(t, "dev").AppendSimulatedLog(marker); err != nil {
					t.Fatal(err)
				}
			case <-deadline:
				t.Fatal("appended log line never arrived through kubectl logs -f")
			}
		}
	})

	t.Run("port-forward", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		ctx, cancel := context.WithTimeout(context.Background(), framework.Medium)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(framework.BinDir(t), "kubectl"), "--kubeconfig", env.Cluster(t, "dev").KubeconfigPath(), "-n", ns, "port-forward", "pod/"+pod, fmt.Sprintf("%d:8080", port))
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = cmd.Stdout
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		sc := bufio.NewScanner(stdout)
		if !sc.Scan() || !strings.Contains(sc.Text(), "Forwarding from") {
			t.Fatalf("port-forward did not start: %q", sc.Text())
		}
		go func() { _, _ = io.Copy(io.Discard, stdout) }()
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(framework.Short))
		if _, err := conn.Write([]byte("ping through port-forward\n")); err != nil {
			t.Fatal(err)
		}
		got, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil || got != "ping through port-forward\n" {
			t.Fatalf("echo through port-forward: %q, %v", got, err)
		}
	})
}
