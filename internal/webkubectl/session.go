package webkubectl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"github.com/gorilla/websocket"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"bokujo.io/bokujo/internal/access"
	"bokujo.io/bokujo/internal/audit"
	"bokujo.io/bokujo/internal/proxy"
)

// Message is a JSON text frame between the browser and the server. Output
// of commands travels in binary frames, as the terminal's raw bytes.
type Message struct {
	// Type from the browser: run, input, resize, complete, context.
	// From the server: ready, refused, exit, completions, context, error.
	Type string `json:"type"`
	// Line is a command line (run, complete).
	Line string `json:"line,omitempty"`
	// Data is keyboard input for the running command (input).
	Data string `json:"data,omitempty"`
	// Cols and Rows size the terminal (run, resize).
	Cols uint16 `json:"cols,omitempty"`
	Rows uint16 `json:"rows,omitempty"`
	// Cluster and Namespace are the session's context (ready, context).
	Cluster   string   `json:"cluster,omitempty"`
	Namespace string   `json:"namespace,omitempty"`
	Clusters  []string `json:"clusters,omitempty"`
	User      string   `json:"user,omitempty"`
	// Rule and Message explain a refusal or an error.
	Rule    string `json:"rule,omitempty"`
	Message string `json:"message,omitempty"`
	// Code is the exit code of a command (exit).
	Code int `json:"code"`
	// Items are completions; ID pairs them with their request.
	Items []string `json:"items,omitempty"`
	ID    int      `json:"id,omitempty"`
}

// maxMessage bounds one frame from the browser (a pasted manifest arrives
// as several input frames).
const maxMessage = 64 << 10

// session is one open terminal.
type session struct {
	h        *Handler
	conn     *websocket.Conn
	user     *proxy.User
	subject  access.Subject
	sourceIP string
	clusters map[string][]string

	writeMu sync.Mutex

	mu        sync.Mutex
	cluster   string
	namespace string
	dir       string
	tokenID   string
	tokenExp  time.Time
	cols      uint16
	rows      uint16
	running   *running
	closed    bool
	idle      *time.Timer
	closeOnce sync.Once
	// ended is closed when the session closes.
	ended chan struct{}
}

// running is the command of a session.
type running struct {
	cmd   *exec.Cmd
	tty   *os.File
	done  chan struct{}
	input chan []byte
}

// inputQueue bounds keyboard input waiting for a command, in messages.
const inputQueue = 256

func (s *session) run(ctx context.Context) {
	s.conn.SetReadLimit(maxMessage)
	s.cols, s.rows = 80, 24
	defer s.cleanup()
	if err := s.prepare(ctx); err != nil {
		s.h.log.Error("terminal: prepare session", "user", s.user.Name, "err", err)
		s.send(Message{Type: "error", Message: "cannot start the terminal: " + err.Error()})
		s.close("cannot start the terminal")
		return
	}
	names := make([]string, 0, len(s.clusters))
	for n := range s.clusters {
		names = append(names, n)
	}
	slices.Sort(names)
	s.send(Message{Type: "ready", User: s.user.Name, Cluster: s.cluster, Namespace: s.namespace, Clusters: names})
	s.mu.Lock()
	s.idle = time.AfterFunc(s.h.opts.Limits.IdleTimeout, s.idleFired)
	s.mu.Unlock()
	for {
		kind, data, err := s.conn.ReadMessage()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.idle.Reset(s.h.opts.Limits.IdleTimeout)
		s.mu.Unlock()
		if kind != websocket.TextMessage {
			s.send(Message{Type: "error", Message: "send JSON text messages"})
			continue
		}
		var m Message
		if err := json.Unmarshal(data, &m); err != nil {
			s.send(Message{Type: "error", Message: "malformed message"})
			continue
		}
		s.handle(ctx, m)
	}
}

