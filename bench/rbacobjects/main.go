// Command rbacobjects counts the downstream RBAC objects bokujo writes for a
// platform-team setup (users in groups, groups bound to projects), with the
// same rendering functions the RBAC sync controllers use, and prints the
// count next to what one RoleBinding per user, template and namespace would
// need. No cluster is needed.
package main

import (
	"flag"
	"fmt"
	"os"
	"text/tabwriter"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/rbacsync"
)

// shape is the setup to count.
type shape struct {
	users, groups, projects, namespacesPerProject int
}

func main() {
	var s shape
	flag.IntVar(&s.users, "users", 1000, "users, spread evenly over the groups")
	flag.IntVar(&s.groups, "groups", 100, "groups; each is bound to one project, two groups per project")
	flag.IntVar(&s.projects, "projects", 50, "projects in one cluster")
	flag.IntVar(&s.namespacesPerProject, "namespaces", 5, "namespaces per project")
	flag.Parse()
	if err := run(s); err != nil {
		fmt.Fprintln(os.Stderr, "bench/rbacobjects:", err)
		os.Exit(1)
	}
}

// result is what run prints.
type result struct {
	objects rbacsync.Objects
	// perUser is one RoleBinding per user, template granted to them and
	// namespace they reach: what a sync keyed by user writes.
	perUser int
	// product is users × templates × namespaces, every combination.
	product int
}

func run(s shape) error {
	if s.users <= 0 || s.groups <= 0 || s.projects <= 0 || s.namespacesPerProject <= 0 {
		return fmt.Errorf("all counts must be positive")
	}
	r, err := count(s)
	if err != nil {
		return err
	}
	o := r.objects
	bokujo := o.Count()
	fmt.Printf("%d users in %d groups, %d projects x %d namespaces, %d group bindings (member and viewer per project)\n\n",
		s.users, s.groups, s.projects, s.namespacesPerProject, len(bindings(s)))
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "layout\tobjects\tx bokujo\t")
	fmt.Fprintf(tw, "bokujo: 1 ClusterRole per template, 1 RoleBinding per binding and namespace\t%d\t%.2fx\t\n", bokujo, 1.0)
	fmt.Fprintf(tw, "  of which ClusterRoles / ClusterRoleBindings / RoleBindings\t%d / %d / %d\t\t\n",
		len(o.ClusterRoles), len(o.ClusterRoleBindings), len(o.RoleBindings))
	fmt.Fprintf(tw, "per user: 1 RoleBinding per user, template held and namespace\t%d\t%.2fx\t\n", r.perUser, float64(r.perUser)/float64(bokujo))
	fmt.Fprintf(tw, "naive: users x templates x namespaces\t%d\t%.2fx\t\n", r.product, float64(r.product)/float64(bokujo))
	return tw.Flush()
}

// count renders the setup and works out the other layouts.
func count(s shape) (result, error) {
	var templates []v1alpha1.RoleTemplate
	for _, t := range rbacsync.BuiltinRoleTemplates() {
		templates = append(templates, *t)
	}
	in := rbacsync.Inputs{
		Templates:       templates,
		ProjectBindings: bindings(s),
		Namespaces:      map[string][]string{},
	}
	for p := range s.projects {
		name := fmt.Sprintf("p%03d", p)
		in.Projects = append(in.Projects, v1alpha1.Project{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       v1alpha1.ProjectSpec{ClusterName: "dev"},
		})
		for n := range s.namespacesPerProject {
			in.Namespaces[name] = append(in.Namespaces[name], fmt.Sprintf("%s-ns%d", name, n))
		}
	}
	objs, err := rbacsync.Render("dev", in)
	if err != nil {
		return result{}, fmt.Errorf("render: %w", err)
	}

	// Every user is in exactly one group, every group bound once with one
	// template, so each user holds one template in one project's
	// namespaces.
	bound := min(s.groups, 2*s.projects)
	usersBound := s.users * bound / s.groups
	return result{
		objects: objs,
		perUser: usersBound * s.namespacesPerProject,
		product: s.users * len(templates) * s.projects * s.namespacesPerProject,
	}, nil
}

// bindings binds group 2p as project-member and group 2p+1 as
// project-viewer of project p, while groups last.
func bindings(s shape) []v1alpha1.ProjectRoleTemplateBinding {
	var out []v1alpha1.ProjectRoleTemplateBinding
	for g := 0; g < s.groups && g/2 < s.projects; g++ {
		template := v1alpha1.RoleTemplateProjectMember
		if g%2 == 1 {
			template = v1alpha1.RoleTemplateProjectViewer
		}
		project := fmt.Sprintf("p%03d", g/2)
		out = append(out, v1alpha1.ProjectRoleTemplateBinding{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-g%03d", project, g)},
			Spec: v1alpha1.ProjectRoleTemplateBindingSpec{
				ProjectName:      project,
				RoleTemplateName: template,
				Subject:          v1alpha1.Subject{Kind: v1alpha1.SubjectKindGroup, Name: fmt.Sprintf("g%03d", g)},
			},
		})
	}
	return out
}
