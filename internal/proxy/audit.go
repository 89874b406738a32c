package proxy

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"time"
)

// AuditRecord describes one proxied request after it completed. It never
// holds bodies, headers or credentials: only who did what where, and how it
// ended.
type AuditRecord struct {
	Time time.Time `json:"time"`
	// User and Groups are bokujo's names, without UserPrefix and GroupPrefix; empty
	// when the request was not authenticated.
	User    string   `json:"user,omitempty"`
	Groups  []string `json:"groups,omitempty"`
	Cluster string   `json:"cluster,omitempty"`
	// Verb is the Kubernetes verb (get, list, watch, create, update, patch,
	// delete, deletecollection) for resource requests, the lower-case HTTP
	// method otherwise.
	Verb        string `json:"verb,omitempty"`
	APIGroup    string `json:"apiGroup,omitempty"`
	APIVersion  string `json:"apiVersion,omitempty"`
	Resource    string `json:"resource,omitempty"`
	Subresource string `json:"subresource,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	Name        string `json:"name,omitempty"`
	// Path is set for non-resource requests (/version, /openapi/v3, …),
	// without the query.
	Path string `json:"path,omitempty"`
	// Code is the status sent to the client: 101 for an upgrade that was
	// switched, the proxy's own code when it answered itself.
	Code     int           `json:"code"`
	Latency  time.Duration `json:"latency"`
	SourceIP string        `json:"sourceIP,omitempty"`
}

// Auditor receives one record per request under /k8s/clusters/, after the
// request completed (for exec or a watch: when the stream ended). Record is
// called on the request's goroutine: it should hand the record off rather
// than block. It is also the hook for metrics: code, verb, cluster and
// latency are all there.
type Auditor interface {
	Record(ctx context.Context, rec AuditRecord)
}

// statusRecorder remembers the status sent to the client. It forwards
// Flush and the rest through Unwrap (http.ResponseController finds them),
// and implements Hijack itself because ReverseProxy writes the 101 of an
// upgrade straight onto the hijacked connection, past WriteHeader.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	// 1xx answers (100 Continue, 103 Early Hints) are not the final status.
	if s.code == 0 && code >= 200 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err == nil && s.code == 0 {
		s.code = http.StatusSwitchingProtocols
	}
	return conn, brw, err
}

func (s *statusRecorder) status() int {
	if s.code == 0 {
		// The handler returned without writing: net/http sends 200.
		return http.StatusOK
	}
	return s.code
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
