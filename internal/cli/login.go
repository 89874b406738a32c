package cli

import (
	"bufio"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/apimachinery/pkg/api/resource"
)

func newLoginCommand(s Streams) *cobra.Command {
	var username, caFile, provider string
	var passwordStdin, sso bool
	cmd := &cobra.Command{
		Use:   "login URL",
		Short: "Log in to a bokujo server and keep an API token for the CLI",
		Long: `Log in to a bokujo server with a local user. The CLI keeps an API token
(not the password) in its config file (` + "`$BOKUJO_CONFIG`" + ` or ~/.config/bokujo/config.json).`,
		Example: `  bokujo login https://localhost:8443 --ca-file ~/.local/state/bokujo/pki/ca.crt --username admin
  bokujo login https://bokujo.example.com --sso            # single sign-on from a terminal without a browser`,
		Args: exactArgs(1, "URL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := url.Parse(args[0])
			if err != nil || u.Scheme != "https" || u.Host == "" {
				return fmt.Errorf("invalid server URL %q: want https://host[:port]", args[0])
			}
			var ca []byte
			if caFile != "" {
				if ca, err = os.ReadFile(caFile); err != nil {
					return fmt.Errorf("read --ca-file: %w", err)
				}
			}
			c, err := newAPIClient(u.String(), ca, "")
			if err != nil {
				return err
			}
			if sso {
				name, err := deviceLogin(cmd.Context(), s, c, provider)
				if err != nil {
					return err
				}
				username = name
			} else {
				if username == "" {
					return errors.New("--username is required (or --sso to log in with your identity provider)")
				}
				password, err := readPassword(s, passwordStdin)
				if err != nil {
					return err
				}
				var login struct {
					CSRFToken string `json:"csrfToken"`
				}
				if err := c.do("POST", "/v1/login", map[string]string{"username": username, "password": password}, &login); err != nil {
					return fmt.Errorf("login failed: %w", err)
				}
				c.csrf = login.CSRFToken
			}
			host, _ := os.Hostname()
			var tok struct {
				Token string `json:"token"`
			}
			if err := c.do("POST", "/v1/tokens", map[string]any{"description": "bokujo CLI on " + host, "kind": "API"}, &tok); err != nil {
				return fmt.Errorf("create CLI token: %w", err)
			}
			_ = c.do("POST", "/v1/logout", nil, nil)
			cfg := &clientConfig{Server: strings.TrimRight(u.String(), "/"), CAData: string(ca), Token: tok.Token, User: username}
			if err := cfg.save(); err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "logged in to %s as %s (token saved in %s)\nnext: bokujo kubeconfig > ~/.kube/bokujo && export KUBECONFIG=~/.kube/bokujo\n", cfg.Server, username, configPath())
			return nil
		},
	}
	cmd.Flags().StringVarP(&username, "username", "u", "", "local user name")
	cmd.Flags().StringVar(&caFile, "ca-file", "", "CA certificate that signed the server's certificate")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input")
	cmd.Flags().BoolVar(&sso, "sso", false, "log in with an OIDC identity provider by the device flow: open the printed URL on any device")
	cmd.Flags().StringVar(&provider, "provider", "", "with --sso: the provider's name (default: the only OIDC provider)")
	return cmd
}

func readPassword(s Streams, fromStdin bool) (string, error) {
	if f, ok := s.In.(*os.File); ok && !fromStdin && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(s.Err, "Password: ")
		p, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(s.Err)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		return string(p), nil
	}
	if !fromStdin {
		return "", errors.New("no terminal to ask for the password: pass --password-stdin and pipe it in")
	}
	line, err := bufio.NewReader(s.In).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("no password on standard input")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func newKubeconfigCommand(s Streams) *cobra.Command {
	var output string
	var ttl int
	cmd := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Print a kubeconfig with one context per cluster you may use, all through bokujo",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := loadClientConfig()
			if err != nil {
				return err
			}
			c, err := cfg.api()
			if err != nil {
				return err
			}
			path := "/v1/kubeconfig"
			if ttl > 0 {
				path += fmt.Sprintf("?ttlSeconds=%d", ttl)
			}
			var data []byte
			if err := c.do("GET", path, nil, &data); err != nil {
				return err
			}
			if output == "" || output == "-" {
				_, err = s.Out.Write(data)
				return err
			}
			if err := os.MkdirAll(filepath.Dir(output), 0o700); err != nil {
				return err
			}
			if err := os.WriteFile(output, data, 0o600); err != nil {
				return fmt.Errorf("write %s: %w", output, err)
			}
			fmt.Fprintf(s.Err, "wrote %s\n", output)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file (0600) instead of standard output")
	cmd.Flags().IntVar(&ttl, "ttl-seconds", 0, "lifetime of the kubeconfig's token (default 30 days)")
	return cmd
}

func newClustersCommand(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "clusters",
		Aliases: []string{"cluster"},
		Short:   "List, import and remove clusters",
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the clusters you may use",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			c, err := loggedIn()
			if err != nil {
				return err
			}
			var out struct {
				Items []struct {
					Name, KubernetesVersion, Message string
					Ready                            bool
					Nodes                            int
					Capacity, Requested              map[string]resource.Quantity
				} `json:"items"`
			}
			if err := c.do("GET", "/v1/clusters?limit=1000", nil, &out); err != nil {
				return err
			}
			if len(out.Items) == 0 {
				fmt.Fprintln(s.Out, "no clusters: ask an administrator for access, or import one with `bokujo clusters import`")
				return nil
			}
			tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tREADY\tVERSION\tNODES\tCPU\tMEMORY\tGPU (requested/capacity)")
			for _, it := range out.Items {
				q := func(m map[string]resource.Quantity, k string) string {
					v, ok := m[k]
					if !ok {
						return "0"
					}
					return v.String()
				}
				fmt.Fprintf(tw, "%s\t%t\t%s\t%d\t%s\t%s\t%s/%s\n", it.Name, it.Ready, it.KubernetesVersion, it.Nodes,
					q(it.Capacity, "cpu"), q(it.Capacity, "memory"), q(it.Requested, "nvidia.com/gpu"), q(it.Capacity, "nvidia.com/gpu"))
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(list, newClusterImportCommand(s), newClusterAddAgentCommand(s), newClusterRemoveCommand(s), newClusterToolsCommand(s))
	return cmd
}

func loggedIn() (*apiClient, error) {
	cfg, err := loadClientConfig()
	if err != nil {
		return nil, err
	}
	return cfg.api()
}
