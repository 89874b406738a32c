package agent

import (
	"errors"
	"io"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

func decodeAll(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(string(data)), 4096)
	var out []*unstructured.Unstructured
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("decode: %v\n%s", err, data)
		}
		if len(obj.Object) > 0 {
			out = append(out, &obj)
		}
	}
}

// TestManifestValuesCannotBreakOut renders hostile values: each stays one
// string in its own field, and no object is added.
func TestManifestValuesCannotBreakOut(t *testing.T) {
	plain, err := Manifest(ManifestOptions{Server: "https://b.example", Token: "bkr_x", Image: "img"})
	if err != nil {
		t.Fatal(err)
	}
	hostile := ManifestOptions{
		Server: "https://b.example\n---\nkind: ClusterRoleBinding",
		Token:  "bkr_x\"\n  evil: \"yes",
		Image:  "img\n        command: [sh]",
		CAPEM:  []byte("-----BEGIN CERTIFICATE-----\n---\nkind: Pod\n"),
	}
	out, err := Manifest(hostile)
	if err != nil {
		t.Fatal(err)
	}
	objs, want := decodeAll(t, out), decodeAll(t, plain)
	if len(objs) != len(want) {
		t.Fatalf("%d objects rendered, want %d:\n%s", len(objs), len(want), out)
	}
	for _, o := range objs {
		switch o.GetKind() {
		case "Secret":
			data, _, _ := unstructured.NestedStringMap(o.Object, "stringData")
			if data["token"] != hostile.Token || data["ca.crt"] != string(hostile.CAPEM) || len(data) != 2 {
				t.Fatalf("secret data: %q", data)
			}
		case "Deployment":
			containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			c := containers[0].(map[string]any)
			if c["image"] != hostile.Image || c["command"] != nil {
				t.Fatalf("container: %v", c)
			}
			args := c["args"].([]any)
			if args[1] != "--server="+hostile.Server {
				t.Fatalf("args: %q", args)
			}
		}
	}
	if _, err := Manifest(ManifestOptions{Server: "https://b.example", Image: "img"}); err == nil {
		t.Fatal("rendered without a token")
	}
}

func TestManifestRights(t *testing.T) {
	for _, admin := range []bool{false, true} {
		out, err := Manifest(ManifestOptions{Server: "https://b.example", Token: "bkr_x", Image: "img", ClusterAdmin: admin})
		if err != nil {
			t.Fatal(err)
		}
		var bindsAdmin, namespacesWritable bool
		for _, o := range decodeAll(t, out) {
			if o.GetKind() == "ClusterRoleBinding" {
				name, _, _ := unstructured.NestedString(o.Object, "roleRef", "name")
				bindsAdmin = bindsAdmin || name == "cluster-admin"
			}
			if o.GetKind() == "ClusterRole" {
				rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
				for _, r := range rules {
					m := r.(map[string]any)
					if strings.Contains(strings.TrimSpace(toString(m["resources"])), "namespaces") && strings.Contains(toString(m["verbs"]), "create") {
						namespacesWritable = true
					}
					if strings.Contains(toString(m["resources"]), "*") || strings.Contains(toString(m["verbs"]), "*") {
						t.Fatalf("wildcard rule: %v", m)
					}
				}
			}
		}
		if bindsAdmin != admin || namespacesWritable {
			t.Fatalf("clusterAdmin=%v: binds cluster-admin %v, may create namespaces %v", admin, bindsAdmin, namespacesWritable)
		}
	}
}

func toString(v any) string {
	var b strings.Builder
	if list, ok := v.([]any); ok {
		for _, x := range list {
			b.WriteString(x.(string) + " ")
		}
	}
	return b.String()
}

func TestHostPort(t *testing.T) {
	for in, want := range map[string]string{
		"https://10.96.0.1:443":   "10.96.0.1:443",
		"https://10.96.0.1":       "10.96.0.1:443",
		"127.0.0.1:6443":          "127.0.0.1:6443",
		"https://[::1]:6443/path": "[::1]:6443",
		"http://api.local":        "api.local:80",
	} {
		if got, err := hostPort(in); err != nil || got != want {
			t.Errorf("hostPort(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := hostPort("://"); err == nil {
		t.Error("hostPort accepted garbage")
	}
}