func (s *session) idleFired() {
	s.mu.Lock()
	busy := s.running != nil
	if busy {
		s.idle.Reset(s.h.opts.Limits.IdleTimeout)
	}
	s.mu.Unlock()
	if !busy {
		s.close(fmt.Sprintf("closed after %s without input; open the terminal again", s.h.opts.Limits.IdleTimeout))
	}
}

func (s *session) handle(ctx context.Context, m Message) {
	switch m.Type {
	case "run":
		if m.Cols > 0 && m.Rows > 0 {
			s.mu.Lock()
			s.cols, s.rows = clampSize(m.Cols, m.Rows)
			s.mu.Unlock()
		}
		s.runLine(ctx, m.Line)
	case "input":
		s.mu.Lock()
		r := s.running
		s.mu.Unlock()
		if r != nil && offerInput(r, m.Data) {
			s.send(Message{Type: "error", Message: "input dropped: the command is not reading it; press Ctrl-C to stop it"})
		}
	case "resize":
		cols, rows := clampSize(m.Cols, m.Rows)
		s.mu.Lock()
		s.cols, s.rows = cols, rows
		r := s.running
		s.mu.Unlock()
		if r != nil {
			_ = pty.Setsize(r.tty, &pty.Winsize{Cols: cols, Rows: rows})
		}
	case "complete":
		s.complete(ctx, m)
	case "context":
		s.switchContext(m)
	default:
		s.send(Message{Type: "error", Message: fmt.Sprintf("unknown message type %q", m.Type)})
	}
}

// offerInput hands keyboard input to the running command's writer and
// reports whether it was dropped. It never blocks: input is written by the
// command's own goroutine, so a command that does not read its terminal
// must not stop the session's loop (and with it Ctrl-C, resize and the
// session's end). Ctrl-C that cannot reach such a terminal interrupts the
// command's process group directly.
func offerInput(r *running, data string) (dropped bool) {
	select {
	case r.input <- []byte(data):
		return false
	default:
	}
	if strings.ContainsRune(data, 0x03) {
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGINT)
		return false
	}
	return true
}

func clampSize(cols, rows uint16) (uint16, uint16) {
	return min(max(cols, 10), 500), min(max(rows, 2), 300)
}

// prepare mints the session's token and writes its home directory.
func (s *session) prepare(ctx context.Context) error {
	dir, err := os.MkdirTemp(s.h.opts.TempDir, "bokujo-terminal-")
	if err != nil {
		return fmt.Errorf("create session directory: %w", err)
	}
	s.dir = dir
	return s.writeKubeconfig(ctx, true)
}

// writeKubeconfig renders the session's kubeconfig: one context per
// cluster the user may use, all through bokujo's proxy, with the current
// cluster and namespace. renew mints a new token first.
func (s *session) writeKubeconfig(ctx context.Context, renew bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var token string
	if renew {
		value, id, exp, err := s.h.opts.Tokens.IssueTerminalToken(ctx, s.user.Name, s.h.opts.Limits.TokenTTL)
		if err != nil {
			return fmt.Errorf("issue token: %w", err)
		}
		old := s.tokenID
		s.tokenID, s.tokenExp, token = id, exp, value
		if old != "" {
			s.revoke(old)
		}
	} else {
		cfg, err := clientcmd.LoadFromFile(s.kubeconfigPath())
		if err != nil {
			return fmt.Errorf("read session kubeconfig: %w", err)
		}
		token = cfg.AuthInfos["bokujo"].Token
	}
	cfg := clientcmdapi.NewConfig()
	cfg.AuthInfos["bokujo"] = &clientcmdapi.AuthInfo{Token: token}
	for name := range s.clusters {
		u := *s.h.opts.ProxyURL
		u.Path = proxy.PathPrefix + name
		cfg.Clusters[name] = &clientcmdapi.Cluster{Server: u.String(), CertificateAuthorityData: s.h.opts.CACertPEM}
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: "bokujo"}
	}
	cfg.Contexts[s.cluster].Namespace = s.namespace
	cfg.CurrentContext = s.cluster
	if err := clientcmd.WriteToFile(*cfg, s.kubeconfigPath()); err != nil {
		return fmt.Errorf("write session kubeconfig: %w", err)
	}
	return nil
}

