package metrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

func TestInstrumentCountsPerKnownCluster(t *testing.T) {
	h := Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "missing") {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}), Options{KnownCluster: func(name string) bool { return name == "dev" }})

	before := testutil.ToFloat64(proxyRequests.WithLabelValues("dev", "GET", "200"))
	beforeUnknown := testutil.ToFloat64(proxyRequests.WithLabelValues("unknown", "GET", "404"))
	beforeAPI := testutil.ToFloat64(requests.WithLabelValues("api", "POST", "200"))
	for _, target := range []string{
		"/k8s/clusters/dev/api/v1/pods",
		"/k8s/clusters/dev/api/v1/pods?watch=true",
		"/k8s/clusters/made-up-1/missing",
		"/k8s/clusters/made-up-2/missing",
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", target, nil))
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/v1/login", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("BREW", "/v1/login", nil))

	if got := testutil.ToFloat64(proxyRequests.WithLabelValues("dev", "GET", "200")) - before; got != 2 {
		t.Errorf("dev GET 200 counted %v times, want 2", got)
	}
	if got := testutil.ToFloat64(proxyRequests.WithLabelValues("unknown", "GET", "404")) - beforeUnknown; got != 2 {
		t.Errorf("made-up clusters counted %v times as unknown, want 2", got)
	}
	if got := testutil.ToFloat64(requests.WithLabelValues("api", "POST", "200")) - beforeAPI; got != 1 {
		t.Errorf("api POST counted %v", got)
	}
	if n := testutil.CollectAndCount(proxyRequests); n == 0 {
		t.Fatal("no proxy series")
	}
	for _, l := range []string{"made-up-1", "made-up-2", "BREW"} {
		out, _ := testutil.CollectAndFormat(proxyRequests, expfmt.TypeTextPlain)
		out2, _ := testutil.CollectAndFormat(requests, expfmt.TypeTextPlain)
		if strings.Contains(string(out)+string(out2), l) {
			t.Errorf("label value %q from the request became a series", l)
		}
	}
}

func TestServeExposesTheRegistry(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addr, done, err := Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	requests.WithLabelValues("ui", "GET", "200").Inc()
	resp, err := http.Get("http://" + addr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{"bokujo_http_requests_total", "go_goroutines", "process_cpu_seconds_total"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	resp2, err := http.Post("http://"+addr.String()+"/metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %s", resp2.Status)
	}
}
