package cli

import (
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"bokujo.io/bokujo/internal/clusters"
)

// newClusterImportCommand provisions bokujo's identities in a cluster with
// the user's own kubeconfig, on the user's machine, so exec plugins (EKS,
// GKE, OIDC) run where they belong; the server receives only the two
// service-account kubeconfigs it created.
func newClusterImportCommand(s Streams) *cobra.Command {
	var kubeconfig, context, displayName string
	cmd := &cobra.Command{
		Use:     "import NAME --kubeconfig FILE [--context CTX]",
		Short:   "Import a cluster: create bokujo's service accounts in it and register them",
		Example: `  bokujo clusters import prod --kubeconfig ~/.kube/config --context prod-admin`,
		Args:    exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := clusters.ValidateName(name); err != nil {
				return err
			}
			c, err := loggedIn()
			if err != nil {
				return err
			}
			rules := clientcmd.NewDefaultClientConfigLoadingRules()
			if kubeconfig != "" {
				rules.ExplicitPath = kubeconfig
			}
			admin, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
			if err != nil {
				return fmt.Errorf("load kubeconfig: %w", err)
			}
			fmt.Fprintf(s.Err, "creating bokujo's service accounts in %s ...\n", admin.Host)
			creds, err := clusters.Provision(cmd.Context(), admin)
			if err != nil {
				return err
			}
			req := map[string]string{"name": name, "displayName": displayName,
				"proxyKubeconfig": string(creds.Proxy), "managerKubeconfig": string(creds.Manager)}
			if err := c.do("POST", "/v1/clusters/register", req, nil); err != nil {
				return fmt.Errorf("register %s: %w", name, err)
			}
			fmt.Fprintf(s.Out, "cluster %q imported; its status appears in `bokujo clusters list` within seconds\n", name)
			return nil
		},
	}
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "admin kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config)")
	cmd.Flags().StringVar(&context, "context", "", "context to use (default: the current one)")
	cmd.Flags().StringVar(&displayName, "display-name", "", "human-friendly name")
	return cmd
}

func newClusterRemoveCommand(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a cluster from bokujo (the cluster itself is untouched)",
		Args:  exactArgs(1, "NAME"),
		RunE: func(_ *cobra.Command, args []string) error {
			c, err := loggedIn()
			if err != nil {
				return err
			}
			if err := c.do("DELETE", "/v1/clusters/"+args[0], nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "cluster %q removed from bokujo\n", args[0])
			return nil
		},
	}
}

// newClusterToolsCommand lists a cluster's bundled tools and switches
// them on and off.
func newClusterToolsCommand(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tools CLUSTER",
		Short: "Show a cluster's bundled tools (monitoring, logging); enable or disable them",
		Example: `  bokujo clusters tools dev
  bokujo clusters tools enable dev monitoring
  bokujo clusters tools disable dev logging`,
		Args: exactArgs(1, "CLUSTER"),
		RunE: func(_ *cobra.Command, args []string) error {
			c, err := loggedIn()
			if err != nil {
				return err
			}
			var out struct {
				Items []struct {
					Tool, Message, Version              string
					Enabled, Removing, Installed, Ready bool
				} `json:"items"`
			}
			if err := c.do("GET", "/v1/clusters/"+url.PathEscape(args[0])+"/tools", nil, &out); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TOOL\tSTATE\tVERSION\tMESSAGE")
			for _, it := range out.Items {
				state := "disabled"
				switch {
				case it.Removing:
					state = "removing"
				case it.Enabled && it.Ready:
					state = "ready"
				case it.Enabled && it.Installed:
					state = "starting"
				case it.Enabled:
					state = "installing"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", it.Tool, state, orDash(it.Version), it.Message)
			}
			return tw.Flush()
		},
	}
	toggle := func(verb, method, done string) *cobra.Command {
		return &cobra.Command{
			Use:   verb + " CLUSTER TOOL",
			Short: strings.ToUpper(verb[:1]) + verb[1:] + " a tool (monitoring or logging) on a cluster",
			Args:  exactArgs(2, "CLUSTER and TOOL"),
			RunE: func(_ *cobra.Command, args []string) error {
				c, err := loggedIn()
				if err != nil {
					return err
				}
				if err := c.do(method, "/v1/clusters/"+url.PathEscape(args[0])+"/tools/"+url.PathEscape(args[1]), nil, nil); err != nil {
					return err
				}
				fmt.Fprintf(s.Out, "%s %s on %s; follow it with `bokujo clusters tools %s`\n", args[1], done, args[0], args[0])
				return nil
			},
		}
	}
	cmd.AddCommand(toggle("enable", "PUT", "is being installed"), toggle("disable", "DELETE", "is being removed"))
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
