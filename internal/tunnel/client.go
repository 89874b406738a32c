package tunnel

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/yamux"
)

// ClientOptions configure the agent's end of the tunnel.
type ClientOptions struct {
	// URL is the server's connect endpoint, wss://host/v1/connect.
	URL string
	// TLS trusts the server.
	TLS *tls.Config
	// Header returns the headers of each connection attempt (credentials).
	Header func(ctx context.Context) (http.Header, error)
	// Allow says whether the server may open a connection to address; the
	// agent's own API server only.
	Allow func(network, address string) bool
	// OnConnect is called after each successful connection.
	OnConnect func()
	// MinBackoff and MaxBackoff bound the jittered exponential wait between
	// attempts; defaults 1 s and 30 s.
	MinBackoff, MaxBackoff time.Duration
	Logger                 *slog.Logger
}

// RefusedError is the server's refusal of a connection attempt.
type RefusedError struct {
	Code    int
	Message string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("server refused the agent (HTTP %d): %s", e.Code, e.Message)
}

// Run keeps a tunnel to the server open until ctx ends, reconnecting with
// jittered exponential back-off, and serves the server's streams.
func Run(ctx context.Context, opts ClientOptions) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Allow == nil {
		return errors.New("tunnel client: no allow function")
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	backoff := opts.MinBackoff
	for attempt := 1; ; attempt++ {
		log.Info("connecting to the bokujo server", "url", opts.URL, "attempt", attempt)
		start := time.Now()
		err := connectOnce(ctx, opts, log)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > time.Minute {
			// The session lived: start the back-off over.
			backoff, attempt = opts.MinBackoff, 0
		}
		// Full jitter in [backoff/2, backoff): agents of many clusters
		// losing one server do not come back in lockstep.
		wait := backoff/2 + rand.N(backoff/2+1)
		log.Warn("tunnel to the bokujo server lost; retrying", "err", err, "retryIn", wait.Round(time.Millisecond).String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(backoff*2, opts.MaxBackoff)
	}
}

func connectOnce(ctx context.Context, opts ClientOptions, log *slog.Logger) error {
	var header http.Header
	if opts.Header != nil {
		h, err := opts.Header(ctx)
		if err != nil {
			return err
		}
		header = h
	}
	d := websocket.Dialer{TLSClientConfig: opts.TLS, HandshakeTimeout: 15 * time.Second, Proxy: http.ProxyFromEnvironment}
	ws, resp, err := d.DialContext(ctx, opts.URL, header)
	if err != nil {
		if resp != nil {
			return refused(resp)
		}
		return fmt.Errorf("connect to %s: %w", opts.URL, err)
	}
	sess, err := yamux.Server(newWSConn(ws), yamuxConfig())
	if err != nil {
		ws.Close()
		return fmt.Errorf("tunnel session: %w", err)
	}
	defer sess.Close()
	stop := context.AfterFunc(ctx, func() { sess.Close() })
	defer stop()
	log.Info("connected to the bokujo server", "url", opts.URL)
	if opts.OnConnect != nil {
		opts.OnConnect()
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		stream, err := sess.AcceptStream()
		if err != nil {
			if sess.IsClosed() {
				return errors.New("session closed")
			}
			return fmt.Errorf("accept tunnel stream: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			serveStream(ctx, stream, opts.Allow, log)
		}()
	}
}

// refused turns a failed handshake into the server's message (a JSON
// error or a Kubernetes Status), so the agent's log says what to do.
func refused(resp *http.Response) error {
	var msg string
	if resp.Body != nil {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		var body struct {
			Message string `json:"message"`
			Error   struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(data, &body) == nil {
			msg = body.Error.Message
			if msg == "" {
				msg = body.Message
			}
		}
		if msg == "" {
			msg = strings.TrimSpace(string(data))
		}
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return &RefusedError{Code: resp.StatusCode, Message: msg}
}

func serveStream(ctx context.Context, stream net.Conn, allow func(network, address string) bool, log *slog.Logger) {
	defer stream.Close()
	_ = stream.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := readLine(stream)
	if err != nil {
		return
	}
	network, address, ok := strings.Cut(line, " ")
	if !ok || !allow(network, address) {
		log.Warn("refused a tunnelled connection the agent does not allow", "network", network, "address", address)
		_ = writeLine(stream, "ERR the agent only connects to its own API server")
		return
	}
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := d.DialContext(dctx, network, address)
	cancel()
	if err != nil {
		_ = writeLine(stream, "ERR %s", strings.ReplaceAll(err.Error(), "\n", " "))
		return
	}
	defer conn.Close()
	if err := writeLine(stream, okLine); err != nil {
		return
	}
	_ = stream.SetDeadline(time.Time{})
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(conn, stream); closeWrite(conn); done <- struct{}{} }()
	go func() { _, _ = io.Copy(stream, conn); done <- struct{}{} }()
	<-done
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}
