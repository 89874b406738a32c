package cli

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	deliveryv1 "bokujo.io/bokujo/api/delivery/v1alpha1"
	"bokujo.io/bokujo/internal/release"
)

// newReleaseCommand drives canary releases through the server's API, as the
// logged-in user.
func newReleaseCommand(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "release",
		Short: "Release a new version of a Deployment safely: one canary pod first, then steps, with automatic rollback",
		Long: `Release a new version of a Deployment safely: bokujo starts one canary pod
beside the stable ones, watches it (pod health, optional Prometheus queries),
then moves more replicas step by step and promotes, or rolls back on its own.

Releases are named CLUSTER/NAMESPACE/NAME; start takes CLUSTER/NAMESPACE/DEPLOYMENT.`,
	}
	cmd.AddCommand(newReleaseStartCommand(s), newReleaseStatusCommand(s), newReleaseHistoryCommand(s), newReleaseRollbackCommand(s))
	for _, a := range deliveryv1.Actions {
		cmd.AddCommand(newReleaseActionCommand(s, a))
	}
	return cmd
}

// releasePath splits CLUSTER/NAMESPACE/NAME into the API path of the
// namespace's releases and the name.
func releasePath(arg string) (base, name string, err error) {
	parts := strings.Split(arg, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", fmt.Errorf("%q: name it CLUSTER/NAMESPACE/NAME, e.g. dev/shop/web", arg)
	}
	return "/v1/clusters/" + url.PathEscape(parts[0]) + "/namespaces/" + url.PathEscape(parts[1]) + "/releases", parts[2], nil
}

func newReleaseStartCommand(s Streams) *cobra.Command {
	var service, pause, prom string
	var weights []int
	var manual bool
	var queries []string
	cmd := &cobra.Command{
		Use:   "start CLUSTER/NAMESPACE/DEPLOYMENT CONTAINER=IMAGE...",
		Short: "Start a canary release of new images",
		Example: `  bokujo release start dev/shop/web web=registry.example.com/web:v2
  bokujo release start dev/shop/web web=web:v2 --weights 25,50 --pause 5m
  bokujo release start dev/shop/web web=web:v2 --manual
  bokujo release start dev/shop/web web=web:v2 --prometheus http://prometheus:9090 \
      --query 'error-ratio=sum(rate(http_requests_total{code=~"5.."}[1m]))/sum(rate(http_requests_total[1m]))<0.01'`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			base, dep, err := releasePath(args[0])
			if err != nil {
				return err
			}
			req := release.StartRequest{Deployment: dep, Service: service}
			for _, a := range args[1:] {
				c, img, ok := strings.Cut(a, "=")
				if !ok || c == "" || img == "" {
					return fmt.Errorf("%q: give each new image as CONTAINER=IMAGE", a)
				}
				req.Images = append(req.Images, deliveryv1.ContainerImage{Container: c, Image: img})
			}
			st, err := strategyFlags(weights, pause, manual)
			if err != nil {
				return err
			}
			req.Strategy = st
			if prom != "" || len(queries) > 0 {
				an, err := prometheusFlags(prom, queries)
				if err != nil {
					return err
				}
				req.Analysis = an
			}
			c, err := loggedIn()
			if err != nil {
				return err
			}
			var rel deliveryv1.Release
			if err := c.do("POST", base, req, &rel); err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "release %s started: one canary pod of %s first\n", strings.TrimSuffix(args[0], dep)+rel.Name, dep)
			fmt.Fprintf(s.Out, "follow it with: bokujo release status %s\n", strings.TrimSuffix(args[0], dep)+rel.Name)
			return nil
		},
	}
	cmd.Flags().StringVar(&service, "service", "", "Service in front of the Deployment (checked to select the canary pods)")
	cmd.Flags().IntSliceVar(&weights, "weights", nil, "percentages of the replicas for the steps after the first canary pod, e.g. 25,50 (default 50)")
	cmd.Flags().StringVar(&pause, "pause", "", "how long each step is watched, e.g. 2m (default 1m)")
	cmd.Flags().BoolVar(&manual, "manual", false, "wait for `bokujo release promote` at every step")
	cmd.Flags().StringVar(&prom, "prometheus", "", "Prometheus URL for --query")
	cmd.Flags().StringArrayVar(&queries, "query", nil, "NAME=PROMQL<MAX or NAME=PROMQL>MIN; the canary fails when the value leaves the bound")
	return cmd
}

