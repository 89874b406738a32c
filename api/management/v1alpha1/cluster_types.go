package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types of a Cluster. Ready (ConditionReady) summarises the two
// below: it is True only while bokujo is connected to the cluster and its
// API server answers.
const (
	// ClusterConditionConnected is True while bokujo holds a working way in:
	// the agent's tunnel is up, or the stored kubeconfigs are valid and
	// accepted by the downstream API server.
	ClusterConditionConnected = "Connected"
	// ClusterConditionReachable is True when the last health probe reached
	// the downstream API server and it reported itself ready.
	ClusterConditionReachable = "Reachable"
)

// Reasons of Cluster conditions.
const (
	// ClusterReasonHealthy: the last probe succeeded.
	ClusterReasonHealthy = "Healthy"
	// ClusterReasonProbeFailed: the API server did not answer the last probe
	// or answered that it is not ready.
	ClusterReasonProbeFailed = "ProbeFailed"
	// ClusterReasonCredentialsNotFound: a credential Secret or its
	// kubeconfig key is missing.
	ClusterReasonCredentialsNotFound = "CredentialsNotFound"
	// ClusterReasonBadKubeconfig: a stored kubeconfig does not parse or has
	// no usable context.
	ClusterReasonBadKubeconfig = "BadKubeconfig"
	// ClusterReasonInsecureKubeconfig: a stored kubeconfig asks for insecure
	// TLS, reads local files, runs an exec plugin or uses basic auth, or
	// points at an address bokujo refuses to dial.
	ClusterReasonInsecureKubeconfig = "InsecureKubeconfig"
	// ClusterReasonUnauthorized: the downstream API server refused the
	// stored credentials.
	ClusterReasonUnauthorized = "Unauthorized"
	// ClusterReasonAgentConnected: the agent's tunnel is up.
	ClusterReasonAgentConnected = "AgentConnected"
	// ClusterReasonAgentDisconnected: no agent tunnel is open.
	ClusterReasonAgentDisconnected = "AgentDisconnected"
	// ClusterReasonAgentNotRegistered: the agent has not registered yet.
	ClusterReasonAgentNotRegistered = "AgentNotRegistered"
	// ClusterReasonProvisioning: the driver is still creating the cluster.
	ClusterReasonProvisioning = "Provisioning"
	// ClusterReasonProvisioningFailed: the driver gave up creating the
	// cluster.
	ClusterReasonProvisioningFailed = "ProvisioningFailed"
)

// ClusterSpec describes a downstream cluster and how bokujo reaches it.
type ClusterSpec struct {
	// displayName is the name people see in the UI.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	DisplayName string `json:"displayName,omitempty"`

	// description says what the cluster is for.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Description string `json:"description,omitempty"`

	// source is how bokujo reaches the cluster. Exactly one way is set, and
	// it cannot be switched to another way later: the credentials and
	// controllers of each way differ.
	// +required
	Source ClusterSource `json:"source"`
}

// ClusterSource is how bokujo reaches a downstream cluster; exactly one field
// is set.
// +kubebuilder:validation:XValidation:rule="[has(self.kubeconfig), has(self.agent), has(self.driver)].filter(x, x).size() == 1",message="exactly one of kubeconfig, agent or driver must be set"
// +kubebuilder:validation:XValidation:rule="has(self.kubeconfig) == has(oldSelf.kubeconfig) && has(self.agent) == has(oldSelf.agent) && has(self.driver) == has(oldSelf.driver)",message="the kind of source cannot be changed"
type ClusterSource struct {
	// kubeconfig means bokujo dials the cluster's API server directly with
	// credentials of its own, created in the cluster at import.
	// +optional
	Kubeconfig *KubeconfigSource `json:"kubeconfig,omitempty"`

	// agent means the bokujo agent in the cluster dials out to the server over a
	// tunnel, for clusters the server cannot reach.
	// +optional
	Agent *AgentSource `json:"agent,omitempty"`

	// driver means bokujo creates the cluster itself with a driver.
	// +optional
	Driver *DriverSource `json:"driver,omitempty"`
}

// KubeconfigSource names the Secrets holding bokujo's two downstream
// identities, each as a kubeconfig under the key "kubeconfig". They are kept
// apart so that a flaw in the proxy can never exceed the rights of the user
// it acts for. The administrator's kubeconfig used at import is not kept.
type KubeconfigSource struct {
	// proxyCredentials names the Secret with the kubeconfig of the proxy's
	// service account, whose only right is to impersonate users and groups.
	// +required
	ProxyCredentials SecretReference `json:"proxyCredentials"`

	// managementCredentials names the Secret with the kubeconfig of the
	// service account that RBAC sync and bokujo's controllers use.
	// +required
	ManagementCredentials SecretReference `json:"managementCredentials"`
}

