package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/duration"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	mlv1alpha1 "bokujo.io/bokujo/api/ml/v1alpha1"
)

// mlFlags are the cluster and namespace every `bokujo ml` command works in.
type mlFlags struct {
	cluster   string
	namespace string
}

// mlClients reach one downstream cluster through bokujo's proxy at
// /k8s/clusters/{cluster} with the token `bokujo login` stored, so the
// user's own rights apply.
type mlClients struct {
	ml   client.Client
	kube kubernetes.Interface
	ns   string
}

func (f *mlFlags) clients() (*mlClients, error) {
	if f.cluster == "" {
		return nil, errors.New("no cluster: pass --cluster NAME or set BOKUJO_CLUSTER (see `bokujo clusters list`)")
	}
	if f.namespace == "" {
		return nil, errors.New("no namespace: pass --namespace NAME (your project's namespace)")
	}
	cfg, err := loadClientConfig()
	if err != nil {
		return nil, err
	}
	rc := &rest.Config{
		Host:            strings.TrimRight(cfg.Server, "/") + "/k8s/clusters/" + f.cluster,
		BearerToken:     cfg.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: []byte(cfg.CAData)},
		UserAgent:       "bokujo-cli",
		Timeout:         60 * time.Second,
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := mlv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	mc, err := client.New(rc, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("connect to cluster %s through bokujo: %w", f.cluster, err)
	}
	streaming := rest.CopyConfig(rc)
	streaming.Timeout = 0 // logs -f runs as long as the user wants
	kc, err := kubernetes.NewForConfig(streaming)
	if err != nil {
		return nil, err
	}
	return &mlClients{ml: mc, kube: kc, ns: f.namespace}, nil
}

// explain turns API errors into what to do.
func explain(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%s: not found (check --cluster and --namespace; `bokujo ml list` shows the tasks)", what)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("%s: forbidden: you need a project role on this namespace (ask the project's owner): %w", what, err)
	case apierrors.IsInvalid(err):
		return fmt.Errorf("%s: refused by the cluster: %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func newMLCommand(s Streams) *cobra.Command {
	f := &mlFlags{cluster: os.Getenv("BOKUJO_CLUSTER")}
	cmd := &cobra.Command{
		Use:   "ml",
		Short: "Run and follow ML training tasks and interactive GPU instances (MLTasks)",
		Long: `Run and follow MLTasks on a cluster, through bokujo with your login.

  bokujo ml run -f task.yaml --cluster dev -n team-a
  bokujo ml list --cluster dev -n team-a
  bokujo ml logs resnet --worker 2 -f`,
	}
	cmd.PersistentFlags().StringVar(&f.cluster, "cluster", f.cluster, "cluster name (default $BOKUJO_CLUSTER)")
	cmd.PersistentFlags().StringVarP(&f.namespace, "namespace", "n", "", "namespace (your project's)")
	cmd.AddCommand(mlRun(s, f), mlList(s, f), mlDescribe(s, f), mlLogs(s, f),
		mlSetState(s, f, "stop", mlv1alpha1.StateStopped), mlSetState(s, f, "start", mlv1alpha1.StateRunning), mlDelete(s, f))
	return cmd
}

func mlRun(s Streams, f *mlFlags) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "run -f task.yaml",
		Short: "Submit an MLTask from a YAML file (- for standard input)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return errors.New("pass -f task.yaml (or -f - to read standard input)")
			}
			var r io.Reader = s.In
			if file != "-" {
				fh, err := os.Open(file)
				if err != nil {
					return err
				}
				defer fh.Close()
				r = fh
			}
			data, err := io.ReadAll(io.LimitReader(r, 1<<20))
			if err != nil {
				return err
			}
			task, err := decodeTask(data)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			if f.namespace == "" {
				f.namespace = task.Namespace
			}
			if task.Namespace != "" && task.Namespace != f.namespace {
				return fmt.Errorf("%s names namespace %q but --namespace is %q", file, task.Namespace, f.namespace)
			}
			c, err := f.clients()
			if err != nil {
				return err
			}
			task.Namespace = c.ns
			if err := c.ml.Create(cmd.Context(), task); err != nil {
				return explain(err, "create MLTask "+task.Name)
			}
			fmt.Fprintf(s.Out, "mltask/%s created in %s/%s; follow it with `bokujo ml describe %s`\n", task.Name, f.cluster, c.ns, task.Name)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "the task's YAML")
	return cmd
}

