package rbacsync_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/rbacsync"
	"bokujo.io/bokujo/test/framework"
)

// Acceptance: alice is project-member of "ml" (ml-a, ml-b) in dev and
// cluster-viewer of prod; bob holds nothing.
func TestProjectMemberAndClusterViewer(t *testing.T) {
	f := setup(t)
	f.create(t,
		newUser("alice"), newUser("bob"),
		newProject("ml", dev, "ml-a", "ml-b"),
		newPRTB("alice-ml-member", "ml", v1alpha1.RoleTemplateProjectMember, userSubject("alice")),
		newCRTB("alice-prod-viewer", prod, v1alpha1.RoleTemplateClusterViewer, userSubject("alice")),
	)
	deploy := access{user: "alice", verb: "create", group: "apps", resource: "deployments", namespace: "ml-a"}
	eventually(t, f.dev, deploy, true)
	getProd := access{user: "alice", verb: "get", resource: "pods", namespace: "default"}
	eventually(t, f.prod, getProd, true)

	for _, c := range []struct {
		cs   kubernetes.Interface
		a    access
		want bool
	}{
		{f.dev, access{user: "alice", verb: "create", group: "apps", resource: "deployments", namespace: "ml-b"}, true},
		{f.dev, access{user: "alice", verb: "create", resource: "pods", sub: "exec", namespace: "ml-a"}, true},
		{f.dev, access{user: "alice", verb: "get", resource: "pods", sub: "log", namespace: "ml-b"}, true},
		{f.dev, access{user: "alice", verb: "create", group: "ml.bokujo.io", resource: "mltasks", namespace: "ml-a"}, true},
		{f.dev, access{user: "alice", verb: "create", group: "apps", resource: "deployments", namespace: "default"}, false},
		{f.dev, access{user: "alice", verb: "update", resource: "resourcequotas", namespace: "ml-a"}, false},
		{f.dev, access{user: "alice", verb: "create", group: "rbac.authorization.k8s.io", resource: "rolebindings", namespace: "ml-a"}, false},
		{f.dev, access{user: "alice", verb: "list", resource: "nodes"}, false},
		{f.prod, access{user: "alice", verb: "list", group: "apps", resource: "deployments", namespace: "kube-system"}, true},
		{f.prod, access{user: "alice", verb: "delete", resource: "pods", namespace: "default"}, false},
		{f.prod, access{user: "alice", verb: "get", resource: "secrets", namespace: "default"}, false},
		{f.prod, access{user: "alice", verb: "create", group: "apps", resource: "deployments", namespace: "ml-a"}, false},
		{f.dev, access{user: "bob", verb: "get", resource: "pods", namespace: "ml-a"}, false},
		{f.prod, access{user: "bob", verb: "get", resource: "pods", namespace: "default"}, false},
	} {
		check(t, c.cs, c.a, c.want)
	}

	// The downstream objects: named after their sources, labelled as
	// bokujo's, bound to the prefixed user.
	for _, ns := range []string{"ml-a", "ml-b"} {
		rb, err := f.dev.RbacV1().RoleBindings(ns).Get(context.Background(), "bokujo:prtb:alice-ml-member", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rb.Labels[rbacsync.LabelManagedBy] != "bokujo" || rb.Labels[rbacsync.LabelPRTB] != "alice-ml-member" {
			t.Errorf("role binding %s/%s labels = %v", ns, rb.Name, rb.Labels)
		}
		wantSubjects := []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "bokujo:alice"}}
		if !slices.Equal(rb.Subjects, wantSubjects) || rb.RoleRef.Name != "bokujo:rt:project-member" {
			t.Errorf("role binding %s/%s: subjects %v, roleRef %v", ns, rb.Name, rb.Subjects, rb.RoleRef)
		}
	}
	if _, err := f.prod.RbacV1().ClusterRoleBindings().Get(context.Background(), "bokujo:crtb:alice-prod-viewer", metav1.GetOptions{}); err != nil {
		t.Error(err)
	}
	waitReady(t, f, &v1alpha1.ProjectRoleTemplateBinding{}, "alice-ml-member", v1alpha1.BindingReasonSynced)
	waitReady(t, f, &v1alpha1.ClusterRoleTemplateBinding{}, "alice-prod-viewer", v1alpha1.BindingReasonSynced)

	// What was written matches what the API server stores: no object is
	// rewritten over and over.
	ctx := context.Background()
	assertStable(t, map[string]func() (metav1.Object, error){
		"RoleBinding ml-a/bokujo:prtb:alice-ml-member": func() (metav1.Object, error) {
			return f.dev.RbacV1().RoleBindings("ml-a").Get(ctx, "bokujo:prtb:alice-ml-member", metav1.GetOptions{})
		},
		"ClusterRole bokujo:rt:project-member": func() (metav1.Object, error) {
			return f.dev.RbacV1().ClusterRoles().Get(ctx, "bokujo:rt:project-member", metav1.GetOptions{})
		},
		"ClusterRoleBinding bokujo:crtb:alice-prod-viewer": func() (metav1.Object, error) {
			return f.prod.RbacV1().ClusterRoleBindings().Get(ctx, "bokujo:crtb:alice-prod-viewer", metav1.GetOptions{})
		},
		"ClusterRole bokujo:rt:cluster-viewer": func() (metav1.Object, error) {
			return f.prod.RbacV1().ClusterRoles().Get(ctx, "bokujo:rt:cluster-viewer", metav1.GetOptions{})
		},
		"binding alice-ml-member": func() (metav1.Object, error) {
			b := &v1alpha1.ProjectRoleTemplateBinding{}
			return b, f.mgmt.Get(ctx, client.ObjectKey{Name: "alice-ml-member"}, b)
		},
		"RoleTemplate project-member": func() (metav1.Object, error) {
			rt := &v1alpha1.RoleTemplate{}
			return rt, f.mgmt.Get(ctx, client.ObjectKey{Name: v1alpha1.RoleTemplateProjectMember}, rt)
		},
	})
}