// AgentSource marks a cluster reached through the bokujo agent's tunnel.
// The agent registers with a one-time token the server issues, creates
// bokujo's two identities in its cluster and hands their credentials over;
// the server then sets the two references below. Every connection to the
// cluster goes through the agent's tunnel.
type AgentSource struct {
	// proxyCredentials names the Secret with the kubeconfig of the proxy's
	// service account; set when the agent registers.
	// +optional
	ProxyCredentials *SecretReference `json:"proxyCredentials,omitempty"`

	// managementCredentials names the Secret with the kubeconfig of the
	// management service account; set when the agent registers.
	// +optional
	ManagementCredentials *SecretReference `json:"managementCredentials,omitempty"`
}

// DriverName names a cluster driver.
// +kubebuilder:validation:Enum=local;capi
type DriverName string

const (
	// DriverLocal runs a local control plane with simulated nodes on the
	// server's machine, as `bokujo up` does for its demo clusters.
	DriverLocal DriverName = "local"
	// DriverCAPI creates the cluster with Cluster API.
	DriverCAPI DriverName = "capi"
)

// DriverSource asks a driver to create and run the cluster.
// +kubebuilder:validation:XValidation:rule="self.name != 'capi' || has(self.capi)",message="the capi driver needs capi settings"
// +kubebuilder:validation:XValidation:rule="self.name == 'capi' || !has(self.capi)",message="capi settings belong to the capi driver"
// +kubebuilder:validation:XValidation:rule="self.name == oldSelf.name",message="the driver cannot be changed"
type DriverSource struct {
	// name of the driver: local (a control plane with simulated nodes on
	// the server's machine, for demos and tests) or capi (Cluster API on
	// the management cluster).
	// +required
	Name DriverName `json:"name"`

	// kubernetesVersion of the cluster, e.g. v1.33; default: the driver's
	// (the bundled version for local).
	// +optional
	// +kubebuilder:validation:Pattern=`^v[0-9]+\.[0-9]+(\.[0-9]+)?$`
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`

	// autoRepair replaces nodes that stay NotReady (local driver); on by
	// default with a 5m timeout and at most 3 repairs per hour per pool.
	// +optional
	AutoRepair *NodeAutoRepair `json:"autoRepair,omitempty"`

	// nodePools are the cluster's groups of like nodes.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	NodePools []NodePool `json:"nodePools,omitempty"`

	// capi holds the Cluster API settings.
	// +optional
	CAPI *CAPIDriverSpec `json:"capi,omitempty"`

	// proxyCredentials and managementCredentials name the Secrets with the
	// kubeconfigs of bokujo's two identities in the cluster; the driver
	// sets them once the cluster answers.
	// +optional
	ProxyCredentials *SecretReference `json:"proxyCredentials,omitempty"`
	// +optional
	ManagementCredentials *SecretReference `json:"managementCredentials,omitempty"`
}

// NodeAutoRepair configures node auto-repair: a node NotReady for longer
// than notReadyTimeout, and not cordoned (a cordoned node is under
// maintenance), is drained and replaced by a new node of its pool.
type NodeAutoRepair struct {
	// disabled turns auto-repair off.
	// +optional
	Disabled bool `json:"disabled,omitempty"`
	// notReadyTimeout is how long a node stays NotReady before it is
	// repaired; default 5m.
	// +optional
	NotReadyTimeout *metav1.Duration `json:"notReadyTimeout,omitempty"`
	// maxRepairsPerHour is the repair budget of each pool: once that many
	// of its nodes were repaired in the last hour, further NotReady nodes
	// are left alone (an event says so) so a cascade does not replace the
	// whole pool; default 3.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	MaxRepairsPerHour *int32 `json:"maxRepairsPerHour,omitempty"`
}

// NodeRepair is one node auto-repair.
type NodeRepair struct {
	// node that was replaced.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Node string `json:"node"`
	// time of the repair.
	// +required
	Time metav1.Time `json:"time"`
}

// NodePool is a group of nodes of one shape.
type NodePool struct {
	// name of the pool, a DNS label; node names start with it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=40
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// count of nodes.
	// +required
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	Count int32 `json:"count"`

	// cpu of each node (local driver), e.g. "32".
	// +optional
	CPU *resource.Quantity `json:"cpu,omitempty"`

	// memory of each node (local driver), e.g. "256Gi".
	// +optional
	Memory *resource.Quantity `json:"memory,omitempty"`

	// gpus (nvidia.com/gpu) of each node.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=64
	GPUs int32 `json:"gpus,omitempty"`

	// gpuProduct is the nodes' nvidia.com/gpu.product label.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	GPUProduct string `json:"gpuProduct,omitempty"`

	// instanceType of the machines (capi driver), e.g. m6i.xlarge.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	InstanceType string `json:"instanceType,omitempty"`

	// labels put on the pool's nodes.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	Labels map[string]string `json:"labels,omitempty"`

	// taints put on the pool's nodes.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	Taints []corev1.Taint `json:"taints,omitempty"`
}

// CAPIProvider is the infrastructure a Cluster API cluster runs on.
// +kubebuilder:validation:Enum=AWS
type CAPIProvider string

const (
	// CAPIProviderAWS creates an EKS cluster with Cluster API Provider AWS.
	CAPIProviderAWS CAPIProvider = "AWS"
)

// Keys of a capi driver's credentials Secret.
const (
	AWSAccessKeyIDKey     = "AccessKeyID"
	AWSSecretAccessKeyKey = "SecretAccessKey"
)

// CAPIDriverSpec says how Cluster API creates the cluster.
type CAPIDriverSpec struct {
	// provider of the infrastructure; AWS (EKS) for now.
	// +required
	Provider CAPIProvider `json:"provider"`

	// region, e.g. eu-west-1.
	// +required
	// +kubebuilder:validation:Pattern=`^[a-z]{2}(-[a-z]+)+-[0-9]$`
	Region string `json:"region"`

	// credentialsSecretRef names a Secret in bokujo-system with the keys
	// AccessKeyID and SecretAccessKey of the AWS account to use.
	// +required
	CredentialsSecretRef SecretReference `json:"credentialsSecretRef"`

	// namespace of the management cluster the Cluster API objects go to;
	// default bokujo-capi.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace,omitempty"`

	// identityNamespace is where the Cluster API Provider AWS controller
	// runs and reads static identities' Secrets; default capa-system.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	IdentityNamespace string `json:"identityNamespace,omitempty"`

	// sshKeyName is an EC2 key pair for the nodes.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	SSHKeyName string `json:"sshKeyName,omitempty"`
}

