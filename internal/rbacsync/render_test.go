package rbacsync_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	rbacvalidation "k8s.io/component-helpers/auth/rbac/validation"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/rbacsync"
)

func template(name string, ctx v1alpha1.RoleTemplateContext, inherits []string, rules ...rbacv1.PolicyRule) v1alpha1.RoleTemplate {
	return v1alpha1.RoleTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1alpha1.RoleTemplateSpec{Context: ctx, Inherits: inherits, Rules: rules},
	}
}

func getRule(resources ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: resources}
}

func TestFlattenRules(t *testing.T) {
	p := v1alpha1.RoleTemplateContextProject
	c := v1alpha1.RoleTemplateContextCluster
	templates := []v1alpha1.RoleTemplate{
		template("a", p, []string{"b", "c"}, getRule("pods")),
		template("b", p, []string{"c"}, getRule("secrets"), getRule("pods")),
		template("c", p, []string{"a"}, getRule("configmaps")),
		template("missing-parent", p, []string{"nope"}, getRule("pods")),
		template("wrong-context", p, []string{"cluster"}, getRule("pods")),
		template("cluster", c, nil, getRule("nodes")),
		template("empty-lists", p, nil, rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}, ResourceNames: []string{}}),
	}
	lookup := rbacsync.LookupIn(templates)
	cases := []struct {
		name    string
		want    []rbacv1.PolicyRule
		wantErr error
	}{
		// Own rules first, depth-first through inherits, each rule and
		// template once although c inherits a again.
		{"a", []rbacv1.PolicyRule{getRule("pods"), getRule("secrets"), getRule("configmaps")}, nil},
		{"c", []rbacv1.PolicyRule{getRule("configmaps"), getRule("pods"), getRule("secrets")}, nil},
		{"missing-parent", nil, rbacsync.ErrRoleTemplateNotFound},
		{"wrong-context", nil, rbacsync.ErrContextMismatch},
		{"empty-lists", []rbacv1.PolicyRule{getRule("pods")}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tpl, _ := lookup(tc.name)
			got, err := rbacsync.FlattenRules(tpl, lookup)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNamesAndSubjects(t *testing.T) {
	b := &v1alpha1.ProjectRoleTemplateBinding{
		ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("x", 200) + ".example"},
		Spec: v1alpha1.ProjectRoleTemplateBindingSpec{
			ProjectName: "ml", RoleTemplateName: "project-member", Subject: v1alpha1.Subject{Kind: v1alpha1.SubjectKindGroup, Name: "ml"},
		},
	}
	rbs := rbacsync.RenderRoleBindings(b, []string{"ml-b", "ml-a", "ml-b"})
	if len(rbs) != 2 || rbs[0].Namespace != "ml-a" || rbs[1].Namespace != "ml-b" {
		t.Fatalf("namespaces %v", rbs)
	}
	rb := rbs[0]
	if rb.Name != "bokujo:prtb:"+b.Name {
		t.Errorf("name %q", rb.Name)
	}
	for k, v := range rb.Labels {
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			t.Errorf("label %s=%q: %v", k, v, errs)
		}
	}
	want := rbacv1.Subject{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "bokujo:ml"}
	if rb.Subjects[0] != want {
		t.Errorf("subject %v, want %v", rb.Subjects[0], want)
	}
	if rb.RoleRef.Name != "bokujo:rt:project-member" || rb.RoleRef.Kind != "ClusterRole" {
		t.Errorf("roleRef %v", rb.RoleRef)
	}
	if s := rbacsync.DownstreamSubject(v1alpha1.Subject{Kind: v1alpha1.SubjectKindUser, Name: "alice"}); s.Name != "bokujo:alice" || s.Kind != "User" {
		t.Errorf("user subject %v", s)
	}
	if got := rbacsync.ProjectOf(nil); got != "" {
		t.Errorf("ProjectOf(nil) = %q", got)
	}
}

