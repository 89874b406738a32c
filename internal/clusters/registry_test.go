package clusters_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/api/management/v1alpha1/crds"
	"bokujo.io/bokujo/internal/clusters"
	"bokujo.io/bokujo/internal/crdinstall"
	"bokujo.io/bokujo/internal/localcluster"
	"bokujo.io/bokujo/test/framework"
)

var env *framework.Env

func TestMain(m *testing.M) {
	framework.Main(m, &env,
		framework.ClusterSpec{Name: "mgmt"},
		framework.ClusterSpec{Name: "dev", Nodes: localcluster.GPUNodes("dev-gpu", 1, 8)},
	)
}

func scheme(t *testing.T) *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := mgmtv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// setup installs the management API once and returns a client on it.
func setup(t *testing.T) client.Client {
	t.Helper()
	if env == nil {
		t.Skip("integration test: needs real clusters (runs without -short)")
	}
	list, err := crds.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	if err := crdinstall.Install(context.Background(), env.RESTConfig(t, "mgmt"), list); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(env.RESTConfig(t, "mgmt"), client.Options{Scheme: scheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: mgmtv1.SystemNamespace}}
	if err := c.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	return c
}

var healthOnce sync.Once

// startHealth runs the health controller once for the package; it lives
// until the test binary exits (controller names are unique per process).
func startHealth(t *testing.T, c client.Client, reg *clusters.Registry) {
	t.Helper()
	healthOnce.Do(func() { runHealth(t, c, reg) })
}

func runHealth(t *testing.T, c client.Client, reg *clusters.Registry) {
	mgr, err := ctrl.NewManager(env.RESTConfig(t, "mgmt"), ctrl.Options{Scheme: c.Scheme(), Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	h := &clusters.HealthReconciler{Client: mgr.GetClient(), Registry: reg, Options: clusters.HealthOptions{Interval: time.Second, Timeout: 2 * time.Second}}
	if err := h.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	go func() { _ = mgr.Start(context.Background()) }()
}

func TestImportProvisionsTwoIdentitiesAndHealth(t *testing.T) {
	c := setup(t)
	dev := env.Cluster(t, "dev")
	reg := clusters.NewRegistry(c, clusters.Policy{AllowLoopback: true})
	ctx := context.Background()
	if err := reg.ImportConfig(ctx, "dev", "Development", dev.RESTConfig()); err != nil {
		t.Fatal(err)
	}
	t.Run("second import is refused", func(t *testing.T) {
		if err := reg.ImportConfig(ctx, "dev", "", dev.RESTConfig()); !errors.Is(err, clusters.ErrAlreadyExists) {
			t.Fatalf("got %v, want ErrAlreadyExists", err)
		}
	})

	t.Run("proxy identity may only impersonate", func(t *testing.T) {
		cfg, err := reg.Config(ctx, "dev", clusters.IdentityProxy)
		if err != nil {
			t.Fatal(err)
		}
		cs := kubernetes.NewForConfigOrDie(cfg)
		if _, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Fatalf("proxy identity listed pods itself: %v", err)
		}
		cfg.Impersonate.UserName = "bokujo:nobody"
		_, err = kubernetes.NewForConfigOrDie(cfg).CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "bokujo:nobody") {
			t.Fatalf("impersonated request: %v, want Forbidden for bokujo:nobody", err)
		}
		// Impersonating a service account needs a right the proxy identity
		// does not have.
		cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:kube-system:default"}
		_, err = kubernetes.NewForConfigOrDie(cfg).CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if !apierrors.IsForbidden(err) {
			t.Fatalf("proxy identity impersonated a service account: %v", err)
		}
	})

	t.Run("management identity reads nodes", func(t *testing.T) {
		cfg, err := reg.ManagementConfig(ctx, "dev")
		if err != nil {
			t.Fatal(err)
		}
		nodes, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil || len(nodes.Items) != 1 {
			t.Fatalf("list nodes: %v", err)
		}
		if _, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Secrets("kube-system").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Fatalf("management identity read secrets: %v", err)
		}
	})

	t.Run("no admin credential is stored", func(t *testing.T) {
		var secrets corev1.SecretList
		if err := c.List(ctx, &secrets, client.InNamespace(mgmtv1.SystemNamespace)); err != nil {
			t.Fatal(err)
		}
		admin := dev.RESTConfig()
		for _, s := range secrets.Items {
			for _, v := range s.Data {
				if strings.Contains(string(v), string(admin.CertData)) && len(admin.CertData) > 0 {
					t.Fatalf("secret %s holds the admin certificate", s.Name)
				}
			}
		}
	})

	startHealth(t, c, reg)
	gpuPod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "gpu", Namespace: "default"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
		Name: "c", Image: "x", Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("3")}}}}}}
	if _, err := dev.Client().CoreV1().Pods("default").Create(ctx, gpuPod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, framework.Medium, func() error {
		var got mgmtv1.Cluster
		if err := c.Get(ctx, types.NamespacedName{Name: "dev"}, &got); err != nil {
			return err
		}
		s := got.Status
		if !meta.IsStatusConditionTrue(s.Conditions, mgmtv1.ConditionReady) {
			return fmt.Errorf("not ready: %+v", s.Conditions)
		}
		if s.KubernetesVersion != "v1.37.2" || s.NodeCount == nil || *s.NodeCount != 1 {
			return fmt.Errorf("version %q nodes %v", s.KubernetesVersion, s.NodeCount)
		}
		if q := s.Capacity["nvidia.com/gpu"]; q.Value() != 8 {
			return fmt.Errorf("gpu capacity %s", q.String())
		}
		if q := s.Requested["nvidia.com/gpu"]; q.Value() != 3 {
			return fmt.Errorf("gpu requested %s", q.String())
		}
		return nil
	})
}

