package auth

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/auth/ldap"
)

// DefaultGroupRefreshInterval is how often the groups of external users
// are read again from their providers.
const DefaultGroupRefreshInterval = 15 * time.Minute

// indexUserIdentity indexes Users by "<provider>/<subject>".
const indexUserIdentity = "spec.identities"

// Limits of the User API that external values are fitted into.
const (
	maxGroupNameLength = 256
	maxExternalGroups  = 512
	maxSubjectLength   = 256
)

var (
	// ErrProviderNotFound: no enabled AuthProvider of that name and type.
	ErrProviderNotFound = errors.New("identity provider not found or disabled")
	// errProviderConfig: the provider's configuration or Secret is unusable;
	// the administrator sees the detail, the person logging in does not.
	errProviderConfig = errors.New("identity provider misconfigured")
)

// ExternalIdentity is a person an identity provider vouches for.
type ExternalIdentity struct {
	// Provider is the AuthProvider's name.
	Provider string
	// Subject is the provider's stable id of the account: the key of the
	// bokujo User, never a name or e-mail address that can change hands.
	Subject string
	// Username and DisplayName are shown, never used as a key.
	Username    string
	DisplayName string
	// Groups are the provider's groups, already prefixed.
	Groups []string
	// grant, when set, lets bokujo ask the provider for the groups again
	// without the person (see RefreshGroups); it is stored, never logged.
	grant string
}

func identityKey(provider, subject string) string { return provider + "/" + subject }

// externalUserName derives the User object's name from provider and
// subject. A hash, rather than the provider's username, is a valid name
// whatever the provider sends, cannot collide with a local user's name
// (those are not of this form unless chosen so, and then the identity
// index, not the name, decides), and makes concurrent first logins of one
// person on two replicas create the same object, so one of them simply
// finds it.
func externalUserName(provider, subject string) string {
	sum := sha256.Sum256([]byte(identityKey(provider, subject)))
	return "u-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:15]))
}

