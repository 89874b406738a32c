package webkubectl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"bokujo.io/bokujo/internal/access"
	"bokujo.io/bokujo/internal/audit"
	"bokujo.io/bokujo/internal/localcluster"
	"bokujo.io/bokujo/internal/proxy"
)

// Route is the terminal's WebSocket endpoint.
const Route = "GET /v1/terminal"

// CSRFParam carries the session's CSRF token on the handshake: browsers
// cannot set headers on a WebSocket request.
const CSRFParam = "csrf"

// Limits bound what one user's terminals may use.
type Limits struct {
	// CPUSeconds of one command (RLIMIT_CPU); StreamingCPUSeconds of a
	// command that runs until stopped (logs -f, get -w, exec).
	CPUSeconds, StreamingCPUSeconds uint64
	// MemoryBytes of one kubectl process (RLIMIT_DATA); FileBytes is the
	// largest file it may write (its discovery cache, RLIMIT_FSIZE).
	MemoryBytes, FileBytes uint64
	// CommandTimeout is the wall-clock limit of one non-streaming command.
	CommandTimeout time.Duration
	// IdleTimeout closes a session without input and without a running
	// command for this long.
	IdleTimeout time.Duration
	// SessionsPerUser and Sessions bound open terminals per user and in
	// all.
	SessionsPerUser, Sessions int
	// TokenTTL is the lifetime of the session's token; a new one is
	// minted before a command when less than a sixth of it is left.
	TokenTTL time.Duration
	// WriteTimeout drops a session whose browser has not taken output for
	// this long; until then a slow browser only slows its own kubectl.
	WriteTimeout time.Duration
	// Running bounds the commands (not streams) that run at once on this
	// server; more wait their turn, so that many busy terminals cannot
	// take the CPU the API needs. Default: twice the CPUs.
	Running int
}

// DefaultLimits apply where Options.Limits leaves a field zero.
var DefaultLimits = Limits{
	CPUSeconds: 60, StreamingCPUSeconds: 1800,
	MemoryBytes: 1 << 30, FileBytes: 256 << 20,
	CommandTimeout: 2 * time.Minute, IdleTimeout: 15 * time.Minute,
	SessionsPerUser: 5, Sessions: 200,
	TokenTTL: time.Hour, WriteTimeout: 2 * time.Minute,
	Running: 2 * runtime.GOMAXPROCS(0),
}

// Tokens mints and revokes the short-lived token a session's kubectl
// carries.
type Tokens interface {
	IssueTerminalToken(ctx context.Context, user string, ttl time.Duration) (value, id string, expires time.Time, err error)
	RevokeToken(ctx context.Context, id, user string) error
}

// Auditor receives one record per command line.
type Auditor interface{ Write(audit.Record) }

// Options configure the terminal handler.
type Options struct {
	Authenticator proxy.Authenticator
	Grants        access.Grants
	Tokens        Tokens
	Auditor       Auditor
	// PublicURL is where browsers reach bokujo: the only Origin accepted,
	// and (unless ProxyURL is set) the server of the generated kubeconfig.
	PublicURL *url.URL
	// ProxyURL is how kubectl on this server reaches bokujo's proxy, when
	// the public URL does not resolve here (behind a load balancer).
	ProxyURL *url.URL
	// CACertPEM verifies the proxy's certificate.
	CACertPEM []byte
	// Kubectl is the bundled kubectl binary; default: kubectl in
	// localcluster.FindBinDir.
	Kubectl string
	// Wrapper is the executable run in limits-wrapper mode; default: this
	// process's own executable.
	Wrapper string
	// TempDir holds the sessions' home directories; default os.TempDir.
	TempDir string
	Limits  Limits
	Logger  *slog.Logger
}

// Handler serves terminal sessions.
type Handler struct {
	opts     Options
	log      *slog.Logger
	upgrader websocket.Upgrader
	// unavailable says why terminals cannot run here; empty when they can.
	unavailable string
	// slots holds a token per running command (Limits.Running).
	slots    chan struct{}
	slotWait time.Duration

	mu      sync.Mutex
	perUser map[string]int
	total   int
	closing bool
	live    map[*session]struct{}
}

