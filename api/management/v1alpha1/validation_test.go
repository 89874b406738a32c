package v1alpha1_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/api/management/v1alpha1/crds"
	"bokujo.io/bokujo/internal/crdinstall"
)

// apiCase is one object sent to the API server. Without update, the object
// is created and wantErr is about the create; with update, the object must
// be created, then update changes it and wantErr is about the update.
type apiCase struct {
	name    string
	obj     client.Object
	update  func(client.Object)
	wantErr []string // substrings of the error; none means accepted
	check   func(t *testing.T, stored client.Object)
}

// with applies changes to a fresh object.
func with[T client.Object](obj T, changes ...func(T)) T {
	for _, f := range changes {
		f(obj)
	}
	return obj
}

// change adapts a typed update to apiCase.update.
func change[T client.Object](f func(T)) func(client.Object) {
	return func(o client.Object) { f(o.(T)) }
}

func meta(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name} }

func hash(c string) string { return strings.Repeat(c, 64) }

var (
	inAnHour   = metav1.NewTime(time.Now().Add(time.Hour).Truncate(time.Second))
	inTwoHours = metav1.NewTime(time.Now().Add(2 * time.Hour).Truncate(time.Second))
)

func cluster(name string, changes ...func(*v1alpha1.Cluster)) *v1alpha1.Cluster {
	return with(&v1alpha1.Cluster{
		ObjectMeta: meta(name),
		Spec: v1alpha1.ClusterSpec{
			DisplayName: "Production",
			Source: v1alpha1.ClusterSource{Kubeconfig: &v1alpha1.KubeconfigSource{
				ProxyCredentials:      v1alpha1.SecretReference{Name: name + "-proxy"},
				ManagementCredentials: v1alpha1.SecretReference{Name: name + "-management"},
			}},
		},
	}, changes...)
}

func user(name string, changes ...func(*v1alpha1.User)) *v1alpha1.User {
	return with(&v1alpha1.User{
		ObjectMeta: meta(name),
		Spec: v1alpha1.UserSpec{
			DisplayName:       "Alice Example",
			Username:          name,
			PasswordSecretRef: &v1alpha1.SecretReference{Name: "password-" + name},
			Identities:        []v1alpha1.UserIdentity{{Provider: "github", Subject: "1234567"}},
		},
	}, changes...)
}

func token(name string, changes ...func(*v1alpha1.Token)) *v1alpha1.Token {
	return with(&v1alpha1.Token{
		ObjectMeta: meta(name),
		Spec: v1alpha1.TokenSpec{
			UserName:    "alice",
			Type:        v1alpha1.TokenTypeAPI,
			Description: "CI pipeline",
			ExpiresAt:   &inAnHour,
			Hash:        hash("a"),
		},
	}, changes...)
}

func group(name string, changes ...func(*v1alpha1.Group)) *v1alpha1.Group {
	return with(&v1alpha1.Group{
		ObjectMeta: meta(name),
		Spec:       v1alpha1.GroupSpec{DisplayName: "ML team", Members: []string{"alice", "bob"}},
	}, changes...)
}

var readPods = rbacv1.PolicyRule{Verbs: []string{"get", "list", "watch"}, APIGroups: []string{""}, Resources: []string{"pods"}}

func globalRole(name string, changes ...func(*v1alpha1.GlobalRole)) *v1alpha1.GlobalRole {
	return with(&v1alpha1.GlobalRole{
		ObjectMeta: meta(name),
		Spec: v1alpha1.GlobalRoleSpec{
			DisplayName: "Cluster importer",
			Rules:       []rbacv1.PolicyRule{{Verbs: []string{"create"}, APIGroups: []string{v1alpha1.GroupName}, Resources: []string{"clusters"}}},
		},
	}, changes...)
}

