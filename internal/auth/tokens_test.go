package auth_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/auth"
	"bokujo.io/bokujo/internal/proxy"
	"bokujo.io/bokujo/test/framework"
)

// revocationDeadline is how soon a revoked or disabled credential must be
// refused.
const revocationDeadline = 2 * time.Second

var tokenFormat = regexp.MustCompile(`^bokujo_[a-z2-7]{16}_[0-9A-Za-z]{43}$`)

type createdToken struct {
	Token, ID, UserName, Kind, Description string
	ExpiresAt                              time.Time
}

type tokenList struct {
	Items []struct {
		ID, UserName, Kind, Description string
		Current, Expired                bool
		LastUsedTime                    *time.Time
	}
}

func (l tokenList) ids() []string {
	var ids []string
	for _, it := range l.Items {
		ids = append(ids, it.ID)
	}
	return ids
}

func TestTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice, _ := f.user("alice")
	bob, _ := f.user("bob")
	root, _ := f.user("root")
	f.makeAdmin(root.Name)
	aliceTok, aliceFirst := f.token(alice.Name, auth.TokenRequest{Description: "first"})
	bobTok, bobFirst := f.token(bob.Name, auth.TokenRequest{})
	rootTok, _ := f.token(root.Name, auth.TokenRequest{})

	var created createdToken
	t.Run("create", func(t *testing.T) {
		r := f.bearer(aliceTok, "POST", "/v1/tokens", map[string]any{"description": "ci pipeline", "ttlSeconds": 3600, "kind": "Kubeconfig"})
		if r.status != http.StatusCreated {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		r.decode(t, &created)
		if !tokenFormat.MatchString(created.Token) || !strings.Contains(created.Token, "_"+created.ID+"_") {
			t.Errorf("token %q (id %s) is not bokujo_<id>_<secret>", created.Token, created.ID)
		}
		if created.UserName != alice.Name || created.Kind != "Kubeconfig" || created.Description != "ci pipeline" {
			t.Errorf("created %+v", created)
		}
		if d := time.Until(created.ExpiresAt); d < 59*time.Minute || d > time.Hour {
			t.Errorf("expires in %s, want 1h", d)
		}
		if r := f.bearer(created.Token, "GET", "/v1/me", nil); r.status != http.StatusOK {
			t.Errorf("the new token does not work at once: %d %s", r.status, r.body)
		}
	})

	t.Run("create refuses", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			body any
		}{
			{"TTL over the maximum", map[string]any{"ttlSeconds": int64(auth.DefaultMaxTokenTTL/time.Second) + 1}},
			{"negative TTL", map[string]any{"ttlSeconds": -1}},
			{"session kind", map[string]any{"kind": "Session"}},
			{"unknown kind", map[string]any{"kind": "Root"}},
			{"unknown field", map[string]any{"userName": bob.Name}},
			{"TTL as a string", map[string]any{"ttlSeconds": "3600"}},
			{"description too long", map[string]any{"description": strings.Repeat("x", 257)}},
			{"control characters in the description", map[string]any{"description": "a\nb"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := f.bearer(aliceTok, "POST", "/v1/tokens", tc.body)
				if r.status != http.StatusBadRequest || r.code() != auth.CodeBadRequest {
					t.Fatalf("got %d %s, want 400", r.status, r.body)
				}
			})
		}
	})

	t.Run("list own", func(t *testing.T) {
		r := f.bearer(aliceTok, "GET", "/v1/tokens", nil)
		var l tokenList
		r.decode(t, &l)
		if r.status != http.StatusOK || !slices.Contains(l.ids(), created.ID) || !slices.Contains(l.ids(), aliceFirst.Name) || slices.Contains(l.ids(), bobFirst.Name) {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		for _, it := range l.Items {
			if it.UserName != alice.Name {
				t.Errorf("alice's list holds %s's token", it.UserName)
			}
			if it.Current != (it.ID == aliceFirst.Name) {
				t.Errorf("token %s current=%v", it.ID, it.Current)
			}
		}
		if bytes.Contains(r.body, []byte(created.Token[len(created.Token)-43:])) || bytes.Contains(r.body, []byte(`"token"`)) {
			t.Errorf("the list shows a token value: %s", r.body)
		}
	})

	t.Run("all needs admin", func(t *testing.T) {
		if r := f.bearer(bobTok, "GET", "/v1/tokens?all=true", nil); r.status != http.StatusForbidden || r.code() != auth.CodeForbidden {
			t.Errorf("bob ?all=true: got %d %s", r.status, r.body)
		}
		if r := f.bearer(bobTok, "GET", "/v1/tokens?all=yes", nil); r.status != http.StatusBadRequest {
			t.Errorf("?all=yes: got %d %s", r.status, r.body)
		}
		r := f.bearer(rootTok, "GET", "/v1/tokens?all=true", nil)
		var l tokenList
		r.decode(t, &l)
		if r.status != http.StatusOK || !slices.Contains(l.ids(), created.ID) || !slices.Contains(l.ids(), bobFirst.Name) {
			t.Errorf("admin ?all=true: got %d %s", r.status, r.body)
		}
	})

	t.Run("bob cannot revoke alice's token", func(t *testing.T) {
		other := f.bearer(bobTok, "DELETE", "/v1/tokens/"+created.ID, nil)
		missing := f.bearer(bobTok, "DELETE", "/v1/tokens/nosuchtoken"+f.suffix, nil)
		if other.status != http.StatusNotFound || !bytes.Equal(other.body, missing.body) {
			t.Errorf("another user's token: %d %s; a missing one: %d %s", other.status, other.body, missing.status, missing.body)
		}
		if r := f.bearer(created.Token, "GET", "/v1/me", nil); r.status != http.StatusOK {
			t.Errorf("alice's token stopped working: %d", r.status)
		}
	})

	t.Run("alice revokes her own", func(t *testing.T) {
		if r := f.bearer(aliceTok, "DELETE", "/v1/tokens/"+created.ID, nil); r.status != http.StatusNoContent {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		if r := f.bearer(created.Token, "GET", "/v1/me", nil); r.status != http.StatusUnauthorized {
			t.Errorf("revoked token: got %d, want 401 at once", r.status)
		}
		if r := f.bearer(aliceTok, "DELETE", "/v1/tokens/"+created.ID, nil); r.status != http.StatusNotFound {
			t.Errorf("second revoke: got %d, want 404", r.status)
		}
	})

	t.Run("admin revokes bob's", func(t *testing.T) {
		if r := f.bearer(rootTok, "DELETE", "/v1/tokens/"+bobFirst.Name, nil); r.status != http.StatusNoContent {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		if r := f.bearer(bobTok, "GET", "/v1/me", nil); r.status != http.StatusUnauthorized {
			t.Errorf("bob's revoked token: got %d, want 401", r.status)
		}
	})
}

// waitRefused polls until the token is refused and fails after the
// revocation deadline.
func waitRefused(t *testing.T, f *fixture, token string, since time.Time) {
	t.Helper()
	for {
		r := f.bearer(token, "GET", "/v1/me", nil)
		if r.status == http.StatusUnauthorized {
			t.Logf("refused after %s", time.Since(since).Round(time.Millisecond))
			return
		}
		if time.Since(since) > revocationDeadline {
			t.Fatalf("still accepted %s after revocation: %d", revocationDeadline, r.status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRevokedTokenRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice, _ := f.user("alice")
	for _, tc := range []struct {
		name   string
		revoke func(*v1alpha1.Token) error
	}{
		{"deleted through the API", func(tok *v1alpha1.Token) error {
			return f.svc.RevokeToken(context.Background(), tok.Name, alice.Name)
		}},
		// An administrator using kubectl on the management cluster,
		// or another replica: only the watch tells this one.
		{"Token object deleted directly", func(tok *v1alpha1.Token) error {
			return f.client.Delete(context.Background(), tok)
		}},
		{"expiry moved to the past directly", func(tok *v1alpha1.Token) error {
			patch := `{"spec":{"expiresAt":"2001-01-01T00:00:00Z"}}`
			return f.client.Patch(context.Background(), tok, client.RawPatch(types.MergePatchType, []byte(patch)))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, tok := f.token(alice.Name, auth.TokenRequest{})
			if r := f.bearer(v, "GET", "/v1/me", nil); r.status != http.StatusOK {
				t.Fatalf("before: %d %s", r.status, r.body)
			}
			begin := time.Now()
			if err := tc.revoke(tok); err != nil {
				t.Fatal(err)
			}
			waitRefused(t, f, v, begin)
		})
	}
}

func TestExpiredToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice, _ := f.user("alice")
	v, tok := f.token(alice.Name, auth.TokenRequest{TTL: 2 * time.Second})
	if r := f.bearer(v, "GET", "/v1/me", nil); r.status != http.StatusOK {
		t.Fatalf("before expiry: %d %s", r.status, r.body)
	}
	time.Sleep(time.Until(tok.Spec.ExpiresAt.Time))
	// Refused by its expiry, whether or not the collector ran yet.
	if r := f.bearer(v, "GET", "/v1/me", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("after expiry: got %d, want 401", r.status)
	}
	framework.Eventually(t, framework.Short, func() error {
		err := f.client.Get(context.Background(), client.ObjectKeyFromObject(tok), &v1alpha1.Token{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return errors.New("expired token not deleted yet")
	})
}

func TestMalformedTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice, _ := f.user("alice")
	bob, _ := f.user("bob")
	valid, _ := f.token(alice.Name, auth.TokenRequest{})
	bobTok, _ := f.token(bob.Name, auth.TokenRequest{})
	aliceSecret := valid[strings.LastIndex(valid, "_")+1:]
	bobID := strings.Split(bobTok, "_")[1]
	flipped := valid[:len(valid)-1] + map[bool]string{true: "b", false: "a"}[strings.HasSuffix(valid, "a")]

	cases := []struct {
		name   string
		header http.Header
		// ok cases are controls: the same shape with a good token.
		ok bool
	}{
		{name: "valid", header: http.Header{"Authorization": {"Bearer " + valid}}, ok: true},
		{name: "lower-case scheme", header: http.Header{"Authorization": {"bearer " + valid}}, ok: true},
		{name: "no credential", header: http.Header{}},
		{name: "empty bearer", header: http.Header{"Authorization": {"Bearer "}}},
		{name: "scheme only", header: http.Header{"Authorization": {"Bearer"}}},
		{name: "basic auth", header: http.Header{"Authorization": {"Basic YWxpY2U6cGFzc3dvcmQ="}}},
		{name: "wrong prefix", header: http.Header{"Authorization": {"Bearer xokujo_" + strings.TrimPrefix(valid, "bokujo_")}}},
		{name: "no prefix", header: http.Header{"Authorization": {"Bearer " + strings.TrimPrefix(valid, "bokujo_")}}},
		{name: "wrong secret", header: http.Header{"Authorization": {"Bearer " + flipped}}},
		{name: "other user's id with wrong secret", header: http.Header{"Authorization": {"Bearer bokujo_" + bobID + "_" + aliceSecret}}},
		{name: "unknown id", header: http.Header{"Authorization": {"Bearer bokujo_aaaaaaaaaaaaaaaa_" + aliceSecret}}},
		{name: "short secret", header: http.Header{"Authorization": {"Bearer " + valid[:len(valid)-20]}}},
		{name: "extra segment", header: http.Header{"Authorization": {"Bearer " + valid + "_x"}}},
		{name: "upper-case id", header: http.Header{"Authorization": {"Bearer bokujo_" + strings.ToUpper(valid[7:23]) + valid[23:]}}},
		{name: "huge header", header: http.Header{"Authorization": {"Bearer " + valid + strings.Repeat("A", 32<<10)}}},
		{name: "two Authorization headers", header: http.Header{"Authorization": {"Bearer " + valid, "Bearer " + valid}}},
		{name: "bad Authorization does not fall back to the cookie", header: http.Header{
			"Authorization": {"Bearer nonsense"}, "Cookie": {auth.SessionCookieName + "=" + valid}}},
		{name: "API token in the session cookie", header: http.Header{"Cookie": {auth.SessionCookieName + "=" + valid}}},
		{name: "empty session cookie", header: http.Header{"Cookie": {auth.SessionCookieName + "="}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", f.srv.URL+"/v1/me", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tc.header.Clone()
			resp, err := f.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body bytes.Buffer
			_, _ = body.ReadFrom(resp.Body)
			_ = resp.Body.Close()
			want := http.StatusUnauthorized
			if tc.ok {
				want = http.StatusOK
			}
			if resp.StatusCode != want {
				t.Fatalf("got %d %s, want %d", resp.StatusCode, body.Bytes(), want)
			}
			if strings.Contains(body.String(), aliceSecret) {
				t.Errorf("the answer holds the token secret")
			}
			// The Authenticator the proxy calls gives the same verdict,
			// with an error that names a reason, never the value.
			areq := req.Clone(context.Background())
			_, _, aerr := f.svc.Authenticate(areq)
			if tc.ok != (aerr == nil) {
				t.Fatalf("Authenticate: %v", aerr)
			}
			if aerr != nil {
				if !errors.Is(aerr, proxy.ErrUnauthenticated) {
					t.Errorf("error %v does not wrap ErrUnauthenticated", aerr)
				}
				if strings.Contains(aerr.Error(), aliceSecret) || strings.Contains(aerr.Error(), "AAAA") {
					t.Errorf("the error holds the credential: %v", aerr)
				}
			}
		})
	}
}

func TestTokenStoredOnlyAsHash(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice, _ := f.user("alice")
	first, _ := f.token(alice.Name, auth.TokenRequest{})
	r := f.bearer(first, "POST", "/v1/tokens", map[string]any{"description": "stored"})
	var created createdToken
	r.decode(t, &created)
	// Use it, fail with it, revoke another: every path that logs.
	f.bearer(created.Token, "GET", "/v1/me", nil)
	f.bearer(created.Token+"x", "GET", "/v1/me", nil)
	f.bearer(created.Token[:len(created.Token)-1]+"0", "GET", "/v1/tokens", nil)
	f.bearer(created.Token, "DELETE", "/v1/tokens/"+strings.Split(first, "_")[1], nil)

	var u unstructured.Unstructured
	u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("Token"))
	if err := f.client.Get(context.Background(), client.ObjectKey{Name: created.ID}, &u); err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	secret := created.Token[strings.LastIndex(created.Token, "_")+1:]
	sum := sha256.Sum256([]byte(secret))
	if got, _, _ := unstructured.NestedString(u.Object, "spec", "hash"); got != hex.EncodeToString(sum[:]) {
		t.Errorf("spec.hash %q is not the SHA-256 of the secret", got)
	}
	if bytes.Contains(raw, []byte(secret)) || bytes.Contains(raw, []byte(created.Token)) {
		t.Errorf("the Token object holds the value: %s", raw)
	}
	if strings.Contains(f.logs.String(), secret) {
		t.Errorf("the logs hold the value")
	}
	if !strings.Contains(f.logs.String(), created.ID) {
		t.Errorf("the logs do not name the token by its id: %s", f.logs.String())
	}
}

func TestLastUsedTime(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice, _ := f.user("alice")
	v, tok := f.token(alice.Name, auth.TokenRequest{})
	if tok.Status.LastUsedTime != nil {
		t.Fatalf("a new token has a last-used time")
	}
	f.bearer(v, "GET", "/v1/me", nil)
	var got v1alpha1.Token
	framework.Eventually(t, framework.Short, func() error {
		if err := f.client.Get(context.Background(), client.ObjectKeyFromObject(tok), &got); err != nil {
			return err
		}
		if got.Status.LastUsedTime == nil {
			return errors.New("no lastUsedTime yet")
		}
		return nil
	})
	// Within the minute, more use writes nothing.
	for range 5 {
		f.bearer(v, "GET", "/v1/me", nil)
	}
	time.Sleep(time.Second)
	var again v1alpha1.Token
	if err := f.client.Get(context.Background(), client.ObjectKeyFromObject(tok), &again); err != nil {
		t.Fatal(err)
	}
	if again.ResourceVersion != got.ResourceVersion {
		t.Errorf("the token was written again within a minute: %v then %v", got.Status.LastUsedTime, again.Status.LastUsedTime)
	}
}

func TestDeletedUsersTokenRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice, _ := f.user("alice")
	v, _ := f.token(alice.Name, auth.TokenRequest{})
	begin := time.Now()
	if err := f.client.Delete(context.Background(), alice); err != nil {
		t.Fatal(err)
	}
	waitRefused(t, f, v, begin)
}

func TestTokenListPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice, _ := f.user("alice")
	root, _ := f.user("root")
	f.makeAdmin(root.Name)
	aliceTok, _ := f.token(alice.Name, auth.TokenRequest{})
	for range 4 {
		f.token(alice.Name, auth.TokenRequest{})
	}
	rootTok, _ := f.token(root.Name, auth.TokenRequest{})

	type page struct {
		Items []struct {
			ID       string `json:"id"`
			UserName string `json:"userName"`
		} `json:"items"`
		Continue string `json:"continue"`
	}
	walk := func(tok, query string) (ids []string, owners map[string]bool) {
		t.Helper()
		owners = map[string]bool{}
		next := ""
		for i := 0; ; i++ {
			if i > 20 {
				t.Fatal("pagination does not end")
			}
			r := f.bearer(tok, "GET", "/v1/tokens?limit=2"+query+"&continue="+next, nil)
			if r.status != http.StatusOK {
				t.Fatalf("page: %d %s", r.status, r.body)
			}
			var p page
			r.decode(t, &p)
			if len(p.Items) > 2 {
				t.Fatalf("page of %d items with limit=2", len(p.Items))
			}
			for _, it := range p.Items {
				ids = append(ids, it.ID)
				owners[it.UserName] = true
			}
			if p.Continue == "" {
				return ids, owners
			}
			next = p.Continue
		}
	}
	ids, owners := walk(aliceTok, "")
	if len(ids) != 5 || len(owners) != 1 || !owners[alice.Name] {
		t.Errorf("alice's pages: %d tokens of %v, want her 5", len(ids), owners)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("token %s on two pages", id)
		}
		seen[id] = true
	}
	ids, owners = walk(rootTok, "&all=true")
	if len(ids) < 6 || !owners[alice.Name] || !owners[root.Name] {
		t.Errorf("admin's pages of all tokens: %d tokens of %v", len(ids), owners)
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "continue=-1", "continue=999", "continue=x"} {
		if r := f.bearer(aliceTok, "GET", "/v1/tokens?"+q, nil); r.status != http.StatusBadRequest {
			t.Errorf("%s: got %d %s, want 400", q, r.status, r.body)
		}
	}
	if r := f.bearer(aliceTok, "GET", "/v1/tokens?all=true", nil); r.status != http.StatusForbidden {
		t.Errorf("all=true for a non-admin: %d", r.status)
	}
}
