// Package peer lets every replica of the bokujo server reach every agent
// cluster, whichever replica the agent's tunnel landed on.
//
// Each replica records in the management cluster which tunnels it holds:
// a Lease per replica (its peer URL, renewed every few seconds, so a dead
// replica's claims expire) and a Lease per agent cluster naming the
// replica that holds its tunnel. A replica that needs a cluster whose
// tunnel is elsewhere opens a WebSocket to the holder's /peer/v1/dial
// endpoint and gets a raw TCP stream to the cluster's API server through
// the holder's tunnel. The stream is relayed byte for byte: the TLS session
// to the downstream apiserver, the proxy identity's credential and the
// user's Impersonate headers all belong to the replica that took the
// request, so the holder neither sees nor can change who the request is
// for, and watches, logs -f, exec and port-forward work as they do locally.
//
// Replicas authenticate to each other with an HMAC over (cluster, address,
// expiry) keyed by a random secret kept in a Secret of bokujo's namespace,
// which no user is handed; the endpoint refuses every request without a
// valid one, whatever else it carries.
package peer

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	coordv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"bokujo.io/bokujo/internal/tunnel"
)

const (
	// DialPath is the endpoint replicas relay tunnelled connections on.
	DialPath = "/peer/v1/dial"
	// AuthHeader carries the requesting replica's HMAC.
	AuthHeader = "X-Bokujo-Peer-Auth"
	// KeySecret holds the replicas' shared key.
	KeySecret = "bokujo-peer-key"

	replicaPrefix = "bokujo-replica-"
	tunnelPrefix  = "bokujo-tunnel-"
	urlAnnotation = "bokujo.io/peer-url"
	keyData       = "key"
	authVersion   = "v1"
	// authTTL bounds how long a signed dial request is accepted.
	authTTL = time.Minute
)

// ErrNoHolder means no live replica holds the cluster's tunnel.
var ErrNoHolder = errors.New("agent not connected to any server replica")

// Options configure a Mesh.
type Options struct {
	// Local holds this replica's own agent sessions.
	Local *tunnel.Server
	// Client writes Leases; Cache reads them (a cached client keeps the
	// per-request lookup off the apiserver); Reader reads them fresh.
	Client client.Client
	Cache  client.Reader
	Reader client.Reader
	// Namespace holds the Leases and the key Secret.
	Namespace string
	// URL is this replica's address as the other replicas reach it
	// (https://POD_IP:8443 in a cluster).
	URL string
	// TLS verifies the other replicas' serving certificates.
	TLS *tls.Config
	// Key authenticates replicas to each other (see EnsureKey).
	Key []byte
	// Renew is the heartbeat period (default 10 s); a replica's claims
	// expire after three missed heartbeats.
	Renew  time.Duration
	Logger *slog.Logger
	Now    func() time.Time
}

// Mesh is this replica's view of every replica's tunnels. It implements
// clusters.Tunnels: Connected and Dialer cover tunnels held anywhere.
type Mesh struct {
	opts     Options
	id       string
	dialer   websocket.Dialer
	upgrader websocket.Upgrader

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// New returns a Mesh with a fresh replica id.
func New(opts Options) (*Mesh, error) {
	switch {
	case opts.Local == nil || opts.Client == nil || opts.Cache == nil || opts.Reader == nil:
		return nil, errors.New("peer mesh: local tunnels and clients are required")
	case opts.Namespace == "":
		return nil, errors.New("peer mesh: no namespace")
	case len(opts.Key) < 32:
		return nil, errors.New("peer mesh: key shorter than 32 bytes")
	}
	u, err := url.Parse(opts.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Path != "" {
		return nil, fmt.Errorf("peer URL %q: want https://host:port, the address other replicas reach this one at", opts.URL)
	}
	if opts.Renew <= 0 {
		opts.Renew = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return &Mesh{opts: opts, id: hex.EncodeToString(b), locks: map[string]*sync.Mutex{},
		dialer: websocket.Dialer{TLSClientConfig: opts.TLS, HandshakeTimeout: 10 * time.Second},
		upgrader: websocket.Upgrader{HandshakeTimeout: 10 * time.Second,
			// Replicas are programs; a browser page has no business here.
			CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == "" }},
	}, nil
}

// ID is this replica's identity in the Leases.
func (m *Mesh) ID() string { return m.id }

// EnsureKey returns the replicas' shared key, creating it on first start.
// Of two replicas starting at once one creates it and both read it.
func EnsureKey(ctx context.Context, c client.Client, r client.Reader, namespace string) ([]byte, error) {
	key := types.NamespacedName{Namespace: namespace, Name: KeySecret}
	var s corev1.Secret
	err := r.Get(ctx, key, &s)
	if apierrors.IsNotFound(err) {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		s = corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: KeySecret, Namespace: namespace,
			Labels: map[string]string{"app.kubernetes.io/managed-by": "bokujo"}}, Data: map[string][]byte{keyData: b}}
		if err = c.Create(ctx, &s); apierrors.IsAlreadyExists(err) {
			err = r.Get(ctx, key, &s)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("replica key (Secret %s/%s): %w", namespace, KeySecret, err)
	}
	if len(s.Data[keyData]) < 32 {
		return nil, fmt.Errorf("replica key: Secret %s/%s holds no key of 32 bytes or more; delete it and restart the servers", namespace, KeySecret)
	}
	return s.Data[keyData], nil
}

// Run announces this replica until ctx ends, then withdraws it. The first
// announcement is written before Run returns an error or starts looping,
// so call it in a goroutine after Start.
func (m *Mesh) Run(ctx context.Context) {
	t := time.NewTicker(m.opts.Renew)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = m.opts.Client.Delete(dctx, &coordv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: replicaPrefix + m.id, Namespace: m.opts.Namespace}})
			cancel()
			return
		case <-t.C:
			if err := m.Announce(ctx); err != nil && ctx.Err() == nil {
				m.opts.Logger.Warn("cannot renew this replica's lease; other replicas stop forwarding to it when it expires", "err", err)
			}
		}
	}
}

