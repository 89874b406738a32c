// Package drivers_test runs the cluster drivers inside a real bokujo
// server: the local driver creates a cluster with simulated GPU nodes; the
// capi driver waits for Cluster API, applies the objects of an EKS cluster
// that the real Cluster API and AWS provider CRDs accept, and imports the
// cluster once Cluster API has written its kubeconfig.
package drivers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/app"
	"bokujo.io/bokujo/internal/clusters"
	"bokujo.io/bokujo/internal/crdinstall"
	"bokujo.io/bokujo/internal/drivers"
	"bokujo.io/bokujo/test/framework"
	"bokujo.io/bokujo/test/framework/testserver"
)

var env *framework.Env

func TestMain(m *testing.M) {
	framework.Main(m, &env, framework.ClusterSpec{Name: "mgmt"}, framework.ClusterSpec{Name: "workload"})
}

// Versions of Cluster API whose CRDs the rendered objects are checked
// against; fetched from the Go module proxy like any dependency.
const (
	capiModule = "sigs.k8s.io/cluster-api@v1.14.2"
	capaModule = "sigs.k8s.io/cluster-api-provider-aws/v2@v2.13.0"
)

func start(t *testing.T) *testserver.Server {
	return testserver.Start(t, env.RESTConfig(t, "mgmt"), func(o *app.Options) { o.DriverPoll = time.Second })
}

func provisioned(t *testing.T, c client.Client, name string, wantReason string) *mgmtv1.Cluster {
	t.Helper()
	var got mgmtv1.Cluster
	framework.Eventually(t, framework.Long, func() error {
		if err := c.Get(context.Background(), client.ObjectKey{Name: name}, &got); err != nil {
			return err
		}
		cond := meta.FindStatusCondition(got.Status.Conditions, drivers.ConditionProvisioned)
		if cond == nil || cond.Reason != wantReason {
			return fmt.Errorf("Provisioned = %+v, want reason %s", cond, wantReason)
		}
		return nil
	})
	return &got
}

func TestLocalDriverCreatesASimulatedCluster(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	c := s.App.Client
	gpus := resource.MustParse("16")
	cl := &mgmtv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "lab"}, Spec: mgmtv1.ClusterSpec{Source: mgmtv1.ClusterSource{Driver: &mgmtv1.DriverSource{
		Name: mgmtv1.DriverLocal,
		NodePools: []mgmtv1.NodePool{
			{Name: "gpu", Count: 2, GPUs: 4, GPUProduct: "NVIDIA-A100", CPU: &gpus, Labels: map[string]string{"team": "vision"}},
			{Name: "cpu", Count: 1},
		},
	}}}}
	if err := c.Create(ctx, cl); err != nil {
		t.Fatal(err)
	}
	provisioned(t, c, "lab", drivers.ReasonProvisioned)
	framework.Eventually(t, framework.Medium, func() error {
		var got mgmtv1.Cluster
		if err := c.Get(ctx, client.ObjectKey{Name: "lab"}, &got); err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(got.Status.Conditions, mgmtv1.ConditionReady) || got.Status.NodeCount == nil || *got.Status.NodeCount != 3 {
			return fmt.Errorf("status %+v", got.Status)
		}
		if g := got.Status.Capacity["nvidia.com/gpu"]; g.Value() != 8 {
			return fmt.Errorf("gpu capacity %s", g.String())
		}
		return nil
	})
	cfg, err := s.App.Registry.Config(ctx, "lab", clusters.IdentityManager)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "bokujo.io/node-pool=gpu,team=vision"})
	if err != nil || len(nodes.Items) != 2 || nodes.Items[0].Labels["nvidia.com/gpu.product"] != "NVIDIA-A100" {
		t.Fatalf("gpu pool nodes: %v %+v", err, nodes)
	}

	if err := c.Delete(ctx, cl); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, framework.Medium, func() error {
		if _, err := kubernetes.NewForConfigOrDie(cfg).Discovery().ServerVersion(); err == nil {
			return errors.New("the removed cluster still answers")
		}
		return nil
	})
}

