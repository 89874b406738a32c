package access_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/test/framework"
)

const password = "correct horse battery staple"

// TestAliceAndBob is the access core's acceptance scenario: alice is a
// project-member of project "ml" in dev and cluster-viewer of prod; bob
// has nothing. Both use only bokujo's URL and the kubeconfig it generates.
func TestAliceAndBob(t *testing.T) {
	b := startServer(t)
	ctx := context.Background()
	for _, name := range []string{"dev", "prod"} {
		if err := b.app.Registry.ImportConfig(ctx, name, "", env.Cluster(t, name).RESTConfig()); err != nil {
			t.Fatalf("import %s: %v", name, err)
		}
	}
	for _, u := range []string{"alice", "bob"} {
		if _, err := b.app.Auth.CreateLocalUser(ctx, u, strings.ToUpper(u[:1])+u[1:], password); err != nil {
			t.Fatalf("create %s: %v", u, err)
		}
	}
	c := b.app.Client
	objs := []client.Object{
		&mgmtv1.Project{ObjectMeta: metav1.ObjectMeta{Name: "ml"}, Spec: mgmtv1.ProjectSpec{ClusterName: "dev", Namespaces: []string{"ml-a"}}},
		&mgmtv1.ProjectRoleTemplateBinding{ObjectMeta: metav1.ObjectMeta{Name: "alice-ml"}, Spec: mgmtv1.ProjectRoleTemplateBindingSpec{
			ProjectName: "ml", RoleTemplateName: "project-member", Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: "alice"}}},
		&mgmtv1.ClusterRoleTemplateBinding{ObjectMeta: metav1.ObjectMeta{Name: "alice-prod"}, Spec: mgmtv1.ClusterRoleTemplateBindingSpec{
			ClusterName: "prod", RoleTemplateName: "cluster-viewer", Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: "alice"}}},
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
	alice := b.login(t, "alice", password)
	bob := b.login(t, "bob", password)
	dev := env.Client(t, "dev")

	// Wait until RBAC sync has written alice's RoleBinding in ml-a.
	framework.Eventually(t, framework.Medium, func() error {
		rbs, err := dev.RbacV1().RoleBindings("ml-a").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=bokujo"})
		if err != nil {
			return err
		}
		if len(rbs.Items) == 0 {
			return fmt.Errorf("no bokujo RoleBinding in ml-a yet")
		}
		return nil
	})
	kc := b.kubeconfig(t, alice)

	t.Run("kubeconfig lists exactly the granted clusters", func(t *testing.T) {
		out, err := run(t, kc, "kubectl", "config", "get-contexts", "-o", "name")
		if err != nil || strings.Fields(out)[0] != "dev" || len(strings.Fields(out)) != 2 || strings.Fields(out)[1] != "prod" {
			t.Fatalf("contexts: %v %q", err, out)
		}
		out, _ = run(t, kc, "kubectl", "config", "view", "--minify", "--context", "dev", "-o", "jsonpath={.contexts[0].context.namespace} {.clusters[0].cluster.server}")
		if !strings.HasPrefix(out, "ml-a "+b.url+"/k8s/clusters/dev") {
			t.Fatalf("dev context: %q", out)
		}
	})
	t.Run("alice deploys in her project", func(t *testing.T) {
		out, err := run(t, kc, "kubectl", "--context", "dev", "create", "deployment", "web", "--image=nginx", "-n", "ml-a")
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		framework.Eventually(t, framework.Medium, func() error {
			out, err := run(t, kc, "kubectl", "--context", "dev", "get", "pods", "-n", "ml-a", "-o", "jsonpath={.items[*].status.phase}")
			if err != nil || out != "Running" {
				return fmt.Errorf("pods: %v %q", err, out)
			}
			return nil
		})
	})
	t.Run("alice is forbidden outside her project", func(t *testing.T) {
		out, err := run(t, kc, "kubectl", "--context", "dev", "create", "deployment", "web", "--image=nginx", "-n", "default")
		if err == nil || !strings.Contains(strings.ToLower(out), "forbidden") || !strings.Contains(out, "bokujo:alice") {
			t.Fatalf("want Forbidden for bokujo:alice, got %v: %s", err, out)
		}
	})
	t.Run("alice can get but not delete in prod", func(t *testing.T) {
		if out, err := run(t, kc, "kubectl", "--context", "prod", "get", "nodes"); err != nil {
			t.Fatalf("get nodes in prod: %v %s", err, out)
		}
		if out, err := run(t, kc, "kubectl", "--context", "prod", "get", "pods", "-A"); err != nil {
			t.Fatalf("get pods in prod: %v %s", err, out)
		}
		out, err := run(t, kc, "kubectl", "--context", "prod", "delete", "namespace", "default", "--dry-run=server")
		if err == nil || !strings.Contains(strings.ToLower(out), "forbidden") {
			t.Fatalf("delete in prod: %v %s", err, out)
		}
	})
	t.Run("streaming through the proxy", func(t *testing.T) {
		pod, err := run(t, kc, "kubectl", "--context", "dev", "-n", "ml-a", "get", "pods", "-o", "jsonpath={.items[0].metadata.name}")
		if err != nil || pod == "" {
			t.Fatalf("pod name: %v %q", err, pod)
		}
		if out, err := run(t, kc, "kubectl", "--context", "dev", "-n", "ml-a", "exec", pod, "--", "echo", "via-bokujo"); err != nil || strings.TrimSpace(out) != "via-bokujo" {
			t.Fatalf("exec: %v %q", err, out)
		}
		if out, err := run(t, kc, "kubectl", "--context", "dev", "-n", "ml-a", "logs", pod); err != nil || !strings.Contains(out, "simulated container started") {
			t.Fatalf("logs: %v %q", err, out)
		}
		streamLines(t, kc, []string{"--context", "dev", "-n", "ml-a", "logs", "-f", pod}, "simulated container started")
		streamLines(t, kc, []string{"--context", "dev", "-n", "ml-a", "get", "pods", "-w", "--no-headers"}, pod)
		portForwardEcho(t, kc, pod)
	})
	t.Run("helm installs a local chart as alice", func(t *testing.T) {
		chart := writeChart(t)
		out, err := run(t, kc, "helm", "--kube-context", "dev", "install", "demo", chart, "-n", "ml-a", "--wait", "--timeout", "60s")
		if err != nil {
			t.Fatalf("helm install: %v\n%s", err, out)
		}
		if _, err := dev.CoreV1().ConfigMaps("ml-a").Get(ctx, "demo-settings", metav1.GetOptions{}); err != nil {
			t.Fatalf("chart's configmap missing: %v", err)
		}
	})
	t.Run("bob sees nothing", func(t *testing.T) {
		kcb := b.kubeconfig(t, bob)
		out, _ := run(t, kcb, "kubectl", "config", "get-contexts", "-o", "name")
		if strings.TrimSpace(out) != "" {
			t.Fatalf("bob's kubeconfig has contexts: %q", out)
		}
		code, body := b.call(t, bob, "GET", "/k8s/clusters/dev/api/v1/namespaces", nil)
		codeGhost, bodyGhost := b.call(t, bob, "GET", "/k8s/clusters/ghost/api/v1/namespaces", nil)
		if code != 404 || codeGhost != 404 || strings.ReplaceAll(string(body), "dev", "X") != strings.ReplaceAll(string(bodyGhost), "ghost", "X") {
			t.Fatalf("bob on dev: %d %s; on ghost: %d %s", code, body, codeGhost, bodyGhost)
		}
		code, body = b.call(t, bob, "GET", "/v1/clusters", nil)
		if code != 200 || !strings.Contains(string(body), `"items":[]`) {
			t.Fatalf("bob's cluster list: %d %s", code, body)
		}
	})
	t.Run("revoking the binding removes access within 5s", func(t *testing.T) {
		var prtb mgmtv1.ProjectRoleTemplateBinding
		if err := c.Get(ctx, client.ObjectKey{Name: "alice-ml"}, &prtb); err != nil {
			t.Fatal(err)
		}
		// Drift first: a hand-deleted RoleBinding comes back.
		rbs, err := dev.RbacV1().RoleBindings("ml-a").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=bokujo"})
		if err != nil || len(rbs.Items) == 0 {
			t.Fatalf("list rolebindings: %v", err)
		}
		name := rbs.Items[0].Name
		if err := dev.RbacV1().RoleBindings("ml-a").Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		framework.Eventually(t, framework.Short, func() error {
			_, err := dev.RbacV1().RoleBindings("ml-a").Get(ctx, name, metav1.GetOptions{})
			return err
		})
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("deleted RoleBinding restored after %s, want within 5s", d)
		}
		if err := c.Delete(ctx, &prtb); err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		framework.Eventually(t, framework.Short, func() error {
			_, err := dev.RbacV1().RoleBindings("ml-a").Get(ctx, name, metav1.GetOptions{})
			if !apierrors.IsNotFound(err) {
				return fmt.Errorf("RoleBinding %s still there (%v)", name, err)
			}
			return nil
		})
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("RoleBinding removed after %s, want within 5s", d)
		}
		out, err := run(t, kc, "kubectl", "--context", "dev", "get", "pods", "-n", "ml-a")
		if err == nil {
			t.Fatalf("alice still reads ml-a after revocation: %s", out)
		}
		_ = rbacv1.GroupName
	})
	t.Run("every request is audited without secrets", func(t *testing.T) {
		recs, err := b.app.Audit.Search(auditQuery("alice"))
		if err != nil || len(recs) == 0 {
			t.Fatalf("no audit records for alice: %v", err)
		}
		data, _ := os.ReadFile(filepath.Join(b.dir, "audit", "audit.log"))
		for _, tok := range []string{alice, bob} {
			if strings.Contains(string(data), tok) {
				t.Fatal("audit log holds a token value")
			}
		}
	})
}

// streamLines runs a streaming kubectl command and waits for a line
// containing want.
func streamLines(t *testing.T, kc string, args []string, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), framework.Medium)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(framework.BinDir(t), "kubectl"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kc)
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

func portForwardEcho(t *testing.T, kc, pod string) {
	t.Helper()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), framework.Medium)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(framework.BinDir(t), "kubectl"), "--context", "dev", "-n", "ml-a", "port-forward", "pod/"+pod, fmt.Sprintf("%d:80", port))
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kc)
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
	fmt.Fprintln(conn, "echo through bokujo")
	got, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || got != "echo through bokujo\n" {
		t.Fatalf("port-forward echo: %q %v", got, err)
	}
}

func writeChart(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "demo")
	os.MkdirAll(filepath.Join(dir, "templates"), 0o755)
	os.WriteFile(filepath.Join(dir, "Chart.yaml"), []byte("apiVersion: v2\nname: demo\nversion: 0.1.0\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "values.yaml"), []byte("greeting: hello\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "templates", "cm.yaml"), []byte(
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-settings\ndata:\n  greeting: {{ .Values.greeting | quote }}\n"), 0o644)
	return dir
}
