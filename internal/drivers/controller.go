package drivers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/clusters"
	"bokujo.io/bokujo/internal/localcluster"
)

// ConditionProvisioned is the driver's condition on a Cluster: True once
// the cluster exists and bokujo holds its credentials.
const ConditionProvisioned = "Provisioned"

// Reasons of the Provisioned condition.
const (
	ReasonStarting          = "Starting"
	ReasonStartFailed       = "StartFailed"
	ReasonCAPINotInstalled  = "CAPINotInstalled"
	ReasonCredentialsAbsent = "CredentialsNotFound"
	ReasonInvalidSpec       = "InvalidSpec"
	ReasonApplyFailed       = "ApplyFailed"
	ReasonProvisioning      = "Provisioning"
	ReasonProvisioned       = "Provisioned"
)

// fieldManager names the driver's server-side applies.
const fieldManager = "bokujo-drivers"

// Options configure the drivers.
type Options struct {
	// Management is the management cluster's admin configuration (the
	// capi driver applies there and asks its discovery).
	Management *rest.Config
	// Registry stores the credentials of created clusters.
	Registry *clusters.Registry
	// DataDir holds local driver clusters under clusters/<name>.
	DataDir string
	// BinDir holds the bundled binaries the local driver runs.
	BinDir string
	// Poll is how often a cluster being created is looked at again;
	// default 15 s.
	Poll   time.Duration
	Logger *slog.Logger
}

// Controller creates the clusters Cluster objects ask for.
type Controller struct {
	c client.Client
	// direct reads Secrets outside bokujo's namespace, which the cache
	// does not hold.
	direct   client.Reader
	opts     Options
	log      *slog.Logger
	recorder events.EventRecorder

	mu      sync.Mutex
	local   map[string]*localRun
	stopped bool
}

// localRun is one local driver cluster, starting or running.
type localRun struct {
	cluster *localcluster.Cluster
	err     error
	done    chan struct{} // closed when the start finished, either way
}

// Setup registers the controller and stops local clusters with the
// manager.
func Setup(mgr ctrl.Manager, opts Options) (*Controller, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Poll == 0 {
		opts.Poll = 15 * time.Second
	}
	k := &Controller{c: mgr.GetClient(), direct: mgr.GetAPIReader(), opts: opts, log: opts.Logger, local: map[string]*localRun{},
		recorder: mgr.GetEventRecorder("bokujo-drivers")}
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		<-ctx.Done()
		k.stopAll()
		return nil
	})); err != nil {
		return nil, err
	}
	return k, ctrl.NewControllerManagedBy(mgr).Named("cluster-drivers").For(&mgmtv1.Cluster{}).Complete(k)
}

// Reconcile implements reconcile.Reconciler.
func (k *Controller) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var c mgmtv1.Cluster
	if err := k.c.Get(ctx, req.NamespacedName, &c); err != nil {
		if apierrors.IsNotFound(err) {
			k.stopLocal(req.Name)
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, err
	}
	d := c.Spec.Source.Driver
	if d == nil {
		return reconcile.Result{}, nil
	}
	if c.DeletionTimestamp != nil {
		k.stopLocal(c.Name)
		return reconcile.Result{}, nil
	}
	switch d.Name {
	case mgmtv1.DriverLocal:
		return k.reconcileLocal(ctx, &c)
	case mgmtv1.DriverCAPI:
		return k.reconcileCAPI(ctx, &c)
	}
	return reconcile.Result{}, k.setCondition(ctx, &c, metav1.ConditionFalse, ReasonInvalidSpec, fmt.Sprintf("unknown driver %q", d.Name))
}

