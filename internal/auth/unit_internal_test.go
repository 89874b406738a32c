package auth

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	clocktesting "k8s.io/utils/clock/testing"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
)

func TestParseToken(t *testing.T) {
	secret := strings.Repeat("aZ9", 14) + "x" // 43 base62 characters
	for _, tc := range []struct {
		name, value, wantID string
	}{
		{"valid", "bokujo_abcdefgh23456723_" + secret, "abcdefgh23456723"},
		{"empty", "", ""},
		{"prefix only", "bokujo_", ""},
		{"wrong prefix", "bokuja_abcdefgh23456723_" + secret, ""},
		{"upper-case prefix", "BOKUJO_abcdefgh23456723_" + secret, ""},
		{"no secret", "bokujo_abcdefgh23456723", ""},
		{"empty id", "bokujo__" + secret, ""},
		{"upper-case id", "bokujo_ABCDEFGH23456723_" + secret, ""},
		{"id with a slash", "bokujo_abc/def_" + secret, ""},
		{"secret too short", "bokujo_abcdefgh23456723_" + secret[:31], ""},
		{"secret with punctuation", "bokujo_abcdefgh23456723_" + secret[:42] + "-", ""},
		{"extra segment", "bokujo_abcdefgh23456723_" + secret + "_x", ""},
		{"too long", "bokujo_abcdefgh23456723_" + strings.Repeat("a", maxTokenLength), ""},
		{"non-ASCII", "bokujo_abcdefgh23456723_" + secret[:41] + "é", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, got, ok := parseToken(tc.value)
			if ok != (tc.wantID != "") || id != tc.wantID {
				t.Fatalf("parseToken = %q, %v; want id %q", id, ok, tc.wantID)
			}
			if ok && got != secret {
				t.Errorf("secret %q", got)
			}
		})
	}
}

func TestRandomSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		s, err := randomSecret()
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != tokenSecretLength || seen[s] {
			t.Fatalf("secret %q", s)
		}
		seen[s] = true
		if _, _, ok := parseToken(TokenPrefix + randomID() + "_" + s); !ok {
			t.Fatalf("a generated token does not parse")
		}
	}
}

func TestSecretMatches(t *testing.T) {
	tok := &v1alpha1.Token{Spec: v1alpha1.TokenSpec{Hash: hashSecret("s3cret")}}
	if !secretMatches(tok, "s3cret") || secretMatches(tok, "s3cres") || secretMatches(tok, "") {
		t.Error("wrong comparison")
	}
	for _, bad := range []string{"", "zz", strings.Repeat("0", 62)} {
		if secretMatches(&v1alpha1.Token{Spec: v1alpha1.TokenSpec{Hash: bad}}, "") {
			t.Errorf("hash %q matched", bad)
		}
	}
}

func TestPasswordPolicy(t *testing.T) {
	for _, tc := range []struct {
		name, username, password string
		ok                       bool
	}{
		{"twelve characters", "alice", "abcdefghijkl", true},
		{"twelve non-ASCII characters", "alice", "ääääääääääää", true},
		{"eleven characters", "alice", "abcdefghijk", false},
		{"the username", "alice-example", "alice-example", false},
		{"the username in capitals", "alice-example", "ALICE-EXAMPLE", false},
		{"the username with blanks", "alice-example", " alice-example ", false},
		{"too long", "alice", strings.Repeat("x", MaxPasswordBytes+1), false},
		{"invalid UTF-8", "alice", "abcdefghijkl\xff", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkPasswordPolicy(tc.username, tc.password)
			if (err == nil) != tc.ok {
				t.Fatalf("got %v", err)
			}
			if err != nil && strings.Contains(err.Error(), tc.password) {
				t.Errorf("the error holds the password: %v", err)
			}
		})
	}
}

