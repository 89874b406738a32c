package mltask

import (
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	mlv1alpha1 "bokujo.io/bokujo/api/ml/v1alpha1"
)

// Labels on everything a task creates.
const (
	// LabelTask names the MLTask; the Service selects workers by it.
	LabelTask = "ml.bokujo.io/task"
	// GPUResource is what GPU workers ask for.
	GPUResource corev1.ResourceName = "nvidia.com/gpu"
	// GPUProductLabel is the node label of the GPU model (NVIDIA GPU
	// feature discovery's).
	GPUProductLabel = "nvidia.com/gpu.product"

	workerContainer = "worker"
	jobIndexAnno    = "batch.kubernetes.io/job-completion-index"
	stsIndexLabel   = "apps.kubernetes.io/pod-index"
)

// MasterAddr is worker 0's stable DNS name: the pod's host name in the
// task's headless Service. The Job and StatefulSet both name worker i
// <task>-i.
func MasterAddr(t *mlv1alpha1.MLTask) string {
	return fmt.Sprintf("%s-0.%s.%s.svc", t.Name, t.Name, t.Namespace)
}

func owner(t *mlv1alpha1.MLTask) []metav1.OwnerReference {
	return []metav1.OwnerReference{*metav1.NewControllerRef(t, mlv1alpha1.GroupVersion.WithKind("MLTask"))}
}

func labels(t *mlv1alpha1.MLTask) map[string]string {
	return map[string]string{LabelTask: t.Name}
}

// service is the headless Service that gives workers stable names;
// publishNotReadyAddresses lets them find each other before all are ready,
// which rendezvous needs.
func (r *taskReconciler) service(t *mlv1alpha1.MLTask) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: t.Name, Namespace: t.Namespace, Labels: labels(t), OwnerReferences: owner(t)},
		Spec: corev1.ServiceSpec{
			ClusterIP:                corev1.ClusterIPNone,
			Selector:                 labels(t),
			PublishNotReadyAddresses: true,
			Ports: []corev1.ServicePort{{
				Name: "rendezvous", Port: r.opts.MasterPort, Protocol: corev1.ProtocolTCP,
			}},
		},
	}
}

// podTemplate is a worker; rank is read from the index the Job or
// StatefulSet puts on the pod.
func (r *taskReconciler) podTemplate(t *mlv1alpha1.MLTask, rankFrom *corev1.ObjectFieldSelector) corev1.PodTemplateSpec {
	s := t.Spec
	workers := strconv.Itoa(int(s.Workers))
	procs := strconv.Itoa(max(int(s.Resources.GPUs), 1))
	rank := &corev1.EnvVarSource{FieldRef: rankFrom}
	env := []corev1.EnvVar{
		{Name: "MASTER_ADDR", Value: MasterAddr(t)},
		{Name: "MASTER_PORT", Value: strconv.Itoa(int(r.opts.MasterPort))},
		{Name: "WORLD_SIZE", Value: workers},
		{Name: "RANK", ValueFrom: rank},
		{Name: "NODE_RANK", ValueFrom: rank},
		{Name: "PET_MASTER_ADDR", Value: MasterAddr(t)},
		{Name: "PET_MASTER_PORT", Value: strconv.Itoa(int(r.opts.MasterPort))},
		{Name: "PET_NNODES", Value: workers},
		{Name: "PET_NODE_RANK", ValueFrom: rank},
		{Name: "PET_NPROC_PER_NODE", Value: procs},
	}
	// User variables come first so that $(VAR) references in them cannot
	// see bokujo's, and bokujo's cannot be overridden (CEL refuses the
	// names too).
	user := make([]corev1.EnvVar, 0, len(s.Env))
	for _, e := range s.Env {
		user = append(user, corev1.EnvVar{Name: e.Name, Value: e.Value})
	}
	env = append(user, env...)

	limits := corev1.ResourceList{}
	if s.Resources.GPUs > 0 {
		limits[GPUResource] = *resource.NewQuantity(int64(s.Resources.GPUs), resource.DecimalSI)
	}
	if s.Resources.CPU != nil {
		limits[corev1.ResourceCPU] = *s.Resources.CPU
	}
	if s.Resources.Memory != nil {
		limits[corev1.ResourceMemory] = *s.Resources.Memory
	}
	c := corev1.Container{
		Name: workerContainer, Image: s.Image, Command: s.Command, Args: s.Args, Env: env,
		Resources: corev1.ResourceRequirements{Limits: limits, Requests: limits.DeepCopy()},
		Ports:     []corev1.ContainerPort{{Name: "rendezvous", ContainerPort: r.opts.MasterPort}},
	}
	spec := corev1.PodSpec{
		Subdomain:                    t.Name,
		AutomountServiceAccountToken: ptr.To(false),
	}
	if ds := s.Dataset; ds != nil {
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "data", MountPath: "/data", ReadOnly: true})
		if ds.PVC != nil {
			spec.Volumes = append(spec.Volumes, pvcVolume("data", ds.PVC.ClaimName, true))
			c.VolumeMounts[len(c.VolumeMounts)-1].SubPath = ds.PVC.SubPath
		} else {
			spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
			spec.InitContainers = append(spec.InitContainers, r.fetcher(ds))
		}
	}
	if out := s.Output; out != nil {
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "output", MountPath: "/output"})
		if out.PVC != nil {
			spec.Volumes = append(spec.Volumes, pvcVolume("output", out.PVC.ClaimName, false))
			c.VolumeMounts[len(c.VolumeMounts)-1].SubPath = out.PVC.SubPath
		} else {
			spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "output", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
			spec.InitContainers = append(spec.InitContainers, r.uploader(out, rank))
		}
	}
	if sc := s.Scratch; sc != nil {
		ed := &corev1.EmptyDirVolumeSource{SizeLimit: ptr.To(sc.Size)}
		if sc.Medium == mlv1alpha1.ScratchMemory {
			ed.Medium = corev1.StorageMediumMemory
		}
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: ed}})
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "scratch", MountPath: "/scratch"})
	}
	spec.Containers = []corev1.Container{c}
	if s.Resources.GPUs > 0 {
		// Nodes with GPUs are often tainted for GPU work only.
		spec.Tolerations = []corev1.Toleration{{Key: string(GPUResource), Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
	}
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels(t)}, Spec: spec}
}

