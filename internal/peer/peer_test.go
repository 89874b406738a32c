package peer

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"bokujo.io/bokujo/internal/tunnel"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// echo stands for a cluster's API server.
func echo(t *testing.T) string {
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

// holder is a replica holding cluster c1's tunnel to target, serving
// DialPath; it returns the replica's URL and a Mesh for the caller side.
func holder(t *testing.T, target string) (*Mesh, *Mesh, string) {
	t.Helper()
	local := tunnel.NewServer(nil)
	t.Cleanup(local.Close)
	held := &Mesh{opts: Options{Local: local, Key: testKey, Now: time.Now, Logger: discard()}}
	mux := http.NewServeMux()
	mux.HandleFunc("/agent", func(w http.ResponseWriter, r *http.Request) { local.Serve(w, r, "c1") })
	mux.Handle(DialPath, held)
	hs := httptest.NewTLSServer(mux)
	t.Cleanup(hs.Close)
	tlsConf := hs.Client().Transport.(*http.Transport).TLSClientConfig
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		_ = tunnel.Run(ctx, tunnel.ClientOptions{URL: "wss" + strings.TrimPrefix(hs.URL, "https") + "/agent", TLS: tlsConf,
			Allow: func(n, a string) bool { return a == target }, MinBackoff: 10 * time.Millisecond})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !local.Connected("c1") {
		if time.Now().After(deadline) {
			t.Fatal("agent did not connect")
		}
		time.Sleep(10 * time.Millisecond)
	}
	caller, err := New(Options{Local: tunnel.NewServer(nil), Client: noClient{}, Cache: noClient{}, Reader: noClient{},
		Namespace: "ns", URL: "https://127.0.0.1:1", TLS: tlsConf, Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	return held, caller, hs.URL
}

func TestRelayThroughHolder(t *testing.T) {
	target := echo(t)
	_, caller, url := holder(t, target)
	conn, err := caller.dialPeer(context.Background(), url, "c1", target)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range 3 {
		fmt.Fprintf(conn, "line %d through the other replica\n", i)
	}
	r := bufio.NewReader(conn)
	for i := range 3 {
		if got, err := r.ReadString('\n'); err != nil || got != fmt.Sprintf("line %d through the other replica\n", i) {
			t.Fatalf("echo %d: %q %v", i, got, err)
		}
	}
	// The holder's agent still decides what may be reached.
	if _, err := caller.dialPeer(context.Background(), url, "c1", echo(t)); err == nil || !strings.Contains(err.Error(), "HTTP 502") {
		t.Fatalf("dial of an address the agent refuses: %v", err)
	}
	// A cluster whose tunnel the holder does not have.
	if _, err := caller.dialPeer(context.Background(), url, "c2", target); err == nil || !strings.Contains(err.Error(), "HTTP 503") {
		t.Fatalf("dial of a cluster not held: %v", err)
	}
}

func TestDialEndpointRefusesWithoutTheReplicaKey(t *testing.T) {
	target := echo(t)
	held, _, url := holder(t, target)
	now := time.Now()
	q := "?cluster=c1&address=" + target
	for name, tc := range map[string]struct {
		query, auth string
		code        int
	}{
		"no header":            {q, "", http.StatusForbidden},
		"another key":          {q, Sign([]byte("another key of thirty-two bytes.."), "c1", target, now.Add(time.Minute)), http.StatusForbidden},
		"other cluster signed": {q, Sign(testKey, "c2", target, now.Add(time.Minute)), http.StatusForbidden},
		"other address signed": {q, Sign(testKey, "c1", "10.0.0.1:443", now.Add(time.Minute)), http.StatusForbidden},
		"expired":              {q, Sign(testKey, "c1", target, now.Add(-time.Second)), http.StatusForbidden},
		"too far ahead":        {q, Sign(testKey, "c1", target, now.Add(time.Hour)), http.StatusForbidden},
		"malformed":            {q, "v1.abc.def", http.StatusForbidden},
		"wrong version":        {q, strings.Replace(Sign(testKey, "c1", target, now.Add(time.Minute)), "v1.", "v0.", 1), http.StatusForbidden},
		"two clusters":         {q + "&cluster=c2", Sign(testKey, "c1", target, now.Add(time.Minute)), http.StatusBadRequest},
		"no address":           {"?cluster=c1", Sign(testKey, "c1", "", now.Add(time.Minute)), http.StatusBadRequest},
		"valid, no upgrade":    {q, Sign(testKey, "c1", target, now.Add(time.Minute)), http.StatusBadRequest},
	} {
		req := httptest.NewRequest("GET", url+DialPath+tc.query, nil)
		if tc.auth != "" {
			req.Header.Set(AuthHeader, tc.auth)
		}
		rec := httptest.NewRecorder()
		held.ServeHTTP(rec, req)
		if rec.Code != tc.code {
			t.Errorf("%s: want %d, got %d %s", name, tc.code, rec.Code, rec.Body)
		}
	}
}

func TestNewValidates(t *testing.T) {
	ok := Options{Local: tunnel.NewServer(nil), Client: noClient{}, Cache: noClient{}, Reader: noClient{}, Namespace: "ns", URL: "https://10.0.0.1:8443", Key: testKey}
	if _, err := New(ok); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Options){
		"no local":  func(o *Options) { o.Local = nil },
		"short key": func(o *Options) { o.Key = testKey[:16] },
		"http url":  func(o *Options) { o.URL = "http://10.0.0.1:8443" },
		"url path":  func(o *Options) { o.URL = "https://10.0.0.1:8443/x" },
		"no host":   func(o *Options) { o.URL = "https://" },
		"no ns":     func(o *Options) { o.Namespace = "" },
		"no reader": func(o *Options) { o.Reader = nil },
		"no cache":  func(o *Options) { o.Cache = nil },
		"no client": func(o *Options) { o.Client = nil },
	} {
		o := ok
		mut(&o)
		if _, err := New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