// Announce writes this replica's Lease (its URL and a fresh renew time).
func (m *Mesh) Announce(ctx context.Context) error {
	now := metav1.NewMicroTime(m.opts.Now())
	l := &coordv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: replicaPrefix + m.id, Namespace: m.opts.Namespace,
		Annotations: map[string]string{urlAnnotation: m.opts.URL}},
		Spec: coordv1.LeaseSpec{HolderIdentity: ptr.To(m.id), LeaseDurationSeconds: ptr.To(int32(3 * m.opts.Renew / time.Second)), RenewTime: &now}}
	var cur coordv1.Lease
	err := m.opts.Reader.Get(ctx, client.ObjectKeyFromObject(l), &cur)
	if apierrors.IsNotFound(err) {
		return m.opts.Client.Create(ctx, l)
	}
	if err != nil {
		return err
	}
	cur.Annotations, cur.Spec = l.Annotations, l.Spec
	return m.opts.Client.Update(ctx, &cur)
}

// Record writes whether this replica holds cluster's tunnel now. It is
// called after every connect and disconnect of a local agent and reads
// the current state, so calls arriving out of order converge.
func (m *Mesh) Record(ctx context.Context, cluster string) error {
	lock := m.lock(cluster)
	lock.Lock()
	defer lock.Unlock()
	held := m.opts.Local.Connected(cluster)
	key := types.NamespacedName{Namespace: m.opts.Namespace, Name: tunnelPrefix + cluster}
	var cur coordv1.Lease
	err := m.opts.Reader.Get(ctx, key, &cur)
	switch {
	case err != nil && !apierrors.IsNotFound(err):
		return fmt.Errorf("read tunnel lease of %s: %w", cluster, err)
	case err != nil && held:
		now := metav1.NewMicroTime(m.opts.Now())
		return m.opts.Client.Create(ctx, &coordv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace,
			Labels: map[string]string{"management.bokujo.io/cluster": cluster}},
			Spec: coordv1.LeaseSpec{HolderIdentity: ptr.To(m.id), AcquireTime: &now}})
	case err != nil:
		return nil
	case held && ptr.Deref(cur.Spec.HolderIdentity, "") != m.id:
		now := metav1.NewMicroTime(m.opts.Now())
		cur.Spec.HolderIdentity, cur.Spec.AcquireTime = ptr.To(m.id), &now
		return m.opts.Client.Update(ctx, &cur)
	case !held && ptr.Deref(cur.Spec.HolderIdentity, "") == m.id:
		// Conditional on what was read: a replica that took the tunnel
		// meanwhile keeps its claim.
		return client.IgnoreNotFound(m.opts.Client.Delete(ctx, &cur, client.Preconditions{UID: &cur.UID, ResourceVersion: &cur.ResourceVersion}))
	}
	return nil
}

func (m *Mesh) lock(cluster string) *sync.Mutex {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.locks[cluster]
	if l == nil {
		l = &sync.Mutex{}
		m.locks[cluster] = l
	}
	return l
}

// Holder returns the URL of the live replica, other than this one, that
// holds cluster's tunnel, or ErrNoHolder.
func (m *Mesh) Holder(ctx context.Context, cluster string) (string, error) {
	var t coordv1.Lease
	if err := m.opts.Cache.Get(ctx, types.NamespacedName{Namespace: m.opts.Namespace, Name: tunnelPrefix + cluster}, &t); err != nil {
		if apierrors.IsNotFound(err) {
			return "", ErrNoHolder
		}
		return "", err
	}
	holder := ptr.Deref(t.Spec.HolderIdentity, "")
	if holder == "" || holder == m.id {
		return "", ErrNoHolder
	}
	var r coordv1.Lease
	if err := m.opts.Cache.Get(ctx, types.NamespacedName{Namespace: m.opts.Namespace, Name: replicaPrefix + holder}, &r); err != nil {
		if apierrors.IsNotFound(err) {
			return "", ErrNoHolder
		}
		return "", err
	}
	if r.Spec.RenewTime == nil || r.Spec.LeaseDurationSeconds == nil ||
		!m.opts.Now().Before(r.Spec.RenewTime.Add(time.Duration(*r.Spec.LeaseDurationSeconds)*time.Second)) {
		return "", ErrNoHolder
	}
	u := r.Annotations[urlAnnotation]
	if u == "" {
		return "", ErrNoHolder
	}
	return u, nil
}

