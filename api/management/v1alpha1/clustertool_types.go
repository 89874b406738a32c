package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// ClusterToolName is a tool bokujo can install into a cluster.
// +kubebuilder:validation:Enum=monitoring;logging
type ClusterToolName string

const (
	// ToolMonitoring is Prometheus with node-exporter and kube-state-metrics.
	ToolMonitoring ClusterToolName = "monitoring"
	// ToolLogging is Fluent Bit collecting every container's logs.
	ToolLogging ClusterToolName = "logging"
)

// ClusterToolSpec asks for one tool in one cluster. The object's name is
// `<clusterName>-<tool>`, so a tool is installed at most once per cluster.
// +kubebuilder:validation:XValidation:rule="self.clusterName == oldSelf.clusterName && self.tool == oldSelf.tool",message="clusterName and tool cannot change; delete the tool and add it again"
type ClusterToolSpec struct {
	// clusterName is the Cluster the tool goes into.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	ClusterName string `json:"clusterName"`

	// tool is monitoring or logging.
	// +required
	Tool ClusterToolName `json:"tool"`
}

// ClusterToolObject is one object the tool consists of.
type ClusterToolObject struct {
	// kind of the object, e.g. Deployment.
	// +kubebuilder:validation:MaxLength=63
	Kind string `json:"kind"`
	// namespace, empty for cluster-scoped objects.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
	// name of the object.
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// ready tells, for workloads, whether all their pods are ready.
	// +optional
	Ready *bool `json:"ready,omitempty"`
}

// ClusterToolStatus is what bokujo installed and whether it runs.
type ClusterToolStatus struct {
	// conditions: Installed (every object applied) and Ready (every
	// workload's pods ready).
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// objects the tool consists of, as last applied.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	Objects []ClusterToolObject `json:"objects,omitempty"`
	// version is the tool's bundled version last applied.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Version string `json:"version,omitempty"`
	// observedGeneration is the generation these conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// ClusterTool installs a tool bokujo bundles (monitoring, logging) into a
// cluster, keeps it as bundled (drift is repaired) and reports its health.
// Deleting the ClusterTool removes the tool's objects from the cluster.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=bkct,categories=bokujo
// +kubebuilder:validation:XValidation:rule="self.metadata.name == self.spec.clusterName + '-' + self.spec.tool",message="metadata.name must be <spec.clusterName>-<spec.tool>, e.g. dev-monitoring"
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.clusterName`
// +kubebuilder:printcolumn:name="Tool",type=string,JSONPath=`.spec.tool`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.version`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterTool struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ClusterToolSpec   `json:"spec"`
	Status ClusterToolStatus `json:"status,omitempty"`
}

// ClusterToolList is a list of ClusterTools.
// +kubebuilder:object:root=true
type ClusterToolList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterTool `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(GroupVersion, &ClusterTool{}, &ClusterToolList{})
		return nil
	})
}
