package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"k8s.io/apimachinery/pkg/util/validation"
)

// PathPrefix is where the proxy serves: /k8s/clusters/{cluster}/{path…}
// reaches {path…} on the cluster's apiserver.
const PathPrefix = "/k8s/clusters/"

// DefaultMaxRequestBodyBytes bounds request bodies. The apiserver refuses
// bodies above 3 MiB by default and etcd stores at most 1.5 MiB per object,
// so 32 MiB refuses nothing a cluster would accept (even one configured
// with larger limits) while a client cannot stream gigabytes through.
const DefaultMaxRequestBodyBytes = 32 << 20

// Options configure a Handler.
type Options struct {
	// Authenticator and Resolver are required.
	Authenticator Authenticator
	Resolver      Resolver
	// Auditor receives one record per request; nil records nothing.
	Auditor Auditor
	// Logger receives backend failures with their details (addresses,
	// errors), which clients never see; nil discards.
	Logger *slog.Logger
	// MaxRequestBodyBytes bounds the request body of requests that are not
	// upgrades; 0 means DefaultMaxRequestBodyBytes.
	MaxRequestBodyBytes int64
	// Now is the clock for audit records; nil means time.Now.
	Now func() time.Time
}

// Handler is the impersonating reverse proxy. It is safe for concurrent use.
//
// Why httputil.ReverseProxy with Rewrite and not apimachinery's
// UpgradeAwareHandler: UpgradeAwareHandler forwards plain requests through
// NewSingleHostReverseProxy, whose Director runs before ReverseProxy drops
// the headers named in Connection, so it gives no last word on headers; and
// it dials upgrades itself, bypassing the RoundTripper that carries the
// proxy identity (it needs a separate UpgradeRequestRoundTripper to add
// credentials). ReverseProxy's Rewrite runs after the hop-by-hop removal,
// so "strip, then set" there is final, and since Go 1.12 ReverseProxy
// switches protocols on a 101 itself, with the same RoundTripper interface:
// upgrades simply use Target.UpgradeTransport.
type Handler struct {
	auth    Authenticator
	resolve Resolver
	auditor Auditor
	log     *slog.Logger
	maxBody int64
	now     func() time.Time
	buffers bufferPool
	// errorLog is ReverseProxy's logger, made once rather than per request.
	errorLog *log.Logger
}

