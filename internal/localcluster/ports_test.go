package localcluster

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestAssignPortsKeepsFreeAndReplacesTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busy := taken.Addr().(*net.TCPAddr).Port
	var p ports
	if changed, err := assignPorts(&p); err != nil || !changed {
		t.Fatalf("first assignment: changed=%v err=%v", changed, err)
	}
	seen := map[int]bool{}
	for _, v := range p.all() {
		if *v == 0 || seen[*v] {
			t.Fatalf("ports not distinct and set: %+v", p)
		}
		seen[*v] = true
	}
	keep := p.Scheduler
	p.APIServer = busy
	if changed, err := assignPorts(&p); err != nil || !changed {
		t.Fatalf("reassignment: changed=%v err=%v", changed, err)
	}
	if p.APIServer == busy || p.Scheduler != keep {
		t.Fatalf("taken port kept or free port moved: %+v (busy %d)", p, busy)
	}
}

func TestFailureMarksPortTaken(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "c.log")
	os.WriteFile(log, []byte("listen tcp 127.0.0.1:"+strconv.Itoa(1234)+": bind: address already in use\n"), 0o600)
	p := &process{name: "etcd", logPath: log, err: errors.New("exit status 1")}
	if err := p.failure(); !errors.Is(err, errPortTaken) {
		t.Fatalf("got %v, want errPortTaken", err)
	}
	os.WriteFile(log, []byte("some other failure\n"), 0o600)
	if err := p.failure(); errors.Is(err, errPortTaken) {
		t.Fatalf("unrelated failure marked as port taken: %v", err)
	}
}

func TestFindBinDirNamesTheFix(t *testing.T) {
	_, err := FindBinDir(t.TempDir())
	if !errors.Is(err, ErrMissingBinary) || !strings.Contains(err.Error(), "make binaries") {
		t.Fatalf("got %v", err)
	}
}

func TestValidateNameAndNodeSpec(t *testing.T) {
	for _, bad := range []string{"", "UPPER", "-x", "a_b", "this-name-is-far-too-long-for-a-cluster"} {
		if ValidateName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, bad := range []NodeSpec{{Name: "Bad_Name"}, {Name: "n", CPU: "lots"}, {Name: "n", Memory: "-1Gi"}, {Name: "n", GPUs: -1},
		{Name: "n", Labels: map[string]string{"bad key!": "v"}}} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	n := NodeSpec{Name: "g", GPUs: 4}.Node()
	if q := n.Status.Capacity[GPUResource]; q.Value() != 4 || n.Labels[GPUProductLabel] != DefaultGPUProduct || n.Annotations[FakeNodeAnnotation] != "fake" {
		t.Fatalf("gpu node: %+v", n)
	}
}
