package cli

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"bokujo.io/bokujo/internal/app"
	"bokujo.io/bokujo/internal/auth"
	"bokujo.io/bokujo/internal/clusters"
)

func newServerCommand(s Streams) *cobra.Command {
	var kubeconfig, listen, publicURL, peerURL, certFile, keyFile, caFile, dataDir, metricsListen, slackSecretFile string
	var leaderElect, allowLoopback, verbose, controllersOptIn bool
	var groupRefresh time.Duration
	cmd := &cobra.Command{
		Use:   "server --kubeconfig FILE --tls-cert-file CRT --tls-key-file KEY",
		Short: "Run the bokujo server against a real management cluster",
		Long: `Run the bokujo server. Its state lives in the management cluster the
kubeconfig points at (any Kubernetes cluster); run several replicas with
--leader-elect for high availability.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if certFile == "" || keyFile == "" {
				return fmt.Errorf("--tls-cert-file and --tls-key-file are required")
			}
			cert, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				return fmt.Errorf("load TLS certificate: %w", err)
			}
			var caPEM []byte
			if caFile != "" {
				if caPEM, err = os.ReadFile(caFile); err != nil {
					return fmt.Errorf("read --ca-file: %w", err)
				}
			}
			rules := clientcmd.NewDefaultClientConfigLoadingRules()
			rules.ExplicitPath = kubeconfig
			mgmt, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
			if err != nil {
				return fmt.Errorf("load management kubeconfig: %w", err)
			}
			var slackSecret []byte
			if slackSecretFile != "" {
				b, err := os.ReadFile(slackSecretFile)
				if err != nil {
					return fmt.Errorf("read --slack-signing-secret-file: %w", err)
				}
				if slackSecret = bytes.TrimSpace(b); len(slackSecret) == 0 {
					return fmt.Errorf("--slack-signing-secret-file %s is empty", slackSecretFile)
				}
			}
			log := newLogger(s.Err, verbose)
			a, err := app.Start(cmd.Context(), app.Options{
				Management: mgmt, Listen: listen, PublicURL: publicURL, PeerURL: peerURL, ControllersOptIn: controllersOptIn, Certificate: cert, CACertPEM: caPEM,
				DataDir: dataDir, LeaderElection: leaderElect, Logger: log, GroupRefreshInterval: groupRefresh, MetricsListen: metricsListen, SlackSigningSecret: slackSecret,
				ClusterPolicy: clusters.Policy{AllowLoopback: allowLoopback, ServerAddrs: []string{listen}},
			})
			if err != nil {
				return err
			}
			defer a.Stop()
			select {
			case <-cmd.Context().Done():
				log.Info("shutting down")
				return nil
			case err := <-a.Done():
				return err
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the management cluster (default: in-cluster or $KUBECONFIG)")
	f.StringVar(&listen, "listen", "0.0.0.0:8443", "address to serve HTTPS on")
	f.StringVar(&publicURL, "public-url", "", "URL users reach the server at (default https://<listen>)")
	f.StringVar(&peerURL, "peer-url", "", "URL the other replicas reach this one at, to use agent tunnels it holds, e.g. https://$(POD_IP):8443 (default https://<listen> unless --listen is a wildcard address)")
	f.StringVar(&certFile, "tls-cert-file", "", "serving certificate (PEM)")
	f.StringVar(&keyFile, "tls-key-file", "", "serving key (PEM)")
	f.StringVar(&caFile, "ca-file", "", "CA to embed in generated kubeconfigs (when the certificate is not publicly trusted)")
	f.StringVar(&dataDir, "data-dir", "/var/lib/bokujo", "directory for the audit log")
	f.BoolVar(&leaderElect, "leader-elect", false, "elect one replica to run the controllers")
	f.BoolVar(&controllersOptIn, "cluster-controllers-opt-in", false, "run the in-cluster controllers (MLTask, Release) only in clusters labelled management.bokujo.io/cluster-controllers=enabled (default: in every cluster not labelled disabled)")
	f.BoolVar(&allowLoopback, "allow-loopback-clusters", false, "allow importing clusters on the server's own loopback addresses")
	f.DurationVar(&groupRefresh, "group-refresh-interval", auth.DefaultGroupRefreshInterval, "how often external users' groups are read again from their identity providers")
	f.StringVar(&metricsListen, "metrics-listen", "0.0.0.0:9464", "address to serve Prometheus metrics on, plain HTTP without authentication (empty: off)")
	f.StringVar(&slackSecretFile, "slack-signing-secret-file", "", "file with the Slack app's signing secret; turns on /v1/chat/slack/*")
	f.BoolVarP(&verbose, "verbose", "v", false, "log more")
	return cmd
}
