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

	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/drivers"
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
	// CAPA's namespace exists where CAPA is installed.
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "capa-system"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, values := range map[string][]string{"default": nil, "ha": {"-f", chart + "/values-ha.yaml"}, "capi": {"--set", "drivers.capi.enabled=true"}, "opt-in": {"--set", "clusterControllers.optIn=true"}} {
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
			if optIn := strings.Contains(rendered, "--cluster-controllers-opt-in"); optIn != (name == "opt-in") {
				t.Errorf("--cluster-controllers-opt-in rendered: %v, want only with clusterControllers.optIn", optIn)
			}
			if capi := strings.Contains(rendered, "capi-driver"); capi != (name == "capi") {
				t.Errorf("CAPI driver RBAC rendered: %v, want only with drivers.capi.enabled", capi)
			}
		})
	}
}

func boolPtr(b bool) *bool { return &b }

// TestCAPIDriverRBACCoversWhatTheDriverWrites installs the chart's RBAC
// with drivers.capi.enabled for real and asks the apiserver whether the
// server's service account may apply every object the CAPI driver renders
// and read the kubeconfig Secret Cluster API writes, and may not touch
// Secrets elsewhere.
func TestCAPIDriverRBACCoversWhatTheDriverWrites(t *testing.T) {
	if env == nil {
		t.Skip("integration test: needs a real cluster (runs without -short)")
	}
	ctx := context.Background()
	cfg := env.RESTConfig(t, "mgmt")
	cs := env.Client(t, "mgmt")
	for _, ns := range []string{"bokujo-rbac", "capa-system"} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	rendered := helm(t, "template", "rbac", chart, "--namespace", "bokujo-rbac", "--set", "drivers.capi.enabled=true",
		"--show-only", "templates/capi-rbac.yaml", "--show-only", "templates/rbac.yaml")
	dyn := dynamic.NewForConfigOrDie(cfg)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(cfg)))
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(rendered), 4096)
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		gvk := obj.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatal(err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == "namespace" {
			ri = dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
		}
		data, _ := obj.MarshalJSON()
		if _, err := ri.Patch(ctx, obj.GetName(), "application/apply-patch+yaml", data, metav1.PatchOptions{FieldManager: "chart-test", Force: boolPtr(true)}); err != nil {
			t.Fatalf("%s %s: %v", gvk.Kind, obj.GetName(), err)
		}
	}

	cl := &mgmtv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "eks"}, Spec: mgmtv1.ClusterSpec{Source: mgmtv1.ClusterSource{Driver: &mgmtv1.DriverSource{
		Name: mgmtv1.DriverCAPI, KubernetesVersion: "v1.33",
		CAPI:      &mgmtv1.CAPIDriverSpec{Provider: mgmtv1.CAPIProviderAWS, Region: "eu-west-1", CredentialsSecretRef: mgmtv1.SecretReference{Name: "aws"}},
		NodePools: []mgmtv1.NodePool{{Name: "general", Count: 1}},
	}}}}
	objs, err := drivers.RenderEKS(cl, map[string][]byte{mgmtv1.AWSAccessKeyIDKey: []byte("AKIA"), mgmtv1.AWSSecretAccessKeyKey: []byte("secret")})
	if err != nil {
		t.Fatal(err)
	}
	sa := "system:serviceaccount:bokujo-rbac:rbac"
	can := func(verb, group, resource, ns string) bool {
		r, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
			User: sa, Groups: []string{"system:serviceaccounts", "system:authenticated"},
			ResourceAttributes: &authzv1.ResourceAttributes{Verb: verb, Group: group, Resource: resource, Namespace: ns}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return r.Status.Allowed
	}
	kinds := map[string]bool{}
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		// The kinds' resources by Kubernetes' naming rule (the CAPI CRDs
		// are not installed here to ask discovery).
		plural, _ := meta.UnsafeGuessKindToResource(gvk)
		resource := plural.Resource
		kinds[gvk.Kind] = true
		for _, verb := range []string{"get", "create", "patch"} {
			if !can(verb, gvk.Group, resource, o.GetNamespace()) {
				t.Errorf("the chart does not let the server %s %s %s/%s", verb, gvk.Kind, o.GetNamespace(), o.GetName())
			}
		}
	}
	if len(kinds) < 6 {
		t.Fatalf("driver rendered only %v", kinds)
	}
	if !can("get", "", "secrets", drivers.CAPINamespace(cl)) {
		t.Error("the chart does not let the server read the kubeconfig Secret Cluster API writes")
	}
	if can("get", "", "secrets", "kube-system") || can("list", "", "secrets", "") {
		t.Error("the CAPI driver RBAC reaches Secrets outside its namespaces")
	}
}
