package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	clocktesting "k8s.io/utils/clock/testing"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/auth/oidctest"
)

const testClientID = "bokujo-test"

func startTestOP(t *testing.T) (*oidctest.OP, context.Context) {
	t.Helper()
	op := oidctest.Start(t, oidctest.Options{
		ClientID: testClientID, ClientSecret: "op-client-secret",
		User: oidctest.User{Subject: "sub-alice-1", Username: "alice", Name: "Alice", Groups: []string{"sre", "system:masters"}},
	})
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: op.CertPool()}}}
	return op, oidc.ClientContext(context.Background(), hc)
}

func testVerifier(t *testing.T, ctx context.Context, op *oidctest.OP, clientID string) *oidc.IDTokenVerifier {
	t.Helper()
	p, err := oidc.NewProvider(ctx, op.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	return p.VerifierContext(ctx, &oidc.Config{ClientID: clientID, SupportedSigningAlgs: oidcSigningAlgs})
}

// forgeToken builds a JWT with the claims a good token of op would have,
// signed as alg says. The provider never issues such tokens, so they are
// made here and given to verifyIDToken directly.
func forgeToken(t *testing.T, op *oidctest.OP, alg string, key any, nonce string) string {
	t.Helper()
	claims := map[string]any{
		"iss": op.Issuer, "sub": "sub-alice-1", "aud": testClientID, "nonce": nonce,
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(), "groups": []string{"sre"},
	}
	payload, _ := json.Marshal(claims)
	if alg == "none" {
		// An unsigned token: header {"alg":"none"}, empty signature.
		enc := base64.RawURLEncoding
		return enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc.EncodeToString(payload) + "."
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "test-key-1"))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyIDToken(t *testing.T) {
	op, ctx := startTestOP(t)
	spec := &v1alpha1.OIDCProviderSpec{IssuerURL: op.Issuer, ClientID: testClientID, GroupPrefix: "oidc:"}
	v := testVerifier(t, ctx, op, testClientID)

	t.Run("a token of the provider for this client and nonce", func(t *testing.T) {
		id, err := verifyIDToken(ctx, v, op.IDToken(t, "nonce-1"), "nonce-1", spec)
		if err != nil {
			t.Fatal(err)
		}
		// Prefixed, "system:masters" is no Kubernetes group any more.
		if id.Subject != "sub-alice-1" || id.Username != "alice" || id.DisplayName != "Alice" || !slices.Equal(id.Groups, []string{"oidc:sre", "oidc:system:masters"}) {
			t.Errorf("identity %+v", id)
		}
	})

	good := op.IDToken(t, "nonce-2")
	untrusted, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&op.Key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	otherIssuer := oidc.NewVerifier("https://issuer.invalid", oidc.NewRemoteKeySet(ctx, op.Issuer+"/keys"),
		&oidc.Config{ClientID: testClientID, SupportedSigningAlgs: oidcSigningAlgs})

	for _, tc := range []struct {
		name     string
		verifier *oidc.IDTokenVerifier
		token    func(t *testing.T) string
		nonce    string
		want     string
	}{
		{"wrong issuer", otherIssuer, func(*testing.T) string { return good }, "nonce-2", "wrong issuer"},
		{"wrong audience", testVerifier(t, ctx, op, "another-client"), func(*testing.T) string { return good }, "nonce-2", "wrong audience"},
		{"expired ID token", v, func(t *testing.T) string {
			// The provider itself issues it already expired.
			op.SetIDTokenLifetime(-time.Minute)
			defer op.SetIDTokenLifetime(5 * time.Minute)
			return op.IDToken(t, "nonce-3")
		}, "nonce-3", "expired"},
		{"replayed ID token: nonce of another login", v, func(*testing.T) string { return good }, "nonce-of-this-login", "nonce mismatch"},
		{"no nonce in this login", v, func(*testing.T) string { return good }, "", "nonce mismatch"},
		{"alg none", v, func(t *testing.T) string { return forgeToken(t, op, "none", nil, "nonce-2") }, "nonce-2", "bad signature or algorithm"},
		{"HS256 keyed with the provider's public key", v, func(t *testing.T) string { return forgeToken(t, op, "HS256", pubDER, "nonce-2") }, "nonce-2", "bad signature or algorithm"},
		{"signed by a key the provider does not publish", v, func(t *testing.T) string { return forgeToken(t, op, "RS256", untrusted, "nonce-2") }, "nonce-2", "bad signature or algorithm"},
		{"not a JWT", v, func(*testing.T) string { return "abc.def" }, "nonce-2", "malformed"},
		{"no token", v, func(*testing.T) string { return "" }, "nonce-2", "no id token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := tc.token(t)
			_, err := verifyIDToken(ctx, tc.verifier, tok, tc.nonce, spec)
			if !errors.Is(err, errIDToken) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if tok != "" && strings.Contains(err.Error(), tok) {
				t.Error("the error quotes the token")
			}
		})
	}

	t.Run("without a prefix, system groups are dropped", func(t *testing.T) {
		id, err := verifyIDToken(ctx, v, op.IDToken(t, "nonce-4"), "nonce-4", &v1alpha1.OIDCProviderSpec{ClientID: testClientID})
		if err != nil || !slices.Equal(id.Groups, []string{"sre"}) {
			t.Fatalf("groups %v, %v", id, err)
		}
	})

	t.Run("the provider's own key, right claims, is accepted", func(t *testing.T) {
		// The control of the forged cases: the same builder with the
		// trusted key passes, so their failures are the key or alg.
		if _, err := verifyIDToken(ctx, v, forgeToken(t, op, "RS256", op.Key, "nonce-2"), "nonce-2", spec); err != nil {
			t.Fatal(err)
		}
	})
}