// The built-in templates nest (owner ⊇ member ⊇ viewer), keep the
// rights that would break a project's walls out of project templates, and
// keep secrets from viewers.
func TestBuiltinTemplates(t *testing.T) {
	all := map[string][]rbacv1.PolicyRule{}
	var list []v1alpha1.RoleTemplate
	for _, rt := range rbacsync.BuiltinRoleTemplates() {
		if rt.Spec.Origin != v1alpha1.OriginBuiltin {
			t.Errorf("%s: origin %q", rt.Name, rt.Spec.Origin)
		}
		list = append(list, *rt)
	}
	for _, rt := range list {
		rules, err := rbacsync.FlattenRules(&rt, rbacsync.LookupIn(list))
		if err != nil {
			t.Fatal(err)
		}
		all[rt.Name] = rules
	}
	for _, pair := range [][2]string{
		{v1alpha1.RoleTemplateProjectOwner, v1alpha1.RoleTemplateProjectMember},
		{v1alpha1.RoleTemplateProjectMember, v1alpha1.RoleTemplateProjectViewer},
		{v1alpha1.RoleTemplateClusterOwner, v1alpha1.RoleTemplateClusterMember},
		{v1alpha1.RoleTemplateClusterMember, v1alpha1.RoleTemplateClusterViewer},
		{v1alpha1.RoleTemplateClusterOwner, v1alpha1.RoleTemplateProjectOwner},
		{v1alpha1.RoleTemplateClusterViewer, v1alpha1.RoleTemplateProjectViewer},
	} {
		if ok, missing := rbacvalidation.Covers(all[pair[0]], all[pair[1]]); !ok {
			t.Errorf("%s does not cover %s: missing %v", pair[0], pair[1], missing[:min(3, len(missing))])
		}
	}
	for _, pair := range [][2]string{
		{v1alpha1.RoleTemplateProjectMember, v1alpha1.RoleTemplateProjectOwner},
		{v1alpha1.RoleTemplateProjectViewer, v1alpha1.RoleTemplateProjectMember},
		{v1alpha1.RoleTemplateClusterMember, v1alpha1.RoleTemplateClusterOwner},
		{v1alpha1.RoleTemplateProjectOwner, v1alpha1.RoleTemplateClusterViewer},
	} {
		if ok, _ := rbacvalidation.Covers(all[pair[0]], all[pair[1]]); ok {
			t.Errorf("%s covers %s", pair[0], pair[1])
		}
	}

	forbidden := func(verb, group, res string) []rbacv1.PolicyRule {
		return []rbacv1.PolicyRule{{Verbs: []string{verb}, APIGroups: []string{group}, Resources: []string{res}}}
	}
	for _, name := range []string{v1alpha1.RoleTemplateProjectOwner, v1alpha1.RoleTemplateProjectMember, v1alpha1.RoleTemplateProjectViewer} {
		for _, f := range [][3]string{
			{"bind", "rbac.authorization.k8s.io", "clusterroles"},
			{"escalate", "rbac.authorization.k8s.io", "roles"},
			{"impersonate", "", "serviceaccounts"},
			{"update", "", "resourcequotas"},
			{"delete", "", "limitranges"},
			{"update", "", "namespaces"},
			{"delete", "", "namespaces"},
		} {
			if ok, _ := rbacvalidation.Covers(all[name], forbidden(f[0], f[1], f[2])); ok {
				t.Errorf("%s grants %s %s.%s", name, f[0], f[2], f[1])
			}
		}
	}
	for _, name := range []string{v1alpha1.RoleTemplateProjectViewer, v1alpha1.RoleTemplateClusterViewer, v1alpha1.RoleTemplateClusterMember} {
		if ok, _ := rbacvalidation.Covers(all[name], forbidden("get", "", "secrets")); ok {
			t.Errorf("%s reads secrets", name)
		}
	}
	member := all[v1alpha1.RoleTemplateProjectMember]
	for _, want := range [][3]string{
		{"create", "", "pods/exec"}, {"create", "", "pods/portforward"}, {"create", "", "pods/attach"},
		{"get", "", "pods/log"}, {"create", "apps", "deployments"}, {"delete", "apps", "statefulsets"},
		{"patch", "apps", "daemonsets"}, {"create", "batch", "jobs"}, {"create", "batch", "cronjobs"},
		{"create", "", "services"}, {"update", "", "configmaps"}, {"get", "", "secrets"},
		{"create", "", "persistentvolumeclaims"}, {"create", "networking.k8s.io", "ingresses"},
		{"list", "", "events"}, {"list", "apps", "replicasets"}, {"create", "autoscaling", "horizontalpodautoscalers"},
		{"create", "ml.bokujo.io", "mltasks"}, {"create", "delivery.bokujo.io", "releases"},
	} {
		if ok, _ := rbacvalidation.Covers(member, forbidden(want[0], want[1], want[2])); !ok {
			t.Errorf("project-member lacks %s %s.%s", want[0], want[2], want[1])
		}
	}
	// GPU quota is the administrator's: no project template may write a
	// LocalQueue (its GPUQueue and weight) or an MLTask's status (its
	// admission); all of them read MLTasks and LocalQueues, owners and
	// members write MLTasks, viewers do not.
	for _, name := range []string{v1alpha1.RoleTemplateProjectOwner, v1alpha1.RoleTemplateProjectMember, v1alpha1.RoleTemplateProjectViewer} {
		for _, f := range [][3]string{
			{"create", "ml.bokujo.io", "localqueues"}, {"update", "ml.bokujo.io", "localqueues"},
			{"patch", "ml.bokujo.io", "mltasks/status"}, {"update", "ml.bokujo.io", "mltasks/status"},
			{"create", "ml.bokujo.io", "gpuqueues"},
		} {
			if ok, _ := rbacvalidation.Covers(all[name], forbidden(f[0], f[1], f[2])); ok {
				t.Errorf("%s grants %s %s.%s", name, f[0], f[2], f[1])
			}
		}
		for _, want := range [][3]string{{"list", "ml.bokujo.io", "mltasks"}, {"watch", "ml.bokujo.io", "localqueues"}, {"get", "ml.bokujo.io", "mltasks/status"}} {
			if ok, _ := rbacvalidation.Covers(all[name], forbidden(want[0], want[1], want[2])); !ok {
				t.Errorf("%s lacks %s %s.%s", name, want[0], want[2], want[1])
			}
		}
		canWrite, _ := rbacvalidation.Covers(all[name], forbidden("create", "ml.bokujo.io", "mltasks"))
		if want := name != v1alpha1.RoleTemplateProjectViewer; canWrite != want {
			t.Errorf("%s creates mltasks: %t, want %t", name, canWrite, want)
		}
	}
	for _, rt := range list {
		if rt.Spec.Context != v1alpha1.RoleTemplateContextProject {
			continue
		}
		for _, r := range all[rt.Name] {
			if len(r.NonResourceURLs) > 0 {
				t.Errorf("%s has non-resource URLs, which its CRD refuses", rt.Name)
			}
		}
	}
}

