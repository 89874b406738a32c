// Package quickstart_test runs the real `bokujo up` binary the way a new
// user does and checks what it promises: a ready URL, demo clusters with GPU
// nodes, clean shutdown on SIGINT and SIGTERM, state kept across restarts,
// and one clear line for every kind of bad start.
package quickstart_test

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
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"bokujo.io/bokujo/test/framework"
)

func bokujoBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(framework.BinDir(t), "bokujo")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s not built: run `make build`", bin)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// upProcess is a running `bokujo up`.
type upProcess struct {
	cmd    *exec.Cmd
	output strings.Builder
	lines  chan string
	done   chan error
}

func startUp(t *testing.T, stateDir string, port int, extra ...string) *upProcess {
	t.Helper()
	args := append([]string{"up", "--state-dir", stateDir, "--port", strconv.Itoa(port)}, extra...)
	cmd := exec.Command(bokujoBinary(t), args...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &upProcess{cmd: cmd, lines: make(chan string, 1000), done: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	go func() { err := cmd.Wait(); pw.Close(); p.done <- err }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGKILL)
		}
	})
	return p
}

// waitReady reads output until the ready banner has been printed.
func (p *upProcess) waitReady(t *testing.T) string {
	t.Helper()
	timeout := time.After(framework.Long)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("bokujo up ended before it was ready:\n%s", p.output.String())
			}
			p.output.WriteString(l + "\n")
			if strings.HasPrefix(l, "Press Ctrl-C to stop") {
				return p.output.String()
			}
		case <-timeout:
			t.Fatalf("bokujo up not ready within %s:\n%s", framework.Long, p.output.String())
		}
	}
}

// stop signals the process and checks it exits 0 and leaves no component
// of its state dir running.
func (p *upProcess) stop(t *testing.T, sig syscall.Signal, stateDir string) {
	t.Helper()
	go func() {
		for l := range p.lines {
			p.output.WriteString(l + "\n")
		}
	}()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			time.Sleep(200 * time.Millisecond) // let the reader drain the last lines
			t.Fatalf("bokujo up exited with %v after %v; its output:\n%s", err, sig, p.output.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("bokujo up did not exit within 2 minutes of %v", sig)
	}
	if left := processesUsing(stateDir); len(left) > 0 {
		t.Fatalf("processes left behind after %v: %v", sig, left)
	}
}

// processesUsing lists processes whose command line mentions dir.
func processesUsing(dir string) []string {
	var found []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmdline), dir) {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if f := strings.Fields(string(stat)); len(f) > 2 && f[2] == "Z" {
			continue
		}
		found = append(found, e.Name()+":"+strings.ReplaceAll(string(cmdline), "\x00", " ")[:min(80, len(cmdline))])
	}
	return found
}

var (
	urlRE      = regexp.MustCompile(`bokujo is running at (https://\S+)`)
	caRE       = regexp.MustCompile(`CA certificate:\s+(\S+)`)
	passwordRE = regexp.MustCompile(`admin password:\s+(\S+)\s+\(shown once`)
)

func kubeconfigOf(out, cluster string) string {
	m := regexp.MustCompile(`(?m)^\s+` + cluster + `\s+(\S+)$`).FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return m[1]
}

