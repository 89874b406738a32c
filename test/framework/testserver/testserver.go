// Package testserver starts a whole bokujo server (app.Start) in the test
// process against a framework cluster used as the management cluster, with
// its own CA, a free loopback port and its logs captured, so that tests can
// also assert what the server never logs.
package testserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"bokujo.io/bokujo/internal/app"
	"bokujo.io/bokujo/internal/clusters"
	"bokujo.io/bokujo/internal/pki"
)

// Server is a running bokujo server.
type Server struct {
	App *app.App
	// URL is https://127.0.0.1:port; Host is 127.0.0.1:port.
	URL, Host string
	// CA trusts the server's certificate; CAFile holds it as PEM.
	CA     *x509.CertPool
	CAFile string
	// Dir is the server's data directory (audit log under audit/).
	Dir string
	// Logs is everything the server logged, at debug level, as JSON lines.
	Logs *SyncBuffer
}

// Start starts a server on mgmt; options adjust app.Options before start.
// The server stops when the test ends.
func Start(t testing.TB, mgmt *rest.Config, options ...func(*app.Options)) *Server {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.NewCA("test-bokujo-ca")
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ca.Issue(pki.Spec{CommonName: "bokujo", DNSNames: []string{"localhost"}, IPs: []net.IP{net.ParseIP("127.0.0.1")}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	l.Close()
	logs := &SyncBuffer{}
	opts := app.Options{
		Management: mgmt, Listen: host, Certificate: cert, CACertPEM: ca.CertPEM, DataDir: dir,
		HealthInterval: time.Second, SeveralPerProcess: true,
		ClusterPolicy: clusters.Policy{AllowLoopback: true, ServerAddrs: []string{host}},
		Logger:        slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, o := range options {
		o(&opts)
	}
	a, err := app.Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("start bokujo: %v", err)
	}
	t.Cleanup(a.Stop)
	caFile := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caFile, ca.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	return &Server{App: a, URL: "https://" + host, Host: host, CA: pool, CAFile: caFile, Dir: dir, Logs: logs}
}

// HTTPClient trusts the server's CA.
func (s *Server) HTTPClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.CA}}}
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ManagementClient is a controller-runtime client for bokujo's objects in
// a management cluster.
func ManagementClient(t testing.TB, cfg *rest.Config) client.Client {
	t.Helper()
	scheme, err := app.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
