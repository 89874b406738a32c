package cli

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// clientConfig is what `bokujo login` stores: the server, its CA and an API
// token. The file is private to the user (0600).
type clientConfig struct {
	Server string `json:"server"`
	CAData string `json:"caData,omitempty"`
	Token  string `json:"token"`
	User   string `json:"user,omitempty"`
}

func configPath() string {
	if p := os.Getenv("BOKUJO_CONFIG"); p != "" {
		return p
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = filepath.Join(os.TempDir(), "bokujo-config")
	}
	return filepath.Join(dir, "bokujo", "config.json")
}

func loadClientConfig() (*clientConfig, error) {
	data, err := os.ReadFile(configPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, errors.New("not logged in: run `bokujo login https://SERVER`")
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", configPath(), err)
	}
	var c clientConfig
	if err := json.Unmarshal(data, &c); err != nil || c.Server == "" || c.Token == "" {
		return nil, fmt.Errorf("%s is damaged: run `bokujo login` again", configPath())
	}
	return &c, nil
}

func (c *clientConfig) save() error {
	path := configPath()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	data, _ := json.MarshalIndent(c, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// apiClient talks to the bokujo server's /v1 API.
type apiClient struct {
	base   string
	token  string
	http   *http.Client
	cookie []*http.Cookie
	csrf   string
}

func newAPIClient(server string, caPEM []byte, token string) (*apiClient, error) {
	server = strings.TrimRight(server, "/")
	if !strings.HasPrefix(server, "https://") {
		return nil, fmt.Errorf("server %q must be an https:// URL", server)
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(caPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, errors.New("the CA file holds no PEM certificate")
		}
		tlsCfg.RootCAs = pool
	}
	return &apiClient{base: server, token: token, http: &http.Client{Timeout: 60 * time.Second,
		Transport: &http.Transport{TLSClientConfig: tlsCfg, Proxy: http.ProxyFromEnvironment}}}, nil
}

func (c *clientConfig) api() (*apiClient, error) {
	return newAPIClient(c.Server, []byte(c.CAData), c.Token)
}

// do sends a JSON request and decodes a JSON answer into out (when not
// nil); error answers become errors carrying the server's message.
func (a *apiClient) do(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, a.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	for _, ck := range a.cookie {
		req.AddCookie(ck)
	}
	if a.csrf != "" {
		req.Header.Set("X-CSRF-Token", a.csrf)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		var certErr *tls.CertificateVerificationError
		if errors.As(err, &certErr) {
			return fmt.Errorf("%s %s: the server's certificate is not trusted: pass --ca-file with bokujo's CA (printed by `bokujo up`)", method, path)
		}
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
			return fmt.Errorf("%s (%d %s)", e.Error.Message, resp.StatusCode, e.Error.Code)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	a.cookie = append(a.cookie, resp.Cookies()...)
	if raw, ok := out.(*[]byte); ok {
		*raw = data
		return nil
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}