// New builds a Handler.
func New(opts Options) (*Handler, error) {
	if opts.Authenticator == nil {
		return nil, errors.New("new proxy: no authenticator")
	}
	if opts.Resolver == nil {
		return nil, errors.New("new proxy: no resolver")
	}
	if opts.MaxRequestBodyBytes < 0 {
		return nil, fmt.Errorf("new proxy: negative request body limit %d", opts.MaxRequestBodyBytes)
	}
	h := &Handler{
		auth: opts.Authenticator, resolve: opts.Resolver, auditor: opts.Auditor,
		log: opts.Logger, maxBody: opts.MaxRequestBodyBytes, now: opts.Now,
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.maxBody == 0 {
		h.maxBody = DefaultMaxRequestBodyBytes
	}
	h.errorLog = slog.NewLogLogger(h.log.Handler(), slog.LevelWarn)
	if h.now == nil {
		h.now = time.Now
	}
	return h, nil
}

// Mount returns a handler that sends requests under PathPrefix to h and
// all others to next. Put it in front of an http.ServeMux: the mux would
// answer paths holding ".." or "//" with a redirect to their cleaned form
// before h could refuse them.
func (h *Handler) Mount(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, PathPrefix) || r.URL.Path == strings.TrimSuffix(PathPrefix, "/") {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ServeHTTP proxies one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.now()
	rec := &statusRecorder{ResponseWriter: w}
	ar := AuditRecord{Time: start, SourceIP: sourceIP(r)}
	if h.auditor != nil {
		// Deferred so a stream aborted mid-way (ReverseProxy panics with
		// http.ErrAbortHandler) is recorded too.
		defer func() {
			ar.Code = rec.status()
			ar.Latency = h.now().Sub(start)
			h.auditor.Record(context.WithoutCancel(r.Context()), ar)
		}()
	}
	h.serve(rec, r, &ar)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, ar *AuditRecord) {
	p, msg := parsePath(r)
	if msg != "" {
		ar.Verb, ar.Path = strings.ToLower(r.Method), "" // the path is refused, not recorded
		writeStatus(w, http.StatusBadRequest, reasonBadRequest, msg, nil)
		return
	}
	ar.Cluster = p.cluster
	info := parseRequestInfo(r.Method, p.path, r.URL.Query())
	ar.Verb, ar.APIGroup, ar.APIVersion = info.Verb, info.APIGroup, info.APIVersion
	ar.Resource, ar.Subresource, ar.Namespace, ar.Name = info.Resource, info.Subresource, info.Namespace, info.Name
	if !info.IsResourceRequest {
		ar.Path = info.Path
	}
	if r.Method == http.MethodConnect || r.Method == http.MethodTrace {
		// Neither is part of the Kubernetes API; CONNECT would ask the
		// proxy to tunnel somewhere of the client's choosing.
		writeStatus(w, http.StatusMethodNotAllowed, reasonMethodNotAllowed, "method not allowed", nil)
		return
	}

	user, method, err := h.auth.Authenticate(r)
	if errors.Is(err, ErrPasswordChangeRequired) {
		writeStatus(w, http.StatusForbidden, ReasonPasswordChangeRequired,
			"choose a new password first: run bokujo login again or log in to the web UI", nil)
		return
	}
	if err != nil || user == nil {
		if err != nil && !errors.Is(err, ErrUnauthenticated) {
			h.log.WarnContext(r.Context(), "authentication failed", "error", err)
		}
		writeStatus(w, http.StatusUnauthorized, reasonUnauthorized, "Unauthorized", nil)
		return
	}
	// A copy: the Authenticator may hand out a cached user, and the
	// auditor may keep the record past this request.
	ar.User, ar.Groups = user.Name, slices.Clone(user.Groups)

	upgrade := isUpgrade(r)
	if msg := checkBrowserRules(r, method, upgrade); msg != "" {
		writeStatus(w, http.StatusForbidden, reasonForbidden, msg, nil)
		return
	}
	id, err := downstreamIdentity(user)
	if err != nil {
		h.log.WarnContext(r.Context(), "refusing to proxy for an identity that cannot be impersonated", "error", err)
		writeStatus(w, http.StatusForbidden, reasonForbidden, "your identity cannot be used on clusters", nil)
		return
	}

	target, err := h.resolve.Resolve(r.Context(), p.cluster, user)
	switch {
	case errors.Is(err, ErrClusterNotFound):
		writeNotFound(w, p.cluster)
		return
	case errors.Is(err, ErrClusterUnavailable):
		writeStatus(w, http.StatusServiceUnavailable, reasonServiceUnavailable,
			`cluster "`+p.cluster+`" is unavailable`, &statusDetails{Name: p.cluster, Kind: "clusters"})
		return
	case err != nil:
		h.log.ErrorContext(r.Context(), "resolve cluster", "cluster", p.cluster, "error", err)
		writeStatus(w, http.StatusInternalServerError, reasonInternalError, "internal error", nil)
		return
	}
	if err := target.validate(); err != nil {
		h.log.ErrorContext(r.Context(), "resolve cluster", "cluster", p.cluster, "error", err)
		writeStatus(w, http.StatusInternalServerError, reasonInternalError, "internal error", nil)
		return
	}
	transport := target.Transport
	if upgrade {
		if target.UpgradeTransport == nil {
			h.log.ErrorContext(r.Context(), "target has no upgrade transport", "cluster", p.cluster)
			writeStatus(w, http.StatusBadGateway, reasonBadGateway, "the cluster does not support streaming connections", nil)
			return
		}
		transport = target.UpgradeTransport
	}

	// Upgrades are limited too: their body is only what the request
	// declares (normally nothing); the streams after 101 travel on the
	// hijacked connection, not through r.Body.
	body := &limitedBody{limit: h.maxBody}
	if r.Body != nil && r.Body != http.NoBody {
		if r.ContentLength > h.maxBody {
			writeTooLarge(w, h.maxBody)
			return
		}
		// Counted while streaming, not buffered: a chunked body is refused
		// when it passes the limit.
		body.rc = r.Body
		r.Body = body
	}

	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// The query ReverseProxy cleaned (unparsable parameters
			// dropped), so the apiserver cannot read it differently.
			pr.Out.URL = target.downstreamURL(p.path, p.rawPath, pr.Out.URL.RawQuery)
			pr.Out.Host = "" // the target's host, for TLS SNI and virtual hosts
			// Request trailers are headers that arrive after the body; no
			// Kubernetes API reads them, and they would slip past the
			// stripping below.
			pr.Out.Trailer = nil
			stripCredentials(pr.Out.Header, pr.In.Header)
			setIdentity(pr.Out.Header, id)
			// The apiserver records X-Forwarded-For in its own audit log as
			// the source of the request.
			pr.SetXForwarded()
		},
		Transport: transport,
		// Flush every write: watches, `logs -f` and chunked lists reach the
		// client as the apiserver sends them.
		FlushInterval: -1,
		BufferPool:    &h.buffers,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			h.backendError(w, r, err, body, p.cluster)
		},
		ErrorLog: h.errorLog,
	}
	rp.ServeHTTP(w, r)
}

