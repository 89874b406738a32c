package audit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bokujo.io/bokujo/internal/proxy"
)

func TestWriteSearchAndRotation(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Options{Path: filepath.Join(dir, "audit.log"), MaxSizeMB: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// ~2.5 MB of records forces at least two rotations at 1 MB.
	for i := 0; i < 12000; i++ {
		user := []string{"alice", "bob"}[i%2]
		l.Record(context.Background(), proxy.AuditRecord{
			Time: start.Add(time.Duration(i) * time.Second), User: user, Groups: []string{"ml"}, Cluster: "dev",
			Verb: "get", Resource: "pods", Namespace: "ml-a", Name: fmt.Sprintf("pod-%d", i), Code: 200,
			Latency: 1500 * time.Microsecond, SourceIP: "127.0.0.1", Path: "/api/v1/namespaces/ml-a/pods/x",
		})
	}
	files, _ := filepath.Glob(filepath.Join(dir, "audit*.log"))
	if len(files) < 3 {
		t.Fatalf("want rotation into several files, got %v", files)
	}
	got, err := l.Search(Query{User: "bob", Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || got[0].Name != "pod-11999" || got[4].Name != "pod-11991" {
		t.Fatalf("newest bob records: %+v", got)
	}
	// A range that lies in a rotated file.
	got, err = l.Search(Query{Since: start.Add(10 * time.Second), Until: start.Add(13 * time.Second), Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Name != "pod-12" || got[2].Name != "pod-10" {
		t.Fatalf("time range: %+v", got)
	}
	if got[0].LatencyMS != 1.5 || got[0].Kind != "request" {
		t.Fatalf("record fields: %+v", got[0])
	}
	if got, _ := l.Search(Query{Verb: "delete", Limit: 100}); len(got) != 0 {
		t.Fatalf("verb filter let through other verbs: %+v", got)
	}
	if got, _ := l.Search(Query{Verb: "get", User: "alice", Limit: 2}); len(got) != 2 || got[0].Name != "pod-11998" {
		t.Fatalf("verb filter: %+v", got)
	}
	if got, _ := l.Search(Query{Limit: 1_000_000}); len(got) != MaxQueryLimit {
		t.Fatalf("limit not bounded: %d", len(got))
	}
}

// TestRecordsHoldNoSecrets checks that nothing but the listed fields is
// written: the request path (which may carry a token in a query) is not.
func TestRecordsHoldNoSecrets(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Options{Path: filepath.Join(dir, "audit.log")})
	if err != nil {
		t.Fatal(err)
	}
	l.Record(context.Background(), proxy.AuditRecord{User: "alice", Verb: "get", Path: "/api/v1/pods?token=bokujo_secret_value", Code: 200})
	l.Close()
	data, err := os.ReadFile(filepath.Join(dir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "bokujo_secret_value") || strings.Contains(string(data), "path") {
		t.Fatalf("audit line holds the path: %s", data)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(Options{}); err == nil {
		t.Fatal("no path accepted")
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	if _, err := Open(Options{Path: filepath.Join(f, "audit.log")}); err == nil {
		t.Fatal("path under a file accepted")
	}
}
