package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/auth/ldap"
)

// A provider grant is what lets bokujo ask a provider about a person
// without them: the OIDC refresh token, or the GitHub OAuth access token,
// of their last login. It lives in a Secret of the system namespace owned
// by the User (so it goes with the User) and is never logged or returned.
const (
	grantSecretKey    = "grant"
	grantLabelUser    = "auth.bokujo.io/user"
	grantLabelProvide = "auth.bokujo.io/provider"
)

// errGrantRevoked: the provider refused the stored grant (revoked,
// expired, or the account is gone). The person keeps no external group
// until they log in again.
var errGrantRevoked = errors.New("the provider refused the stored grant")

func grantSecretName(provider, subject string) string {
	return "grant-" + externalUserName(provider, subject)
}

// storeGrant keeps the grant of user's identity at provider.
func (s *Service) storeGrant(ctx context.Context, user *v1alpha1.User, provider, subject, grant string) error {
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: grantSecretName(provider, subject), Namespace: v1alpha1.SystemNamespace,
			Labels: map[string]string{grantLabelUser: user.Name, grantLabelProvide: provider},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: v1alpha1.GroupVersion.String(), Kind: "User", Name: user.Name, UID: user.UID,
			}},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{grantSecretKey: []byte(grant)},
	}
	err := s.client.Create(ctx, sec, client.FieldOwner(fieldManager))
	if apierrors.IsAlreadyExists(err) {
		err = s.client.Update(ctx, sec, client.FieldOwner(fieldManager))
	}
	if err != nil {
		return fmt.Errorf("store provider grant of %s: %w", user.Name, err)
	}
	return nil
}

// readGrant returns the stored grant, "" when there is none.
func (s *Service) readGrant(ctx context.Context, provider, subject string) (string, error) {
	var sec corev1.Secret
	err := s.apiReader.Get(ctx, client.ObjectKey{Namespace: v1alpha1.SystemNamespace, Name: grantSecretName(provider, subject)}, &sec)
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read provider grant: %w", err)
	}
	return string(sec.Data[grantSecretKey]), nil
}

func (s *Service) dropGrant(ctx context.Context, provider, subject string) error {
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: v1alpha1.SystemNamespace, Name: grantSecretName(provider, subject)}}
	if err := s.client.Delete(ctx, sec); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete provider grant: %w", err)
	}
	return nil
}

// groupSource answers the current groups of one identity of a provider.
// ok is false when the provider cannot be asked without the person (no
// stored grant): their groups then change at their next login.
type groupSource func(ctx context.Context, subject string) (groups []string, ok bool, err error)

// groupSourceOf builds the groupSource of provider p.
func (s *Service) groupSourceOf(ctx context.Context, p *v1alpha1.AuthProvider) (groupSource, error) {
	switch p.Spec.Type {
	case v1alpha1.AuthProviderLDAP:
		c, err := s.ldapClient(ctx, p)
		if err != nil {
			return nil, err
		}
		prefix := p.Spec.LDAP.GroupPrefix
		return func(ctx context.Context, subject string) ([]string, bool, error) {
			id, err := c.Lookup(ctx, subject)
			if errors.Is(err, ldap.ErrUserNotFound) {
				// Left the directory: no external group.
				return nil, true, nil
			}
			if err != nil {
				return nil, false, err
			}
			return prefixGroups(prefix, id.Groups), true, nil
		}, nil
	case v1alpha1.AuthProviderOIDC:
		c, err := s.oidcClient(ctx, p, "", false)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, subject string) ([]string, bool, error) {
			return s.refreshOIDC(ctx, c, p.Name, subject)
		}, nil
	case v1alpha1.AuthProviderGitHub:
		c, err := s.githubClient(ctx, p, false)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, subject string) ([]string, bool, error) {
			return s.refreshGitHub(ctx, c, p.Name, subject)
		}, nil
	}
	return nil, nil
}

