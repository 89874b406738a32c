package v1alpha1_test

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1alpha1 "bokujo.io/bokujo/api/ml/v1alpha1"
)

func task(name string, changes ...func(*v1alpha1.MLTask)) *v1alpha1.MLTask {
	t := &v1alpha1.MLTask{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1alpha1.MLTaskSpec{Image: "pytorch/pytorch:2.5", Workers: 2, Resources: v1alpha1.WorkerResources{GPUs: 1}},
	}
	for _, f := range changes {
		f(t)
	}
	return t
}

func datasetURI(u string) func(*v1alpha1.MLTask) {
	return func(t *v1alpha1.MLTask) { t.Spec.Dataset = &v1alpha1.Dataset{URI: v1alpha1.RemoteURI(u)} }
}

// TestMLTaskValidation sends good and bad tasks to a real API server: the
// CRD's OpenAPI schema and CEL rules are what reject bad input, since the
// downstream clusters run no admission webhook of bokujo's.
func TestMLTaskValidation(t *testing.T) {
	c := mlClient(t)
	ns := env.Namespace(t, downstream)
	cases := []struct {
		name    string
		obj     *v1alpha1.MLTask
		wantErr string // substring; empty means accepted
	}{
		{"minimal", task("ok"), ""},
		{"missing image", task("x", func(t *v1alpha1.MLTask) { t.Spec.Image = "" }), "spec.image"},
		{"blank image", task("x", func(t *v1alpha1.MLTask) { t.Spec.Image = "  " }), "image must not be blank"},
		{"workers 0", task("x", func(t *v1alpha1.MLTask) { t.Spec.Workers = 0 }), ""}, // 0 is omitted and defaults to 1
		{"workers negative", task("x", func(t *v1alpha1.MLTask) { t.Spec.Workers = -1 }), "spec.workers"},
		{"workers too many", task("x", func(t *v1alpha1.MLTask) { t.Spec.Workers = 257 }), "spec.workers"},
		{"negative gpus", task("x", func(t *v1alpha1.MLTask) { t.Spec.Resources.GPUs = -2 }), "spec.resources.gpus"},
		{"bad product", task("x", func(t *v1alpha1.MLTask) { t.Spec.Resources.GPUProduct = "a b" }), "gpuProduct"},
		{"zero cpu", task("x", func(t *v1alpha1.MLTask) { t.Spec.Resources.CPU = ptr.To(resource.MustParse("0")) }), "cpu must be positive"},
		{"bad mode", task("x", func(t *v1alpha1.MLTask) { t.Spec.Mode = "Batch" }), "spec.mode"},
		{"stopped training", task("x", func(t *v1alpha1.MLTask) { t.Spec.State = v1alpha1.StateStopped }), "Interactive tasks only"},
		{"reserved env", task("x", func(t *v1alpha1.MLTask) { t.Spec.Env = []v1alpha1.EnvVar{{Name: "RANK", Value: "3"}} }), "distributed variables"},
		{"bad env name", task("x", func(t *v1alpha1.MLTask) { t.Spec.Env = []v1alpha1.EnvVar{{Name: "A-B"}} }), "spec.env[0].name"},
		{"https dataset", task("ds-https", datasetURI("https://data.example.com/imagenet.tar")), ""},
		{"s3 dataset", task("ds-s3", datasetURI("s3://bucket/imagenet/")), ""},
		{"public ip dataset", task("ds-ip", datasetURI("https://93.184.216.34/x")), ""},
		{"file dataset", task("x", datasetURI("file:///etc/passwd")), "file:// and other schemes are refused"},
		{"relative dataset", task("x", datasetURI("data/x")), "must be an absolute URI"},
		{"ftp dataset", task("x", datasetURI("ftp://example.com/x")), "scheme must be"},
		{"loopback dataset", task("x", datasetURI("http://127.0.0.1:8080/x")), "internal address"},
		{"ipv6 loopback", task("x", datasetURI("http://[::1]/x")), "loopback"},
		{"ipv4-mapped ipv6", task("x", datasetURI("http://[::ffff:127.0.0.1]/x")), "IPv4-mapped"},
		{"ipv6 link-local zone", task("x", datasetURI("http://[fe80::1%25eth0]/x")), "global unicast"},
		{"ipv6 global", task("ds-v6", datasetURI("https://[2001:db8::1]:8443/x")), ""},
		{"octal shorthand", task("x", datasetURI("http://0177.0.0.1/x")), "numeric shorthand"},
		{"metadata ip", task("x", datasetURI("http://169.254.169.254/latest/meta-data/")), "internal address"},
		{"private ip", task("x", datasetURI("http://10.1.2.3/x")), "internal address"},
		{"numeric shorthand", task("x", datasetURI("http://2130706433/x")), "numeric shorthand"},
		{"hex shorthand", task("x", datasetURI("http://0x7f.1/x")), "numeric shorthand"},
		{"localhost", task("x", datasetURI("http://localhost/x")), "internal name"},
		{"localhost dot", task("x", datasetURI("http://LocalHost./x")), "internal name"},
		{"cluster local", task("x", datasetURI("http://minio.data.svc.cluster.local:9000/x")), "internal name"},
		{"svc", task("x", datasetURI("http://minio.data.svc/x")), "internal name"},
		{"gce metadata", task("x", datasetURI("http://metadata.google.internal/computeMetadata/v1/")), "internal name"},
		{"credentials", task("x", datasetURI("https://user:pw@example.com/x")), "credentials"},
		{"both pvc and uri", task("x", func(t *v1alpha1.MLTask) {
			t.Spec.Dataset = &v1alpha1.Dataset{URI: "https://example.com/x", PVC: &v1alpha1.PVCSource{ClaimName: "d"}}
		}), "exactly one of pvc and uri"},
		{"neither pvc nor uri", task("x", func(t *v1alpha1.MLTask) { t.Spec.Dataset = &v1alpha1.Dataset{} }), "exactly one of pvc and uri"},
		{"subpath escapes", task("x", func(t *v1alpha1.MLTask) {
			t.Spec.Dataset = &v1alpha1.Dataset{PVC: &v1alpha1.PVCSource{ClaimName: "d", SubPath: "a/../../etc"}}
		}), "must not contain '..'"},
		{"output file uri", task("x", func(t *v1alpha1.MLTask) { t.Spec.Output = &v1alpha1.Output{URI: "file:///tmp/out"} }), "scheme must be"},
		{"scratch zero", task("x", func(t *v1alpha1.MLTask) {
			t.Spec.Scratch = &v1alpha1.Scratch{Size: resource.MustParse("0")}
		}), "size must be positive"},
		{"bad queue name", task("x", func(t *v1alpha1.MLTask) { t.Spec.Queue = "Team A" }), "spec.queue"},
		{"priority too high", task("x", func(t *v1alpha1.MLTask) { t.Spec.Priority = 5000 }), "spec.priority"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := tc.obj.DeepCopy()
			obj.Namespace = ns
			err := c.Create(context.Background(), obj)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want an error containing %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q does not contain %q", err, tc.wantErr)
			}
		})
	}
}

