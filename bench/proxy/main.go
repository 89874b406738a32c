// Command proxy measures bokujo's impersonating proxy against the same
// apiserver in the same run: direct, through `kubectl proxy` (the baseline
// forwarder: one extra hop, no authentication) and through bokujo (which
// also authenticates, impersonates and audits).
//
//   - GET one pod: p50 and p99 over -gets requests after a warm-up; the
//     figure of merit is bokujo's added latency over kubectl proxy's.
//   - LIST of -pods pods with gzip on: median of 10.
//   - -watches concurrent watches, each receiving -events events: time
//     until every watcher has every event, and how many were lost.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/app"
	"bokujo.io/bokujo/internal/auth"
	"bokujo.io/bokujo/internal/clusters"
	"bokujo.io/bokujo/internal/localcluster"
	"bokujo.io/bokujo/internal/pki"
)

var (
	gets    = flag.Int("gets", 2000, "GET requests per path")
	pods    = flag.Int("pods", 10000, "pods to LIST")
	lists   = flag.Int("lists", 10, "LIST repetitions per path")
	watches = flag.Int("watches", 1000, "concurrent watches")
	events  = flag.Int("events", 10, "events each watch receives")
	h1      = flag.Bool("http1", false, "talk HTTP/1.1 to bokujo instead of HTTP/2 (kubectl and client-go use HTTP/2)")
	cpuProf = flag.String("cpuprofile", "", "write a CPU profile of the GET phase (server and clients share the process) to this file")
)

func main() {
	flag.Parse()
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "bench/proxy:", err)
		os.Exit(1)
	}
}

// path is one way to reach the apiserver.
type path struct {
	name   string
	base   string
	client *http.Client
	header http.Header
}

