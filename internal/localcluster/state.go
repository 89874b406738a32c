package localcluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"time"
)

const stateVersion = 1

// state is what cluster.json records so a restart finds the same cluster.
type state struct {
	Version int       `json:"version"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	Ports   ports     `json:"ports"`
	// Nodes are the simulated nodes the cluster was created with. They are
	// created on the first start only, so a node deleted by hand stays gone.
	Nodes []NodeSpec `json:"nodes,omitempty"`
}

type ports struct {
	EtcdClient        int `json:"etcdClient"`
	EtcdPeer          int `json:"etcdPeer"`
	APIServer         int `json:"apiServer"`
	ControllerManager int `json:"controllerManager"`
	Scheduler         int `json:"scheduler"`
	Kwok              int `json:"kwok"`
}

func (p *ports) all() []*int {
	return []*int{&p.EtcdClient, &p.EtcdPeer, &p.APIServer, &p.ControllerManager, &p.Scheduler, &p.Kwok}
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$`)

// ValidateName checks a cluster name: a DNS label of at most 32 characters.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("invalid cluster name %q: use 1-32 lower-case letters, digits and '-', starting and ending with a letter or digit", name)
	}
	return nil
}

// ErrCorruptState means cluster.json exists but cannot be used.
var ErrCorruptState = errors.New("cluster state is corrupt")

func readState(dir string) (*state, error) {
	data, err := os.ReadFile(filepath.Join(dir, "cluster.json"))
	if err != nil {
		return nil, err
	}
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorruptState, filepath.Join(dir, "cluster.json"), err)
	}
	if s.Version != stateVersion {
		return nil, fmt.Errorf("%w: %s has version %d, this bokujo understands %d", ErrCorruptState, filepath.Join(dir, "cluster.json"), s.Version, stateVersion)
	}
	for _, p := range s.Ports.all() {
		if *p <= 0 || *p > 65535 {
			return nil, fmt.Errorf("%w: %s has an invalid port %d", ErrCorruptState, filepath.Join(dir, "cluster.json"), *p)
		}
	}
	return &s, nil
}

func writeState(dir string, s *state) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode cluster state: %w", err)
	}
	tmp := filepath.Join(dir, "cluster.json.tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write cluster state: %w", err)
	}
	return os.Rename(tmp, filepath.Join(dir, "cluster.json"))
}

// assignPorts keeps recorded ports that are still free and picks new free
// ports for the rest. It reports whether anything changed.
func assignPorts(p *ports) (bool, error) {
	changed := false
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for _, port := range p.all() {
		if *port != 0 {
			if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(*port)); err == nil {
				held = append(held, l)
				continue
			}
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return false, fmt.Errorf("find a free port: %w", err)
		}
		held = append(held, l)
		*port = l.Addr().(*net.TCPAddr).Port
		changed = true
	}
	return changed, nil
}

// ErrLocked means another process runs this cluster (or state dir).
var ErrLocked = errors.New("in use by another process")

// Lock is an exclusive advisory lock on a directory, held by a running
// process. The kernel drops it when the process dies, so a crash never leaves
// a stale lock behind.
type Lock struct{ f *os.File }

// LockDir takes dir/lock or fails at once naming the holder's pid.
func LockDir(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(path)
		f.Close()
		holder := string(pid)
		if holder == "" {
			holder = "unknown"
		}
		return nil, fmt.Errorf("%s is %w (pid %s): stop that bokujo first, or use another directory", dir, ErrLocked, holder)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())), 0)
	return &Lock{f: f}, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() {
	if l == nil || l.f == nil {
		return
	}
	_ = l.f.Truncate(0)
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
	l.f = nil
}

// Summary describes a cluster directory without starting it.
type Summary struct {
	Name       string
	Running    bool
	Nodes      int
	GPUs       int
	Kubeconfig string
}

// Inspect reads a cluster directory; Running is true while a process holds
// its lock.
func Inspect(dir string) (Summary, error) {
	st, err := readState(dir)
	if err != nil {
		return Summary{}, err
	}
	s := Summary{Name: st.Name, Nodes: len(st.Nodes), Kubeconfig: filepath.Join(dir, "kubeconfig")}
	for _, n := range st.Nodes {
		s.GPUs += n.GPUs
	}
	if l, err := LockDir(dir); err != nil {
		s.Running = errors.Is(err, ErrLocked)
	} else {
		l.Unlock()
	}
	return s, nil
}
