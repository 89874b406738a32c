package chatops

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/release"
)

// WebhookSecretAnnotation on a Project names a Secret in bokujo's system
// namespace whose key WebhookURLKey holds the Slack incoming-webhook URL of
// the project's channel. Release events in the project's namespaces are
// announced there.
const (
	WebhookSecretAnnotation = "chatops.bokujo.io/slack-webhook-secret"
	WebhookURLKey           = "webhookURL"
)

// Announcer posts release events to the channel of the project that owns
// the release's namespace.
type Announcer struct {
	// Reader reads Projects and Secrets of the management cluster.
	Reader client.Reader
	// HTTPClient posts to the webhooks. Default: 10 s timeout.
	HTTPClient *http.Client
	// AllowURL says whether a webhook URL may be posted to. The default
	// accepts only https://hooks.slack.com/.
	AllowURL func(*url.URL) bool
	Logger   *slog.Logger
}

// Notify returns a release.Options.Notify for the controller of one
// cluster; announcing runs in the background and never blocks it.
func (a *Announcer) Notify(cluster string) func(release.Event) {
	return func(e release.Event) {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := a.Announce(ctx, cluster, e); err != nil {
				a.logger().Warn("announce release event", "cluster", cluster, "release", e.Release, "err", err)
			}
		}()
	}
}

func (a *Announcer) logger() *slog.Logger {
	if a.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Logger
}

var eventIcons = map[string]string{"Started": "🚀", "CanaryHealthy": "🐤", "Promoted": "✅", "RolledBack": "↩️", "Failed": "❌"}

// Announce posts one event; no project or no webhook is not an error.
func (a *Announcer) Announce(ctx context.Context, cluster string, e release.Event) error {
	var projects mgmtv1.ProjectList
	if err := a.Reader.List(ctx, &projects); err != nil {
		return err
	}
	for _, p := range projects.Items {
		if p.Spec.ClusterName != cluster || !slices.Contains(p.Status.Namespaces, e.Namespace) {
			continue
		}
		secretName := p.Annotations[WebhookSecretAnnotation]
		if secretName == "" {
			return nil
		}
		var s corev1.Secret
		if err := a.Reader.Get(ctx, types.NamespacedName{Namespace: mgmtv1.SystemNamespace, Name: secretName}, &s); err != nil {
			return fmt.Errorf("webhook secret of project %s: %w", p.Name, err)
		}
		u, err := url.Parse(string(s.Data[WebhookURLKey]))
		allow := a.AllowURL
		if allow == nil {
			allow = func(u *url.URL) bool { return u.Scheme == "https" && u.Host == "hooks.slack.com" }
		}
		if err != nil || !allow(u) {
			return fmt.Errorf("project %s: webhook URL in secret %s is not a Slack incoming webhook", p.Name, secretName)
		}
		text := fmt.Sprintf("%s [%s/%s] %s", eventIcons[e.Kind], cluster, e.Namespace, e.Message)
		if e.By != "" {
			text += " (by " + e.By + ")"
		}
		data, _ := json.Marshal(Message{Text: text})
		hc := a.HTTPClient
		if hc == nil {
			hc = &http.Client{Timeout: 10 * time.Second}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(data))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			return fmt.Errorf("webhook answered %s", resp.Status)
		}
		return nil
	}
	return nil
}
