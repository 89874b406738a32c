package release_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	deliveryv1 "bokujo.io/bokujo/api/delivery/v1alpha1"
	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/api"
	"bokujo.io/bokujo/internal/app"
	"bokujo.io/bokujo/internal/chatops"
	"bokujo.io/bokujo/internal/fleet"
	"bokujo.io/bokujo/internal/proxy"
	"bokujo.io/bokujo/internal/release"
	"bokujo.io/bokujo/test/framework"
	"bokujo.io/bokujo/test/framework/testserver"
)

// slackStandIn plays Slack: it signs requests like Slack does and receives
// what bokujo posts to response URLs and the incoming webhook.
type slackStandIn struct {
	secret  []byte
	bokujo  string
	hc      *http.Client
	mu      sync.Mutex
	replies []chatops.Message
	hooks   []chatops.Message
	server  *httptest.Server
}

func newSlackStandIn(t *testing.T, secret []byte) *slackStandIn {
	s := &slackStandIn{secret: secret}
	mux := http.NewServeMux()
	collect := func(into *[]chatops.Message) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var m chatops.Message
			if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			s.mu.Lock()
			*into = append(*into, m)
			s.mu.Unlock()
			_, _ = io.WriteString(w, "ok")
		}
	}
	mux.HandleFunc("POST /response", collect(&s.replies))
	mux.HandleFunc("POST /hook", collect(&s.hooks))
	s.server = httptest.NewServer(mux)
	t.Cleanup(s.server.Close)
	return s
}

// send posts a form to bokujo signed at time at (wrong signs with another
// secret).
func (s *slackStandIn) send(t *testing.T, path string, form url.Values, at time.Time, wrong bool) (int, chatops.Message, string) {
	t.Helper()
	body := form.Encode()
	ts := strconv.FormatInt(at.Unix(), 10)
	secret := s.secret
	if wrong {
		secret = []byte("not-the-secret")
	}
	req, _ := http.NewRequest(http.MethodPost, s.bokujo+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(chatops.Sign(secret, ts, []byte(body))))
	hc := s.hc
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m chatops.Message
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m, string(raw)
}

func (s *slackStandIn) command(t *testing.T, user, text string) (int, chatops.Message, string) {
	return s.send(t, "/v1/chat/slack/commands", url.Values{
		"team_id": {"T1"}, "user_id": {user}, "command": {"/bokujo"}, "text": {text},
		"response_url": {s.server.URL + "/response"},
	}, time.Now(), false)
}

func (s *slackStandIn) button(t *testing.T, user, action, value string) (int, chatops.Message, string) {
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]string{"id": user}, "team": map[string]string{"id": "T1"},
		"response_url": s.server.URL + "/response",
		"actions":      []map[string]string{{"action_id": action, "value": value}},
	})
	return s.send(t, "/v1/chat/slack/interactions", url.Values{"payload": {string(payload)}}, time.Now(), false)
}

// waitReply waits for a posted reply containing want.
func (s *slackStandIn) waitReply(t *testing.T, hooks bool, want string) chatops.Message {
	t.Helper()
	var found chatops.Message
	framework.Eventually(t, framework.Medium, func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		list := s.replies
		if hooks {
			list = s.hooks
		}
		for _, m := range list {
			if strings.Contains(m.Text, want) {
				found = m
				return nil
			}
		}
		var texts []string
		for _, m := range list {
			texts = append(texts, m.Text)
		}
		return fmt.Errorf("no message with %q among %q", want, texts)
	})
	return found
}

func (s *slackStandIn) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.replies)
}

