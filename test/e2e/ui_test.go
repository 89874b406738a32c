// Package e2e drives the web UI in a real browser against the real
// `bokujo up`: it starts the binary on a free port with its own state
// directory, waits until the demo clusters are ready and a GPU workload
// runs in dev and a user alice may view dev (and only dev), then runs the
// browser scenarios of web/e2e/run.mjs (Playwright driving Debian's
// Chromium). Screenshots go to _output/e2e/.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
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
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"sigs.k8s.io/controller-runtime/pkg/client"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/test/framework"
)

// browserTimeout only guards against a hung browser run; the scenarios
// take about a minute, more on a busy machine.
const browserTimeout = 6 * time.Minute

var (
	urlRE      = regexp.MustCompile(`bokujo is running at (https://\S+)`)
	caRE       = regexp.MustCompile(`CA certificate:\s+(\S+)`)
	passwordRE = regexp.MustCompile(`admin password:\s+(\S+)\s+\(shown once`)
)

func TestWebUI(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the browser tests start bokujo up")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s not found: run `make deps` (installs Debian's chromium)", chromium)
	}
	if _, err := os.Stat(filepath.Join(root, "web", "node_modules", "playwright-core")); err != nil {
		t.Fatalf("playwright-core not installed: run `make web`")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not found: install Node.js 20.19+")
	}
	bokujo := filepath.Join(framework.BinDir(t), "bokujo")
	if _, err := os.Stat(bokujo); err != nil {
		t.Fatalf("%s not built: run `make build`", bokujo)
	}

	stateDir := t.TempDir()
	up := startUp(t, bokujo, stateDir, freePort(t))
	out := up.waitReady(t)
	url, ca, password := match(urlRE, out), match(caRE, out), match(passwordRE, out)
	if url == "" || ca == "" || password == "" {
		t.Fatalf("banner lacks URL, CA or admin password:\n%s", out)
	}

	// Three pods asking 2 GPUs each, so the home page has something to show.
	dev := clientFor(t, kubeconfigOf(out, "dev"))
	runGPUWorkload(t, dev, 3, 2)

	// The browser asserts on a settled system: clusters probed ready with
	// the workload counted, and the admin's rights synced to dev.
	api := newAPIClient(t, url, ca)
	api.login(t, "admin", password)

	// alice views dev and was granted nothing else.
	alicePassword := "e2e-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-Pw!"
	var alice struct {
		Name string `json:"name"`
	}
	api.post(t, "/v1/users", map[string]string{"username": "alice", "displayName": "Alice", "password": alicePassword}, &alice)
	api.post(t, "/v1/clusters/dev/members", map[string]any{
		"subject": map[string]string{"kind": "User", "name": alice.Name}, "roleTemplate": "cluster-viewer"}, nil)
	// bob starts with nothing; the browser test has the admin grant him
	// the project ml of dev.
	bobPassword := "e2e-bob-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-Pw!"
	api.post(t, "/v1/users", map[string]string{"username": "bob", "displayName": "Bob", "password": bobPassword}, nil)
	createProject(t, kubeconfigOf(out, "local"), "ml", "dev", "ml-a")
	aliceAPI := newAPIClient(t, url, ca)
	aliceAPI.login(t, "alice", alicePassword)
	framework.Eventually(t, framework.Medium, func() error {
		var nodes struct {
			Items []json.RawMessage `json:"items"`
		}
		return aliceAPI.getJSON("/k8s/clusters/dev/api/v1/nodes", &nodes)
	})
	framework.Eventually(t, framework.Medium, func() error {
		var list struct {
			Items []struct {
				Name      string            `json:"name"`
				Ready     bool              `json:"ready"`
				Requested map[string]string `json:"requested"`
			} `json:"items"`
		}
		if err := api.getJSON("/v1/clusters", &list); err != nil {
			return err
		}
		ready := map[string]bool{}
		gpus := ""
		for _, c := range list.Items {
			ready[c.Name] = c.Ready
			if c.Name == "dev" {
				gpus = c.Requested["nvidia.com/gpu"]
			}
		}
		if !ready["dev"] || !ready["prod"] || gpus != "6" {
			return fmt.Errorf("clusters not settled: ready=%v, dev GPUs requested=%q", ready, gpus)
		}
		return nil
	})
	framework.Eventually(t, framework.Medium, func() error {
		var nodes struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := api.getJSON("/k8s/clusters/dev/api/v1/nodes", &nodes); err != nil {
			return err
		}
		if len(nodes.Items) != 2 {
			return fmt.Errorf("dev lists %d nodes", len(nodes.Items))
		}
		return nil
	})

	t.Run("UI beside the API", func(t *testing.T) {
		for _, tc := range []struct {
			path, wantType string
			code           int
		}{
			{"/", "text/html; charset=utf-8", 200},
			{"/clusters/dev", "text/html; charset=utf-8", 200},
			{"/assets/index-gone.js", "text/plain; charset=utf-8", 404},
			{"/healthz", "text/plain; charset=utf-8", 200},
			{"/version", "application/json", 200},
			{"/v1/me", "application/json", 200},
		} {
			resp, err := api.http.Get(url + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.code || resp.Header.Get("Content-Type") != tc.wantType {
				t.Errorf("GET %s: %d %q, want %d %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.code, tc.wantType)
			}
			if tc.wantType == "text/html; charset=utf-8" && !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
				t.Errorf("GET %s: no CSP", tc.path)
			}
		}
	})

	outDir := filepath.Join(root, "_output", "e2e")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(outDir, "*.png"))
	for _, f := range old {
		_ = os.Remove(f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("e2e", "run.mjs"))
	cmd.Dir = filepath.Join(root, "web")
	cmd.Env = append(os.Environ(),
		"BOKUJO_URL="+url,
		"BOKUJO_CA_FILE="+ca,
		"NODE_EXTRA_CA_CERTS="+ca,
		"BOKUJO_ADMIN_PASSWORD="+password,
		"BOKUJO_ALICE_PASSWORD="+alicePassword,
		"BOKUJO_BOB_PASSWORD="+bobPassword,
		"E2E_OUTPUT_DIR="+outDir,
		"CHROMIUM="+chromium,
		// Every simulated container's log: lines appended to it show in
		// a followed log in the browser.
		"BOKUJO_DEV_POD_LOG="+filepath.Join(filepath.Dir(kubeconfigOf(out, "dev")), "pod.log"),
	)
	begin := time.Now()
	output, err := cmd.CombinedOutput()
	t.Logf("browser scenarios (%s):\n%s", time.Since(begin).Round(100*time.Millisecond), output)
	if err != nil {
		t.Fatalf("browser scenarios failed: %v (screenshots in %s)", err, outDir)
	}
	up.stop(t)
}