// prefixGroups prefixes, bounds and sorts a provider's groups.
func prefixGroups(prefix string, groups []string) []string {
	out := make([]string, 0, len(groups))
	for _, g := range groups {
		g = prefix + g
		// Kubernetes' own groups must never come from outside: a
		// provider reporting "system:masters" would be a cluster admin.
		if g == "" || len(g) > maxGroupNameLength || strings.HasPrefix(g, "system:") {
			continue
		}
		out = append(out, g)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > maxExternalGroups {
		out = out[:maxExternalGroups]
	}
	return out
}

// LoginExternal maps id to its bokujo User, creating the User at the first
// login, records the provider's current groups, and opens a session. A
// disabled User gives ErrUserDisabled whatever the provider said.
func (s *Service) LoginExternal(ctx context.Context, id ExternalIdentity, sourceIP string) (*Session, error) {
	user, err := s.syncExternalUser(ctx, id)
	if err != nil {
		return nil, err
	}
	if id.grant != "" {
		if err := s.storeGrant(ctx, user, id.Provider, id.Subject, id.grant); err != nil {
			return nil, err
		}
	}
	value, tok, err := s.CreateToken(ctx, user.Name, TokenRequest{
		Type:        v1alpha1.TokenTypeSession,
		Description: "UI session via " + id.Provider + " from " + printable(sourceIP, 64),
	})
	if err != nil {
		return nil, fmt.Errorf("open session: %w", err)
	}
	s.log.InfoContext(ctx, "login", "user", user.Name, "provider", id.Provider, "session", tok.Name, "source", sourceIP)
	return &Session{
		Token:     value,
		ID:        tok.Name,
		User:      user,
		CSRFToken: s.csrfToken(tok.Name),
		ExpiresAt: tok.Spec.ExpiresAt.Time,
	}, nil
}

// syncExternalUser finds or creates the User of id and writes its groups
// and login time.
func (s *Service) syncExternalUser(ctx context.Context, id ExternalIdentity) (*v1alpha1.User, error) {
	if id.Provider == "" || id.Subject == "" || len(id.Subject) > maxSubjectLength {
		return nil, fmt.Errorf("external login: %w: unusable subject", ErrInvalidCredentials)
	}
	user, err := s.userByIdentity(ctx, id.Provider, id.Subject)
	if err != nil {
		return nil, fmt.Errorf("external login: %w", err)
	}
	if user == nil {
		if user, err = s.createExternalUser(ctx, id); err != nil {
			return nil, fmt.Errorf("external login: %w", err)
		}
	}
	if user.Spec.State == v1alpha1.UserStateDisabled || user.DeletionTimestamp != nil {
		s.log.InfoContext(ctx, "login of a disabled user refused", "user", user.Name, "provider", id.Provider)
		return nil, ErrUserDisabled
	}
	groups := prefixGroups("", id.Groups)
	if err := s.writeExternalGroups(ctx, user.Name, groups, true); err != nil {
		return nil, fmt.Errorf("external login: %w", err)
	}
	user = user.DeepCopy()
	user.Status.Groups = groups
	return user, nil
}

// userByIdentity returns the User linked to provider/subject, nil when none.
func (s *Service) userByIdentity(ctx context.Context, provider, subject string) (*v1alpha1.User, error) {
	var list v1alpha1.UserList
	if err := s.cache.List(ctx, &list, client.MatchingFields{indexUserIdentity: identityKey(provider, subject)}); err != nil {
		return nil, fmt.Errorf("look up identity: %w", err)
	}
	switch len(list.Items) {
	case 0:
		return nil, nil
	case 1:
		return &list.Items[0], nil
	default:
		// Written around the API; refusing is safer than picking one.
		return nil, fmt.Errorf("identity %s/%s is linked to %d users", provider, subject, len(list.Items))
	}
}

func (s *Service) createExternalUser(ctx context.Context, id ExternalIdentity) (*v1alpha1.User, error) {
	name := externalUserName(id.Provider, id.Subject)
	display := printable(id.DisplayName, maxDisplayNameLength)
	if display == "" {
		display = printable(id.Username, maxDisplayNameLength)
	}
	user := &v1alpha1.User{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.UserSpec{
			DisplayName: display,
			State:       v1alpha1.UserStateActive,
			Identities:  []v1alpha1.UserIdentity{{Provider: id.Provider, Subject: id.Subject}},
		},
	}
	err := s.client.Create(ctx, user, client.FieldOwner(fieldManager))
	if apierrors.IsAlreadyExists(err) {
		// Another replica created it a moment ago, or an administrator
		// did; it counts only if it carries this identity.
		var existing v1alpha1.User
		if err := s.apiReader.Get(ctx, client.ObjectKey{Name: name}, &existing); err != nil {
			return nil, fmt.Errorf("read user %s: %w", name, err)
		}
		if !slices.Contains(existing.Spec.Identities, v1alpha1.UserIdentity{Provider: id.Provider, Subject: id.Subject}) {
			return nil, fmt.Errorf("user %s exists without identity %s", name, identityKey(id.Provider, id.Subject))
		}
		user = &existing
	} else if err != nil {
		return nil, fmt.Errorf("create user %s: %w", name, err)
	} else {
		s.log.InfoContext(ctx, "external user created", "user", name, "provider", id.Provider)
	}
	s.waitForCache(ctx, func() bool {
		u, err := s.userByIdentity(ctx, id.Provider, id.Subject)
		return err == nil && u != nil
	})
	return user, nil
}

// writeExternalGroups replaces status.groups and, at a login, sets
// status.lastLoginTime, then waits until the cache has the groups, so the
// session about to be used authenticates with them.
func (s *Service) writeExternalGroups(ctx context.Context, name string, groups []string, login bool) error {
	status := map[string]any{"groups": groups}
	if len(groups) == 0 {
		status["groups"] = nil
	}
	if login {
		status["lastLoginTime"] = s.clock.Now().UTC().Format(time.RFC3339)
	}
	patch, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return fmt.Errorf("encode groups of %s: %w", name, err)
	}
	u := &v1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := s.client.Status().Patch(ctx, u, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(fieldManager)); err != nil {
		return fmt.Errorf("write groups of %s: %w", name, err)
	}
	s.waitForCache(ctx, func() bool {
		var cur v1alpha1.User
		err := s.cache.Get(ctx, client.ObjectKey{Name: name}, &cur, client.UnsafeDisableDeepCopy)
		return err == nil && slices.Equal(cur.Status.Groups, groups)
	})
	return nil
}

// provider reads the enabled AuthProvider name of type typ.
func (s *Service) provider(ctx context.Context, name string, typ v1alpha1.AuthProviderType) (*v1alpha1.AuthProvider, error) {
	p, err := s.enabledProvider(ctx, name)
	if err != nil {
		return nil, err
	}
	if p.Spec.Type != typ {
		return nil, ErrProviderNotFound
	}
	return p, nil
}

// enabledProvider reads the enabled AuthProvider name, of any type.
func (s *Service) enabledProvider(ctx context.Context, name string) (*v1alpha1.AuthProvider, error) {
	var p v1alpha1.AuthProvider
	if err := s.cache.Get(ctx, client.ObjectKey{Name: name}, &p); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, ErrProviderNotFound
		}
		return nil, fmt.Errorf("read auth provider %s: %w", name, err)
	}
	if p.Spec.State == v1alpha1.AuthProviderDisabled || p.DeletionTimestamp != nil {
		return nil, ErrProviderNotFound
	}
	return &p, nil
}