func TestLocalDriverRefusesAClusterWithoutNodes(t *testing.T) {
	s := start(t)
	cl := &mgmtv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "empty"}, Spec: mgmtv1.ClusterSpec{Source: mgmtv1.ClusterSource{Driver: &mgmtv1.DriverSource{
		Name: mgmtv1.DriverLocal, NodePools: []mgmtv1.NodePool{{Name: "none", Count: 0}}}}}}
	if err := s.App.Client.Create(context.Background(), cl); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.App.Client.Delete(context.Background(), cl) })
	got := provisioned(t, s.App.Client, "empty", drivers.ReasonInvalidSpec)
	if cond := meta.FindStatusCondition(got.Status.Conditions, drivers.ConditionProvisioned); !strings.Contains(cond.Message, "at least one node") {
		t.Errorf("message %q", cond.Message)
	}
}

func TestDriverSpecValidation(t *testing.T) {
	if err := app.Prepare(context.Background(), env.RESTConfig(t, "mgmt")); err != nil {
		t.Fatal(err)
	}
	c := testserver.ManagementClient(t, env.RESTConfig(t, "mgmt"))
	cases := []struct {
		name, want string
		d          mgmtv1.DriverSource
	}{
		{"capi without settings", "needs capi settings", mgmtv1.DriverSource{Name: mgmtv1.DriverCAPI}},
		{"capi settings on local", "belong to the capi driver", mgmtv1.DriverSource{Name: mgmtv1.DriverLocal, CAPI: &mgmtv1.CAPIDriverSpec{Provider: mgmtv1.CAPIProviderAWS, Region: "eu-west-1", CredentialsSecretRef: mgmtv1.SecretReference{Name: "x"}}}},
		{"version without v", "kubernetesVersion", mgmtv1.DriverSource{Name: mgmtv1.DriverLocal, KubernetesVersion: "1.33"}},
		{"negative count", "count", mgmtv1.DriverSource{Name: mgmtv1.DriverLocal, NodePools: []mgmtv1.NodePool{{Name: "a", Count: -1}}}},
		{"bad region", "region", mgmtv1.DriverSource{Name: mgmtv1.DriverCAPI, CAPI: &mgmtv1.CAPIDriverSpec{Provider: mgmtv1.CAPIProviderAWS, Region: "Mars", CredentialsSecretRef: mgmtv1.SecretReference{Name: "x"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl := &mgmtv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "invalid"}, Spec: mgmtv1.ClusterSpec{Source: mgmtv1.ClusterSource{Driver: &tc.d}}}
			if err := c.Create(context.Background(), cl, client.DryRunAll); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("want an error about %q, got %v", tc.want, err)
			}
		})
	}
}

// capiCRDs reads the CRDs of the kinds the capi driver writes from the
// Cluster API and AWS provider modules.
func capiCRDs(t *testing.T) []*apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module capicrds\n\ngo 1.26\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "mod", "download", "-json", capiModule, capaModule)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("download the Cluster API modules (needs the Go module proxy): %v", err)
	}
	dirs := map[string]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var m struct{ Path, Dir, Error string }
		if err := dec.Decode(&m); err != nil || m.Error != "" {
			t.Fatalf("download: %v %s", err, m.Error)
		}
		dirs[m.Path] = m.Dir
	}
	capi, capa := dirs["sigs.k8s.io/cluster-api"], dirs["sigs.k8s.io/cluster-api-provider-aws/v2"]
	files := []string{
		filepath.Join(capi, "core/config/crd/bases/cluster.x-k8s.io_clusters.yaml"),
		filepath.Join(capi, "core/config/crd/bases/cluster.x-k8s.io_machinedeployments.yaml"),
	}
	for _, f := range []string{"controlplane.cluster.x-k8s.io_awsmanagedcontrolplanes.yaml", "infrastructure.cluster.x-k8s.io_awsmanagedclusters.yaml",
		"infrastructure.cluster.x-k8s.io_awsmachinetemplates.yaml", "infrastructure.cluster.x-k8s.io_awsclusterstaticidentities.yaml",
		"bootstrap.cluster.x-k8s.io_eksconfigtemplates.yaml"} {
		files = append(files, filepath.Join(capa, "config/crd/bases", f))
	}
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(data, crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		// The conversion webhooks of the releases are not running here;
		// the driver writes only the storage versions.
		crd.Spec.Conversion = nil
		crds = append(crds, crd)
	}
	return crds
}

