// Command localcluster measures how long a local cluster takes to start
// from nothing (cold: PKI, etcd bootstrap, RBAC bootstrap, nodes) and from an
// existing directory (warm), and the resident memory of each component once
// ready. It prints a table; the README's sizing section records it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"bokujo.io/bokujo/internal/localcluster"
)

func main() {
	rounds := flag.Int("rounds", 3, "cold and warm starts to measure")
	flag.Parse()
	if err := run(*rounds); err != nil {
		fmt.Fprintln(os.Stderr, "bench/localcluster:", err)
		os.Exit(1)
	}
}

func run(rounds int) error {
	ctx := context.Background()
	var cold, warm []time.Duration
	rss := map[string][]int64{}
	nodes := localcluster.GPUNodes("bench-gpu", 2, 8)
	for i := 0; i < rounds; i++ {
		dir, err := os.MkdirTemp("", "bokujo-bench-lc-")
		if err != nil {
			return err
		}
		start := time.Now()
		c, err := localcluster.Start(ctx, localcluster.Options{Name: "bench", Dir: dir, Nodes: nodes})
		if err != nil {
			return fmt.Errorf("cold start: %w", err)
		}
		cold = append(cold, time.Since(start))
		c.Stop()
		start = time.Now()
		c, err = localcluster.Start(ctx, localcluster.Options{Name: "bench", Dir: dir})
		if err != nil {
			return fmt.Errorf("warm start: %w", err)
		}
		warm = append(warm, time.Since(start))
		time.Sleep(5 * time.Second) // let the components settle after start-up
		for name, pid := range c.PIDs() {
			rss[name] = append(rss[name], rssKiB(pid))
		}
		c.Stop()
		os.RemoveAll(dir)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "local cluster start (2 GPU nodes), %d rounds\tmedian\tmin\tmax\t\n", rounds)
	fmt.Fprintf(tw, "cold start\t%s\t%s\t%s\t\n", median(cold), minD(cold), maxD(cold))
	fmt.Fprintf(tw, "warm start (restart)\t%s\t%s\t%s\t\n", median(warm), minD(warm), maxD(warm))
	fmt.Fprintf(tw, "warm/cold ratio\t%.2f\t\t\t\n", float64(median(warm))/float64(median(cold)))
	tw.Flush()
	fmt.Println()
	tw = tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "component\tRSS median (MiB)\t")
	var total int64
	for _, name := range localcluster.Components {
		v := rss[name]
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		m := v[len(v)/2]
		total += m
		fmt.Fprintf(tw, "%s\t%d\t\n", name, m/1024)
	}
	fmt.Fprintf(tw, "total per cluster\t%d\t\n", total/1024)
	return tw.Flush()
}

func rssKiB(pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2].Round(10 * time.Millisecond)
}

func minD(d []time.Duration) time.Duration {
	m := d[0]
	for _, v := range d {
		m = min(m, v)
	}
	return m.Round(10 * time.Millisecond)
}

func maxD(d []time.Duration) time.Duration {
	m := d[0]
	for _, v := range d {
		m = max(m, v)
	}
	return m.Round(10 * time.Millisecond)
}
