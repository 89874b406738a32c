// Package metrics exports the bokujo server's own Prometheus metrics: HTTP
// requests and latencies per route family and, for the proxy, per cluster;
// controller-runtime's controller and work-queue metrics; Go and process
// metrics; and release outcomes (registered by internal/release).
//
// They are served on a listener of their own (bokujo server
// --metrics-listen), without authentication and apart from the HTTPS
// port users reach: a scraper needs no bokujo credential, and the port is
// meant to be reachable only inside the cluster (NetworkPolicy). A
// bokujo token for scraping would be a standing credential with a user's
// rights, which is worse.
package metrics

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	// Imported for its side effect: controller-runtime's controller
	// metrics and its Go and process collectors are registered with the
	// registry even in a process that runs no controller.
	_ "sigs.k8s.io/controller-runtime/pkg/controller"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Registry is controller-runtime's registry, so that its controller and
// work-queue metrics and the Go and process collectors come along.
var Registry = ctrlmetrics.Registry

var (
	requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bokujo_http_requests_total",
		Help: "HTTP requests the server answered, by route family (api, proxy, ui, health), method and status code.",
	}, []string{"route", "method", "code"})
	duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "bokujo_http_request_duration_seconds",
		Help:    "Time to answer HTTP requests, by route family and method; long-running watches and streams are left out.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
	}, []string{"route", "method"})
	proxyRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bokujo_proxy_requests_total",
		Help: "Requests through /k8s/clusters/{cluster}/, by cluster, method and status code.",
	}, []string{"cluster", "method", "code"})
	proxyDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "bokujo_proxy_request_duration_seconds",
		Help:    "Time to answer proxied requests, by cluster and method; watches, logs -f, exec and port-forward are left out.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
	}, []string{"cluster", "method"})
)

func init() {
	Registry.MustRegister(requests, duration, proxyRequests, proxyDuration)
}

// Options of Instrument.
type Options struct {
	// KnownCluster reports whether a name is a registered cluster. Other
	// names are counted as "unknown", so that requests for made-up
	// clusters cannot grow the number of series without bound.
	KnownCluster func(name string) bool
}

// Instrument counts and times every request of next.
func Instrument(next http.Handler, opts Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &recorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rw, r)
		method := methodLabel(r.Method)
		code := strconv.Itoa(rw.code)
		route, cluster := classify(r.URL.Path)
		streaming := isStreaming(r)
		requests.WithLabelValues(route, method, code).Inc()
		if !streaming {
			duration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
		}
		if route != "proxy" {
			return
		}
		if opts.KnownCluster == nil || !opts.KnownCluster(cluster) {
			cluster = "unknown"
		}
		proxyRequests.WithLabelValues(cluster, method, code).Inc()
		if !streaming {
			proxyDuration.WithLabelValues(cluster, method).Observe(time.Since(start).Seconds())
		}
	})
}

func classify(path string) (route, cluster string) {
	switch {
	case strings.HasPrefix(path, "/k8s/clusters/"):
		rest := strings.TrimPrefix(path, "/k8s/clusters/")
		cluster, _, _ = strings.Cut(rest, "/")
		return "proxy", cluster
	case strings.HasPrefix(path, "/v1/"):
		return "api", ""
	case path == "/healthz" || path == "/readyz" || path == "/version":
		return "health", ""
	default:
		return "ui", ""
	}
}

func isStreaming(r *http.Request) bool {
	q := r.URL.Query()
	return q.Get("watch") == "true" || q.Get("watch") == "1" || q.Get("follow") == "true" ||
		strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || r.Header.Get("Upgrade") != ""
}

var methods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true}

func methodLabel(m string) string {
	if methods[m] {
		return m
	}
	return "other"
}

// recorder keeps the status code; it passes Flush and Hijack through so
// watches and upgrades keep working.
type recorder struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.code, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush, Hijack and deadlines.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("hijacking not supported")
	}
	if !r.wroteHeader {
		r.code, r.wroteHeader = http.StatusSwitchingProtocols, true
	}
	return h.Hijack()
}

// Handler serves the registry in the Prometheus text format.
func Handler() http.Handler {
	return promhttp.HandlerFor(Registry, promhttp.HandlerOpts{})
}

// Serve serves /metrics on addr until ctx ends.
func Serve(ctx context.Context, addr string) (net.Addr, <-chan error, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() {
		err := srv.Serve(l)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		done <- err
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return l.Addr(), done, nil
}
