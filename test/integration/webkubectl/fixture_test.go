package webkubectl_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/app"
	"bokujo.io/bokujo/internal/webkubectl"
	"bokujo.io/bokujo/test/framework"
	"bokujo.io/bokujo/test/framework/testserver"
)

const password = "Terminal-test-pw-1!"

// fixture is a server with dev imported, alice a member of project
// "alpha" (namespace alpha-<run>) and bob of project "beta" (beta-<run>).
type fixture struct {
	srv         *testserver.Server
	alphaNS     string
	betaNS      string
	alicePod    string
	sessionOf   map[string]login
	sessionLock sync.Mutex
}

type login struct {
	cookie *http.Cookie
	csrf   string
}

func setup(t *testing.T, limits webkubectl.Limits) *fixture {
	t.Helper()
	if env == nil {
		t.Skip("integration test: needs real clusters (runs without -short)")
	}
	srv := testserver.Start(t, env.RESTConfig(t, "mgmt"), func(o *app.Options) { o.Terminal.Limits = limits })
	ctx := context.Background()
	if err := srv.App.Registry.ImportConfig(ctx, "dev", "", env.Cluster(t, "dev").RESTConfig()); err != nil {
		t.Fatalf("import dev: %v", err)
	}
	f := &fixture{srv: srv, alphaNS: env.Namespace(t, "dev"), betaNS: env.Namespace(t, "dev"), sessionOf: map[string]login{}}
	for _, u := range []string{"alice", "bob"} {
		if _, err := srv.App.Auth.CreateLocalUser(ctx, u, strings.ToUpper(u[:1])+u[1:], password); err != nil {
			t.Fatalf("create %s: %v", u, err)
		}
	}
	suffix := strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	objs := []client.Object{
		&mgmtv1.Project{ObjectMeta: metav1.ObjectMeta{Name: "alpha-" + suffix}, Spec: mgmtv1.ProjectSpec{ClusterName: "dev", Namespaces: []string{f.alphaNS}}},
		&mgmtv1.Project{ObjectMeta: metav1.ObjectMeta{Name: "beta-" + suffix}, Spec: mgmtv1.ProjectSpec{ClusterName: "dev", Namespaces: []string{f.betaNS}}},
		&mgmtv1.ProjectRoleTemplateBinding{ObjectMeta: metav1.ObjectMeta{Name: "alice-" + suffix}, Spec: mgmtv1.ProjectRoleTemplateBindingSpec{
			ProjectName: "alpha-" + suffix, RoleTemplateName: "project-member", Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: "alice"}}},
		&mgmtv1.ProjectRoleTemplateBinding{ObjectMeta: metav1.ObjectMeta{Name: "bob-" + suffix}, Spec: mgmtv1.ProjectRoleTemplateBindingSpec{
			ProjectName: "beta-" + suffix, RoleTemplateName: "project-member", Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: "bob"}}},
	}
	for _, o := range objs {
		if err := srv.App.Client.Create(ctx, o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
	dev := env.Client(t, "dev")
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "nginx"}}},
			},
		},
	}
	if _, err := dev.AppsV1().Deployments(f.alphaNS).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, framework.Medium, func() error {
		pods, err := dev.CoreV1().Pods(f.alphaNS).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if len(pods.Items) != 1 || pods.Items[0].Status.Phase != corev1.PodRunning {
			return fmt.Errorf("want one running pod in %s, have %d", f.alphaNS, len(pods.Items))
		}
		f.alicePod = pods.Items[0].Name
		return nil
	})
	// RBAC sync has written both users' RoleBindings.
	framework.Eventually(t, framework.Medium, func() error {
		for _, ns := range []string{f.alphaNS, f.betaNS} {
			rbs, err := dev.RbacV1().RoleBindings(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=bokujo"})
			if err != nil {
				return err
			}
			if len(rbs.Items) == 0 {
				return fmt.Errorf("no bokujo RoleBinding in %s yet", ns)
			}
		}
		return nil
	})
	return f
}

// login logs a user in over the API like the browser does.
func (f *fixture) login(t *testing.T, user string) login {
	t.Helper()
	f.sessionLock.Lock()
	defer f.sessionLock.Unlock()
	if l, ok := f.sessionOf[user]; ok {
		return l
	}
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	resp, err := f.srv.HTTPClient().Post(f.srv.URL+"/v1/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		CSRFToken string `json:"csrfToken"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&out) != nil {
		t.Fatalf("login %s: %d", user, resp.StatusCode)
	}
	var l login
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-bokujo_session" {
			l.cookie = c
		}
	}
	l.csrf = out.CSRFToken
	if l.cookie == nil || l.csrf == "" {
		t.Fatalf("login %s: no session cookie or CSRF token", user)
	}
	f.sessionOf[user] = l
	return l
}

// dialOptions shape a handshake; the zero value is the browser's.
type dialOptions struct {
	origin    string // "" = the server's own; "-" = none
	csrf      string // "" = the session's; "-" = none
	namespace string
	cluster   string
}

