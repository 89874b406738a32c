package clusters

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/access"
	"bokujo.io/bokujo/internal/proxy"
)

// Resolver serves the proxy: a cluster id and a user become the cluster's
// proxy target, or proxy.ErrClusterNotFound when the cluster does not exist
// or the user was not granted it (the proxy answers both alike).
type Resolver struct {
	Registry *Registry
	Grants   access.Grants

	mu      sync.Mutex
	targets map[string]cachedTarget
}

type cachedTarget struct {
	secretVersion string
	target        *proxy.Target
}

var _ proxy.Resolver = (*Resolver)(nil)

// Resolve implements proxy.Resolver.
func (r *Resolver) Resolve(ctx context.Context, cluster string, user *proxy.User) (*proxy.Target, error) {
	if ValidateName(cluster) != nil {
		return nil, proxy.ErrClusterNotFound
	}
	ok, err := r.Grants.ClusterVisible(ctx, access.Subject{Name: user.Name, Groups: user.Groups}, cluster)
	if err != nil {
		return nil, fmt.Errorf("resolve cluster %s: %w", cluster, err)
	}
	if !ok {
		return nil, proxy.ErrClusterNotFound
	}
	return r.target(ctx, cluster)
}

// target returns the cached Target of a cluster, rebuilt when its proxy
// credentials change. Transports are kept per cluster so connections to the
// apiserver are reused across requests.
func (r *Resolver) target(ctx context.Context, cluster string) (*proxy.Target, error) {
	var c mgmtv1.Cluster
	// Read-only use of cached objects: no copies on the request path.
	if err := r.Registry.client.Get(ctx, types.NamespacedName{Name: cluster}, &c, client.UnsafeDisableDeepCopy); err != nil {
		return nil, proxy.ErrClusterNotFound
	}
	var secret string
	switch src := c.Spec.Source; {
	case src.Kubeconfig != nil:
		secret = src.Kubeconfig.ProxyCredentials.Name
	case src.Agent != nil && src.Agent.ProxyCredentials != nil:
		// The cached target dials through whichever tunnel is open at the
		// time, so only the "no tunnel now" case is answered here.
		if !r.Registry.AgentConnected(cluster) {
			return nil, fmt.Errorf("%w: the agent of cluster %s is not connected", proxy.ErrClusterUnavailable, cluster)
		}
		secret = src.Agent.ProxyCredentials.Name
	case src.Driver != nil && src.Driver.ProxyCredentials != nil:
		secret = src.Driver.ProxyCredentials.Name
	default:
		return nil, fmt.Errorf("%w: cluster %s has no proxy credentials", proxy.ErrClusterUnavailable, cluster)
	}
	var s corev1.Secret
	key := types.NamespacedName{Namespace: mgmtv1.SystemNamespace, Name: secret}
	if err := r.Registry.client.Get(ctx, key, &s, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("%w: cluster %s: %v", proxy.ErrClusterUnavailable, cluster, err)
	}
	r.mu.Lock()
	hit, ok := r.targets[cluster]
	r.mu.Unlock()
	if ok && hit.secretVersion == s.ResourceVersion {
		return hit.target, nil
	}
	cfg, err := r.Registry.Config(ctx, cluster, IdentityProxy)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, proxy.ErrClusterNotFound
		}
		return nil, fmt.Errorf("%w: %v", proxy.ErrClusterUnavailable, err)
	}
	t, err := proxy.NewTarget(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: cluster %s: %v", proxy.ErrClusterUnavailable, cluster, err)
	}
	r.mu.Lock()
	if r.targets == nil {
		r.targets = map[string]cachedTarget{}
	}
	r.targets[cluster] = cachedTarget{secretVersion: s.ResourceVersion, target: t}
	r.mu.Unlock()
	return t, nil
}
