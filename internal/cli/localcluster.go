package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"bokujo.io/bokujo/internal/localcluster"
)

func newLocalClusterCommand(s Streams) *cobra.Command {
	var stateDir, binDir string
	cmd := &cobra.Command{
		Use:     "localcluster",
		Aliases: []string{"lc"},
		Short:   "Run throwaway Kubernetes clusters with simulated (GPU) nodes on this machine",
	}
	cmd.PersistentFlags().StringVar(&stateDir, "state-dir", defaultStateDir(), "directory holding local state")
	cmd.PersistentFlags().StringVar(&binDir, "bin-dir", "", "directory of the control-plane binaries")
	dirOf := func(name string) string { return filepath.Join(stateDir, "localclusters", name) }

	var gpuNodes, gpusPerNode, cpuNodes int
	var gpuProduct string
	var verbose bool
	run := func(create bool) func(*cobra.Command, []string) error {
		return func(c *cobra.Command, args []string) error {
			name := args[0]
			if err := localcluster.ValidateName(name); err != nil {
				return err
			}
			dir := dirOf(name)
			_, statErr := os.Stat(filepath.Join(dir, "cluster.json"))
			exists := statErr == nil
			if create && exists {
				return fmt.Errorf("local cluster %q already exists: start it with `bokujo localcluster start %s` or delete it first", name, name)
			}
			if !create && !exists {
				return fmt.Errorf("local cluster %q does not exist: create it with `bokujo localcluster create %s`", name, name)
			}
			if gpuNodes < 0 || cpuNodes < 0 || gpusPerNode < 0 {
				return errors.New("--gpu-nodes, --cpu-nodes and --gpus-per-node must not be negative")
			}
			nodes := append(localcluster.GPUNodes(name+"-gpu", gpuNodes, gpusPerNode), localcluster.CPUNodes(name+"-cpu", cpuNodes)...)
			for i := range nodes {
				if nodes[i].GPUs > 0 {
					nodes[i].GPUProduct = gpuProduct
				}
			}
			cl, err := localcluster.Start(c.Context(), localcluster.Options{
				Name: name, Dir: dir, BinDir: binDir, Nodes: nodes, Logger: newLogger(s.Err, verbose),
			})
			if err != nil {
				return err
			}
			defer cl.Stop()
			fmt.Fprintf(s.Out, "local cluster %q is running at %s\n  kubeconfig: %s\n  try: kubectl --kubeconfig %s get nodes\nPress Ctrl-C to stop; data is kept until `bokujo localcluster delete %s`.\n",
				name, cl.URL(), cl.KubeconfigPath(), cl.KubeconfigPath(), name)
			select {
			case <-c.Context().Done():
				fmt.Fprintln(s.Err, "stopping")
				return nil
			case <-cl.Done():
				return fmt.Errorf("local cluster %q stopped unexpectedly: %w", name, cl.Err())
			}
		}
	}
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a local cluster and run it in the foreground until Ctrl-C",
		Args:  exactArgs(1, "NAME"),
		RunE:  run(true),
	}
	create.Flags().IntVar(&gpuNodes, "gpu-nodes", 0, "simulated nodes with GPUs")
	create.Flags().IntVar(&gpusPerNode, "gpus-per-node", 8, "nvidia.com/gpu per GPU node")
	create.Flags().StringVar(&gpuProduct, "gpu-product", localcluster.DefaultGPUProduct, "value of the nvidia.com/gpu.product label")
	create.Flags().IntVar(&cpuNodes, "cpu-nodes", 1, "simulated CPU-only nodes")
	create.Flags().BoolVarP(&verbose, "verbose", "v", false, "log more")
	start := &cobra.Command{
		Use:   "start NAME",
		Short: "Start an existing local cluster in the foreground until Ctrl-C",
		Args:  exactArgs(1, "NAME"),
		RunE:  run(false),
	}
	start.Flags().BoolVarP(&verbose, "verbose", "v", false, "log more")

	list := &cobra.Command{
		Use:   "list",
		Short: "List local clusters",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			entries, err := os.ReadDir(filepath.Join(stateDir, "localclusters"))
			if errors.Is(err, os.ErrNotExist) || (err == nil && len(entries) == 0) {
				fmt.Fprintln(s.Out, "no local clusters: create one with `bokujo localcluster create NAME --gpu-nodes 2`")
				return nil
			}
			if err != nil {
				return fmt.Errorf("list local clusters: %w", err)
			}
			tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATUS\tNODES\tGPUS\tKUBECONFIG")
			for _, e := range entries {
				info, err := localcluster.Inspect(filepath.Join(stateDir, "localclusters", e.Name()))
				if err != nil {
					fmt.Fprintf(tw, "%s\tbroken: %v\t\t\t\n", e.Name(), err)
					continue
				}
				status := "stopped"
				if info.Running {
					status = "running"
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", info.Name, status, info.Nodes, info.GPUs, info.Kubeconfig)
			}
			return tw.Flush()
		},
	}
	kubeconfig := &cobra.Command{
		Use:   "kubeconfig NAME",
		Short: "Print a local cluster's admin kubeconfig",
		Args:  exactArgs(1, "NAME"),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := localcluster.ValidateName(args[0]); err != nil {
				return err
			}
			data, err := os.ReadFile(filepath.Join(dirOf(args[0]), "kubeconfig"))
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("local cluster %q does not exist (see `bokujo localcluster list`)", args[0])
			}
			if err != nil {
				return err
			}
			_, err = s.Out.Write(data)
			return err
		},
	}
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a stopped local cluster and all its data",
		Args:  exactArgs(1, "NAME"),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := localcluster.ValidateName(args[0]); err != nil {
				return err
			}
			dir := dirOf(args[0])
			if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("local cluster %q does not exist (see `bokujo localcluster list`)", args[0])
			}
			lock, err := localcluster.LockDir(dir)
			if err != nil {
				return fmt.Errorf("cannot delete a running cluster: %w", err)
			}
			lock.Unlock()
			if err := os.RemoveAll(dir); err != nil {
				return fmt.Errorf("delete %s: %w", dir, err)
			}
			fmt.Fprintf(s.Out, "deleted local cluster %q\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, start, list, kubeconfig, del)
	return cmd
}

// exactArgs is cobra.ExactArgs with a message that names the argument.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%s needs %s (got %d arguments): see `%s --help`", cmd.CommandPath(), what, len(args), cmd.CommandPath())
		}
		return nil
	}
}
