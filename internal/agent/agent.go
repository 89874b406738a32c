// Package agent is `bokujo agent`: it runs inside a downstream cluster (or,
// for `bokujo up`, beside it), registers the cluster with the bokujo server
// once by a one-time token, and then keeps a tunnel to the server open
// through which the server reaches this cluster's API server and nothing
// else. The server never needs a network path into the cluster.
package agent

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
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"k8s.io/client-go/rest"

	"bokujo.io/bokujo/internal/clusters"
	"bokujo.io/bokujo/internal/tunnel"
)

// Paths and headers of the server's agent endpoints.
const (
	RegisterPath  = "/v1/agent/register"
	ConnectPath   = "/v1/connect"
	ClusterHeader = "X-Bokujo-Cluster"
)

// RegisterRequest is the body of POST /v1/agent/register; the registration
// token is the bearer credential.
type RegisterRequest struct {
	ProxyKubeconfig   string `json:"proxyKubeconfig"`
	ManagerKubeconfig string `json:"managerKubeconfig"`
}

// RegisterResponse carries the agent's long-lived credential.
type RegisterResponse struct {
	Cluster    string `json:"cluster"`
	Credential string `json:"credential"`
}

// Options configure an agent.
type Options struct {
	// Server is the bokujo server's https URL.
	Server string
	// CAData (PEM) trusts the server; empty uses the system's roots.
	CAData []byte
	// Token is the one-time registration token; needed only until the
	// agent holds a credential in State.
	Token string
	// Local is the configuration of this cluster's API server with the
	// agent's own rights (in-cluster, or an admin kubeconfig).
	Local *rest.Config
	// State keeps the credential across restarts.
	State Store
	// OnConnect is called after each successful connection.
	OnConnect func()
	// MinBackoff and MaxBackoff bound the reconnect back-off (1 s, 30 s).
	MinBackoff, MaxBackoff time.Duration
	Logger                 *slog.Logger
}

// Run registers the cluster when the agent has no credential yet, then
// keeps the tunnel open until ctx ends.
func Run(ctx context.Context, opts Options) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base, err := url.Parse(opts.Server)
	if err != nil || base.Scheme != "https" || base.Host == "" {
		return fmt.Errorf("invalid --server %q: want https://host[:port]", opts.Server)
	}
	if opts.Local == nil || opts.State == nil {
		return errors.New("agent: no local cluster configuration or state store")
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(opts.CAData) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(opts.CAData) {
			return errors.New("the server CA (--ca-file/--ca-data) holds no PEM certificate")
		}
		tlsConfig.RootCAs = pool
	}
	apiserver, err := hostPort(opts.Local.Host)
	if err != nil {
		return err
	}
	state, err := opts.State.Load(ctx)
	if err != nil {
		return err
	}
	if state.Credential == "" {
		if opts.Token == "" {
			return errors.New("the agent is not registered yet and has no registration token (--token): get one with `bokujo clusters add-agent NAME`")
		}
		state, err = register(ctx, base, tlsConfig, opts, log)
		if err != nil {
			return err
		}
		if err := opts.State.Save(ctx, state); err != nil {
			return fmt.Errorf("save the agent credential (the registration token is now used; issue a new one): %w", err)
		}
		log.Info("registered with the bokujo server", "cluster", state.Cluster)
	}
	connect := *base
	connect.Scheme = "wss"
	connect.Path = strings.TrimSuffix(base.Path, "/") + ConnectPath
	return tunnel.Run(ctx, tunnel.ClientOptions{
		URL: connect.String(), TLS: tlsConfig,
		Header: func(context.Context) (http.Header, error) {
			h := http.Header{}
			h.Set("Authorization", "Bearer "+state.Credential)
			h.Set(ClusterHeader, state.Cluster)
			return h, nil
		},
		// The server may reach this cluster's API server, and nothing else.
		Allow:      func(network, address string) bool { return network == "tcp" && address == apiserver },
		OnConnect:  opts.OnConnect,
		MinBackoff: opts.MinBackoff, MaxBackoff: opts.MaxBackoff,
		Logger: log,
	})
}

// register creates bokujo's two identities in this cluster and exchanges
// the registration token for the agent's credential. Network failures are
// retried; a refusal (token used, expired, unknown) is final.
func register(ctx context.Context, base *url.URL, tlsConfig *tls.Config, opts Options, log *slog.Logger) (State, error) {
	log.Info("creating bokujo's service accounts in this cluster", "apiserver", opts.Local.Host)
	creds, err := clusters.Provision(ctx, opts.Local)
	if err != nil {
		return State{}, err
	}
	body, _ := json.Marshal(RegisterRequest{ProxyKubeconfig: string(creds.Proxy), ManagerKubeconfig: string(creds.Manager)})
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig, Proxy: http.ProxyFromEnvironment}}
	wait := time.Second
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(base.String(), "/")+RegisterPath, bytes.NewReader(body))
		if err != nil {
			return State{}, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+opts.Token)
		resp, err := hc.Do(req)
		if err == nil {
			data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusOK:
				var out RegisterResponse
				if err := json.Unmarshal(data, &out); err != nil || out.Credential == "" || out.Cluster == "" {
					return State{}, fmt.Errorf("register: unexpected answer from the server: %.200s", data)
				}
				return State{Cluster: out.Cluster, Credential: out.Credential}, nil
			case resp.StatusCode < 500:
				return State{}, fmt.Errorf("register: the server refused the registration (HTTP %d): %s", resp.StatusCode, errorMessage(data))
			}
			err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, errorMessage(data))
		}
		log.Warn("registration failed; retrying", "err", err, "retryIn", wait.String())
		select {
		case <-ctx.Done():
			return State{}, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 30*time.Second)
	}
}

func errorMessage(data []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
		return e.Error.Message
	}
	return strings.TrimSpace(string(data))
}

// hostPort is the address the agent lets the server dial: its API server's.
func hostPort(host string) (string, error) {
	u, err := url.Parse(host)
	if err != nil || u.Host == "" {
		u, err = url.Parse("https://" + host)
	}
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("invalid API server address %q", host)
	}
	if u.Port() != "" {
		return u.Host, nil
	}
	port := "443"
	if u.Scheme == "http" {
		port = "80"
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}