// assertStable fails if any object's resourceVersion changes within two
// seconds of quiet: a sign of a controller rewriting what it just wrote.
func assertStable(t *testing.T, objects map[string]func() (metav1.Object, error)) {
	t.Helper()
	before := map[string]string{}
	for name, get := range objects {
		o, err := get()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		before[name] = o.GetResourceVersion()
	}
	time.Sleep(2 * time.Second)
	for name, get := range objects {
		o, err := get()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if rv := o.GetResourceVersion(); rv != before[name] {
			t.Errorf("%s rewritten while nothing changed: resourceVersion %s -> %s", name, before[name], rv)
		}
	}
}

// A binding to a group grants through the prefixed group name, to anyone
// the proxy says is a member.
func TestGroupBindingGrantsToPrefixedGroup(t *testing.T) {
	f := setup(t)
	f.create(t,
		newProject("grp", dev, "grp-a"),
		newPRTB("ml-team-viewer", "grp", v1alpha1.RoleTemplateProjectViewer, groupSubject("ml-team")),
	)
	member := access{user: "carol", groups: []string{"ml-team"}, verb: "list", resource: "pods", namespace: "grp-a"}
	eventually(t, f.dev, member, true)
	check(t, f.dev, access{user: "carol", groups: []string{"ml-team"}, verb: "get", resource: "pods", sub: "log", namespace: "grp-a"}, true)
	check(t, f.dev, access{user: "carol", groups: []string{"ml-team"}, verb: "get", resource: "secrets", namespace: "grp-a"}, false)
	check(t, f.dev, access{user: "carol", groups: []string{"ml-team"}, verb: "create", group: "apps", resource: "deployments", namespace: "grp-a"}, false)
	check(t, f.dev, access{user: "carol", verb: "list", resource: "pods", namespace: "grp-a"}, false)
	// A bokujo group named like a Kubernetes one does not reach it.
	check(t, f.dev, access{user: "carol", groups: []string{"system:masters"}, verb: "list", resource: "pods", namespace: "grp-a"}, false)

	rb, err := f.dev.RbacV1().RoleBindings("grp-a").Get(context.Background(), "bokujo:prtb:ml-team-viewer", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (rbacv1.Subject{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "bokujo:ml-team"}); len(rb.Subjects) != 1 || rb.Subjects[0] != want {
		t.Errorf("subjects = %v, want %v", rb.Subjects, want)
	}
}

// Acceptance: revoking a binding removes the RoleBindings and the access
// within 5 s.
func TestRevokeRemovesAccessWithin5s(t *testing.T) {
	f := setup(t)
	b := newPRTB("dave-rv-member", "rv", v1alpha1.RoleTemplateProjectMember, userSubject("dave"))
	f.create(t, newUser("dave"), newProject("rv", dev, "rv-a", "rv-b"), b)
	for _, ns := range []string{"rv-a", "rv-b"} {
		eventually(t, f.dev, access{user: "dave", verb: "create", resource: "pods", namespace: ns}, true)
	}

	begin := time.Now()
	if err := f.mgmt.Delete(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"rv-a", "rv-b"} {
		eventually(t, f.dev, access{user: "dave", verb: "create", resource: "pods", namespace: ns}, false)
		waitGone(t, f.dev, ns, "bokujo:prtb:dave-rv-member")
	}
	took := time.Since(begin)
	t.Logf("access and RoleBindings gone %s after the binding was deleted", took.Round(time.Millisecond))
	if took > revocationBound {
		t.Errorf("revocation took %s, more than %s", took, revocationBound)
	}
	framework.Eventually(t, framework.Short, func() error {
		err := f.mgmt.Get(context.Background(), client.ObjectKeyFromObject(b), &v1alpha1.ProjectRoleTemplateBinding{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("binding still present (finalizer not released): %v", err)
	})
}

// Acceptance: a downstream RoleBinding deleted by hand while its binding
// exists is back within 5 s.
func TestDeletedRoleBindingRestoredWithin5s(t *testing.T) {
	f := setup(t)
	f.create(t,
		newUser("frank"), newProject("dr", dev, "dr-a"),
		newPRTB("frank-dr-member", "dr", v1alpha1.RoleTemplateProjectMember, userSubject("frank")),
	)
	a := access{user: "frank", verb: "create", resource: "configmaps", namespace: "dr-a"}
	eventually(t, f.dev, a, true)
	rbs := f.dev.RbacV1().RoleBindings("dr-a")
	old, err := rbs.Get(context.Background(), "bokujo:prtb:frank-dr-member", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	begin := time.Now()
	if err := rbs.Delete(context.Background(), old.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, framework.Short, func() error {
		rb, err := rbs.Get(context.Background(), old.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if rb.UID == old.UID {
			return fmt.Errorf("still the deleted object")
		}
		return nil
	})
	eventually(t, f.dev, a, true)
	took := time.Since(begin)
	t.Logf("RoleBinding restored %s after it was deleted", took.Round(time.Millisecond))
	if took > revocationBound {
		t.Errorf("restore took %s, more than %s", took, revocationBound)
	}
}

// Edits to bokujo's objects are reverted: subjects of a RoleBinding, rules
// of a ClusterRole, bokujo's label.
func TestEditedObjectsReverted(t *testing.T) {
	f := setup(t)
	f.create(t,
		newUser("grace"), newProject("ed", dev, "ed-a"),
		newPRTB("grace-ed-viewer", "ed", v1alpha1.RoleTemplateProjectViewer, userSubject("grace")),
	)
	a := access{user: "grace", verb: "list", resource: "pods", namespace: "ed-a"}
	eventually(t, f.dev, a, true)
	ctx := context.Background()
	rbs := f.dev.RbacV1().RoleBindings("ed-a")
	const rbName = "bokujo:prtb:grace-ed-viewer"
	grace := []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "bokujo:grace"}}

	t.Run("subjects", func(t *testing.T) {
		rb, err := rbs.Get(ctx, rbName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rb.Subjects = []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "bokujo:mallory"}}
		begin := time.Now()
		if _, err := rbs.Update(ctx, rb, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		framework.Eventually(t, framework.Short, func() error {
			rb, err := rbs.Get(ctx, rbName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if !slices.Equal(rb.Subjects, grace) {
				return fmt.Errorf("subjects %v", rb.Subjects)
			}
			return nil
		})
		t.Logf("subjects reverted after %s", time.Since(begin).Round(time.Millisecond))
		if took := time.Since(begin); took > revocationBound {
			t.Errorf("revert took %s", took)
		}
		check(t, f.dev, access{user: "mallory", verb: "list", resource: "pods", namespace: "ed-a"}, false)
	})

	t.Run("label", func(t *testing.T) {
		rb, err := rbs.Get(ctx, rbName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		delete(rb.Labels, rbacsync.LabelManagedBy)
		if _, err := rbs.Update(ctx, rb, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		framework.Eventually(t, framework.Short, func() error {
			rb, err := rbs.Get(ctx, rbName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if rb.Labels[rbacsync.LabelManagedBy] != rbacsync.ManagedBy {
				return fmt.Errorf("labels %v", rb.Labels)
			}
			return nil
		})
	})

	t.Run("clusterrole rules", func(t *testing.T) {
		crs := f.dev.RbacV1().ClusterRoles()
		cr, err := crs.Get(ctx, "bokujo:rt:project-viewer", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := cr.Rules
		cr.Rules = []rbacv1.PolicyRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}}
		if _, err := crs.Update(ctx, cr, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		framework.Eventually(t, framework.Short, func() error {
			cr, err := crs.Get(ctx, "bokujo:rt:project-viewer", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if len(cr.Rules) != len(want) {
				return fmt.Errorf("%d rules, want %d", len(cr.Rules), len(want))
			}
			return nil
		})
		eventually(t, f.dev, access{user: "grace", verb: "delete", resource: "pods", namespace: "ed-a"}, false)
	})
}

// Acceptance: disabling a user removes their access everywhere within 5 s;
// enabling restores it; deleting the User removes it too.
func TestDisabledUserLosesAccessWithin5s(t *testing.T) {
	f := setup(t)
	u := newUser("erin")
	f.create(t, u, newProject("dis", dev, "dis-a"),
		newPRTB("erin-dis-member", "dis", v1alpha1.RoleTemplateProjectMember, userSubject("erin")),
		newCRTB("erin-prod-viewer", prod, v1alpha1.RoleTemplateClusterViewer, userSubject("erin")),
	)
	devAccess := access{user: "erin", verb: "create", group: "apps", resource: "deployments", namespace: "dis-a"}
	prodAccess := access{user: "erin", verb: "get", resource: "pods", namespace: "default"}
	eventually(t, f.dev, devAccess, true)
	eventually(t, f.prod, prodAccess, true)

	setState := func(state v1alpha1.UserState) {
		t.Helper()
		if err := f.mgmt.Get(context.Background(), client.ObjectKeyFromObject(u), u); err != nil {
			t.Fatal(err)
		}
		u.Spec.State = state
		if err := f.mgmt.Update(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}
	begin := time.Now()
	setState(v1alpha1.UserStateDisabled)
	eventually(t, f.dev, devAccess, false)
	eventually(t, f.prod, prodAccess, false)
	took := time.Since(begin)
	t.Logf("access gone in both clusters %s after disabling", took.Round(time.Millisecond))
	if took > revocationBound {
		t.Errorf("disabling took %s to take effect, more than %s", took, revocationBound)
	}
	waitGone(t, f.dev, "dis-a", "bokujo:prtb:erin-dis-member")
	waitReady(t, f, &v1alpha1.ProjectRoleTemplateBinding{}, "erin-dis-member", rbacsync.ReasonUserInactive)

	setState(v1alpha1.UserStateActive)
	eventually(t, f.dev, devAccess, true)
	eventually(t, f.prod, prodAccess, true)

	if err := f.mgmt.Delete(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	eventually(t, f.dev, devAccess, false)
	eventually(t, f.prod, prodAccess, false)
}

// Downstream RBAC objects grow with bindings, not users: a group of 1,000
// users bound to a project of three namespaces is one RoleBinding per
// namespace, and what is written matches rbacsync.Render.
func TestObjectCountIndependentOfUsers(t *testing.T) {
	f := setup(t)
	members := make([]string, 1000)
	for i := range members {
		members[i] = fmt.Sprintf("u%04d", i)
	}
	group := &v1alpha1.Group{ObjectMeta: metav1.ObjectMeta{Name: "big"}, Spec: v1alpha1.GroupSpec{Members: members}}
	project := newProject("cnt", dev, "cnt-a", "cnt-b", "cnt-c")
	binding := newPRTB("big-cnt-member", "cnt", v1alpha1.RoleTemplateProjectMember, groupSubject("big"))
	f.create(t, group, project, binding)
	for _, u := range []string{"u0000", "u0999"} {
		eventually(t, f.dev, access{user: u, groups: []string{"big"}, verb: "create", resource: "pods", namespace: "cnt-c"}, true)
	}

	total := 0
	for _, ns := range project.Spec.Namespaces {
		list, err := f.dev.RbacV1().RoleBindings(ns).List(context.Background(), metav1.ListOptions{LabelSelector: rbacsync.LabelManagedBy + "=bokujo"})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != 1 {
			t.Errorf("namespace %s: %d bokujo RoleBindings, want 1", ns, len(list.Items))
		}
		total += len(list.Items)
	}
	templates := &v1alpha1.RoleTemplateList{}
	if err := f.mgmt.List(context.Background(), templates); err != nil {
		t.Fatal(err)
	}
	objs, err := rbacsync.Render(dev, rbacsync.Inputs{
		Templates:       templates.Items,
		Projects:        []v1alpha1.Project{*project},
		ProjectBindings: []v1alpha1.ProjectRoleTemplateBinding{*binding},
		Namespaces:      map[string][]string{"cnt": project.Spec.Namespaces},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs.RoleBindings) != total || len(objs.ClusterRoles) != 1 {
		t.Errorf("Render: %d RoleBindings and %d ClusterRoles; cluster has %d RoleBindings", len(objs.RoleBindings), len(objs.ClusterRoles), total)
	}
}

// Unknown bokujo-labelled objects are deleted; a ClusterRole no binding
// uses is too.
func TestOrphansDeleted(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	ns := env.Namespace(t, dev)
	labels := map[string]string{rbacsync.LabelManagedBy: rbacsync.ManagedBy}
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"}
	subjects := []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "bokujo:mallory"}}
	rbac := f.dev.RbacV1()
	if _, err := rbac.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "bokujo:crtb:ghost", Labels: labels}, RoleRef: ref, Subjects: subjects,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"bokujo:prtb:ghost", "impostor"} {
		if _, err := rbac.RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, RoleRef: ref, Subjects: subjects,
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rbac.ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "bokujo:rt:nobody-binds-this", Labels: labels},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, f.dev, access{user: "mallory", verb: "delete", resource: "pods", namespace: ns}, false)
	framework.Eventually(t, framework.Short, func() error {
		var left []string
		if _, err := rbac.ClusterRoleBindings().Get(ctx, "bokujo:crtb:ghost", metav1.GetOptions{}); err == nil {
			left = append(left, "ClusterRoleBinding bokujo:crtb:ghost")
		}
		if _, err := rbac.ClusterRoles().Get(ctx, "bokujo:rt:nobody-binds-this", metav1.GetOptions{}); err == nil {
			left = append(left, "ClusterRole bokujo:rt:nobody-binds-this")
		}
		list, err := rbac.RoleBindings(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, rb := range list.Items {
			left = append(left, "RoleBinding "+rb.Name)
		}
		if len(left) > 0 {
			return fmt.Errorf("still there: %v", left)
		}
		return nil
	})
}

// A custom template inheriting another gets the union of both rules in its
// ClusterRole; editing the inherited template updates it; when the last
// binding goes, so does the ClusterRole.
func TestTemplateInheritance(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	base := &v1alpha1.RoleTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: "secret-reader"},
		Spec: v1alpha1.RoleTemplateSpec{Context: v1alpha1.RoleTemplateContextProject, Rules: []rbacv1.PolicyRule{
			{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"secrets"}},
		}},
	}
	derived := &v1alpha1.RoleTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: "config-reader"},
		Spec: v1alpha1.RoleTemplateSpec{Context: v1alpha1.RoleTemplateContextProject, Inherits: []string{"secret-reader"}, Rules: []rbacv1.PolicyRule{
			{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}},
		}},
	}
	binding := newPRTB("hank-inh-config", "inh", "config-reader", userSubject("hank"))
	f.create(t, base, derived, newUser("hank"), newProject("inh", dev, "inh-a"), binding)
	for _, res := range []string{"configmaps", "secrets"} {
		eventually(t, f.dev, access{user: "hank", verb: "get", resource: res, namespace: "inh-a"}, true)
	}

	if err := f.mgmt.Get(ctx, client.ObjectKeyFromObject(base), base); err != nil {
		t.Fatal(err)
	}
	base.Spec.Rules[0].Resources = []string{"services"}
	if err := f.mgmt.Update(ctx, base); err != nil {
		t.Fatal(err)
	}
	eventually(t, f.dev, access{user: "hank", verb: "get", resource: "services", namespace: "inh-a"}, true)
	eventually(t, f.dev, access{user: "hank", verb: "get", resource: "secrets", namespace: "inh-a"}, false)

	if err := f.mgmt.Delete(ctx, binding); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, framework.Short, func() error {
		_, err := f.dev.RbacV1().ClusterRoles().Get(ctx, "bokujo:rt:config-reader", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("ClusterRole bokujo:rt:config-reader still there: %v", err)
	})
}

// A cluster that cannot be reached holds up nothing else, and its
// bindings say why; deleting such a binding waits until the Cluster goes.
func TestUnavailableClusterDoesNotBlockOthers(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	stuck := newCRTB("ivan-offline-owner", offline, v1alpha1.RoleTemplateClusterOwner, userSubject("ivan"))
	f.create(t, newUser("ivan"), stuck,
		newCRTB("ivan-prod-viewer", prod, v1alpha1.RoleTemplateClusterViewer, userSubject("ivan")))
	eventually(t, f.prod, access{user: "ivan", verb: "list", resource: "pods", namespace: "default"}, true)
	waitReady(t, f, &v1alpha1.ClusterRoleTemplateBinding{}, stuck.Name, v1alpha1.ReasonClusterUnavailable)

	if err := f.mgmt.Delete(ctx, stuck); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := f.mgmt.Get(ctx, client.ObjectKeyFromObject(stuck), stuck); err != nil {
		t.Fatalf("binding to an unreachable cluster was released before its objects could be removed: %v", err)
	}
	cl := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: offline}}
	if err := f.mgmt.Delete(ctx, cl); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cl := &v1alpha1.Cluster{
			ObjectMeta: metav1.ObjectMeta{Name: offline},
			Spec:       v1alpha1.ClusterSpec{Source: v1alpha1.ClusterSource{Agent: &v1alpha1.AgentSource{}}},
		}
		if err := f.mgmt.Create(ctx, cl); err != nil {
			t.Errorf("recreate cluster %s: %v", offline, err)
		}
	})
	framework.Eventually(t, framework.Short, func() error {
		err := f.mgmt.Get(ctx, client.ObjectKeyFromObject(stuck), &v1alpha1.ClusterRoleTemplateBinding{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("binding still there: %v", err)
	})
}

// Built-in templates and global roles are put back when edited or deleted.
func TestBuiltinsRestored(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	rt := &v1alpha1.RoleTemplate{}
	if err := f.mgmt.Get(ctx, client.ObjectKey{Name: v1alpha1.RoleTemplateProjectViewer}, rt); err != nil {
		t.Fatal(err)
	}
	want := len(rt.Spec.Rules)
	rt.Spec.Rules = append(rt.Spec.Rules, rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"secrets"}})
	if err := f.mgmt.Update(ctx, rt); err != nil {
		t.Fatal(err)
	}
	if err := f.mgmt.Delete(ctx, &v1alpha1.GlobalRole{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.GlobalRoleUser}}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, framework.Short, func() error {
		if err := f.mgmt.Get(ctx, client.ObjectKeyFromObject(rt), rt); err != nil {
			return err
		}
		if len(rt.Spec.Rules) != want {
			return fmt.Errorf("project-viewer has %d rules, want %d", len(rt.Spec.Rules), want)
		}
		return f.mgmt.Get(ctx, client.ObjectKey{Name: v1alpha1.GlobalRoleUser}, &v1alpha1.GlobalRole{})
	})
}