func (s *session) kubeconfigPath() string { return filepath.Join(s.dir, "kubeconfig") }

// revoke deletes a token in the background: the session must not wait
// on the management cluster to go on or to close.
func (s *session) revoke(id string) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.h.opts.Tokens.RevokeToken(ctx, id, s.user.Name); err != nil {
			s.h.log.Warn("terminal: revoke token", "user", s.user.Name, "token", id, "err", err)
		}
	}()
}

func (s *session) switchContext(m Message) {
	if _, ok := s.clusters[m.Cluster]; !ok {
		s.send(Message{Type: "error", Message: fmt.Sprintf("cluster %q not found", m.Cluster)})
		return
	}
	if m.Namespace != "" && !namespaceRE.MatchString(m.Namespace) {
		s.send(Message{Type: "error", Message: "namespace must be a namespace name"})
		return
	}
	s.mu.Lock()
	if s.running != nil {
		s.mu.Unlock()
		s.send(Message{Type: "error", Message: "a command is running; stop it with Ctrl-C first"})
		return
	}
	s.cluster, s.namespace = m.Cluster, m.Namespace
	s.mu.Unlock()
	if err := s.writeKubeconfig(context.Background(), false); err != nil {
		s.send(Message{Type: "error", Message: "cannot switch context: " + err.Error()})
		return
	}
	s.send(Message{Type: "context", Cluster: m.Cluster, Namespace: m.Namespace})
}

// env is the whole environment of kubectl: nothing of the server's.
func (s *session) env() []string {
	return []string{
		"HOME=" + s.dir,
		"KUBECONFIG=" + s.kubeconfigPath(),
		"KUBERC=off",
		"KUBECTL_KUBERC=false",
		"TMPDIR=" + s.dir,
		"TERM=xterm-256color",
		"LANG=C.UTF-8",
	}
}

// runLine checks a line and starts it; the command's output is pumped to
// the browser by its own goroutine, so the session keeps reading input
// (Ctrl-C, resize, pasted stdin).
func (s *session) runLine(ctx context.Context, line string) {
	s.mu.Lock()
	busy, cluster, namespace := s.running != nil, s.cluster, s.namespace
	s.mu.Unlock()
	if busy {
		s.send(Message{Type: "error", Message: "a command is running; stop it with Ctrl-C first"})
		return
	}
	words, err := Split(line)
	var cmd *Command
	if err == nil {
		cmd, err = Check(words)
	}
	rec := audit.Record{Kind: "terminal", User: s.user.Name, Groups: s.user.Groups, Cluster: cluster, Namespace: namespace,
		Verb: "run", Status: 200, SourceIP: s.sourceIP, Command: words}
	if words == nil {
		rec.Command = []string{line}
	}
	if err != nil {
		r, ok := IsRefused(err)
		if !ok {
			r = &RefusedError{Rule: "invalid", Message: err.Error()}
		}
		rec.Verb, rec.Status = "refused", 403
		s.audit(rec)
		s.send(Message{Type: "refused", Rule: r.Rule, Message: r.Message})
		return
	}
	s.audit(rec)
	if time.Until(s.tokenExpiry()) < s.h.opts.Limits.TokenTTL/6 {
		if err := s.writeKubeconfig(ctx, true); err != nil {
			s.send(Message{Type: "error", Message: "cannot renew the terminal's token: " + err.Error()})
			return
		}
	}
	if err := s.start(cmd); err != nil {
		s.h.log.Error("terminal: start kubectl", "user", s.user.Name, "err", err)
		s.send(Message{Type: "error", Message: "cannot start kubectl: " + err.Error()})
	}
}

func (s *session) tokenExpiry() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenExp
}

