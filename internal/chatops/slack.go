// Package chatops lets people drive releases from Slack: a slash command
// (/bokujo release|status|promote|pause|resume|abort|retry|rollback|history)
// and the buttons of its answers. Every request is verified with the Slack
// app's signing secret; the Slack account must be linked to a bokujo user
// (an identity with provider "slack" and subject TEAM_ID/USER_ID on the User)
// and acts with exactly that user's rights in the cluster, impersonated like
// the proxy does. Release events are announced to a project's channel
// through an incoming webhook (see Announcer).
package chatops

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"

	deliveryv1 "bokujo.io/bokujo/api/delivery/v1alpha1"
	"bokujo.io/bokujo/internal/proxy"
	"bokujo.io/bokujo/internal/release"
)

// IdentityProvider is the provider name of Slack accounts in a User's
// spec.identities; the subject is "TEAM_ID/USER_ID".
const IdentityProvider = "slack"

// Slack's limits: requests older than MaxSkew are replays; an answer must
// come within three seconds, so work longer than SyncBudget continues in
// the background and answers through the response URL.
const (
	MaxSkew           = 5 * time.Minute
	DefaultSyncBudget = 2 * time.Second
	maxBody           = 64 << 10
)

// Users finds the bokujo user linked to a chat account; nil, nil when none.
type Users interface {
	ChatUser(ctx context.Context, provider, subject string) (*proxy.User, error)
}

// Releases returns a release client acting as user in cluster.
type Releases func(ctx context.Context, cluster string, user *proxy.User) (*release.Client, error)

// Options configure the Slack endpoints.
type Options struct {
	// SigningSecret is the Slack app's signing secret.
	SigningSecret []byte
	Users         Users
	Releases      Releases
	// HTTPClient posts to response URLs. Default: 10 s timeout.
	HTTPClient *http.Client
	// AllowResponseURL says whether a response URL may be posted to. The
	// default accepts only https://hooks.slack.com/; tests point it at
	// their stand-in.
	AllowResponseURL func(*url.URL) bool
	Now              func() time.Time
	SyncBudget       time.Duration
	// WaitCanary bounds how long `release` waits for its canary pod
	// before saying so. Default 5 minutes.
	WaitCanary time.Duration
	Logger     *slog.Logger
}

// Slack serves the slash command and interactivity endpoints.
type Slack struct {
	opts Options
	log  *slog.Logger
}

// New returns the Slack endpoints.
func New(opts Options) *Slack {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SyncBudget <= 0 {
		opts.SyncBudget = DefaultSyncBudget
	}
	if opts.WaitCanary <= 0 {
		opts.WaitCanary = 5 * time.Minute
	}
	if opts.AllowResponseURL == nil {
		opts.AllowResponseURL = func(u *url.URL) bool { return u.Scheme == "https" && u.Host == "hooks.slack.com" }
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Slack{opts: opts, log: log}
}

// Message is a Slack message body (the subset bokujo sends).
type Message struct {
	ResponseType    string  `json:"response_type,omitempty"`
	ReplaceOriginal bool    `json:"replace_original,omitempty"`
	Text            string  `json:"text"`
	Blocks          []Block `json:"blocks,omitempty"`
}

// Block is a Slack layout block: a section of text or a row of buttons.
type Block struct {
	Type     string    `json:"type"`
	Text     *Text     `json:"text,omitempty"`
	Elements []Element `json:"elements,omitempty"`
}

// Text is a Slack text object.
type Text struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// Element is a button.
type Element struct {
	Type     string `json:"type"`
	Text     Text   `json:"text"`
	ActionID string `json:"action_id"`
	Value    string `json:"value"`
	Style    string `json:"style,omitempty"`
}

// verify checks X-Slack-Signature over the raw body and returns the body.
// Slack signs "v0:" + timestamp + ":" + body with HMAC-SHA256.
func (s *Slack) verify(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if len(s.opts.SigningSecret) == 0 {
		http.Error(w, "Slack is not configured on this bokujo server", http.StatusNotFound)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return nil, false
	}
	ts := r.Header.Get("X-Slack-Request-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		s.log.Warn("slack request refused: no valid timestamp")
		http.Error(w, "missing or invalid X-Slack-Request-Timestamp", http.StatusUnauthorized)
		return nil, false
	}
	if skew := s.opts.Now().Sub(time.Unix(sec, 0)); skew > MaxSkew || skew < -MaxSkew {
		s.log.Warn("slack request refused: timestamp outside the 5-minute window", "skew", skew.Round(time.Second).String())
		http.Error(w, "request timestamp outside the 5-minute window", http.StatusUnauthorized)
		return nil, false
	}
	got, ok := strings.CutPrefix(r.Header.Get("X-Slack-Signature"), "v0=")
	sig, err := hex.DecodeString(got)
	if !ok || err != nil || !hmac.Equal(sig, Sign(s.opts.SigningSecret, ts, body)) {
		s.log.Warn("slack request refused: bad signature")
		http.Error(w, "invalid X-Slack-Signature", http.StatusUnauthorized)
		return nil, false
	}
	return body, true
}

// Sign computes Slack's v0 signature (raw bytes) of a request.
func Sign(secret []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("v0:" + timestamp + ":"))
	m.Write(body)
	return m.Sum(nil)
}

