// Package helm installs, upgrades, rolls back and uninstalls Helm charts
// with the Helm v4 SDK (not the helm binary), in one namespace of one
// cluster, with the identity of the rest.Config it is given: for people a
// configuration impersonating them (proxy.Impersonating), so the cluster's
// RBAC decides what they may install.
//
// Helm's known pitfalls are handled here: the wait strategy is always set
// (resources watched until ready, bounded by Timeout), the release history
// is bounded (MaxHistory), and a release left pending-install,
// pending-upgrade or pending-rollback by a crashed client is marked failed
// before the next upgrade or rollback instead of blocking them forever.
package helm

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"time"

	"helm.sh/helm/v4/pkg/action"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/getter"
	"helm.sh/helm/v4/pkg/kube"
	releasecommon "helm.sh/helm/v4/pkg/release/common"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	repo "helm.sh/helm/v4/pkg/repo/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Defaults.
const (
	DefaultTimeout    = 5 * time.Minute
	DefaultMaxHistory = 10
	maxChartBytes     = 10 << 20
)

// Client runs Helm actions in one namespace.
type Client struct {
	cfg       *action.Configuration
	namespace string
	http      *http.Client
	// Timeout bounds the wait for resources to become ready.
	Timeout time.Duration
	// MaxHistory bounds the revisions kept per release.
	MaxHistory int
}

// New returns a Client acting with restCfg's identity in namespace.
// httpClient fetches charts from repositories (nil: a 30 s timeout).
func New(restCfg *rest.Config, namespace string, httpClient *http.Client) (*Client, error) {
	cfg := action.NewConfiguration()
	if err := cfg.Init(&restGetter{cfg: restCfg, namespace: namespace}, namespace, "secret"); err != nil {
		return nil, fmt.Errorf("helm: %w", err)
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{cfg: cfg, namespace: namespace, http: httpClient, Timeout: DefaultTimeout, MaxHistory: DefaultMaxHistory}, nil
}

// LoadFromRepo fetches chart name (at version, or the newest) from an HTTP
// chart repository's index.yaml and loads it.
func (c *Client) LoadFromRepo(repoURL, name, version string) (*chartv2.Chart, error) {
	providers := getter.Providers{{Schemes: []string{"http", "https"}, New: getter.NewHTTPGetter}}
	url, err := repo.FindChartInRepoURL(repoURL, name, providers, repo.WithChartVersion(version))
	if err != nil {
		return nil, fmt.Errorf("find chart %s %s in %s: %w", name, version, repoURL, err)
	}
	resp, err := c.http.Get(url)
	if err != nil {
		return nil, fmt.Errorf("download chart: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("download chart %s: %s", url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxChartBytes+1))
	if err != nil {
		return nil, fmt.Errorf("download chart: %w", err)
	}
	if len(data) > maxChartBytes {
		return nil, fmt.Errorf("chart %s is larger than %d bytes", url, maxChartBytes)
	}
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", url, err)
	}
	return ch, nil
}

// Install installs a chart as release name.
func (c *Client) Install(name string, ch *chartv2.Chart, values map[string]any) (*releasev1.Release, error) {
	in := action.NewInstall(c.cfg)
	in.ReleaseName = name
	in.Namespace = c.namespace
	in.WaitStrategy = kube.StatusWatcherStrategy
	in.Timeout = c.Timeout
	in.RollbackOnFailure = true
	r, err := in.Run(ch, values)
	if err != nil {
		return nil, err
	}
	return asRelease(r)
}

// Upgrade upgrades release name to ch with values (replacing, not merging,
// the previous values).
func (c *Client) Upgrade(name string, ch *chartv2.Chart, values map[string]any) (*releasev1.Release, error) {
	if err := c.recoverPending(name); err != nil {
		return nil, err
	}
	up := action.NewUpgrade(c.cfg)
	up.Namespace = c.namespace
	up.WaitStrategy = kube.StatusWatcherStrategy
	up.Timeout = c.Timeout
	up.MaxHistory = c.MaxHistory
	up.RollbackOnFailure = true
	r, err := up.Run(name, ch, values)
	if err != nil {
		return nil, err
	}
	return asRelease(r)
}

// Rollback returns release name to revision (0: the previous one).
func (c *Client) Rollback(name string, revision int) error {
	if err := c.recoverPending(name); err != nil {
		return err
	}
	rb := action.NewRollback(c.cfg)
	rb.Version = revision
	rb.WaitStrategy = kube.StatusWatcherStrategy
	rb.Timeout = c.Timeout
	rb.MaxHistory = c.MaxHistory
	return rb.Run(name)
}

// Uninstall removes release name and its history.
func (c *Client) Uninstall(name string) error {
	un := action.NewUninstall(c.cfg)
	un.WaitStrategy = kube.StatusWatcherStrategy
	un.Timeout = c.Timeout
	_, err := un.Run(name)
	return err
}

// History lists the revisions of release name, oldest first.
func (c *Client) History(name string) ([]*releasev1.Release, error) {
	h := action.NewHistory(c.cfg)
	h.Max = 256
	list, err := h.Run(name)
	if err != nil {
		return nil, err
	}
	out := make([]*releasev1.Release, 0, len(list))
	for _, r := range list {
		rel, err := asRelease(r)
		if err != nil {
			return nil, err
		}
		out = append(out, rel)
	}
	return out, nil
}

// recoverPending marks the newest revision failed when a crashed client
// left it pending, so that it no longer blocks upgrades and rollbacks
// ("another operation is in progress"). A pending revision younger than
// the timeout may still be running and is left alone.
func (c *Client) recoverPending(name string) error {
	last, err := c.cfg.Releases.Last(name)
	if err != nil {
		// No release yet (or unreadable): the action itself reports it.
		return nil
	}
	rel, err := asRelease(last)
	if err != nil || rel == nil || rel.Info == nil || !rel.Info.Status.IsPending() {
		return err
	}
	if time.Since(rel.Info.LastDeployed) < c.Timeout {
		return fmt.Errorf("release %s is %s since %s; wait for it to finish", name, rel.Info.Status, rel.Info.LastDeployed.Format(time.RFC3339))
	}
	rel.Info.Status = releasecommon.StatusFailed
	rel.Info.Description = "marked failed by bokujo: left " + "pending by a client that stopped"
	return c.cfg.Releases.Update(rel)
}

func asRelease(r any) (*releasev1.Release, error) {
	switch x := r.(type) {
	case *releasev1.Release:
		return x, nil
	case releasev1.Release:
		return &x, nil
	default:
		return nil, fmt.Errorf("unexpected Helm release type %T", r)
	}
}

// restGetter gives Helm's kube client a fixed rest.Config and namespace.
type restGetter struct {
	cfg       *rest.Config
	namespace string
}

func (g *restGetter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.cfg), nil }

func (g *restGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(rest.CopyConfig(g.cfg))
	if err != nil {
		return nil, err
	}
	return memory.NewMemCacheClient(dc), nil
}

func (g *restGetter) ToRESTMapper() (meta.RESTMapper, error) {
	dc, err := g.ToDiscoveryClient()
	if err != nil {
		return nil, err
	}
	return restmapper.NewDeferredDiscoveryRESTMapper(dc), nil
}

func (g *restGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: g.cfg.Host}
	cfg.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", Namespace: g.namespace}
	cfg.CurrentContext = "c"
	return clientcmd.NewDefaultClientConfig(*cfg, &clientcmd.ConfigOverrides{})
}