func strategyFlags(weights []int, pause string, manual bool) (*deliveryv1.CanaryStrategy, error) {
	if len(weights) == 0 && pause == "" && !manual {
		return nil, nil
	}
	if len(weights) == 0 {
		weights = []int{50}
	}
	p := &deliveryv1.Pause{}
	if !manual {
		d := time.Minute
		if pause != "" {
			var err error
			if d, err = time.ParseDuration(pause); err != nil || d <= 0 {
				return nil, fmt.Errorf("--pause %q: give a duration such as 30s or 5m", pause)
			}
		}
		p.Duration = &metav1.Duration{Duration: d}
	}
	st := &deliveryv1.CanaryStrategy{Steps: []deliveryv1.CanaryStep{{Pause: p}}}
	for _, w := range weights {
		if w < 1 || w > 100 {
			return nil, fmt.Errorf("--weights: %d is not a percentage from 1 to 100", w)
		}
		w32 := int32(w)
		st.Steps = append(st.Steps, deliveryv1.CanaryStep{Weight: &w32, Pause: p.DeepCopy()})
	}
	return st, nil
}

func prometheusFlags(addr string, queries []string) (*deliveryv1.Analysis, error) {
	if addr == "" || len(queries) == 0 {
		return nil, fmt.Errorf("--prometheus and --query go together")
	}
	p := &deliveryv1.PrometheusAnalysis{Address: addr}
	for _, q := range queries {
		name, rest, ok := strings.Cut(q, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--query %q: write NAME=PROMQL<MAX or NAME=PROMQL>MIN", q)
		}
		i := strings.LastIndexAny(rest, "<>")
		if i <= 0 {
			return nil, fmt.Errorf("--query %q: end it with <MAX or >MIN", q)
		}
		bound := rest[i+1:]
		if _, err := strconv.ParseFloat(bound, 64); err != nil {
			return nil, fmt.Errorf("--query %q: %q is not a number", q, bound)
		}
		pq := deliveryv1.PrometheusQuery{Name: name, Query: rest[:i]}
		if rest[i] == '<' {
			pq.Max = bound
		} else {
			pq.Min = bound
		}
		p.Queries = append(p.Queries, pq)
	}
	return &deliveryv1.Analysis{Prometheus: p}, nil
}

func newReleaseActionCommand(s Streams, action deliveryv1.Action) *cobra.Command {
	short := map[deliveryv1.Action]string{
		deliveryv1.ActionPromote: "End a manual pause (or skip the current step's wait) and move to the next step",
		deliveryv1.ActionPause:   "Hold a release at its current step",
		deliveryv1.ActionResume:  "Continue a paused release",
		deliveryv1.ActionAbort:   "Roll back to the stable version now",
		deliveryv1.ActionRetry:   "Start a rolled back or failed release again from its first step",
	}[action]
	return &cobra.Command{
		Use:   string(action) + " CLUSTER/NAMESPACE/NAME",
		Short: short,
		Args:  exactArgs(1, "CLUSTER/NAMESPACE/NAME"),
		RunE: func(_ *cobra.Command, args []string) error {
			base, name, err := releasePath(args[0])
			if err != nil {
				return err
			}
			c, err := loggedIn()
			if err != nil {
				return err
			}
			if err := c.do("POST", base+"/"+url.PathEscape(name)+"/actions", map[string]string{"action": string(action)}, nil); err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "%s of %s requested\n", action, args[0])
			return nil
		},
	}
}

func newReleaseStatusCommand(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "status CLUSTER/NAMESPACE/NAME",
		Short: "Show a release: step, canary and stable versions, measurements and why it moved",
		Args:  exactArgs(1, "CLUSTER/NAMESPACE/NAME"),
		RunE: func(_ *cobra.Command, args []string) error {
			base, name, err := releasePath(args[0])
			if err != nil {
				return err
			}
			c, err := loggedIn()
			if err != nil {
				return err
			}
			var rel deliveryv1.Release
			if err := c.do("GET", base+"/"+url.PathEscape(name), nil, &rel); err != nil {
				return err
			}
			printRelease(s, &rel)
			return nil
		},
	}
}