// request is one verified command or button press.
type request struct {
	team, user  string
	text        string
	responseURL string
}

// Commands serves the slash command endpoint.
func (s *Slack) Commands(w http.ResponseWriter, r *http.Request) {
	body, ok := s.verify(w, r)
	if !ok {
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "malformed form body", http.StatusBadRequest)
		return
	}
	s.serve(w, r, request{
		team: form.Get("team_id"), user: form.Get("user_id"),
		text: form.Get("text"), responseURL: form.Get("response_url"),
	})
}

// Interactions serves the buttons of bokujo's messages.
func (s *Slack) Interactions(w http.ResponseWriter, r *http.Request) {
	body, ok := s.verify(w, r)
	if !ok {
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "malformed form body", http.StatusBadRequest)
		return
	}
	var p struct {
		Type string `json:"type"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		Team struct {
			ID string `json:"id"`
		} `json:"team"`
		ResponseURL string `json:"response_url"`
		Actions     []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"actions"`
	}
	if err := json.Unmarshal([]byte(form.Get("payload")), &p); err != nil || p.Type != "block_actions" || len(p.Actions) != 1 {
		http.Error(w, "expected one block action", http.StatusBadRequest)
		return
	}
	a := p.Actions[0]
	s.serve(w, r, request{team: p.Team.ID, user: p.User.ID, text: a.ActionID + " " + a.Value, responseURL: p.ResponseURL})
}

// serve runs a command as the linked user: inline when it is done within
// the sync budget, else acknowledged at once and answered later through
// the response URL.
func (s *Slack) serve(w http.ResponseWriter, r *http.Request, req request) {
	if req.team == "" || req.user == "" {
		http.Error(w, "missing team or user", http.StatusBadRequest)
		return
	}
	ctx := context.WithoutCancel(r.Context())
	user, err := s.opts.Users.ChatUser(ctx, IdentityProvider, req.team+"/"+req.user)
	if err != nil {
		s.log.Error("slack: look up user", "err", err)
		writeMessage(w, ephemeral("Sorry, bokujo could not look you up just now; try again in a minute."))
		return
	}
	if user == nil {
		s.log.Info("slack: unknown user refused", "team", req.team, "user", req.user)
		writeMessage(w, ephemeral(fmt.Sprintf("Sorry, your Slack account is not linked to a bokujo user, so bokujo cannot act for you. "+
			"Ask an administrator to add the identity {provider: slack, subject: %s/%s} to your bokujo user.", req.team, req.user)))
		return
	}
	cmd, err := parse(req.text)
	if err != nil {
		writeMessage(w, ephemeral(err.Error()+"\n"+usage))
		return
	}
	done := make(chan Message, 1)
	followUps := make(chan Message, 4)
	go func() {
		defer close(followUps)
		done <- s.run(ctx, user, cmd, followUps)
	}()
	if cmd.slow {
		// Known to outlast Slack's 3 s: acknowledge now.
		writeMessage(w, ephemeral(cmd.ack()))
		go s.relay(req.responseURL, done, followUps)
		return
	}
	select {
	case m := <-done:
		writeMessage(w, m)
		go s.relay(req.responseURL, nil, followUps)
	case <-time.After(s.opts.SyncBudget):
		writeMessage(w, ephemeral(cmd.ack()))
		go s.relay(req.responseURL, done, followUps)
	}
}

// relay posts the messages a command sends on the way, then (when the
// request was only acknowledged) its final answer, to the response URL.
func (s *Slack) relay(responseURL string, done <-chan Message, followUps <-chan Message) {
	for m := range followUps {
		s.post(responseURL, m)
	}
	if done != nil {
		s.post(responseURL, <-done)
	}
}

