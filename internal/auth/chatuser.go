package auth

import (
	"context"

	"bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/proxy"
)

// ChatUser returns the bokujo user linked to an account of a chat service
// (spec.identities entry with provider, e.g. "slack", and the account's
// stable id as subject) with their groups, as the proxy would see them.
// It returns nil for no linked user and for a disabled one: chat requests
// of either are refused.
func (s *Service) ChatUser(ctx context.Context, provider, subject string) (*proxy.User, error) {
	u, err := s.userByIdentity(ctx, provider, subject)
	if err != nil || u == nil {
		return nil, err
	}
	if u.Spec.State == v1alpha1.UserStateDisabled {
		return nil, nil
	}
	groups, err := s.groupsOf(ctx, u)
	if err != nil {
		return nil, err
	}
	return &proxy.User{Name: u.Name, Groups: groups, UID: string(u.UID)}, nil
}
