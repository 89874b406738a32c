package auth_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/auth"
	"bokujo.io/bokujo/internal/auth/ldap/ldaptest"
	"bokujo.io/bokujo/test/framework"
)

// ldapProvider creates an AuthProvider for the test directory with its
// bind password Secret, and returns its name.
func (f *fixture) ldapProvider(dir *ldaptest.Server, mods ...func(*v1alpha1.AuthProvider)) string {
	f.t.Helper()
	ctx := context.Background()
	name := "ldap-" + f.suffix + "-" + strings.ToLower(randomSuffix())
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-bind", Namespace: v1alpha1.SystemNamespace},
		Data:       map[string][]byte{v1alpha1.BindPasswordSecretKey: []byte(ldaptest.ReaderPassword)},
	}
	if err := f.client.Create(ctx, sec); err != nil {
		f.t.Fatal(err)
	}
	ap := &v1alpha1.AuthProvider{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.AuthProviderSpec{
			Type:        v1alpha1.AuthProviderLDAP,
			DisplayName: "Corporate directory",
			LDAP: &v1alpha1.LDAPProviderSpec{
				URL: dir.URL, StartTLS: true, CAData: string(dir.CAPEM),
				BindDN: ldaptest.ReaderDN, BindPasswordRef: v1alpha1.SecretReference{Name: sec.Name},
				UserBaseDN:  ldaptest.PeopleDN,
				GroupSearch: &v1alpha1.LDAPGroupSearch{BaseDN: ldaptest.GroupsDN},
				GroupPrefix: "ldap:",
			},
		},
	}
	for _, m := range mods {
		m(ap)
	}
	if err := f.client.Create(ctx, ap); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() {
		_ = f.client.Delete(context.Background(), ap)
		_ = f.client.Delete(context.Background(), sec)
	})
	// The service reads providers from its cache.
	framework.Eventually(f.t, 10*time.Second, func() error {
		r := f.do(nil, "GET", "/v1/auth/providers", nil, nil)
		if !strings.Contains(string(r.body), `"`+name+`"`) && ap.Spec.State != v1alpha1.AuthProviderDisabled {
			return errString("provider not listed yet")
		}
		return nil
	})
	return name
}

type errString string

func (e errString) Error() string { return string(e) }

func randomSuffix() string {
	return strings.ToLower(strings.ReplaceAll(time.Now().Format("150405.000000"), ".", ""))
}

func (f *fixture) ldapLogin(b *browser, provider, username, password string) *response {
	f.t.Helper()
	r := b.do("POST", "/v1/auth/ldap/"+provider+"/login", map[string]string{"username": username, "password": password}, nil)
	if r.status == http.StatusOK {
		var lr struct{ CSRFToken string }
		r.decode(f.t, &lr)
		b.csrf = lr.CSRFToken
	}
	return r
}

func (b *browser) me(t *testing.T) (status int, groups []string, name string) {
	t.Helper()
	r := b.do("GET", "/v1/me", nil, nil)
	var me struct {
		Name   string
		Groups []string
	}
	if r.status == http.StatusOK {
		r.decode(t, &me)
	}
	return r.status, me.Groups, me.Name
}

