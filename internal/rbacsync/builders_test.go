package rbacsync_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
)

func userSubject(name string) v1alpha1.Subject {
	return v1alpha1.Subject{Kind: v1alpha1.SubjectKindUser, Name: name}
}

func groupSubject(name string) v1alpha1.Subject {
	return v1alpha1.Subject{Kind: v1alpha1.SubjectKindGroup, Name: name}
}

func newUser(name string) *v1alpha1.User {
	return &v1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.UserSpec{State: v1alpha1.UserStateActive}}
}

func newProject(name, cluster string, namespaces ...string) *v1alpha1.Project {
	return &v1alpha1.Project{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1alpha1.ProjectSpec{ClusterName: cluster, Namespaces: namespaces},
	}
}

func newPRTB(name, project, template string, s v1alpha1.Subject) *v1alpha1.ProjectRoleTemplateBinding {
	return &v1alpha1.ProjectRoleTemplateBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1alpha1.ProjectRoleTemplateBindingSpec{ProjectName: project, RoleTemplateName: template, Subject: s},
	}
}

func newCRTB(name, cluster, template string, s v1alpha1.Subject) *v1alpha1.ClusterRoleTemplateBinding {
	return &v1alpha1.ClusterRoleTemplateBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1alpha1.ClusterRoleTemplateBindingSpec{ClusterName: cluster, RoleTemplateName: template, Subject: s},
	}
}

func newGRB(name, role string, s v1alpha1.Subject) *v1alpha1.GlobalRoleBinding {
	return &v1alpha1.GlobalRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1alpha1.GlobalRoleBindingSpec{GlobalRoleName: role, Subject: s},
	}
}

// create creates management objects and deletes them when the test ends,
// so the next test starts from built-ins and Clusters only.
func (f *fixture) create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := f.mgmt.Create(context.Background(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
		t.Cleanup(func() {
			if err := f.mgmt.Delete(context.Background(), o); err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("clean up %T %s: %v", o, o.GetName(), err)
			}
		})
	}
}

// labelledNamespace creates a downstream namespace claimed for a project by
// label, deleted when the test ends.
func labelledNamespace(t *testing.T, cs interface {
	Create(context.Context, *corev1.Namespace, metav1.CreateOptions) (*corev1.Namespace, error)
	Delete(context.Context, string, metav1.DeleteOptions) error
}, name, project string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{v1alpha1.ProjectLabel: project}}}
	if _, err := cs.Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() { _ = cs.Delete(context.Background(), name, metav1.DeleteOptions{}) })
}