func pvcVolume(name, claim string, readOnly bool) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim, ReadOnly: readOnly}}}
}

// fetcher copies the dataset URI into /data before the worker starts. The
// default image is rclone copying an http(s) URL; a custom image gets the
// URI and folder in the environment and runs its own entrypoint.
func (r *taskReconciler) fetcher(ds *mlv1alpha1.Dataset) corev1.Container {
	c := corev1.Container{
		Name: "fetch-dataset", Image: r.opts.FetcherImage,
		Env:          []corev1.EnvVar{{Name: "BOKUJO_DATASET_URI", Value: string(ds.URI)}, {Name: "BOKUJO_DATASET_DIR", Value: "/data"}},
		VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
	}
	if ds.FetcherImage != "" {
		c.Image = ds.FetcherImage
	} else {
		c.Args = []string{"copyurl", "$(BOKUJO_DATASET_URI)", "$(BOKUJO_DATASET_DIR)", "--auto-filename"}
	}
	return c
}

// uploader is a native sidecar (an init container that keeps running):
// Kubernetes stops it after the worker ends, and on that signal worker 0
// uploads /output. The default image is rclone; a custom one gets the URI,
// folder and rank in the environment and must upload on SIGTERM.
func (r *taskReconciler) uploader(out *mlv1alpha1.Output, rank *corev1.EnvVarSource) corev1.Container {
	c := corev1.Container{
		Name: "upload-output", Image: r.opts.UploaderImage, RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
		Env: []corev1.EnvVar{
			{Name: "BOKUJO_OUTPUT_URI", Value: string(out.URI)},
			{Name: "BOKUJO_OUTPUT_DIR", Value: "/output"},
			{Name: "BOKUJO_RANK", ValueFrom: rank},
		},
		VolumeMounts: []corev1.VolumeMount{{Name: "output", MountPath: "/output"}},
	}
	if out.UploaderImage != "" {
		c.Image = out.UploaderImage
	} else {
		c.Command = []string{"sh", "-c", `trap 'if [ "$BOKUJO_RANK" = 0 ]; then rclone copyto "$BOKUJO_OUTPUT_DIR" "$BOKUJO_OUTPUT_URI"; fi; exit 0' TERM; while true; do sleep 3600 & wait $!; done`}
	}
	return c
}

// job is a Training task's Indexed Job; suspended until admitted.
func (r *taskReconciler) job(t *mlv1alpha1.MLTask) *batchv1.Job {
	tmpl := r.podTemplate(t, &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['" + jobIndexAnno + "']"})
	tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
	if a := t.Status.Admission; a != nil && a.GPUProduct != "" {
		tmpl.Spec.NodeSelector = map[string]string{GPUProductLabel: a.GPUProduct}
	}
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: t.Name, Namespace: t.Namespace, Labels: labels(t), OwnerReferences: owner(t)},
		Spec: batchv1.JobSpec{
			Parallelism:    ptr.To(t.Spec.Workers),
			Completions:    ptr.To(t.Spec.Workers),
			CompletionMode: ptr.To(batchv1.IndexedCompletion),
			BackoffLimit:   ptr.To(t.Spec.Retries),
			Suspend:        ptr.To(t.Status.Admission == nil),
			Template:       tmpl,
		},
	}
	if d := t.Spec.MaxRuntime; d != nil && d.Duration > 0 {
		j.Spec.ActiveDeadlineSeconds = ptr.To(max(int64(d.Duration.Seconds()), 1))
	}
	return j
}

// statefulSet is an Interactive task's instance; no replicas unless
// admitted and running.
func (r *taskReconciler) statefulSet(t *mlv1alpha1.MLTask) *appsv1.StatefulSet {
	tmpl := r.podTemplate(t, &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['" + stsIndexLabel + "']"})
	replicas := int32(0)
	if a := t.Status.Admission; a != nil && t.Spec.State != mlv1alpha1.StateStopped {
		replicas = t.Spec.Workers
		if a.GPUProduct != "" {
			tmpl.Spec.NodeSelector = map[string]string{GPUProductLabel: a.GPUProduct}
		}
	}
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: t.Name, Namespace: t.Namespace, Labels: labels(t), OwnerReferences: owner(t)},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            ptr.To(replicas),
			ServiceName:         t.Name,
			PodManagementPolicy: appsv1.ParallelPodManagement,
			Selector:            &metav1.LabelSelector{MatchLabels: labels(t)},
			Template:            tmpl,
		},
	}
}
