package release

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	deliveryv1 "bokujo.io/bokujo/api/delivery/v1alpha1"
)

// Client does release operations in one cluster with the identity of its
// rest.Config: for people, a configuration impersonating them (see
// proxy.Impersonating), so that the cluster's RBAC decides.
type Client struct {
	c client.Client
}

var clientScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

// NewClient returns a Client for cfg. It needs no API discovery: the
// Release kind's mapping is fixed.
func NewClient(cfg *rest.Config) (*Client, error) {
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(deliveryv1.GroupVersion.WithKind("Release"), meta.RESTScopeNamespace)
	mapper.Add(deliveryv1.GroupVersion.WithKind("ReleaseList"), meta.RESTScopeNamespace)
	mapper.Add(appsv1.SchemeGroupVersion.WithKind("Deployment"), meta.RESTScopeNamespace)
	c, err := client.New(cfg, client.Options{Scheme: clientScheme, Mapper: mapper})
	if err != nil {
		return nil, err
	}
	return &Client{c: c}, nil
}

// StartRequest is a new release of a Deployment's images.
type StartRequest struct {
	Deployment string                      `json:"deployment"`
	Service    string                      `json:"service,omitempty"`
	Images     []deliveryv1.ContainerImage `json:"images"`
	Strategy   *deliveryv1.CanaryStrategy  `json:"strategy,omitempty"`
	Analysis   *deliveryv1.Analysis        `json:"analysis,omitempty"`
}

// Start creates a Release; by is recorded as its creator. The API server
// validates it (CEL rules of the CRD).
func (c *Client) Start(ctx context.Context, ns string, req StartRequest, by string) (*deliveryv1.Release, error) {
	rel := &deliveryv1.Release{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: generateName(req.Deployment),
			Namespace:    ns,
			Annotations:  map[string]string{deliveryv1.CreatedByAnnotation: by},
		},
		Spec: deliveryv1.ReleaseSpec{Deployment: req.Deployment, Service: req.Service, Images: req.Images},
	}
	if req.Strategy != nil {
		rel.Spec.Strategy = *req.Strategy
	}
	if req.Analysis != nil {
		rel.Spec.Analysis = *req.Analysis
	}
	if err := c.c.Create(ctx, rel); err != nil {
		return nil, err
	}
	return rel, nil
}

func generateName(deployment string) string {
	if len(deployment) > 200 {
		deployment = deployment[:200]
	}
	return deployment + "-"
}

// Get reads one Release.
func (c *Client) Get(ctx context.Context, ns, name string) (*deliveryv1.Release, error) {
	rel := &deliveryv1.Release{}
	if err := c.c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, rel); err != nil {
		return nil, err
	}
	return rel, nil
}

// List returns the Releases of a namespace ("" for every namespace), of one
// Deployment if deployment is set, newest first.
func (c *Client) List(ctx context.Context, ns, deployment string) ([]deliveryv1.Release, error) {
	var list deliveryv1.ReleaseList
	var opts []client.ListOption
	if ns != "" {
		opts = append(opts, client.InNamespace(ns))
	}
	if err := c.c.List(ctx, &list, opts...); err != nil {
		return nil, err
	}
	out := slices.DeleteFunc(list.Items, func(r deliveryv1.Release) bool {
		return deployment != "" && r.Spec.Deployment != deployment
	})
	SortNewestFirst(out)
	return out, nil
}

// SortNewestFirst orders releases by creation, newest first.
func SortNewestFirst(out []deliveryv1.Release) {
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].CreationTimestamp, out[j].CreationTimestamp
		if a.Equal(&b) {
			return out[i].Name < out[j].Name
		}
		return b.Before(&a)
	})
}