func (s *session) audit(r audit.Record) {
	if s.h.opts.Auditor != nil {
		r.Time = time.Now()
		s.h.opts.Auditor.Write(r)
	}
}

// start runs kubectl in a new pseudo-terminal, in its own session and
// process group, through the limits wrapper.
func (s *session) start(c *Command) error {
	l := s.h.opts.Limits
	slot := false
	if !c.Streaming {
		ctx, cancel := s.endedContext()
		taken, ok := s.h.acquireSlot(ctx)
		cancel()
		if !ok {
			return errors.New("the terminal closed")
		}
		slot = taken
	}
	started := false
	defer func() {
		if slot && !started {
			s.h.releaseSlot()
		}
	}()
	argv := wrapperArgs(l, c.Streaming, s.h.opts.Kubectl, c.Args)
	cmd := &exec.Cmd{Path: s.h.opts.Wrapper, Args: append([]string{s.h.opts.Wrapper}, argv...), Env: s.env(), Dir: s.dir}
	s.mu.Lock()
	size := &pty.Winsize{Cols: s.cols, Rows: s.rows}
	s.mu.Unlock()
	tty, err := pty.StartWithAttrs(cmd, size, &syscall.SysProcAttr{
		Setsid: true, Setctty: true,
		// kubectl dies with the server rather than outliving it.
		Pdeathsig: syscall.SIGKILL,
	})
	if err != nil {
		return err
	}
	r := &running{cmd: cmd, tty: tty, done: make(chan struct{}), input: make(chan []byte, inputQueue)}
	go func() {
		for {
			select {
			case p := <-r.input:
				if _, err := tty.Write(p); err != nil {
					return
				}
			case <-r.done:
				return
			}
		}
	}()
	s.mu.Lock()
	s.running = r
	closed := s.closed
	s.mu.Unlock()
	if closed {
		killGroup(cmd)
	}
	started = true
	go s.pump(r, c, slot)
	return nil
}

// pump copies the command's output to the browser. Each write waits for
// the connection, so a slow browser stops this loop, the terminal's
// buffer fills and kubectl blocks on its own output: memory per session
// stays bounded by one buffer, and no other session waits.
func (s *session) pump(r *running, c *Command, slot bool) {
	var timer *time.Timer
	timedOut := make(chan struct{})
	if !c.Streaming {
		timer = time.AfterFunc(s.h.opts.Limits.CommandTimeout, func() {
			close(timedOut)
			killGroup(r.cmd)
		})
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := r.tty.Read(buf)
		if n > 0 {
			if werr := s.sendBinary(buf[:n]); werr != nil {
				killGroup(r.cmd)
				break
			}
		}
		if err != nil {
			break // EIO once kubectl and its children closed the terminal
		}
	}
	werr := r.cmd.Wait()
	if slot {
		s.h.releaseSlot()
	}
	if timer != nil {
		timer.Stop()
	}
	_ = r.tty.Close()
	code := 0
	if r.cmd.ProcessState != nil {
		code = r.cmd.ProcessState.ExitCode()
	}
	msg := Message{Type: "exit", Code: code}
	select {
	case <-timedOut:
		msg.Message = fmt.Sprintf("stopped after %s, the limit of one command (logs -f, get -w and exec have none)", s.h.opts.Limits.CommandTimeout)
	default:
		var ee *exec.ExitError
		if errors.As(werr, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				msg.Message = "stopped by " + ws.Signal().String()
				if ws.Signal() == syscall.SIGXCPU || ws.Signal() == syscall.SIGKILL && !c.Streaming {
					msg.Message += " (the terminal limits CPU time and memory per command)"
				}
			}
		}
	}
	s.mu.Lock()
	s.running = nil
	s.mu.Unlock()
	close(r.done)
	s.send(msg)
}

// endedContext is cancelled when the session ends.
func (s *session) endedContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-s.ended:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// killGroup kills kubectl and anything it started.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