// New checks opts and returns the handler.
func New(opts Options) (*Handler, error) {
	if opts.Authenticator == nil || opts.Tokens == nil || opts.PublicURL == nil {
		return nil, errors.New("new terminal handler: authenticator, tokens and public URL are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ProxyURL == nil {
		opts.ProxyURL = opts.PublicURL
	}
	var unavailable string
	if opts.Kubectl == "" {
		// A server installed without the bundled binaries still serves
		// everything else; only the terminal says what is missing.
		if k, err := findKubectl(); err != nil {
			unavailable = "the web terminal needs the kubectl binary bundled with bokujo next to the bokujo executable (or in BOKUJO_BIN_DIR)"
			opts.Logger.Warn("web terminal disabled: kubectl not found", "err", err)
		} else {
			opts.Kubectl = k
		}
	} else if _, err := os.Stat(opts.Kubectl); err != nil {
		return nil, fmt.Errorf("new terminal handler: kubectl binary: %w", err)
	}
	if opts.Wrapper == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("new terminal handler: own executable: %w", err)
		}
		opts.Wrapper = exe
	}
	l, d := &opts.Limits, DefaultLimits
	setDefault(&l.CPUSeconds, d.CPUSeconds)
	setDefault(&l.StreamingCPUSeconds, d.StreamingCPUSeconds)
	setDefault(&l.MemoryBytes, d.MemoryBytes)
	setDefault(&l.FileBytes, d.FileBytes)
	setDefault(&l.CommandTimeout, d.CommandTimeout)
	setDefault(&l.IdleTimeout, d.IdleTimeout)
	setDefault(&l.SessionsPerUser, d.SessionsPerUser)
	setDefault(&l.Sessions, d.Sessions)
	setDefault(&l.TokenTTL, d.TokenTTL)
	setDefault(&l.WriteTimeout, d.WriteTimeout)
	setDefault(&l.Running, d.Running)
	h := &Handler{opts: opts, log: opts.Logger, perUser: map[string]int{}, live: map[*session]struct{}{}, unavailable: unavailable,
		slots: make(chan struct{}, opts.Limits.Running), slotWait: slotWait}
	h.upgrader = websocket.Upgrader{
		ReadBufferSize: 4 << 10, WriteBufferSize: 32 << 10,
		HandshakeTimeout: 10 * time.Second,
		// Origin was checked before the upgrade, with the other browser
		// rules; the upgrader must not apply its own, laxer check.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	return h, nil
}

// findKubectl finds the bundled kubectl: beside this executable, else in
// the control-plane binary directory.
func findKubectl() (string, error) {
	if exe, err := os.Executable(); err == nil {
		k := filepath.Join(filepath.Dir(exe), "kubectl")
		if st, err := os.Stat(k); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return k, nil
		}
	}
	dir, err := localcluster.FindBinDir("")
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "kubectl"), nil
}

func setDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// Register adds the terminal route to mux.
func (h *Handler) Register(mux *http.ServeMux) { mux.Handle(Route, h) }

// Close ends every open session (their kubectl processes are killed and
// their tokens revoked) and refuses new ones.
func (h *Handler) Close() {
	h.mu.Lock()
	h.closing = true
	live := make([]*session, 0, len(h.live))
	for s := range h.live {
		live = append(live, s)
	}
	h.mu.Unlock()
	for _, s := range live {
		s.close("the server is shutting down")
	}
}

var clusterNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)
var namespaceRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

func httpError(w http.ResponseWriter, status int, reason, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	msg := fmt.Sprintf(format, args...)
	_, _ = fmt.Fprintf(w, "{\"code\":%d,\"reason\":%q,\"message\":%q}\n", status, reason, msg)
}