// secretValue reads key of the Secret ref in the system namespace, straight
// from the apiserver: credentials are not kept in an informer cache.
func (s *Service) secretValue(ctx context.Context, ref v1alpha1.SecretReference, key string) (string, error) {
	var sec corev1.Secret
	if err := s.apiReader.Get(ctx, client.ObjectKey{Namespace: v1alpha1.SystemNamespace, Name: ref.Name}, &sec); err != nil {
		return "", fmt.Errorf("%w: read secret %s: %w", errProviderConfig, ref.Name, err)
	}
	v := sec.Data[key]
	if len(v) == 0 {
		return "", fmt.Errorf("%w: secret %s has no key %q", errProviderConfig, ref.Name, key)
	}
	return string(v), nil
}

func certPool(pemData string) (*x509.CertPool, error) {
	if pemData == "" {
		return nil, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(pemData)) {
		return nil, fmt.Errorf("%w: caData holds no PEM certificate", errProviderConfig)
	}
	return pool, nil
}

// ldapClient builds the client of an LDAP provider.
func (s *Service) ldapClient(ctx context.Context, p *v1alpha1.AuthProvider) (*ldap.Client, error) {
	spec := p.Spec.LDAP
	if spec == nil {
		return nil, fmt.Errorf("%w: no ldap settings", errProviderConfig)
	}
	password, err := s.secretValue(ctx, spec.BindPasswordRef, v1alpha1.BindPasswordSecretKey)
	if err != nil {
		return nil, err
	}
	pool, err := certPool(spec.CAData)
	if err != nil {
		return nil, err
	}
	cfg := ldap.Config{
		URL: spec.URL, StartTLS: spec.StartTLS, RootCAs: pool,
		BindDN: spec.BindDN, BindPassword: password,
		UserBaseDN: spec.UserBaseDN, UserFilter: spec.UserFilter,
		UsernameAttribute: spec.UsernameAttribute, DisplayNameAttribute: spec.DisplayNameAttribute,
		MemberOfAttribute: spec.MemberOfAttribute, NestedGroups: spec.NestedGroups,
	}
	if gs := spec.GroupSearch; gs != nil {
		cfg.GroupBaseDN, cfg.GroupFilter, cfg.GroupNameAttribute = gs.BaseDN, gs.Filter, gs.NameAttribute
	}
	c, err := ldap.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errProviderConfig, err)
	}
	return c, nil
}

// LoginLDAP checks a password against the LDAP provider and opens a
// session, with the same back-off as a local login: per username (within
// the provider) and per source address.
func (s *Service) LoginLDAP(ctx context.Context, provider, username, password, sourceIP string) (*Session, error) {
	ukey, akey := "ldap:"+provider+":"+usernameKey(username), addressKey(sourceIP)
	if wait := s.userLimiter.begin(ukey); wait > 0 {
		return nil, &ThrottledError{RetryAfter: wait}
	}
	if wait := s.ipLimiter.begin(akey); wait > 0 {
		s.userLimiter.end(ukey, false, false)
		return nil, &ThrottledError{RetryAfter: wait}
	}
	failed, succeeded := false, false
	defer func() {
		s.userLimiter.end(ukey, failed, succeeded)
		s.ipLimiter.end(akey, failed, false)
	}()
	p, err := s.provider(ctx, provider, v1alpha1.AuthProviderLDAP)
	if err != nil {
		return nil, err
	}
	c, err := s.ldapClient(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("ldap login via %s: %w", provider, err)
	}
	id, err := c.Authenticate(ctx, username, password)
	if errors.Is(err, ldap.ErrInvalidCredentials) {
		failed = true
		s.log.InfoContext(ctx, "login failed", "provider", provider, "source", sourceIP)
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, fmt.Errorf("ldap login via %s: %w", provider, err)
	}
	succeeded = true
	return s.LoginExternal(ctx, ExternalIdentity{
		Provider: provider, Subject: id.Subject, Username: id.Username, DisplayName: id.DisplayName,
		Groups: prefixGroups(p.Spec.LDAP.GroupPrefix, id.Groups),
	}, sourceIP)
}

// runGroupRefresh calls RefreshGroups every interval until ctx ends.
func (s *Service) runGroupRefresh(ctx context.Context) {
	t := s.clock.NewTicker(s.groupRefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		if err := s.RefreshGroups(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "group refresh", "error", err)
		}
	}
}
