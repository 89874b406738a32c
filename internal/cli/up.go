package cli

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"bokujo.io/bokujo/internal/quickstart"
)

func newUpCommand(s Streams) *cobra.Command {
	var (
		stateDir, address, binDir string
		port                      int
		reset, yes, noDemo        bool
		verbose                   bool
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start bokujo on this machine: management plane, demo clusters and server",
		Long: `Start bokujo on this machine: an embedded management control plane, two demo
downstream clusters ("dev" with 2 simulated nodes of 8 GPUs each, "prod" with 3
CPU nodes) and the bokujo server. Prints the URL and, on the first start only,
the admin password. Ctrl-C stops everything; the next run resumes with all
state kept in --state-dir.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if port < 1 || port > 65535 {
				return fmt.Errorf("invalid --port %d: use 1-65535", port)
			}
			if reset {
				if err := confirmReset(s, stateDir, yes); err != nil {
					return err
				}
				if err := quickstart.Reset(stateDir); err != nil {
					return err
				}
				fmt.Fprintf(s.Err, "removed %s\n", stateDir)
			}
			return quickstart.Run(cmd.Context(), quickstart.Options{
				StateDir: stateDir,
				Listen:   quickstart.ListenAddr(address, port),
				BinDir:   binDir,
				Demo:     !noDemo,
				Out:      s.Out,
				Logger:   newLogger(s.Err, verbose),
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&stateDir, "state-dir", defaultStateDir(), "directory holding all local state (clusters, certificates, users)")
	f.StringVar(&address, "address", "127.0.0.1", "address the server listens on")
	f.IntVar(&port, "port", 8443, "HTTPS port of the server")
	f.StringVar(&binDir, "bin-dir", "", "directory of the control-plane binaries (default: beside bokujo, or $BOKUJO_BIN_DIR)")
	f.BoolVar(&reset, "reset", false, "delete all state and start from scratch (asks first)")
	f.BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	f.BoolVar(&noDemo, "no-demo", false, "start only the management plane, without demo clusters")
	f.BoolVarP(&verbose, "verbose", "v", false, "log more")
	return cmd
}

// confirmReset asks on a terminal; without one it needs --yes.
func confirmReset(s Streams, dir string, yes bool) error {
	if yes {
		return nil
	}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	f, ok := s.In.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return fmt.Errorf("--reset deletes everything in %s: pass --yes to confirm when there is no terminal", dir)
	}
	fmt.Fprintf(s.Err, "This deletes every cluster, user and token in %s.\nType 'yes' to continue: ", dir)
	line, _ := bufio.NewReader(s.In).ReadString('\n')
	if strings.TrimSpace(line) != "yes" {
		return errors.New("reset cancelled")
	}
	return nil
}