// TestSlackChatOps: signed slash commands and buttons act as the linked
// bokujo user with exactly their rights; forged, replayed and unknown
// requests are refused; long work answers through the response URL; the
// project's channel hears about the release.
func TestSlackChatOps(t *testing.T) {
	installCRDs(t)
	secret := []byte("8f742231b10e8888abcd99yyyzzz85a5")
	slack := newSlackStandIn(t, secret)
	loopback := func(u *url.URL) bool { return u.Host == strings.TrimPrefix(slack.server.URL, "http://") }
	// The server's fleet runner runs the Release controller in dev, its
	// events announced through the stand-in's webhook.
	announcer := &chatops.Announcer{Reader: testserver.ManagementClient(t, env.RESTConfig(t, "mgmt")), AllowURL: loopback}
	s := startShop(t, "chat-", func(o *app.Options) {
		o.SlackSigningSecret = secret
		o.Components = []fleet.Component{release.Component(release.Options{}, announcer.Notify)}
	})
	ctx := context.Background()
	mc := s.srv.App.Client

	// Link alice and carol to Slack accounts; nobody is linked to UNOBODY.
	var users mgmtv1.UserList
	if err := mc.List(ctx, &users); err != nil {
		t.Fatal(err)
	}
	for _, u := range users.Items {
		slackID := map[string]string{s.user("alice"): "UALICE", s.user("carol"): "UCAROL"}[u.Spec.Username]
		if slackID == "" {
			continue
		}
		u.Spec.Identities = append(u.Spec.Identities, mgmtv1.UserIdentity{Provider: chatops.IdentityProvider, Subject: "T1/" + slackID})
		if err := mc.Update(ctx, &u); err != nil {
			t.Fatal(err)
		}
	}
	// The project's channel: an incoming webhook kept in a Secret.
	hookSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s.prefix + "shop-slack", Namespace: mgmtv1.SystemNamespace},
		StringData: map[string]string{chatops.WebhookURLKey: slack.server.URL + "/hook"}}
	if err := mc.Create(ctx, hookSecret); err != nil {
		t.Fatal(err)
	}
	var p mgmtv1.Project
	if err := mc.Get(ctx, client.ObjectKey{Name: s.prefix + "shop"}, &p); err != nil {
		t.Fatal(err)
	}
	p.Annotations = map[string]string{chatops.WebhookSecretAnnotation: s.prefix + "shop-slack"}
	if err := mc.Update(ctx, &p); err != nil {
		t.Fatal(err)
	}

	handler := chatops.New(chatops.Options{
		SigningSecret: secret,
		Users:         s.srv.App.Auth,
		Releases: func(ctx context.Context, cluster string, u *proxy.User) (*release.Client, error) {
			return api.ReleaseClient(ctx, s.srv.App.Registry, cluster, u)
		},
		AllowResponseURL: loopback,
	})
	mux := http.NewServeMux()
	api.New(api.Options{Slack: handler}).Register(mux)
	bokujo := httptest.NewServer(mux)
	t.Cleanup(bokujo.Close)
	slack.bokujo = bokujo.URL
	webApp(t, s.ns, 4, "web:v1")
	target := "dev/" + s.ns + "/web"

	t.Run("the server's own endpoint verifies and answers", func(t *testing.T) {
		// The bokujo server started with a signing secret serves the same
		// endpoints; its response URLs are limited to hooks.slack.com, so
		// only inline answers are checked here.
		direct := &slackStandIn{secret: secret, bokujo: s.srv.URL, server: slack.server, hc: s.srv.HTTPClient()}
		code, m, raw := direct.command(t, "UNOBODY", "history dev/"+s.ns)
		if code != http.StatusOK || !strings.Contains(m.Text, "not linked") {
			t.Fatalf("%d %s", code, raw)
		}
		code, _, raw = direct.send(t, "/v1/chat/slack/commands", url.Values{"team_id": {"T1"}, "user_id": {"UALICE"}}, time.Now(), true)
		if code != http.StatusUnauthorized {
			t.Fatalf("forged: %d %s", code, raw)
		}
	})
	t.Run("bad signature", func(t *testing.T) {
		code, _, raw := slack.send(t, "/v1/chat/slack/commands", url.Values{"team_id": {"T1"}, "user_id": {"UALICE"}, "text": {"history dev/" + s.ns}}, time.Now(), true)
		if code != http.StatusUnauthorized {
			t.Fatalf("%d %s, want 401", code, raw)
		}
	})
	t.Run("old timestamp", func(t *testing.T) {
		code, _, raw := slack.send(t, "/v1/chat/slack/commands", url.Values{"team_id": {"T1"}, "user_id": {"UALICE"}, "text": {"history dev/" + s.ns}}, time.Now().Add(-6*time.Minute), false)
		if code != http.StatusUnauthorized || !strings.Contains(raw, "5-minute") {
			t.Fatalf("%d %s, want 401 about the 5-minute window", code, raw)
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		code, m, raw := slack.command(t, "UNOBODY", "history dev/"+s.ns)
		if code != http.StatusOK || m.ResponseType != "ephemeral" || !strings.Contains(m.Text, "not linked to a bokujo user") {
			t.Fatalf("%d %s, want a polite ephemeral refusal", code, raw)
		}
	})
	t.Run("user without rights", func(t *testing.T) {
		code, m, raw := slack.command(t, "UCAROL", "release "+target+" web:v2")
		if code != http.StatusOK || !strings.Contains(m.Text, "Starting a release") {
			t.Fatalf("ack: %d %s", code, raw)
		}
		reply := slack.waitReply(t, false, "not allowed")
		if !strings.Contains(reply.Text, "bokujo:"+s.user("carol")) || reply.ResponseType != "ephemeral" {
			t.Fatalf("refusal %+v, want ephemeral naming bokujo:%s", reply, s.user("carol"))
		}
		var list deliveryv1.ReleaseList
		if err := mustDeliveryClient(t).List(ctx, &list, client.InNamespace(s.ns)); err != nil || len(list.Items) != 0 {
			t.Fatalf("releases after carol's refused command: %d (%v)", len(list.Items), err)
		}
	})
	t.Run("command taking longer than 3 s answers through the response URL", func(t *testing.T) {
		// Waiting for the canary pod outlasts Slack's 3 s: the answer is
		// an acknowledgement, the results arrive at the response URL.
		code, m, raw := slack.command(t, "UALICE", "release "+target+" web:v2")
		if code != http.StatusOK || !strings.Contains(m.Text, "Starting a release") || m.ResponseType != "ephemeral" {
			t.Fatalf("ack: %d %s", code, raw)
		}
		slack.waitReply(t, false, "alice started release")
		status := slack.waitReply(t, false, "step 1 of 3")
		c := mustDeliveryClient(t)
		var value string
		for _, b := range status.Blocks {
			for _, e := range b.Elements {
				if e.ActionID == "promote" {
					value = e.Value
				}
			}
		}
		if value == "" {
			t.Fatalf("status has no Promote button: %+v", status)
		}
		name := value[strings.LastIndex(value, "/")+1:]
		// carol may not press the button either.
		if _, m, _ := slack.button(t, "UCAROL", "promote", value); !strings.Contains(m.Text, "not allowed") {
			t.Fatalf("carol's promote: %+v", m)
		}
		// alice promotes through both timed steps.
		for step := int32(2); step <= 3; step++ {
			if _, m, raw := slack.button(t, "UALICE", "promote", value); !strings.Contains(m.Text, "alice asked to promote") {
				t.Fatalf("alice's promote: %s", raw)
			}
			framework.Eventually(t, framework.Medium, func() error {
				r := getRelease(t, c, s.ns, name)
				if r.Status.Step < step && r.Status.Phase != deliveryv1.PhasePromoted {
					return fmt.Errorf("step %d, want %d: %s", r.Status.Step, step, lastHistory(r))
				}
				if r.Status.Phase != deliveryv1.PhasePromoted && r.Status.StepStartTime == nil {
					return fmt.Errorf("step %d not reached yet", step)
				}
				return nil
			})
		}
		waitPhase(t, c, s.ns, name, deliveryv1.PhasePromoted, framework.Medium)
		// The project channel heard the start and the promotion.
		slack.waitReply(t, true, "release of web started")
		slack.waitReply(t, true, "web promoted")
		_, m, raw = slack.command(t, "UALICE", "history dev/"+s.ns)
		if !strings.Contains(m.Text, name) || !strings.Contains(m.Text, "Promoted") {
			t.Fatalf("history: %s", raw)
		}
	})
}
