// Package server is bokujo's HTTPS front door: one listener for the web UI,
// the /v1 API and the /k8s/clusters proxy. It owns TLS, routing and health.
package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"time"

	"bokujo.io/bokujo/internal/version"
)

// Check is a named readiness check.
type Check struct {
	Name string
	Fn   func(context.Context) error
}

// Options configure the server.
type Options struct {
	// Addr is host:port to listen on.
	Addr        string
	Certificate tls.Certificate
	Logger      *slog.Logger
	// ReadyChecks must all pass for /readyz to answer ok.
	ReadyChecks []Check
	// Wrap, if set, wraps the mux. The proxy uses it to see /k8s/clusters/
	// paths before the mux, which would answer `..` and `//` with a
	// redirect instead of the refusal they deserve.
	Wrap func(http.Handler) http.Handler
}

// Server serves bokujo over HTTPS.
type Server struct {
	opts     Options
	log      *slog.Logger
	mux      *http.ServeMux
	srv      *http.Server
	listener net.Listener
	done     chan error
}

// New builds a server; Start listens.
func New(opts Options) *Server {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, log: log, mux: http.NewServeMux(), done: make(chan error, 1)}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeText(w, http.StatusOK, "ok") })
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.HandleFunc("GET /version", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, version.Get()) })
	return s
}

// Handle registers a handler on the server's mux (before Start).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// ErrAddressInUse means another program listens on the address.
var ErrAddressInUse = errors.New("address in use")

// Start listens and serves in the background.
func (s *Server) Start() error {
	l, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("listen on %s: %w by another program: stop it or choose another --port", s.opts.Addr, ErrAddressInUse)
		}
		return fmt.Errorf("listen on %s: %w", s.opts.Addr, err)
	}
	s.listener = l
	var handler http.Handler = s.mux
	if s.opts.Wrap != nil {
		handler = s.opts.Wrap(handler)
	}
	s.srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		// Bounded headers: a hostile client cannot make the server buffer
		// megabytes before authentication.
		MaxHeaderBytes: 64 << 10,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{s.opts.Certificate},
			MinVersion:   tls.VersionTLS12,
			NextProtos:   []string{"h2", "http/1.1"},
		},
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	go func() {
		err := s.srv.ServeTLS(l, "", "")
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	s.log.Info("serving", "address", l.Addr().String())
	return nil
}

// Addr is the address the server listens on (after Start).
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Done yields the serving error (nil after Shutdown).
func (s *Server) Done() <-chan error { return s.done }

// Shutdown stops accepting and waits for requests in flight, up to ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Shutdown(ctx)
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	for _, c := range s.opts.ReadyChecks {
		if err := c.Fn(ctx); err != nil {
			writeText(w, http.StatusServiceUnavailable, fmt.Sprintf("%s: not ready: %v", c.Name, err))
			return
		}
	}
	writeText(w, http.StatusOK, "ok")
}

func writeText(w http.ResponseWriter, code int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(text + "\n"))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
