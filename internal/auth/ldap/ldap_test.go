package ldap_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"bokujo.io/bokujo/internal/auth/ldap"
	"bokujo.io/bokujo/internal/auth/ldap/ldaptest"
)

// directory is one slapd shared by the tests of this file, with:
// alice in devs, bob in ops, devs inside platform (nested).
type directory struct {
	srv                 *ldaptest.Server
	alice, bob          string
	devs, ops, platform string
	alicePass, bobPass  string
}

func newDirectory(t *testing.T) *directory {
	t.Helper()
	d := &directory{srv: ldaptest.Start(t), alicePass: "alice-pw-3141", bobPass: "bob-pw-2718"}
	d.alice = d.srv.AddUser(t, "alice", "Alice Liddell", d.alicePass)
	d.bob = d.srv.AddUser(t, "bob", "Bob Builder", d.bobPass)
	d.devs = d.srv.AddGroup(t, "devs", d.alice)
	d.ops = d.srv.AddGroup(t, "ops", d.bob)
	d.platform = d.srv.AddGroup(t, "platform", d.devs)
	return d
}

func (d *directory) config(mods ...func(*ldap.Config)) ldap.Config {
	cfg := ldap.Config{
		URL:          d.srv.URL,
		BindDN:       ldaptest.ReaderDN,
		BindPassword: ldaptest.ReaderPassword,
		UserBaseDN:   ldaptest.PeopleDN,
		GroupBaseDN:  ldaptest.GroupsDN,
		Timeout:      5 * time.Second,
	}
	for _, m := range mods {
		m(&cfg)
	}
	return cfg
}

