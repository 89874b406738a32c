package webkubectl

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestWrapperSetsLimits runs the limits wrapper (this test binary links
// the package, so it is one) in front of a shell that prints its limits.
func TestWrapperSetsLimits(t *testing.T) {
	l := Limits{CPUSeconds: 7, StreamingCPUSeconds: 70, MemoryBytes: 300 << 20, FileBytes: 5 << 20}
	for _, c := range []struct {
		streaming bool
		cpu       string
	}{{false, "7"}, {true, "70"}} {
		args := wrapperArgs(l, c.streaming, "/bin/sh", []string{"-c", "ulimit -t; ulimit -d; ulimit -f; ulimit -c; ulimit -n; nice"})
		out, err := exec.Command(os.Args[0], args...).CombinedOutput()
		if err != nil {
			t.Fatalf("wrapper: %v\n%s", err, out)
		}
		// sh prints data in KiB and file size in 512-byte blocks.
		want := []string{c.cpu, "307200", "10240", "0", "256", "19"}
		if got := strings.Fields(string(out)); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("limits %q, want %q", got, want)
		}
	}
}

// TestWrapperRefusesBadArguments: the wrapper never runs a program with
// limits it could not parse.
func TestWrapperRefusesBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{wrapperArg},
		{wrapperArg, "0", "1", "1", "/bin/true"},
		{wrapperArg, "x", "1", "1", "/bin/true"},
		{wrapperArg, "1", "-1", "1", "/bin/true"},
	} {
		cmd := exec.Command(os.Args[0], args...)
		out, err := cmd.CombinedOutput()
		if err == nil || cmd.ProcessState.ExitCode() != 126 || !strings.Contains(string(out), "bokujo terminal:") {
			t.Errorf("%q: %v %s", args, err, out)
		}
	}
}
