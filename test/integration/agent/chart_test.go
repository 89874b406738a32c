package agent_test

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"bokujo.io/bokujo/internal/agent"
	"bokujo.io/bokujo/test/framework"
)

const chart = "../../../charts/bokujo-agent"

func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(filepath.Join(framework.BinDir(t), "helm"), args...).CombinedOutput()
	return string(out), err
}

// objects lists "Kind namespace/name" of a multi-document YAML.
func objects(t *testing.T, yaml string) []string {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(yaml), 4096)
	var out []string
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode: %v\n%s", err, yaml)
		}
		if len(obj.Object) == 0 {
			continue
		}
		out = append(out, obj.GetKind()+" "+obj.GetNamespace()+"/"+obj.GetName())
	}
	slices.Sort(out)
	return out
}

func ensureNamespace(t *testing.T, cluster, name string) {
	t.Helper()
	_, err := env.Client(t, cluster).CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// TestAgentChart checks charts/bokujo-agent: it lints, refuses to render
// without a server URL, renders the same objects as the import manifest
// (least privilege by default, cluster-admin when chosen), and a real
// apiserver accepts them (server-side dry run).
func TestAgentChart(t *testing.T) {
	if env == nil {
		t.Skip("integration test: needs a real cluster (runs without -short)")
	}
	values := []string{"--set", "server=https://bokujo.example.com", "--set", "token=bkr_example", "--set", "caData=-----BEGIN CERTIFICATE-----"}
	if out, err := helm(t, append([]string{"lint", "--strict", chart}, values...)...); err != nil {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}
	if out, err := helm(t, "template", "bokujo-agent", chart, "--namespace", agent.Namespace); err == nil || !strings.Contains(out, "server must be the bokujo server's https:// URL") {
		t.Fatalf("rendered without a server: %v\n%s", err, out)
	}
	ensureNamespace(t, "other", agent.Namespace)
	ensureNamespace(t, "other", "bokujo-system")
	for name, extra := range map[string][]string{"least-privilege": nil, "cluster-admin": {"--set", "clusterAdmin=true"}} {
		t.Run(name, func(t *testing.T) {
			rendered, err := helm(t, append(append([]string{"template", "bokujo-agent", chart, "--namespace", agent.Namespace}, values...), extra...)...)
			if err != nil {
				t.Fatalf("helm template: %v\n%s", err, rendered)
			}
			manifest, err := agent.Manifest(agent.ManifestOptions{Server: "https://bokujo.example.com", Token: "bkr_example", Image: "x", ClusterAdmin: extra != nil})
			if err != nil {
				t.Fatal(err)
			}
			want := objects(t, string(manifest))
			// Helm creates the release namespace (--create-namespace).
			want = slices.DeleteFunc(want, func(s string) bool { return s == "Namespace /"+agent.Namespace })
			got := objects(t, rendered)
			// Helm fills namespaces of namespaced objects; the manifest
			// names them, so both name the same objects.
			if !slices.Equal(got, want) {
				t.Fatalf("chart and import manifest differ:\nchart:    %v\nmanifest: %v", got, want)
			}
			f := filepath.Join(t.TempDir(), "chart.yaml")
			if err := os.WriteFile(f, []byte(rendered), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := kubectl(t, env.Cluster(t, "other").KubeconfigPath(), "apply", "--dry-run=server", "-f", f); err != nil {
				t.Fatalf("rendered chart refused by a server-side dry run: %v\n%s", err, out)
			}
			if hasAdmin := strings.Contains(rendered, "name: cluster-admin"); hasAdmin != (extra != nil) || strings.Contains(rendered, "escalate") == (extra != nil) {
				t.Fatalf("clusterAdmin=%v renders the wrong rights:\n%s", extra != nil, rendered)
			}
		})
	}
}
