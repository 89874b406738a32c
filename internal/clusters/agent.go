package clusters

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// Errors of agent registration and connection. Their messages are shown to
// the agent's operator, so they say what to do.
var (
	ErrTokenUnknown      = errors.New("unknown registration token: check it was copied whole, or issue a new one with `bokujo clusters add-agent NAME --reissue`")
	ErrTokenUsed         = errors.New("registration token already used: a token works once; issue a new one with `bokujo clusters add-agent NAME --reissue`")
	ErrTokenExpired      = errors.New("registration token expired: issue a new one with `bokujo clusters add-agent NAME --reissue`")
	ErrAgentCredential   = errors.New("agent credential refused: it is not this cluster's, or it was replaced by a newer registration; reinstall the agent with a new token")
	ErrNotAgentCluster   = errors.New("cluster is not reached through an agent")
	ErrAgentDisconnected = errors.New("agent not connected")
)

// RegistrationTTL is how long a registration token stays valid.
const RegistrationTTL = time.Hour

const (
	registrationPrefix = "bkr_"
	credentialPrefix   = "bka_"
	registrationSecret = "agent-registration-"
	clusterLabel       = "management.bokujo.io/cluster"
	keyCluster         = "cluster"
	keyHash            = "tokenHash"
	keyExpires         = "expiresAt"
	keyUsed            = "usedAt"
	keyCredentialHash  = "credentialHash"
)

// Tunnels are the agents' open sessions (package tunnel's Server).
type Tunnels interface {
	Connected(cluster string) bool
	Dialer(cluster string) func(ctx context.Context, network, address string) (net.Conn, error)
}

// SetTunnels connects the registry to the agents' sessions; without it
// every agent cluster is disconnected.
func (r *Registry) SetTunnels(t Tunnels) { r.tunnels = t }

// SetAPIReader makes token checks read the apiserver directly rather than
// the cache, so a token used at once after it was issued is found.
func (r *Registry) SetAPIReader(rd client.Reader) { r.apiReader = rd }

// AgentConnected reports whether a cluster's agent holds a tunnel to this
// server.
func (r *Registry) AgentConnected(cluster string) bool {
	return r.tunnels != nil && r.tunnels.Connected(cluster)
}

// Registration is a one-time registration token of an agent cluster.
type Registration struct {
	Cluster   string
	Token     string
	ExpiresAt time.Time
}

// AddAgentCluster creates a Cluster reached through an agent and its first
// registration token.
func (r *Registry) AddAgentCluster(ctx context.Context, name, displayName string) (Registration, error) {
	if err := ValidateName(name); err != nil {
		return Registration{}, err
	}
	if err := r.ensureAbsent(ctx, name); err != nil {
		return Registration{}, err
	}
	c := &mgmtv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: mgmtv1.ClusterSpec{DisplayName: displayName, Source: mgmtv1.ClusterSource{Agent: &mgmtv1.AgentSource{}}}}
	if err := r.client.Create(ctx, c); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return Registration{}, fmt.Errorf("%w: %q", ErrAlreadyExists, name)
		}
		return Registration{}, fmt.Errorf("create cluster %s: %w", name, err)
	}
	return r.issueRegistration(ctx, name)
}

// IssueRegistrationToken replaces the registration tokens of an agent
// cluster by a new one (the old one expired, or the agent is reinstalled).
func (r *Registry) IssueRegistrationToken(ctx context.Context, name string) (Registration, error) {
	var c mgmtv1.Cluster
	if err := r.reader().Get(ctx, types.NamespacedName{Name: name}, &c); err != nil {
		if apierrors.IsNotFound(err) {
			return Registration{}, fmt.Errorf("%w: %q", ErrNotFound, name)
		}
		return Registration{}, fmt.Errorf("get cluster %s: %w", name, err)
	}
	if c.Spec.Source.Agent == nil {
		return Registration{}, fmt.Errorf("%w: %q", ErrNotAgentCluster, name)
	}
	return r.issueRegistration(ctx, name)
}

func (r *Registry) issueRegistration(ctx context.Context, cluster string) (Registration, error) {
	if err := r.deleteRegistrations(ctx, cluster); err != nil {
		return Registration{}, fmt.Errorf("revoke older registration tokens of %s: %w", cluster, err)
	}
	token, err := randomToken(registrationPrefix)
	if err != nil {
		return Registration{}, err
	}
	hash := hashToken(token)
	expires := r.now().Add(RegistrationTTL).UTC().Truncate(time.Second)
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: registrationSecret + hash[:32], Namespace: mgmtv1.SystemNamespace,
			Labels: map[string]string{managedByLabel: managedByValue, clusterLabel: cluster, "bokujo.io/kind": "agent-registration"}},
		Data: map[string][]byte{keyCluster: []byte(cluster), keyHash: []byte(hash), keyExpires: []byte(expires.Format(time.RFC3339))},
	}
	if err := r.client.Create(ctx, s); err != nil {
		return Registration{}, fmt.Errorf("store registration token of %s: %w", cluster, err)
	}
	return Registration{Cluster: cluster, Token: token, ExpiresAt: expires}, nil
}

