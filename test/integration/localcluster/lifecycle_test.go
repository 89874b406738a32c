package localcluster_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"bokujo.io/bokujo/internal/localcluster"
	"bokujo.io/bokujo/test/framework"
)

func start(t *testing.T, name, dir string, nodes ...localcluster.NodeSpec) *localcluster.Cluster {
	t.Helper()
	c, err := localcluster.Start(context.Background(), localcluster.Options{Name: name, Dir: dir, Nodes: nodes, StartTimeout: framework.Long})
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	return c
}

// alive reports whether a process exists (and is not a zombie).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat))
	return len(fields) < 3 || fields[2] != "Z"
}

func assertGone(t *testing.T, pids map[string]int) {
	t.Helper()
	framework.Eventually(t, framework.Short, func() error {
		for name, pid := range pids {
			if alive(pid) {
				return fmt.Errorf("%s (pid %d) still runs", name, pid)
			}
		}
		return nil
	})
}

func TestRestartKeepsDataAndStopLeavesNoProcess(t *testing.T) {
	dir := t.TempDir()
	c := start(t, "restart", dir, localcluster.CPUNodes("restart-node", 1)...)
	pids := c.PIDs()
	if len(pids) != len(localcluster.Components) {
		t.Fatalf("running components %v, want %v", pids, localcluster.Components)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "survivor"}, Data: map[string]string{"k": "v"}}
	if _, err := c.Client().CoreV1().ConfigMaps("default").Create(context.Background(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// A second instance on the same directory is refused while it runs.
	_, err := localcluster.Start(context.Background(), localcluster.Options{Name: "restart", Dir: dir})
	if !errors.Is(err, localcluster.ErrLocked) {
		t.Fatalf("second start on a running dir: got %v, want ErrLocked", err)
	}

	c.Stop()
	assertGone(t, pids)

	c = start(t, "restart", dir)
	defer c.Stop()
	got, err := c.Client().CoreV1().ConfigMaps("default").Get(context.Background(), "survivor", metav1.GetOptions{})
	if err != nil || got.Data["k"] != "v" {
		t.Fatalf("object lost across restart: %v %v", got, err)
	}
	nodes, err := c.Client().CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil || len(nodes.Items) != 1 {
		t.Fatalf("nodes after restart: %v (%d)", err, len(nodes.Items))
	}
}

func TestCorruptStateIsReported(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cluster.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := localcluster.Start(context.Background(), localcluster.Options{Name: "corrupt", Dir: dir})
	if !errors.Is(err, localcluster.ErrCorruptState) || !strings.Contains(err.Error(), "cluster.json") {
		t.Fatalf("got %v, want ErrCorruptState naming cluster.json", err)
	}
}

// TestKilledParentLeavesNoProcess starts a cluster in a child process (this
// test binary, re-executed), kills that child with SIGKILL and checks that
// every component dies with it.
func TestKilledParentLeavesNoProcess(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childDirEnv+"="+dir)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pids := map[string]int{}
	sc := bufio.NewScanner(stdout)
	deadline := time.AfterFunc(framework.Long, func() { _ = cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "PID "); ok {
			f := strings.Fields(rest)
			pid, _ := strconv.Atoi(f[1])
			pids[f[0]] = pid
		}
		if line == "READY" {
			break
		}
	}
	if len(pids) != len(localcluster.Components) {
		t.Fatalf("child reported %v", pids)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	assertGone(t, pids)
}

// childDirEnv makes the test binary act as the child of
// TestKilledParentLeavesNoProcess: start a cluster in that directory, print
// the component pids and wait to be killed.
const childDirEnv = "BOKUJO_TEST_CHILD_DIR"

func runChildCluster(dir string) int {
	c, err := localcluster.Start(context.Background(), localcluster.Options{Name: "orphan", Dir: dir, StartTimeout: framework.Long})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	for name, pid := range c.PIDs() {
		fmt.Printf("PID %s %d\n", name, pid)
	}
	fmt.Println("READY")
	time.Sleep(framework.Long) // killed by the parent long before
	c.Stop()
	return 1
}
