package webkubectl_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/audit"
	"bokujo.io/bokujo/internal/auth"
	"bokujo.io/bokujo/internal/webkubectl"
	"bokujo.io/bokujo/test/framework"
)

// limits of the package's server: short enough to test the idle timeout,
// the per-user limit and the wall-clock limit without long waits.
var limits = webkubectl.Limits{IdleTimeout: 3 * time.Second, SessionsPerUser: 3, CommandTimeout: 8 * time.Second}

func TestTerminal(t *testing.T) {
	f := setup(t, limits)
	ctx := context.Background()

	t.Run("alice lists her pods", func(t *testing.T) {
		tm := f.open(t, "alice", dialOptions{namespace: f.alphaNS})
		out, exit := tm.run("kubectl get pods")
		if exit.Code != 0 || !strings.Contains(out, f.alicePod) || !strings.Contains(out, "Running") {
			t.Fatalf("get pods: exit %d\n%s", exit.Code, out)
		}
		out, exit = tm.run("kubectl get pods -n " + f.alphaNS + " -o jsonpath='{.items[*].metadata.name}'")
		if exit.Code != 0 || strings.TrimSpace(out) != f.alicePod {
			t.Fatalf("jsonpath: exit %d %q", exit.Code, out)
		}
	})

	t.Run("the apiserver's Forbidden reaches the terminal", func(t *testing.T) {
		tm := f.open(t, "alice", dialOptions{namespace: f.alphaNS})
		out, exit := tm.run("kubectl get pods -n " + f.betaNS)
		if exit.Code == 0 || !strings.Contains(out, "Forbidden") || !strings.Contains(out, `"bokujo:alice"`) {
			t.Fatalf("want the apiserver's Forbidden for bokujo:alice, got exit %d:\n%s", exit.Code, out)
		}
	})

	t.Run("alice cannot act as bob", func(t *testing.T) {
		bobToken, _, err := f.srv.App.Auth.CreateToken(ctx, "bob", auth.TokenRequest{Type: mgmtv1.TokenTypeAPI, Description: "bob's", TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		tm := f.open(t, "alice", dialOptions{namespace: f.alphaNS})
		for line, rule := range map[string]string{
			"kubectl get pods -n " + f.betaNS + " --as=bob":                  "flag-as",
			"kubectl get pods -n " + f.betaNS + " --as bob":                  "flag-as",
			"kubectl get pods -n " + f.betaNS + " --as-group=system:masters": "flag-as-group",
			"kubectl get pods -n " + f.betaNS + " --user=bob":                "flag-user",
			"kubectl get pods -n " + f.betaNS + " --token=" + bobToken:       "flag-token",
			"kubectl get pods -n " + f.betaNS + " --kubeconfig=/tmp/bob":     "flag-kubeconfig",
			"KUBECONFIG=/tmp/bob kubectl get pods -n " + f.betaNS:            "no-env",
			"env BEARER=x kubectl get pods":                                  "kubectl-only",
			"kubectl get pods -n $BOB_NS":                                    "no-expansion",
			"kubectl config set-credentials bokujo --token=" + bobToken:      "flag-token",
		} {
			if m := tm.refused(line); m.Rule != rule || m.Message == "" {
				t.Errorf("%q refused by %q (%s); want %q", line, m.Rule, m.Message, rule)
			}
		}
		out, exit := tm.run("kubectl auth whoami -o jsonpath={.status.userInfo.username}")
		if exit.Code != 0 || strings.TrimSpace(out) != "bokujo:alice" {
			t.Fatalf("whoami: exit %d %q", exit.Code, out)
		}
		// An impersonation header smuggled into the request by kubectl
		// itself would be stripped by the proxy; the flag never gets there.
		out, _ = tm.run("kubectl get pods -n " + f.betaNS)
		if !strings.Contains(out, "Forbidden") {
			t.Fatalf("alice read bob's namespace:\n%s", out)
		}
		out, exit = tm.run("kubectl config get-contexts -o name")
		if exit.Code != 0 || strings.TrimSpace(out) != "dev" {
			t.Fatalf("contexts: %d %q", exit.Code, out)
		}
	})

	t.Run("every escape is refused with its rule", func(t *testing.T) {
		tm := f.open(t, "alice", dialOptions{namespace: f.alphaNS})
		for line, rule := range map[string]string{
			"bash -i":                                                   "kubectl-only",
			"kubectl get pods; cat /etc/passwd":                         "no-shell",
			"kubectl get pods | sh":                                     "no-shell",
			"kubectl get pods --server=https://x:6443":                  "flag-server",
			"kubectl apply -f /etc/passwd":                              "local-file",
			"kubectl get -o go-template-file=/etc/passwd pods":          "output-file",
			"kubectl cp " + f.alicePod + ":/etc/passwd /tmp/x":          "verb-not-allowed",
			"kubectl plugin list":                                       "verb-not-allowed",
			"kubectl proxy":                                             "verb-not-allowed",
			"kubectl port-forward " + f.alicePod + " 6443:443":          "verb-not-allowed",
			"kubectl edit deployment web":                               "verb-not-allowed",
			"kubectl apply -k /srv":                                     "flag-kustomize",
			"kubectl create secret generic s --from-file=/etc/hostname": "flag-from-file",
		} {
			if m := tm.refused(line); m.Rule != rule {
				t.Errorf("%q refused by %q (%s); want %q", line, m.Rule, m.Message, rule)
			}
		}
	})

	t.Run("pasted manifest through apply -f -", func(t *testing.T) {
		tm := f.open(t, "alice", dialOptions{namespace: f.alphaNS})
		tm.resetOutput()
		tm.send(webkubectl.Message{Type: "run", Line: "kubectl apply -f -"})
		manifest := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pasted\ndata:\n  a: b\n"
		tm.send(webkubectl.Message{Type: "input", Data: strings.ReplaceAll(manifest, "\n", "\r")})
		tm.send(webkubectl.Message{Type: "input", Data: "\x04"})
		exit := tm.waitMsg("exit", func(webkubectl.Message) bool { return true })
		if out := tm.output(); exit.Code != 0 || !strings.Contains(out, "configmap/pasted created") {
			t.Fatalf("apply: exit %d\n%s", exit.Code, out)
		}
		if _, err := env.Client(t, "dev").CoreV1().ConfigMaps(f.alphaNS).Get(ctx, "pasted", metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("tab completion as the user", func(t *testing.T) {
		tm := f.open(t, "alice", dialOptions{namespace: f.alphaNS})
		complete := func(id int, line string) []string {
			tm.send(webkubectl.Message{Type: "complete", Line: line, ID: id})
			return tm.waitMsg("completions", func(m webkubectl.Message) bool { return m.ID == id }).Items
		}
		if items := complete(1, "kubectl ge"); !slices.Equal(items, []string{"get"}) {
			t.Errorf("verbs: %q", items)
		}
		if items := complete(2, "kubectl get pods "); !slices.Contains(items, f.alicePod) {
			t.Errorf("pod names: %q", items)
		}
		if items := complete(3, "kubectl get deploy"); !slices.ContainsFunc(items, func(s string) bool { return strings.HasPrefix(s, "deployments") }) {
			t.Errorf("kinds: %q", items)
		}
		if items := complete(4, "kubectl --kubeconfig=/etc/kubernetes/admin.conf get pods "); len(items) != 0 {
			t.Errorf("a refused line was completed: %q", items)
		}
		// Completion lists only what alice may list.
		if items := complete(5, "kubectl get pods -n "+f.betaNS+" "); len(items) != 0 {
			t.Errorf("bob's pods completed for alice: %q", items)
		}
	})

	t.Run("exec -it into a simulated pod, with resize", func(t *testing.T) {
		tm := f.open(t, "alice", dialOptions{namespace: f.alphaNS})
		tm.resetOutput()
		tm.send(webkubectl.Message{Type: "run", Line: "kubectl exec -it " + f.alicePod + " -- /bin/sh", Cols: 120, Rows: 40})
		tm.send(webkubectl.Message{Type: "input", Data: "echo hello-$((6*7))\r"})
		tm.waitOutput(regexp.MustCompile(`hello-42`))
		tm.send(webkubectl.Message{Type: "input", Data: "stty size\r"})
		tm.waitOutput(regexp.MustCompile(`(?m)^40 120\s*$`))
		tm.send(webkubectl.Message{Type: "resize", Cols: 100, Rows: 30})
		// The new size travels kubectl's resize stream, the next line its
		// stdin stream: ask until the shell sees the new size.
		framework.Eventually(t, framework.Short, func() error {
			tm.send(webkubectl.Message{Type: "input", Data: "stty size\r"})
			time.Sleep(200 * time.Millisecond)
			if !regexp.MustCompile(`(?m)^30 100\s*$`).MatchString(tm.output()) {
				return fmt.Errorf("remote size not 30 100:\n%s", tm.output())
			}
			return nil
		})
		tm.send(webkubectl.Message{Type: "input", Data: "exit\r"})
		if exit := tm.waitMsg("exit", func(webkubectl.Message) bool { return true }); exit.Code != 0 {
			t.Fatalf("exec exit %d\n%s", exit.Code, tm.output())
		}
	})

	t.Run("10,000 lines reach a slow browser without blocking the server", func(t *testing.T) {
		var b strings.Builder
		for i := range 10000 {
			fmt.Fprintf(&b, "line-%05d\n", i)
		}
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "big"}, Data: map[string]string{"big": b.String()}}
		if _, err := env.Client(t, "dev").CoreV1().ConfigMaps(f.alphaNS).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		conn, _, err := f.dial(t, "alice", dialOptions{namespace: f.alphaNS})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := conn.WriteJSON(webkubectl.Message{Type: "run", Line: "kubectl get configmap big -o jsonpath={.data.big}"}); err != nil {
			t.Fatal(err)
		}
		// The browser reads nothing while others use the server: their
		// requests and another terminal are answered.
		other := f.open(t, "bob", dialOptions{namespace: f.betaNS})
		for range 3 {
			if out, exit := other.run("kubectl get configmaps -o name"); exit.Code != 0 {
				t.Fatalf("another terminal is stuck: %d %s", exit.Code, out)
			}
		}
		l := f.login(t, "alice")
		for range 20 {
			req, _ := http.NewRequest("GET", f.srv.URL+"/v1/me", nil)
			req.AddCookie(l.cookie)
			resp, err := f.srv.HTTPClient().Do(req)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("/v1/me while a terminal is not read: %v", err)
			}
			resp.Body.Close()
		}
		// Now read slowly, frame by frame.
		var out strings.Builder
		frames := 0
		for {
			kind, data, err := conn.ReadMessage()
			if err != nil {
				t.Fatalf("read after %d frames: %v", frames, err)
			}
			if kind == websocket.BinaryMessage {
				out.Write(data)
				frames++
				time.Sleep(5 * time.Millisecond)
				continue
			}
			if strings.Contains(string(data), `"exit"`) {
				break
			}
		}
		lines := strings.Split(strings.TrimRight(strings.ReplaceAll(out.String(), "\r\n", "\n"), "\n"), "\n")
		if len(lines) != 10000 {
			t.Fatalf("got %d lines in %d frames, want 10000", len(lines), frames)
		}
		for i, l := range lines {
			if l != fmt.Sprintf("line-%05d", i) {
				t.Fatalf("line %d is %q", i, l)
			}
		}
	})

	t.Run("commands are audited, output is not", func(t *testing.T) {
		framework.Eventually(t, framework.Short, func() error {
			recs, err := f.srv.App.Audit.Search(audit.Query{User: "alice", Kind: "terminal", Limit: 1000})
			if err != nil {
				return err
			}
			var ran, refused bool
			for _, r := range recs {
				if r.Cluster != "dev" || r.User != "alice" {
					return fmt.Errorf("record without user or cluster: %+v", r)
				}
				if r.Verb == "run" && slices.Equal(r.Command, []string{"kubectl", "get", "pods"}) && r.Namespace == f.alphaNS {
					ran = true
				}
				if r.Verb == "refused" && r.Status == 403 && slices.Contains(r.Command, "--as=bob") {
					refused = true
				}
			}
			if !ran || !refused {
				return fmt.Errorf("audit lacks the run (%v) or the refused (%v) command in %d records", ran, refused, len(recs))
			}
			return nil
		})
		if strings.Contains(f.srv.Logs.String(), "line-09999") {
			t.Fatal("terminal output reached the server log")
		}
	})

	t.Run("context switch and hostile messages", func(t *testing.T) {
		tm := f.open(t, "alice", dialOptions{namespace: f.betaNS})
		tm.send(webkubectl.Message{Type: "context", Cluster: "dev", Namespace: f.alphaNS})
		if m := tm.waitMsg("context", func(webkubectl.Message) bool { return true }); m.Namespace != f.alphaNS {
			t.Fatalf("context: %+v", m)
		}
		if out, exit := tm.run("kubectl get pods -o name"); exit.Code != 0 || !strings.Contains(out, f.alicePod) {
			t.Fatalf("after the switch: %d %s", exit.Code, out)
		}
		wantError := func(what, contains string) {
			t.Helper()
			m := tm.waitMsg("error", func(webkubectl.Message) bool { return true })
			if !strings.Contains(m.Message, contains) {
				t.Fatalf("%s: error %q, want it to say %q", what, m.Message, contains)
			}
		}
		tm.send(webkubectl.Message{Type: "context", Cluster: "prod"})
		wantError("cluster not granted", `cluster "prod" not found`)
		tm.send(webkubectl.Message{Type: "context", Cluster: "dev", Namespace: "../etc"})
		wantError("invalid namespace", "namespace must be")
		tm.send(webkubectl.Message{Type: "shell"})
		wantError("unknown type", "unknown message type")
		if err := tm.conn.WriteMessage(websocket.TextMessage, []byte("{not json")); err != nil {
			t.Fatal(err)
		}
		wantError("malformed", "malformed message")
		if err := tm.conn.WriteMessage(websocket.BinaryMessage, []byte("kubectl get pods")); err != nil {
			t.Fatal(err)
		}
		wantError("binary frame", "send JSON text messages")
		tm.send(webkubectl.Message{Type: "run", Line: "kubectl get pods -w"})
		tm.send(webkubectl.Message{Type: "run", Line: "kubectl get nodes"})
		wantError("second command", "a command is running")
		tm.send(webkubectl.Message{Type: "context", Cluster: "dev", Namespace: f.betaNS})
		wantError("switch while running", "a command is running")
		// The watch reads no input: a flood of it must not stall the
		// session, and Ctrl-C still stops the command. Whether the flood
		// reaches bokujo's own limit ("input dropped") or the terminal's
		// line discipline discards it first depends on timing, so only
		// the outcome is checked.
		for range 400 {
			tm.send(webkubectl.Message{Type: "input", Data: strings.Repeat("x", 1024)})
		}
		tm.send(webkubectl.Message{Type: "input", Data: "\x03"})
		tm.waitMsg("exit", func(webkubectl.Message) bool { return true })
		// A frame over the size limit ends the session.
		if err := tm.conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"input","data":"`+strings.Repeat("a", 70<<10)+`"}`)); err != nil {
			t.Fatal(err)
		}
		var ce *websocket.CloseError
		if err := tm.waitClosed(); !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
			t.Fatalf("an oversized frame: %v", err)
		}
	})

	t.Run("handshake rules", func(t *testing.T) {
		cases := []struct {
			name   string
			user   string
			opts   dialOptions
			header http.Header
			want   int
		}{
			{"another origin", "alice", dialOptions{origin: "https://evil.example"}, nil, 403},
			{"a sibling origin", "alice", dialOptions{origin: "https://127.0.0.1:1"}, nil, 403},
			{"no origin", "alice", dialOptions{origin: "-"}, nil, 403},
			{"missing csrf", "alice", dialOptions{csrf: "-"}, nil, 403},
			{"wrong csrf", "alice", dialOptions{csrf: "AAAA"}, nil, 403},
			{"another user's csrf", "alice", dialOptions{csrf: "bob"}, nil, 403},
			{"cluster not granted", "alice", dialOptions{cluster: "prod"}, nil, 404},
			{"invalid cluster", "alice", dialOptions{cluster: "../dev"}, nil, 400},
			{"invalid namespace", "alice", dialOptions{namespace: "a/b"}, nil, 400},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if c.opts.csrf == "bob" {
					c.opts.csrf = f.login(t, "bob").csrf
				}
				conn, resp, err := f.dial(t, c.user, c.opts)
				if err == nil {
					conn.Close()
					t.Fatalf("handshake accepted")
				}
				if resp == nil || resp.StatusCode != c.want {
					t.Fatalf("got %v %v; want %d", resp, err, c.want)
				}
			})
		}
		t.Run("no session", func(t *testing.T) {
			d := websocket.Dialer{TLSClientConfig: f.srv.HTTPClient().Transport.(*http.Transport).TLSClientConfig}
			_, resp, err := d.Dial("wss://"+f.srv.Host+"/v1/terminal?cluster=dev", http.Header{"Origin": {f.srv.URL}})
			if err == nil || resp == nil || resp.StatusCode != 401 {
				t.Fatalf("want 401, got %v %v", resp, err)
			}
		})
		t.Run("not a websocket", func(t *testing.T) {
			req, _ := http.NewRequest("GET", f.srv.URL+"/v1/terminal?cluster=dev", nil)
			resp, err := f.srv.HTTPClient().Do(req)
			if err != nil || resp.StatusCode != 400 {
				t.Fatalf("want 400, got %v %v", resp, err)
			}
			resp.Body.Close()
		})
	})

	t.Run("per-user session limit", func(t *testing.T) {
		var open []*term
		for range limits.SessionsPerUser {
			open = append(open, f.open(t, "bob", dialOptions{}))
		}
		_, resp, err := f.dial(t, "bob", dialOptions{})
		if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("want 429 over the limit, got %v %v", resp, err)
		}
		body := readAll(resp.Body)
		if !strings.Contains(body, "close one first") {
			t.Fatalf("unclear refusal: %s", body)
		}
		// Another user is not affected.
		f.open(t, "alice", dialOptions{}).conn.Close()
		open[0].conn.Close()
		framework.Eventually(t, framework.Short, func() error {
			conn, _, err := f.dial(t, "bob", dialOptions{})
			if err != nil {
				return err
			}
			conn.Close()
			return nil
		})
	})

	t.Run("idle sessions are closed", func(t *testing.T) {
		tm := f.open(t, "alice", dialOptions{})
		err := tm.waitClosed()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 4000 || !strings.Contains(ce.Text, "without input") {
			t.Fatalf("want a close with the idle reason, got %v", err)
		}
	})

	t.Run("wall-clock limit stops a command, not a stream", func(t *testing.T) {
		tm := f.open(t, "alice", dialOptions{namespace: f.alphaNS})
		out, exit := tm.run("kubectl wait --for=condition=Never pod/" + f.alicePod + " --timeout=1h")
		if !strings.Contains(exit.Message, "stopped after") {
			t.Fatalf("want the wall-clock limit, got exit %d %q\n%s", exit.Code, exit.Message, out)
		}
		tm.resetOutput()
		tm.send(webkubectl.Message{Type: "run", Line: "kubectl get pods -w"})
		tm.waitOutput(regexp.MustCompile(regexp.QuoteMeta(f.alicePod)))
		// Past the limit, the watch still runs (and keeps the session
		// from going idle) until the user presses Ctrl-C.
		time.Sleep(limits.CommandTimeout + 2*time.Second)
		tm.mu.Lock()
		for _, m := range tm.msgs {
			if m.Type == "exit" {
				t.Fatalf("the watch was stopped: %+v", m)
			}
		}
		tm.mu.Unlock()
		tm.send(webkubectl.Message{Type: "input", Data: "\x03"})
		tm.waitMsg("exit", func(webkubectl.Message) bool { return true })
	})

	t.Run("the session's token is revoked when it closes", func(t *testing.T) {
		c := f.srv.App.Client
		count := func() (int, error) {
			var list mgmtv1.TokenList
			if err := c.List(ctx, &list); err != nil {
				return 0, err
			}
			n := 0
			for _, tok := range list.Items {
				if tok.Spec.UserName == "alice" && tok.Spec.Description == "web terminal session" && tok.DeletionTimestamp == nil {
					n++
				}
			}
			return n, nil
		}
		tm := f.open(t, "alice", dialOptions{})
		if n, err := count(); err != nil || n == 0 {
			t.Fatalf("no session token while open: %d %v", n, err)
		}
		tm.conn.Close()
		framework.Eventually(t, framework.Short, func() error {
			n, err := count()
			if err == nil && n != 0 {
				err = fmt.Errorf("%d terminal tokens of alice left", n)
			}
			return err
		})
	})
}