func run(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "bokujo-bench-proxy-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var mgmt, target *localcluster.Cluster
	var wg sync.WaitGroup
	var errM, errT error
	wg.Add(2)
	go func() {
		defer wg.Done()
		mgmt, errM = localcluster.Start(ctx, localcluster.Options{Name: "mgmt", Dir: filepath.Join(dir, "mgmt")})
	}()
	go func() {
		defer wg.Done()
		target, errT = localcluster.Start(ctx, localcluster.Options{Name: "target", Dir: filepath.Join(dir, "target"),
			Nodes: localcluster.CPUNodes("node", 10)})
	}()
	wg.Wait()
	if mgmt != nil {
		defer mgmt.Stop()
	}
	if target != nil {
		defer target.Stop()
	}
	if errM != nil || errT != nil {
		return fmt.Errorf("start clusters: %v %v", errM, errT)
	}

	// bokujo with a cluster-owner user on the target cluster.
	a, bokujoURL, caPool, err := startBokujo(ctx, mgmt, dir)
	if err != nil {
		return err
	}
	defer a.Stop()
	if err := a.Registry.ImportConfig(ctx, "target", "", target.RESTConfig()); err != nil {
		return err
	}
	if _, err := a.Auth.CreateLocalUser(ctx, "bench", "Bench", "bench-password-123456"); err != nil {
		return err
	}
	crtb := &mgmtv1.ClusterRoleTemplateBinding{ObjectMeta: metav1.ObjectMeta{Name: "bench-owner"}, Spec: mgmtv1.ClusterRoleTemplateBindingSpec{
		ClusterName: "target", RoleTemplateName: "cluster-owner", Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: "bench"}}}
	if err := a.Client.Create(ctx, crtb); err != nil {
		return err
	}
	token, _, err := a.Auth.CreateToken(ctx, "bench", auth.TokenRequest{Type: mgmtv1.TokenTypeAPI, Description: "bench", TTL: time.Hour})
	if err != nil {
		return err
	}

	// kubectl proxy with the admin kubeconfig.
	kpPort, err := freePort()
	if err != nil {
		return err
	}
	kp := exec.Command(filepath.Join(mustBinDir(), "kubectl"), "--kubeconfig", target.KubeconfigPath(), "proxy", "--port", fmt.Sprint(kpPort))
	if err := kp.Start(); err != nil {
		return fmt.Errorf("start kubectl proxy: %w", err)
	}
	defer func() { _ = kp.Process.Kill(); _ = kp.Wait() }()

	// The direct path acts as the same user the proxy impersonates, so the
	// apiserver's priority and fairness treats both paths alike (an admin
	// certificate would be exempt from it).
	directCfg := target.RESTConfig()
	directCfg.Impersonate = rest.ImpersonationConfig{UserName: mgmtv1.UserPrefix + "bench", Groups: []string{"system:authenticated"}}
	direct, err := rest.HTTPClientFor(directCfg)
	if err != nil {
		return err
	}
	bokujoTransport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool}, ForceAttemptHTTP2: !*h1, MaxIdleConnsPerHost: 2000}
	if *h1 {
		bokujoTransport.TLSClientConfig.NextProtos = []string{"http/1.1"}
	}
	bokujoClient := &http.Client{Transport: bokujoTransport}
	paths := []path{
		{name: "direct", base: target.URL(), client: direct},
		{name: "kubectl proxy", base: fmt.Sprintf("http://127.0.0.1:%d", kpPort), client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2000}}},
		{name: "bokujo", base: bokujoURL + "/k8s/clusters/target", client: bokujoClient, header: http.Header{"Authorization": {"Bearer " + token}}},
	}
	// Wait until every path answers (RBAC sync has granted the user).
	for _, p := range paths {
		if err := waitOK(ctx, p, "/api/v1/namespaces/default"); err != nil {
			return fmt.Errorf("%s not ready: %w", p.name, err)
		}
	}
	fmt.Fprintf(os.Stderr, "creating %d pods...\n", *pods)
	if err := createPods(ctx, target, *pods); err != nil {
		return err
	}

	// Requests alternate between the paths, so the noise of a shared
	// machine falls on all of them alike.
	fmt.Fprintln(os.Stderr, "GET latency...")
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	lat, err := getLatency(ctx, paths, "/api/v1/namespaces/bench/pods/pod-0", *gets)
	if *cpuProf != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "LIST latency...")
	list, err := listMedian(ctx, paths, "/api/v1/namespaces/bench/pods", *lists)
	if err != nil {
		return err
	}
	// Watches: rounds alternate direct and bokujo; the median round counts.
	fmt.Fprintln(os.Stderr, "watches...")
	type watchResult struct {
		d    time.Duration
		lost int64
	}
	wres := map[string]watchResult{}
	rounds := map[string][]time.Duration{}
	lost := map[string]int64{}
	for round := 0; round < 3; round++ {
		for i, p := range []path{paths[0], paths[2]} {
			d, l, err := watchFanout(ctx, target, p, fmt.Sprintf("watch-%d-%d", round, i), *watches, *events)
			if err != nil {
				return fmt.Errorf("%s watches: %w", p.name, err)
			}
			rounds[p.name] = append(rounds[p.name], d)
			lost[p.name] += l
		}
	}
	for name, ds := range rounds {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		wres[name] = watchResult{ds[len(ds)/2], lost[name]}
	}

	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "GET one pod (%d requests)\tp50\tp99\t\n", *gets)
	for _, p := range paths {
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", p.name, ms(lat[p.name][0]), ms(lat[p.name][1]))
	}
	added := func(name string, i int) time.Duration { return lat[name][i] - lat["direct"][i] }
	// A ratio of two small differences is only meaningful when the
	// baseline's difference is clearly above zero; on a loaded machine it
	// may not be, and the table says so instead of printing noise.
	ratio := func(i int) string {
		base := added("kubectl proxy", i)
		if base < 50*time.Microsecond {
			return "n/a (baseline below noise)"
		}
		return fmt.Sprintf("%.2f", float64(added("bokujo", i))/float64(base))
	}
	fmt.Fprintf(tw, "added by kubectl proxy\t%s\t%s\t\n", ms(added("kubectl proxy", 0)), ms(added("kubectl proxy", 1)))
	fmt.Fprintf(tw, "added by bokujo\t%s\t%s\t\n", ms(added("bokujo", 0)), ms(added("bokujo", 1)))
	fmt.Fprintf(tw, "bokujo added / kubectl proxy added (target <= 1.2)\t%s\t%s\t\n", ratio(0), ratio(1))
	tw.Flush()
	fmt.Println()
	tw = tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "LIST %d pods, gzip (median of %d)\tlatency\tratio to direct\t\n", *pods, *lists)
	for _, p := range paths {
		fmt.Fprintf(tw, "%s\t%s\t%.3f\t\n", p.name, ms(list[p.name]), float64(list[p.name])/float64(list["direct"]))
	}
	tw.Flush()
	fmt.Printf("LIST target: bokujo <= 1.05 x direct\n\n")
	tw = tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	total := *watches * *events
	fmt.Fprintf(tw, "%d watches x %d events (median of 3)\tall delivered in\tevents/s\tlost\t\n", *watches, *events)
	for _, name := range []string{"direct", "bokujo"} {
		r := wres[name]
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%d\t\n", name, ms(r.d), float64(total)/r.d.Seconds(), r.lost)
	}
	tw.Flush()
	fmt.Printf("watch throughput bokujo/direct: %.2f (target >= 0.9)\n", wres["direct"].d.Seconds()/wres["bokujo"].d.Seconds())
	return nil
}