func (f *fixture) dial(t *testing.T, user string, o dialOptions) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	l := f.login(t, user)
	q := url.Values{}
	q.Set("cluster", "dev")
	if o.cluster != "" {
		q.Set("cluster", o.cluster)
	}
	if o.namespace != "" {
		q.Set("namespace", o.namespace)
	}
	switch o.csrf {
	case "":
		q.Set("csrf", l.csrf)
	case "-":
	default:
		q.Set("csrf", o.csrf)
	}
	h := http.Header{}
	h.Add("Cookie", l.cookie.Name+"="+l.cookie.Value)
	switch o.origin {
	case "":
		h.Set("Origin", f.srv.URL)
	case "-":
	default:
		h.Set("Origin", o.origin)
	}
	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: f.srv.CA}, HandshakeTimeout: framework.Short}
	return d.Dial("wss://"+f.srv.Host+"/v1/terminal?"+q.Encode(), h)
}

// term is an open terminal whose frames a goroutine collects.
type term struct {
	t    *testing.T
	conn *websocket.Conn

	mu     sync.Mutex
	out    bytes.Buffer
	msgs   []webkubectl.Message
	closed error
	wake   chan struct{}
}

func (f *fixture) open(t *testing.T, user string, o dialOptions) *term {
	t.Helper()
	conn, resp, err := f.dial(t, user, o)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("open terminal as %s: %v (%d)", user, err, status)
	}
	tm := &term{t: t, conn: conn, wake: make(chan struct{}, 1)}
	t.Cleanup(func() { _ = conn.Close() })
	go tm.read()
	tm.waitMsg("ready", func(webkubectl.Message) bool { return true })
	return tm
}

func (tm *term) read() {
	for {
		kind, data, err := tm.conn.ReadMessage()
		tm.mu.Lock()
		switch {
		case err != nil:
			tm.closed = err
		case kind == websocket.BinaryMessage:
			tm.out.Write(data)
		default:
			var m webkubectl.Message
			if json.Unmarshal(data, &m) == nil {
				tm.msgs = append(tm.msgs, m)
			}
		}
		tm.mu.Unlock()
		select {
		case tm.wake <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

func (tm *term) send(m webkubectl.Message) {
	tm.t.Helper()
	data, _ := json.Marshal(m)
	if err := tm.conn.WriteMessage(websocket.TextMessage, data); err != nil {
		tm.t.Fatalf("send %s: %v", m.Type, err)
	}
}

// waitMsg waits for a message of a type that matches, and consumes the
// messages up to it.
func (tm *term) waitMsg(typ string, match func(webkubectl.Message) bool) webkubectl.Message {
	tm.t.Helper()
	deadline := time.After(framework.Medium)
	for {
		tm.mu.Lock()
		for i, m := range tm.msgs {
			if m.Type == typ && match(m) {
				tm.msgs = tm.msgs[i+1:]
				tm.mu.Unlock()
				return m
			}
		}
		closed := tm.closed
		tm.mu.Unlock()
		if closed != nil {
			tm.t.Fatalf("terminal closed while waiting for %s: %v\noutput: %s", typ, closed, tm.output())
		}
		select {
		case <-tm.wake:
		case <-deadline:
			tm.t.Fatalf("no %s message; output so far:\n%s", typ, tm.output())
		}
	}
}

// output returns the terminal output so far, with the PTY's CRLF as LF.
func (tm *term) output() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return strings.ReplaceAll(tm.out.String(), "\r\n", "\n")
}

func (tm *term) resetOutput() {
	tm.mu.Lock()
	tm.out.Reset()
	tm.mu.Unlock()
}

// run runs a line to its end and returns its output and exit message.
func (tm *term) run(line string) (string, webkubectl.Message) {
	tm.t.Helper()
	tm.resetOutput()
	tm.send(webkubectl.Message{Type: "run", Line: line, Cols: 200, Rows: 50})
	m := tm.waitMsg("exit", func(webkubectl.Message) bool { return true })
	return tm.output(), m
}

// refused runs a line that must be refused and returns the refusal.
func (tm *term) refused(line string) webkubectl.Message {
	tm.t.Helper()
	tm.send(webkubectl.Message{Type: "run", Line: line})
	return tm.waitMsg("refused", func(webkubectl.Message) bool { return true })
}

// waitOutput waits until the output matches.
func (tm *term) waitOutput(re *regexp.Regexp) string {
	tm.t.Helper()
	deadline := time.After(framework.Medium)
	for {
		if out := tm.output(); re.MatchString(out) {
			return out
		}
		select {
		case <-tm.wake:
		case <-deadline:
			tm.t.Fatalf("output does not match %s:\n%s", re, tm.output())
		}
	}
}

// waitClosed waits for the server to close the connection.
func (tm *term) waitClosed() error {
	tm.t.Helper()
	deadline := time.After(framework.Medium)
	for {
		tm.mu.Lock()
		closed := tm.closed
		tm.mu.Unlock()
		if closed != nil {
			return closed
		}
		select {
		case <-tm.wake:
		case <-deadline:
			tm.t.Fatal("the server did not close the terminal")
		}
	}
}

func readAll(r io.Reader) string { b, _ := io.ReadAll(r); return string(b) }
