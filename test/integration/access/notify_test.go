package access_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/notify"
	"bokujo.io/bokujo/test/framework"
)

// receiver is an HTTPS webhook receiver that records what it is sent and
// answers with status (200 unless set).
type receiver struct {
	srv *httptest.Server
	ca  string

	mu     sync.Mutex
	bodies []string
	status int
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{status: http.StatusOK}
	r.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.bodies = append(r.bodies, string(body))
		w.WriteHeader(r.status)
	}))
	t.Cleanup(r.srv.Close)
	r.ca = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.srv.Certificate().Raw}))
	return r
}

func (r *receiver) received() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...)
}

// about keeps the messages that mention user: the tests of this package
// share the management cluster, and a new server also tells users of
// earlier tests about their bindings.
func about(msgs []string, user string) []string {
	var out []string
	for _, m := range msgs {
		if strings.Contains(m, "("+user+")") || strings.Contains(m, `"user":"`+user+`"`) {
			out = append(out, m)
		}
	}
	return out
}

func (r *receiver) setStatus(s int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = s
}

type feed struct {
	Items []struct {
		Name, Reason, Cluster, Project, RoleTemplate, Via, Message, KubeconfigURL string
		ReadTime                                                                  *string
	}
	Unread int
}

// TestAccessNotifications: when carol gains access to a cluster or a
// project, by a binding of her own or of her group, she finds it in her
// feed with the kubeconfig link, and Slack and webhook targets set up by
// an administrator hear of it.
func TestAccessNotifications(t *testing.T) {
	b := startServer(t)
	ctx := context.Background()
	c := b.app.Client
	if err := b.app.Registry.ImportConfig(ctx, "ndev", "", env.Cluster(t, "dev").RESTConfig()); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"carol", "dan"} {
		if _, err := b.app.Auth.CreateLocalUser(ctx, u, strings.ToUpper(u[:1])+u[1:], password); err != nil {
			t.Fatal(err)
		}
	}
	carol, dan := b.login(t, "carol", password), b.login(t, "dan", password)

	// Targets: a Slack webhook and a generic one, both on receivers with a
	// private CA; a disabled one that must hear nothing.
	slack, hook, off := newReceiver(t), newReceiver(t), newReceiver(t)
	target := func(name string, typ mgmtv1.NotificationTargetType, r *receiver, disabled bool) {
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name + "-url", Namespace: mgmtv1.SystemNamespace},
			Data: map[string][]byte{mgmtv1.NotificationTargetURLKey: []byte(r.srv.URL + "/services/T000/B000/secret-path")}}
		nt := &mgmtv1.NotificationTarget{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: mgmtv1.NotificationTargetSpec{
			Type: typ, URLSecretRef: mgmtv1.SecretReference{Name: sec.Name}, CAData: r.ca, Disabled: disabled}}
		for _, o := range []client.Object{sec, nt} {
			if err := c.Create(ctx, o); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Delete(context.Background(), o) })
		}
	}
	target("team-slack", mgmtv1.NotificationTargetSlack, slack, false)
	target("audit-hook", mgmtv1.NotificationTargetWebhook, hook, false)
	target("muted", mgmtv1.NotificationTargetWebhook, off, true)

	objs := []client.Object{
		&mgmtv1.ClusterRoleTemplateBinding{ObjectMeta: metav1.ObjectMeta{Name: "carol-dev"}, Spec: mgmtv1.ClusterRoleTemplateBindingSpec{
			ClusterName: "ndev", RoleTemplateName: "cluster-viewer", Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: "carol"}}},
		&mgmtv1.Group{ObjectMeta: metav1.ObjectMeta{Name: "data-team"}, Spec: mgmtv1.GroupSpec{Members: []string{"carol"}}},
		&mgmtv1.Project{ObjectMeta: metav1.ObjectMeta{Name: "vision"}, Spec: mgmtv1.ProjectSpec{ClusterName: "ndev", Namespaces: []string{"vision-a"}}},
		&mgmtv1.ProjectRoleTemplateBinding{ObjectMeta: metav1.ObjectMeta{Name: "data-team-vision"}, Spec: mgmtv1.ProjectRoleTemplateBindingSpec{
			ProjectName: "vision", RoleTemplateName: "project-member", Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindGroup, Name: "data-team"}}},
		// A binding to a cluster that is not imported yet grants nothing
		// yet, so it tells nothing yet.
		&mgmtv1.ClusterRoleTemplateBinding{ObjectMeta: metav1.ObjectMeta{Name: "carol-later"}, Spec: mgmtv1.ClusterRoleTemplateBindingSpec{
			ClusterName: "nlater", RoleTemplateName: "cluster-viewer", Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: "carol"}}},
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			t.Fatalf("create %s: %v", o.GetName(), err)
		}
	}

	var f feed
	read := func(token, query string) feed {
		t.Helper()
		code, body := b.call(t, token, "GET", "/v1/notifications"+query, nil)
		if code != http.StatusOK {
			t.Fatalf("notifications: %d %s", code, body)
		}
		var out feed
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	framework.Eventually(t, framework.Medium, func() error {
		if f = read(carol, ""); len(f.Items) != 2 {
			return fmt.Errorf("carol's feed has %d items: %+v", len(f.Items), f.Items)
		}
		return nil
	})

	t.Run("the feed tells what, where and how", func(t *testing.T) {
		var cluster, project bool
		for _, it := range f.Items {
			if !strings.HasSuffix(it.KubeconfigURL, "/v1/kubeconfig") || !strings.HasPrefix(it.KubeconfigURL, b.url) || it.Reason != "AccessGranted" {
				t.Errorf("item %+v", it)
			}
			switch {
			case it.Cluster == "ndev" && it.Project == "" && it.Via == "" && it.RoleTemplate == "cluster-viewer":
				cluster = it.Message == "You can now reach cluster ndev as cluster-viewer."
			case it.Project == "vision" && it.Via == "data-team" && it.RoleTemplate == "project-member":
				project = it.Message == "You were added to project vision on cluster ndev as project-member through group data-team."
			}
		}
		if !cluster || !project || f.Unread != 2 {
			t.Errorf("feed %+v", f)
		}
		if got := read(dan, ""); len(got.Items) != 0 {
			t.Errorf("dan sees %+v", got.Items)
		}
	})

	t.Run("read one, then all; nobody else's", func(t *testing.T) {
		first := f.Items[0].Name
		if code, body := b.call(t, dan, "POST", "/v1/notifications/"+first+"/read", nil); code != http.StatusNotFound {
			t.Errorf("dan marks carol's: %d %s", code, body)
		}
		if code, body := b.call(t, carol, "POST", "/v1/notifications/nope/read", nil); code != http.StatusNotFound {
			t.Errorf("unknown: %d %s", code, body)
		}
		if code, body := b.call(t, carol, "POST", "/v1/notifications/"+first+"/read", nil); code != http.StatusNoContent {
			t.Fatalf("read: %d %s", code, body)
		}
		framework.Eventually(t, framework.Short, func() error {
			if g := read(carol, "?unread=true"); len(g.Items) != 1 || g.Unread != 1 || g.Items[0].Name == first {
				return fmt.Errorf("unread after one read: %+v", g)
			}
			return nil
		})
		if code, body := b.call(t, carol, "POST", "/v1/notifications/read", nil); code != http.StatusNoContent {
			t.Fatalf("read all: %d %s", code, body)
		}
		framework.Eventually(t, framework.Short, func() error {
			if g := read(carol, ""); g.Unread != 0 || len(g.Items) != 2 || g.Items[0].ReadTime == nil {
				return fmt.Errorf("after read all: %+v", g)
			}
			return nil
		})
		if code, _ := b.call(t, carol, "GET", "/v1/notifications?unread=maybe", nil); code != http.StatusBadRequest {
			t.Errorf("bad unread filter: %d", code)
		}
		if code, _ := b.call(t, "", "GET", "/v1/notifications", nil); code != http.StatusUnauthorized {
			t.Errorf("anonymous: %d", code)
		}
	})

	t.Run("Slack and webhook targets hear of it; a disabled one does not", func(t *testing.T) {
		framework.Eventually(t, framework.Medium, func() error {
			if len(about(slack.received(), "carol")) != 2 || len(about(hook.received(), "carol")) != 2 {
				return fmt.Errorf("slack got %d, webhook got %d", len(about(slack.received(), "carol")), len(about(hook.received(), "carol")))
			}
			return nil
		})
		for _, m := range about(slack.received(), "carol") {
			var msg struct{ Text string }
			if err := json.Unmarshal([]byte(m), &msg); err != nil || !strings.Contains(msg.Text, "*Carol* (carol)") || !strings.Contains(msg.Text, b.url+"/v1/kubeconfig") {
				t.Errorf("slack message %s", m)
			}
		}
		for _, m := range about(hook.received(), "carol") {
			var p notify.WebhookPayload
			if err := json.Unmarshal([]byte(m), &p); err != nil || p.User != "carol" || p.DisplayName != "Carol" || p.Cluster != "ndev" || p.KubeconfigURL != b.url+"/v1/kubeconfig" {
				t.Errorf("webhook payload %s", m)
			}
		}
		if n := len(off.received()); n != 0 {
			t.Errorf("the disabled target got %d", n)
		}
		var nt mgmtv1.NotificationTarget
		if err := c.Get(ctx, client.ObjectKey{Name: "team-slack"}, &nt); err != nil || !meta.IsStatusConditionTrue(nt.Status.Conditions, mgmtv1.ConditionReady) {
			t.Errorf("team-slack status %+v %v", nt.Status, err)
		}
	})

	t.Run("a failing receiver is retried and the error recorded without the URL", func(t *testing.T) {
		hook.setStatus(http.StatusServiceUnavailable)
		before := len(about(hook.received(), "dan"))
		if err := c.Create(ctx, &mgmtv1.ClusterRoleTemplateBinding{ObjectMeta: metav1.ObjectMeta{Name: "dan-dev"}, Spec: mgmtv1.ClusterRoleTemplateBindingSpec{
			ClusterName: "ndev", RoleTemplateName: "cluster-member", Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: "dan"}}}); err != nil {
			t.Fatal(err)
		}
		var n mgmtv1.Notification
		framework.Eventually(t, framework.Medium, func() error {
			var list mgmtv1.NotificationList
			if err := c.List(ctx, &list, notify.UserSelector("dan")); err != nil || len(list.Items) != 1 {
				return fmt.Errorf("dan's notifications: %d %v", len(list.Items), err)
			}
			n = list.Items[0]
			for _, d := range n.Status.Deliveries {
				if d.Target == "audit-hook" && d.Attempts >= 2 && !d.Delivered {
					if !strings.Contains(d.Error, "503") || strings.Contains(d.Error, "secret-path") {
						return errors.New("error recorded as " + d.Error)
					}
					return nil
				}
			}
			return fmt.Errorf("deliveries %+v", n.Status.Deliveries)
		})
		if got := len(about(hook.received(), "dan")); got < before+2 {
			t.Errorf("the receiver saw %d attempts", got-before)
		}
		var nt mgmtv1.NotificationTarget
		if err := c.Get(ctx, client.ObjectKey{Name: "audit-hook"}, &nt); err != nil || meta.IsStatusConditionTrue(nt.Status.Conditions, mgmtv1.ConditionReady) {
			t.Errorf("audit-hook status %+v %v", nt.Status, err)
		}
		// Back up: the next attempt delivers.
		hook.setStatus(http.StatusOK)
		framework.Eventually(t, framework.Medium, func() error {
			if err := c.Get(ctx, client.ObjectKey{Name: n.Name}, &n); err != nil {
				return err
			}
			for _, d := range n.Status.Deliveries {
				if d.Target == "audit-hook" && d.Delivered {
					return nil
				}
			}
			return fmt.Errorf("deliveries %+v", n.Status.Deliveries)
		})
	})

	t.Run("a cluster imported later tells then", func(t *testing.T) {
		if err := b.app.Registry.ImportConfig(ctx, "nlater", "", env.Cluster(t, "prod").RESTConfig()); err != nil {
			t.Fatal(err)
		}
		framework.Eventually(t, framework.Medium, func() error {
			for _, it := range read(carol, "").Items {
				if it.Cluster == "nlater" {
					return nil
				}
			}
			return errors.New("no notification for nlater")
		})
	})
}