func (s *Slack) post(responseURL string, m Message) {
	u, err := url.Parse(responseURL)
	if err != nil || !s.opts.AllowResponseURL(u) {
		s.log.Warn("slack: response URL refused", "url", responseURL)
		return
	}
	data, _ := json.Marshal(m)
	resp, err := s.opts.HTTPClient.Post(u.String(), "application/json", bytes.NewReader(data))
	if err != nil {
		s.log.Warn("slack: post to response URL", "err", err)
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		s.log.Warn("slack: response URL answered", "status", resp.Status)
	}
}

func writeMessage(w http.ResponseWriter, m Message) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(m)
}

func ephemeral(text string) Message { return Message{ResponseType: "ephemeral", Text: text} }

func inChannel(text string) Message { return Message{ResponseType: "in_channel", Text: text} }

const usage = "Usage: `/bokujo release CLUSTER/NAMESPACE/DEPLOYMENT [CONTAINER=]IMAGE` · `status|promote|pause|resume|abort|retry|rollback CLUSTER/NAMESPACE/RELEASE` · `history CLUSTER[/NAMESPACE]`"

// command is a parsed slash command.
type command struct {
	verb          string
	cluster, ns   string
	name          string // release, or the deployment for verb release
	container     string
	image         string
	slow          bool
	historyTarget bool
}

func (c command) ack() string {
	switch c.verb {
	case "release":
		return fmt.Sprintf("⏳ Starting a release of %s/%s/%s with %s; I will post here when the canary pod is up.", c.cluster, c.ns, c.name, c.image)
	default:
		return fmt.Sprintf("⏳ Working on `%s`; the answer follows here.", c.verb)
	}
}

func parse(text string) (command, error) {
	f := strings.Fields(text)
	if len(f) == 0 || f[0] == "help" {
		return command{}, errors.New("Hello! bokujo releases Deployments one canary pod first.")
	}
	c := command{verb: f[0]}
	split := func(arg string, parts int) ([]string, error) {
		p := strings.Split(arg, "/")
		if len(p) != parts {
			return nil, fmt.Errorf("`%s`: name it %s", arg, map[int]string{2: "CLUSTER/NAMESPACE", 3: "CLUSTER/NAMESPACE/NAME"}[parts])
		}
		for _, s := range p {
			if len(validation.IsDNS1123Subdomain(s)) > 0 {
				return nil, fmt.Errorf("`%s` is not a valid name", s)
			}
		}
		return p, nil
	}
	switch c.verb {
	case "release":
		if len(f) != 3 {
			return c, errors.New("`release` takes CLUSTER/NAMESPACE/DEPLOYMENT and an image")
		}
		p, err := split(f[1], 3)
		if err != nil {
			return c, err
		}
		c.cluster, c.ns, c.name = p[0], p[1], p[2]
		c.image = f[2]
		if ctr, img, ok := strings.Cut(f[2], "="); ok {
			c.container, c.image = ctr, img
		}
		if c.image == "" {
			return c, errors.New("`release` needs an image")
		}
		c.slow = true
	case "status", "promote", "pause", "resume", "abort", "retry", "rollback":
		if len(f) != 2 {
			return c, fmt.Errorf("`%s` takes CLUSTER/NAMESPACE/RELEASE", c.verb)
		}
		p, err := split(f[1], 3)
		if err != nil {
			return c, err
		}
		c.cluster, c.ns, c.name = p[0], p[1], p[2]
	case "history":
		if len(f) != 2 {
			return c, errors.New("`history` takes CLUSTER/NAMESPACE")
		}
		p, err := split(f[1], 2)
		if err != nil {
			return c, err
		}
		c.cluster, c.ns = p[0], p[1]
	default:
		return c, fmt.Errorf("I do not know `%s`.", c.verb)
	}
	return c, nil
}

