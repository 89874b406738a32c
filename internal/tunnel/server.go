package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/yamux"
)

// ErrNoSession means no agent of the cluster is connected to this server.
var ErrNoSession = errors.New("agent not connected")

// Server holds the agents' sessions, one list per cluster (the newest is
// used; an older one stays until it closes, so an agent restarting does
// not cut requests in flight).
type Server struct {
	// OnChange is called (in its own goroutine) after a cluster's agent
	// connects or disconnects.
	OnChange func(cluster string)
	Logger   *slog.Logger

	upgrader websocket.Upgrader

	mu       sync.Mutex
	sessions map[string][]*yamux.Session
	closed   bool
}

// NewServer returns a server with no sessions.
func NewServer(log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{Logger: log, sessions: map[string][]*yamux.Session{},
		upgrader: websocket.Upgrader{
			HandshakeTimeout: 10 * time.Second,
			// Agents are programs, not browsers: a request with an Origin
			// header is a page trying to open the tunnel.
			CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == "" },
		}}
}

// Serve upgrades an already authenticated agent request for cluster and
// serves the session until it ends.
func (s *Server) Serve(w http.ResponseWriter, r *http.Request, cluster string) {
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// The upgrader has answered with an HTTP error already.
		s.Logger.Info("agent tunnel upgrade failed", "cluster", cluster, "err", err)
		return
	}
	sess, err := yamux.Client(newWSConn(ws), yamuxConfig())
	if err != nil {
		ws.Close()
		s.Logger.Error("agent tunnel session", "cluster", cluster, "err", err)
		return
	}
	if !s.add(cluster, sess) {
		sess.Close()
		return
	}
	s.Logger.Info("agent connected", "cluster", cluster, "remote", r.RemoteAddr)
	s.changed(cluster)
	<-sess.CloseChan()
	s.remove(cluster, sess)
	s.Logger.Info("agent disconnected", "cluster", cluster, "remote", r.RemoteAddr)
	s.changed(cluster)
}

func (s *Server) changed(cluster string) {
	if s.OnChange != nil {
		go s.OnChange(cluster)
	}
}

func (s *Server) add(cluster string, sess *yamux.Session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.sessions[cluster] = append(s.sessions[cluster], sess)
	return true
}

func (s *Server) remove(cluster string, sess *yamux.Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.sessions[cluster]
	for i, x := range list {
		if x == sess {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(s.sessions, cluster)
	} else {
		s.sessions[cluster] = list
	}
}

func (s *Server) newest(cluster string) *yamux.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.sessions[cluster]
	for i := len(list) - 1; i >= 0; i-- {
		if !list[i].IsClosed() {
			return list[i]
		}
	}
	return nil
}

// Connected reports whether an agent of cluster holds a session here.
func (s *Server) Connected(cluster string) bool { return s.newest(cluster) != nil }

// Dial opens a connection to address inside cluster through its agent.
func (s *Server) Dial(ctx context.Context, cluster, network, address string) (net.Conn, error) {
	if network != "tcp" && network != "tcp4" && network != "tcp6" {
		return nil, fmt.Errorf("dial %s through the agent of %s: only tcp is tunnelled", address, cluster)
	}
	sess := s.newest(cluster)
	if sess == nil {
		return nil, fmt.Errorf("dial %s in cluster %s: %w", address, cluster, ErrNoSession)
	}
	stream, err := sess.OpenStream()
	if err != nil {
		return nil, fmt.Errorf("dial %s in cluster %s: open tunnel stream: %w", address, cluster, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = stream.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = stream.SetDeadline(time.Now()) })
	defer stop()
	if err := writeLine(stream, "tcp %s", address); err != nil {
		stream.Close()
		return nil, fmt.Errorf("dial %s in cluster %s: %w", address, cluster, err)
	}
	line, err := readLine(stream)
	if err != nil {
		stream.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("dial %s in cluster %s: no answer from the agent: %w", address, cluster, err)
	}
	if line != okLine {
		stream.Close()
		return nil, fmt.Errorf("dial %s in cluster %s: agent refused: %s", address, cluster, strings.TrimPrefix(line, "ERR "))
	}
	_ = stream.SetDeadline(time.Time{})
	return stream, nil
}

// Dialer returns a dial function for cluster, as rest.Config.Dial wants.
// It looks the session up at each dial, so a transport built with it keeps
// working across reconnects.
func (s *Server) Dialer(cluster string) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		return s.Dial(ctx, cluster, network, address)
	}
}

// Disconnect closes every session of cluster (it was removed).
func (s *Server) Disconnect(cluster string) {
	s.mu.Lock()
	list := append([]*yamux.Session(nil), s.sessions[cluster]...)
	s.mu.Unlock()
	for _, sess := range list {
		sess.Close()
	}
}

// Close ends every session and refuses new ones.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	var all []*yamux.Session
	for _, list := range s.sessions {
		all = append(all, list...)
	}
	s.mu.Unlock()
	for _, sess := range all {
		sess.Close()
	}
}
