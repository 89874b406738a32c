// Command webkubectl measures what web terminals cost everyone else: the
// p99 latency of ordinary /v1 API calls (GET /v1/clusters, GET /v1/me)
// with no terminal open (the baseline), then while -sessions terminals
// each run kubectl commands back to back with -think time between them,
// as users typing would. It prints both, their ratio, and the p99 against
// the 100 ms target. Rounds alternate idle and loaded, so the noise of a
// shared machine falls on both alike.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/app"
	"bokujo.io/bokujo/internal/clusters"
	"bokujo.io/bokujo/internal/localcluster"
	"bokujo.io/bokujo/internal/pki"
	"bokujo.io/bokujo/internal/webkubectl"
)

var (
	sessions = flag.Int("sessions", 50, "concurrent terminal sessions")
	think    = flag.Duration("think", time.Second, "pause between a session's commands")
	calls    = flag.Int("calls", 400, "API calls per measurement round")
	rounds   = flag.Int("rounds", 3, "idle and loaded rounds each")
	target   = flag.Duration("target", 100*time.Millisecond, "p99 target of API calls under load")
)

var commands = []string{
	"kubectl get pods -A",
	"kubectl get nodes -o wide",
	"kubectl get deployments -n bench",
	"kubectl describe node node-0",
	"kubectl auth can-i create pods -n bench",
}

func main() {
	flag.Parse()
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "bench/webkubectl:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "bokujo-bench-webkubectl-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var mgmt, dev *localcluster.Cluster
	var errM, errD error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		mgmt, errM = localcluster.Start(ctx, localcluster.Options{Name: "mgmt", Dir: filepath.Join(dir, "mgmt")})
	}()
	go func() {
		defer wg.Done()
		dev, errD = localcluster.Start(ctx, localcluster.Options{Name: "dev", Dir: filepath.Join(dir, "dev"), Nodes: localcluster.CPUNodes("node", 3)})
	}()
	wg.Wait()
	if mgmt != nil {
		defer mgmt.Stop()
	}
	if dev != nil {
		defer dev.Stop()
	}
	if errM != nil || errD != nil {
		return fmt.Errorf("start clusters: %v %v", errM, errD)
	}
	srv, err := startBokujo(ctx, mgmt, dir)
	if err != nil {
		return err
	}
	defer srv.app.Stop()
	if err := srv.app.Registry.ImportConfig(ctx, "dev", "", dev.RESTConfig()); err != nil {
		return err
	}
	const password = "bench-password-123456"
	if _, err := srv.app.Auth.CreateLocalUser(ctx, "bench", "Bench", password); err != nil {
		return err
	}
	crtb := &mgmtv1.ClusterRoleTemplateBinding{ObjectMeta: metav1.ObjectMeta{Name: "bench-owner"}, Spec: mgmtv1.ClusterRoleTemplateBindingSpec{
		ClusterName: "dev", RoleTemplateName: "cluster-owner", Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: "bench"}}}
	if err := srv.app.Client.Create(ctx, crtb); err != nil {
		return err
	}
	cookie, csrf, err := srv.login("bench", password)
	if err != nil {
		return err
	}
	// RBAC sync has granted the user once a terminal command succeeds.
	probe, err := srv.open(cookie, csrf)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		code, err := probe.run("kubectl get nodes")
		if err == nil && code == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("terminal commands do not succeed: exit %d %v", code, err)
		}
		time.Sleep(time.Second)
	}
	probe.conn.Close()

	api := func(path string) error {
		req, _ := http.NewRequest("GET", srv.url+path, nil)
		req.AddCookie(cookie)
		resp, err := srv.client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("GET %s: %d", path, resp.StatusCode)
		}
		return nil
	}
	measure := func() ([]time.Duration, error) {
		var lat []time.Duration
		for i := range *calls {
			path := []string{"/v1/clusters", "/v1/me"}[i%2]
			start := time.Now()
			if err := api(path); err != nil {
				return nil, err
			}
			lat = append(lat, time.Since(start))
		}
		return lat, nil
	}

	var idle, loaded []time.Duration
	var ran, failed atomic.Int64
	var loadTime time.Duration
	for r := range *rounds {
		fmt.Fprintf(os.Stderr, "round %d: idle...\n", r+1)
		lat, err := measure()
		if err != nil {
			return err
		}
		idle = append(idle, lat...)

		fmt.Fprintf(os.Stderr, "round %d: opening %d terminals...\n", r+1, *sessions)
		terms := make([]*term, 0, *sessions)
		for range *sessions {
			tm, err := srv.open(cookie, csrf)
			if err != nil {
				return fmt.Errorf("open terminal %d: %w", len(terms)+1, err)
			}
			terms = append(terms, tm)
		}
		lctx, stop := context.WithCancel(ctx)
		phaseStart := time.Now()
		var lwg sync.WaitGroup
		for i, tm := range terms {
			lwg.Add(1)
			go func() {
				defer lwg.Done()
				for n := i; lctx.Err() == nil; n++ {
					code, err := tm.run(commands[n%len(commands)])
					if err != nil || code != 0 {
						failed.Add(1)
					} else {
						ran.Add(1)
					}
					select {
					case <-lctx.Done():
					case <-time.After(*think):
					}
				}
			}()
		}
		// Let every session start its first command before measuring.
		time.Sleep(2 * time.Second)
		fmt.Fprintf(os.Stderr, "round %d: loaded...\n", r+1)
		lat, err = measure()
		stop()
		lwg.Wait()
		loadTime += time.Since(phaseStart)
		for _, tm := range terms {
			tm.conn.Close()
		}
		if err != nil {
			return err
		}
		loaded = append(loaded, lat...)
		// Closed sessions release their slots in the background.
		for srv.app.Terminal.Sessions() > 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	p := func(ds []time.Duration, q float64) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[int(float64(len(s)-1)*q)]
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	fmt.Printf("ordinary /v1 API calls (GET /v1/clusters, /v1/me), %d per phase\n", len(idle))
	fmt.Printf("  no terminal:            p50 %s  p99 %s\n", ms(p(idle, 0.5)), ms(p(idle, 0.99)))
	fmt.Printf("  %d terminals busy:      p50 %s  p99 %s\n", *sessions, ms(p(loaded, 0.5)), ms(p(loaded, 0.99)))
	fmt.Printf("  p99 ratio loaded/idle:  %.2f\n", float64(p(loaded, 0.99))/float64(p(idle, 0.99)))
	verdict := "meets"
	if p(loaded, 0.99) > *target {
		verdict = "MISSES"
	}
	fmt.Printf("  p99 under load %s the %s target\n", verdict, ms(*target))
	fmt.Printf("terminal commands in the loaded phases: %d ok, %d failed, %.1f commands/s\n",
		ran.Load(), failed.Load(), float64(ran.Load())/loadTime.Seconds())
	if failed.Load() > 0 {
		return errors.New("some terminal commands failed")
	}
	return nil
}

