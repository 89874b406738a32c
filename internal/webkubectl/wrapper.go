package webkubectl

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
)

// wrapperArg, as the first argument of a binary that links this package,
// turns the process into the limits wrapper: it sets resource limits on
// itself, then replaces itself with kubectl. Go's os/exec cannot set
// rlimits on a child (SysProcAttr has no field for them) and changing the
// server's own limits around a fork would race with every other session,
// so the server starts its own executable in this mode instead of relying
// on a prlimit binary that may not exist where bokujo runs.
const wrapperArg = "__bokujo-webkubectl-exec"

// niceness of kubectl processes (0 is normal, 19 the lowest priority).
const niceness = 19

// The wrapper runs from init so that it works in every binary that links
// the package (bokujo itself and test binaries) before anything else of
// the program starts.
func init() {
	if len(os.Args) > 1 && os.Args[1] == wrapperArg {
		if err := wrapperMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bokujo terminal:", err)
			os.Exit(126)
		}
	}
}

// wrapperArgs renders the wrapper's command line.
func wrapperArgs(l Limits, streaming bool, kubectl string, args []string) []string {
	cpu := l.CPUSeconds
	if streaming {
		cpu = l.StreamingCPUSeconds
	}
	out := []string{wrapperArg, strconv.FormatUint(cpu, 10), strconv.FormatUint(l.MemoryBytes, 10), strconv.FormatUint(l.FileBytes, 10), kubectl}
	return append(out, args...)
}

// wrapperMain: cpu-seconds memory-bytes file-bytes kubectl-path args...
func wrapperMain(args []string) error {
	if len(args) < 4 {
		return fmt.Errorf("usage: %s cpu-seconds memory-bytes file-bytes program [args...]", wrapperArg)
	}
	// Linux keeps the nice value per thread: set it and exec on one.
	runtime.LockOSThread()
	var vals [3]uint64
	for i := range vals {
		v, err := strconv.ParseUint(args[i], 10, 64)
		if err != nil || v == 0 {
			return fmt.Errorf("invalid limit %q", args[i])
		}
		vals[i] = v
	}
	limits := []struct {
		res int
		val uint64
	}{
		{syscall.RLIMIT_CPU, vals[0]},
		// RLIMIT_DATA rather than RLIMIT_AS: Go reserves large address
		// ranges it never touches, which RLIMIT_AS would count; since
		// Linux 4.7 RLIMIT_DATA counts the private writable memory a
		// process really maps.
		{syscall.RLIMIT_DATA, vals[1]},
		{syscall.RLIMIT_FSIZE, vals[2]},
		{syscall.RLIMIT_CORE, 0},
		{syscall.RLIMIT_NOFILE, 256},
	}
	for _, l := range limits {
		if err := syscall.Setrlimit(l.res, &syscall.Rlimit{Cur: l.val, Max: l.val}); err != nil {
			return fmt.Errorf("set limit %d: %w", l.res, err)
		}
	}
	// kubectl yields the CPU to the server: many terminals busy at once
	// must not slow the API everyone else uses.
	if err := syscall.Setpriority(syscall.PRIO_PROCESS, 0, niceness); err != nil {
		return fmt.Errorf("lower priority: %w", err)
	}
	return syscall.Exec(args[3], args[3:], os.Environ())
}
