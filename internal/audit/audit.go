// Package audit writes bokujo's audit trail: one JSON line per proxied
// request and per management change, to a file rotated by size, and answers
// queries over it for the admin API. Records never hold bodies, tokens,
// headers or Secret data: the types below have no field for them.
package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"

	"bokujo.io/bokujo/internal/proxy"
)

// Record is one audit line.
type Record struct {
	Time time.Time `json:"time"`
	// Kind is "request" for a proxied Kubernetes request, "management" for
	// a change of bokujo's own objects, "terminal" for a command line typed
	// into the web terminal.
	Kind        string   `json:"kind"`
	User        string   `json:"user"`
	Groups      []string `json:"groups,omitempty"`
	Cluster     string   `json:"cluster,omitempty"`
	Verb        string   `json:"verb"`
	APIGroup    string   `json:"apiGroup,omitempty"`
	Resource    string   `json:"resource,omitempty"`
	Subresource string   `json:"subresource,omitempty"`
	Namespace   string   `json:"namespace,omitempty"`
	Name        string   `json:"name,omitempty"`
	Status      int      `json:"status"`
	LatencyMS   float64  `json:"latencyMs"`
	SourceIP    string   `json:"sourceIP,omitempty"`
	// Command is the argv of a terminal command line (never its input or
	// output).
	Command []string `json:"command,omitempty"`
}

// Options configure a Log.
type Options struct {
	// Path of the current file; rotated files sit beside it.
	Path string
	// MaxSizeMB before rotation (default 100), MaxBackups kept (default 10).
	MaxSizeMB, MaxBackups int
	Logger                *slog.Logger
}

// Log appends records to a rotated file. Writes are serialised and
// buffered by the OS; a failed write is logged, never returned to the
// request that caused it.
type Log struct {
	opts Options
	log  *slog.Logger
	mu   sync.Mutex
	out  *lumberjack.Logger
	enc  *json.Encoder
}

// Open prepares the audit file (creating its directory).
func Open(opts Options) (*Log, error) {
	if opts.Path == "" {
		return nil, errors.New("open audit log: no path")
	}
	if err := os.MkdirAll(filepath.Dir(opts.Path), 0o700); err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	if opts.MaxSizeMB == 0 {
		opts.MaxSizeMB = 100
	}
	if opts.MaxBackups == 0 {
		opts.MaxBackups = 10
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	out := &lumberjack.Logger{Filename: opts.Path, MaxSize: opts.MaxSizeMB, MaxBackups: opts.MaxBackups, LocalTime: false}
	return &Log{opts: opts, log: log, out: out, enc: json.NewEncoder(out)}, nil
}

// Close flushes and closes the file.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.out.Close()
}

// Write appends one record.
func (l *Log) Write(rec Record) {
	if rec.Time.IsZero() {
		rec.Time = time.Now()
	}
	rec.Time = rec.Time.UTC()
	l.mu.Lock()
	err := l.enc.Encode(rec)
	l.mu.Unlock()
	if err != nil {
		l.log.Error("audit write failed", "err", err)
	}
}

// Record implements proxy.Auditor.
func (l *Log) Record(_ context.Context, r proxy.AuditRecord) {
	l.Write(Record{
		Time: r.Time, Kind: "request", User: r.User, Groups: r.Groups, Cluster: r.Cluster, Verb: r.Verb,
		APIGroup: r.APIGroup, Resource: r.Resource, Subresource: r.Subresource, Namespace: r.Namespace,
		Name: r.Name, Status: r.Code, LatencyMS: float64(r.Latency.Microseconds()) / 1000, SourceIP: r.SourceIP,
	})
}

var _ proxy.Auditor = (*Log)(nil)

// Query selects records; zero fields match everything.
type Query struct {
	User, Cluster, Kind string
	// Verb matches the record's verb exactly (get, list, create, ...).
	Verb         string
	Since, Until time.Time
	// Limit bounds the answer (default 100, at most 1000); the newest
	// records come first.
	Limit int
}

// MaxQueryLimit bounds one answer.
const MaxQueryLimit = 1000

// Search reads the current and rotated files, newest first, and returns up
// to q.Limit matching records, newest first.
func (l *Log) Search(q Query) ([]Record, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	q.Limit = min(q.Limit, MaxQueryLimit)
	files, err := l.files()
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, f := range files {
		recs, err := readFile(f, q)
		if err != nil {
			return nil, err
		}
		// Each file is in time order; walk it backwards for newest first.
		for i := len(recs) - 1; i >= 0 && len(out) < q.Limit; i-- {
			out = append(out, recs[i])
		}
		if len(out) >= q.Limit {
			break
		}
	}
	return out, nil
}

// files lists the current file first, then rotated ones newest first.
func (l *Log) files() ([]string, error) {
	dir, base := filepath.Dir(l.opts.Path), filepath.Base(l.opts.Path)
	ext := filepath.Ext(base)
	prefix := strings.TrimSuffix(base, ext) + "-"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list audit files: %w", err)
	}
	var rotated []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) && strings.HasSuffix(e.Name(), ext) {
			rotated = append(rotated, filepath.Join(dir, e.Name()))
		}
	}
	// lumberjack names backups with a sortable timestamp.
	sort.Sort(sort.Reverse(sort.StringSlice(rotated)))
	return append([]string{l.opts.Path}, rotated...), nil
}

func readFile(path string, q Query) ([]Record, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read audit file: %w", err)
	}
	defer f.Close()
	var out []Record
	r := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			var rec Record
			if json.Unmarshal(line, &rec) == nil && q.matches(rec) {
				out = append(out, rec)
			}
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read audit file: %w", err)
		}
	}
}

func (q Query) matches(r Record) bool {
	return (q.User == "" || r.User == q.User) &&
		(q.Cluster == "" || r.Cluster == q.Cluster) &&
		(q.Kind == "" || r.Kind == q.Kind) &&
		(q.Verb == "" || r.Verb == q.Verb) &&
		(q.Since.IsZero() || !r.Time.Before(q.Since)) &&
		(q.Until.IsZero() || r.Time.Before(q.Until))
}