// setCondition records the driver's progress on the Cluster; the write is
// guarded by resourceVersion so the health controller's conditions are
// never overwritten.
func (k *Controller) setCondition(ctx context.Context, c *mgmtv1.Cluster, status metav1.ConditionStatus, reason, msg string) error {
	before := c.DeepCopy()
	if !meta.SetStatusCondition(&c.Status.Conditions, metav1.Condition{Type: ConditionProvisioned, Status: status, Reason: reason,
		Message: msg, ObservedGeneration: c.Generation}) {
		return nil
	}
	if status != metav1.ConditionTrue {
		meta.SetStatusCondition(&c.Status.Conditions, metav1.Condition{Type: mgmtv1.ConditionReady, Status: metav1.ConditionFalse,
			Reason: reason, Message: msg, ObservedGeneration: c.Generation})
	}
	err := k.c.Status().Patch(ctx, c, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	if apierrors.IsConflict(err) {
		return err // retried with the fresh object
	}
	if err != nil {
		return fmt.Errorf("record driver status of %s: %w", c.Name, err)
	}
	k.log.InfoContext(ctx, "cluster driver", "cluster", c.Name, "status", status, "reason", reason, "message", msg)
	return nil
}

// reconcileLocal starts the cluster's local control plane (in the
// background: a first start takes tens of seconds), then provisions
// bokujo's identities in it.
func (k *Controller) reconcileLocal(ctx context.Context, c *mgmtv1.Cluster) (reconcile.Result, error) {
	if k.opts.DataDir == "" {
		return reconcile.Result{}, k.setCondition(ctx, c, metav1.ConditionFalse, ReasonInvalidSpec,
			"this server has no data directory for local clusters")
	}
	nodes, err := LocalNodes(c)
	if err != nil {
		return reconcile.Result{}, k.setCondition(ctx, c, metav1.ConditionFalse, ReasonInvalidSpec, err.Error())
	}
	run := k.startLocal(c.Name, nodes)
	select {
	case <-run.done:
	default:
		return reconcile.Result{RequeueAfter: 2 * time.Second},
			k.setCondition(ctx, c, metav1.ConditionFalse, ReasonStarting, "starting a local control plane with simulated nodes")
	}
	if run.err != nil {
		k.forgetLocal(c.Name, run)
		return reconcile.Result{RequeueAfter: k.opts.Poll},
			k.setCondition(ctx, c, metav1.ConditionFalse, ReasonStartFailed, run.err.Error())
	}
	select {
	case <-run.cluster.Done():
		// It stopped on its own (a component died): start it again.
		k.forgetLocal(c.Name, run)
		return reconcile.Result{Requeue: true},
			k.setCondition(ctx, c, metav1.ConditionFalse, ReasonStartFailed, fmt.Sprintf("the local control plane stopped: %v", run.cluster.Err()))
	default:
	}
	if c.Spec.Source.Driver.ProxyCredentials == nil {
		creds, err := clusters.Provision(ctx, run.cluster.RESTConfig())
		if err != nil {
			return reconcile.Result{RequeueAfter: 2 * time.Second},
				k.setCondition(ctx, c, metav1.ConditionFalse, ReasonStarting, "creating bokujo's identities: "+err.Error())
		}
		if err := k.opts.Registry.StoreDriverCredentials(ctx, c.Name, creds); err != nil {
			return reconcile.Result{}, err
		}
		return reconcile.Result{Requeue: true}, nil
	}
	if err := k.setCondition(ctx, c, metav1.ConditionTrue, ReasonProvisioned,
		fmt.Sprintf("local control plane with simulated nodes at %s", run.cluster.URL())); err != nil {
		return reconcile.Result{}, err
	}
	res, err := ReconcilePools(ctx, run.cluster.Client(), c, nodes, time.Now())
	for _, ev := range res.Events {
		if k.recorder == nil {
			continue
		}
		typ := corev1.EventTypeNormal
		if ev.Warning {
			typ = corev1.EventTypeWarning
		}
		// The node in the action keeps each node's events apart:
		// events.k8s.io folds events with the same action and reason on
		// one object into a series that keeps only the first note.
		k.recorder.Eventf(c, nil, typ, ev.Reason, "Repair node "+ev.Node, "%s", ev.Message)
	}
	if err != nil {
		return reconcile.Result{RequeueAfter: 2 * time.Second}, k.setPools(ctx, c, res.Pools, metav1.ConditionFalse, ReasonScaling, err.Error())
	}
	switch {
	case res.Done:
		return reconcile.Result{RequeueAfter: k.opts.Poll}, k.setPools(ctx, c, res.Pools, metav1.ConditionTrue, ReasonScaled, res.Message)
	case len(res.Blocked) > 0:
		return reconcile.Result{RequeueAfter: 2 * time.Second}, k.setPools(ctx, c, res.Pools, metav1.ConditionFalse, ReasonDrainBlocked, res.Message)
	}
	return reconcile.Result{RequeueAfter: time.Second}, k.setPools(ctx, c, res.Pools, metav1.ConditionFalse, ReasonScaling, res.Message)
}

// setPools records the node pools' state and the NodePoolsReady condition.
func (k *Controller) setPools(ctx context.Context, c *mgmtv1.Cluster, pools []mgmtv1.NodePoolStatus, status metav1.ConditionStatus, reason, msg string) error {
	before := c.DeepCopy()
	changed := meta.SetStatusCondition(&c.Status.Conditions, metav1.Condition{Type: ConditionNodePools, Status: status, Reason: reason,
		Message: truncate(msg, 2048), ObservedGeneration: c.Generation})
	if pools != nil && !equality.Semantic.DeepEqual(pools, c.Status.NodePools) {
		c.Status.NodePools, changed = pools, true
	}
	if !changed {
		return nil
	}
	err := k.c.Status().Patch(ctx, c, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	if apierrors.IsConflict(err) {
		return err // retried with the fresh object
	}
	if err != nil {
		return fmt.Errorf("record node pools of %s: %w", c.Name, err)
	}
	k.log.InfoContext(ctx, "node pools", "cluster", c.Name, "reason", reason, "message", msg)
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// LocalNodes turns a local driver cluster's node pools into simulated
// nodes named <pool>-<i>.
func LocalNodes(c *mgmtv1.Cluster) ([]localcluster.NodeSpec, error) {
	var nodes []localcluster.NodeSpec
	for _, p := range c.Spec.Source.Driver.NodePools {
		for i := range int(p.Count) {
			n := localcluster.NodeSpec{Name: p.Name + "-" + strconv.Itoa(i), GPUs: int(p.GPUs), GPUProduct: p.GPUProduct, Labels: map[string]string{PoolLabel: p.Name}}
			for k, v := range p.Labels {
				n.Labels[k] = v
			}
			if p.CPU != nil {
				n.CPU = p.CPU.String()
			}
			if p.Memory != nil {
				n.Memory = p.Memory.String()
			}
			if err := n.Validate(); err != nil {
				return nil, err
			}
			nodes = append(nodes, n)
		}
	}
	if len(nodes) == 0 {
		return nil, errors.New("a local cluster needs at least one node: add a node pool with count >= 1")
	}
	return nodes, nil
}

func (k *Controller) startLocal(name string, nodes []localcluster.NodeSpec) *localRun {
	k.mu.Lock()
	defer k.mu.Unlock()
	if run, ok := k.local[name]; ok {
		return run
	}
	run := &localRun{done: make(chan struct{})}
	k.local[name] = run
	if k.stopped {
		run.err = errors.New("the server is shutting down")
		close(run.done)
		return run
	}
	go func() {
		defer close(run.done)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		run.cluster, run.err = localcluster.Start(ctx, localcluster.Options{
			Name: name, Dir: filepath.Join(k.opts.DataDir, "clusters", name), BinDir: k.opts.BinDir, Nodes: nodes,
			Logger: k.log.With("cluster", name),
		})
		k.mu.Lock()
		stop := k.stopped
		k.mu.Unlock()
		if stop && run.cluster != nil {
			run.cluster.Stop()
		}
	}()
	return run
}

func (k *Controller) forgetLocal(name string, run *localRun) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.local[name] == run {
		delete(k.local, name)
	}
}

func (k *Controller) stopLocal(name string) {
	k.mu.Lock()
	run := k.local[name]
	delete(k.local, name)
	k.mu.Unlock()
	if run == nil {
		return
	}
	<-run.done
	if run.cluster != nil {
		run.cluster.Stop()
	}
}

func (k *Controller) stopAll() {
	k.mu.Lock()
	k.stopped = true
	names := make([]string, 0, len(k.local))
	for name := range k.local {
		names = append(names, name)
	}
	k.mu.Unlock()
	for _, name := range names {
		k.stopLocal(name)
	}
}

// capiKinds must be served by the management cluster for the capi driver.
var capiKinds = []schema.GroupVersionKind{
	{Group: capiGroup, Version: "v1beta2", Kind: "Cluster"},
	{Group: capiGroup, Version: "v1beta2", Kind: "MachineDeployment"},
	{Group: controlPlaneGroup, Version: "v1beta2", Kind: "AWSManagedControlPlane"},
	{Group: infraGroup, Version: "v1beta2", Kind: "AWSManagedCluster"},
	{Group: infraGroup, Version: "v1beta2", Kind: "AWSMachineTemplate"},
	{Group: infraGroup, Version: "v1beta2", Kind: "AWSClusterStaticIdentity"},
	{Group: bootstrapGroup, Version: "v1beta2", Kind: "EKSConfigTemplate"},
}

// missingCAPIKinds lists the kinds the management cluster lacks.
func (k *Controller) missingCAPIKinds() ([]string, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(k.opts.Management)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, gvk := range capiKinds {
		list, err := dc.ServerResourcesForGroupVersion(gvk.GroupVersion().String())
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, err
		}
		found := false
		if list != nil {
			for _, r := range list.APIResources {
				found = found || r.Kind == gvk.Kind
			}
		}
		if !found {
			missing = append(missing, gvk.Kind+"."+gvk.GroupVersion().String())
		}
	}
	return missing, nil
}

// reconcileCAPI applies the rendered objects once Cluster API is there,
// reports its progress, and imports the cluster when Cluster API has
// written its kubeconfig.
func (k *Controller) reconcileCAPI(ctx context.Context, c *mgmtv1.Cluster) (reconcile.Result, error) {
	poll := reconcile.Result{RequeueAfter: k.opts.Poll}
	missing, err := k.missingCAPIKinds()
	if err != nil {
		return poll, k.setCondition(ctx, c, metav1.ConditionFalse, ReasonCAPINotInstalled, "cannot read the management cluster's APIs: "+err.Error())
	}
	if len(missing) > 0 {
		return poll, k.setCondition(ctx, c, metav1.ConditionFalse, ReasonCAPINotInstalled, fmt.Sprintf(
			"Cluster API with its AWS provider is not installed on the management cluster (missing %v); install it (clusterctl init --infrastructure aws) and bokujo goes on by itself", missing))
	}
	ref := c.Spec.Source.Driver.CAPI.CredentialsSecretRef
	var sec corev1.Secret
	if err := k.c.Get(ctx, types.NamespacedName{Namespace: mgmtv1.SystemNamespace, Name: ref.Name}, &sec); err != nil {
		return poll, k.setCondition(ctx, c, metav1.ConditionFalse, ReasonCredentialsAbsent,
			fmt.Sprintf("the credentials Secret %s/%s cannot be read: %v", mgmtv1.SystemNamespace, ref.Name, err))
	}
	objs, err := RenderEKS(c, sec.Data)
	if err != nil {
		return poll, k.setCondition(ctx, c, metav1.ConditionFalse, ReasonInvalidSpec, err.Error())
	}
	for _, ns := range []string{CAPINamespace(c)} {
		n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
		if err := k.c.Create(ctx, n); err != nil && !apierrors.IsAlreadyExists(err) {
			return poll, k.setCondition(ctx, c, metav1.ConditionFalse, ReasonApplyFailed, fmt.Sprintf("create namespace %s: %v", ns, err))
		}
	}
	for _, o := range objs {
		if err := k.c.Patch(ctx, o, client.Apply, client.FieldOwner(fieldManager), client.ForceOwnership); err != nil {
			return poll, k.setCondition(ctx, c, metav1.ConditionFalse, ReasonApplyFailed,
				fmt.Sprintf("apply %s %s: %v", o.GetKind(), o.GetName(), err))
		}
	}
	if c.Spec.Source.Driver.ProxyCredentials == nil {
		var kc corev1.Secret
		err := k.direct.Get(ctx, types.NamespacedName{Namespace: CAPINamespace(c), Name: KubeconfigSecretName(c)}, &kc)
		if err != nil {
			return poll, k.setCondition(ctx, c, metav1.ConditionFalse, ReasonProvisioning, "Cluster API is creating the cluster: "+k.capiPhase(ctx, c))
		}
		admin, err := clusters.ParseKubeconfig(kc.Data["value"], "")
		if err != nil {
			return poll, k.setCondition(ctx, c, metav1.ConditionFalse, ReasonProvisioning, "the cluster's kubeconfig from Cluster API is not usable yet: "+err.Error())
		}
		creds, err := clusters.Provision(ctx, admin)
		if err != nil {
			return poll, k.setCondition(ctx, c, metav1.ConditionFalse, ReasonProvisioning, "creating bokujo's identities: "+err.Error())
		}
		if err := k.opts.Registry.StoreDriverCredentials(ctx, c.Name, creds); err != nil {
			return reconcile.Result{}, err
		}
	}
	return poll, k.setCondition(ctx, c, metav1.ConditionTrue, ReasonProvisioned, "Cluster API reports: "+k.capiPhase(ctx, c))
}

// capiPhase reads the Cluster API Cluster's phase.
func (k *Controller) capiPhase(ctx context.Context, c *mgmtv1.Cluster) string {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(capiKinds[0])
	if err := k.c.Get(ctx, types.NamespacedName{Namespace: CAPINamespace(c), Name: c.Name}, u); err != nil {
		return "no Cluster API Cluster yet"
	}
	phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	if phase == "" {
		phase = "Pending"
	}
	return "phase " + phase
}
