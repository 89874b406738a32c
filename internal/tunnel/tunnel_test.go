package tunnel

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// echoServer echoes lines; it stands for the cluster's API server.
func echoServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return l.Addr().String()
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTunnelCarriesAllowedConnectionsOnly(t *testing.T) {
	target := echoServer(t)
	forbidden := echoServer(t)
	srv := NewServer(nil)
	var mu sync.Mutex
	changes := map[string]int{}
	srv.OnChange = func(c string) { mu.Lock(); changes[c]++; mu.Unlock() }
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { srv.Serve(w, r, "c1") }))
	defer hs.Close()
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuf{}
	var connects sync.WaitGroup
	connects.Add(1)
	var once sync.Once
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, ClientOptions{
			URL: "wss" + strings.TrimPrefix(hs.URL, "https"), TLS: hs.Client().Transport.(*http.Transport).TLSClientConfig,
			Allow:      func(network, addr string) bool { return network == "tcp" && addr == target },
			OnConnect:  func() { once.Do(connects.Done) },
			MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(logs, nil)),
		})
	}()
	connects.Wait()
	waitFor(t, "session", func() bool { return srv.Connected("c1") })
	if srv.Connected("c2") {
		t.Fatal("c2 connected without an agent")
	}

	conn, err := srv.Dial(ctx, "c1", "tcp", target)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(conn, "hello through the tunnel")
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || line != "hello through the tunnel\n" {
		t.Fatalf("echo: %q %v", line, err)
	}
	conn.Close()

	if _, err := srv.Dial(ctx, "c1", "tcp", forbidden); err == nil || !strings.Contains(err.Error(), "agent refused") {
		t.Fatalf("dial a forbidden address: %v", err)
	}
	if _, err := srv.Dial(ctx, "c1", "udp", target); err == nil {
		t.Fatal("udp dialled")
	}
	if _, err := srv.Dial(ctx, "c2", "tcp", target); err == nil || !strings.Contains(err.Error(), ErrNoSession.Error()) {
		t.Fatalf("dial without a session: %v", err)
	}

	// The server drops the session; the agent comes back by itself.
	srv.Disconnect("c1")
	waitFor(t, "reconnect", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return changes["c1"] >= 3 && srv.Connected("c1")
	})
	if !strings.Contains(logs.String(), "retrying") || !strings.Contains(logs.String(), "attempt=") {
		t.Fatalf("reconnect not logged:\n%s", logs)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	waitFor(t, "disconnect", func() bool { return !srv.Connected("c1") })
}

func TestRefusalMessageIsLogged(t *testing.T) {
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"code":"Unauthorized","message":"agent credential refused: reinstall"}}`)
	}))
	defer hs.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuf{}
	go func() {
		_ = Run(ctx, ClientOptions{URL: "wss" + strings.TrimPrefix(hs.URL, "https"), TLS: hs.Client().Transport.(*http.Transport).TLSClientConfig,
			Allow: func(string, string) bool { return false }, MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(logs, nil))})
	}()
	waitFor(t, "refusal in the log", func() bool {
		return strings.Contains(logs.String(), "server refused the agent (HTTP 401): agent credential refused: reinstall")
	})
}
