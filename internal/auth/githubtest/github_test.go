package githubtest

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestShapes checks the answers a client that forgets a header gets: as
// GitHub, the token endpoint answers form-encoded without Accept:
// application/json, and the API wants a token.
func TestShapes(t *testing.T) {
	s := Start(t, Options{ClientID: "id", ClientSecret: "sec", User: User{ID: 7, Login: "x"}})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CAPEM)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	resp, err := c.PostForm(s.URL+"/login/oauth/access_token", url.Values{"client_id": {"id"}, "client_secret": {"sec"}, "code": {"nope"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/x-www-form-urlencoded") || !strings.Contains(string(body), "error=bad_verification_code") {
		t.Errorf("token endpoint without Accept: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}

	resp, err = c.Get(s.URL + "/api/v3/user")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "Requires authentication") {
		t.Errorf("user without a token: %d %s", resp.StatusCode, body)
	}

	req, _ := http.NewRequest("GET", s.URL+"/api/v3/user", nil)
	req.Header.Set("Authorization", "token "+s.IssueToken(User{ID: 7, Login: "x"}))
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"id":7`) || !strings.Contains(string(body), `"name":null`) {
		t.Errorf("user: %d %s", resp.StatusCode, body)
	}
}