func globalRoleBinding(name string, changes ...func(*v1alpha1.GlobalRoleBinding)) *v1alpha1.GlobalRoleBinding {
	return with(&v1alpha1.GlobalRoleBinding{
		ObjectMeta: meta(name),
		Spec: v1alpha1.GlobalRoleBindingSpec{
			GlobalRoleName: v1alpha1.GlobalRoleUser,
			Subject:        v1alpha1.Subject{Kind: v1alpha1.SubjectKindUser, Name: "alice"},
		},
	}, changes...)
}

func roleTemplate(name string, changes ...func(*v1alpha1.RoleTemplate)) *v1alpha1.RoleTemplate {
	return with(&v1alpha1.RoleTemplate{
		ObjectMeta: meta(name),
		Spec: v1alpha1.RoleTemplateSpec{
			DisplayName: "Pod reader",
			Context:     v1alpha1.RoleTemplateContextProject,
			Rules:       []rbacv1.PolicyRule{readPods},
			Inherits:    []string{v1alpha1.RoleTemplateProjectViewer},
		},
	}, changes...)
}

func clusterBinding(name string, changes ...func(*v1alpha1.ClusterRoleTemplateBinding)) *v1alpha1.ClusterRoleTemplateBinding {
	return with(&v1alpha1.ClusterRoleTemplateBinding{
		ObjectMeta: meta(name),
		Spec: v1alpha1.ClusterRoleTemplateBindingSpec{
			ClusterName:      "prod",
			RoleTemplateName: v1alpha1.RoleTemplateClusterViewer,
			Subject:          v1alpha1.Subject{Kind: v1alpha1.SubjectKindUser, Name: "alice"},
		},
	}, changes...)
}

func project(name string, changes ...func(*v1alpha1.Project)) *v1alpha1.Project {
	return with(&v1alpha1.Project{
		ObjectMeta: meta(name),
		Spec: v1alpha1.ProjectSpec{
			ClusterName: "dev",
			DisplayName: "Machine learning",
			Namespaces:  []string{"ml-train", "ml-serve"},
			ResourceQuota: &v1alpha1.ProjectResourceQuota{Hard: corev1.ResourceList{
				"requests.cpu":            resource.MustParse("16"),
				"limits.memory":           resource.MustParse("64Gi"),
				"requests.nvidia.com/gpu": resource.MustParse("4"),
			}},
			LimitRange: &v1alpha1.ProjectLimitRange{
				DefaultLimits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")},
				DefaultRequests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
			},
		},
	}, changes...)
}

func projectBinding(name string, changes ...func(*v1alpha1.ProjectRoleTemplateBinding)) *v1alpha1.ProjectRoleTemplateBinding {
	return with(&v1alpha1.ProjectRoleTemplateBinding{
		ObjectMeta: meta(name),
		Spec: v1alpha1.ProjectRoleTemplateBindingSpec{
			ProjectName:      "ml",
			RoleTemplateName: v1alpha1.RoleTemplateProjectMember,
			Subject:          v1alpha1.Subject{Kind: v1alpha1.SubjectKindGroup, Name: "github:acme/ml-team"},
		},
	}, changes...)
}

