// Package cli builds bokujo's command tree. Commands take their streams
// from Streams so tests run them in-process.
package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"bokujo.io/bokujo/internal/version"
)

// Streams are a command's standard streams.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// NewRootCommand returns the `bokujo` command with every subcommand.
func NewRootCommand(s Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "bokujo",
		Short: "bokujo manages many Kubernetes clusters behind one URL",
		Long: `bokujo manages many Kubernetes clusters behind one URL: one web UI, one API
and one kubeconfig for every cluster a user was granted.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w (see `%s --help`)", err, c.CommandPath())
	})
	root.AddCommand(
		newVersionCommand(s),
		newLocalClusterCommand(s),
		newUpCommand(s),
		newServerCommand(s),
		newLoginCommand(s),
		newKubeconfigCommand(s),
		newClustersCommand(s),
		newAgentCommand(s),
		newMLCommand(s),
		newReleaseCommand(s),
		newGroupCommand(s),
		newProjectCommand(s),
		newRoleTemplateCommand(s),
	)
	return root
}

func newVersionCommand(s Streams) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print bokujo's version and the Kubernetes version it bundles",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info := version.Get()
			if asJSON {
				enc := json.NewEncoder(s.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			_, err := fmt.Fprintln(s.Out, info.String())
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

// defaultStateDir is where bokujo keeps local state: $BOKUJO_STATE_DIR, else
// $XDG_STATE_HOME/bokujo, else ~/.local/state/bokujo.
func defaultStateDir() string {
	if d := os.Getenv("BOKUJO_STATE_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "bokujo")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "bokujo")
	}
	return filepath.Join(home, ".local", "state", "bokujo")
}

func newLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.String(slog.TimeKey, a.Value.Time().Format("15:04:05"))
		}
		return a
	}}))
}