// Act asks the controller for an action by annotating the Release, as
// `kubectl annotate` would; by is recorded in its history.
func (c *Client) Act(ctx context.Context, ns, name string, action deliveryv1.Action, by string) (*deliveryv1.Release, error) {
	if !slices.Contains(deliveryv1.Actions, action) {
		return nil, fmt.Errorf("unknown action %q: use one of %s", action, actionNames())
	}
	rel := &deliveryv1.Release{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q,%q:%q}}}`,
		deliveryv1.ActionAnnotation, action, deliveryv1.ActionByAnnotation, by)
	if err := c.c.Patch(ctx, rel, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		return nil, err
	}
	return rel, nil
}

func actionNames() string {
	var s []string
	for _, a := range deliveryv1.Actions {
		s = append(s, string(a))
	}
	return strings.Join(s, ", ")
}

// Rollback starts a new Release that brings back the version that ran
// before release name: its recorded stable pod template, one canary pod
// first like any release.
func (c *Client) Rollback(ctx context.Context, ns, name, by string) (*deliveryv1.Release, error) {
	old, err := c.Get(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	if old.Status.StableTemplate == nil {
		return nil, fmt.Errorf("release %s never started, so it has no earlier version to go back to", name)
	}
	tpl := old.Status.StableTemplate.DeepCopy()
	rel := &deliveryv1.Release{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: generateName(old.Spec.Deployment),
			Namespace:    ns,
			Annotations:  map[string]string{deliveryv1.CreatedByAnnotation: by},
		},
		Spec: deliveryv1.ReleaseSpec{
			Deployment: old.Spec.Deployment,
			Service:    old.Spec.Service,
			Template:   &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: tpl.Labels, Annotations: tpl.Annotations}, Spec: tpl.Spec},
			Analysis:   old.Spec.Analysis,
			// One canary pod, judged once, then everything.
			Strategy:   deliveryv1.CanaryStrategy{Steps: []deliveryv1.CanaryStep{{}}},
			RollbackOf: name,
		},
	}
	if err := c.c.Create(ctx, rel); err != nil {
		return nil, err
	}
	return rel, nil
}

// Summary is one line of release history.
type Summary struct {
	Name           string       `json:"name"`
	Namespace      string       `json:"namespace"`
	Deployment     string       `json:"deployment"`
	Phase          string       `json:"phase"`
	Step           int32        `json:"step"`
	Steps          int32        `json:"steps"`
	CreatedBy      string       `json:"createdBy,omitempty"`
	Change         string       `json:"change,omitempty"`
	Reason         string       `json:"reason,omitempty"`
	Message        string       `json:"message,omitempty"`
	RollbackOf     string       `json:"rollbackOf,omitempty"`
	Created        metav1.Time  `json:"created"`
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
}

// Summarize gives the history line of a Release.
func Summarize(r *deliveryv1.Release) Summary {
	s := Summary{
		Name: r.Name, Namespace: r.Namespace, Deployment: r.Spec.Deployment,
		Phase: string(r.Status.Phase), Step: r.Status.Step, Steps: r.Status.Steps + 1,
		CreatedBy: r.Status.CreatedBy, RollbackOf: r.Spec.RollbackOf,
		Created: r.CreationTimestamp, CompletionTime: r.Status.CompletionTime,
	}
	if s.Phase == "" {
		s.Phase = string(deliveryv1.PhasePending)
	}
	if s.CreatedBy == "" {
		s.CreatedBy = r.Annotations[deliveryv1.CreatedByAnnotation]
	}
	if len(r.Status.CanaryImages) > 0 {
		s.Change = DiffImages(r)
	} else {
		s.Change = imageList(r.Spec.Images)
	}
	if c := meta.FindStatusCondition(r.Status.Conditions, deliveryv1.ConditionProgressing); c != nil {
		s.Reason, s.Message = c.Reason, c.Message
	}
	return s
}

// Containers names the containers of a Deployment's pod template.
func (c *Client) Containers(ctx context.Context, ns, deployment string) ([]string, error) {
	dep := &appsv1.Deployment{}
	if err := c.c.Get(ctx, types.NamespacedName{Namespace: ns, Name: deployment}, dep); err != nil {
		return nil, err
	}
	var names []string
	for _, ctr := range dep.Spec.Template.Spec.Containers {
		names = append(names, ctr.Name)
	}
	return names, nil
}
