package agent_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/agent"
	"bokujo.io/bokujo/internal/api"
	"bokujo.io/bokujo/internal/auth"
	"bokujo.io/bokujo/internal/clusters"
	"bokujo.io/bokujo/test/framework"
	"bokujo.io/bokujo/test/framework/testserver"
)

const password = "correct-horse-battery-staple"

func TestAgentCluster(t *testing.T) {
	if env == nil {
		t.Skip("integration test: needs real clusters (runs without -short)")
	}
	ctx := context.Background()
	s := testserver.Start(t, env.RESTConfig(t, "mgmt"))
	if _, err := s.App.Auth.CreateLocalUser(ctx, "root", "Root", password); err != nil {
		t.Fatal(err)
	}
	if err := s.App.Client.Create(ctx, &mgmtv1.GlobalRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "root-admin"}, Spec: mgmtv1.GlobalRoleBindingSpec{
		GlobalRoleName: mgmtv1.GlobalRoleAdmin, Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: "root"}}}); err != nil {
		t.Fatal(err)
	}
	root, _, err := s.App.Auth.CreateToken(ctx, "root", auth.TokenRequest{Type: mgmtv1.TokenTypeAPI, Description: "test", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.App.Registry.ImportConfig(ctx, "other", "", env.Cluster(t, "other").RESTConfig()); err != nil {
		t.Fatalf("import other: %v", err)
	}

	// An administrator adds the cluster and gets one command to run.
	code, body := call(t, s, root, "POST", "/v1/clusters/agent", map[string]any{"name": "edge", "displayName": "Edge"})
	if code != http.StatusCreated {
		t.Fatalf("add agent cluster: %d %s", code, body)
	}
	var added api.AgentCluster
	mustJSON(t, body, &added)
	if !strings.HasPrefix(added.Command, "kubectl apply -f '"+s.URL+"/v1/import/") || !strings.Contains(added.CommandWithCA, "--cacert") ||
		added.CACertificate == "" || time.Until(added.ExpiresAt) > clusters.RegistrationTTL || time.Until(added.ExpiresAt) < 50*time.Minute {
		t.Fatalf("add agent answer: %+v", added)
	}
	waitReady(t, s, "edge", "False/"+mgmtv1.ClusterReasonAgentNotRegistered, framework.Short)

	// The manifest is served without login and applies on a real cluster.
	manifest := fetchManifest(t, s, added.ManifestURL)
	if strings.Contains(manifest, "cluster-admin") || !strings.Contains(manifest, "kind: Deployment") {
		t.Fatalf("least-privilege manifest expected:\n%s", manifest)
	}
	edgeKC := env.Cluster(t, "edge").KubeconfigPath()
	mf := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(mf, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	ensureNamespace(t, "other", agent.Namespace)
	if out, err := kubectl(t, env.Cluster(t, "other").KubeconfigPath(), "apply", "--dry-run=server", "-f", mf); err != nil {
		t.Fatalf("manifest refused by a server-side dry run: %v\n%s", err, out)
	}
	if out, err := kubectl(t, edgeKC, "apply", "-f", mf); err != nil {
		t.Fatalf("apply manifest: %v\n%s", err, out)
	}
	adminManifest := fetchManifest(t, s, added.ManifestURL+"?clusterAdmin=true")
	if !strings.Contains(adminManifest, "name: cluster-admin") || strings.Contains(adminManifest, "escalate") {
		t.Fatalf("cluster-admin manifest expected:\n%s", adminManifest)
	}

	// The agent runs with the manifest's service account and keeps its
	// credential in the manifest's namespace.
	edgeAdmin := env.Client(t, "edge")
	store := agent.SecretStore{Client: edgeAdmin, Namespace: agent.Namespace, Name: agent.StateSecret}
	ag := startAgent(t, s, agent.Options{Token: added.Token, Local: agentConfig(t, "edge"), State: store})
	waitReady(t, s, "edge", "True/"+mgmtv1.ClusterReasonHealthy, framework.Medium)
	st, err := store.Load(ctx)
	if err != nil || st.Cluster != "edge" || !strings.HasPrefix(st.Credential, "bka_") {
		t.Fatalf("agent state: %+v %v", st, err)
	}

	kcBody := func() string {
		code, body := call(t, s, root, "GET", "/v1/kubeconfig", nil)
		if code != 200 {
			t.Fatalf("kubeconfig: %d %s", code, body)
		}
		f := filepath.Join(t.TempDir(), "kubeconfig")
		if err := os.WriteFile(f, body, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	kc := kcBody()
	outer := t

	t.Run("kubectl reaches the agent cluster through the tunnel", func(t *testing.T) {
		// RBAC sync writes the administrator's binding through the tunnel.
		framework.Eventually(t, framework.Medium, func() error {
			out, err := kubectl(t, kc, "--context", "edge", "get", "nodes", "-o", "name")
			if err != nil || !strings.Contains(out, "node/edge-cpu") {
				return fmt.Errorf("get nodes: %v %s", err, out)
			}
			return nil
		})
		ns := env.Namespace(t, "edge")
		if out, err := kubectl(t, kc, "--context", "edge", "-n", ns, "create", "deployment", "web", "--image=nginx"); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		var pod string
		framework.Eventually(t, framework.Medium, func() error {
			out, err := kubectl(t, kc, "--context", "edge", "-n", ns, "get", "pods", "-o", "jsonpath={.items[0].metadata.name} {.items[0].status.phase}")
			if err != nil || !strings.HasSuffix(out, " Running") {
				return fmt.Errorf("pods: %v %q", err, out)
			}
			pod = strings.Fields(out)[0]
			return nil
		})
		if out, err := kubectl(t, kc, "--context", "edge", "-n", ns, "exec", pod, "--", "echo", "via-the-tunnel"); err != nil || strings.TrimSpace(out) != "via-the-tunnel" {
			t.Fatalf("exec: %v %q", err, out)
		}
		portForwardEcho(t, kc, ns, pod)
		streamLines(t, kc, []string{"--context", "edge", "-n", ns, "logs", "-f", pod}, "simulated container started")
		streamLines(t, kc, []string{"--context", "edge", "-n", ns, "get", "pods", "-w", "--no-headers"}, pod)
	})

	t.Run("the tunnel reaches the cluster's API server and nothing else", func(t *testing.T) {
		_, err := s.App.Tunnels.Dial(ctx, "edge", "tcp", "127.0.0.1:1")
		if err == nil || !strings.Contains(err.Error(), "agent refused") {
			t.Fatalf("dial elsewhere through the agent: %v", err)
		}
		if !strings.Contains(ag.logs.String(), "refused a tunnelled connection") {
			t.Fatalf("the agent does not log the refusal:\n%s", ag.logs)
		}
	})

	t.Run("agent gone: Disconnected within 10s, 503 Status, other cluster fine, back without restart", func(t *testing.T) {
		ag.stop()
		waitReady(t, s, "edge", "False/"+mgmtv1.ClusterReasonAgentDisconnected, 10*time.Second)
		out, err := kubectl(t, kc, "--context", "edge", "get", "pods")
		if err == nil || !strings.Contains(out, "Error from server (ServiceUnavailable)") {
			t.Fatalf("want a 503 Status from kubectl, got %v: %s", err, out)
		}
		code, body := call(t, s, root, "GET", "/k8s/clusters/edge/api/v1/namespaces/default/pods", nil)
		var st metav1.Status
		mustJSON(t, body, &st)
		if code != http.StatusServiceUnavailable || st.Kind != "Status" || st.Code != 503 || st.Reason != metav1.StatusReasonServiceUnavailable ||
			st.Message != `cluster "edge" is unavailable` {
			t.Fatalf("want a 503 Status, got %d %s", code, body)
		}
		if out, err := kubectl(t, kc, "--context", "other", "get", "nodes", "-o", "name"); err != nil || !strings.Contains(out, "node/other-cpu") {
			t.Fatalf("the other cluster is affected: %v %s", err, out)
		}
		// The agent comes back with its stored credential; the token is
		// not needed (and no longer usable).
		// Started for the whole test, not this subtest: later rows need it.
		ag = startAgent(outer, s, agent.Options{Local: agentConfig(t, "edge"), State: store})
		waitReady(t, s, "edge", "True/"+mgmtv1.ClusterReasonHealthy, framework.Medium)
		if out, err := kubectl(t, kc, "--context", "edge", "get", "nodes", "-o", "name"); err != nil || !strings.Contains(out, "node/edge-cpu") {
			t.Fatalf("after reconnect: %v %s", err, out)
		}
	})

	t.Run("a registration token works once", func(t *testing.T) {
		code, body := call(t, s, added.Token, "POST", agent.RegisterPath, agent.RegisterRequest{})
		if code != http.StatusGone || !strings.Contains(errorMessage(t, body), "already used") {
			t.Fatalf("reused token: %d %s", code, body)
		}
		if code, body := call(t, s, "", "GET", "/v1/import/"+added.Token+".yaml", nil); code != http.StatusGone {
			t.Fatalf("manifest of a used token: %d %s", code, body)
		}
		// A second agent with the used token stops with the server's reason.
		ra := startAgent(t, s, agent.Options{Token: added.Token, Local: env.Cluster(t, "edge").RESTConfig(), State: agent.FileStore{Dir: t.TempDir()}})
		select {
		case err := <-ra.done:
			ra.done <- err
			if err == nil || !strings.Contains(err.Error(), "already used") || !strings.Contains(err.Error(), "--reissue") {
				t.Fatalf("agent with a used token: %v", err)
			}
		case <-time.After(framework.Medium):
			t.Fatal("agent with a used token did not stop")
		}
	})

	// A second agent cluster, registered with credentials provisioned in
	// "other", for the expiry and cross-cluster rows.
	code, body = call(t, s, root, "POST", "/v1/clusters/agent", map[string]any{"name": "edge-b"})
	if code != http.StatusCreated {
		t.Fatalf("add edge-b: %d %s", code, body)
	}
	var addedB api.AgentCluster
	mustJSON(t, body, &addedB)

	t.Run("an expired registration token is refused", func(t *testing.T) {
		expire(t, s, addedB.Token)
		code, body := call(t, s, addedB.Token, "POST", agent.RegisterPath, agent.RegisterRequest{})
		if code != http.StatusGone || !strings.Contains(errorMessage(t, body), "expired") {
			t.Fatalf("expired token: %d %s", code, body)
		}
		if code, body := call(t, s, "", "GET", "/v1/import/"+addedB.Token+".yaml", nil); code != http.StatusGone || !strings.Contains(errorMessage(t, body), "expired") {
			t.Fatalf("manifest of an expired token: %d %s", code, body)
		}
	})

	// Reissue, then register edge-b for real.
	code, body = call(t, s, root, "POST", "/v1/clusters/edge-b/agent-token", nil)
	if code != http.StatusCreated {
		t.Fatalf("reissue: %d %s", code, body)
	}
	var reissued api.AgentCluster
	mustJSON(t, body, &reissued)
	if code, body := call(t, s, addedB.Token, "POST", agent.RegisterPath, agent.RegisterRequest{}); code != http.StatusUnauthorized {
		t.Fatalf("the replaced token still answers: %d %s", code, body)
	}
	creds, err := clusters.Provision(ctx, env.Cluster(t, "other").RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	code, body = call(t, s, reissued.Token, "POST", agent.RegisterPath, agent.RegisterRequest{ProxyKubeconfig: string(creds.Proxy), ManagerKubeconfig: string(creds.Manager)})
	if code != http.StatusOK {
		t.Fatalf("register edge-b: %d %s", code, body)
	}
	var regB agent.RegisterResponse
	mustJSON(t, body, &regB)
	if regB.Cluster != "edge-b" {
		t.Fatalf("registered as %q", regB.Cluster)
	}

	t.Run("connect endpoint security", func(t *testing.T) {
		edgeCred := st.Credential
		cases := []struct {
			name    string
			headers []string
			want    int
		}{
			{"no credential", []string{agent.ClusterHeader, "edge"}, http.StatusUnauthorized},
			{"no cluster", []string{"Authorization", "Bearer " + edgeCred}, http.StatusUnauthorized},
			{"garbage credential", []string{"Authorization", "Bearer bka_garbage", agent.ClusterHeader, "edge"}, http.StatusUnauthorized},
			{"not a bearer", []string{"Authorization", "Basic " + edgeCred, agent.ClusterHeader, "edge"}, http.StatusUnauthorized},
			{"another cluster's credential", []string{"Authorization", "Bearer " + edgeCred, agent.ClusterHeader, "edge-b"}, http.StatusUnauthorized},
			{"edge-b's credential for edge", []string{"Authorization", "Bearer " + regB.Credential, agent.ClusterHeader, "edge"}, http.StatusUnauthorized},
			{"two cluster headers", []string{"Authorization", "Bearer " + edgeCred, agent.ClusterHeader, "edge", agent.ClusterHeader, "edge-b"}, http.StatusUnauthorized},
			{"two credentials", []string{"Authorization", "Bearer " + regB.Credential, "Authorization", "Bearer " + edgeCred, agent.ClusterHeader, "edge"}, http.StatusUnauthorized},
			{"a user's API token", []string{"Authorization", "Bearer " + root, agent.ClusterHeader, "edge"}, http.StatusUnauthorized},
			{"a registration token", []string{"Authorization", "Bearer " + reissued.Token, agent.ClusterHeader, "edge-b"}, http.StatusUnauthorized},
			{"hostile cluster name", []string{"Authorization", "Bearer " + edgeCred, agent.ClusterHeader, "../edge"}, http.StatusUnauthorized},
			{"valid, but not a WebSocket", []string{"Authorization", "Bearer " + edgeCred, agent.ClusterHeader, "edge"}, http.StatusBadRequest},
		}
		for _, c := range cases {
			code, body := call(t, s, "", "GET", agent.ConnectPath, nil, c.headers...)
			if code != c.want {
				t.Errorf("%s: %d %s, want %d", c.name, code, body, c.want)
				continue
			}
			if c.want == http.StatusUnauthorized {
				if msg := errorMessage(t, body); msg == "" {
					t.Errorf("%s: no message", c.name)
				}
			}
		}
		// A WebSocket with another cluster's credential: refused with a
		// message before any upgrade.
		d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: s.CA}}
		wsURL := "wss://" + s.Host + agent.ConnectPath
		_, resp, err := d.Dial(wsURL, http.Header{"Authorization": {"Bearer " + edgeCred}, agent.ClusterHeader: {"edge-b"}})
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("cross-cluster WebSocket: %v %v", resp, err)
		}
		// A browser page (Origin set) cannot open the tunnel even with a
		// stolen credential.
		_, resp, err = d.Dial(wsURL, http.Header{"Authorization": {"Bearer " + regB.Credential}, agent.ClusterHeader: {"edge-b"}, "Origin": {"https://evil.example"}})
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("WebSocket with an Origin: %v %v", resp, err)
		}
		// The right credential for its own cluster opens the tunnel.
		ws, _, err := d.Dial(wsURL, http.Header{"Authorization": {"Bearer " + regB.Credential}, agent.ClusterHeader: {"edge-b"}})
		if err != nil {
			t.Fatalf("edge-b's own credential: %v", err)
		}
		ws.Close()
		for _, secret := range []string{added.Token, reissued.Token, edgeCred, regB.Credential} {
			if strings.Contains(s.Logs.String(), secret) {
				t.Fatal("the server logged a token or credential")
			}
		}
	})

	t.Run("add-agent validates and is for administrators", func(t *testing.T) {
		if _, err := s.App.Auth.CreateLocalUser(ctx, "alice", "Alice", password); err != nil {
			t.Fatal(err)
		}
		alice, _, err := s.App.Auth.CreateToken(ctx, "alice", auth.TokenRequest{Type: mgmtv1.TokenTypeAPI, Description: "test", TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			token string
			body  any
			want  int
		}{
			{"", map[string]any{"name": "x"}, http.StatusUnauthorized},
			{alice, map[string]any{"name": "x"}, http.StatusForbidden},
			{root, map[string]any{"name": "Not_A_Name"}, http.StatusBadRequest},
			{root, map[string]any{"name": "edge"}, http.StatusConflict},
			{root, map[string]any{"name": "y", "kubeconfig": "x"}, http.StatusBadRequest},
		} {
			if code, body := call(t, s, c.token, "POST", "/v1/clusters/agent", c.body); code != c.want {
				t.Errorf("add-agent %v: %d %s, want %d", c.body, code, body, c.want)
			}
		}
		if code, body := call(t, s, root, "POST", "/v1/clusters/other/agent-token", nil); code != http.StatusConflict {
			t.Errorf("token for an imported cluster: %d %s", code, body)
		}
		if code, body := call(t, s, alice, "POST", "/v1/clusters/edge/agent-token", nil); code != http.StatusForbidden {
			t.Errorf("alice reissues: %d %s", code, body)
		}
		if code, _ := call(t, s, "", "GET", "/v1/import/bkr_unknown.yaml", nil); code != http.StatusUnauthorized {
			t.Errorf("unknown token manifest: %d", code)
		}
		if code, _ := call(t, s, "", "GET", "/v1/import/"+reissued.Token, nil); code != http.StatusNotFound {
			t.Errorf("manifest without .yaml: %d", code)
		}
	})

	t.Run("a new registration replaces the credential and closes the old agent's tunnel", func(t *testing.T) {
		code, body := call(t, s, root, "POST", "/v1/clusters/edge/agent-token", nil)
		if code != http.StatusCreated {
			t.Fatalf("reissue: %d %s", code, body)
		}
		var again api.AgentCluster
		mustJSON(t, body, &again)
		creds, err := clusters.Provision(ctx, env.Cluster(t, "edge").RESTConfig())
		if err != nil {
			t.Fatal(err)
		}
		code, body = call(t, s, again.Token, "POST", agent.RegisterPath, agent.RegisterRequest{ProxyKubeconfig: string(creds.Proxy), ManagerKubeconfig: string(creds.Manager)})
		if code != http.StatusOK {
			t.Fatalf("register again: %d %s", code, body)
		}
		// The old agent is cut off and, reconnecting, is told why.
		framework.Eventually(t, framework.Short, func() error {
			if !strings.Contains(ag.logs.String(), "server refused the agent (HTTP 401): agent credential refused") {
				var lines []string
				for _, l := range strings.Split(s.Logs.String(), "\n") {
					if strings.Contains(l, "agent") {
						lines = append(lines, l)
					}
				}
				return fmt.Errorf("old agent not refused yet:\n%s\nserver:\n%s", ag.logs, strings.Join(lines, "\n"))
			}
			return nil
		})
		if s.App.Tunnels.Connected("edge") {
			t.Fatal("the old agent is still connected")
		}
		waitReady(t, s, "edge", "False/"+mgmtv1.ClusterReasonAgentDisconnected, 10*time.Second)
	})

	t.Run("removing the cluster closes its tunnel and revokes the credential", func(t *testing.T) {
		if code, body := call(t, s, root, "DELETE", "/v1/clusters/edge", nil); code != http.StatusOK {
			t.Fatalf("remove: %d %s", code, body)
		}
		framework.Eventually(t, framework.Short, func() error {
			if s.App.Tunnels.Connected("edge") {
				return fmt.Errorf("edge still connected")
			}
			return nil
		})
		framework.Eventually(t, framework.Short, func() error {
			code, body := call(t, s, "", "GET", agent.ConnectPath, nil, "Authorization", "Bearer "+st.Credential, agent.ClusterHeader, "edge")
			if code != http.StatusUnauthorized {
				return fmt.Errorf("removed cluster's credential: %d %s", code, body)
			}
			return nil
		})
	})
}

func mustJSON(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := jsonUnmarshal(body, v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}

func fetchManifest(t *testing.T, s *testserver.Server, u string) string {
	t.Helper()
	resp, err := s.HTTPClient().Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data := readAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/yaml" {
		t.Fatalf("manifest: %d %s", resp.StatusCode, data)
	}
	return string(data)
}

// expire moves a registration token's expiry into the past, as an hour
// passing would.
func expire(t *testing.T, s *testserver.Server, token string) {
	t.Helper()
	ctx := context.Background()
	var list corev1.SecretList
	c := testserver.ManagementClient(t, env.RESTConfig(t, "mgmt"))
	if err := c.List(ctx, &list); err != nil {
		t.Fatal(err)
	}
	for i := range list.Items {
		sec := &list.Items[i]
		if sec.Namespace == mgmtv1.SystemNamespace && sec.Labels["bokujo.io/kind"] == "agent-registration" && sec.Labels["management.bokujo.io/cluster"] == "edge-b" {
			sec.Data["expiresAt"] = []byte(time.Now().Add(-time.Minute).UTC().Format(time.RFC3339))
			if err := c.Update(ctx, sec); err != nil {
				t.Fatal(err)
			}
			framework.Eventually(t, framework.Short, func() error {
				var cur corev1.Secret
				if err := s.App.Client.Get(ctx, types.NamespacedName{Namespace: sec.Namespace, Name: sec.Name}, &cur); err != nil {
					return err
				}
				if string(cur.Data["expiresAt"]) != string(sec.Data["expiresAt"]) {
					return fmt.Errorf("not seen yet")
				}
				return nil
			})
			return
		}
	}
	t.Fatal("no registration secret of edge-b")
}
