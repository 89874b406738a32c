package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// MaxAttempts is how often a delivery is tried before it is given up; the
// notification stays in the feed either way.
const MaxAttempts = 5

// deliverer sends each new Notification to the enabled targets.
type deliverer struct {
	c client.Client
	// fresh reads the Notification itself past the cache: a reconcile
	// triggered by another event may come before the cache has the
	// delivery just recorded, and must not send it again.
	fresh  client.Reader
	log    *slog.Logger
	public *url.URL
	now    func() time.Time
}

// Reconcile implements reconcile.Reconciler for one Notification.
func (d *deliverer) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var n mgmtv1.Notification
	if err := d.fresh.Get(ctx, req.NamespacedName, &n); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	var targets mgmtv1.NotificationTargetList
	if err := d.c.List(ctx, &targets); err != nil {
		return reconcile.Result{}, err
	}
	var u mgmtv1.User
	display := n.Spec.User
	if err := d.c.Get(ctx, types.NamespacedName{Name: n.Spec.User}, &u); err == nil && u.Spec.DisplayName != "" {
		display = u.Spec.DisplayName
	}
	before := n.DeepCopy()
	var retry time.Duration
	for i := range targets.Items {
		t := &targets.Items[i]
		// A target hears of what happens after it was set up, not the
		// whole history.
		if t.Spec.Disabled || n.CreationTimestamp.Before(&t.CreationTimestamp) {
			continue
		}
		rec := delivery(&n, t.Name)
		if rec.Delivered || rec.Attempts >= MaxAttempts {
			continue
		}
		// Events (a status write, a target change) bring the
		// notification back sooner than its back-off allows.
		if rec.LastAttemptTime != nil {
			if wait := rec.LastAttemptTime.Add(backoff(rec.Attempts)).Sub(d.now()); wait > 0 {
				retry = minWait(retry, wait)
				continue
			}
		}
		err := d.send(ctx, t, &n, display)
		now := metav1.NewTime(d.now())
		rec.Attempts++
		rec.LastAttemptTime = &now
		cond := metav1.Condition{Type: mgmtv1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Delivered", Message: "the last notification was accepted"}
		if err != nil {
			rec.Error = truncate(err.Error(), 512)
			cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, "DeliveryFailed", truncate(err.Error(), 512)
			d.log.WarnContext(ctx, "notification delivery failed", "target", t.Name, "notification", n.Name, "attempt", rec.Attempts, "error", err)
			if rec.Attempts < MaxAttempts {
				retry = minWait(retry, backoff(rec.Attempts))
			}
		} else {
			rec.Delivered, rec.Error = true, ""
		}
		d.setTargetCondition(ctx, t, cond)
	}
	if !equalDeliveries(before.Status.Deliveries, n.Status.Deliveries) {
		if err := d.c.Status().Patch(ctx, &n, client.MergeFrom(before), client.FieldOwner(fieldManager)); err != nil {
			return reconcile.Result{}, fmt.Errorf("record deliveries of %s: %w", n.Name, err)
		}
	}
	return reconcile.Result{RequeueAfter: retry}, nil
}

// backoff is the wait after the n-th failed attempt: 2 s, 8 s, 18 s, 32 s.
func backoff(n int32) time.Duration { return time.Duration(n*n) * 2 * time.Second }

// minWait is the sooner of two waits, 0 meaning none.
func minWait(a, b time.Duration) time.Duration {
	if a == 0 || b < a {
		return b
	}
	return a
}

// delivery returns n's record for target, adding it when missing.
func delivery(n *mgmtv1.Notification, target string) *mgmtv1.NotificationDelivery {
	for i := range n.Status.Deliveries {
		if n.Status.Deliveries[i].Target == target {
			return &n.Status.Deliveries[i]
		}
	}
	n.Status.Deliveries = append(n.Status.Deliveries, mgmtv1.NotificationDelivery{Target: target})
	return &n.Status.Deliveries[len(n.Status.Deliveries)-1]
}

