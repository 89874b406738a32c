package cli

import (
	"encoding/base64"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"bokujo.io/bokujo/internal/agent"
	"bokujo.io/bokujo/internal/api"
	"bokujo.io/bokujo/internal/clusters"
)

func newAgentCommand(s Streams) *cobra.Command {
	var server, caFile, caData, token, kubeconfig, kubeContext, stateDir string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "agent --server URL --token TOKEN [--ca-file F] [--kubeconfig F]",
		Short: "Connect this cluster to a bokujo server through an outbound tunnel",
		Long: `Run the bokujo agent. It registers its cluster once with the one-time token
of "bokujo clusters add-agent", keeps the credential it receives (in the
Secret bokujo-agent-state of its namespace when in a cluster, else in
--state-dir), and keeps a WebSocket tunnel to the server open through which
the server reaches this cluster's API server and nothing else. It uses the
in-cluster configuration unless --kubeconfig is given. The token may also
come from $BOKUJO_AGENT_TOKEN.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if server == "" {
				return fmt.Errorf("--server is required: the bokujo server's https URL")
			}
			if token == "" {
				token = os.Getenv("BOKUJO_AGENT_TOKEN")
			}
			var ca []byte
			switch {
			case caFile != "" && caData != "":
				return fmt.Errorf("give --ca-file or --ca-data, not both")
			case caFile != "":
				data, err := os.ReadFile(caFile)
				if err != nil {
					return fmt.Errorf("read --ca-file: %w", err)
				}
				ca = data
			case caData != "":
				ca = []byte(caData)
				if !strings.Contains(caData, "BEGIN CERTIFICATE") {
					data, err := base64.StdEncoding.DecodeString(caData)
					if err != nil {
						return fmt.Errorf("--ca-data is neither PEM nor base64 PEM")
					}
					ca = data
				}
			}
			local, store, err := agentLocal(kubeconfig, kubeContext, stateDir)
			if err != nil {
				return err
			}
			log := newLogger(s.Err, verbose).With("component", "agent")
			return agent.Run(cmd.Context(), agent.Options{Server: server, CAData: ca, Token: token, Local: local, State: store, Logger: log})
		},
	}
	f := cmd.Flags()
	f.StringVar(&server, "server", "", "the bokujo server's URL, https://host[:port]")
	f.StringVar(&token, "token", "", "one-time registration token (default $BOKUJO_AGENT_TOKEN); not needed once registered")
	f.StringVar(&caFile, "ca-file", "", "CA of the server's certificate (PEM), when it is not publicly trusted")
	f.StringVar(&caData, "ca-data", "", "the same as PEM or base64 PEM")
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster to connect (default: in-cluster)")
	f.StringVar(&kubeContext, "context", "", "context of --kubeconfig")
	f.StringVar(&stateDir, "state-dir", "", "directory keeping the agent's credential when not in a cluster (default: the state directory)")
	f.BoolVarP(&verbose, "verbose", "v", false, "log more")
	return cmd
}

// agentLocal is the cluster the agent serves and where it keeps its state.
func agentLocal(kubeconfig, kubeContext, stateDir string) (*rest.Config, agent.Store, error) {
	if kubeconfig == "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, nil, fmt.Errorf("not running in a cluster (%v): give --kubeconfig", err)
		}
		ns := os.Getenv("POD_NAMESPACE")
		if ns == "" {
			data, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
			if err != nil {
				return nil, nil, fmt.Errorf("cannot tell the agent's namespace: set POD_NAMESPACE")
			}
			ns = strings.TrimSpace(string(data))
		}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, nil, err
		}
		return cfg, agent.SecretStore{Client: cs, Namespace: ns, Name: agent.StateSecret}, nil
	}
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext}).ClientConfig()
	if err != nil {
		return nil, nil, fmt.Errorf("load --kubeconfig: %w", err)
	}
	if stateDir == "" {
		stateDir = defaultStateDir() + "/agent"
	}
	return cfg, agent.FileStore{Dir: stateDir}, nil
}

func newClusterAddAgentCommand(s Streams) *cobra.Command {
	var displayName string
	var reissue, clusterAdmin bool
	cmd := &cobra.Command{
		Use:   "add-agent NAME [--reissue]",
		Short: "Add a cluster reached through the bokujo agent; prints the command to run in it",
		Long: `Add a cluster the server cannot reach (behind NAT or a firewall): the agent
you install in it dials out to bokujo. The printed command installs the agent
with a one-time token valid for one hour; --reissue gives an existing agent
cluster a new token (the old one stops working).`,
		Example: `  bokujo clusters add-agent edge-1
  bokujo clusters add-agent edge-1 --reissue`,
		Args: exactArgs(1, "NAME"),
		RunE: func(_ *cobra.Command, args []string) error {
			name := args[0]
			if err := clusters.ValidateName(name); err != nil {
				return err
			}
			c, err := loggedIn()
			if err != nil {
				return err
			}
			var out api.AgentCluster
			if reissue {
				err = c.do("POST", "/v1/clusters/"+name+"/agent-token", map[string]bool{"clusterAdmin": clusterAdmin}, &out)
			} else {
				err = c.do("POST", "/v1/clusters/agent", map[string]any{"name": name, "displayName": displayName, "clusterAdmin": clusterAdmin}, &out)
			}
			if err != nil {
				return fmt.Errorf("add agent cluster %s: %w", name, err)
			}
			printAgentCluster(s, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&displayName, "display-name", "", "human-friendly name")
	cmd.Flags().BoolVar(&reissue, "reissue", false, "issue a new registration token for an existing agent cluster")
	cmd.Flags().BoolVar(&clusterAdmin, "cluster-admin", false, "give the agent cluster-admin instead of its least privileges")
	return cmd
}

func printAgentCluster(s Streams, out api.AgentCluster) {
	fmt.Fprintf(s.Out, "Run this with admin rights on cluster %q (the token works once, until %s):\n\n  %s\n\n",
		out.Name, out.ExpiresAt.Local().Format("2006-01-02 15:04 MST"), out.Command)
	if out.CommandWithCA != "" {
		fmt.Fprintf(s.Out, "bokujo's certificate is signed by its own CA, which kubectl does not trust for -f URLs;\nsave the CA below as bokujo-ca.crt and run instead:\n\n  %s\n\n%s\n", out.CommandWithCA, out.CACertificate)
	}
	fmt.Fprintf(s.Out, "Or with Helm:\n\n  %s\n", out.HelmCommand)
}