// ServeHTTP authenticates the handshake, applies the browser rules and
// the session limits, then upgrades and runs the session.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		httpError(w, http.StatusBadRequest, "BadRequest", "the terminal is a WebSocket: open it from the web UI")
		return
	}
	q := r.URL.Query()
	// The CSRF token comes as a query parameter, moved into the header
	// the authenticator reads. Any header the client sent is dropped
	// first so that only one source counts.
	ar := r.Clone(r.Context())
	ar.Header.Del(proxy.CSRFHeader)
	if vals := q[CSRFParam]; len(vals) == 1 {
		ar.Header.Set(proxy.CSRFHeader, vals[0])
	}
	user, method, err := h.opts.Authenticator.Authenticate(ar)
	if errors.Is(err, proxy.ErrPasswordChangeRequired) {
		httpError(w, http.StatusForbidden, proxy.ReasonPasswordChangeRequired, "choose a new password first")
		return
	}
	if err != nil || user == nil {
		httpError(w, http.StatusUnauthorized, "Unauthorized", "log in to bokujo first")
		return
	}
	switch method.Kind {
	case proxy.AuthCookie:
		if sfs := r.Header.Get("Sec-Fetch-Site"); sfs != "" && sfs != "same-origin" {
			httpError(w, http.StatusForbidden, "CrossSite", "a terminal can only be opened from bokujo's own pages")
			return
		}
		if !h.originAllowed(r, true) {
			httpError(w, http.StatusForbidden, "Origin", "a terminal can only be opened from %s", origin(h.opts.PublicURL))
			return
		}
		if !method.CSRFValid {
			httpError(w, http.StatusForbidden, "CSRF", "missing or invalid %s parameter; reload the page", CSRFParam)
			return
		}
	case proxy.AuthBearer:
		// A bearer token is never attached by a browser on its own, but
		// a page that carries one is still held to the Origin rule.
		if !h.originAllowed(r, false) {
			httpError(w, http.StatusForbidden, "Origin", "a terminal can only be opened from %s", origin(h.opts.PublicURL))
			return
		}
	default:
		httpError(w, http.StatusUnauthorized, "Unauthorized", "unsupported credential")
		return
	}
	if h.unavailable != "" {
		httpError(w, http.StatusServiceUnavailable, "Unavailable", "%s", h.unavailable)
		return
	}
	cluster, namespace := q.Get("cluster"), q.Get("namespace")
	if !clusterNameRE.MatchString(cluster) {
		httpError(w, http.StatusBadRequest, "BadRequest", "cluster must name a cluster")
		return
	}
	if namespace != "" && !namespaceRE.MatchString(namespace) {
		httpError(w, http.StatusBadRequest, "BadRequest", "namespace must be a namespace name")
		return
	}
	subject := access.Subject{Name: user.Name, Groups: user.Groups}
	vis, err := h.opts.Grants.Visibility(r.Context(), subject)
	if err != nil {
		h.log.Error("terminal: visibility", "user", user.Name, "err", err)
		httpError(w, http.StatusInternalServerError, "Internal", "cannot read your grants; try again")
		return
	}
	if !vis.HasCluster(cluster) {
		httpError(w, http.StatusNotFound, "NotFound", "cluster %q not found", cluster)
		return
	}
	if msg := h.acquire(user.Name); msg != "" {
		httpError(w, http.StatusTooManyRequests, "TooManySessions", "%s", msg)
		return
	}
	released := false
	release := func() {
		if !released {
			released = true
			h.release(user.Name)
		}
	}
	defer release()
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered already
	}
	s := &session{h: h, conn: conn, user: user, subject: subject, sourceIP: sourceIP(r),
		cluster: cluster, namespace: namespace, clusters: vis.Clusters, ended: make(chan struct{})}
	if !h.track(s, true) {
		_ = conn.Close()
		return
	}
	defer h.track(s, false)
	s.run(r.Context())
}

// originAllowed compares Origin with the public URL; required says a
// missing Origin is refused too.
func (h *Handler) originAllowed(r *http.Request, required bool) bool {
	vals := r.Header.Values("Origin")
	if len(vals) == 0 {
		return !required
	}
	if len(vals) != 1 {
		return false
	}
	return strings.EqualFold(vals[0], origin(h.opts.PublicURL))
}

// origin renders scheme://host[:port] of u, without a default port.
func origin(u *url.URL) string {
	host := u.Host
	if (u.Scheme == "https" && u.Port() == "443") || (u.Scheme == "http" && u.Port() == "80") {
		host = u.Hostname()
	}
	return u.Scheme + "://" + host
}

func (h *Handler) acquire(user string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closing:
		return "the server is shutting down"
	case h.perUser[user] >= h.opts.Limits.SessionsPerUser:
		return fmt.Sprintf("you have %d terminals open, the most allowed; close one first", h.perUser[user])
	case h.total >= h.opts.Limits.Sessions:
		return "the server runs the most terminals it allows; try again later"
	}
	h.perUser[user]++
	h.total++
	return ""
}

func (h *Handler) release(user string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.total--
	if h.perUser[user]--; h.perUser[user] <= 0 {
		delete(h.perUser, user)
	}
}

func (h *Handler) track(s *session, add bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if add {
		if h.closing {
			return false
		}
		h.live[s] = struct{}{}
	} else {
		delete(h.live, s)
	}
	return true
}

// slotWait bounds the wait for a command slot. After it the command runs
// anyway: the limit smooths bursts, but commands that hold their slot a
// long time (a browser that reads their output slowly) must not stop
// everyone else's terminal.
const slotWait = 10 * time.Second

// acquireSlot waits up to slotWait for a command slot. It returns whether
// a slot was taken (then call releaseSlot) and false for ok when ctx ended
// first.
func (h *Handler) acquireSlot(ctx context.Context) (taken, ok bool) {
	t := time.NewTimer(h.slotWait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return true, true
	case <-t.C:
		return false, true
	case <-ctx.Done():
		return false, false
	}
}

func (h *Handler) releaseSlot() { <-h.slots }

// Sessions reports the number of open terminals.
func (h *Handler) Sessions() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.total
}

func sourceIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		return host[:i]
	}
	return host
}