// decodeTask reads one MLTask strictly: a misspelt field is an error, not
// a silently ignored setting.
func decodeTask(data []byte) (*mlv1alpha1.MLTask, error) {
	data, err := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(string(data)))).Read()
	if err != nil {
		return nil, fmt.Errorf("read YAML: %w", err)
	}
	task := &mlv1alpha1.MLTask{}
	if err := yaml.UnmarshalStrict(data, task); err != nil {
		return nil, fmt.Errorf("not a valid MLTask: %w", err)
	}
	if task.APIVersion != mlv1alpha1.GroupVersion.String() || task.Kind != "MLTask" {
		return nil, fmt.Errorf("want apiVersion %s and kind MLTask, got %q %q", mlv1alpha1.GroupVersion, task.APIVersion, task.Kind)
	}
	if task.Name == "" {
		return nil, errors.New("metadata.name is missing")
	}
	return task, nil
}

func age(t metav1.Time) string {
	if t.IsZero() {
		return "-"
	}
	return duration.HumanDuration(time.Since(t.Time))
}

func mlList(s Streams, f *mlFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the namespace's MLTasks with their phase and queue position",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.clients()
			if err != nil {
				return err
			}
			var list mlv1alpha1.MLTaskList
			if err := c.ml.List(cmd.Context(), &list, client.InNamespace(c.ns)); err != nil {
				return explain(err, "list MLTasks")
			}
			if len(list.Items) == 0 {
				fmt.Fprintf(s.Out, "no MLTasks in %s/%s: submit one with `bokujo ml run -f task.yaml`\n", f.cluster, c.ns)
				return nil
			}
			slices.SortFunc(list.Items, func(a, b mlv1alpha1.MLTask) int { return strings.Compare(a.Name, b.Name) })
			tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tMODE\tPHASE\tREADY\tGPUS\tQUEUE\tPOSITION\tAGE")
			for _, t := range list.Items {
				pos := "-"
				if q := t.Status.Queue; q != nil && q.Position > 0 && t.Status.Admission == nil {
					pos = strconv.Itoa(int(q.Position))
				}
				phase := string(t.Status.Phase)
				if phase == "" {
					phase = "Pending"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%d\t%s\t%s\t%s\n", t.Name, t.Spec.Mode, phase, t.Status.WorkersReady, t.Spec.Workers,
					t.TotalGPUs(), t.Spec.Queue, pos, age(t.CreationTimestamp))
			}
			return tw.Flush()
		},
	}
}

func mlDescribe(s Streams, f *mlFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Show an MLTask's settings, state, conditions and events",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.clients()
			if err != nil {
				return err
			}
			t := &mlv1alpha1.MLTask{}
			if err := c.ml.Get(cmd.Context(), client.ObjectKey{Namespace: c.ns, Name: args[0]}, t); err != nil {
				return explain(err, "get MLTask "+args[0])
			}
			w := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
			p := func(k string, v any) { fmt.Fprintf(w, "%s:\t%v\n", k, v) }
			p("Name", t.Namespace+"/"+t.Name)
			p("Mode", t.Spec.Mode)
			p("Image", t.Spec.Image)
			p("Workers", fmt.Sprintf("%d (ready %d)", t.Spec.Workers, t.Status.WorkersReady))
			gpus := fmt.Sprintf("%d per worker, %d in total", t.Spec.Resources.GPUs, t.TotalGPUs())
			if t.Spec.Resources.GPUProduct != "" {
				gpus += " of " + t.Spec.Resources.GPUProduct
			}
			p("GPUs", gpus)
			p("Queue", fmt.Sprintf("%s (priority %d)", t.Spec.Queue, t.Spec.Priority))
			p("Phase", t.Status.Phase)
			p("Message", t.Status.Message)
			if a := t.Status.Admission; a != nil {
				p("Admitted", fmt.Sprintf("GPUQueue %s, %s, borrowed %d, at %s", a.GPUQueue, a.GPUProduct, a.Borrowed, a.AdmittedAt.Format(time.RFC3339)))
			} else if q := t.Status.Queue; q != nil {
				p("Waiting", fmt.Sprintf("position %d: %s", q.Position, q.Message))
			}
			if st := t.Status.StartTime; st != nil {
				p("Started", st.Format(time.RFC3339))
			}
			if ct := t.Status.CompletionTime; ct != nil {
				p("Finished", ct.Format(time.RFC3339))
			}
			if err := w.Flush(); err != nil {
				return err
			}
			fmt.Fprintln(s.Out, "Conditions:")
			w = tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "  TYPE\tSTATUS\tREASON\tMESSAGE")
			for _, cond := range t.Status.Conditions {
				fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", cond.Type, cond.Status, cond.Reason, cond.Message)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			events, err := c.kube.EventsV1().Events(c.ns).List(cmd.Context(), metav1.ListOptions{
				FieldSelector: "regarding.name=" + t.Name + ",regarding.kind=MLTask"})
			if err != nil {
				// Events are extra: a user without the right still sees
				// the rest.
				fmt.Fprintf(s.Out, "Events: not readable (%v)\n", explain(err, "list events"))
				return nil
			}
			fmt.Fprintln(s.Out, "Events:")
			slices.SortFunc(events.Items, func(a, b eventsv1.Event) int { return a.EventTime.Compare(b.EventTime.Time) })
			w = tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
			for _, e := range events.Items {
				fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", age(metav1.Time(e.EventTime)), e.Type, e.Reason, e.Note)
			}
			return w.Flush()
		},
	}
}