type server struct {
	app    *app.App
	url    string
	host   string
	ca     *x509.CertPool
	client *http.Client
}

func startBokujo(ctx context.Context, mgmt *localcluster.Cluster, dir string) (*server, error) {
	ca, err := pki.NewCA("bench-ca")
	if err != nil {
		return nil, err
	}
	kp, err := ca.Issue(pki.Spec{CommonName: "bokujo", IPs: []net.IP{net.ParseIP("127.0.0.1")}, Server: true})
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	host := l.Addr().String()
	l.Close()
	a, err := app.Start(ctx, app.Options{
		Management: mgmt.RESTConfig(), Listen: host, Certificate: cert, CACertPEM: ca.CertPEM, DataDir: dir,
		ClusterPolicy: clusters.Policy{AllowLoopback: true, ServerAddrs: []string{host}},
		Terminal:      webkubectl.Options{Limits: webkubectl.Limits{SessionsPerUser: *sessions + 1}},
		Logger:        slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 16}}
	return &server{app: a, url: "https://" + host, host: host, ca: pool, client: client}, nil
}

func (s *server) login(user, password string) (*http.Cookie, string, error) {
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	resp, err := s.client.Post(s.url+"/v1/login", "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	var out struct {
		CSRFToken string `json:"csrfToken"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		return nil, "", fmt.Errorf("login: %d %v", resp.StatusCode, err)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-bokujo_session" {
			return c, out.CSRFToken, nil
		}
	}
	return nil, "", errors.New("login: no session cookie")
}

type term struct{ conn *websocket.Conn }

func (s *server) open(cookie *http.Cookie, csrf string) (*term, error) {
	q := url.Values{"cluster": {"dev"}, "namespace": {"bench"}, "csrf": {csrf}}
	h := http.Header{"Origin": {s.url}, "Cookie": {cookie.Name + "=" + cookie.Value}}
	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: s.ca}, HandshakeTimeout: 30 * time.Second}
	conn, _, err := d.Dial("wss://"+s.host+"/v1/terminal?"+q.Encode(), h)
	if err != nil {
		return nil, err
	}
	var m webkubectl.Message
	if err := conn.ReadJSON(&m); err != nil || m.Type != "ready" {
		conn.Close()
		return nil, fmt.Errorf("terminal not ready: %v %+v", err, m)
	}
	return &term{conn: conn}, nil
}

// run runs a command to its end, discarding its output, and returns its
// exit code.
func (t *term) run(line string) (int, error) {
	if err := t.conn.WriteJSON(webkubectl.Message{Type: "run", Line: line}); err != nil {
		return -1, err
	}
	for {
		kind, data, err := t.conn.ReadMessage()
		if err != nil {
			return -1, err
		}
		if kind != websocket.TextMessage {
			continue
		}
		var m webkubectl.Message
		if err := json.Unmarshal(data, &m); err != nil {
			return -1, err
		}
		switch m.Type {
		case "exit":
			return m.Code, nil
		case "refused", "error":
			return -1, fmt.Errorf("%s: %s", m.Type, m.Message)
		}
	}
}
