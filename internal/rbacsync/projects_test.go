package rbacsync_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/rbacsync"
	"bokujo.io/bokujo/test/framework"
)

// A project's quota (GPUs included) and limits reach every namespace it
// lists or that is labelled into it, and leave a namespace it drops.
func TestProjectQuotaFollowsNamespaces(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	p := newProject("quota", dev, "quota-a")
	p.Spec.ResourceQuota = &v1alpha1.ProjectResourceQuota{Hard: corev1.ResourceList{
		"requests.nvidia.com/gpu": resource.MustParse("2"),
		corev1.ResourcePods:       resource.MustParse("10"),
	}}
	p.Spec.LimitRange = &v1alpha1.ProjectLimitRange{DefaultLimits: corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("500m"),
		corev1.ResourceMemory: resource.MustParse("256Mi"),
	}}
	f.create(t, p)
	waitQuota(t, f, "quota-a", true)

	ns, err := f.dev.CoreV1().Namespaces().Get(ctx, "quota-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := rbacsync.ProjectOf(ns); got != "quota" {
		t.Errorf("ProjectOf(quota-a) = %q, want quota", got)
	}
	rq, err := f.dev.CoreV1().ResourceQuotas("quota-a").Get(ctx, rbacsync.ProjectObjectName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if gpu := rq.Spec.Hard["requests.nvidia.com/gpu"]; gpu.Cmp(resource.MustParse("2")) != 0 {
		t.Errorf("GPU quota = %s, want 2", gpu.String())
	}

	// kube-controller-manager writes the quota's status once; after that
	// nothing should touch it.
	framework.Eventually(t, framework.Short, func() error {
		rq, err := f.dev.CoreV1().ResourceQuotas("quota-a").Get(ctx, rbacsync.ProjectObjectName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(rq.Status.Hard) == 0 {
			return fmt.Errorf("quota status not computed yet")
		}
		return nil
	})
	assertStable(t, map[string]func() (metav1.Object, error){
		"ResourceQuota quota-a/bokujo-project": func() (metav1.Object, error) {
			return f.dev.CoreV1().ResourceQuotas("quota-a").Get(ctx, rbacsync.ProjectObjectName, metav1.GetOptions{})
		},
		"LimitRange quota-a/bokujo-project": func() (metav1.Object, error) {
			return f.dev.CoreV1().LimitRanges("quota-a").Get(ctx, rbacsync.ProjectObjectName, metav1.GetOptions{})
		},
		"Namespace quota-a": func() (metav1.Object, error) {
			return f.dev.CoreV1().Namespaces().Get(ctx, "quota-a", metav1.GetOptions{})
		},
	})

	// A namespace labelled into the project downstream gets the same.
	labelledNamespace(t, f.dev.CoreV1().Namespaces(), "quota-b", "quota")
	waitQuota(t, f, "quota-b", true)
	waitProjectNamespaces(t, f, "quota", "quota-a", "quota-b")
	waitReady(t, f, &v1alpha1.Project{}, "quota", v1alpha1.ProjectReasonSynced)

	// Dropping the listed namespace takes bokujo's label, quota and
	// limits away; the namespace itself stays.
	if err := f.mgmt.Get(ctx, client.ObjectKeyFromObject(p), p); err != nil {
		t.Fatal(err)
	}
	p.Spec.Namespaces = nil
	if err := f.mgmt.Update(ctx, p); err != nil {
		t.Fatal(err)
	}
	waitQuota(t, f, "quota-a", false)
	waitProjectNamespaces(t, f, "quota", "quota-b")
	ns, err = f.dev.CoreV1().Namespaces().Get(ctx, "quota-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := rbacsync.ProjectOf(ns); got != "" {
		t.Errorf("quota-a still in project %q", got)
	}
}

// A namespace another project holds is not taken over; the project says
// so in its Ready condition.
func TestProjectNamespaceConflict(t *testing.T) {
	f := setup(t)
	f.create(t, newProject("owner", dev, "shared-a"))
	waitProjectNamespaces(t, f, "owner", "shared-a")
	f.create(t, newProject("claimer", dev, "shared-a"))
	waitReady(t, f, &v1alpha1.Project{}, "claimer", v1alpha1.ProjectReasonNamespaceConflict)
	ns, err := f.dev.CoreV1().Namespaces().Get(context.Background(), "shared-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := rbacsync.ProjectOf(ns); got != "owner" {
		t.Errorf("shared-a belongs to %q, want owner", got)
	}
}

// Kubernetes' and bokujo's own namespaces never join a project: their
// Secrets would hand project members the cluster.
func TestProjectCannotClaimSystemNamespaces(t *testing.T) {
	f := setup(t)
	f.create(t,
		newUser("judy"), newProject("sys", dev, "kube-system", "sys-a"),
		newPRTB("judy-sys-member", "sys", v1alpha1.RoleTemplateProjectMember, userSubject("judy")),
	)
	eventually(t, f.dev, access{user: "judy", verb: "get", resource: "secrets", namespace: "sys-a"}, true)
	waitReady(t, f, &v1alpha1.Project{}, "sys", v1alpha1.ProjectReasonNamespaceConflict)
	waitProjectNamespaces(t, f, "sys", "sys-a")
	check(t, f.dev, access{user: "judy", verb: "get", resource: "secrets", namespace: "kube-system"}, false)
	ns, err := f.dev.CoreV1().Namespaces().Get(context.Background(), "kube-system", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := rbacsync.ProjectOf(ns); got != "" {
		t.Errorf("kube-system labelled into project %q", got)
	}
}

// waitQuota waits until a namespace has, or has not, the project
// ResourceQuota and LimitRange.
func waitQuota(t *testing.T, f *fixture, ns string, present bool) {
	t.Helper()
	framework.Eventually(t, framework.Short, func() error {
		_, errQ := f.dev.CoreV1().ResourceQuotas(ns).Get(context.Background(), rbacsync.ProjectObjectName, metav1.GetOptions{})
		_, errL := f.dev.CoreV1().LimitRanges(ns).Get(context.Background(), rbacsync.ProjectObjectName, metav1.GetOptions{})
		for _, err := range []error{errQ, errL} {
			switch {
			case present && err != nil:
				return err
			case !present && err == nil:
				return fmt.Errorf("namespace %s still has the project's quota or limits", ns)
			case !present && !apierrors.IsNotFound(err):
				return err
			}
		}
		return nil
	})
}

func waitProjectNamespaces(t *testing.T, f *fixture, project string, want ...string) {
	t.Helper()
	framework.Eventually(t, framework.Short, func() error {
		p := &v1alpha1.Project{}
		if err := f.mgmt.Get(context.Background(), client.ObjectKey{Name: project}, p); err != nil {
			return err
		}
		if !slices.Equal(p.Status.Namespaces, want) {
			return fmt.Errorf("project %s namespaces %v, want %v", project, p.Status.Namespaces, want)
		}
		return nil
	})
}
