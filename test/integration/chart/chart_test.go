// Package chart_test checks the server's Helm chart: it lints, renders
// with the default and the high-availability values, and every rendered
// object is accepted by a real apiserver (server-side dry run).
package chart_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"bokujo.io/bokujo/test/framework"
)

var env *framework.Env

func TestMain(m *testing.M) {
	framework.Main(m, &env, framework.ClusterSpec{Name: "mgmt"})
}

const chart = "../../../charts/bokujo"

func helm(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(framework.BinDir(t), "helm"), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("helm %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestChartRendersAndIsAccepted(t *testing.T) {
	if env == nil {
		t.Skip("integration test: needs a real cluster (runs without -short)")
	}
	ctx := context.Background()
	cfg := env.RESTConfig(t, "mgmt")
	cs := env.Client(t, "mgmt")
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bokujo"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(cfg)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(cfg)))
	for name, values := range map[string][]string{"default": nil, "ha": {"-f", chart + "/values-ha.yaml"}} {
		t.Run(name, func(t *testing.T) {
			helm(t, append([]string{"lint", "--strict", chart}, values...)...)
			rendered := helm(t, append([]string{"template", "bokujo", chart, "--namespace", "bokujo"}, values...)...)
			dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(rendered), 4096)
			kinds := map[string]int{}
			for {
				var obj unstructured.Unstructured
				if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					t.Fatalf("decode rendered chart: %v", err)
				}
				if len(obj.Object) == 0 {
					continue
				}
				kinds[obj.GetKind()]++
				gvk := obj.GroupVersionKind()
				if gvk.Group == "cert-manager.io" {
					// cert-manager's CRDs are not installed here; its
					// object is checked for the fields bokujo relies on.
					if s, _, _ := unstructured.NestedString(obj.Object, "spec", "secretName"); s == "" {
						t.Errorf("Certificate without spec.secretName")
					}
					continue
				}
				m, err := mapper.RESTMapping(schema.GroupKind{Group: gvk.Group, Kind: gvk.Kind}, gvk.Version)
				if err != nil {
					t.Fatalf("%s: %v", gvk, err)
				}
				var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
				if m.Scope.Name() == "namespace" {
					ns := obj.GetNamespace()
					if ns == "" {
						ns = "bokujo"
					}
					ri = dyn.Resource(m.Resource).Namespace(ns)
				}
				data, _ := obj.MarshalJSON()
				opts := metav1.PatchOptions{FieldManager: "chart-test", DryRun: []string{metav1.DryRunAll}, Force: boolPtr(true)}
				if gvk.Kind == "Namespace" {
					// Helm creates namespaces first; the namespaced
					// objects after it can only be checked inside it.
					opts.DryRun = nil
				}
				if _, err := ri.Patch(ctx, obj.GetName(), "application/apply-patch+yaml", data, opts); err != nil {
					t.Errorf("%s %s refused by the apiserver: %v", gvk.Kind, obj.GetName(), err)
				}
			}
			for _, k := range []string{"Deployment", "Service", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} {
				if kinds[k] == 0 {
					t.Errorf("chart renders no %s", k)
				}
			}
			if name == "ha" && (!bytes.Contains([]byte(rendered), []byte("--leader-elect")) || !strings.Contains(rendered, "replicas: 3") || kinds["Ingress"] != 1) {
				t.Errorf("HA values do not give 3 replicas with leader election and an Ingress")
			}
			if name == "default" && strings.Contains(rendered, "--leader-elect") {
				t.Errorf("a single replica should not elect a leader")
			}
		})
	}
}

func boolPtr(b bool) *bool { return &b }
