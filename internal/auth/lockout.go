package auth

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// BackoffPolicy throttles password guesses for one key (a username or a
// source address). FreeFailures failures pass; the next one starts a delay
// of BaseDelay during which every attempt is refused unchecked, and each
// further failure doubles it up to MaxDelay. A key with no failure for
// ForgetAfter (and no delay running) starts over.
type BackoffPolicy struct {
	FreeFailures int
	BaseDelay    time.Duration
	MaxDelay     time.Duration
	ForgetAfter  time.Duration
}

var (
	// DefaultUserBackoff: after 5 failures for one username, 1 s doubling
	// to 15 min. A username's counter is cleared by a successful login.
	DefaultUserBackoff = BackoffPolicy{FreeFailures: 5, BaseDelay: time.Second, MaxDelay: 15 * time.Minute, ForgetAfter: time.Hour}
	// DefaultIPBackoff allows more failures per address, since many people
	// may share one behind a NAT, and is not cleared by a success, so that
	// one valid account cannot reset the counter of an attacker spraying
	// passwords over many usernames.
	DefaultIPBackoff = BackoffPolicy{FreeFailures: 20, BaseDelay: time.Second, MaxDelay: 15 * time.Minute, ForgetAfter: time.Hour}
)

// ThrottledError refuses a login attempt without checking the password
// because of earlier failures. The API answers 429 with Retry-After.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed attempts: retry in %s", e.RetryAfter.Round(time.Second))
}

// RetryAfterSeconds is the Retry-After value: whole seconds, at least 1.
func (e *ThrottledError) RetryAfterSeconds() int {
	return max(1, int((e.RetryAfter+time.Second-1)/time.Second))
}

// maxLimiterEntries bounds a limiter's memory (about 10 MB) against an
// attacker who tries a new username or address on every attempt.
const maxLimiterEntries = 100_000

// limiter counts failures per key in memory. The counts are per server
// replica: an attacker spreading guesses over n replicas gets n times the
// attempts, which the exponential delay still keeps small, while keeping the
// counts out of the management cluster means failed logins cost it no
// writes and unknown usernames are throttled exactly like existing ones.
type limiter struct {
	clock   clock.PassiveClock
	policy  BackoffPolicy
	max     int
	mu      sync.Mutex
	entries map[string]*limiterEntry
}

type limiterEntry struct {
	failures    int
	pending     int
	lastFailure time.Time
	lockedUntil time.Time
}

func newLimiter(c clock.PassiveClock, p BackoffPolicy) *limiter {
	return &limiter{clock: c, policy: p, max: maxLimiterEntries, entries: map[string]*limiterEntry{}}
}

// begin reserves an attempt for key, or returns how long to wait. Attempts
// in flight count as failures until they end, so a burst of concurrent
// guesses cannot all slip in before the first failure is recorded.
func (l *limiter) begin(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	e := l.entries[key]
	if e == nil {
		if len(l.entries) >= l.max {
			l.evictLocked(now)
		}
		e = &limiterEntry{}
		l.entries[key] = e
	}
	if now.Before(e.lockedUntil) {
		return e.lockedUntil.Sub(now)
	}
	if e.pending > 0 && e.failures+e.pending >= l.policy.FreeFailures {
		return l.policy.BaseDelay
	}
	e.pending++
	return 0
}

// end finishes an attempt begun with begin. reset clears the key's
// failures (a successful login for a username).
func (l *limiter) end(key string, failed, reset bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entries[key]
	if e == nil {
		return
	}
	if e.pending > 0 {
		e.pending--
	}
	now := l.clock.Now()
	switch {
	case failed:
		e.failures++
		e.lastFailure = now
		if e.failures >= l.policy.FreeFailures {
			e.lockedUntil = now.Add(l.delay(e.failures - l.policy.FreeFailures))
		}
	case reset:
		e.failures = 0
		e.lockedUntil = time.Time{}
	}
	if e.failures == 0 && e.pending == 0 {
		delete(l.entries, key)
	}
}

// delay is BaseDelay doubled n times, at most MaxDelay.
func (l *limiter) delay(n int) time.Duration {
	d := l.policy.BaseDelay
	for range n {
		if d >= l.policy.MaxDelay/2 {
			return l.policy.MaxDelay
		}
		d *= 2
	}
	return min(d, l.policy.MaxDelay)
}

// prune forgets keys whose failures are old and whose delay is over.
func (l *limiter) prune() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pruneLocked(l.clock.Now())
}

func (l *limiter) pruneLocked(now time.Time) {
	for k, e := range l.entries {
		if e.pending == 0 && !now.Before(e.lockedUntil) && now.Sub(e.lastFailure) >= l.policy.ForgetAfter {
			delete(l.entries, k)
		}
	}
}

// evictLocked makes room when the map is full: forgotten keys first, then
// arbitrary idle ones (map order is random, so an attacker cannot choose
// which), never attempts in flight.
func (l *limiter) evictLocked(now time.Time) {
	l.pruneLocked(now)
	excess := len(l.entries) - l.max + l.max/100 + 1
	for k, e := range l.entries {
		if excess <= 0 {
			return
		}
		if e.pending == 0 {
			delete(l.entries, k)
			excess--
		}
	}
}

// usernameKey is how a login name is counted: case and surrounding blanks
// do not make a new key, and a long input does not make a long key.
func usernameKey(username string) string {
	k := strings.ToLower(strings.TrimSpace(username))
	if len(k) > 128 {
		k = k[:128]
	}
	return k
}

// addressKey counts IPv6 clients by /64, the block a single host is
// usually given, so rotating addresses inside it does not reset the count.
func addressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		if len(ip) > 64 {
			ip = ip[:64]
		}
		return "raw:" + ip
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, err := a.Prefix(64)
		if err == nil {
			return p.String()
		}
	}
	return a.String()
}