func TestUnreachableClusterDoesNotBlockOthers(t *testing.T) {
	c := setup(t)
	reg := clusters.NewRegistry(c, clusters.Policy{AllowLoopback: true})
	ctx := context.Background()
	dev := env.Cluster(t, "dev")
	if err := reg.ImportConfig(ctx, "dev2", "", dev.RESTConfig()); err != nil && !errors.Is(err, clusters.ErrAlreadyExists) {
		t.Fatal(err)
	}
	// A cluster whose apiserver address no longer answers.
	ca, err := dev.CACertPEM()
	if err != nil {
		t.Fatal(err)
	}
	dead := rawKubeconfig(t, "https://127.0.0.1:1", ca, []byte("t0ken"))
	if err := reg.Register(ctx, "gone", "", clusters.Credentials{Proxy: dead, Manager: dead}); err != nil {
		t.Fatal(err)
	}
	startHealth(t, c, reg)
	framework.Eventually(t, framework.Short*2, func() error {
		var gone, ok mgmtv1.Cluster
		if err := c.Get(ctx, types.NamespacedName{Name: "gone"}, &gone); err != nil {
			return err
		}
		if err := c.Get(ctx, types.NamespacedName{Name: "dev2"}, &ok); err != nil {
			return err
		}
		cond := meta.FindStatusCondition(gone.Status.Conditions, mgmtv1.ConditionReady)
		if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != mgmtv1.ClusterReasonProbeFailed {
			return fmt.Errorf("gone: %+v", gone.Status.Conditions)
		}
		if strings.Contains(cond.Message, "t0ken") {
			t.Fatalf("condition message leaks the token: %s", cond.Message)
		}
		if !meta.IsStatusConditionTrue(ok.Status.Conditions, mgmtv1.ConditionReady) {
			return fmt.Errorf("dev2 not ready while gone is down: %+v", ok.Status.Conditions)
		}
		return nil
	})
}

func rawKubeconfig(t *testing.T, server string, ca, token []byte) []byte {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: string(token)}
	cfg.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	cfg.CurrentContext = "c"
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