func TestValidation(t *testing.T) {
	c := managementClient(t)
	long := func(n int) string { return strings.Repeat("x", n) }
	cases := []apiCase{
		// Cluster
		{name: "cluster from kubeconfig", obj: cluster("prod")},
		{name: "cluster with agent", obj: cluster("edge", func(c *v1alpha1.Cluster) {
			c.Spec.Source = v1alpha1.ClusterSource{Agent: &v1alpha1.AgentSource{}}
		})},
		{name: "cluster from local driver", obj: cluster("demo", func(c *v1alpha1.Cluster) {
			c.Spec.Source = v1alpha1.ClusterSource{Driver: &v1alpha1.DriverSource{
				Name: v1alpha1.DriverLocal, NodePools: []v1alpha1.NodePool{{Name: "gpu", Count: 2, GPUs: 8}},
			}}
		})},
		{name: "cluster with two sources", obj: cluster("two-sources", func(c *v1alpha1.Cluster) {
			c.Spec.Source.Agent = &v1alpha1.AgentSource{}
		}), wantErr: []string{`spec.source: Invalid value`, "exactly one of kubeconfig, agent or driver must be set"}},
		{name: "cluster without source", obj: cluster("no-source", func(c *v1alpha1.Cluster) {
			c.Spec.Source = v1alpha1.ClusterSource{}
		}), wantErr: []string{"exactly one of kubeconfig, agent or driver must be set"}},
		{name: "cluster source kind changed", obj: cluster("switch"), update: change(func(c *v1alpha1.Cluster) {
			c.Spec.Source = v1alpha1.ClusterSource{Agent: &v1alpha1.AgentSource{}}
		}), wantErr: []string{"the kind of source cannot be changed"}},
		{name: "cluster credentials rotated", obj: cluster("rotate"), update: change(func(c *v1alpha1.Cluster) {
			c.Spec.Source.Kubeconfig.ProxyCredentials.Name = "rotate-proxy-2"
		})},
		{name: "cluster name with a dot", obj: cluster("prod.eu"),
			wantErr: []string{"a cluster name must be a DNS label"}},
		{name: "cluster name too long", obj: cluster(strings.Repeat("c", 64)),
			wantErr: []string{"a cluster name must be a DNS label"}},
		{name: "cluster name not a DNS name", obj: cluster("Prod_1"),
			wantErr: []string{`metadata.name: Invalid value: "Prod_1"`}},
		{name: "cluster display name too long", obj: cluster("long-name", func(c *v1alpha1.Cluster) {
			c.Spec.DisplayName = long(257)
		}), wantErr: []string{"spec.displayName: Too long: may not be more than 256"}},
		{name: "cluster unknown driver", obj: cluster("kind", func(c *v1alpha1.Cluster) {
			c.Spec.Source = v1alpha1.ClusterSource{Driver: &v1alpha1.DriverSource{Name: "kind"}}
		}), wantErr: []string{`spec.source.driver.name: Unsupported value: "kind"`}},
		{name: "cluster secret name with a slash", obj: cluster("slash", func(c *v1alpha1.Cluster) {
			c.Spec.Source.Kubeconfig.ManagementCredentials.Name = "other-ns/secret"
		}), wantErr: []string{"spec.source.kubeconfig.managementCredentials.name in body should match"}},

		// User
		{name: "user", obj: user("alice"), check: func(t *testing.T, o client.Object) {
			if got := o.(*v1alpha1.User).Spec.State; got != v1alpha1.UserStateActive {
				t.Errorf("state defaulted to %q, want Active", got)
			}
		}},
		{name: "user from a provider only", obj: user("carol", func(u *v1alpha1.User) {
			u.Spec.Username, u.Spec.PasswordSecretRef = "", nil
		})},
		{name: "user disabled", obj: user("dave"), update: change(func(u *v1alpha1.User) {
			u.Spec.State = v1alpha1.UserStateDisabled
		})},
		{name: "user gets a username later", obj: user("erin", func(u *v1alpha1.User) {
			u.Spec.Username, u.Spec.PasswordSecretRef = "", nil
		}), update: change(func(u *v1alpha1.User) { u.Spec.Username = "erin" })},
		{name: "user renamed", obj: user("frank"), update: change(func(u *v1alpha1.User) {
			u.Spec.Username = "francis"
		}), wantErr: []string{"username cannot be changed or removed once set"}},
		{name: "user username removed", obj: user("grace"), update: change(func(u *v1alpha1.User) {
			u.Spec.Username, u.Spec.PasswordSecretRef = "", nil
		}), wantErr: []string{"username cannot be changed or removed once set"}},
		{name: "user password without username", obj: user("heidi", func(u *v1alpha1.User) {
			u.Spec.Username = ""
		}), wantErr: []string{"a user with a password needs a username to log in with"}},
		{name: "user unknown state", obj: user("ivan", func(u *v1alpha1.User) {
			u.Spec.State = "Locked"
		}), wantErr: []string{`spec.state: Unsupported value: "Locked"`}},
		{name: "user username with uppercase", obj: user("judy", func(u *v1alpha1.User) {
			u.Spec.Username = "Judy"
		}), wantErr: []string{"spec.username in body should match"}},
		{name: "user two identities of one provider", obj: user("mallory", func(u *v1alpha1.User) {
			u.Spec.Identities = append(u.Spec.Identities, v1alpha1.UserIdentity{Provider: "github", Subject: "999"})
		}), wantErr: []string{"spec.identities[1]: Duplicate value"}},

		// Group
		{name: "group", obj: group("ml-team")},
		{name: "group member not a user name", obj: group("bad-members", func(g *v1alpha1.Group) {
			g.Spec.Members = []string{"Alice Smith"}
		}), wantErr: []string{"spec.members[0] in body should match"}},
		{name: "group member listed twice", obj: group("twice", func(g *v1alpha1.Group) {
			g.Spec.Members = []string{"alice", "alice"}
		}), wantErr: []string{"spec.members[1]: Duplicate value"}},

		// Token
		{name: "token", obj: token("t-api")},
		{name: "token kubeconfig without expiry", obj: token("t-kubeconfig", func(tk *v1alpha1.Token) {
			tk.Spec.Type, tk.Spec.ExpiresAt = v1alpha1.TokenTypeKubeconfig, nil
		})},
		{name: "token session without expiry", obj: token("t-session", func(tk *v1alpha1.Token) {
			tk.Spec.Type, tk.Spec.ExpiresAt = v1alpha1.TokenTypeSession, nil
		}), wantErr: []string{"session tokens must expire"}},
		{name: "token unknown type", obj: token("t-bogus", func(tk *v1alpha1.Token) {
			tk.Spec.Type = "Bogus"
		}), wantErr: []string{`spec.type: Unsupported value: "Bogus"`}},
		{name: "token hash not hex", obj: token("t-hash", func(tk *v1alpha1.Token) {
			tk.Spec.Hash = hash("Z")
		}), wantErr: []string{"spec.hash in body should match"}},
		{name: "token hash too short", obj: token("t-short", func(tk *v1alpha1.Token) {
			tk.Spec.Hash = "abc"
		}), wantErr: []string{"spec.hash in body should be at least 64 chars long"}},
		{name: "token expiry moved earlier", obj: token("t-earlier", func(tk *v1alpha1.Token) {
			tk.Spec.ExpiresAt = &inTwoHours
		}), update: change(func(tk *v1alpha1.Token) { tk.Spec.ExpiresAt = &inAnHour })},
		{name: "token expiry added", obj: token("t-added", func(tk *v1alpha1.Token) {
			tk.Spec.ExpiresAt = nil
		}), update: change(func(tk *v1alpha1.Token) { tk.Spec.ExpiresAt = &inAnHour })},
		{name: "token expiry extended", obj: token("t-later"), update: change(func(tk *v1alpha1.Token) {
			tk.Spec.ExpiresAt = &inTwoHours
		}), wantErr: []string{"expiresAt can only be moved earlier"}},
		{name: "token expiry removed", obj: token("t-removed"), update: change(func(tk *v1alpha1.Token) {
			tk.Spec.ExpiresAt = nil
		}), wantErr: []string{"expiresAt can only be moved earlier"}},
		{name: "token given to another user", obj: token("t-owner"), update: change(func(tk *v1alpha1.Token) {
			tk.Spec.UserName = "bob"
		}), wantErr: []string{"spec.userName: Invalid value", "userName is immutable"}},
		{name: "token hash replaced", obj: token("t-rehash"), update: change(func(tk *v1alpha1.Token) {
			tk.Spec.Hash = hash("b")
		}), wantErr: []string{"hash is immutable"}},
		{name: "token description too long", obj: token("t-desc", func(tk *v1alpha1.Token) {
			tk.Spec.Description = long(257)
		}), wantErr: []string{"spec.description: Too long: may not be more than 256"}},

		// GlobalRole and GlobalRoleBinding
		{name: "global role", obj: globalRole("importer"), check: func(t *testing.T, o client.Object) {
			if got := o.(*v1alpha1.GlobalRole).Spec.Origin; got != v1alpha1.OriginCustom {
				t.Errorf("origin defaulted to %q, want Custom", got)
			}
		}},
		{name: "global role made builtin", obj: globalRole("pretender"), update: change(func(r *v1alpha1.GlobalRole) {
			r.Spec.Origin = v1alpha1.OriginBuiltin
		}), wantErr: []string{"origin is immutable"}},
		{name: "global role binding", obj: globalRoleBinding("alice-user")},
		{name: "global role binding to a group", obj: globalRoleBinding("admins", func(b *v1alpha1.GlobalRoleBinding) {
			b.Spec.Subject = v1alpha1.Subject{Kind: v1alpha1.SubjectKindGroup, Name: "cn=admins,ou=groups,dc=example,dc=com"}
		})},
		{name: "global role binding subject changed", obj: globalRoleBinding("alice-admin"), update: change(func(b *v1alpha1.GlobalRoleBinding) {
			b.Spec.Subject.Name = "bob"
		}), wantErr: []string{"subject is immutable"}},
		{name: "global role binding role changed", obj: globalRoleBinding("alice-role"), update: change(func(b *v1alpha1.GlobalRoleBinding) {
			b.Spec.GlobalRoleName = v1alpha1.GlobalRoleAdmin
		}), wantErr: []string{"globalRoleName is immutable"}},
		{name: "global role binding to system:masters", obj: globalRoleBinding("masters", func(b *v1alpha1.GlobalRoleBinding) {
			b.Spec.Subject = v1alpha1.Subject{Kind: v1alpha1.SubjectKindGroup, Name: "system:masters"}
		}), wantErr: []string{"names starting with system: are reserved by Kubernetes"}},
		{name: "global role binding user subject not a user name", obj: globalRoleBinding("bad-user", func(b *v1alpha1.GlobalRoleBinding) {
			b.Spec.Subject.Name = "Alice Smith"
		}), wantErr: []string{"a User subject names a User object"}},
		{name: "global role binding to a service account", obj: globalRoleBinding("sa", func(b *v1alpha1.GlobalRoleBinding) {
			b.Spec.Subject.Kind = "ServiceAccount"
		}), wantErr: []string{`spec.subject.kind: Unsupported value: "ServiceAccount"`}},

		// RoleTemplate
		{name: "role template", obj: roleTemplate("pod-reader"), check: func(t *testing.T, o client.Object) {
			if got := o.(*v1alpha1.RoleTemplate).Spec.State; got != v1alpha1.RoleTemplateStateActive {
				t.Errorf("state defaulted to %q, want Active", got)
			}
		}},
		{name: "role template locked", obj: roleTemplate("retired"), update: change(func(r *v1alpha1.RoleTemplate) {
			r.Spec.State = v1alpha1.RoleTemplateStateLocked
		})},
		{name: "role template cluster with nonResourceURLs", obj: roleTemplate("healthz", func(r *v1alpha1.RoleTemplate) {
			r.Spec.Context = v1alpha1.RoleTemplateContextCluster
			r.Spec.Rules = []rbacv1.PolicyRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}}
		})},
		{name: "role template project with nonResourceURLs", obj: roleTemplate("project-healthz", func(r *v1alpha1.RoleTemplate) {
			r.Spec.Rules = []rbacv1.PolicyRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}}
		}), wantErr: []string{"project role templates cannot grant nonResourceURLs"}},
		{name: "role template inherits itself", obj: roleTemplate("loop", func(r *v1alpha1.RoleTemplate) {
			r.Spec.Inherits = []string{"loop"}
		}), wantErr: []string{"a role template cannot inherit itself"}},
		{name: "role template context changed", obj: roleTemplate("shifty"), update: change(func(r *v1alpha1.RoleTemplate) {
			r.Spec.Context = v1alpha1.RoleTemplateContextCluster
		}), wantErr: []string{"context is immutable"}},
		{name: "role template unknown context", obj: roleTemplate("global", func(r *v1alpha1.RoleTemplate) {
			r.Spec.Context = "Global"
		}), wantErr: []string{`spec.context: Unsupported value: "Global"`}},
		{name: "role template too many inherits", obj: roleTemplate("greedy", func(r *v1alpha1.RoleTemplate) {
			r.Spec.Inherits = nil
			for i := range 17 {
				r.Spec.Inherits = append(r.Spec.Inherits, "t"+strings.Repeat("x", i))
			}
		}), wantErr: []string{"spec.inherits: Too many: 17: must have at most 16 items"}},

		// ClusterRoleTemplateBinding
		{name: "cluster binding", obj: clusterBinding("alice-prod-viewer")},
		{name: "cluster binding cluster changed", obj: clusterBinding("move-cluster"), update: change(func(b *v1alpha1.ClusterRoleTemplateBinding) {
			b.Spec.ClusterName = "dev"
		}), wantErr: []string{"spec.clusterName: Invalid value", "clusterName is immutable"}},
		{name: "cluster binding template changed", obj: clusterBinding("move-template"), update: change(func(b *v1alpha1.ClusterRoleTemplateBinding) {
			b.Spec.RoleTemplateName = v1alpha1.RoleTemplateClusterOwner
		}), wantErr: []string{"roleTemplateName is immutable"}},
		{name: "cluster binding subject changed", obj: clusterBinding("move-subject"), update: change(func(b *v1alpha1.ClusterRoleTemplateBinding) {
			b.Spec.Subject.Kind = v1alpha1.SubjectKindGroup
		}), wantErr: []string{"subject is immutable"}},
		{name: "cluster binding cluster name not a DNS label", obj: clusterBinding("bad-cluster", func(b *v1alpha1.ClusterRoleTemplateBinding) {
			b.Spec.ClusterName = "prod.eu"
		}), wantErr: []string{"spec.clusterName in body should match"}},

		// Project
		{name: "project", obj: project("ml")},
		{name: "project by label only", obj: project("web", func(p *v1alpha1.Project) {
			p.Spec.Namespaces, p.Spec.ResourceQuota, p.Spec.LimitRange = nil, nil, nil
		})},
		{name: "project namespaces changed", obj: project("ops"), update: change(func(p *v1alpha1.Project) {
			p.Spec.Namespaces = append(p.Spec.Namespaces, "ml-eval")
		})},
		{name: "project cluster changed", obj: project("moving"), update: change(func(p *v1alpha1.Project) {
			p.Spec.ClusterName = "prod"
		}), wantErr: []string{"spec.clusterName: Invalid value", "clusterName is immutable"}},
		{name: "project name too long for a label", obj: project(strings.Repeat("p", 64)),
			wantErr: []string{"a project name must be a DNS label"}},
		{name: "project namespace not a DNS label", obj: project("bad-ns", func(p *v1alpha1.Project) {
			p.Spec.Namespaces = []string{"ML_Train"}
		}), wantErr: []string{"spec.namespaces[0] in body should match"}},
		{name: "project empty quota", obj: project("no-quota", func(p *v1alpha1.Project) {
			p.Spec.ResourceQuota.Hard = corev1.ResourceList{}
		}), wantErr: []string{"spec.resourceQuota.hard: Invalid value: 0: spec.resourceQuota.hard in body should have at least 1 properties"}},
		{name: "project empty limit range", obj: project("no-limits", func(p *v1alpha1.Project) {
			p.Spec.LimitRange = &v1alpha1.ProjectLimitRange{}
		}), wantErr: []string{"set defaultLimits, defaultRequests or both"}},

		// ProjectRoleTemplateBinding
		{name: "project binding", obj: projectBinding("ml-team-member")},
		{name: "project binding project changed", obj: projectBinding("move-project"), update: change(func(b *v1alpha1.ProjectRoleTemplateBinding) {
			b.Spec.ProjectName = "web"
		}), wantErr: []string{"projectName is immutable"}},
		{name: "project binding to system:authenticated", obj: projectBinding("everyone", func(b *v1alpha1.ProjectRoleTemplateBinding) {
			b.Spec.Subject.Name = "system:authenticated"
		}), wantErr: []string{"names starting with system: are reserved by Kubernetes"}},
		{name: "project binding without subject name", obj: projectBinding("anonymous", func(b *v1alpha1.ProjectRoleTemplateBinding) {
			b.Spec.Subject.Name = ""
		}), wantErr: []string{"spec.subject.name in body should be at least 1 chars long"}},
	}
	seen := map[string]string{}
	for _, tc := range cases {
		// Objects are cluster-scoped and shared by the package, so each case
		// needs its own name.
		key := fmt.Sprintf("%T/%s", tc.obj, tc.obj.GetName())
		if other, ok := seen[key]; ok {
			t.Fatalf("cases %q and %q both use %s", other, tc.name, key)
		}
		seen[key] = tc.name
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			obj := tc.obj.DeepCopyObject().(client.Object)
			err := c.Create(ctx, obj)
			if err == nil {
				t.Cleanup(func() { _ = c.Delete(context.Background(), obj) })
			}
			if tc.update != nil {
				if err != nil {
					t.Fatalf("create before the update: %v", err)
				}
				tc.update(obj)
				err = c.Update(ctx, obj)
			}
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("want accepted, got: %v", err)
				}
				if tc.check != nil {
					stored := tc.obj.DeepCopyObject().(client.Object)
					if err := c.Get(ctx, client.ObjectKeyFromObject(obj), stored); err != nil {
						t.Fatal(err)
					}
					tc.check(t, stored)
				}
				return
			}
			if err == nil {
				t.Fatalf("want rejected with %q, was accepted", tc.wantErr)
			}
			t.Logf("rejected: %v", err)
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
		})
	}
}