func TestCAPIDriverRendersAnEKSClusterAndImportsIt(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	c := s.App.Client
	cl := &mgmtv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "eks-prod"}, Spec: mgmtv1.ClusterSpec{Source: mgmtv1.ClusterSource{Driver: &mgmtv1.DriverSource{
		Name: mgmtv1.DriverCAPI, KubernetesVersion: "v1.33",
		CAPI: &mgmtv1.CAPIDriverSpec{Provider: mgmtv1.CAPIProviderAWS, Region: "eu-west-1", CredentialsSecretRef: mgmtv1.SecretReference{Name: "aws-prod"}, SSHKeyName: "ops"},
		NodePools: []mgmtv1.NodePool{
			{Name: "general", Count: 3, InstanceType: "m6i.2xlarge"},
			{Name: "gpu", Count: 2, InstanceType: "p4d.24xlarge", GPUProduct: "NVIDIA-A100-SXM4-40GB",
				Taints: []corev1.Taint{{Key: "nvidia.com/gpu", Value: "present", Effect: corev1.TaintEffectNoSchedule}}},
		},
	}}}}
	if err := c.Create(ctx, cl); err != nil {
		t.Fatal(err)
	}

	t.Run("without Cluster API installed it says what to do", func(t *testing.T) {
		got := provisioned(t, c, "eks-prod", drivers.ReasonCAPINotInstalled)
		if msg := meta.FindStatusCondition(got.Status.Conditions, drivers.ConditionProvisioned).Message; !strings.Contains(msg, "clusterctl init --infrastructure aws") {
			t.Errorf("message %q", msg)
		}
	})

	if err := crdinstall.Install(ctx, env.RESTConfig(t, "mgmt"), capiCRDs(t)); err != nil {
		t.Fatalf("install the Cluster API CRDs: %v", err)
	}
	for _, ns := range []string{"capa-system"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("without the credentials Secret it names it", func(t *testing.T) {
		got := provisioned(t, c, "eks-prod", drivers.ReasonCredentialsAbsent)
		if msg := meta.FindStatusCondition(got.Status.Conditions, drivers.ConditionProvisioned).Message; !strings.Contains(msg, "bokujo-system/aws-prod") {
			t.Errorf("message %q", msg)
		}
	})

	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "aws-prod", Namespace: mgmtv1.SystemNamespace},
		Data: map[string][]byte{mgmtv1.AWSAccessKeyIDKey: []byte("AKIAIOSFODNN7EXAMPLE"), mgmtv1.AWSSecretAccessKeyKey: []byte("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")}}
	if err := c.Create(ctx, sec); err != nil {
		t.Fatal(err)
	}

	t.Run("the objects are accepted by the Cluster API CRDs", func(t *testing.T) {
		provisioned(t, c, "eks-prod", drivers.ReasonProvisioning)
		get := func(gvk schema.GroupVersionKind, ns, name string) *unstructured.Unstructured {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(gvk)
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
				t.Fatalf("%s %s: %v", gvk.Kind, name, err)
			}
			return u
		}
		gv := func(g, k string) schema.GroupVersionKind {
			return schema.GroupVersionKind{Group: g, Version: "v1beta2", Kind: k}
		}
		capiCluster := get(gv("cluster.x-k8s.io", "Cluster"), "bokujo-capi", "eks-prod")
		if k, _, _ := unstructured.NestedString(capiCluster.Object, "spec", "controlPlaneRef", "kind"); k != "AWSManagedControlPlane" {
			t.Errorf("control plane ref %q", k)
		}
		cp := get(gv("controlplane.cluster.x-k8s.io", "AWSManagedControlPlane"), "bokujo-capi", "eks-prod-control-plane")
		if r, _, _ := unstructured.NestedString(cp.Object, "spec", "region"); r != "eu-west-1" {
			t.Errorf("region %q", r)
		}
		for pool, want := range map[string]int64{"general": 3, "gpu": 2} {
			md := get(gv("cluster.x-k8s.io", "MachineDeployment"), "bokujo-capi", "eks-prod-"+pool)
			if n, _, _ := unstructured.NestedInt64(md.Object, "spec", "replicas"); n != want {
				t.Errorf("%s replicas %d", pool, n)
			}
			get(gv("infrastructure.cluster.x-k8s.io", "AWSMachineTemplate"), "bokujo-capi", "eks-prod-"+pool)
		}
		boot := get(gv("bootstrap.cluster.x-k8s.io", "EKSConfigTemplate"), "bokujo-capi", "eks-prod-gpu")
		args, _, _ := unstructured.NestedStringMap(boot.Object, "spec", "template", "spec", "kubeletExtraArgs")
		if args["register-with-taints"] != "nvidia.com/gpu=present:NoSchedule" || !strings.Contains(args["node-labels"], "nvidia.com/gpu.product=NVIDIA-A100-SXM4-40GB") {
			t.Errorf("kubelet args %v", args)
		}
		get(gv("infrastructure.cluster.x-k8s.io", "AWSClusterStaticIdentity"), "", "bokujo-eks-prod")
		var idSecret corev1.Secret
		if err := c.Get(ctx, client.ObjectKey{Namespace: "capa-system", Name: "bokujo-eks-prod"}, &idSecret); err != nil {
			// The cache holds bokujo-system only: read it directly.
			direct := testserver.ManagementClient(t, env.RESTConfig(t, "mgmt"))
			if err := direct.Get(ctx, client.ObjectKey{Namespace: "capa-system", Name: "bokujo-eks-prod"}, &idSecret); err != nil {
				t.Fatal(err)
			}
		}
		if string(idSecret.Data["AccessKeyID"]) != "AKIAIOSFODNN7EXAMPLE" {
			t.Errorf("identity secret keys %v", idSecret.Data)
		}
	})

	t.Run("Cluster API's kubeconfig makes it a bokujo cluster", func(t *testing.T) {
		// The cluster "Cluster API created" is the test's real workload
		// cluster; its admin kubeconfig is written where Cluster API
		// writes it.
		raw, err := clientcmd.Write(*kubeconfigOf(t))
		if err != nil {
			t.Fatal(err)
		}
		kc := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "eks-prod-kubeconfig", Namespace: "bokujo-capi"}, Data: map[string][]byte{"value": raw}}
		if err := testserver.ManagementClient(t, env.RESTConfig(t, "mgmt")).Create(ctx, kc); err != nil {
			t.Fatal(err)
		}
		got := provisioned(t, c, "eks-prod", drivers.ReasonProvisioned)
		if got.Spec.Source.Driver.ProxyCredentials == nil || got.Spec.Source.Driver.ManagementCredentials == nil {
			t.Fatalf("credentials not recorded: %+v", got.Spec.Source.Driver)
		}
		framework.Eventually(t, framework.Medium, func() error {
			if err := c.Get(ctx, client.ObjectKey{Name: "eks-prod"}, got); err != nil {
				return err
			}
			if !meta.IsStatusConditionTrue(got.Status.Conditions, mgmtv1.ConditionReady) {
				return fmt.Errorf("not Ready: %+v", got.Status.Conditions)
			}
			return nil
		})
	})
}

// kubeconfigOf is the workload cluster's admin kubeconfig.
func kubeconfigOf(t *testing.T) *clientcmdapi.Config {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(env.Cluster(t, "workload").KubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