func startBokujo(ctx context.Context, mgmt *localcluster.Cluster, dir string) (*app.App, string, *x509.CertPool, error) {
	ca, err := pki.NewCA("bench-ca")
	if err != nil {
		return nil, "", nil, err
	}
	kp, err := ca.Issue(pki.Spec{CommonName: "bokujo", IPs: []net.IP{net.ParseIP("127.0.0.1")}, Server: true})
	if err != nil {
		return nil, "", nil, err
	}
	cert, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	if err != nil {
		return nil, "", nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, "", nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	a, err := app.Start(ctx, app.Options{Management: mgmt.RESTConfig(), Listen: addr, Certificate: cert, CACertPEM: ca.CertPEM,
		DataDir: dir, ClusterPolicy: clusters.Policy{AllowLoopback: true, ServerAddrs: []string{addr}}})
	if err != nil {
		return nil, "", nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	return a, "https://" + addr, pool, nil
}

func mustBinDir() string {
	d, err := localcluster.FindBinDir("")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	return d
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (p path) request(ctx context.Context, method, url string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, p.base+url, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range p.header {
		req.Header[k] = v
	}
	return req, nil
}

func waitOK(ctx context.Context, p path, url string) error {
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		req, _ := p.request(ctx, "GET", url)
		resp, err := p.client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("no 200 within 60s: %s", last)
}

func createPods(ctx context.Context, c *localcluster.Cluster, n int) error {
	cs := c.Client()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bench"}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	work := make(chan int)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%d", i), Labels: map[string]string{"app": "bench"}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
				if _, err := cs.CoreV1().Pods("bench").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return fmt.Errorf("create pods: %w", err)
	default:
		return nil
	}
}

func getOnce(ctx context.Context, p path, url string) (time.Duration, error) {
	req, _ := p.request(ctx, "GET", url)
	start := time.Now()
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	return time.Since(start), nil
}

// getLatency returns p50 and p99 per path.
func getLatency(ctx context.Context, paths []path, url string, n int) (map[string][2]time.Duration, error) {
	d := map[string][]time.Duration{}
	for i := 0; i < n+n/10; i++ {
		for _, p := range paths {
			v, err := getOnce(ctx, p, url)
			if err != nil {
				return nil, fmt.Errorf("%s GET: %w", p.name, err)
			}
			if i >= n/10 { // the first tenth warms connections and caches
				d[p.name] = append(d[p.name], v)
			}
		}
	}
	out := map[string][2]time.Duration{}
	for name, v := range d {
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		out[name] = [2]time.Duration{v[len(v)/2], v[len(v)*99/100]}
	}
	return out, nil
}

// listMedian returns the median LIST time per path, gzip on.
func listMedian(ctx context.Context, paths []path, url string, n int) (map[string]time.Duration, error) {
	d := map[string][]time.Duration{}
	for i := 0; i < n+1; i++ {
		for _, p := range paths {
			req, _ := p.request(ctx, "GET", url)
			// Explicit gzip: the transport then hands back the compressed
			// body, read whole as a client would before decoding.
			req.Header.Set("Accept-Encoding", "gzip")
			req.Header.Set("Accept", "application/json")
			start := time.Now()
			resp, err := p.client.Do(req)
			if err != nil {
				return nil, fmt.Errorf("%s LIST: %w", p.name, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return nil, fmt.Errorf("%s LIST: status %d", p.name, resp.StatusCode)
			}
			if i > 0 { // the first round warms caches
				d[p.name] = append(d[p.name], time.Since(start))
			}
		}
	}
	out := map[string]time.Duration{}
	for name, v := range d {
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		out[name] = v[len(v)/2]
	}
	return out, nil
}

// watchFanout opens n watches on a fresh namespace's configmaps, creates
// events configmaps, and waits until every watch has seen every ADDED.
func watchFanout(ctx context.Context, c *localcluster.Cluster, p path, ns string, n, events int) (time.Duration, int64, error) {
	cs := c.Client()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return 0, 0, err
	}
	list, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, 0, err
	}
	rv := list.ResourceVersion
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var received, retried atomic.Int64
	var ready, done sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			// Like client-go, a watch refused with 429 (priority and
			// fairness) waits Retry-After and tries again.
			var resp *http.Response
			var err error
			for attempt := 0; ; attempt++ {
				req, _ := p.request(wctx, "GET", "/api/v1/namespaces/"+ns+"/configmaps?watch=true&allowWatchBookmarks=false&resourceVersion="+rv)
				resp, err = p.client.Do(req)
				if err != nil || resp.StatusCode != http.StatusTooManyRequests || attempt == 20 {
					break
				}
				resp.Body.Close()
				retried.Add(1)
				time.Sleep(time.Second)
			}
			ready.Done()
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- fmt.Errorf("status %d", resp.StatusCode)
				return
			}
			dec := json.NewDecoder(bufio.NewReader(resp.Body))
			got := 0
			for got < events {
				var ev struct{ Type string }
				if err := dec.Decode(&ev); err != nil {
					errs <- err
					return
				}
				if ev.Type == "ADDED" {
					got++
					received.Add(1)
				}
			}
		}()
	}
	ready.Wait()
	if n := retried.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "%s: %d watch starts were throttled (429) and retried\n", p.name, n)
	}
	time.Sleep(time.Second) // let every watch register at the apiserver
	start := time.Now()
	for i := 0; i < events; i++ {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ev-%d", i)}}
		if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			return 0, 0, err
		}
	}
	done.Wait()
	elapsed := time.Since(start)
	lost := int64(n*events) - received.Load()
	select {
	case err := <-errs:
		if !strings.Contains(err.Error(), "context") {
			return elapsed, lost, err
		}
	default:
	}
	return elapsed, lost, nil
}