func mlLogs(s Streams, f *mlFlags) *cobra.Command {
	var worker int
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs NAME [--worker N] [-f]",
		Short: "Print a worker's log (worker 0 by default)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if worker < 0 {
				return fmt.Errorf("--worker %d: workers are numbered from 0", worker)
			}
			c, err := f.clients()
			if err != nil {
				return err
			}
			t := &mlv1alpha1.MLTask{}
			if err := c.ml.Get(cmd.Context(), client.ObjectKey{Namespace: c.ns, Name: args[0]}, t); err != nil {
				return explain(err, "get MLTask "+args[0])
			}
			if worker >= int(t.Spec.Workers) {
				return fmt.Errorf("--worker %d: %s has workers 0 to %d", worker, t.Name, t.Spec.Workers-1)
			}
			pods, err := c.kube.CoreV1().Pods(c.ns).List(cmd.Context(), metav1.ListOptions{LabelSelector: "ml.bokujo.io/task=" + t.Name})
			if err != nil {
				return explain(err, "list the workers of "+t.Name)
			}
			pod := workerPod(pods.Items, worker)
			if pod == nil {
				return fmt.Errorf("worker %d of %s has no pod (the task is %s: %s)", worker, t.Name, t.Status.Phase, t.Status.Message)
			}
			stream, err := c.kube.CoreV1().Pods(c.ns).GetLogs(pod.Name, &corev1.PodLogOptions{Container: "worker", Follow: follow}).Stream(cmd.Context())
			if err != nil {
				return explain(err, "logs of "+pod.Name)
			}
			defer stream.Close()
			_, err = io.Copy(s.Out, stream)
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		},
	}
	cmd.Flags().IntVar(&worker, "worker", 0, "worker index (RANK)")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep streaming")
	return cmd
}

// workerPod finds worker i: the newest pod with that completion index
// (Training) or ordinal (Interactive).
func workerPod(pods []corev1.Pod, i int) *corev1.Pod {
	var best *corev1.Pod
	want := strconv.Itoa(i)
	for k := range pods {
		p := &pods[k]
		if p.Annotations["batch.kubernetes.io/job-completion-index"] != want && p.Labels["apps.kubernetes.io/pod-index"] != want {
			continue
		}
		if best == nil || p.CreationTimestamp.After(best.CreationTimestamp.Time) {
			best = p
		}
	}
	return best
}

func mlSetState(s Streams, f *mlFlags, verb string, state mlv1alpha1.MLTaskState) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " NAME",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " an interactive task (its GPUs go back to the queue while stopped)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.clients()
			if err != nil {
				return err
			}
			t := &mlv1alpha1.MLTask{}
			if err := c.ml.Get(cmd.Context(), client.ObjectKey{Namespace: c.ns, Name: args[0]}, t); err != nil {
				return explain(err, "get MLTask "+args[0])
			}
			if t.Spec.Mode != mlv1alpha1.ModeInteractive {
				return fmt.Errorf("%s is a Training task, which runs to completion: `bokujo ml delete %s` ends it", t.Name, t.Name)
			}
			patch := []byte(fmt.Sprintf(`{"spec":{"state":%q}}`, state))
			if err := c.ml.Patch(cmd.Context(), t, client.RawPatch(types.MergePatchType, patch)); err != nil {
				return explain(err, verb+" MLTask "+t.Name)
			}
			fmt.Fprintf(s.Out, "mltask/%s: %s requested\n", t.Name, strings.ToLower(string(state)))
			return nil
		},
	}
}

func mlDelete(s Streams, f *mlFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete an MLTask with its Job or StatefulSet, pods and Service",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.clients()
			if err != nil {
				return err
			}
			t := &mlv1alpha1.MLTask{ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: args[0]}}
			if err := c.ml.Delete(cmd.Context(), t, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
				return explain(err, "delete MLTask "+args[0])
			}
			fmt.Fprintf(s.Out, "mltask/%s deleted\n", args[0])
			return nil
		},
	}
}
