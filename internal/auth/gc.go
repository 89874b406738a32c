package auth

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// runGC deletes expired tokens every gcInterval until ctx ends, and prunes
// the in-memory back-off and usage tables on the same beat. Expired tokens
// are already refused by Authenticate; deleting them keeps the Token list
// (and every replica's cache) from growing with dead sessions.
func (s *Service) runGC(ctx context.Context) {
	t := s.clock.NewTicker(s.gcInterval)
	defer t.Stop()
	for {
		s.collectExpired(ctx)
		s.userLimiter.prune()
		s.ipLimiter.prune()
		s.usage.prune(s.clock.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// collectExpired deletes the tokens whose expiry has passed. Each delete
// is conditional on the UID read, so a token is never deleted in place of
// another that took its name.
func (s *Service) collectExpired(ctx context.Context) {
	var list v1alpha1.TokenList
	if err := s.cache.List(ctx, &list); err != nil {
		if ctx.Err() == nil {
			s.log.WarnContext(ctx, "list tokens to collect", "error", err)
		}
		return
	}
	now := s.clock.Now()
	for i := range list.Items {
		tok := &list.Items[i]
		if tok.Spec.ExpiresAt == nil || now.Before(tok.Spec.ExpiresAt.Time) || tok.DeletionTimestamp != nil {
			continue
		}
		uid := tok.UID
		err := s.client.Delete(ctx, tok, client.Preconditions{UID: &uid})
		switch {
		case err == nil:
			s.log.InfoContext(ctx, "expired token deleted", "token", tok.Name, "user", tok.Spec.UserName, "type", string(tok.Spec.Type))
		case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
			// Another replica was first.
		case ctx.Err() != nil:
			return
		default:
			s.log.WarnContext(ctx, "delete expired token", "token", tok.Name, "error", err)
		}
	}
}
