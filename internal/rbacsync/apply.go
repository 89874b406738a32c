package rbacsync

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// syncFunc copies what bokujo owns from want into have. It reports whether
// have changed, or that have must be deleted and created again because a
// field it differs in cannot be updated (a binding's roleRef).
type syncFunc[T client.Object] func(have, want T) (changed, recreate bool)

// ensure makes the downstream object named like want match it. It reads
// from the cluster's cache and writes only on a difference, so reconciling
// an unchanged object costs no request.
func ensure[T client.Object](ctx context.Context, rc *remote, want T, have T, sync syncFunc[T]) error {
	kind := kindOf(want)
	key := client.ObjectKeyFromObject(want)
	err := rc.reader.Get(ctx, key, have)
	if apierrors.IsNotFound(err) {
		err = rc.writer.Create(ctx, want.DeepCopyObject().(client.Object))
		if !apierrors.IsAlreadyExists(err) {
			return wrapWrite("create", kind, key, rc, err)
		}
		// It exists without bokujo's label (so the cache does not see
		// it) or the cache is behind: take it over.
		if err = rc.writer.Get(ctx, key, have); err != nil {
			return wrapWrite("get", kind, key, rc, err)
		}
	} else if err != nil {
		return wrapWrite("get", kind, key, rc, err)
	}
	changed, recreate := sync(have, want)
	if recreate {
		uid := have.GetUID()
		if err := rc.writer.Delete(ctx, have, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
			return wrapWrite("replace", kind, key, rc, err)
		}
		return wrapWrite("create", kind, key, rc, rc.writer.Create(ctx, want.DeepCopyObject().(client.Object)))
	}
	if !changed {
		return nil
	}
	return wrapWrite("update", kind, key, rc, rc.writer.Update(ctx, have))
}

// remove deletes a downstream object by name, whether or not the cache
// sees it: someone may have taken bokujo's label off to keep a grant.
func remove(ctx context.Context, rc *remote, obj client.Object) error {
	err := rc.writer.Delete(ctx, obj)
	return wrapWrite("delete", kindOf(obj), client.ObjectKeyFromObject(obj), rc, client.IgnoreNotFound(err))
}

// kindOf names an object's kind for error messages.
func kindOf(obj client.Object) string {
	if gvk, err := apiutil.GVKForObject(obj, downstreamScheme); err == nil {
		return gvk.Kind
	}
	return fmt.Sprintf("%T", obj)
}

func wrapWrite(op, kind string, key client.ObjectKey, rc *remote, err error) error {
	if err == nil {
		return nil
	}
	name := key.Name
	if key.Namespace != "" {
		name = key.Namespace + "/" + key.Name
	}
	return fmt.Errorf("%s %s %s in cluster %s: %w", op, kind, name, rc.name, err)
}

// mergeLabels puts want's labels on have, keeping any others; it reports a
// change.
func mergeLabels(have, want client.Object) bool {
	l := have.GetLabels()
	changed := false
	for k, v := range want.GetLabels() {
		if l[k] != v {
			if l == nil {
				l = map[string]string{}
			}
			l[k] = v
			changed = true
		}
	}
	if changed {
		have.SetLabels(maps.Clone(l))
	}
	return changed
}

func syncClusterRole(have, want *rbacv1.ClusterRole) (bool, bool) {
	changed := mergeLabels(have, want)
	// An aggregation rule would make kube-controller-manager overwrite
	// the rules.
	if have.AggregationRule != nil {
		have.AggregationRule = nil
		changed = true
	}
	if !equality.Semantic.DeepEqual(have.Rules, want.Rules) {
		have.Rules = want.Rules
		changed = true
	}
	return changed, false
}

func syncClusterRoleBinding(have, want *rbacv1.ClusterRoleBinding) (bool, bool) {
	if have.RoleRef != want.RoleRef {
		return false, true
	}
	changed := mergeLabels(have, want)
	if !equality.Semantic.DeepEqual(have.Subjects, want.Subjects) {
		have.Subjects = want.Subjects
		changed = true
	}
	return changed, false
}

func syncRoleBinding(have, want *rbacv1.RoleBinding) (bool, bool) {
	if have.RoleRef != want.RoleRef {
		return false, true
	}
	changed := mergeLabels(have, want)
	if !equality.Semantic.DeepEqual(have.Subjects, want.Subjects) {
		have.Subjects = want.Subjects
		changed = true
	}
	return changed, false
}

func syncResourceQuota(have, want *corev1.ResourceQuota) (bool, bool) {
	changed := mergeLabels(have, want)
	if !equality.Semantic.DeepEqual(have.Spec, want.Spec) {
		have.Spec = want.Spec
		changed = true
	}
	return changed, false
}

func syncLimitRange(have, want *corev1.LimitRange) (bool, bool) {
	changed := mergeLabels(have, want)
	if !equality.Semantic.DeepEqual(have.Spec, want.Spec) {
		have.Spec = want.Spec
		changed = true
	}
	return changed, false
}

func metaName(namespace, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: namespace, Name: name}
}