// deleteRegistrations deletes a cluster's registration tokens one by one
// (the server's role has no deletecollection on Secrets).
func (r *Registry) deleteRegistrations(ctx context.Context, cluster string) error {
	var list corev1.SecretList
	if err := r.reader().List(ctx, &list, client.InNamespace(mgmtv1.SystemNamespace),
		client.MatchingLabels{clusterLabel: cluster, "bokujo.io/kind": "agent-registration"}); err != nil {
		return err
	}
	for i := range list.Items {
		if err := r.client.Delete(ctx, &list.Items[i]); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// LookupRegistration returns the registration a token stands for when it is
// still usable; the import manifest is served only then.
func (r *Registry) LookupRegistration(ctx context.Context, token string) (Registration, error) {
	s, err := r.registrationSecret(ctx, token)
	if err != nil {
		return Registration{}, err
	}
	exp, err := r.checkRegistration(s)
	if err != nil {
		return Registration{}, err
	}
	return Registration{Cluster: string(s.Data[keyCluster]), Token: token, ExpiresAt: exp}, nil
}

// registrationSecret finds a token's Secret by the token's hash, so the
// lookup neither scans nor compares secrets byte by byte.
func (r *Registry) registrationSecret(ctx context.Context, token string) (*corev1.Secret, error) {
	if !strings.HasPrefix(token, registrationPrefix) || len(token) > 128 {
		return nil, ErrTokenUnknown
	}
	hash := hashToken(token)
	var s corev1.Secret
	if err := r.reader().Get(ctx, types.NamespacedName{Namespace: mgmtv1.SystemNamespace, Name: registrationSecret + hash[:32]}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, ErrTokenUnknown
		}
		return nil, fmt.Errorf("look up registration token: %w", err)
	}
	if subtle.ConstantTimeCompare(s.Data[keyHash], []byte(hash)) != 1 {
		return nil, ErrTokenUnknown
	}
	return &s, nil
}

func (r *Registry) checkRegistration(s *corev1.Secret) (time.Time, error) {
	if used := string(s.Data[keyUsed]); used != "" {
		return time.Time{}, fmt.Errorf("%w (used at %s)", ErrTokenUsed, used)
	}
	exp, err := time.Parse(time.RFC3339, string(s.Data[keyExpires]))
	if err != nil {
		return time.Time{}, fmt.Errorf("%w (no valid expiry stored)", ErrTokenExpired)
	}
	if !r.now().Before(exp) {
		return time.Time{}, fmt.Errorf("%w (expired at %s)", ErrTokenExpired, exp.Format(time.RFC3339))
	}
	return exp, nil
}

// RegisterAgent exchanges a registration token for the agent's long-lived
// credential and stores the two identities the agent provisioned in its
// cluster. The token is consumed by an update conditional on the Secret's
// resourceVersion, so of two concurrent uses (also on two server replicas)
// exactly one succeeds.
func (r *Registry) RegisterAgent(ctx context.Context, token string, creds Credentials) (cluster, credential string, err error) {
	s, err := r.registrationSecret(ctx, token)
	if err != nil {
		return "", "", err
	}
	if _, err := r.checkRegistration(s); err != nil {
		return "", "", err
	}
	cluster = string(s.Data[keyCluster])
	// Check the credentials before the token is spent, so a broken agent
	// can retry with the same token.
	for id, kc := range map[Identity][]byte{IdentityProxy: creds.Proxy, IdentityManager: creds.Manager} {
		// The address is the cluster's own view of its API server; it is
		// only ever dialled through the agent, which allows nothing else,
		// so the server's address policy does not apply.
		if _, err := ParseKubeconfig(kc, ""); err != nil {
			return "", "", fmt.Errorf("%s credentials: %w", id, err)
		}
	}
	var c mgmtv1.Cluster
	if err := r.reader().Get(ctx, types.NamespacedName{Name: cluster}, &c); err != nil {
		if apierrors.IsNotFound(err) {
			return "", "", fmt.Errorf("%w: %q (removed after the token was issued)", ErrNotFound, cluster)
		}
		return "", "", fmt.Errorf("get cluster %s: %w", cluster, err)
	}
	if c.Spec.Source.Agent == nil {
		return "", "", fmt.Errorf("%w: %q", ErrNotAgentCluster, cluster)
	}
	s.Data[keyUsed] = []byte(r.now().UTC().Format(time.RFC3339))
	if err := r.client.Update(ctx, s); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return "", "", ErrTokenUsed
		}
		return "", "", fmt.Errorf("consume registration token: %w", err)
	}
	credential, err = randomToken(credentialPrefix)
	if err != nil {
		return "", "", err
	}
	for id, kc := range map[Identity][]byte{IdentityProxy: creds.Proxy, IdentityManager: creds.Manager} {
		if err := r.putSecret(ctx, secretName(cluster, string(id)), cluster, map[string][]byte{mgmtv1.KubeconfigSecretKey: kc}); err != nil {
			return "", "", fmt.Errorf("store %s credentials of %s: %w", id, cluster, err)
		}
	}
	if err := r.putSecret(ctx, agentSecretName(cluster), cluster, map[string][]byte{keyCredentialHash: []byte(hashToken(credential))}); err != nil {
		return "", "", fmt.Errorf("store agent credential of %s: %w", cluster, err)
	}
	want := mgmtv1.AgentSource{
		ProxyCredentials:      &mgmtv1.SecretReference{Name: secretName(cluster, string(IdentityProxy))},
		ManagementCredentials: &mgmtv1.SecretReference{Name: secretName(cluster, string(IdentityManager))},
	}
	// An agent registered before holds a credential that no longer
	// verifies; its open tunnel is closed so it must show the new one.
	if d, ok := r.tunnels.(interface{ Disconnect(string) }); ok {
		d.Disconnect(cluster)
	}
	if c.Spec.Source.Agent.ProxyCredentials == nil || c.Spec.Source.Agent.ManagementCredentials == nil {
		// A merge patch, not an update: the health controller writes the
		// status meanwhile, which changes the resourceVersion.
		base := c.DeepCopy()
		c.Spec.Source.Agent = &want
		if err := r.client.Patch(ctx, &c, client.MergeFrom(base)); err != nil {
			return "", "", fmt.Errorf("record credentials of %s: %w", cluster, err)
		}
	}
	return cluster, credential, nil
}

func (r *Registry) putSecret(ctx context.Context, name, cluster string, data map[string][]byte) error {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: mgmtv1.SystemNamespace,
			Labels: map[string]string{managedByLabel: managedByValue, clusterLabel: cluster}},
		Data: data,
	}
	err := r.client.Create(ctx, s)
	if apierrors.IsAlreadyExists(err) {
		var cur corev1.Secret
		if err := r.reader().Get(ctx, client.ObjectKeyFromObject(s), &cur); err != nil {
			return err
		}
		cur.Data, cur.Labels = data, s.Labels
		return r.client.Update(ctx, &cur)
	}
	return err
}

// VerifyAgent checks the credential an agent presents for cluster. Any
// mismatch, including another cluster's valid credential, is
// ErrAgentCredential.
func (r *Registry) VerifyAgent(ctx context.Context, cluster, credential string) error {
	if ValidateName(cluster) != nil || !strings.HasPrefix(credential, credentialPrefix) || len(credential) > 128 {
		return ErrAgentCredential
	}
	var s corev1.Secret
	if err := r.client.Get(ctx, types.NamespacedName{Namespace: mgmtv1.SystemNamespace, Name: agentSecretName(cluster)}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return ErrAgentCredential
		}
		return fmt.Errorf("look up agent credential: %w", err)
	}
	if subtle.ConstantTimeCompare(s.Data[keyCredentialHash], []byte(hashToken(credential))) != 1 {
		return ErrAgentCredential
	}
	return nil
}

// ClusterOfRegistration tells which cluster a registration token names,
// whatever its state, for audit records; "" when unknown.
func (r *Registry) ClusterOfRegistration(ctx context.Context, token string) string {
	s, err := r.registrationSecret(ctx, token)
	if err != nil {
		return ""
	}
	return string(s.Data[keyCluster])
}

// agentConfig is the configuration of an identity in an agent cluster: the
// stored kubeconfig with every connection dialled through the tunnel.
func (r *Registry) agentSecretRef(c *mgmtv1.Cluster, id Identity) (string, error) {
	a := c.Spec.Source.Agent
	ref := a.ProxyCredentials
	if id == IdentityManager {
		ref = a.ManagementCredentials
	}
	if ref == nil {
		return "", fmt.Errorf("%w: %q: the agent has not registered yet; install it with the command `bokujo clusters add-agent` printed", ErrUnavailable, c.Name)
	}
	if !r.AgentConnected(c.Name) {
		return "", fmt.Errorf("%w: %q: %w", ErrUnavailable, c.Name, ErrAgentDisconnected)
	}
	return ref.Name, nil
}

func (r *Registry) dialThroughAgent(cluster string, cfg *rest.Config) {
	if r.tunnels != nil {
		cfg.Dial = r.tunnels.Dialer(cluster)
	}
}

func (r *Registry) reader() client.Reader {
	if r.apiReader != nil {
		return r.apiReader
	}
	return r.client
}

func (r *Registry) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func agentSecretName(cluster string) string { return "cluster-" + cluster + "-agent" }

func randomToken(prefix string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
