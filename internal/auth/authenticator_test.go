package auth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/auth"
	"bokujo.io/bokujo/internal/proxy"
	"bokujo.io/bokujo/test/framework"
)

func TestGroupsAndGlobalRoles(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	alice, _ := f.user("alice")
	bob, _ := f.user("bob")
	tok, tokObj := f.token(alice.Name, auth.TokenRequest{})
	bobTok, bobTokObj := f.token(bob.Name, auth.TokenRequest{})

	ml := "ml-" + f.suffix
	ops := "ops-" + f.suffix
	for _, g := range []*v1alpha1.Group{
		{ObjectMeta: metav1.ObjectMeta{Name: ml}, Spec: v1alpha1.GroupSpec{Members: []string{alice.Name, bob.Name}}},
		{ObjectMeta: metav1.ObjectMeta{Name: ops}, Spec: v1alpha1.GroupSpec{Members: []string{alice.Name}}},
	} {
		if err := f.client.Create(ctx, g); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.client.Delete(context.Background(), g) })
	}
	external := "github:acme/" + f.suffix
	alice.Status.Groups = []string{external}
	if err := f.client.Status().Update(ctx, alice); err != nil {
		t.Fatal(err)
	}
	want := []string{external, ml, ops}
	slices.Sort(want)

	req, _ := http.NewRequest("GET", "https://bokujo.example/k8s/clusters/dev/api", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	framework.Eventually(t, framework.Short, func() error {
		u, m, err := f.svc.Authenticate(req)
		if err != nil {
			return err
		}
		if u.Name != alice.Name || u.UID != string(alice.UID) || m.Kind != proxy.AuthBearer {
			return fmt.Errorf("user %+v, method %+v", u, m)
		}
		if !slices.Equal(u.Groups, want) {
			return fmt.Errorf("groups %v, want %v", u.Groups, want)
		}
		if got := u.Extra[auth.ExtraTokenID]; !slices.Equal(got, []string{tokObj.Name}) {
			return fmt.Errorf("extra token id %v", got)
		}
		return nil
	})

	me := func(token string) meAnswer {
		t.Helper()
		r := f.bearer(token, "GET", "/v1/me", nil)
		var m meAnswer
		r.decode(t, &m)
		return m
	}
	if m := me(tok); !slices.Equal(m.Groups, want) || len(m.GlobalRoles) != 0 || m.CSRFToken != "" {
		t.Errorf("me: %+v", m)
	}

	t.Run("admin through a group", func(t *testing.T) {
		f.bind(v1alpha1.SubjectKindGroup, ops, v1alpha1.GlobalRoleAdmin)
		f.bind(v1alpha1.SubjectKindGroup, external, v1alpha1.GlobalRoleUser)
		framework.Eventually(t, framework.Short, func() error {
			if m := me(tok); !slices.Equal(m.GlobalRoles, []string{v1alpha1.GlobalRoleAdmin, v1alpha1.GlobalRoleUser}) {
				return fmt.Errorf("global roles %v", m.GlobalRoles)
			}
			return nil
		})
		if r := f.bearer(tok, "DELETE", "/v1/tokens/"+bobTokObj.Name, nil); r.status != http.StatusNoContent {
			t.Errorf("admin by group revoking bob's token: %d %s", r.status, r.body)
		}
		if r := f.bearer(bobTok, "GET", "/v1/tokens?all=true", nil); r.status == http.StatusOK {
			t.Errorf("bob (in ml, not ops) lists every token")
		}
	})

	t.Run("leaving a group takes effect", func(t *testing.T) {
		var g v1alpha1.Group
		if err := f.client.Get(ctx, client.ObjectKey{Name: ops}, &g); err != nil {
			t.Fatal(err)
		}
		g.Spec.Members = nil
		if err := f.client.Update(ctx, &g); err != nil {
			t.Fatal(err)
		}
		begin := time.Now()
		framework.Eventually(t, revocationDeadline, func() error {
			u, _, err := f.svc.Authenticate(req)
			if err != nil {
				return err
			}
			if slices.Contains(u.Groups, ops) {
				return errors.New("still in ops")
			}
			return nil
		})
		t.Logf("group change seen after %s", time.Since(begin).Round(time.Millisecond))
	})
}

func TestWebSocketSubprotocol(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice, _ := f.user("alice")
	tok, _ := f.token(alice.Name, auth.TokenRequest{})
	enc := base64.RawURLEncoding.EncodeToString([]byte(tok))
	upgrade := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}}

	for _, tc := range []struct {
		name      string
		header    http.Header
		protocols []string
		ok        bool
	}{
		{"kubectl exec", upgrade, []string{"base64url.bearer.authorization.k8s.io." + enc + ", v5.channel.k8s.io, v4.channel.k8s.io"}, true},
		{"separate header values", upgrade, []string{"v5.channel.k8s.io", "base64url.bearer.authorization.k8s.io." + enc}, true},
		{"padded base64", upgrade, []string{"base64url.bearer.authorization.k8s.io." + base64.URLEncoding.EncodeToString([]byte(tok))}, true},
		{"not an upgrade", http.Header{}, []string{"base64url.bearer.authorization.k8s.io." + enc}, false},
		{"two bearer subprotocols", upgrade, []string{"base64url.bearer.authorization.k8s.io." + enc + ", base64url.bearer.authorization.k8s.io." + enc}, false},
		{"not base64", upgrade, []string{"base64url.bearer.authorization.k8s.io.!!!"}, false},
		{"token not encoded", upgrade, []string{"base64url.bearer.authorization.k8s.io." + tok}, false},
		{"no bearer subprotocol", upgrade, []string{"v5.channel.k8s.io"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "https://bokujo.example/k8s/clusters/dev/api/v1/namespaces/x/pods/p/exec", nil)
			req.Header = tc.header.Clone()
			for _, p := range tc.protocols {
				req.Header.Add("Sec-WebSocket-Protocol", p)
			}
			u, m, err := f.svc.Authenticate(req)
			if !tc.ok {
				if !errors.Is(err, proxy.ErrUnauthenticated) {
					t.Fatalf("got %v, want ErrUnauthenticated", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.Name != alice.Name || m.Kind != proxy.AuthBearer {
				t.Errorf("got %s %+v", u.Name, m)
			}
		})
	}
}
