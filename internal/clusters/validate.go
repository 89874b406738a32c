package clusters

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ErrInsecureKubeconfig and ErrBadKubeconfig classify refused kubeconfigs;
// the message says which part was refused and why.
var (
	ErrInsecureKubeconfig = errors.New("insecure kubeconfig")
	ErrBadKubeconfig      = errors.New("bad kubeconfig")
)

// Policy says which cluster addresses the server may be pointed at.
type Policy struct {
	// AllowLoopback permits 127.0.0.0/8 and ::1, which only makes sense
	// when the clusters run on the server's own machine (`bokujo up`).
	AllowLoopback bool
	// ServerAddrs are the bokujo server's own host:port addresses; a
	// kubeconfig pointing at them is refused (the server must never proxy
	// to itself).
	ServerAddrs []string
	// Resolve looks up host names; nil uses the system resolver.
	Resolve func(ctx context.Context, host string) ([]net.IP, error)
}

// ParseKubeconfig loads a kubeconfig uploaded to the server and returns the
// client configuration of its context (current context when empty). It
// refuses what a server must never do on a client's behalf: read local
// files, run exec or auth-provider plugins, skip TLS verification, use basic
// auth or a proxy, or talk plain HTTP.
func ParseKubeconfig(data []byte, contextName string) (*rest.Config, error) {
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot parse: %v", ErrBadKubeconfig, err)
	}
	if contextName == "" {
		contextName = cfg.CurrentContext
	}
	ctx, ok := cfg.Contexts[contextName]
	if !ok || ctx == nil {
		return nil, fmt.Errorf("%w: context %q not found", ErrBadKubeconfig, contextName)
	}
	cluster, ok := cfg.Clusters[ctx.Cluster]
	if !ok || cluster == nil {
		return nil, fmt.Errorf("%w: cluster %q of context %q not found", ErrBadKubeconfig, ctx.Cluster, contextName)
	}
	user, ok := cfg.AuthInfos[ctx.AuthInfo]
	if !ok || user == nil {
		return nil, fmt.Errorf("%w: user %q of context %q not found", ErrBadKubeconfig, ctx.AuthInfo, contextName)
	}
	if err := checkCluster(cluster); err != nil {
		return nil, err
	}
	if err := checkAuthInfo(user); err != nil {
		return nil, err
	}
	minimal := clientcmdapi.NewConfig()
	minimal.Clusters["c"] = cluster
	minimal.AuthInfos["u"] = user
	minimal.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u", Namespace: ctx.Namespace}
	minimal.CurrentContext = "c"
	rc, err := clientcmd.NewDefaultClientConfig(*minimal, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKubeconfig, err)
	}
	return rc, nil
}

func checkCluster(c *clientcmdapi.Cluster) error {
	switch {
	case c.InsecureSkipTLSVerify:
		return fmt.Errorf("%w: insecure-skip-tls-verify is not allowed: give the cluster's CA in certificate-authority-data", ErrInsecureKubeconfig)
	case c.CertificateAuthority != "":
		return fmt.Errorf("%w: certificate-authority refers to a file on the server: embed it as certificate-authority-data", ErrInsecureKubeconfig)
	case c.ProxyURL != "":
		return fmt.Errorf("%w: proxy-url is not allowed", ErrInsecureKubeconfig)
	case c.Server == "":
		return fmt.Errorf("%w: the cluster has no server address", ErrBadKubeconfig)
	}
	u, err := url.Parse(c.Server)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%w: server %q is not a URL", ErrBadKubeconfig, c.Server)
	}
	if u.Scheme != "https" {
		return fmt.Errorf("%w: server %q must use https", ErrInsecureKubeconfig, c.Server)
	}
	return nil
}

func checkAuthInfo(a *clientcmdapi.AuthInfo) error {
	switch {
	case a.Exec != nil:
		return fmt.Errorf("%w: exec credential plugins do not run on the server: import with `bokujo cluster import`, which runs the plugin on your machine", ErrInsecureKubeconfig)
	case a.AuthProvider != nil:
		return fmt.Errorf("%w: auth-provider plugins are not allowed", ErrInsecureKubeconfig)
	case a.ClientCertificate != "" || a.ClientKey != "" || a.TokenFile != "":
		return fmt.Errorf("%w: client-certificate, client-key and tokenFile refer to files on the server: embed the data instead", ErrInsecureKubeconfig)
	case a.Username != "" || a.Password != "":
		return fmt.Errorf("%w: basic authentication is not allowed", ErrInsecureKubeconfig)
	case a.Impersonate != "" || len(a.ImpersonateGroups) > 0 || a.ImpersonateUID != "" || len(a.ImpersonateUserExtra) > 0:
		return fmt.Errorf("%w: impersonation settings are not allowed", ErrInsecureKubeconfig)
	case a.Token == "" && len(a.ClientCertificateData) == 0:
		return fmt.Errorf("%w: the user has no credentials (token or client-certificate-data)", ErrBadKubeconfig)
	}
	return nil
}

// CheckServer refuses cluster addresses that would let a kubeconfig reach
// what it must not (SSRF): link-local and cloud metadata addresses,
// unspecified and multicast addresses, loopback unless allowed, and the
// bokujo server itself. Every address a host name resolves to is checked.
func (p Policy) CheckServer(ctx context.Context, server string) error {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%w: server %q is not a URL", ErrBadKubeconfig, server)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "443"
	}
	for _, own := range p.ServerAddrs {
		oh, op, err := net.SplitHostPort(own)
		if err == nil && op == port && (oh == host || sameHost(oh, host)) {
			return fmt.Errorf("%w: server %s is this bokujo server itself", ErrInsecureKubeconfig, server)
		}
	}
	var ips []net.IP
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IP{ip}
	} else {
		resolve := p.Resolve
		if resolve == nil {
			resolve = func(ctx context.Context, h string) ([]net.IP, error) {
				return net.DefaultResolver.LookupIP(ctx, "ip", h)
			}
		}
		ips, err = resolve(ctx, host)
		if err != nil {
			return fmt.Errorf("%w: cannot resolve %s: %v", ErrBadKubeconfig, host, err)
		}
	}
	for _, ip := range ips {
		switch {
		case ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast():
			return fmt.Errorf("%w: server %s resolves to link-local address %s (cloud metadata endpoints live there)", ErrInsecureKubeconfig, server, ip)
		case ip.IsUnspecified() || ip.IsMulticast():
			return fmt.Errorf("%w: server %s resolves to %s, which is not a host", ErrInsecureKubeconfig, server, ip)
		case ip.IsLoopback() && !p.AllowLoopback:
			return fmt.Errorf("%w: server %s resolves to loopback address %s on the bokujo server's machine", ErrInsecureKubeconfig, server, ip)
		}
	}
	return nil
}

// sameHost reports whether a kubeconfig host names the machine a server
// address listens on. A wildcard listen address covers loopback and every
// address of this machine's interfaces.
func sameHost(listenHost, host string) bool {
	isLoopback := func(h string) bool {
		ip := net.ParseIP(h)
		return strings.EqualFold(h, "localhost") || (ip != nil && ip.IsLoopback())
	}
	if strings.EqualFold(listenHost, host) || (isLoopback(listenHost) && isLoopback(host)) {
		return true
	}
	lip := net.ParseIP(listenHost)
	if listenHost != "" && (lip == nil || !lip.IsUnspecified()) {
		return false
	}
	if isLoopback(host) {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	hip := net.ParseIP(host)
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && hip != nil && n.IP.Equal(hip) {
			return true
		}
	}
	return false
}
