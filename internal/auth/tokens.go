package auth

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// Token format: TokenPrefix, the Token object's name, "_", the secret.
const (
	TokenPrefix = "bokujo_"

	tokenIDLength     = 16
	tokenSecretLength = 43 // 62^43 > 2^256: the secret holds 256 random bits
	// maxTokenLength refuses absurd credentials before any work.
	maxTokenLength       = 512
	maxDescriptionLength = 256
	base62Digits         = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

var (
	// ErrTokenNotFound: no such token, or (for a non-admin) another
	// user's, which must look the same.
	ErrTokenNotFound = errors.New("token not found")
	// ErrInvalidTokenRequest wraps refused token parameters.
	ErrInvalidTokenRequest = errors.New("invalid token request")
)

// TokenRequest asks for a new token.
type TokenRequest struct {
	// Type is Session, API or Kubeconfig; empty means API.
	Type v1alpha1.TokenType
	// Description says what the token is for (at most 256 characters).
	Description string
	// TTL is the token's lifetime: zero takes the service's default, and
	// it may not exceed the maximum. Sessions always last SessionTTL.
	TTL time.Duration
}

// CreateToken issues a token for the User named userName and returns its
// value, the only time the value exists outside the client: only the hash
// of its secret is stored. It returns once this replica's cache knows the
// token, so the value works at once.
func (s *Service) CreateToken(ctx context.Context, userName string, req TokenRequest) (string, *v1alpha1.Token, error) {
	if req.Type == "" {
		req.Type = v1alpha1.TokenTypeAPI
	}
	ttl, err := s.tokenTTL(req)
	if err != nil {
		return "", nil, fmt.Errorf("create token for %s: %w", userName, err)
	}
	if n := utf8.RuneCountInString(req.Description); n > maxDescriptionLength || !utf8.ValidString(req.Description) ||
		strings.ContainsFunc(req.Description, unicode.IsControl) {
		return "", nil, fmt.Errorf("create token for %s: %w: description must be at most %d printable characters",
			userName, ErrInvalidTokenRequest, maxDescriptionLength)
	}
	var user v1alpha1.User
	if err := s.cache.Get(ctx, client.ObjectKey{Name: userName}, &user); err != nil {
		if apierrors.IsNotFound(err) {
			return "", nil, fmt.Errorf("create token for %s: %w", userName, ErrUserNotFound)
		}
		return "", nil, fmt.Errorf("create token for %s: %w", userName, err)
	}
	if user.Spec.State == v1alpha1.UserStateDisabled {
		return "", nil, fmt.Errorf("create token for %s: %w", userName, ErrUserDisabled)
	}
	secret, err := randomSecret()
	if err != nil {
		return "", nil, fmt.Errorf("create token for %s: %w", userName, err)
	}
	// Kubernetes keeps times to the second; truncating here makes the
	// expiry the caller sees the one that is enforced.
	expires := metav1.NewTime(s.clock.Now().Add(ttl).Truncate(time.Second))
	tok := &v1alpha1.Token{}
	for range 3 {
		tok = &v1alpha1.Token{
			ObjectMeta: metav1.ObjectMeta{
				Name: randomID(),
				// Deleting the user deletes their tokens.
				OwnerReferences: []metav1.OwnerReference{userOwnerReference(&user)},
			},
			Spec: v1alpha1.TokenSpec{
				UserName:    userName,
				Type:        req.Type,
				Description: req.Description,
				ExpiresAt:   &expires,
				Hash:        hashSecret(secret),
			},
		}
		err = s.client.Create(ctx, tok, client.FieldOwner(fieldManager))
		if !apierrors.IsAlreadyExists(err) {
			break
		}
	}
	if err != nil {
		return "", nil, fmt.Errorf("create token for %s: %w", userName, err)
	}
	s.waitForCache(ctx, func() bool {
		var t v1alpha1.Token
		return s.cache.Get(ctx, client.ObjectKey{Name: tok.Name}, &t, client.UnsafeDisableDeepCopy) == nil
	})
	s.log.InfoContext(ctx, "token created", "token", tok.Name, "user", userName, "type", string(req.Type), "expiresAt", expires.UTC())
	return TokenPrefix + tok.Name + "_" + secret, tok, nil
}

func (s *Service) tokenTTL(req TokenRequest) (time.Duration, error) {
	switch req.Type {
	case v1alpha1.TokenTypeSession:
		return s.sessionTTL, nil
	case v1alpha1.TokenTypeAPI, v1alpha1.TokenTypeKubeconfig:
	default:
		return 0, fmt.Errorf("%w: unknown type %q", ErrInvalidTokenRequest, req.Type)
	}
	switch {
	case req.TTL < 0:
		return 0, fmt.Errorf("%w: negative TTL", ErrInvalidTokenRequest)
	case req.TTL == 0:
		return s.defaultTokenTTL, nil
	case req.TTL > s.maxTokenTTL:
		return 0, fmt.Errorf("%w: TTL longer than the maximum of %s", ErrInvalidTokenRequest, s.maxTokenTTL)
	}
	return req.TTL, nil
}

// ListTokens returns the tokens of the User named owner, or every token when
// owner is empty, newest first.
func (s *Service) ListTokens(ctx context.Context, owner string) ([]v1alpha1.Token, error) {
	var list v1alpha1.TokenList
	var opts []client.ListOption
	if owner != "" {
		opts = append(opts, client.MatchingFields{indexTokenUser: owner})
	}
	if err := s.cache.List(ctx, &list, opts...); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	slices.SortFunc(list.Items, func(a, b v1alpha1.Token) int {
		if c := b.CreationTimestamp.Compare(a.CreationTimestamp.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return list.Items, nil
}

// RevokeToken deletes the token id. With owner set it deletes only that
// user's token and answers ErrTokenNotFound for anyone else's, so a user
// cannot learn which token ids exist. It returns once this replica's cache
// has dropped the token.
func (s *Service) RevokeToken(ctx context.Context, id, owner string) error {
	if len(validation.IsDNS1123Subdomain(id)) > 0 {
		return fmt.Errorf("revoke token: %w", ErrTokenNotFound)
	}
	var tok v1alpha1.Token
	if err := s.cache.Get(ctx, client.ObjectKey{Name: id}, &tok); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("revoke token %s: %w", id, ErrTokenNotFound)
		}
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	if owner != "" && tok.Spec.UserName != owner {
		return fmt.Errorf("revoke token %s: %w", id, ErrTokenNotFound)
	}
	if err := s.deleteToken(ctx, &tok); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("revoke token %s: %w", id, ErrTokenNotFound)
		}
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	s.log.InfoContext(ctx, "token revoked", "token", id, "user", tok.Spec.UserName)
	return nil
}

// deleteToken deletes exactly the object read (UID precondition) and waits
// until the cache no longer serves it.
func (s *Service) deleteToken(ctx context.Context, tok *v1alpha1.Token) error {
	uid := tok.UID
	if err := s.client.Delete(ctx, tok, client.Preconditions{UID: &uid}); err != nil {
		return err
	}
	s.waitForCache(ctx, func() bool {
		var t v1alpha1.Token
		err := s.cache.Get(ctx, client.ObjectKey{Name: tok.Name}, &t, client.UnsafeDisableDeepCopy)
		return apierrors.IsNotFound(err) || (err == nil && t.UID != uid)
	})
	return nil
}

// revokeSessions deletes the user's Session tokens except keep.
func (s *Service) revokeSessions(ctx context.Context, userName, keep string) error {
	tokens, err := s.ListTokens(ctx, userName)
	if err != nil {
		return err
	}
	for i := range tokens {
		t := &tokens[i]
		if t.Spec.Type != v1alpha1.TokenTypeSession || t.Name == keep {
			continue
		}
		if err := s.deleteToken(ctx, t); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("revoke session %s: %w", t.Name, err)
		}
	}
	return nil
}

// waitForCache polls cond until it holds or a few seconds pass. The write
// has been made either way; waiting only makes it visible to the next
// request served by this replica.
func (s *Service) waitForCache(ctx context.Context, cond func() bool) {
	ctx, cancel := context.WithTimeout(ctx, defaultCacheWaitPeriod)
	defer cancel()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			s.log.WarnContext(ctx, "cache did not catch up with a write in time")
			return
		case <-t.C:
		}
	}
}