func TestLDAPLogin(t *testing.T) {
	dir := ldaptest.Start(t)
	f := newFixture(t, func(o *auth.Options) { o.GroupRefreshInterval = 300 * time.Millisecond })
	ctx := context.Background()
	alicePass, bobPass := "alice-pw-"+f.suffix, "bob-pw-"+f.suffix
	alice := dir.AddUser(t, "alice", "Alice Liddell", alicePass)
	bob := dir.AddUser(t, "bob", "Bob", bobPass)
	devs := dir.AddGroup(t, "devs", alice)
	dir.AddGroup(t, "ops", bob)
	provider := f.ldapProvider(dir)

	var userName string
	t.Run("first login creates the user with prefixed groups", func(t *testing.T) {
		b := f.browser()
		if r := f.ldapLogin(b, provider, "alice", alicePass); r.status != http.StatusOK {
			t.Fatalf("login: %d %s", r.status, r.body)
		}
		status, groups, name := b.me(t)
		if status != http.StatusOK || !slices.Equal(groups, []string{"ldap:devs"}) {
			t.Fatalf("me: %d groups %v", status, groups)
		}
		userName = name
		var u v1alpha1.User
		if err := f.client.Get(ctx, client.ObjectKey{Name: name}, &u); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.client.Delete(context.Background(), &u) })
		if !strings.HasPrefix(u.Name, "u-") || u.Spec.Username != "" || u.Spec.DisplayName != "Alice Liddell" {
			t.Errorf("user = %s %+v", u.Name, u.Spec)
		}
		if len(u.Spec.Identities) != 1 || u.Spec.Identities[0].Provider != provider || len(u.Spec.Identities[0].Subject) != 36 {
			t.Errorf("identities = %+v, want the provider and alice's entryUUID", u.Spec.Identities)
		}
		if u.Status.LastLoginTime == nil {
			t.Error("no lastLoginTime")
		}
	})

	t.Run("second login finds the same user", func(t *testing.T) {
		b := f.browser()
		if r := f.ldapLogin(b, provider, "ALICE", alicePass); r.status != http.StatusOK {
			t.Fatalf("login: %d %s", r.status, r.body)
		}
		if _, _, name := b.me(t); name != userName {
			t.Errorf("second login as %s, first as %s", name, userName)
		}
	})

	t.Run("wrong and empty passwords", func(t *testing.T) {
		for _, pw := range []string{"wrong", ""} {
			r := f.ldapLogin(f.browser(), provider, "bob", pw)
			if r.status != http.StatusUnauthorized || r.code() != auth.CodeInvalidCredentials {
				t.Errorf("password %q: %d %s", pw, r.status, r.body)
			}
		}
		r := f.ldapLogin(f.browser(), provider, "*)(uid=*", bobPass)
		if r.status != http.StatusUnauthorized {
			t.Errorf("injection: %d %s", r.status, r.body)
		}
	})

	t.Run("unknown or disabled provider", func(t *testing.T) {
		r := f.ldapLogin(f.browser(), "nope-"+f.suffix, "alice", alicePass)
		if r.status != http.StatusNotFound {
			t.Errorf("unknown provider: %d %s", r.status, r.body)
		}
		off := f.ldapProvider(dir, func(ap *v1alpha1.AuthProvider) { ap.Spec.State = v1alpha1.AuthProviderDisabled })
		framework.Eventually(t, 10*time.Second, func() error {
			if r := f.ldapLogin(f.browser(), off, "alice", alicePass); r.status != http.StatusNotFound {
				return errString("disabled provider answered " + r.status2())
			}
			return nil
		})
		var list struct {
			Items []struct{ Name, Type, LoginURL string }
		}
		f.do(nil, "GET", "/v1/auth/providers", nil, nil).decode(t, &list)
		var names []string
		for _, it := range list.Items {
			names = append(names, it.Name)
			if it.Name == provider && (it.Type != "LDAP" || it.LoginURL != "/v1/auth/ldap/"+provider+"/login") {
				t.Errorf("listed as %+v", it)
			}
		}
		if !slices.Contains(names, provider) || slices.Contains(names, off) {
			t.Errorf("listed providers %v: want %s, not the disabled %s", names, provider, off)
		}
	})

	t.Run("a user disabled in bokujo cannot log in", func(t *testing.T) {
		b := f.browser()
		if r := f.ldapLogin(b, provider, "bob", bobPass); r.status != http.StatusOK {
			t.Fatalf("login: %d %s", r.status, r.body)
		}
		_, _, name := b.me(t)
		t.Cleanup(func() {
			_ = f.client.Delete(context.Background(), &v1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: name}})
		})
		if err := f.svc.Disable(ctx, name); err != nil {
			t.Fatal(err)
		}
		if status, _, _ := b.me(t); status != http.StatusUnauthorized {
			t.Errorf("session of a disabled user: %d", status)
		}
		r := f.ldapLogin(f.browser(), provider, "bob", bobPass)
		if r.status != http.StatusForbidden || r.code() != auth.CodeUserDisabled {
			t.Errorf("login of a disabled user: %d %s", r.status, r.body)
		}
	})

	t.Run("user removed from a group loses it after refresh", func(t *testing.T) {
		b := f.browser()
		if r := f.ldapLogin(b, provider, "alice", alicePass); r.status != http.StatusOK {
			t.Fatalf("login: %d %s", r.status, r.body)
		}
		dir.SetMembers(t, devs, bob)
		// No new login: the periodic refresh alone must take the group away
		// from the live session.
		framework.Eventually(t, 10*time.Second, func() error {
			if _, groups, _ := b.me(t); slices.Contains(groups, "ldap:devs") {
				return errString("still in ldap:devs")
			}
			return nil
		})
	})

	t.Run("connection test", func(t *testing.T) {
		admin, _ := f.user("admin")
		f.makeAdmin(admin.Name)
		tok, _ := f.token(admin.Name, auth.TokenRequest{Type: v1alpha1.TokenTypeAPI})
		var res struct {
			Ready           bool
			Reason, Message string
		}
		r := f.bearer(tok, "POST", "/v1/auth/providers/"+provider+"/test", nil)
		r.decode(t, &res)
		if r.status != http.StatusOK || !res.Ready || res.Reason != v1alpha1.AuthProviderReasonConnected {
			t.Errorf("test: %d %s", r.status, r.body)
		}
		broken := f.ldapProvider(dir, func(ap *v1alpha1.AuthProvider) { ap.Spec.LDAP.BindDN = "cn=nobody," + ldaptest.BaseDN })
		r = f.bearer(tok, "POST", "/v1/auth/providers/"+broken+"/test", nil)
		r.decode(t, &res)
		if res.Ready || res.Reason != v1alpha1.AuthProviderReasonBindFailed || !strings.Contains(res.Message, "cn=nobody") {
			t.Errorf("broken bind DN: %s", r.body)
		}
		var ap v1alpha1.AuthProvider
		if err := f.client.Get(ctx, client.ObjectKey{Name: broken}, &ap); err != nil {
			t.Fatal(err)
		}
		c := apimeta.FindStatusCondition(ap.Status.Conditions, v1alpha1.ConditionReady)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.AuthProviderReasonBindFailed || ap.Status.LastTestTime == nil {
			t.Errorf("status = %+v", ap.Status)
		}
		// Brokenness is not the user's fault: a login says the provider
		// is unavailable, not that the password is wrong.
		if r := f.ldapLogin(f.browser(), broken, "alice", alicePass); r.status != http.StatusServiceUnavailable {
			t.Errorf("login via a broken provider: %d %s", r.status, r.body)
		}
		user, _ := f.user("plain")
		ptok, _ := f.token(user.Name, auth.TokenRequest{Type: v1alpha1.TokenTypeAPI})
		if r := f.bearer(ptok, "POST", "/v1/auth/providers/"+provider+"/test", nil); r.status != http.StatusForbidden {
			t.Errorf("test by a non-admin: %d", r.status)
		}
	})

	t.Run("the API refuses inconsistent providers", func(t *testing.T) {
		ap := &v1alpha1.AuthProvider{
			ObjectMeta: metav1.ObjectMeta{Name: "bad-" + f.suffix},
			Spec: v1alpha1.AuthProviderSpec{Type: v1alpha1.AuthProviderOIDC, LDAP: &v1alpha1.LDAPProviderSpec{
				URL: dir.URL, BindDN: "cn=x", BindPasswordRef: v1alpha1.SecretReference{Name: "x"}, UserBaseDN: "dc=x",
			}},
		}
		if err := f.client.Create(ctx, ap); err == nil || !strings.Contains(err.Error(), "match the type") {
			_ = f.client.Delete(ctx, ap)
			t.Errorf("OIDC type with LDAP settings: err = %v", err)
		}
	})

	t.Cleanup(func() {
		logs := f.logs.String()
		for _, secret := range []string{alicePass, bobPass, ldaptest.ReaderPassword} {
			if strings.Contains(logs, secret) {
				t.Errorf("a password appears in the logs")
			}
		}
	})
}

func (r *response) status2() string { return http.StatusText(r.status) }