// ClusterStatus is what the health controller last observed.
type ClusterStatus struct {
	// conditions: Ready, Connected, Reachable.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// kubernetesVersion is the API server's git version, e.g. v1.37.2.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`

	// nodeCount is the number of nodes.
	// +optional
	// +kubebuilder:validation:Minimum=0
	NodeCount *int32 `json:"nodeCount,omitempty"`

	// capacity sums the nodes' capacity of cpu, memory and nvidia.com/gpu.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	Capacity corev1.ResourceList `json:"capacity,omitempty"`

	// allocatable sums the nodes' allocatable cpu, memory and nvidia.com/gpu.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	Allocatable corev1.ResourceList `json:"allocatable,omitempty"`

	// requested sums the resource requests of the pods that are not
	// finished.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	Requested corev1.ResourceList `json:"requested,omitempty"`

	// nodePools reports each node pool of a cluster bokujo created: the
	// count asked for, the nodes Ready, and the nodes being added or
	// drained and removed.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	NodePools []NodePoolStatus `json:"nodePools,omitempty"`

	// lastProbeTime is when the health controller last probed the cluster,
	// successfully or not.
	// +optional
	LastProbeTime *metav1.Time `json:"lastProbeTime,omitempty"`
}

// NodePoolStatus is the state of one node pool.
type NodePoolStatus struct {
	// name of the pool.
	// +required
	// +kubebuilder:validation:MaxLength=40
	Name string `json:"name"`
	// desired is the pool's count.
	// +required
	Desired int32 `json:"desired"`
	// ready is the number of the pool's nodes that are Ready and stay.
	// +required
	Ready int32 `json:"ready"`
	// updating is the number of nodes being added (not Ready yet) or
	// drained and removed.
	// +required
	Updating int32 `json:"updating"`
	// repairs are the pool's node auto-repairs of the last hour, which
	// count against its repair budget.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1000
	Repairs []NodeRepair `json:"repairs,omitempty"`
}

// Cluster is a downstream Kubernetes cluster bokujo manages. Its name is the
// cluster's id in URLs (/k8s/clusters/{name}) and kubeconfig contexts, so it
// is a DNS label.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=bkc,categories=bokujo
// +kubebuilder:printcolumn:name="Display Name",type=string,JSONPath=`.spec.displayName`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.kubernetesVersion`
// +kubebuilder:printcolumn:name="Nodes",type=integer,JSONPath=`.status.nodeCount`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 63 && self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="a cluster name must be a DNS label: at most 63 lowercase letters, digits and '-'"
type Cluster struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec describes the cluster.
	// +required
	Spec ClusterSpec `json:"spec"`

	// status is what bokujo last observed.
	// +optional
	Status ClusterStatus `json:"status,omitempty"`
}

// ClusterList is a list of Clusters.
// +kubebuilder:object:root=true
type ClusterList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Cluster `json:"items"`
}