func clientFor(t *testing.T, kubeconfig string) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatalf("load printed kubeconfig %q: %v", kubeconfig, err)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func httpsGet(t *testing.T, caFile, url string) (int, string) {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func httpsPost(t *testing.T, caFile, url, body string) (int, string) {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func TestUpServesClustersAndSurvivesRestart(t *testing.T) {
	stateDir := t.TempDir()
	port := freePort(t)
	up := startUp(t, stateDir, port)
	out := up.waitReady(t)

	url := urlRE.FindStringSubmatch(out)
	ca := caRE.FindStringSubmatch(out)
	password := passwordRE.FindStringSubmatch(out)
	if url == nil || ca == nil || password == nil || len(password[1]) < 16 {
		t.Fatalf("banner lacks URL, CA or admin password:\n%s", out)
	}
	if code, body := httpsGet(t, ca[1], url[1]+"/readyz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Fatalf("readyz: %d %q", code, body)
	}
	if code, body := httpsGet(t, ca[1], url[1]+"/version"); code != 200 || !strings.Contains(body, `"kubernetesVersion":"v1.37.2"`) {
		t.Fatalf("version: %d %q", code, body)
	}
	// The printed password logs in, and is stored only as a hash.
	if code, body := httpsPost(t, ca[1], url[1]+"/v1/login", `{"username":"admin","password":"`+password[1]+`"}`); code != 200 {
		t.Fatalf("admin login: %d %s", code, body)
	}
	secrets, err := clientFor(t, kubeconfigOf(out, "local")).CoreV1().Secrets("bokujo-system").List(context.Background(), metav1.ListOptions{})
	if err != nil || len(secrets.Items) == 0 {
		t.Fatalf("list bokujo secrets: %v", err)
	}
	for _, s := range secrets.Items {
		for _, v := range s.Data {
			if strings.Contains(string(v), password[1]) {
				t.Fatalf("secret %s holds the clear admin password", s.Name)
			}
		}
	}

	dev := clientFor(t, kubeconfigOf(out, "dev"))
	t.Run("dev has two ready GPU nodes", func(t *testing.T) {
		nodes, err := dev.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(nodes.Items) != 2 {
			t.Fatalf("dev has %d nodes", len(nodes.Items))
		}
		for _, n := range nodes.Items {
			if q := n.Status.Capacity["nvidia.com/gpu"]; q.Value() != 8 {
				t.Errorf("%s: nvidia.com/gpu = %s", n.Name, q.String())
			}
		}
	})
	t.Run("gpu deployment runs 3 pods", func(t *testing.T) {
		labels := map[string]string{"app": "gpu-demo"}
		dep := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "gpu-demo"},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](3),
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "main", Image: "cuda", Resources: corev1.ResourceRequirements{
						Limits: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}}}},
				}},
			},
		}
		if _, err := dev.AppsV1().Deployments("default").Create(context.Background(), dep, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		framework.Eventually(t, framework.Medium, func() error {
			pods, err := dev.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=gpu-demo"})
			if err != nil {
				return err
			}
			running := 0
			for _, p := range pods.Items {
				if p.Status.Phase == corev1.PodRunning {
					running++
				}
			}
			if running != 3 {
				return fmt.Errorf("%d of 3 pods running", running)
			}
			return nil
		})
	})

	t.Run("a training task runs on the demo GPU queue", func(t *testing.T) {
		task := "apiVersion: ml.bokujo.io/v1alpha1\nkind: MLTask\nmetadata:\n  name: demo-train\n  namespace: default\n" +
			"spec:\n  mode: Training\n  image: trainer\n  workers: 2\n  queue: default\n  resources: {gpus: 1}\n"
		// The ml.bokujo.io API appears once bokujo has installed it in dev.
		framework.Eventually(t, framework.Medium, func() error {
			cmd := exec.Command(filepath.Join(framework.BinDir(t), "kubectl"), "--kubeconfig", kubeconfigOf(out, "dev"), "apply", "-f", "-")
			cmd.Stdin = strings.NewReader(task)
			if outb, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("kubectl apply mltask: %v %s", err, outb)
			}
			return nil
		})
		framework.Eventually(t, framework.Medium, func() error {
			outb, err := exec.Command(filepath.Join(framework.BinDir(t), "kubectl"), "--kubeconfig", kubeconfigOf(out, "dev"),
				"get", "mltasks.ml.bokujo.io", "demo-train", "-n", "default", "-o", "jsonpath={.status.phase} {.status.admission.gpuQueue}").CombinedOutput()
			got := strings.TrimSpace(string(outb))
			if err != nil || (got != "Admitted demo" && got != "Running demo") {
				return fmt.Errorf("demo-train: %v %q, want Admitted or Running on GPUQueue demo", err, got)
			}
			return nil
		})
	})

	t.Run("cli login, one kubeconfig for every cluster", func(t *testing.T) {
		cfgDir := t.TempDir()
		cli := func(stdin string, args ...string) string {
			t.Helper()
			cmd := exec.Command(bokujoBinary(t), args...)
			cmd.Env = append(os.Environ(), "BOKUJO_CONFIG="+filepath.Join(cfgDir, "config.json"))
			cmd.Stdin = strings.NewReader(stdin)
			outb, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("bokujo %v: %v\n%s", args, err, outb)
			}
			return string(outb)
		}
		cli(password[1]+"\n", "login", url[1], "--ca-file", ca[1], "--username", "admin", "--password-stdin")
		kc := filepath.Join(cfgDir, "kubeconfig")
		cli("", "kubeconfig", "-o", kc)
		framework.Eventually(t, framework.Medium, func() error {
			list := cli("", "clusters", "list")
			if !regexp.MustCompile(`(?m)^dev\s+true\s+v1.37.2\s+2\s`).MatchString(list) || !regexp.MustCompile(`(?m)^prod\s+true`).MatchString(list) {
				return fmt.Errorf("clusters list:\n%s", list)
			}
			return nil
		})
		// The admin's cluster-owner binding reaches dev within seconds.
		framework.Eventually(t, framework.Short, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), framework.Short)
			defer cancel()
			outb, err := exec.CommandContext(ctx, filepath.Join(framework.BinDir(t), "kubectl"), "--kubeconfig", kc, "--context", "dev",
				"get", "nodes", "-o", "jsonpath={.items[*].status.capacity.nvidia\\.com/gpu}").CombinedOutput()
			if err != nil || strings.TrimSpace(string(outb)) != "8 8" {
				return fmt.Errorf("kubectl through bokujo: %v %q", err, outb)
			}
			return nil
		})
		// prod is reached only through the agent's tunnel.
		framework.Eventually(t, framework.Short, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), framework.Short)
			defer cancel()
			outb, err := exec.CommandContext(ctx, filepath.Join(framework.BinDir(t), "kubectl"), "--kubeconfig", kc, "--context", "prod",
				"get", "nodes", "-o", "name").CombinedOutput()
			if err != nil || strings.Count(string(outb), "node/prod-cpu") != 3 {
				return fmt.Errorf("kubectl prod through bokujo: %v %q", err, outb)
			}
			return nil
		})
		checkProdThroughAgent(t, kubeconfigOf(out, "local"))
	})

	t.Run("management changes are audited with the real user", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), framework.Medium)
		defer cancel()
		project := "apiVersion: management.bokujo.io/v1alpha1\nkind: Project\nmetadata:\n  name: audited\nspec:\n  clusterName: dev\n"
		cmd := exec.CommandContext(ctx, filepath.Join(framework.BinDir(t), "kubectl"), "--kubeconfig", kubeconfigOf(out, "local"), "apply", "-f", "-")
		cmd.Stdin = strings.NewReader(project)
		if outb, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kubectl apply project: %v %s", err, outb)
		}
		framework.Eventually(t, framework.Short, func() error {
			data, err := os.ReadFile(filepath.Join(stateDir, "clusters", "local", "logs", "audit.log"))
			if err != nil {
				return err
			}
			for _, line := range strings.Split(string(data), "\n") {
				if strings.Contains(line, `"resource":"projects"`) && strings.Contains(line, `"name":"audited"`) &&
					strings.Contains(line, `"username":"bokujo-admin"`) && strings.Contains(line, `"verb":"create"`) {
					if strings.Contains(line, password[1]) {
						t.Fatal("audit line holds the admin password")
					}
					return nil
				}
			}
			return fmt.Errorf("no audit line for the project created with kubectl")
		})
	})

	mgmt := clientFor(t, kubeconfigOf(out, "local"))
	if _, err := mgmt.CoreV1().ConfigMaps("default").Create(context.Background(),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "before-restart"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	t.Run("second up on the same state dir is refused", func(t *testing.T) {
		second := startUp(t, stateDir, freePort(t))
		err := <-second.done
		var lines []string
		for l := range second.lines {
			lines = append(lines, l)
		}
		msg := strings.Join(lines, "\n")
		if err == nil || !strings.Contains(msg, "another `bokujo up` runs on state dir") {
			t.Fatalf("second up: err=%v output:\n%s", err, msg)
		}
	})
	t.Run("port in use is refused", func(t *testing.T) {
		other := startUp(t, t.TempDir(), port)
		err := <-other.done
		var lines []string
		for l := range other.lines {
			lines = append(lines, l)
		}
		msg := strings.Join(lines, "\n")
		if err == nil || !strings.Contains(msg, "cannot listen on 127.0.0.1:"+strconv.Itoa(port)) || !strings.Contains(msg, "--port") {
			t.Fatalf("port in use: err=%v output:\n%s", err, msg)
		}
	})

	up.stop(t, syscall.SIGINT, stateDir)

	up = startUp(t, stateDir, port)
	out = up.waitReady(t)
	if passwordRE.MatchString(out) || !strings.Contains(out, "printed at the first start") {
		t.Fatalf("restart printed a new password:\n%s", out)
	}
	mgmt = clientFor(t, kubeconfigOf(out, "local"))
	if _, err := mgmt.CoreV1().ConfigMaps("default").Get(context.Background(), "before-restart", metav1.GetOptions{}); err != nil {
		t.Fatalf("object created before the restart is gone: %v", err)
	}
	dev = clientFor(t, kubeconfigOf(out, "dev"))
	if _, err := dev.AppsV1().Deployments("default").Get(context.Background(), "gpu-demo", metav1.GetOptions{}); err != nil {
		t.Fatalf("dev deployment gone after restart: %v", err)
	}
	// The agent reconnects with the credential it kept; no new token.
	framework.Eventually(t, framework.Medium, func() error {
		outb, err := exec.Command(filepath.Join(framework.BinDir(t), "kubectl"), "--kubeconfig", kubeconfigOf(out, "local"),
			"get", "clusters.management.bokujo.io", "prod", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`).CombinedOutput()
		if err != nil || string(outb) != "True" {
			return fmt.Errorf("prod after restart: %v %q", err, outb)
		}
		return nil
	})
	up.stop(t, syscall.SIGTERM, stateDir)
}

// TestUpBadStarts checks that each bad start fails fast with one clear line
// and a non-zero exit, before any cluster starts.
func TestUpBadStarts(t *testing.T) {
	corrupt := t.TempDir()
	if err := os.WriteFile(filepath.Join(corrupt, "up.json"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyBin := t.TempDir()
	cases := []struct {
		name     string
		args     []string
		want     string
		maxLines int // 1 unless the error carries a suggestion
	}{
		{"unknown flag", []string{"up", "--bogus"}, "unknown flag: --bogus", 1},
		{"bad port", []string{"up", "--port", "70000"}, "invalid --port 70000", 1},
		{"missing binaries", []string{"up", "--state-dir", t.TempDir(), "--bin-dir", emptyBin}, "run `make binaries`", 1},
		{"corrupt state", []string{"up", "--state-dir", corrupt, "--port", strconv.Itoa(freePort(t))}, "state directory is corrupt", 1},
		{"reset without terminal", []string{"up", "--state-dir", corrupt, "--reset"}, "pass --yes", 1},
		{"unknown command with suggestion", []string{"upp"}, "Did you mean this?", 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), framework.Short)
			defer cancel()
			cmd := exec.CommandContext(ctx, bokujoBinary(t), tc.args...)
			cmd.Stdin = nil
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("exit 0, want failure; output:\n%s", out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("output lacks %q:\n%s", tc.want, out)
			}
			if n := strings.Count(strings.TrimSpace(string(out)), "\n") + 1; n > tc.maxLines {
				t.Errorf("error is %d lines, want at most %d:\n%s", n, tc.maxLines, out)
			}
		})
	}
}

// checkProdThroughAgent checks that the demo cluster prod is an agent
// cluster whose tunnel is up, and that the agent kept its credential.
func checkProdThroughAgent(t *testing.T, mgmtKubeconfig string) {
	t.Helper()
	outb, err := exec.Command(filepath.Join(framework.BinDir(t), "kubectl"), "--kubeconfig", mgmtKubeconfig,
		"get", "clusters.management.bokujo.io", "prod", "-o",
		`jsonpath={.spec.source.agent.proxyCredentials.name} {.status.conditions[?(@.type=="Connected")].reason}`).CombinedOutput()
	if err != nil || string(outb) != "cluster-prod-proxy AgentConnected" {
		t.Fatalf("prod is not connected through the agent: %v %q", err, outb)
	}
}