// Connected reports whether cluster's agent holds a tunnel to this or
// another live replica.
func (m *Mesh) Connected(cluster string) bool {
	if m.opts.Local.Connected(cluster) {
		return true
	}
	_, err := m.Holder(context.Background(), cluster)
	return err == nil
}

// Disconnect closes this replica's sessions of cluster.
func (m *Mesh) Disconnect(cluster string) { m.opts.Local.Disconnect(cluster) }

// Dialer dials through this replica's tunnel when it holds one, else
// through the replica that does. It decides at each dial, so transports
// built with it follow the agent from replica to replica.
func (m *Mesh) Dialer(cluster string) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		if m.opts.Local.Connected(cluster) {
			return m.opts.Local.Dial(ctx, cluster, network, address)
		}
		holder, err := m.Holder(ctx, cluster)
		if err != nil {
			return nil, fmt.Errorf("dial %s in cluster %s: %w", address, cluster, err)
		}
		return m.dialPeer(ctx, holder, cluster, address)
	}
}

func (m *Mesh) dialPeer(ctx context.Context, holder, cluster, address string) (net.Conn, error) {
	u := holder + DialPath + "?" + url.Values{"cluster": {cluster}, "address": {address}}.Encode()
	h := http.Header{}
	h.Set(AuthHeader, Sign(m.opts.Key, cluster, address, m.opts.Now().Add(authTTL)))
	ws, resp, err := m.dialer.DialContext(ctx, strings.Replace(u, "https://", "wss://", 1), h)
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return nil, fmt.Errorf("dial %s in cluster %s through replica %s: HTTP %d: %s", address, cluster, holder, resp.StatusCode, strings.TrimSpace(string(body)))
		}
		return nil, fmt.Errorf("dial %s in cluster %s through replica %s: %w", address, cluster, holder, err)
	}
	return tunnel.NewNetConn(ws), nil
}

// Sign returns the AuthHeader value for a dial of address in cluster
// valid until expires.
func Sign(key []byte, cluster, address string, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	return authVersion + "." + exp + "." + mac(key, cluster, address, exp)
}

func mac(key []byte, cluster, address, exp string) string {
	h := hmac.New(sha256.New, key)
	fmt.Fprintf(h, "%s\n%s\n%s\n%s", authVersion, cluster, address, exp)
	return hex.EncodeToString(h.Sum(nil))
}

// verify checks an AuthHeader value for cluster and address.
func (m *Mesh) verify(v, cluster, address string) error {
	parts := strings.Split(v, ".")
	if len(parts) != 3 || parts[0] != authVersion {
		return errors.New("missing or malformed " + AuthHeader)
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return errors.New("malformed expiry")
	}
	now := m.opts.Now()
	if e := time.Unix(exp, 0); !now.Before(e) || e.After(now.Add(2*authTTL)) {
		return errors.New("expired or too far in the future")
	}
	if !hmac.Equal([]byte(parts[2]), []byte(mac(m.opts.Key, cluster, address, parts[1]))) {
		return errors.New("bad signature")
	}
	return nil
}

// ServeHTTP serves DialPath: another replica asks for a connection through
// a tunnel this replica holds.
func (m *Mesh) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	cluster, address := q.Get("cluster"), q.Get("address")
	if r.Method != http.MethodGet || len(q["cluster"]) != 1 || len(q["address"]) != 1 || len(cluster) > 63 || len(address) > 300 {
		http.Error(w, "bad peer dial request", http.StatusBadRequest)
		return
	}
	if err := m.verify(r.Header.Get(AuthHeader), cluster, address); err != nil {
		// Users reach this path too; nothing they hold opens it.
		m.opts.Logger.Warn("refused a peer dial request", "remote", r.RemoteAddr, "cluster", cluster, "err", err)
		http.Error(w, "only bokujo server replicas may use this endpoint", http.StatusForbidden)
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, "peer dial needs a WebSocket upgrade", http.StatusBadRequest)
		return
	}
	if !m.opts.Local.Connected(cluster) {
		http.Error(w, "this replica does not hold the agent's tunnel of "+cluster, http.StatusServiceUnavailable)
		return
	}
	conn, err := m.opts.Local.Dial(r.Context(), cluster, "tcp", address)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	ws, err := m.upgrader.Upgrade(w, r, nil)
	if err != nil {
		conn.Close()
		return
	}
	peer := tunnel.NewNetConn(ws)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(conn, peer); closeWrite(conn); done <- struct{}{} }()
	go func() { _, _ = io.Copy(peer, conn); done <- struct{}{} }()
	<-done
	conn.Close()
	peer.Close()
	<-done
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}
