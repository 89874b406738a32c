package mltask

import (
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	mlv1alpha1 "bokujo.io/bokujo/api/ml/v1alpha1"
)

// AddToScheme adds what the controllers read and write: the ml API and
// the built-in kinds (Jobs, StatefulSets, Services, Pods).
func AddToScheme(s *runtime.Scheme) error {
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return err
	}
	return mlv1alpha1.AddToScheme(s)
}

// Options tune the controllers; the zero value is the default everywhere.
type Options struct {
	// DefaultTTL deletes finished Training tasks that set no
	// ttlSecondsAfterFinished this long after they finished (default 7
	// days; negative keeps them).
	DefaultTTL time.Duration
	// FetcherImage fetches dataset URIs (default rclone, which copies
	// https URLs; s3 and gs need a fetcherImage with credentials).
	FetcherImage string
	// UploaderImage uploads output URIs (default rclone).
	UploaderImage string
	// MasterPort is MASTER_PORT (default 29500, PyTorch's).
	MasterPort int32
	// FairShareHorizon is how long GPUs in use count ahead in fair
	// sharing (default 10m; see gpuqueue.Snapshot.Horizon).
	FairShareHorizon time.Duration
	// StatusInterval bounds how often waiting tasks' positions and the
	// queues' usage are written (default 2s; five times that while tasks
	// are being admitted): they change with every admission, and writing
	// them each time would cost more than the admissions themselves.
	StatusInterval time.Duration
	// MaxPositionWrites caps the positions written per StatusInterval
	// (default 50), front of each queue first; tasks further back catch
	// up over the following intervals. Positions are exact for the first
	// ten of a queue and within a tenth further back.
	MaxPositionWrites int
	// CycleInterval is the least time between two admission cycles
	// (default 100ms).
	CycleInterval time.Duration
	// MaxConcurrentReconciles of the task controller (default 4).
	MaxConcurrentReconciles int
	// WriteParallelism is how many admissions are written at once
	// (default 8).
	WriteParallelism int
	// Clock is time (default the real clock).
	Clock clock.PassiveClock
}

const (
	defaultFetcherImage = "docker.io/rclone/rclone:1.68"
	fieldManager        = "bokujo-mltask"
)

func (o Options) withDefaults() Options {
	if o.DefaultTTL == 0 {
		o.DefaultTTL = 7 * 24 * time.Hour
	}
	if o.FetcherImage == "" {
		o.FetcherImage = defaultFetcherImage
	}
	if o.UploaderImage == "" {
		o.UploaderImage = defaultFetcherImage
	}
	if o.MasterPort == 0 {
		o.MasterPort = 29500
	}
	if o.FairShareHorizon <= 0 {
		o.FairShareHorizon = 10 * time.Minute
	}
	if o.StatusInterval <= 0 {
		o.StatusInterval = 2 * time.Second
	}
	if o.MaxPositionWrites <= 0 {
		o.MaxPositionWrites = 50
	}
	if o.CycleInterval <= 0 {
		o.CycleInterval = 100 * time.Millisecond
	}
	if o.MaxConcurrentReconciles <= 0 {
		o.MaxConcurrentReconciles = 4
	}
	if o.WriteParallelism <= 0 {
		o.WriteParallelism = 8
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	return o
}

// Setup registers the admission loop and the task controller on mgr,
// whose client talks to one cluster and whose scheme has AddToScheme's
// types. The ml CRDs must be installed in that cluster
// (api/ml/v1alpha1/crds). Call it once per manager.
func Setup(mgr ctrl.Manager, opts Options) error {
	if mgr == nil {
		return errors.New("set up mltask: no manager")
	}
	for _, gvk := range []string{"MLTask", "GPUQueue", "LocalQueue"} {
		if !mgr.GetScheme().Recognizes(mlv1alpha1.GroupVersion.WithKind(gvk)) {
			return fmt.Errorf("set up mltask: the manager's scheme lacks %s: call mltask.AddToScheme", gvk)
		}
	}
	if !mgr.GetScheme().Recognizes(batchv1.SchemeGroupVersion.WithKind("Job")) {
		return errors.New("set up mltask: the manager's scheme lacks batch/v1 Job: call mltask.AddToScheme")
	}
	if err := SetupAdmission(mgr, opts); err != nil {
		return err
	}
	opts = opts.withDefaults()
	tr := &taskReconciler{
		client:   mgr.GetClient(),
		recorder: mgr.GetEventRecorder("bokujo-mltask"),
		opts:     opts,
	}
	if err := builder.ControllerManagedBy(mgr).
		Named("mltask").
		For(&mlv1alpha1.MLTask{}).
		Owns(&batchv1.Job{}).
		Owns(&appsv1.StatefulSet{}).
		Owns(&corev1.Service{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: opts.MaxConcurrentReconciles}).
		Complete(tr); err != nil {
		return fmt.Errorf("set up mltask controller: %w", err)
	}
	return nil
}

// SetupAdmission registers the admission loop alone; Setup calls it. The
// benchmark uses it to measure admission without the Jobs.
func SetupAdmission(mgr ctrl.Manager, opts Options) error {
	opts = opts.withDefaults()
	adm := newAdmission(mgr.GetClient(), opts)
	if err := builder.ControllerManagedBy(mgr).
		Named("mltask-admission").
		Watches(&mlv1alpha1.MLTask{}, handler.Funcs{
			CreateFunc:  adm.onTaskCreate,
			UpdateFunc:  adm.onTaskUpdate,
			DeleteFunc:  adm.onTaskDelete,
			GenericFunc: adm.onTaskGeneric,
		}).
		Watches(&mlv1alpha1.GPUQueue{}, adm.always(), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&mlv1alpha1.LocalQueue{}, adm.always(), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: 1}).
		Complete(adm); err != nil {
		return fmt.Errorf("set up mltask admission: %w", err)
	}
	return nil
}
