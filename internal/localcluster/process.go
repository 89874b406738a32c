package localcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// process is one running component with its log file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error // set before done is closed
}

// startProcess runs bin with args, appending its output to logPath. The child
// gets its own process group (so Stop can signal everything it spawned) and
// PR_SET_PDEATHSIG, so the kernel kills it if bokujo dies without Stop.
func startProcess(name, bin string, args []string, logPath string, env []string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", name, err)
	}
	fmt.Fprintf(logFile, "\n==== %s starting %s %s\n", time.Now().Format(time.RFC3339), bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group and waits up to grace before
// killing the group.
func (p *process) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// Anything the component forked and left behind in its group goes too.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// failure describes an early exit with the end of the component's log, so
// the user sees the component's own reason (e.g. "address already in use").
func (p *process) failure() error {
	logTail := tail(p.logPath, 15)
	err := fmt.Errorf("%s exited (%v); last log lines from %s:\n%s", p.name, p.err, p.logPath, logTail)
	if strings.Contains(logTail, "address already in use") {
		return fmt.Errorf("%w: %w", errPortTaken, err)
	}
	return err
}

func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return "  (no log: " + err.Error() + ")"
	}
	defer f.Close()
	const maxRead = 64 << 10
	if st, err := f.Stat(); err == nil && st.Size() > maxRead {
		_, _ = f.Seek(st.Size()-maxRead, io.SeekStart)
	}
	data, _ := io.ReadAll(f)
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("  ")
		b.Write(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// ErrMissingBinary is returned when a control-plane binary is not built.
var ErrMissingBinary = errors.New("control-plane binary missing")

// Components are the binaries a cluster needs, in start order.
var Components = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

// FindBinDir returns the directory holding the control-plane binaries: dir
// when given, else $BOKUJO_BIN_DIR, else the directory of the running
// executable, else ./bin or a bin/ beside the nearest go.mod above the
// working directory (so `go test` in any package finds them).
func FindBinDir(dir string) (string, error) {
	var candidates []string
	if dir != "" {
		candidates = []string{dir}
	} else {
		if env := os.Getenv("BOKUJO_BIN_DIR"); env != "" {
			candidates = append(candidates, env)
		} else {
			if exe, err := os.Executable(); err == nil {
				candidates = append(candidates, filepath.Dir(exe))
			}
			if wd, err := os.Getwd(); err == nil {
				for d := wd; ; d = filepath.Dir(d) {
					candidates = append(candidates, filepath.Join(d, "bin"))
					if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil && !strings.Contains(d, string(filepath.Separator)+"hack") {
						break
					}
					if filepath.Dir(d) == d {
						break
					}
				}
			}
		}
	}
	for _, c := range candidates {
		if hasAll(c) {
			return c, nil
		}
	}
	where := strings.Join(candidates, ", ")
	for _, c := range candidates {
		for _, name := range Components {
			if _, err := os.Stat(filepath.Join(c, name)); err != nil {
				return "", fmt.Errorf("%w: %s not found in %s: run `make binaries` (or set BOKUJO_BIN_DIR)", ErrMissingBinary, name, c)
			}
		}
	}
	return "", fmt.Errorf("%w: looked in %s: run `make binaries` (or set BOKUJO_BIN_DIR)", ErrMissingBinary, where)
}

func hasAll(dir string) bool {
	for _, name := range Components {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return false
		}
	}
	_, err := os.Stat(filepath.Join(dir, "kwok-stages"))
	return err == nil
}

// waitFor polls check every interval until it returns true, an error, ctx
// ends, or one of procs exits.
func waitFor(ctx context.Context, interval time.Duration, procs []*process, check func(context.Context) (bool, error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for _, p := range procs {
			if p.exited() {
				return p.failure()
			}
		}
		ok, err := check(ctx)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