func match(re *regexp.Regexp, s string) string {
	if m := re.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

func kubeconfigOf(out, cluster string) string {
	return match(regexp.MustCompile(`(?m)^\s+`+cluster+`\s+(\S+)$`), out)
}

// createProject makes a Project in the management cluster, as an
// administrator applying it from Git would.
func createProject(t *testing.T, kubeconfig, name, cluster string, namespaces ...string) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatalf("management kubeconfig %q: %v", kubeconfig, err)
	}
	scheme := runtime.NewScheme()
	if err := mgmtv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	p := &mgmtv1.Project{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: mgmtv1.ProjectSpec{ClusterName: cluster, Namespaces: namespaces}}
	if err := c.Create(context.Background(), p); err != nil {
		t.Fatalf("create project %s: %v", name, err)
	}
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

func runGPUWorkload(t *testing.T, c kubernetes.Interface, replicas int32, gpus int64) {
	t.Helper()
	labels := map[string]string{"app": "train"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "train"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "main", Image: "cuda", Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("32Gi")},
					Limits:   corev1.ResourceList{"nvidia.com/gpu": *resource.NewQuantity(gpus, resource.DecimalSI)},
				}}},
			}},
		},
	}
	if _, err := c.AppsV1().Deployments("default").Create(context.Background(), dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// apiClient talks to /v1 and /k8s with a session cookie, as the UI does.
type apiClient struct {
	base string
	http *http.Client
	csrf string
}

func newAPIClient(t *testing.T, base, caFile string) *apiClient {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", caFile)
	}
	jar, _ := cookiejar.New(nil)
	return &apiClient{base: base, http: &http.Client{Timeout: 10 * time.Second, Jar: jar,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
}

func (c *apiClient) login(t *testing.T, user, password string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	resp, err := c.http.Post(c.base+"/v1/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d %s", resp.StatusCode, data)
	}
	var session struct {
		CSRFToken string `json:"csrfToken"`
	}
	if err := json.Unmarshal(data, &session); err != nil || session.CSRFToken == "" {
		t.Fatalf("login answer without a CSRF token: %v %s", err, data)
	}
	c.csrf = session.CSRFToken
}

// post sends JSON with the session's CSRF token and decodes a 2xx answer
// into out (if not nil).
func (c *apiClient) post(t *testing.T, path string, body, out any) {
	t.Helper()
	data, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", c.csrf)
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %s: %d %s", path, resp.StatusCode, answer)
	}
	if out != nil {
		if err := json.Unmarshal(answer, out); err != nil {
			t.Fatalf("POST %s: %v in %s", path, err, answer)
		}
	}
}

func (c *apiClient) getJSON(path string, v any) error {
	resp, err := c.http.Get(c.base + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, data)
	}
	return json.Unmarshal(data, v)
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
	cmd     *exec.Cmd
	output  strings.Builder
	lines   chan string
	done    chan error
	stopped bool
}

func startUp(t *testing.T, bin, stateDir string, port int) *upProcess {
	t.Helper()
	cmd := exec.Command(bin, "up", "--state-dir", stateDir, "--port", strconv.Itoa(port))
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
	// After a failure, stop it gently too: SIGKILL would leave its
	// etcd and apiservers running.
	t.Cleanup(func() {
		if p.stopped {
			return
		}
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-p.done:
		case <-time.After(2 * time.Minute):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
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
				// Keep draining, or a full pipe would block the server.
				go func() {
					for range p.lines {
					}
				}()
				return p.output.String()
			}
		case <-timeout:
			t.Fatalf("bokujo up not ready within %s:\n%s", framework.Long, p.output.String())
		}
	}
}

// stop ends bokujo up the way a user does, with Ctrl-C.
func (p *upProcess) stop(t *testing.T) {
	t.Helper()
	p.stopped = true
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("bokujo up exited with %v after SIGINT", err)
		}
	case <-time.After(2 * time.Minute):
		t.Errorf("bokujo up did not exit within 2 minutes of SIGINT")
	}
}