func TestHasher(t *testing.T) {
	ctx := context.Background()
	h, err := newHasher()
	if err != nil {
		t.Fatal(err)
	}
	hash, err := h.hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := h.hash(ctx, "correct horse battery")
	if hash == other {
		t.Error("two hashes of one password are equal: no salt")
	}
	bc, _ := bcrypt.GenerateFromPassword([]byte("correct horse battery"), bcrypt.MinCost)
	long := strings.Repeat("p", 72)
	bcLong, _ := bcrypt.GenerateFromPassword([]byte(long), bcrypt.MinCost)
	for _, tc := range []struct {
		name, hash, password string
		want                 bool
	}{
		{"argon2id", hash, "correct horse battery", true},
		{"argon2id, wrong password", hash, "correct horse batterz", false},
		{"bcrypt", string(bc), "correct horse battery", true},
		{"bcrypt, wrong password", string(bc), "correct horse", false},
		{"bcrypt ignores nothing past 72 bytes", string(bcLong), long + "extra", false},
		{"empty hash", "", "", false},
		{"garbage", "$argon2id$v=19$m=x$$", "x", false},
		{"huge memory", strings.Replace(hash, "m=19456", "m=4194304", 1), "correct horse battery", false},
		{"zero passes", strings.Replace(hash, "t=2", "t=0", 1), "correct horse battery", false},
		{"old version", strings.Replace(hash, "v=19", "v=16", 1), "correct horse battery", false},
		{"password over the limit", hash, strings.Repeat("x", MaxPasswordBytes+1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := h.verify(ctx, tc.hash, tc.password)
			if err != nil || got != tc.want {
				t.Fatalf("verify = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestLimiter(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1_700_000_000, 0))
	l := newLimiter(clk, DefaultUserBackoff)
	fail := func() {
		t.Helper()
		if wait := l.begin("alice"); wait != 0 {
			t.Fatalf("attempt refused for %s", wait)
		}
		l.end("alice", true, false)
	}
	for range 4 {
		fail()
	}
	if wait := l.begin("alice"); wait != 0 {
		t.Fatalf("the 5th attempt was refused for %s", wait)
	}
	l.end("alice", true, false)
	// After 5 failures: 1 s, doubling with each further failure, at most
	// 15 min.
	for _, want := range []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900} {
		want *= time.Second
		if wait := l.begin("alice"); wait != want {
			t.Fatalf("wait %s, want %s", wait, want)
		}
		clk.Step(want)
		fail()
	}
	if wait := l.begin("bob"); wait != 0 {
		t.Errorf("another key is throttled")
	}
	l.end("bob", false, true)

	// A success resets a username.
	clk.Step(15 * time.Minute)
	if wait := l.begin("alice"); wait != 0 {
		t.Fatal(wait)
	}
	l.end("alice", false, true)
	if len(l.entries) != 0 {
		t.Errorf("entries left: %v", l.entries)
	}

	// Failures are forgotten after ForgetAfter.
	for range 3 {
		fail()
	}
	clk.Step(DefaultUserBackoff.ForgetAfter)
	l.prune()
	if len(l.entries) != 0 {
		t.Errorf("old failures kept")
	}
}

func TestLimiterInFlight(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1_700_000_000, 0))
	l := newLimiter(clk, BackoffPolicy{FreeFailures: 2, BaseDelay: time.Second, MaxDelay: time.Minute, ForgetAfter: time.Hour})
	if l.begin("k") != 0 || l.begin("k") != 0 {
		t.Fatal("free attempts refused")
	}
	if l.begin("k") == 0 {
		t.Fatal("a third concurrent attempt passed while two are in flight")
	}
}

func TestLimiterBounded(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1_700_000_000, 0))
	l := newLimiter(clk, DefaultIPBackoff)
	l.max = 1000
	for i := range 5000 {
		k := "k" + time.Duration(i).String()
		l.begin(k)
		l.end(k, true, false)
	}
	if len(l.entries) > l.max {
		t.Errorf("%d entries, bound %d", len(l.entries), l.max)
	}
}

func TestAddressKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"not an address", "raw:not an address"},
	} {
		if got := addressKey(tc.in); got != tc.want {
			t.Errorf("addressKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
