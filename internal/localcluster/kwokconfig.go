package localcluster

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"text/template"
	"time"
)

// StageSets are the kwok stage folders (shipped in kwok's module and copied
// into <bin>/kwok-stages by `make binaries`) that every cluster loads: nodes
// become Ready and keep a lease, pods turn Running at once and Job pods
// complete.
var StageSets = []string{"node/fast", "node/heartbeat-with-lease", "pod/fast"}

// SimulatedLog is served as the log of every container on a simulated node.
var SimulatedLog = []string{
	"simulated container started on a kwok node",
	"this pod is simulated: no process runs, so its log is this file",
}

// criLine formats one log line the way container runtimes write them (CRI
// log format), which kwok parses before serving.
func criLine(t time.Time, line string) string {
	return t.UTC().Format(time.RFC3339Nano) + " stdout F " + line + "\n"
}

// AppendSimulatedLog appends lines to the log every simulated container
// shows; `kubectl logs -f` streams them.
func (c *Cluster) AppendSimulatedLog(lines ...string) error {
	f, err := os.OpenFile(c.SimulatedLogPath(), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("open simulated log: %w", err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := f.WriteString(criLine(time.Now(), l)); err != nil {
			return fmt.Errorf("append simulated log: %w", err)
		}
	}
	return nil
}

// kwokDebugging makes `kubectl exec`, `logs` and `port-forward` work against
// simulated pods. Exec runs the command on this machine in the temporary
// folder, as the unprivileged user nobody when bokujo runs as root; port-forward reaches an echo stream
// (`cat`), so bytes sent come back.
var kwokDebugging = template.Must(template.New("kwok").Parse(`---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterExec
metadata:
  name: bokujo-exec
spec:
  execs:
  - local:
      workDir: {{ .ExecDir }}
      envs:
      - name: PATH
        value: /usr/local/bin:/usr/bin:/bin
      - name: HOME
        value: {{ .ExecDir }}
{{- if .RunAsNobody }}
      securityContext:
        runAsUser: 65534
        runAsGroup: 65534
{{- end }}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: bokujo-logs
spec:
  logs:
  - logsFile: {{ .LogFile }}
    previousLogsFile: {{ .LogFile }}
    follow: true
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterPortForward
metadata:
  name: bokujo-port-forward
spec:
  forwards:
  - command: ["cat"]
`))

// CrashLoopLabel on a pod (value "true") makes the simulated kubelet report
// it as crash-looping instead of Ready: Running, not ready, its containers
// waiting in CrashLoopBackOff with a restart count. Tests of rollouts and
// canary analysis put it on a pod template to get a bad version.
const CrashLoopLabel = "crashloop.stage.bokujo.io"

// crashLoopStage outweighs kwok's pod-ready stage (weight 0, so never picked
// while a weighted stage matches) for pods carrying CrashLoopLabel.
const crashLoopStage = `---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: bokujo-pod-crashloop
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.labels["crashloop.stage.bokujo.io"]'
      operator: 'In'
      values:
      - 'true'
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values:
      - 'Pending'
  weight: 10000
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: ContainersNotReady
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: ContainersNotReady
        type: ContainersReady
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        started: false
        restartCount: 3
        lastState:
          terminated:
            exitCode: 1
            reason: Error
            startedAt: {{ $now | Quote }}
            finishedAt: {{ $now | Quote }}
        state:
          waiting:
            reason: CrashLoopBackOff
            message: back-off restarting failed container
      {{ end }}
      phase: Running
      startTime: {{ $now | Quote }}
`

// SimulatedLogPath is the file kwok streams as every container's log;
// appending to it shows up in `kubectl logs -f`.
func (c *Cluster) SimulatedLogPath() string { return filepath.Join(c.Dir, "pod.log") }

func (c *Cluster) writeKwokConfig() error {
	var b bytes.Buffer
	stageRoot := filepath.Join(c.binDir, "kwok-stages")
	for _, set := range StageSets {
		files, err := filepath.Glob(filepath.Join(stageRoot, set, "*.yaml"))
		if err != nil || len(files) == 0 {
			return fmt.Errorf("%w: kwok stages %s not found in %s: run `make binaries`", ErrMissingBinary, set, stageRoot)
		}
		sort.Strings(files)
		for _, f := range files {
			if filepath.Base(f) == "kustomization.yaml" {
				continue
			}
			data, err := os.ReadFile(f)
			if err != nil {
				return fmt.Errorf("read kwok stage: %w", err)
			}
			b.WriteString("---\n")
			b.Write(bytes.TrimPrefix(data, []byte("---\n")))
			if !bytes.HasSuffix(data, []byte("\n")) {
				b.WriteByte('\n')
			}
		}
	}
	b.WriteString(crashLoopStage)
	// The exec'd command runs as nobody when bokujo runs as root; the
	// scratch folder must be one nobody can enter without loosening the
	// permissions of the state directory's parents.
	execDir := os.TempDir()
	logFile := c.SimulatedLogPath()
	if _, err := os.Stat(logFile); os.IsNotExist(err) {
		if err := c.AppendSimulatedLog(SimulatedLog...); err != nil {
			return err
		}
	}
	runAsNobody := os.Geteuid() == 0
	if err := kwokDebugging.Execute(&b, map[string]any{"ExecDir": execDir, "LogFile": logFile, "RunAsNobody": runAsNobody}); err != nil {
		return fmt.Errorf("render kwok config: %w", err)
	}
	return os.WriteFile(filepath.Join(c.Dir, "kwok.yaml"), b.Bytes(), 0o600)
}