func (d *directory) client(t *testing.T, mods ...func(*ldap.Config)) *ldap.Client {
	t.Helper()
	c, err := ldap.New(d.config(mods...))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLDAP(t *testing.T) {
	d := newDirectory(t)
	ctx := context.Background()

	t.Run("group search", func(t *testing.T) {
		id, err := d.client(t).Authenticate(ctx, "alice", d.alicePass)
		if err != nil {
			t.Fatal(err)
		}
		if id.Username != "alice" || id.DisplayName != "Alice Liddell" || id.DN != d.alice {
			t.Errorf("identity = %+v", id)
		}
		if len(id.Subject) != 36 {
			t.Errorf("subject %q is not an entryUUID", id.Subject)
		}
		if want := []string{"devs"}; !slices.Equal(id.Groups, want) {
			t.Errorf("groups = %v, want %v", id.Groups, want)
		}
	})

	t.Run("nested groups by search", func(t *testing.T) {
		id, err := d.client(t, func(c *ldap.Config) { c.NestedGroups = true }).Authenticate(ctx, "alice", d.alicePass)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"devs", "platform"}; !slices.Equal(id.Groups, want) {
			t.Errorf("groups = %v, want %v", id.Groups, want)
		}
	})

	t.Run("memberOf", func(t *testing.T) {
		memberOf := func(c *ldap.Config) { c.GroupBaseDN, c.MemberOfAttribute = "", "memberOf" }
		id, err := d.client(t, memberOf).Authenticate(ctx, "bob", d.bobPass)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"ops"}; !slices.Equal(id.Groups, want) {
			t.Errorf("groups = %v, want %v", id.Groups, want)
		}
		id, err = d.client(t, memberOf, func(c *ldap.Config) { c.NestedGroups = true }).Authenticate(ctx, "alice", d.alicePass)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"devs", "platform"}; !slices.Equal(id.Groups, want) {
			t.Errorf("nested groups = %v, want %v", id.Groups, want)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		if _, err := d.client(t).Authenticate(ctx, "alice", "not-her-password"); !errors.Is(err, ldap.ErrInvalidCredentials) {
			t.Errorf("err = %v, want ErrInvalidCredentials", err)
		}
		if _, err := d.client(t).Authenticate(ctx, "nobody", d.alicePass); !errors.Is(err, ldap.ErrInvalidCredentials) {
			t.Errorf("unknown user: err = %v, want ErrInvalidCredentials", err)
		}
	})

	t.Run("empty password", func(t *testing.T) {
		// The server itself accepts an unauthenticated bind with alice's
		// DN: this is the hole the client must close.
		raw, err := goldap.DialURL(d.srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		if err := raw.UnauthenticatedBind(d.alice); err != nil {
			t.Fatalf("precondition: the test server should accept unauthenticated binds: %v", err)
		}
		if _, err := d.client(t).Authenticate(ctx, "alice", ""); !errors.Is(err, ldap.ErrInvalidCredentials) {
			t.Errorf("err = %v, want ErrInvalidCredentials", err)
		}
		// Refused before any connection: a client whose server is
		// unreachable gives the same answer, not a connection error.
		gone := d.client(t, func(c *ldap.Config) { c.URL = "ldap://127.0.0.1:1" })
		if _, err := gone.Authenticate(ctx, "alice", ""); !errors.Is(err, ldap.ErrInvalidCredentials) {
			t.Errorf("unreachable server: err = %v, want ErrInvalidCredentials before any dial", err)
		}
	})

	t.Run("injection in the user name", func(t *testing.T) {
		// Unescaped, each of these would match alice (or everyone) and the
		// bind with her password would succeed.
		for _, name := range []string{"*)(uid=*", "*", "al*", "alice)(|(uid=*", `alice\`, "*)(objectClass=*"} {
			_, err := d.client(t).Authenticate(ctx, name, d.alicePass)
			if !errors.Is(err, ldap.ErrInvalidCredentials) {
				t.Errorf("user name %q: err = %v, want ErrInvalidCredentials", name, err)
			}
		}
	})

	t.Run("wrong bind DN", func(t *testing.T) {
		c := d.client(t, func(c *ldap.Config) { c.BindDN = "cn=nobody," + ldaptest.BaseDN })
		err := c.Test(ctx)
		assertReason(t, err, ldap.ReasonBind)
		if _, err := c.Authenticate(ctx, "alice", d.alicePass); err == nil || errors.Is(err, ldap.ErrInvalidCredentials) {
			t.Errorf("login with a broken service account: err = %v, want a server error, not the user's fault", err)
		}
		c = d.client(t, func(c *ldap.Config) { c.BindPassword = "wrong" })
		assertReason(t, c.Test(ctx), ldap.ReasonBind)
	})

	t.Run("wrong base DN", func(t *testing.T) {
		c := d.client(t, func(c *ldap.Config) { c.UserBaseDN = "ou=staff," + ldaptest.BaseDN })
		assertReason(t, c.Test(ctx), ldap.ReasonBaseDN)
		c = d.client(t, func(c *ldap.Config) { c.GroupBaseDN = "ou=teams," + ldaptest.BaseDN })
		assertReason(t, c.Test(ctx), ldap.ReasonBaseDN)
	})

	t.Run("test connection succeeds", func(t *testing.T) {
		if err := d.client(t).Test(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("DNS failure", func(t *testing.T) {
		c := d.client(t, func(c *ldap.Config) { c.URL = "ldap://ldap.does-not-exist.invalid:389" })
		assertReason(t, c.Test(ctx), ldap.ReasonDNS)
	})

	t.Run("connection refused", func(t *testing.T) {
		c := d.client(t, func(c *ldap.Config) { c.URL = "ldap://127.0.0.1:1" })
		assertReason(t, c.Test(ctx), ldap.ReasonConnect)
	})

	t.Run("LDAPS with the CA", func(t *testing.T) {
		c := d.client(t, func(c *ldap.Config) { c.URL, c.RootCAs = d.srv.LDAPSURL, d.srv.CAPool })
		if _, err := c.Authenticate(ctx, "alice", d.alicePass); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("LDAPS without the CA", func(t *testing.T) {
		c := d.client(t, func(c *ldap.Config) { c.URL = d.srv.LDAPSURL })
		assertReason(t, c.Test(ctx), ldap.ReasonTLS)
	})

	t.Run("StartTLS with the CA", func(t *testing.T) {
		// The plain URL names 127.0.0.1, which the certificate lists.
		c := d.client(t, func(c *ldap.Config) { c.StartTLS, c.RootCAs = true, d.srv.CAPool })
		if _, err := c.Authenticate(ctx, "alice", d.alicePass); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("StartTLS without the CA", func(t *testing.T) {
		c := d.client(t, func(c *ldap.Config) { c.StartTLS = true })
		assertReason(t, c.Test(ctx), ldap.ReasonTLS)
	})

	t.Run("user removed from a group loses it after refresh", func(t *testing.T) {
		carol := d.srv.AddUser(t, "carol", "Carol", "carol-pw-1618")
		team := d.srv.AddGroup(t, "team-x", carol)
		c := d.client(t)
		id, err := c.Authenticate(ctx, "carol", "carol-pw-1618")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(id.Groups, "team-x") {
			t.Fatalf("groups = %v, want team-x", id.Groups)
		}
		d.srv.SetMembers(t, team, d.bob)
		again, err := c.Lookup(ctx, id.Subject)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(again.Groups, "team-x") || again.DN != carol {
			t.Errorf("after removal: %+v, want carol without team-x", again)
		}
		d.srv.Delete(t, carol)
		if _, err := c.Lookup(ctx, id.Subject); !errors.Is(err, ldap.ErrUserNotFound) {
			t.Errorf("deleted user: err = %v, want ErrUserNotFound", err)
		}
	})

	t.Run("context cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := d.client(t).Authenticate(cctx, "alice", d.alicePass); err == nil {
			t.Error("login with a cancelled context succeeded")
		}
	})
}

func TestNewRefusesBadConfig(t *testing.T) {
	base := ldap.Config{URL: "ldap://h", BindDN: "cn=r", BindPassword: "p", UserBaseDN: "dc=x"}
	for name, mod := range map[string]func(*ldap.Config){
		"scheme":             func(c *ldap.Config) { c.URL = "http://h" },
		"startTLS on ldaps":  func(c *ldap.Config) { c.URL, c.StartTLS = "ldaps://h", true },
		"empty bind pw":      func(c *ldap.Config) { c.BindPassword = "" },
		"filter without {}":  func(c *ldap.Config) { c.UserFilter = "(uid=alice)" },
		"unbalanced filter":  func(c *ldap.Config) { c.UserFilter = "(uid={username}" },
		"both group sources": func(c *ldap.Config) { c.GroupBaseDN, c.MemberOfAttribute = "dc=x", "memberOf" },
	} {
		cfg := base
		mod(&cfg)
		if _, err := ldap.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ldap.New(base); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
}

func assertReason(t *testing.T, err error, reason string) {
	t.Helper()
	var lerr *ldap.Error
	if !errors.As(err, &lerr) {
		t.Fatalf("err = %v (%T), want *ldap.Error with reason %s", err, err, reason)
	}
	if lerr.Reason != reason {
		t.Errorf("reason = %s (%v), want %s", lerr.Reason, err, reason)
	}
}
