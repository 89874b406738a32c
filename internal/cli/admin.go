package cli

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// apiGroup mirrors the /v1/groups object.
type apiGroup struct {
	Name        string   `json:"name"`
	DisplayName string   `json:"displayName,omitempty"`
	Description string   `json:"description,omitempty"`
	Members     []string `json:"members"`
}

func newGroupCommand(s Streams) *cobra.Command {
	cmd := &cobra.Command{Use: "group", Aliases: []string{"groups"}, Short: "List and manage bokujo groups (writes need an administrator)"}
	list := &cobra.Command{
		Use: "list", Short: "List groups (administrators see all, others their own)", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			c, err := loggedIn()
			if err != nil {
				return err
			}
			var out struct{ Items []apiGroup }
			if err := c.do("GET", "/v1/groups?limit=1000", nil, &out); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tDISPLAY NAME\tMEMBERS")
			for _, g := range out.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", g.Name, g.DisplayName, strings.Join(g.Members, ","))
			}
			return tw.Flush()
		},
	}
	var g apiGroup
	create := &cobra.Command{
		Use: "create NAME", Short: "Create a group", Args: exactArgs(1, "NAME"),
		RunE: func(_ *cobra.Command, args []string) error {
			c, err := loggedIn()
			if err != nil {
				return err
			}
			g.Name = args[0]
			if err := c.do("POST", "/v1/groups", g, nil); err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "group %q created\n", g.Name)
			return nil
		},
	}
	create.Flags().StringVar(&g.DisplayName, "display-name", "", "human-friendly name")
	create.Flags().StringVar(&g.Description, "description", "", "what the group is for")
	create.Flags().StringSliceVar(&g.Members, "member", nil, "user name of a member (repeat or comma-separate)")
	var force bool
	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete a group (refused while bound, unless --force, which deletes its bindings too)", Args: exactArgs(1, "NAME"),
		RunE: func(_ *cobra.Command, args []string) error {
			c, err := loggedIn()
			if err != nil {
				return err
			}
			path := "/v1/groups/" + url.PathEscape(args[0])
			if force {
				path += "?force=true"
			}
			if err := c.do("DELETE", path, nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "group %q deleted\n", args[0])
			return nil
		},
	}
	del.Flags().BoolVar(&force, "force", false, "also delete the bindings that name the group")
	cmd.AddCommand(list, create, del, groupMembersCommand(s, true), groupMembersCommand(s, false))
	return cmd
}

// groupMembersCommand adds or removes members: it reads the group and
// writes it back whole, as PUT /v1/groups/{name} takes it.
func groupMembersCommand(s Streams, add bool) *cobra.Command {
	use, short := "add-member GROUP USER...", "Add users to a group"
	if !add {
		use, short = "remove-member GROUP USER...", "Remove users from a group"
	}
	return &cobra.Command{
		Use: use, Short: short, Args: cobra.MinimumNArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			c, err := loggedIn()
			if err != nil {
				return err
			}
			path := "/v1/groups/" + url.PathEscape(args[0])
			var g apiGroup
			if err := c.do("GET", path, nil, &g); err != nil {
				return err
			}
			for _, u := range args[1:] {
				has := slices.Contains(g.Members, u)
				switch {
				case add && !has:
					g.Members = append(g.Members, u)
				case !add && !has:
					return fmt.Errorf("%q is not a member of group %q", u, g.Name)
				case !add:
					g.Members = slices.DeleteFunc(g.Members, func(m string) bool { return m == u })
				}
			}
			if err := c.do("PUT", path, g, nil); err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "group %q: %d members\n", g.Name, len(g.Members))
			return nil
		},
	}
}

func newProjectCommand(s Streams) *cobra.Command {
	cmd := &cobra.Command{Use: "project", Aliases: []string{"projects"}, Short: "List, create and delete projects"}
	var cluster string
	list := &cobra.Command{
		Use: "list", Short: "List the projects you may see", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			c, err := loggedIn()
			if err != nil {
				return err
			}
			var out struct {
				Items []struct {
					Name, Cluster, DisplayName string
					Namespaces                 []string
				}
			}
			q := url.Values{"limit": {"1000"}}
			if cluster != "" {
				q.Set("cluster", cluster)
			}
			if err := c.do("GET", "/v1/projects?"+q.Encode(), nil, &out); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tCLUSTER\tDISPLAY NAME\tNAMESPACES")
			for _, p := range out.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, p.Cluster, p.DisplayName, strings.Join(p.Namespaces, ","))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&cluster, "cluster", "", "only projects of this cluster")
	var req struct {
		Name        string `json:"name"`
		ClusterName string `json:"clusterName"`
		DisplayName string `json:"displayName,omitempty"`
		Description string `json:"description,omitempty"`
	}
	create := &cobra.Command{
		Use: "create NAME --cluster CLUSTER", Short: "Create a project (administrators and cluster owners)", Args: exactArgs(1, "NAME"),
		RunE: func(_ *cobra.Command, args []string) error {
			if req.ClusterName == "" {
				return fmt.Errorf("--cluster is required: the cluster the project's namespaces live in")
			}
			c, err := loggedIn()
			if err != nil {
				return err
			}
			req.Name = args[0]
			if err := c.do("POST", "/v1/projects", req, nil); err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "project %q created in cluster %q\n", req.Name, req.ClusterName)
			return nil
		},
	}
	create.Flags().StringVar(&req.ClusterName, "cluster", "", "cluster of the project (required)")
	create.Flags().StringVar(&req.DisplayName, "display-name", "", "human-friendly name")
	create.Flags().StringVar(&req.Description, "description", "", "what the project is for")
	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete a project (its namespaces are kept and leave the project)", Args: exactArgs(1, "NAME"),
		RunE: func(_ *cobra.Command, args []string) error {
			c, err := loggedIn()
			if err != nil {
				return err
			}
			if err := c.do("DELETE", "/v1/projects/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "project %q deleted; its namespaces were kept\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(list, create, del)
	return cmd
}

func newRoleTemplateCommand(s Streams) *cobra.Command {
	cmd := &cobra.Command{Use: "roletemplate", Aliases: []string{"roletemplates"}, Short: "List role templates"}
	cmd.AddCommand(&cobra.Command{
		Use: "list", Short: "List role templates", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			c, err := loggedIn()
			if err != nil {
				return err
			}
			var out struct {
				Items []struct {
					Name, DisplayName, Context string
					Builtin                    bool
					Rules                      []any
				}
			}
			if err := c.do("GET", "/v1/roletemplates?limit=1000", nil, &out); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tCONTEXT\tBUILTIN\tRULES\tDISPLAY NAME")
			for _, t := range out.Items {
				fmt.Fprintf(tw, "%s\t%s\t%t\t%d\t%s\n", t.Name, t.Context, t.Builtin, len(t.Rules), t.DisplayName)
			}
			return tw.Flush()
		},
	})
	return cmd
}
