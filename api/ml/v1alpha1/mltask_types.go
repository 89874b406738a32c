package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MLTaskMode says what an MLTask becomes.
// +kubebuilder:validation:Enum=Training;Interactive
type MLTaskMode string

const (
	// ModeTraining runs workers to completion as an Indexed Job.
	ModeTraining MLTaskMode = "Training"
	// ModeInteractive keeps a long-running instance (a StatefulSet) that
	// people exec into like a machine, stopped and started through
	// spec.state.
	ModeInteractive MLTaskMode = "Interactive"
)

// MLTaskState is the state a user asks for.
// +kubebuilder:validation:Enum=Running;Stopped
type MLTaskState string

const (
	// StateRunning asks for the task to run (the default).
	StateRunning MLTaskState = "Running"
	// StateStopped stops an interactive task: its pods go away and its
	// GPUs return to the queue; its volumes stay.
	StateStopped MLTaskState = "Stopped"
)

// MLTaskPhase is a summary of an MLTask's conditions.
// +kubebuilder:validation:Enum=Queued;Admitted;Running;Succeeded;Failed;Stopped
type MLTaskPhase string

const (
	PhaseQueued    MLTaskPhase = "Queued"
	PhaseAdmitted  MLTaskPhase = "Admitted"
	PhaseRunning   MLTaskPhase = "Running"
	PhaseSucceeded MLTaskPhase = "Succeeded"
	PhaseFailed    MLTaskPhase = "Failed"
	PhaseStopped   MLTaskPhase = "Stopped"
)

// Condition types of an MLTask.
const (
	// ConditionAdmitted is True while the task holds GPU quota.
	ConditionAdmitted = "Admitted"
	// ConditionInadmissible is True when the task can never be admitted as
	// it stands (unknown queue, more GPUs than any quota); its message says
	// what to change.
	ConditionInadmissible = "Inadmissible"
	// ConditionRunning is True while all workers are ready.
	ConditionRunning = "Running"
	// ConditionFinished is True once a training task succeeded or failed;
	// the reason says which.
	ConditionFinished = "Finished"
)

// Condition reasons of an MLTask.
const (
	ReasonQuotaReserved     = "QuotaReserved"
	ReasonWaitingForQuota   = "WaitingForQuota"
	ReasonPreempted         = "Preempted"
	ReasonLocalQueueMissing = "LocalQueueNotFound"
	ReasonGPUQueueMissing   = "GPUQueueNotFound"
	ReasonExceedsQuota      = "ExceedsQuota"
	ReasonAdmissible        = "Admissible"
	ReasonWorkersReady      = "WorkersReady"
	ReasonWorkersStarting   = "WorkersStarting"
	ReasonSucceeded         = "Succeeded"
	ReasonFailed            = "Failed"
	ReasonMaxRuntime        = "MaxRuntimeExceeded"
	ReasonStopped           = "Stopped"
)