// TestInstallTwice checks that installing the same CRDs again changes
// nothing, and that a changed CRD is brought back to the embedded one.
func TestInstallTwice(t *testing.T) {
	managementClient(t)
	ctx := context.Background()
	cfg := env.RESTConfig(t, mgmt)
	client := apiextensionsclient.NewForConfigOrDie(cfg)
	list, err := crds.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	versions := func() map[string]string {
		t.Helper()
		out := map[string]string{}
		for _, crd := range list {
			got, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			out[crd.Name] = got.ResourceVersion
		}
		return out
	}
	before := versions()
	if err := crdinstall.Install(ctx, cfg, list); err != nil {
		t.Fatalf("second install: %v", err)
	}
	if after := versions(); !maps.Equal(before, after) {
		t.Errorf("second install wrote CRDs: resourceVersions before %v, after %v", before, after)
	}

	// Someone edits a CRD by hand; the next install restores it.
	name := list[0].Name
	edited, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	edited.Spec.Names.ShortNames = append(edited.Spec.Names.ShortNames, "edited")
	if _, err := client.ApiextensionsV1().CustomResourceDefinitions().Update(ctx, edited, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := crdinstall.Install(ctx, cfg, list); err != nil {
		t.Fatalf("install over an edited CRD: %v", err)
	}
	restored, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want, got := list[0].Spec.Names.ShortNames, restored.Spec.Names.ShortNames; !slices.Equal(want, got) {
		t.Errorf("short names of %s = %v, want them restored to %v", name, got, want)
	}
}