// randomID is a Token or User name: 16 characters of [a-z2-7], 80 bits,
// so names do not collide and a token id says nothing about its owner.
func randomID() string {
	return strings.ToLower(rand.Text()[:tokenIDLength])
}

// randomSecret is 256 random bits written as 43 base62 characters: no
// punctuation, so a double click selects the whole token.
func randomSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token secret: %w", err)
	}
	text := new(big.Int).SetBytes(b).Text(62)
	return strings.Repeat("0", tokenSecretLength-len(text)) + text, nil
}

// hashSecret is what spec.hash stores. A plain SHA-256 is enough here,
// unlike for passwords: the secret is 256 random bits, so no guessing
// attack exists that a slow hash would slow down, and a fast hash keeps
// authentication of every proxied request cheap.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// secretMatches compares in constant time, so response timing tells
// nothing about how much of a guessed secret was right.
func secretMatches(tok *v1alpha1.Token, secret string) bool {
	want, err := hex.DecodeString(tok.Spec.Hash)
	if err != nil || len(want) != sha256.Size {
		return false
	}
	got := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(got[:], want) == 1
}

// parseToken splits a token value into id and secret, refusing anything
// not shaped like one.
func parseToken(v string) (id, secret string, ok bool) {
	if len(v) > maxTokenLength {
		return "", "", false
	}
	rest, ok := strings.CutPrefix(v, TokenPrefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || id == "" || len(validation.IsDNS1123Subdomain(id)) > 0 {
		return "", "", false
	}
	if len(secret) < 32 || len(secret) > 128 || strings.ContainsFunc(secret, func(r rune) bool {
		return !strings.ContainsRune(base62Digits, r)
	}) {
		return "", "", false
	}
	return id, secret, true
}

// usageRecorder writes status.lastUsedTime in the background, at most once
// per interval per token, so that authentication never waits for a write
// and a busy token costs the management cluster one write a minute.
type usageRecorder struct {
	every  time.Duration
	mu     sync.Mutex
	queued map[string]time.Time
	ch     chan usage
}

type usage struct {
	id string
	at time.Time
}

func newUsageRecorder(every time.Duration) *usageRecorder {
	return &usageRecorder{every: every, queued: map[string]time.Time{}, ch: make(chan usage, 1024)}
}

// touch notes that tok authenticated a request at now.
func (u *usageRecorder) touch(tok *v1alpha1.Token, now time.Time) {
	if last := tok.Status.LastUsedTime; last != nil && now.Sub(last.Time) < u.every {
		return
	}
	u.mu.Lock()
	if at, ok := u.queued[tok.Name]; ok && now.Sub(at) < u.every {
		u.mu.Unlock()
		return
	}
	u.queued[tok.Name] = now
	u.mu.Unlock()
	select {
	case u.ch <- usage{id: tok.Name, at: now}:
	default:
		// The writer is behind; dropping a last-used time is harmless.
	}
}

// prune forgets tokens whose interval has passed.
func (u *usageRecorder) prune(now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for id, at := range u.queued {
		if now.Sub(at) >= u.every {
			delete(u.queued, id)
		}
	}
}

func (u *usageRecorder) run(ctx context.Context, s *Service) {
	for {
		select {
		case <-ctx.Done():
			return
		case use := <-u.ch:
			s.writeLastUsed(ctx, use)
		}
	}
}

func (s *Service) writeLastUsed(ctx context.Context, use usage) {
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"lastUsedTime": metav1.NewTime(use.at)}})
	if err != nil {
		return
	}
	tok := &v1alpha1.Token{ObjectMeta: metav1.ObjectMeta{Name: use.id}}
	err = s.client.Status().Patch(ctx, tok, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(fieldManager))
	if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
		s.log.WarnContext(ctx, "record token use", "token", use.id, "error", err)
	}
}