func equalDeliveries(a, b []mgmtv1.NotificationDelivery) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Target != b[i].Target || a[i].Delivered != b[i].Delivered || a[i].Attempts != b[i].Attempts || a[i].Error != b[i].Error {
			return false
		}
	}
	return true
}

func (d *deliverer) setTargetCondition(ctx context.Context, t *mgmtv1.NotificationTarget, cond metav1.Condition) {
	before := t.DeepCopy()
	if !meta.SetStatusCondition(&t.Status.Conditions, cond) {
		return
	}
	if err := d.c.Status().Patch(ctx, t, client.MergeFrom(before), client.FieldOwner(fieldManager)); err != nil {
		d.log.WarnContext(ctx, "record notification target status", "target", t.Name, "error", err)
	}
}

// WebhookPayload is what a Webhook target receives.
type WebhookPayload struct {
	User          string    `json:"user"`
	DisplayName   string    `json:"displayName"`
	Reason        string    `json:"reason"`
	Cluster       string    `json:"cluster,omitempty"`
	Project       string    `json:"project,omitempty"`
	RoleTemplate  string    `json:"roleTemplate,omitempty"`
	Via           string    `json:"via,omitempty"`
	Message       string    `json:"message"`
	KubeconfigURL string    `json:"kubeconfigURL"`
	Time          time.Time `json:"time"`
}

// send posts n to t. The URL comes from t's Secret and must be https; the
// answer is not followed through redirects (a receiver cannot bounce the
// request, with its body, elsewhere).
func (d *deliverer) send(ctx context.Context, t *mgmtv1.NotificationTarget, n *mgmtv1.Notification, display string) error {
	var sec corev1.Secret
	if err := d.c.Get(ctx, types.NamespacedName{Namespace: mgmtv1.SystemNamespace, Name: t.Spec.URLSecretRef.Name}, &sec); err != nil {
		return fmt.Errorf("read secret %s: %w", t.Spec.URLSecretRef.Name, err)
	}
	raw := string(sec.Data[mgmtv1.NotificationTargetURLKey])
	u, err := url.Parse(raw)
	if raw == "" || err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("secret %s: key %q must hold an https URL", t.Spec.URLSecretRef.Name, mgmtv1.NotificationTargetURLKey)
	}
	kubeconfig := KubeconfigURL(d.public)
	var body any
	switch t.Spec.Type {
	case mgmtv1.NotificationTargetSlack:
		body = map[string]string{"text": fmt.Sprintf("*%s* (%s): %s Get a kubeconfig: %s", display, n.Spec.User, n.Spec.Message, kubeconfig)}
	default:
		body = WebhookPayload{User: n.Spec.User, DisplayName: display, Reason: string(n.Spec.Reason), Cluster: n.Spec.Cluster,
			Project: n.Spec.Project, RoleTemplate: n.Spec.RoleTemplate, Via: n.Spec.Via, Message: n.Spec.Message,
			KubeconfigURL: kubeconfig, Time: n.CreationTimestamp.UTC()}
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return err
	}
	hc, err := httpClient(t.Spec.CAData)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "bokujo-notify")
	resp, err := hc.Do(req)
	if err != nil {
		// The URL may carry a secret (Slack's do): name only the host.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("post to %s: %v", u.Host, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("post to %s: status %s", u.Host, resp.Status)
	}
	return nil
}

func httpClient(caData string) (*http.Client, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caData != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(caData)) {
			return nil, errors.New("caData holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	return &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: cfg, Proxy: http.ProxyFromEnvironment},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// undelivered maps a target change to the notifications it has not had
// yet.
func (d *deliverer) undelivered(ctx context.Context, o client.Object) []reconcile.Request {
	t, ok := o.(*mgmtv1.NotificationTarget)
	if !ok || t.Spec.Disabled {
		return nil
	}
	var list mgmtv1.NotificationList
	if err := d.c.List(ctx, &list); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		n := &list.Items[i]
		if n.CreationTimestamp.Before(&t.CreationTimestamp) {
			continue
		}
		if rec := delivery(n.DeepCopy(), t.Name); !rec.Delivered && rec.Attempts < MaxAttempts {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Name: n.Name}})
		}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