// MLTaskSpec describes a training run or an interactive GPU instance.
// +kubebuilder:validation:XValidation:rule="self.state != 'Stopped' || self.mode == 'Interactive'",message="state: Stopped applies to Interactive tasks only; delete a Training task to stop it"
// +kubebuilder:validation:XValidation:rule="self.mode != 'Interactive' || !has(self.output) || !has(self.output.uri)",message="output.uri is uploaded after a Training task succeeds; an Interactive task never finishes, use output.pvc"
type MLTaskSpec struct {
	// mode is Training (runs to completion, the default) or Interactive
	// (a long-running instance used like a machine).
	// +optional
	// +kubebuilder:default=Training
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="mode is immutable"
	Mode MLTaskMode `json:"mode,omitempty"`

	// image is the container image every worker runs.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="self.trim() != ''",message="image must not be blank"
	Image string `json:"image"`

	// command replaces the image's entrypoint.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=4096
	Command []string `json:"command,omitempty"`

	// args are the arguments to the command.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=4096
	Args []string `json:"args,omitempty"`

	// env adds environment variables to every worker. The distributed
	// variables bokujo sets (MASTER_ADDR, RANK, PET_*, ...) cannot be
	// overridden.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=128
	// +kubebuilder:validation:XValidation:rule="self.all(e, !(e.name in ['MASTER_ADDR','MASTER_PORT','WORLD_SIZE','RANK','NODE_RANK','LOCAL_RANK','PET_MASTER_ADDR','PET_MASTER_PORT','PET_NNODES','PET_NODE_RANK','PET_NPROC_PER_NODE']))",message="env must not set the distributed variables bokujo sets (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, NODE_RANK, LOCAL_RANK, PET_*)"
	Env []EnvVar `json:"env,omitempty"`

	// dataset is mounted read-only at /data in every worker.
	// +optional
	Dataset *Dataset `json:"dataset,omitempty"`

	// output is mounted read-write at /output in every worker.
	// +optional
	Output *Output `json:"output,omitempty"`

	// scratch is an empty folder at /scratch, on disk or in memory.
	// +optional
	Scratch *Scratch `json:"scratch,omitempty"`

	// workers is the number of workers that run in parallel (a gang: all
	// are admitted together or none).
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=256
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="workers is immutable; create a new task"
	Workers int32 `json:"workers,omitempty"`

	// resources are what each worker gets.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="resources are immutable; create a new task"
	Resources WorkerResources `json:"resources,omitempty"`

	// maxRuntime ends a task that runs longer (Training: Failed;
	// Interactive: Stopped). Unset means no limit.
	// +optional
	MaxRuntime *metav1.Duration `json:"maxRuntime,omitempty"`

	// retries is how many times failed workers are restarted before a
	// Training task fails.
	// +optional
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=20
	Retries int32 `json:"retries,omitempty"`

	// priority orders tasks within a queue (higher first, then oldest
	// first) and lets a task reclaim borrowed GPUs from lower-priority
	// ones when its GPUQueue allows preemption.
	// +optional
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=-1000
	// +kubebuilder:validation:Maximum=1000
	Priority int32 `json:"priority,omitempty"`

	// queue is the name of the LocalQueue in the task's namespace.
	// +optional
	// +kubebuilder:default=default
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="queue is immutable"
	Queue string `json:"queue,omitempty"`

	// state is Running (the default) or, for Interactive tasks, Stopped.
	// +optional
	// +kubebuilder:default=Running
	State MLTaskState `json:"state,omitempty"`

	// ttlSecondsAfterFinished deletes a finished Training task (and all it
	// created) this long after it finished. Unset: the controller's
	// default; 0: at once.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=31536000
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`
}

// EnvVar is an environment variable with a literal value.
type EnvVar struct {
	// name of the variable.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	Name string `json:"name"`
	// value of the variable.
	// +optional
	// +kubebuilder:validation:MaxLength=32768
	Value string `json:"value,omitempty"`
}

// RemoteURI is where data is fetched from or uploaded to: https, http, s3
// or gs. Local files and internal addresses (loopback, link-local and
// cloud metadata addresses, private ranges, cluster-internal names) are
// refused, so a task cannot read the node's or the cluster's secrets
// through its data fetcher.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=2048
// +kubebuilder:validation:XValidation:rule="isURL(self)",message="must be an absolute URI such as https://host/path or s3://bucket/path"
// +kubebuilder:validation:XValidation:rule="!isURL(self) || url(self).getScheme() in ['https', 'http', 's3', 'gs']",message="scheme must be https, http, s3 or gs; file:// and other schemes are refused"
// +kubebuilder:validation:XValidation:rule="!self.matches('^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*@')",message="must not carry credentials (user:password@); give the fetcher credentials through its own configuration"
// +kubebuilder:validation:XValidation:rule="!isURL(self) || url(self).getHostname().size() > 0",message="must name a host"
// +kubebuilder:validation:XValidation:rule="!self.matches('(?i)^[a-z][a-z0-9+.-]*://(([^/?#:]*[.])?(localhost|local|internal|svc|cluster[.]local)[.]?|metadata)(:[0-9]*)?([/?#]|$)')",message="must not point at an internal name (localhost, *.local, *.internal, *.svc, *.cluster.local, metadata)"
// +kubebuilder:validation:XValidation:rule="!self.matches('(?i)^[a-z][a-z0-9+.-]*://(0x[0-9a-f]*|[0-9]+)([.](0x[0-9a-f]*|[0-9]+))*[.]?(:[0-9]*)?([/?#]|$)') || self.matches('^[a-zA-Z][a-zA-Z0-9+.-]*://(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])([.](25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}(:[0-9]*)?([/?#]|$)')",message="must not give an IP address in numeric shorthand (decimal, octal, hex or short forms); write it as four dotted decimals"
// +kubebuilder:validation:XValidation:rule="!self.matches('^[a-zA-Z][a-zA-Z0-9+.-]*://(0|10|127|22[4-9]|2[3-5][0-9])[.]') && !self.matches('^[a-zA-Z][a-zA-Z0-9+.-]*://(169[.]254|192[.]168|172[.](1[6-9]|2[0-9]|3[01])|100[.](6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7]))[.]')",message="must not point at an internal address (loopback, link-local, cloud metadata, private, shared or multicast ranges)"
// +kubebuilder:validation:XValidation:rule="!self.matches('^[a-zA-Z][a-zA-Z0-9+.-]*://[[]') || self.matches('(?i)^[a-z][a-z0-9+.-]*://[[][23][0-9a-f]{0,3}:[0-9a-f:]*[]](:[0-9]*)?([/?#]|$)')",message="an IPv6 address must be a global unicast one (2000::/3) without zone; loopback, link-local, unique-local and IPv4-mapped addresses are refused"
type RemoteURI string

// PVCSource is a sub-path of a PersistentVolumeClaim in the task's
// namespace.
type PVCSource struct {
	// claimName is the PersistentVolumeClaim's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	ClaimName string `json:"claimName"`
	// subPath inside the volume; empty means its root.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/') && !self.split('/').exists(p, p == '..')",message="subPath must be relative and must not contain '..'"
	SubPath string `json:"subPath,omitempty"`
}

// Dataset is a PVC mounted read-only or a URI fetched before the workers
// start.
// +kubebuilder:validation:XValidation:rule="has(self.pvc) != has(self.uri)",message="set exactly one of pvc and uri"
// +kubebuilder:validation:XValidation:rule="!has(self.fetcherImage) || has(self.uri)",message="fetcherImage applies to uri only"
type Dataset struct {
	// pvc mounts a volume read-only.
	// +optional
	PVC *PVCSource `json:"pvc,omitempty"`
	// uri is fetched into /data by an init container.
	// +optional
	URI RemoteURI `json:"uri,omitempty"`
	// fetcherImage runs the fetch: it gets the URI in $BOKUJO_DATASET_URI
	// and the target folder in $BOKUJO_DATASET_DIR. Defaults to the
	// controller's.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	FetcherImage string `json:"fetcherImage,omitempty"`
}

// Output is a PVC mounted read-write or a URI uploaded after success.
// +kubebuilder:validation:XValidation:rule="has(self.pvc) != has(self.uri)",message="set exactly one of pvc and uri"
// +kubebuilder:validation:XValidation:rule="!has(self.uploaderImage) || has(self.uri)",message="uploaderImage applies to uri only"
type Output struct {
	// pvc mounts a volume read-write.
	// +optional
	PVC *PVCSource `json:"pvc,omitempty"`
	// uri receives /output after the task succeeded.
	// +optional
	URI RemoteURI `json:"uri,omitempty"`
	// uploaderImage runs the upload (a sidecar that waits for the main
	// container to end): it gets $BOKUJO_OUTPUT_URI and $BOKUJO_OUTPUT_DIR.
	// Defaults to the controller's.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	UploaderImage string `json:"uploaderImage,omitempty"`
}

// ScratchMedium is where scratch space lives.
// +kubebuilder:validation:Enum=Disk;Memory
type ScratchMedium string

const (
	ScratchDisk   ScratchMedium = "Disk"
	ScratchMemory ScratchMedium = "Memory"
)

// Scratch is an empty folder of a bounded size.
type Scratch struct {
	// size bounds the folder.
	// +required
	// +kubebuilder:validation:XValidation:rule="quantity(self).isGreaterThan(quantity('0'))",message="size must be positive"
	Size resource.Quantity `json:"size"`
	// medium is Disk (the default) or Memory (counts against memory).
	// +optional
	// +kubebuilder:default=Disk
	Medium ScratchMedium `json:"medium,omitempty"`
}

// WorkerResources are what each worker gets.
type WorkerResources struct {
	// gpus is the number of nvidia.com/gpu per worker.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=64
	GPUs int32 `json:"gpus,omitempty"`
	// gpuProduct pins the GPU model (the nvidia.com/gpu.product node
	// label, e.g. NVIDIA-A100-SXM4-80GB); unset, the queue picks one of
	// its products with room.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`
	GPUProduct string `json:"gpuProduct,omitempty"`
	// cpu per worker (request and limit).
	// +optional
	// +kubebuilder:validation:XValidation:rule="quantity(self).isGreaterThan(quantity('0'))",message="cpu must be positive"
	CPU *resource.Quantity `json:"cpu,omitempty"`
	// memory per worker (request and limit).
	// +optional
	// +kubebuilder:validation:XValidation:rule="quantity(self).isGreaterThan(quantity('0'))",message="memory must be positive"
	Memory *resource.Quantity `json:"memory,omitempty"`
}