func (s *session) send(m Message) {
	data, err := json.Marshal(m)
	if err != nil {
		return
	}
	_ = s.write(websocket.TextMessage, data)
}

func (s *session) sendBinary(p []byte) error { return s.write(websocket.BinaryMessage, p) }

func (s *session) write(kind int, p []byte) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.h.opts.Limits.WriteTimeout))
	return s.conn.WriteMessage(kind, p)
}

// close tells the browser why and ends the session.
func (s *session) close(reason string) {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		if len(reason) > 120 {
			reason = reason[:120]
		}
		_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4000, reason), time.Now().Add(time.Second))
		_ = s.conn.Close()
		close(s.ended)
	})
}

// cleanup kills the running command, revokes the token and removes the
// session's directory.
func (s *session) cleanup() {
	s.close("")
	s.mu.Lock()
	r := s.running
	if s.idle != nil {
		s.idle.Stop()
	}
	tokenID := s.tokenID
	s.mu.Unlock()
	if r != nil {
		killGroup(r.cmd)
		<-r.done
	}
	if tokenID != "" {
		s.revoke(tokenID)
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

// complete answers a completion request with kubectl's own completion
// (its hidden __complete command), run as the user like any command, so
// resource names come from what the user may list. The line before the
// word being completed must pass the policy like a command.
func (s *session) complete(ctx context.Context, m Message) {
	reply := Message{Type: "completions", ID: m.ID}
	defer func() { s.send(reply) }()
	words, err := Split(m.Line)
	if err != nil || len(words) == 0 {
		return
	}
	if strings.HasSuffix(m.Line, " ") {
		words = append(words, "")
	}
	last := words[len(words)-1]
	if len(words) == 1 {
		if strings.HasPrefix("kubectl", last) {
			reply.Items = []string{"kubectl"}
		}
		return
	}
	if len(words) == 2 {
		for _, v := range allowedVerbs() {
			if strings.HasPrefix(v, last) {
				reply.Items = append(reply.Items, v)
			}
		}
		return
	}
	// Both the words before the one being completed and the whole line
	// must pass: kubectl parses the partial word too. Only a partial
	// subcommand (rollout sta) is let through, as it is not yet whole.
	if _, err := Check(words[:len(words)-1]); err != nil {
		return
	}
	if _, err := Check(words); err != nil {
		if r, ok := IsRefused(err); !ok || r.Rule != "subcommand-not-allowed" {
			return
		}
	}
	s.mu.Lock()
	busy := s.running != nil
	s.mu.Unlock()
	if busy {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	args := append([]string{"__complete"}, words[1:]...)
	argv := wrapperArgs(s.h.opts.Limits, false, s.h.opts.Kubectl, args)
	cmd := exec.CommandContext(cctx, s.h.opts.Wrapper, argv...)
	cmd.Env, cmd.Dir = s.env(), s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { killGroup(cmd); return nil }
	var out bytes.Buffer
	cmd.Stdout = &limitedWriter{w: &out, n: 256 << 10}
	sctx, scancel := s.endedContext()
	defer scancel()
	taken, ok := s.h.acquireSlot(sctx)
	if !ok {
		return
	}
	if taken {
		defer s.h.releaseSlot()
	}
	if err := cmd.Run(); err != nil {
		return
	}
	for line := range strings.SplitSeq(out.String(), "\n") {
		if strings.HasPrefix(line, ":") || line == "" {
			continue
		}
		item, _, _ := strings.Cut(line, "\t")
		if strings.HasPrefix(item, "_") || (len(words) == 2 && !slices.Contains(allowedVerbs(), item)) {
			continue
		}
		reply.Items = append(reply.Items, item)
		if len(reply.Items) == 500 {
			break
		}
	}
}

// limitedWriter drops what exceeds n bytes.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return len(p), nil
	}
	q := p[:min(len(p), l.n)]
	l.n -= len(q)
	_, err := l.w.Write(q)
	return len(p), err
}