// refreshOIDC redeems the stored refresh token for a new ID token, checks
// it as at a login (signature, issuer, audience, expiry) and that it names
// the same subject, and reads its groups. A rotated refresh token replaces
// the stored one.
func (s *Service) refreshOIDC(ctx context.Context, c *oidcClient, provider, subject string) ([]string, bool, error) {
	rt, err := s.readGrant(ctx, provider, subject)
	if err != nil || rt == "" {
		return nil, false, err
	}
	tok, err := c.oauth.TokenSource(oidc.ClientContext(ctx, c.http), &oauth2.Token{RefreshToken: rt}).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			return nil, true, s.revoked(ctx, provider, subject, "refresh refused: "+printable(re.ErrorCode, 64))
		}
		return nil, false, fmt.Errorf("refresh token: status %s", exchangeStatus(err))
	}
	raw, _ := tok.Extra("id_token").(string)
	id, err := verifyIDTokenClaims(ctx, c.verifier, raw, false, "", c.spec)
	if err != nil {
		if errors.Is(err, errIDToken) {
			return nil, true, s.revoked(ctx, provider, subject, err.Error())
		}
		return nil, false, err
	}
	if id.Subject != subject {
		return nil, true, s.revoked(ctx, provider, subject, "the refreshed id token names another subject")
	}
	if tok.RefreshToken != "" && tok.RefreshToken != rt {
		owner, err := s.userByIdentity(ctx, provider, subject)
		if err != nil {
			return nil, false, err
		}
		if owner != nil {
			if err := s.storeGrant(ctx, owner, provider, subject, tok.RefreshToken); err != nil {
				return nil, false, err
			}
		}
	}
	return id.Groups, true, nil
}

// refreshGitHub reads the account's organizations and teams again with the
// stored access token and applies the allow-list as at a login.
func (s *Service) refreshGitHub(ctx context.Context, c *githubClient, provider, subject string) ([]string, bool, error) {
	token, err := s.readGrant(ctx, provider, subject)
	if err != nil || token == "" {
		return nil, false, err
	}
	acct, err := c.account(ctx, token)
	if errors.Is(err, errGitHubUnauthorized) {
		return nil, true, s.revoked(ctx, provider, subject, "token refused")
	}
	if err != nil {
		return nil, false, err
	}
	if strconv.FormatInt(acct.User.ID, 10) != subject {
		return nil, true, s.revoked(ctx, provider, subject, "the token belongs to another account")
	}
	id, err := acct.identity(c.spec)
	if errors.Is(err, ErrNotAllowed) {
		// Left every allowed organization: no group from GitHub.
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	return id.Groups, true, nil
}

// revoked forgets a grant the provider no longer honours.
func (s *Service) revoked(ctx context.Context, provider, subject, why string) error {
	s.log.InfoContext(ctx, "provider grant no longer valid; external groups removed until the next login", "provider", provider, "reason", why)
	return s.dropGrant(ctx, provider, subject)
}

// RefreshGroups reads again the groups of every external user from their
// provider, so that a group removed there stops granting access within one
// interval: LDAP is asked with the service account; OIDC with the refresh
// token and GitHub with the access token of the person's last login. A
// person who left the directory, whose grant the provider refuses, or who
// left GitHub's allowed organizations keeps no external group. Users of
// an OIDC provider that issues no refresh token (ask for the
// offline_access scope) are refreshed at their next login.
func (s *Service) RefreshGroups(ctx context.Context) error {
	var users v1alpha1.UserList
	if err := s.cache.List(ctx, &users); err != nil {
		return fmt.Errorf("refresh groups: list users: %w", err)
	}
	sources := map[string]groupSource{}
	var errs []error
	for i := range users.Items {
		u := &users.Items[i]
		for _, ident := range u.Spec.Identities {
			src, seen := sources[ident.Provider]
			if !seen {
				p, err := s.enabledProvider(ctx, ident.Provider)
				if err == nil {
					src, err = s.groupSourceOf(ctx, p)
				}
				if err != nil && !errors.Is(err, ErrProviderNotFound) {
					errs = append(errs, fmt.Errorf("provider %s: %w", ident.Provider, err))
				}
				sources[ident.Provider] = src
			}
			if src == nil {
				continue
			}
			groups, ok, err := src(ctx, ident.Subject)
			if err != nil {
				errs = append(errs, fmt.Errorf("user %s: %w", u.Name, err))
			}
			if !ok || slices.Equal(groups, u.Status.Groups) {
				continue
			}
			if err := s.writeExternalGroups(ctx, u.Name, groups, false); err != nil {
				errs = append(errs, err)
				continue
			}
			s.log.InfoContext(ctx, "external groups refreshed", "user", u.Name, "provider", ident.Provider, "groups", len(groups))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("refresh groups: %w", err)
	}
	return nil
}
