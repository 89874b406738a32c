// Command auth measures logins per second, side by side, in one run:
// local users (argon2id verification through the auth service against a
// real management cluster), LDAP (service bind, search, user bind, groups
// against a real slapd) and OIDC ID-token validation (go-oidc against a
// real OpenID Provider's keys). Informative: no target yet.
//
// The test helpers that start slapd and the provider take a testing.TB;
// testing.Benchmark supplies one, which is also why each figure is
// reported as ns/op.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"bokujo.io/bokujo/internal/auth/ldap"
	"bokujo.io/bokujo/internal/auth/ldap/ldaptest"
	"bokujo.io/bokujo/internal/auth/oidctest"
	"bokujo.io/bokujo/internal/localcluster"
	"bokujo.io/bokujo/test/framework/testserver"
)

var (
	duration = flag.Duration("duration", 5*time.Second, "how long each login kind runs")
	workers  = flag.Int("workers", 2, "concurrent logins")
)

type result struct {
	name  string
	count int64
	err   error
}

func main() {
	flag.Parse()
	var results []result
	testing.Benchmark(func(b *testing.B) {
		if len(results) > 0 { // testing.Benchmark calls again with a larger N
			b.SkipNow()
		}
		results = append(results, local(b), ldapLogins(b), oidcTokens(b))
	})
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "logins (%d workers, %s each)\tcount\tper second\t\n", *workers, *duration)
	for _, r := range results {
		if r.err != nil {
			fmt.Fprintf(tw, "%s\tfailed: %v\t\t\n", r.name, r.err)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t\n", r.name, r.count, float64(r.count)/duration.Seconds())
	}
	tw.Flush()
	for _, r := range results {
		if r.err != nil {
			os.Exit(1)
		}
	}
}

// run calls fn from the workers for the duration and counts successes; the
// first error stops the run.
func run(name string, fn func() error) result {
	var n atomic.Int64
	var first atomic.Pointer[error]
	var wg sync.WaitGroup
	deadline := time.Now().Add(*duration)
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && first.Load() == nil {
				if err := fn(); err != nil {
					first.CompareAndSwap(nil, &err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	if e := first.Load(); e != nil {
		return result{name: name, err: *e}
	}
	return result{name: name, count: n.Load()}
}

func local(b *testing.B) result {
	ctx := context.Background()
	c, err := localcluster.Start(ctx, localcluster.Options{Name: "mgmt", Dir: filepath.Join(b.TempDir(), "mgmt")})
	if err != nil {
		return result{name: "local (argon2id)", err: err}
	}
	defer c.Stop()
	srv := testserver.Start(b, c.RESTConfig())
	const password = "a long enough password 42"
	if _, err := srv.App.Auth.CreateLocalUser(ctx, "bench", "Bench", password); err != nil {
		return result{name: "local (argon2id)", err: err}
	}
	return run("local (argon2id)", func() error {
		_, err := srv.App.Auth.Verify(ctx, "bench", password, "127.0.0.1")
		return err
	})
}

func ldapLogins(b *testing.B) result {
	srv := ldaptest.Start(b)
	srv.AddUser(b, "bench", "Bench", "bench-password")
	cl, err := ldap.New(ldap.Config{URL: srv.URL, BindDN: ldaptest.ReaderDN, BindPassword: ldaptest.ReaderPassword,
		UserBaseDN: ldaptest.PeopleDN, GroupBaseDN: ldaptest.GroupsDN, Timeout: 5 * time.Second})
	if err != nil {
		return result{name: "LDAP (slapd)", err: err}
	}
	return run("LDAP (slapd)", func() error {
		_, err := cl.Authenticate(context.Background(), "bench", "bench-password")
		return err
	})
}

func oidcTokens(b *testing.B) result {
	op := oidctest.Start(b, oidctest.Options{ClientID: "bokujo", ClientSecret: "bench-secret",
		User: oidctest.User{Subject: "00u-bench", Username: "bench", Groups: []string{"platform"}}})
	httpClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: op.CertPool()}}}
	ctx := oidc.ClientContext(context.Background(), httpClient)
	provider, err := oidc.NewProvider(ctx, op.Issuer)
	if err != nil {
		return result{name: "OIDC ID-token validation", err: err}
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: "bokujo"})
	token := op.IDToken(b, "bench-nonce")
	return run("OIDC ID-token validation", func() error {
		_, err := verifier.Verify(ctx, token)
		return err
	})
}