// waitReady waits until a binding's Ready condition has reason.
func waitReady(t *testing.T, f *fixture, obj client.Object, name, reason string) {
	t.Helper()
	framework.Eventually(t, framework.Short, func() error {
		if err := f.mgmt.Get(context.Background(), client.ObjectKey{Name: name}, obj); err != nil {
			return err
		}
		var conds []metav1.Condition
		switch o := obj.(type) {
		case *v1alpha1.ProjectRoleTemplateBinding:
			conds = o.Status.Conditions
		case *v1alpha1.ClusterRoleTemplateBinding:
			conds = o.Status.Conditions
		case *v1alpha1.Project:
			conds = o.Status.Conditions
		}
		c := meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
		if c == nil || c.Reason != reason {
			return fmt.Errorf("%s: Ready = %+v, want reason %s", name, c, reason)
		}
		if c.ObservedGeneration != obj.GetGeneration() {
			return fmt.Errorf("%s: observedGeneration %d, generation %d", name, c.ObservedGeneration, obj.GetGeneration())
		}
		return nil
	})
}

// waitGone waits until a RoleBinding is deleted.
func waitGone(t *testing.T, cs kubernetes.Interface, ns, name string) {
	t.Helper()
	framework.Eventually(t, framework.Short, func() error {
		_, err := cs.RbacV1().RoleBindings(ns).Get(context.Background(), name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("RoleBinding %s/%s still there: %v", ns, name, err)
	})
}