// run carries out a command as user and returns its answer; follow-ups
// (the canary coming up) go to more.
func (s *Slack) run(ctx context.Context, user *proxy.User, c command, more chan<- Message) Message {
	rc, err := s.opts.Releases(ctx, c.cluster, user)
	if err != nil {
		s.log.Warn("slack: cluster client", "cluster", c.cluster, "err", err)
		return ephemeral(fmt.Sprintf("Cluster `%s` is not available to bokujo right now.", c.cluster))
	}
	switch c.verb {
	case "release":
		return s.startRelease(ctx, rc, user, c, more)
	case "status":
		rel, err := rc.Get(ctx, c.ns, c.name)
		if err != nil {
			return explain(err, user)
		}
		return statusMessage(c.cluster, rel)
	case "rollback":
		rel, err := rc.Rollback(ctx, c.ns, c.name, user.Name)
		if err != nil {
			return explain(err, user)
		}
		return inChannel(fmt.Sprintf("↩️ %s started release %s/%s/%s back to the version before %s.", user.Name, c.cluster, c.ns, rel.Name, c.name))
	case "history":
		list, err := rc.List(ctx, c.ns, "")
		if err != nil {
			return explain(err, user)
		}
		if len(list) == 0 {
			return ephemeral("No releases in " + c.cluster + "/" + c.ns + ".")
		}
		var b strings.Builder
		for i := range list[:min(len(list), 10)] {
			sum := release.Summarize(&list[i])
			fmt.Fprintf(&b, "• `%s` %s: %s, by %s (%s)\n", sum.Name, sum.Phase, sum.Change, sum.CreatedBy, sum.Created.UTC().Format(time.DateTime))
		}
		return ephemeral(b.String())
	default:
		if _, err := rc.Act(ctx, c.ns, c.name, deliveryv1.Action(c.verb), user.Name); err != nil {
			return explain(err, user)
		}
		return inChannel(fmt.Sprintf("%s asked to %s release %s/%s/%s.", user.Name, c.verb, c.cluster, c.ns, c.name))
	}
}

func (s *Slack) startRelease(ctx context.Context, rc *release.Client, user *proxy.User, c command, more chan<- Message) Message {
	container := c.container
	if container == "" {
		names, err := rc.Containers(ctx, c.ns, c.name)
		if err != nil {
			return explain(err, user)
		}
		if len(names) != 1 {
			return ephemeral(fmt.Sprintf("Deployment %s has containers %s; say which one with CONTAINER=IMAGE.", c.name, strings.Join(names, ", ")))
		}
		container = names[0]
	}
	rel, err := rc.Start(ctx, c.ns, release.StartRequest{
		Deployment: c.name,
		Images:     []deliveryv1.ContainerImage{{Container: container, Image: c.image}},
	}, user.Name)
	if err != nil {
		return explain(err, user)
	}
	more <- inChannel(fmt.Sprintf("🚀 %s started release %s/%s/%s: %s=%s, one canary pod first.", user.Name, c.cluster, c.ns, rel.Name, container, c.image))
	// Wait for the canary pod, or the release ending early.
	deadline := time.Now().Add(s.opts.WaitCanary)
	for time.Now().Before(deadline) {
		got, err := rc.Get(ctx, c.ns, rel.Name)
		if err == nil && (got.Status.StepStartTime != nil || got.Finished()) {
			return statusMessage(c.cluster, got)
		}
		time.Sleep(time.Second)
	}
	return ephemeral(fmt.Sprintf("The canary of %s is not up after %s; see `/bokujo status %s/%s/%s`.", rel.Name, s.opts.WaitCanary, c.cluster, c.ns, rel.Name))
}

// explain turns a cluster's refusal into words for the user.
func explain(err error, user *proxy.User) Message {
	switch {
	case apierrors.IsForbidden(err):
		return ephemeral(fmt.Sprintf("Sorry, %s, you are not allowed to do that there: %s", user.Name, apierrors.ReasonForError(err)) + " — " + err.Error())
	case apierrors.IsNotFound(err):
		return ephemeral("Not found: " + err.Error())
	case apierrors.IsInvalid(err):
		return ephemeral("The cluster refused it: " + err.Error())
	default:
		return ephemeral("That did not work: " + err.Error())
	}
}

// statusMessage shows a release with buttons for its next moves.
func statusMessage(cluster string, rel *deliveryv1.Release) Message {
	sum := release.Summarize(rel)
	st := rel.Status
	text := fmt.Sprintf("*%s/%s/%s* (%s): %s\nstep %d of %d, %d of %d pods on the new version (%d ready)\n%s",
		cluster, rel.Namespace, rel.Name, sum.Change, sum.Phase, st.Step, st.Steps+1, st.CanaryReplicas, st.Replicas, st.ReadyCanaryReplicas, sum.Message)
	m := inChannel(text)
	m.Blocks = []Block{{Type: "section", Text: &Text{Type: "mrkdwn", Text: text}}}
	if !rel.Finished() {
		value := cluster + "/" + rel.Namespace + "/" + rel.Name
		m.Blocks = append(m.Blocks, Block{Type: "actions", Elements: []Element{
			{Type: "button", Text: Text{Type: "plain_text", Text: "Promote"}, ActionID: "promote", Value: value, Style: "primary"},
			{Type: "button", Text: Text{Type: "plain_text", Text: "Abort"}, ActionID: "abort", Value: value, Style: "danger"},
		}})
	}
	return m
}
