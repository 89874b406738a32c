package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Password hashing uses argon2id rather than bcrypt: it is memory-hard, so
// guessing on GPUs costs far more per guess than bcrypt's 4 KiB state
// allows, and it has no input limit, where bcrypt silently depends on the
// first 72 bytes (x/crypto refuses longer passwords outright, which would
// reject long passphrases). The parameters are OWASP's first argon2id
// recommendation (19 MiB, 2 passes, 1 lane): about 30 ms on one core, so a
// login stays quick while an offline guess stays expensive. They are
// written into every hash (PHC string format), so they can be raised later
// without invalidating existing hashes.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16

	// Bounds on parameters read back from a stored hash: a Secret
	// someone edited by hand must not make one login use gigabytes.
	maxArgonMemory  = 256 * 1024
	maxArgonTime    = 16
	maxArgonThreads = 16
)

// Password policy.
const (
	// MinPasswordLength counts characters, not bytes.
	MinPasswordLength = 12
	// MaxPasswordBytes bounds what a client can make the server hash.
	MaxPasswordBytes = 1024
)

// ErrWeakPassword is wrapped by the errors of passwords the policy refuses.
// Their messages say what is wrong and never contain the password.
var ErrWeakPassword = errors.New("password refused")

// checkPasswordPolicy refuses passwords shorter than MinPasswordLength, too
// long ones, and the username itself (in any case), the first guess of
// every attacker.
func checkPasswordPolicy(username, password string) error {
	if !utf8.ValidString(password) {
		return fmt.Errorf("%w: not valid UTF-8", ErrWeakPassword)
	}
	if utf8.RuneCountInString(password) < MinPasswordLength {
		return fmt.Errorf("%w: shorter than %d characters", ErrWeakPassword, MinPasswordLength)
	}
	if len(password) > MaxPasswordBytes {
		return fmt.Errorf("%w: longer than %d bytes", ErrWeakPassword, MaxPasswordBytes)
	}
	if username != "" && strings.EqualFold(strings.TrimSpace(password), username) {
		return fmt.Errorf("%w: same as the username", ErrWeakPassword)
	}
	return nil
}

// generatePassword returns a random password of 26 base32 characters (130
// bits), well above the policy and easy to type from a terminal.
func generatePassword() string { return rand.Text() }

// hasher hashes and verifies passwords. A semaphore bounds how many hashes
// run at once: each takes argonMemory, and a burst of logins must not be
// able to exhaust the server's memory or starve the proxy of CPU.
type hasher struct {
	slots chan struct{}
	// dummy is verified against for unknown users and users without a
	// password, so their failures take as long as a wrong password and do
	// not tell an attacker which usernames exist.
	dummy string
}

func newHasher() (*hasher, error) {
	h := &hasher{slots: make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))}
	dummy, err := h.hash(context.Background(), rand.Text())
	if err != nil {
		return nil, err
	}
	h.dummy = dummy
	return h, nil
}

func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait to hash a password: %w", ctx.Err())
	}
}

func (h *hasher) release() { <-h.slots }

// hash returns the PHC string of an argon2id hash of password with a fresh
// salt.
func (h *hasher) hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	h.release()
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// verify reports whether password matches encoded. An empty or unreadable
// hash is compared against the dummy hash and reported as a mismatch, so it
// costs the same time as a real comparison. bcrypt hashes ($2a$, $2b$,
// $2y$) are accepted too, so an administrator can provision a Secret with
// `htpasswd -nbB`.
func (h *hasher) verify(ctx context.Context, encoded, password string) (bool, error) {
	if len(password) > MaxPasswordBytes {
		// Still spend the time: a length answer must not be faster.
		password = password[:MaxPasswordBytes]
		encoded = ""
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	if strings.HasPrefix(encoded, "$2") {
		// bcrypt reads only 72 bytes; a longer password would match any
		// other with the same beginning.
		return len(password) <= 72 && bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password)) == nil, nil
	}
	p, err := parseArgon2id(encoded)
	valid := err == nil
	if !valid {
		p, _ = parseArgon2id(h.dummy)
	}
	key := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1 && valid, nil
}

type argonParams struct {
	time, memory uint32
	threads      uint8
	salt, key    []byte
}

var errBadHash = errors.New("not an argon2id hash")

// parseArgon2id reads "$argon2id$v=19$m=…,t=…,p=…$salt$key".
func parseArgon2id(s string) (argonParams, error) {
	var p argonParams
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, errBadHash
	}
	for kv := range strings.SplitSeq(parts[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return p, errBadHash
		}
		switch k {
		case "m":
			p.memory = uint32(n)
		case "t":
			p.time = uint32(n)
		case "p":
			if n > maxArgonThreads {
				return p, errBadHash
			}
			p.threads = uint8(n)
		default:
			return p, errBadHash
		}
	}
	if p.memory < 8*uint32(p.threads) || p.memory > maxArgonMemory || p.time < 1 || p.time > maxArgonTime || p.threads < 1 {
		return p, errBadHash
	}
	var err error
	if p.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(p.salt) < 8 {
		return p, errBadHash
	}
	if p.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(p.key) < 16 || len(p.key) > 64 {
		return p, errBadHash
	}
	return p, nil
}