func printRelease(s Streams, rel *deliveryv1.Release) {
	sum := release.Summarize(rel)
	st := rel.Status
	fmt.Fprintf(s.Out, "Release:     %s/%s\n", rel.Namespace, rel.Name)
	fmt.Fprintf(s.Out, "Deployment:  %s\n", rel.Spec.Deployment)
	fmt.Fprintf(s.Out, "Phase:       %s\n", sum.Phase)
	fmt.Fprintf(s.Out, "Step:        %d of %d (%d of %d pods on the new version, %d ready)\n", st.Step, st.Steps+1, st.CanaryReplicas, st.Replicas, st.ReadyCanaryReplicas)
	fmt.Fprintf(s.Out, "Change:      %s\n", sum.Change)
	fmt.Fprintf(s.Out, "Started by:  %s\n", sum.CreatedBy)
	if st.StableRevision != "" {
		fmt.Fprintf(s.Out, "Revisions:   stable %s, canary %s\n", st.StableRevision, st.CanaryRevision)
	}
	if c := meta.FindStatusCondition(st.Conditions, deliveryv1.ConditionHealthy); c != nil {
		fmt.Fprintf(s.Out, "Healthy:     %s (%s) %s\n", c.Status, c.Reason, c.Message)
	}
	if len(st.Measurements) > 0 {
		fmt.Fprintln(s.Out, "\nMeasurements (latest last):")
		tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  TIME\tSTEP\tNAME\tRESULT\tVALUE\tMESSAGE")
		for _, m := range st.Measurements[max(0, len(st.Measurements)-10):] {
			fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\n", m.Time.Format(time.TimeOnly), m.Step, m.Name, m.Result, m.Value, m.Message)
		}
		tw.Flush()
	}
	if len(st.History) > 0 {
		fmt.Fprintln(s.Out, "\nHistory:")
		tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  TIME\tSTEP\tPHASE\tREASON\tBY\tMESSAGE")
		for _, h := range st.History {
			fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\n", h.Time.Format(time.TimeOnly), h.Step, h.Phase, h.Reason, h.By, h.Message)
		}
		tw.Flush()
	}
}

func newReleaseHistoryCommand(s Streams) *cobra.Command {
	var deployment string
	cmd := &cobra.Command{
		Use:   "history CLUSTER[/NAMESPACE]",
		Short: "List releases, newest first: who, what, when, outcome",
		Args:  exactArgs(1, "CLUSTER or CLUSTER/NAMESPACE"),
		RunE: func(_ *cobra.Command, args []string) error {
			cluster, ns, _ := strings.Cut(args[0], "/")
			if cluster == "" || strings.Contains(ns, "/") {
				return fmt.Errorf("%q: give CLUSTER or CLUSTER/NAMESPACE", args[0])
			}
			path := "/v1/clusters/" + url.PathEscape(cluster) + "/releases"
			if ns != "" {
				path = "/v1/clusters/" + url.PathEscape(cluster) + "/namespaces/" + url.PathEscape(ns) + "/releases"
			}
			if deployment != "" {
				path += "?deployment=" + url.QueryEscape(deployment)
			}
			c, err := loggedIn()
			if err != nil {
				return err
			}
			var list struct {
				Items []release.Summary `json:"items"`
			}
			if err := c.do("GET", path, nil, &list); err != nil {
				return err
			}
			if len(list.Items) == 0 {
				fmt.Fprintln(s.Out, "no releases")
				return nil
			}
			tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAMESPACE\tNAME\tDEPLOYMENT\tPHASE\tBY\tCREATED\tCHANGE\tREASON")
			for _, r := range list.Items {
				change := r.Change
				if r.RollbackOf != "" {
					change = "rollback of " + r.RollbackOf + ": " + change
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Namespace, r.Name, r.Deployment, r.Phase, r.CreatedBy,
					r.Created.UTC().Format(time.DateTime), change, r.Reason)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&deployment, "deployment", "", "only releases of this Deployment")
	return cmd
}

func newReleaseRollbackCommand(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "rollback CLUSTER/NAMESPACE/NAME",
		Short: "Start a new release back to the version that ran before release NAME",
		Args:  exactArgs(1, "CLUSTER/NAMESPACE/NAME"),
		RunE: func(_ *cobra.Command, args []string) error {
			base, name, err := releasePath(args[0])
			if err != nil {
				return err
			}
			c, err := loggedIn()
			if err != nil {
				return err
			}
			var rel deliveryv1.Release
			if err := c.do("POST", base+"/"+url.PathEscape(name)+"/rollback", nil, &rel); err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "release %s started: back to the version before %s\n", rel.Name, name)
			return nil
		},
	}
}