func TestOIDCFlowCookie(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := clocktesting.NewFakeClock(now)
	s := &Service{csrfKey: []byte("0123456789abcdef0123456789abcdef"), clock: clk, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	flow := oidcFlow{Provider: "corp", State: "state-1", Nonce: "nonce-1", Verifier: "verifier-1", Expires: now.Add(oidcFlowTTL).Unix()}
	good := s.flowCookie(flow)
	if !good.HttpOnly || !good.Secure || good.SameSite != http.SameSiteLaxMode || good.Path != "/v1/auth/corp/callback" {
		t.Fatalf("cookie attributes %+v", good)
	}
	noVerifier := flow
	noVerifier.Verifier = ""
	tampered := *good
	tampered.Value = strings.Replace(good.Value, good.Value[:8], "eyJwIjoi", 1) + "x"

	for _, tc := range []struct {
		name, provider, state string
		cookie                *http.Cookie
		advance               time.Duration
		want                  string
	}{
		{"state and cookie match", "corp", "state-1", good, 0, ""},
		{"missing state", "corp", "", good, 0, "no state"},
		{"forged state", "corp", "state-2", good, 0, "state mismatch"},
		{"missing PKCE verifier: no flow cookie", "corp", "state-1", nil, 0, "no flow cookie"},
		{"missing PKCE verifier in a valid cookie", "corp", "state-1", s.flowCookie(noVerifier), 0, "no verifier"},
		{"cookie changed by the browser", "corp", "state-1", &tampered, 0, "bad flow cookie"},
		{"cookie of another key", "corp", "state-1", (&Service{csrfKey: []byte("another key"), clock: clk}).flowCookie(flow), 0, "bad flow cookie"},
		{"started with another provider", "other", "state-1", good, 0, "another provider"},
		{"expired", "corp", "state-1", good, oidcFlowTTL + time.Second, "expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk.SetTime(now.Add(tc.advance))
			r := httptest.NewRequest(http.MethodGet, "/v1/auth/"+tc.provider+"/callback?code=c&state="+tc.state, nil)
			if tc.cookie != nil {
				r.AddCookie(&http.Cookie{Name: tc.cookie.Name, Value: tc.cookie.Value})
			}
			got, err := s.readFlow(r, tc.provider)
			if tc.want == "" {
				if err != nil || got.Verifier != "verifier-1" || got.Nonce != "nonce-1" {
					t.Fatalf("readFlow = %+v, %v", got, err)
				}
				return
			}
			if !errors.Is(err, errOIDCFlow) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestOIDCClientCache(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var cs oidcClients
	c := &oidcClient{}
	if cs.get("corp", "v1", now) != nil {
		t.Fatal("empty cache returned a client")
	}
	cs.put("corp", oidcClientEntry{version: "v1", client: c, expires: now.Add(oidcDiscoveryTTL)})
	for _, tc := range []struct {
		name, provider, version string
		at                      time.Time
		want                    *oidcClient
	}{
		{"same provider and version", "corp", "v1", now, c},
		{"provider or secret changed", "corp", "v2", now, nil},
		{"another provider", "other", "v1", now, nil},
		{"discovery too old", "corp", "v1", now.Add(oidcDiscoveryTTL), nil},
	} {
		if got := cs.get(tc.provider, tc.version, tc.at); got != tc.want {
			t.Errorf("%s: got %p, want %p", tc.name, got, tc.want)
		}
	}
}
