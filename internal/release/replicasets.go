package release

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	deliveryv1 "bokujo.io/bokujo/api/delivery/v1alpha1"
)

// canaryTemplate is the Deployment's stable template with the Release's
// images, or the Release's whole template; its labels must match the
// Deployment's selector.
func canaryTemplate(rel *deliveryv1.Release, dep *appsv1.Deployment) (*corev1.PodTemplateSpec, error) {
	base := &dep.Spec.Template
	if rel.Status.StableTemplate != nil {
		base = rel.Status.StableTemplate
	}
	var tpl *corev1.PodTemplateSpec
	if rel.Spec.Template != nil {
		tpl = rel.Spec.Template.DeepCopy()
		if len(tpl.Spec.Containers) == 0 {
			return nil, fmt.Errorf("spec.template has no containers")
		}
	} else {
		tpl = base.DeepCopy()
		for _, img := range rel.Spec.Images {
			found := false
			for i := range tpl.Spec.Containers {
				if tpl.Spec.Containers[i].Name == img.Container {
					tpl.Spec.Containers[i].Image = img.Image
					found = true
				}
			}
			for i := range tpl.Spec.InitContainers {
				if tpl.Spec.InitContainers[i].Name == img.Container {
					tpl.Spec.InitContainers[i].Image = img.Image
					found = true
				}
			}
			if !found {
				return nil, fmt.Errorf("Deployment %s has no container %q (it has %s)", dep.Name, img.Container, containerNames(tpl))
			}
		}
	}
	delete(tpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	sel, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("Deployment %s has an invalid selector: %v", dep.Name, err)
	}
	if !sel.Matches(labels.Set(tpl.Labels)) {
		return nil, fmt.Errorf("the new pod template's labels %v do not match Deployment %s's selector %s", tpl.Labels, dep.Name, sel)
	}
	return tpl, nil
}

func containerNames(tpl *corev1.PodTemplateSpec) string {
	var names []string
	for _, c := range tpl.Spec.Containers {
		names = append(names, c.Name)
	}
	return fmt.Sprint(names)
}

func images(tpl *corev1.PodTemplateSpec) []deliveryv1.ContainerImage {
	var out []deliveryv1.ContainerImage
	for _, c := range tpl.Spec.InitContainers {
		out = append(out, deliveryv1.ContainerImage{Container: c.Name, Image: c.Image})
	}
	for _, c := range tpl.Spec.Containers {
		out = append(out, deliveryv1.ContainerImage{Container: c.Name, Image: c.Image})
	}
	if len(out) > 32 {
		out = out[:32]
	}
	return out
}

// templateHash names a pod template the way the Deployment controller's
// pod-template-hash does: FNV-32a of the template, encoded with the
// apimachinery alphabet that avoids bad words.
func templateHash(tpl *corev1.PodTemplateSpec) string {
	h := fnv.New32a()
	data, _ := json.Marshal(tpl)
	h.Write(data)
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// stableReplicaSet is the Deployment's ReplicaSet of its current template.
func (r *Reconciler) stableReplicaSet(ctx context.Context, dep *appsv1.Deployment) (*appsv1.ReplicaSet, error) {
	var list appsv1.ReplicaSetList
	if err := r.client.List(ctx, &list, client.InNamespace(dep.Namespace)); err != nil {
		return nil, err
	}
	for i := range list.Items {
		rs := &list.Items[i]
		if ref := metav1.GetControllerOf(rs); ref == nil || ref.UID != dep.UID {
			continue
		}
		a, b := rs.Spec.Template.DeepCopy(), dep.Spec.Template.DeepCopy()
		delete(a.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
		delete(b.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
		if equality.Semantic.DeepEqual(a, b) {
			return rs, nil
		}
	}
	return nil, nil
}

func canaryName(rel *deliveryv1.Release) string {
	suffix := "-" + rel.Status.CanaryRevision
	name := rel.Spec.Deployment
	if len(name)+len(suffix) > 253 {
		name = name[:253-len(suffix)]
	}
	return name + suffix
}

// canaryReplicaSet is this Release's canary ReplicaSet, if it exists and is
// still the Release's (a promoted one belongs to the Deployment).
func (r *Reconciler) canaryReplicaSet(ctx context.Context, rel *deliveryv1.Release) (*appsv1.ReplicaSet, error) {
	if rel.Status.CanaryRevision == "" {
		return nil, nil
	}
	rs := &appsv1.ReplicaSet{}
	if err := r.client.Get(ctx, types.NamespacedName{Namespace: rel.Namespace, Name: canaryName(rel)}, rs); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	if ref := metav1.GetControllerOf(rs); ref == nil || ref.UID != rel.UID {
		return nil, nil
	}
	return rs, nil
}

// ensureCanary creates or scales the canary ReplicaSet.
func (r *Reconciler) ensureCanary(ctx context.Context, rel *deliveryv1.Release, dep *appsv1.Deployment, tpl *corev1.PodTemplateSpec, replicas int32) (*appsv1.ReplicaSet, error) {
	hash := rel.Status.CanaryRevision
	rs := &appsv1.ReplicaSet{}
	err := r.client.Get(ctx, types.NamespacedName{Namespace: rel.Namespace, Name: canaryName(rel)}, rs)
	if err == nil {
		ref := metav1.GetControllerOf(rs)
		if ref == nil || (ref.UID != rel.UID && ref.UID != dep.UID) {
			return nil, fmt.Errorf("ReplicaSet %s exists and is not this release's; delete it or retry with another version", rs.Name)
		}
		if rs.Spec.Replicas == nil || *rs.Spec.Replicas != replicas {
			rs.Spec.Replicas = &replicas
			if err := r.client.Update(ctx, rs); err != nil {
				return nil, err
			}
		}
		return rs, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, err
	}
	podTpl := tpl.DeepCopy()
	podTpl.Labels = maps.Clone(podTpl.Labels)
	if podTpl.Labels == nil {
		podTpl.Labels = map[string]string{}
	}
	podTpl.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	sel := dep.Spec.Selector.DeepCopy()
	if sel.MatchLabels == nil {
		sel.MatchLabels = map[string]string{}
	}
	sel.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	rs = &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:        canaryName(rel),
			Namespace:   rel.Namespace,
			Labels:      maps.Clone(podTpl.Labels),
			Annotations: map[string]string{"delivery.bokujo.io/release": rel.Name},
			OwnerReferences: []metav1.OwnerReference{
				*metav1.NewControllerRef(rel, deliveryv1.GroupVersion.WithKind("Release")),
			},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        &replicas,
			MinReadySeconds: dep.Spec.MinReadySeconds,
			Selector:        sel,
			Template:        *podTpl,
		},
	}
	if err := r.client.Create(ctx, rs); err != nil {
		return nil, err
	}
	return rs, nil
}