// Admission is the quota a task holds.
type Admission struct {
	// gpuQueue is the GPUQueue whose quota the task uses.
	// +required
	// +kubebuilder:validation:MaxLength=253
	GPUQueue string `json:"gpuQueue"`
	// gpuProduct is the product the task runs on; its workers get a node
	// selector for it. Empty for tasks without GPUs.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	GPUProduct string `json:"gpuProduct,omitempty"`
	// borrowed is how many of the task's GPUs were lent by other queues
	// of the cohort.
	// +optional
	Borrowed int32 `json:"borrowed,omitempty"`
	// admittedAt is when the quota was reserved.
	// +required
	AdmittedAt metav1.Time `json:"admittedAt"`
}

// QueueStatus is where a waiting task stands, written by the admission
// loop.
type QueueStatus struct {
	// position is the task's place among the waiting tasks of its
	// LocalQueue, 1 being next.
	// +optional
	Position int32 `json:"position,omitempty"`
	// reason is a condition reason: WaitingForQuota, Preempted,
	// LocalQueueNotFound, GPUQueueNotFound, ExceedsQuota.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Reason string `json:"reason,omitempty"`
	// message says why the task waits and what would change it.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
}

// MLTaskStatus is what the controller observed.
type MLTaskStatus struct {
	// phase summarises the conditions.
	// +optional
	Phase MLTaskPhase `json:"phase,omitempty"`
	// conditions: Admitted, Inadmissible, Running, Finished.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// workers is spec.workers, for the printer column.
	// +optional
	Workers int32 `json:"workers,omitempty"`
	// workersReady counts workers whose pods are ready.
	// +optional
	WorkersReady int32 `json:"workersReady,omitempty"`
	// gpus is the task's total GPUs (workers × gpus per worker).
	// +optional
	GPUs int32 `json:"gpus,omitempty"`
	// startTime is when the workers first all ran.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// completionTime is when a Training task finished.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// message is the latest human-readable news.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
	// admission is set while the task holds quota.
	// +optional
	Admission *Admission `json:"admission,omitempty"`
	// queue is set while the task waits.
	// +optional
	Queue *QueueStatus `json:"queue,omitempty"`
}