func (h *Handler) backendError(w http.ResponseWriter, r *http.Request, err error, body *limitedBody, cluster string) {
	if body.exceeded.Load() {
		writeTooLarge(w, body.limit)
		return
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away; nobody reads the answer. 499 is what
		// proxies conventionally record for that.
		w.WriteHeader(499)
		return
	}
	h.log.WarnContext(r.Context(), "proxy to cluster failed", "cluster", cluster, "error", err)
	writeStatus(w, http.StatusBadGateway, reasonBadGateway,
		`the API server of cluster "`+cluster+`" could not be reached`, nil)
}

func writeTooLarge(w http.ResponseWriter, limit int64) {
	writeStatus(w, http.StatusRequestEntityTooLarge, reasonRequestEntityTooLarge,
		fmt.Sprintf("request body larger than %d bytes", limit), nil)
}

// clusterPath is a request path split into its cluster and the path
// forwarded downstream.
type clusterPath struct {
	cluster string
	// path and rawPath are the downstream path, unescaped and as sent.
	path, rawPath string
}

// parsePath splits /k8s/clusters/{cluster}/{rest} and refuses anything that
// could be read as another path by some component on the way: traversal
// segments, encoded dots, slashes, backslashes and percent signs, empty
// segments and control characters. Kubernetes object names cannot hold any
// of these (path segment names forbid "/" and "%"), so no legitimate
// request is refused. It returns a message when the path is refused.
func parsePath(r *http.Request) (clusterPath, string) {
	escaped := r.URL.EscapedPath()
	candidates := []string{r.URL.Path, escaped}
	if strings.HasPrefix(r.RequestURI, "/") {
		raw, _, _ := strings.Cut(r.RequestURI, "?")
		candidates = append(candidates, raw)
	}
	for _, c := range candidates {
		if msg := unsafePath(c); msg != "" {
			return clusterPath{}, msg
		}
	}
	rest, ok := strings.CutPrefix(escaped, PathPrefix)
	if !ok {
		return clusterPath{}, "the path must start with " + PathPrefix + "{cluster}"
	}
	cluster, rawPath, _ := strings.Cut(rest, "/")
	if errs := validation.IsDNS1123Label(cluster); len(errs) > 0 {
		return clusterPath{}, "invalid cluster name: must be a DNS label"
	}
	if rawPath != "" {
		rawPath = "/" + rawPath
	}
	path, err := url.PathUnescape(rawPath)
	if err != nil {
		return clusterPath{}, "malformed path escape"
	}
	return clusterPath{cluster: cluster, path: path, rawPath: rawPath}, ""
}

func unsafePath(p string) string {
	lower := strings.ToLower(p)
	switch {
	case strings.Contains(p, `\`), strings.Contains(lower, "%5c"):
		return "backslashes are not allowed in the path"
	case strings.Contains(p, "//"):
		return "empty path segments are not allowed"
	case strings.Contains(lower, "%2e"), strings.Contains(lower, "%2f"), strings.Contains(lower, "%25"):
		return "encoded dots, slashes and percent signs are not allowed in the path"
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return "dot segments are not allowed in the path"
		}
	}
	for _, c := range p {
		if unicode.IsControl(c) {
			return "control characters are not allowed in the path"
		}
	}
	return ""
}

// isUpgrade reports a request asking to switch protocols (SPDY/3.1 for
// kubectl's older exec and port-forward, websocket for the newer).
func isUpgrade(r *http.Request) bool {
	if r.Header.Get("Upgrade") == "" {
		return false
	}
	for _, v := range r.Header.Values("Connection") {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

// errBodyTooLarge is what the backend transport reads once the body passed
// the limit; backendError turns it into a 413.
var errBodyTooLarge = errors.New("request body too large")

// limitedBody counts a request body while it streams to the backend.
// Unlike http.MaxBytesReader it needs no ResponseWriter and it records that
// the limit was hit, which the ErrorHandler needs: transports wrap or
// replace body read errors on their way back.
type limitedBody struct {
	rc       io.ReadCloser
	limit    int64
	read     int64
	exceeded atomic.Bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.read > b.limit {
		return 0, errBodyTooLarge
	}
	// Read one byte past the limit so a body of exactly limit bytes passes.
	if rem := b.limit + 1 - b.read; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := b.rc.Read(p)
	b.read += int64(n)
	if b.read > b.limit {
		b.exceeded.Store(true)
		return n, errBodyTooLarge
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// bufferPool recycles the 32 KiB copy buffers of ReverseProxy, which
// otherwise allocates one per response: many watches and large lists.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }
