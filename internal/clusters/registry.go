package clusters

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// Errors of the registry.
var (
	ErrNotFound      = errors.New("cluster not found")
	ErrUnavailable   = errors.New("cluster unavailable")
	ErrAlreadyExists = errors.New("cluster already exists")
	ErrInvalidName   = errors.New("invalid cluster name")
)

// Identity selects one of bokujo's two downstream identities.
type Identity string

const (
	// IdentityProxy may only impersonate users and groups.
	IdentityProxy Identity = "proxy"
	// IdentityManager runs RBAC sync and bokujo's controllers.
	IdentityManager Identity = "manager"
)

// Registry imports clusters and hands out their client configurations.
type Registry struct {
	client    client.Client
	apiReader client.Reader
	policy    Policy
	tunnels   Tunnels
	// Now is the clock of token expiry; nil is time.Now.
	Now func() time.Time

	mu    sync.Mutex
	cache map[string]cached // key: cluster/identity
}

type cached struct {
	resourceVersion string
	config          *rest.Config
}

// NewRegistry returns a registry writing to the management cluster.
func NewRegistry(c client.Client, policy Policy) *Registry {
	return &Registry{client: c, policy: policy, cache: map[string]cached{}}
}

// ValidateName checks a cluster id: it appears in URLs and object names.
func ValidateName(name string) error {
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return fmt.Errorf("%w %q: %s", ErrInvalidName, name, errs[0])
	}
	if len(name) > 40 {
		return fmt.Errorf("%w %q: at most 40 characters", ErrInvalidName, name)
	}
	return nil
}

// ImportKubeconfig imports a cluster from an admin kubeconfig uploaded to
// the server: the kubeconfig must pass ParseKubeconfig's rules and the
// address policy; it is used once to provision bokujo's identities and
// then forgotten.
func (r *Registry) ImportKubeconfig(ctx context.Context, name, displayName string, kubeconfig []byte, contextName string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	admin, err := ParseKubeconfig(kubeconfig, contextName)
	if err != nil {
		return err
	}
	return r.ImportConfig(ctx, name, displayName, admin)
}

// ImportConfig imports a cluster from an admin client configuration the
// server already trusts (the clusters `bokujo up` starts itself).
func (r *Registry) ImportConfig(ctx context.Context, name, displayName string, admin *rest.Config) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	if err := r.policy.CheckServer(ctx, admin.Host); err != nil {
		return err
	}
	if err := r.ensureAbsent(ctx, name); err != nil {
		return err
	}
	creds, err := Provision(ctx, admin)
	if err != nil {
		return fmt.Errorf("import cluster %s: %w", name, err)
	}
	return r.Register(ctx, name, displayName, creds)
}

func (r *Registry) ensureAbsent(ctx context.Context, name string) error {
	var existing mgmtv1.Cluster
	err := r.client.Get(ctx, types.NamespacedName{Name: name}, &existing)
	if err == nil {
		return fmt.Errorf("%w: %q", ErrAlreadyExists, name)
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("check cluster %s: %w", name, err)
	}
	return nil
}

// Register stores the credentials of a provisioned cluster (by the server,
// or by `bokujo cluster import` on a user's machine) and creates its
// Cluster object. Both kubeconfigs are held to the same rules as uploads.
func (r *Registry) Register(ctx context.Context, name, displayName string, creds Credentials) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	for id, kc := range map[Identity][]byte{IdentityProxy: creds.Proxy, IdentityManager: creds.Manager} {
		cfg, err := ParseKubeconfig(kc, "")
		if err != nil {
			return fmt.Errorf("%s credentials: %w", id, err)
		}
		if err := r.policy.CheckServer(ctx, cfg.Host); err != nil {
			return fmt.Errorf("%s credentials: %w", id, err)
		}
	}
	if err := r.ensureAbsent(ctx, name); err != nil {
		return err
	}
	for id, kc := range map[Identity][]byte{IdentityProxy: creds.Proxy, IdentityManager: creds.Manager} {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: secretName(name, string(id)), Namespace: mgmtv1.SystemNamespace,
				Labels: map[string]string{managedByLabel: managedByValue, "management.bokujo.io/cluster": name}},
			Data: map[string][]byte{mgmtv1.KubeconfigSecretKey: kc},
		}
		if err := r.client.Create(ctx, s); err != nil {
			if !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("store %s credentials of %s: %w", id, name, err)
			}
			// A failed earlier import may have left it: replace it.
			if err := r.client.Update(ctx, s); err != nil {
				return fmt.Errorf("store %s credentials of %s: %w", id, name, err)
			}
		}
	}
	c := &mgmtv1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: mgmtv1.ClusterSpec{DisplayName: displayName, Source: mgmtv1.ClusterSource{Kubeconfig: &mgmtv1.KubeconfigSource{
			ProxyCredentials:      mgmtv1.SecretReference{Name: secretName(name, string(IdentityProxy))},
			ManagementCredentials: mgmtv1.SecretReference{Name: secretName(name, string(IdentityManager))},
		}}},
	}
	if err := r.client.Create(ctx, c); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("%w: %q", ErrAlreadyExists, name)
		}
		return fmt.Errorf("create cluster %s: %w", name, err)
	}
	return nil
}

// StoreDriverCredentials keeps the credentials of bokujo's two identities
// in a cluster its driver created, and points the Cluster at them. The
// kubeconfigs are held to the rules of uploads (no exec plugins, local
// files or insecure TLS); the address policy does not apply, since the
// server or Cluster API, not a user, chose the address.
func (r *Registry) StoreDriverCredentials(ctx context.Context, name string, creds Credentials) error {
	refs := map[Identity]*mgmtv1.SecretReference{}
	for id, kc := range map[Identity][]byte{IdentityProxy: creds.Proxy, IdentityManager: creds.Manager} {
		if _, err := ParseKubeconfig(kc, ""); err != nil {
			return fmt.Errorf("%s credentials: %w", id, err)
		}
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: secretName(name, string(id)), Namespace: mgmtv1.SystemNamespace,
				Labels: map[string]string{managedByLabel: managedByValue, "management.bokujo.io/cluster": name}},
			Data: map[string][]byte{mgmtv1.KubeconfigSecretKey: kc},
		}
		if err := r.client.Create(ctx, s); err != nil {
			if !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("store %s credentials of %s: %w", id, name, err)
			}
			if err := r.client.Update(ctx, s); err != nil {
				return fmt.Errorf("store %s credentials of %s: %w", id, name, err)
			}
		}
		refs[id] = &mgmtv1.SecretReference{Name: s.Name}
	}
	var c mgmtv1.Cluster
	if err := r.client.Get(ctx, types.NamespacedName{Name: name}, &c); err != nil {
		return fmt.Errorf("get cluster %s: %w", name, err)
	}
	if c.Spec.Source.Driver == nil {
		return fmt.Errorf("cluster %s has no driver", name)
	}
	before := c.DeepCopy()
	c.Spec.Source.Driver.ProxyCredentials, c.Spec.Source.Driver.ManagementCredentials = refs[IdentityProxy], refs[IdentityManager]
	if err := r.client.Patch(ctx, &c, client.MergeFrom(before)); err != nil {
		return fmt.Errorf("record credentials of %s: %w", name, err)
	}
	return nil
}

// Config returns the client configuration of one of bokujo's identities in
// a cluster. Configurations are cached per Secret resourceVersion, so a
// rotated credential is picked up at once.
func (r *Registry) Config(ctx context.Context, cluster string, id Identity) (*rest.Config, error) {
	var c mgmtv1.Cluster
	if err := r.client.Get(ctx, types.NamespacedName{Name: cluster}, &c); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%w: %q", ErrNotFound, cluster)
		}
		return nil, fmt.Errorf("get cluster %s: %w", cluster, err)
	}
	var secret string
	switch src := c.Spec.Source; {
	case src.Kubeconfig != nil:
		secret = src.Kubeconfig.ProxyCredentials.Name
		if id == IdentityManager {
			secret = src.Kubeconfig.ManagementCredentials.Name
		}
	case src.Agent != nil:
		name, err := r.agentSecretRef(&c, id)
		if err != nil {
			return nil, err
		}
		secret = name
	case src.Driver != nil:
		ref := src.Driver.ProxyCredentials
		if id == IdentityManager {
			ref = src.Driver.ManagementCredentials
		}
		if ref == nil {
			return nil, fmt.Errorf("%w: %q: its driver has not finished creating it", ErrUnavailable, cluster)
		}
		secret = ref.Name
	default:
		return nil, fmt.Errorf("%w: %q has no credentials", ErrUnavailable, cluster)
	}
	var s corev1.Secret
	if err := r.client.Get(ctx, types.NamespacedName{Namespace: mgmtv1.SystemNamespace, Name: secret}, &s); err != nil {
		return nil, fmt.Errorf("%w: %q: credentials secret %s: %v", ErrUnavailable, cluster, secret, err)
	}
	key := cluster + "/" + string(id)
	r.mu.Lock()
	hit, ok := r.cache[key]
	r.mu.Unlock()
	if ok && hit.resourceVersion == s.ResourceVersion {
		return rest.CopyConfig(hit.config), nil
	}
	cfg, err := ParseKubeconfig(s.Data[mgmtv1.KubeconfigSecretKey], "")
	if err != nil {
		return nil, fmt.Errorf("%w: %q: stored %s credentials: %v", ErrUnavailable, cluster, id, err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	if c.Spec.Source.Agent != nil {
		r.dialThroughAgent(cluster, cfg)
	}
	r.mu.Lock()
	r.cache[key] = cached{resourceVersion: s.ResourceVersion, config: cfg}
	r.mu.Unlock()
	return rest.CopyConfig(cfg), nil
}

// ManagementConfig is the management identity's configuration.
func (r *Registry) ManagementConfig(ctx context.Context, cluster string) (*rest.Config, error) {
	return r.Config(ctx, cluster, IdentityManager)
}

// Remove deletes a cluster and its stored credentials from the management
// cluster. Objects bokujo created downstream stay; bokujo can no longer
// reach them.
func (r *Registry) Remove(ctx context.Context, name string) error {
	c := &mgmtv1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := r.client.Delete(ctx, c); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("%w: %q", ErrNotFound, name)
		}
		return fmt.Errorf("delete cluster %s: %w", name, err)
	}
	for _, id := range []Identity{IdentityProxy, IdentityManager} {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secretName(name, string(id)), Namespace: mgmtv1.SystemNamespace}}
		if err := r.client.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete %s credentials of %s: %w", id, name, err)
		}
	}
	// An agent cluster's credential and registration tokens go too, and
	// its tunnel is closed.
	if err := r.deleteRegistrations(ctx, name); err != nil {
		return fmt.Errorf("delete registration tokens of %s: %w", name, err)
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: agentSecretName(name), Namespace: mgmtv1.SystemNamespace}}
	if err := r.client.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete agent credential of %s: %w", name, err)
	}
	if d, ok := r.tunnels.(interface{ Disconnect(string) }); ok {
		d.Disconnect(name)
	}
	r.mu.Lock()
	delete(r.cache, name+"/"+string(IdentityProxy))
	delete(r.cache, name+"/"+string(IdentityManager))
	r.mu.Unlock()
	return nil
}