// TestMLTaskDefaultsAndImmutability checks the defaults the schema fills
// in and the fields that cannot change after creation.
func TestMLTaskDefaultsAndImmutability(t *testing.T) {
	c := mlClient(t)
	ns := env.Namespace(t, downstream)
	obj := task("defaults", func(t *v1alpha1.MLTask) { t.Spec.Workers = 0 })
	obj.Namespace = ns
	if err := c.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	s := obj.Spec
	if s.Mode != v1alpha1.ModeTraining || s.Workers != 1 || s.Queue != "default" || s.State != v1alpha1.StateRunning {
		t.Fatalf("defaults not applied: %+v", s)
	}
	for name, f := range map[string]func(*v1alpha1.MLTask){
		"workers":   func(t *v1alpha1.MLTask) { t.Spec.Workers = 3 },
		"resources": func(t *v1alpha1.MLTask) { t.Spec.Resources.GPUs = 4 },
		"queue":     func(t *v1alpha1.MLTask) { t.Spec.Queue = "other" },
		"mode":      func(t *v1alpha1.MLTask) { t.Spec.Mode = v1alpha1.ModeInteractive },
	} {
		u := obj.DeepCopy()
		f(u)
		err := c.Update(context.Background(), u)
		if err == nil || !strings.Contains(err.Error(), "immutable") {
			t.Errorf("update of %s: %v, want immutable", name, err)
		}
	}
}

// TestQueueValidation covers the queue objects' schema.
func TestQueueValidation(t *testing.T) {
	c := mlClient(t)
	ns := env.Namespace(t, downstream)
	good := &v1alpha1.GPUQueue{ObjectMeta: metav1.ObjectMeta{Name: "validation-good"},
		Spec: v1alpha1.GPUQueueSpec{Cohort: "lab", Quotas: []v1alpha1.GPUQuota{{Product: "NVIDIA-A100-SXM4-80GB", GPUs: 16}}}}
	if err := c.Create(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), good) })
	if good.Spec.Preemption != v1alpha1.PreemptNever {
		t.Errorf("preemption default = %q", good.Spec.Preemption)
	}
	for name, q := range map[string]*v1alpha1.GPUQueue{
		"no quotas":      {Spec: v1alpha1.GPUQueueSpec{}},
		"negative quota": {Spec: v1alpha1.GPUQueueSpec{Quotas: []v1alpha1.GPUQuota{{Product: "a", GPUs: -1}}}},
		"duplicate":      {Spec: v1alpha1.GPUQueueSpec{Quotas: []v1alpha1.GPUQuota{{Product: "a", GPUs: 1}, {Product: "a", GPUs: 2}}}},
		"bad preemption": {Spec: v1alpha1.GPUQueueSpec{Preemption: "Always", Quotas: []v1alpha1.GPUQuota{{Product: "a", GPUs: 1}}}},
	} {
		q.Name = "validation-bad"
		if err := c.Create(context.Background(), q); err == nil {
			_ = c.Delete(context.Background(), q)
			t.Errorf("%s: accepted", name)
		}
	}
	lq := &v1alpha1.LocalQueue{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}, Spec: v1alpha1.LocalQueueSpec{GPUQueue: "validation-good"}}
	if err := c.Create(context.Background(), lq); err != nil {
		t.Fatal(err)
	}
	if lq.Spec.Weight != 1 {
		t.Errorf("weight default = %d", lq.Spec.Weight)
	}
	bad := &v1alpha1.LocalQueue{ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: ns}, Spec: v1alpha1.LocalQueueSpec{GPUQueue: "x", Weight: -1}}
	if err := c.Create(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "spec.weight") {
		t.Errorf("negative weight: %v", err)
	}
}
