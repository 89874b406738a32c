package clusters

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func kubeconfig(t *testing.T, mutate func(*clientcmdapi.Cluster, *clientcmdapi.AuthInfo)) []byte {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	c := &clientcmdapi.Cluster{Server: "https://10.1.2.3:6443", CertificateAuthorityData: []byte("ca")}
	u := &clientcmdapi.AuthInfo{Token: "t0ken"}
	mutate(c, u)
	cfg.Clusters["c"], cfg.AuthInfos["u"] = c, u
	cfg.Contexts["ctx"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	cfg.CurrentContext = "ctx"
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseKubeconfigRefusesUnsafeSettings(t *testing.T) {
	cases := []struct {
		name    string
		mutate  func(*clientcmdapi.Cluster, *clientcmdapi.AuthInfo)
		wantErr error
		wantMsg string
	}{
		{"valid token", func(*clientcmdapi.Cluster, *clientcmdapi.AuthInfo) {}, nil, ""},
		{"valid client certificate", func(_ *clientcmdapi.Cluster, u *clientcmdapi.AuthInfo) {
			u.Token, u.ClientCertificateData, u.ClientKeyData = "", []byte("cert"), []byte("key")
		}, nil, ""},
		{"insecure skip verify", func(c *clientcmdapi.Cluster, _ *clientcmdapi.AuthInfo) {
			c.InsecureSkipTLSVerify = true
			c.CertificateAuthorityData = nil
		},
			ErrInsecureKubeconfig, "insecure-skip-tls-verify"},
		{"ca file on the server", func(c *clientcmdapi.Cluster, _ *clientcmdapi.AuthInfo) {
			c.CertificateAuthority = "/etc/kubernetes/pki/ca.crt"
		},
			ErrInsecureKubeconfig, "certificate-authority refers to a file"},
		{"plain http", func(c *clientcmdapi.Cluster, _ *clientcmdapi.AuthInfo) { c.Server = "http://10.1.2.3:8080" },
			ErrInsecureKubeconfig, "must use https"},
		{"proxy url", func(c *clientcmdapi.Cluster, _ *clientcmdapi.AuthInfo) { c.ProxyURL = "http://10.0.0.1:3128" },
			ErrInsecureKubeconfig, "proxy-url"},
		{"exec plugin", func(_ *clientcmdapi.Cluster, u *clientcmdapi.AuthInfo) {
			u.Exec = &clientcmdapi.ExecConfig{Command: "aws", Args: []string{"eks", "get-token"}, APIVersion: "client.authentication.k8s.io/v1"}
		}, ErrInsecureKubeconfig, "bokujo cluster import"},
		{"auth provider", func(_ *clientcmdapi.Cluster, u *clientcmdapi.AuthInfo) {
			u.AuthProvider = &clientcmdapi.AuthProviderConfig{Name: "oidc"}
		},
			ErrInsecureKubeconfig, "auth-provider"},
		{"token file", func(_ *clientcmdapi.Cluster, u *clientcmdapi.AuthInfo) {
			u.Token, u.TokenFile = "", "/var/run/secrets/token"
		},
			ErrInsecureKubeconfig, "files on the server"},
		{"client cert file", func(_ *clientcmdapi.Cluster, u *clientcmdapi.AuthInfo) { u.ClientCertificate = "/root/.kube/cert" },
			ErrInsecureKubeconfig, "files on the server"},
		{"basic auth", func(_ *clientcmdapi.Cluster, u *clientcmdapi.AuthInfo) { u.Username, u.Password = "admin", "admin" },
			ErrInsecureKubeconfig, "basic authentication"},
		{"impersonation", func(_ *clientcmdapi.Cluster, u *clientcmdapi.AuthInfo) { u.Impersonate = "system:admin" },
			ErrInsecureKubeconfig, "impersonation"},
		{"no credentials", func(_ *clientcmdapi.Cluster, u *clientcmdapi.AuthInfo) { u.Token = "" },
			ErrBadKubeconfig, "no credentials"},
		{"no server", func(c *clientcmdapi.Cluster, _ *clientcmdapi.AuthInfo) { c.Server = "" },
			ErrBadKubeconfig, "no server"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseKubeconfig(kubeconfig(t, tc.mutate), "")
			if tc.wantErr == nil {
				if err != nil || cfg == nil {
					t.Fatalf("want success, got %v", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("got %v, want %v mentioning %q", err, tc.wantErr, tc.wantMsg)
			}
			if strings.Contains(err.Error(), "t0ken") {
				t.Fatalf("error leaks the token: %v", err)
			}
		})
	}
	if _, err := ParseKubeconfig([]byte("{{{not yaml"), ""); !errors.Is(err, ErrBadKubeconfig) {
		t.Errorf("garbage: got %v", err)
	}
	if _, err := ParseKubeconfig(kubeconfig(t, func(*clientcmdapi.Cluster, *clientcmdapi.AuthInfo) {}), "missing"); !errors.Is(err, ErrBadKubeconfig) {
		t.Errorf("missing context: got %v", err)
	}
}

func TestCheckServerRefusesSSRFTargets(t *testing.T) {
	resolve := func(_ context.Context, host string) ([]net.IP, error) {
		switch host {
		case "metadata.internal":
			return []net.IP{net.ParseIP("169.254.169.254")}, nil
		case "sneaky.example":
			return []net.IP{net.ParseIP("10.0.0.5"), net.ParseIP("127.0.0.1")}, nil
		case "prod.example":
			return []net.IP{net.ParseIP("10.0.0.5")}, nil
		}
		return nil, errors.New("no such host")
	}
	strict := Policy{ServerAddrs: []string{"10.9.9.9:8443"}, Resolve: resolve}
	local := Policy{AllowLoopback: true, ServerAddrs: []string{"127.0.0.1:8443"}, Resolve: resolve}
	cases := []struct {
		name   string
		policy Policy
		server string
		want   string // "" means allowed
	}{
		{"public cluster", strict, "https://prod.example:6443", ""},
		{"metadata ip", strict, "https://169.254.169.254", "link-local"},
		{"metadata by name", strict, "https://metadata.internal", "link-local"},
		{"ipv6 link-local", strict, "https://[fe80::1]:6443", "link-local"},
		{"loopback refused", strict, "https://127.0.0.1:6443", "loopback"},
		{"name resolving to loopback refused", strict, "https://sneaky.example:6443", "loopback"},
		{"unspecified", strict, "https://0.0.0.0:6443", "not a host"},
		{"the server itself", strict, "https://10.9.9.9:8443", "bokujo server itself"},
		{"loopback allowed for local clusters", local, "https://127.0.0.1:6443", ""},
		{"the local server itself", local, "https://localhost:8443", "bokujo server itself"},
		{"unresolvable", strict, "https://nowhere.invalid", "cannot resolve"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.policy.CheckServer(context.Background(), tc.server)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("want allowed, got %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want error mentioning %q", err, tc.want)
			}
		})
	}
}

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"dev", "prod-1", "a"} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Dev", "a/b", "..", "a.b", strings.Repeat("x", 41), "-x"} {
		if err := ValidateName(bad); !errors.Is(err, ErrInvalidName) {
			t.Errorf("%q: got %v, want ErrInvalidName", bad, err)
		}
	}
}
