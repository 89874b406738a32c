package mltask_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	mlv1alpha1 "bokujo.io/bokujo/api/ml/v1alpha1"
	"bokujo.io/bokujo/test/framework"
	"bokujo.io/bokujo/test/framework/testserver"
)

// TestInteractiveThroughBokujo: an interactive task is a StatefulSet and
// a headless Service; a project member reaches it with kubectl exec
// through bokujo's proxy, and stops and starts it with kubectl.
func TestInteractiveThroughBokujo(t *testing.T) {
	startController(t)
	c := mlClient(t)
	kube := env.Client(t, dev)
	ctx := context.Background()
	ns := env.Namespace(t, dev)
	queues(t, c, ns, 8, nil, ns)

	const cluster = "dev-exec"
	srv, tok := member(t, cluster, ns, "ada", mgmtv1.RoleTemplateProjectMember)
	kc := kubeconfig(t, srv, tok)
	kubectl := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, framework.Medium)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(framework.BinDir(t), "kubectl"), append([]string{"--context", cluster, "-n", ns}, args...)...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kc, "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// Ada creates the task herself once RBAC sync granted her the project.
	manifest := `apiVersion: ml.bokujo.io/v1alpha1
kind: MLTask
metadata: {name: notebook}
spec:
  mode: Interactive
  image: jupyter/pytorch-notebook:latest
  workers: 1
  resources: {gpus: 1}
`
	f := filepath.Join(t.TempDir(), "task.yaml")
	if err := os.WriteFile(f, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, framework.Medium, func() error {
		out, err := kubectl("apply", "-f", f)
		if err != nil {
			return fmt.Errorf("kubectl apply: %v: %s", err, out)
		}
		return nil
	})
	waitPhase(t, c, ns, "notebook", mlv1alpha1.PhaseRunning, framework.Medium)
	sts, err := kube.AppsV1().StatefulSets(ns).Get(ctx, "notebook", metav1.GetOptions{})
	if err != nil || *sts.Spec.Replicas != 1 || sts.Spec.ServiceName != "notebook" {
		t.Fatalf("StatefulSet: %v %+v", err, sts)
	}
	svc, err := kube.CoreV1().Services(ns).Get(ctx, "notebook", metav1.GetOptions{})
	if err != nil || svc.Spec.ClusterIP != "None" {
		t.Fatalf("Service: %v %+v", err, svc)
	}
	if out, err := kubectl("exec", "notebook-0", "--", "echo", "hello from the notebook"); err != nil || strings.TrimSpace(out) != "hello from the notebook" {
		t.Fatalf("exec through bokujo: %v %q", err, out)
	}
	out, err := kubectl("get", "mltasks")
	if err != nil || !strings.Contains(out, "notebook") || !strings.Contains(out, "Running") {
		t.Fatalf("kubectl get mltasks: %v\n%s", err, out)
	}

	// Stop, then start again.
	if out, err := kubectl("patch", "mltask", "notebook", "--type=merge", "-p", `{"spec":{"state":"Stopped"}}`); err != nil {
		t.Fatalf("stop: %v %s", err, out)
	}
	waitPhase(t, c, ns, "notebook", mlv1alpha1.PhaseStopped, framework.Medium)
	framework.Eventually(t, framework.Medium, func() error {
		pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "ml.bokujo.io/task=notebook"})
		if err != nil || len(pods.Items) != 0 {
			return fmt.Errorf("%d pods of a stopped task (%v)", len(pods.Items), err)
		}
		return nil
	})
	if task := get(t, c, ns, "notebook"); task.Status.Admission != nil {
		t.Fatalf("a stopped task holds quota: %+v", task.Status.Admission)
	}
	if out, err := kubectl("patch", "mltask", "notebook", "--type=merge", "-p", `{"spec":{"state":"Running"}}`); err != nil {
		t.Fatalf("start: %v %s", err, out)
	}
	waitPhase(t, c, ns, "notebook", mlv1alpha1.PhaseRunning, framework.Medium)
	if out, err := kubectl("exec", "notebook-0", "--", "echo", "back"); err != nil || strings.TrimSpace(out) != "back" {
		t.Fatalf("exec after start: %v %q", err, out)
	}
	// Members cannot hand themselves quota.
	if out, err := kubectl("patch", "mltask", "notebook", "--subresource=status", "--type=merge", "-p", `{"status":{"admission":null}}`); err == nil || !strings.Contains(out, "forbidden") {
		t.Fatalf("a member patched an MLTask's status: %v %s", err, out)
	}
}

// kubeconfig fetches the user's generated kubeconfig into a file.
func kubeconfig(t *testing.T, srv *testserver.Server, token string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+"/v1/kubeconfig", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := srv.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("kubeconfig: %d %s", resp.StatusCode, body)
	}
	var probe map[string]any
	if json.Unmarshal(body, &probe) == nil && probe["error"] != nil {
		t.Fatalf("kubeconfig: %s", body)
	}
	f := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(f, bytes.TrimSpace(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}
