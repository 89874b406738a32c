package localcluster

import (
	"context"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"bokujo.io/bokujo/internal/version"
)

const (
	// FakeNodeAnnotation marks nodes kwok drives.
	FakeNodeAnnotation = "kwok.x-k8s.io/node"
	// GPUResource is the extended resource simulated GPU nodes advertise.
	GPUResource corev1.ResourceName = "nvidia.com/gpu"
	// GPUProductLabel and GPUCountLabel follow NVIDIA's GPU feature discovery.
	GPUProductLabel = "nvidia.com/gpu.product"
	GPUCountLabel   = "nvidia.com/gpu.count"
	// DefaultGPUProduct is the product label of simulated GPUs.
	DefaultGPUProduct = "NVIDIA-A100-SXM4-80GB"
)

// NodeSpec describes a simulated node.
type NodeSpec struct {
	Name   string `json:"name"`
	CPU    string `json:"cpu,omitempty"`    // default "32"
	Memory string `json:"memory,omitempty"` // default "256Gi"
	Pods   int    `json:"pods,omitempty"`   // default 110
	// GPUs is the count of nvidia.com/gpu the node advertises.
	GPUs       int               `json:"gpus,omitempty"`
	GPUProduct string            `json:"gpuProduct,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
}

// Validate checks the spec before anything is created.
func (n NodeSpec) Validate() error {
	if errs := validation.IsDNS1123Subdomain(n.Name); len(errs) > 0 {
		return fmt.Errorf("invalid node name %q: %s", n.Name, errs[0])
	}
	for what, q := range map[string]string{"cpu": n.CPU, "memory": n.Memory} {
		if q == "" {
			continue
		}
		v, err := resource.ParseQuantity(q)
		if err != nil {
			return fmt.Errorf("node %s: invalid %s %q: %v", n.Name, what, q, err)
		}
		if v.Sign() <= 0 {
			return fmt.Errorf("node %s: %s must be positive, got %q", n.Name, what, q)
		}
	}
	if n.GPUs < 0 || n.Pods < 0 {
		return fmt.Errorf("node %s: gpus and pods must not be negative", n.Name)
	}
	for k, v := range n.Labels {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return fmt.Errorf("node %s: invalid label key %q: %s", n.Name, k, errs[0])
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return fmt.Errorf("node %s: invalid label value %q: %s", n.Name, v, errs[0])
		}
	}
	return nil
}

// Node renders the Node object kwok will manage.
func (n NodeSpec) Node() *corev1.Node {
	cpu, mem, pods := n.CPU, n.Memory, n.Pods
	if cpu == "" {
		cpu = "32"
	}
	if mem == "" {
		mem = "256Gi"
	}
	if pods == 0 {
		pods = 110
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(cpu),
		corev1.ResourceMemory: resource.MustParse(mem),
		corev1.ResourcePods:   *resource.NewQuantity(int64(pods), resource.DecimalSI),
	}
	labels := map[string]string{
		"kubernetes.io/hostname": n.Name,
		"kubernetes.io/os":       "linux",
		"kubernetes.io/arch":     "amd64",
		"type":                   "kwok",
	}
	if n.GPUs > 0 {
		capacity[GPUResource] = *resource.NewQuantity(int64(n.GPUs), resource.DecimalSI)
		product := n.GPUProduct
		if product == "" {
			product = DefaultGPUProduct
		}
		labels[GPUProductLabel] = product
		labels[GPUCountLabel] = strconv.Itoa(n.GPUs)
	}
	for k, v := range n.Labels {
		labels[k] = v
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        n.Name,
			Labels:      labels,
			Annotations: map[string]string{FakeNodeAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
		},
		Status: corev1.NodeStatus{
			Capacity: capacity, Allocatable: capacity.DeepCopy(),
			// kwok keeps what is set here; without it nodes show kwok's
			// version where users expect the cluster's.
			NodeInfo: corev1.NodeSystemInfo{
				KubeletVersion: version.KubernetesVersion, KubeProxyVersion: version.KubernetesVersion,
				OSImage: "bokujo simulated node", OperatingSystem: "linux", Architecture: "amd64",
				ContainerRuntimeVersion: "kwok://" + version.KwokVersion, KernelVersion: "simulated",
			},
		},
	}
}

// CreateNodes creates simulated nodes; existing ones are left as they are.
func (c *Cluster) CreateNodes(ctx context.Context, specs ...NodeSpec) error {
	for _, spec := range specs {
		if err := spec.Validate(); err != nil {
			return err
		}
		_, err := c.client.CoreV1().Nodes().Create(ctx, spec.Node(), metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create node %s: %w", spec.Name, err)
		}
	}
	return nil
}

// GPUNodes returns n GPU node specs named prefix-0..n-1.
func GPUNodes(prefix string, n, gpus int) []NodeSpec {
	out := make([]NodeSpec, n)
	for i := range out {
		out[i] = NodeSpec{Name: fmt.Sprintf("%s-%d", prefix, i), CPU: "96", Memory: "1Ti", GPUs: gpus}
	}
	return out
}

// CPUNodes returns n CPU-only node specs named prefix-0..n-1.
func CPUNodes(prefix string, n int) []NodeSpec {
	out := make([]NodeSpec, n)
	for i := range out {
		out[i] = NodeSpec{Name: fmt.Sprintf("%s-%d", prefix, i), CPU: "32", Memory: "128Gi"}
	}
	return out
}