// MLTask is a training run or an interactive GPU instance.
// +kubebuilder:object:root=true
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 52",message="name must be at most 52 characters: worker host names add an index to it"
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=mlt,categories=bokujo;ml
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.workersReady`,description="workers ready"
// +kubebuilder:printcolumn:name="Workers",type=integer,JSONPath=`.spec.workers`
// +kubebuilder:printcolumn:name="GPUs",type=integer,JSONPath=`.status.gpus`,description="GPUs in total"
// +kubebuilder:printcolumn:name="Queue",type=string,JSONPath=`.spec.queue`
// +kubebuilder:printcolumn:name="Position",type=integer,JSONPath=`.status.queue.position`,description="place among waiting tasks"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type MLTask struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec MLTaskSpec `json:"spec"`
	// +optional
	Status MLTaskStatus `json:"status,omitempty"`
}

// MLTaskList is a list of MLTasks.
// +kubebuilder:object:root=true
type MLTaskList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []MLTask `json:"items"`
}

// TotalGPUs is workers × GPUs per worker.
func (t *MLTask) TotalGPUs() int32 {
	return t.Spec.Workers * t.Spec.Resources.GPUs
}

// Finished reports whether a Training task succeeded or failed.
func (t *MLTask) Finished() bool {
	return t.Status.Phase == PhaseSucceeded || t.Status.Phase == PhaseFailed
}