func TestProjectNamespaces(t *testing.T) {
	ns := func(name, project, listedBy string, terminating bool) corev1.Namespace {
		n := corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}, Annotations: map[string]string{}}}
		if project != "" {
			n.Labels[v1alpha1.ProjectLabel] = project
		}
		if listedBy != "" {
			n.Annotations[rbacsync.AnnotationListedBy] = listedBy
		}
		if terminating {
			n.Status.Phase = corev1.NamespaceTerminating
		}
		return n
	}
	p := &v1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: "ml"}, Spec: v1alpha1.ProjectSpec{Namespaces: []string{"listed", "listed-free", "taken", "gone", "kube-system"}}}
	got := rbacsync.ProjectNamespaces(p, []corev1.Namespace{
		ns("listed", "ml", "ml", false),
		ns("listed-free", "", "", false),
		ns("taken", "other", "", false),
		ns("labelled", "ml", "", false),
		ns("dropped", "ml", "ml", false),
		ns("dying", "ml", "", true),
		ns("unrelated", "", "", false),
		ns("kube-system", "", "", false),
		ns(v1alpha1.SystemNamespace, "ml", "", false),
	})
	want := []string{"labelled", "listed", "listed-free"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestRenderLimitRangeDefaultsRequests(t *testing.T) {
	p := &v1alpha1.Project{ObjectMeta: metav1.ObjectMeta{Name: "ml"}, Spec: v1alpha1.ProjectSpec{LimitRange: &v1alpha1.ProjectLimitRange{
		DefaultLimits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")},
		DefaultRequests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
	}}}
	lr := rbacsync.RenderLimitRange(p, "ml-a")
	req := lr.Spec.Limits[0].DefaultRequest
	if cpu := req[corev1.ResourceCPU]; cpu.String() != "250m" {
		t.Errorf("cpu request %s", cpu.String())
	}
	if mem := req[corev1.ResourceMemory]; mem.String() != "1Gi" {
		t.Errorf("memory request %s, want the limit, as the API server defaults it", mem.String())
	}
	if rbacsync.RenderResourceQuota(p, "ml-a") != nil {
		t.Error("quota rendered for a project without one")
	}
}

func TestRenderSkipsWhatGrantsNothing(t *testing.T) {
	var templates []v1alpha1.RoleTemplate
	for _, rt := range rbacsync.BuiltinRoleTemplates() {
		templates = append(templates, *rt)
	}
	disabled := *newUser("dora")
	disabled.Spec.State = v1alpha1.UserStateDisabled
	in := rbacsync.Inputs{
		Templates: templates,
		Users:     []v1alpha1.User{*newUser("alice"), disabled},
		Projects:  []v1alpha1.Project{*newProject("ml", "dev"), *newProject("web", "prod")},
		ClusterBindings: []v1alpha1.ClusterRoleTemplateBinding{
			*newCRTB("alice-dev", "dev", v1alpha1.RoleTemplateClusterViewer, userSubject("alice")),
			*newCRTB("alice-prod", "prod", v1alpha1.RoleTemplateClusterViewer, userSubject("alice")),
			*newCRTB("bad-context", "dev", v1alpha1.RoleTemplateProjectViewer, userSubject("alice")),
		},
		ProjectBindings: []v1alpha1.ProjectRoleTemplateBinding{
			*newPRTB("alice-ml", "ml", v1alpha1.RoleTemplateProjectMember, userSubject("alice")),
			*newPRTB("dora-ml", "ml", v1alpha1.RoleTemplateProjectOwner, userSubject("dora")),
			*newPRTB("ghost-ml", "ml", v1alpha1.RoleTemplateProjectViewer, userSubject("ghost")),
			*newPRTB("team-ml", "ml", v1alpha1.RoleTemplateProjectViewer, groupSubject("team")),
			*newPRTB("team-web", "web", v1alpha1.RoleTemplateProjectViewer, groupSubject("team")),
		},
		Namespaces: map[string][]string{"ml": {"ml-a", "ml-b"}, "web": {"web-a"}},
	}
	objs, err := rbacsync.Render("dev", in)
	if !errors.Is(err, rbacsync.ErrContextMismatch) {
		t.Errorf("error %v, want the context mismatch of bad-context", err)
	}
	var names []string
	for _, o := range objs.ClusterRoles {
		names = append(names, o.Name)
	}
	for _, o := range objs.ClusterRoleBindings {
		names = append(names, o.Name)
	}
	for _, o := range objs.RoleBindings {
		names = append(names, o.Namespace+"/"+o.Name)
	}
	want := []string{
		// Templates of inactive users' bindings stay in use.
		"bokujo:rt:cluster-viewer", "bokujo:rt:project-member", "bokujo:rt:project-owner", "bokujo:rt:project-viewer",
		"bokujo:crtb:alice-dev",
		"ml-a/bokujo:prtb:alice-ml", "ml-b/bokujo:prtb:alice-ml",
		"ml-a/bokujo:prtb:team-ml", "ml-b/bokujo:prtb:team-ml",
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
}

func TestEscalationErrorMessage(t *testing.T) {
	err := &rbacsync.EscalationError{
		User: "alice", Template: "project-owner", Scope: rbacsync.Scope{Project: "ml"},
		Reason: "the template grants rights the user does not hold there",
		Missing: []rbacv1.PolicyRule{
			{Verbs: []string{"create"}, APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"rolebindings"}},
			{Verbs: []string{"delete"}, APIGroups: []string{""}, Resources: []string{"serviceaccounts"}},
			{Verbs: []string{"patch"}, APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"rolebindings"}},
			{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"db"}},
			{Verbs: []string{"get"}, NonResourceURLs: []string{"/metrics"}},
		},
	}
	want := `user "alice" may not grant role template "project-owner" in project ml: the template grants rights ` +
		`the user does not hold there: missing create,patch rolebindings.rbac.authorization.k8s.io; delete serviceaccounts; ` +
		`get secrets named db and 1 more`
	if err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}
	if !errors.Is(err, rbacsync.ErrEscalation) {
		t.Error("not ErrEscalation")
	}
}
