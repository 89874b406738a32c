package auth

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
)

var (
	// ErrInvalidCredentials is the one answer to a wrong password, an
	// unknown username and a user without a password alike, so a login
	// attempt does not reveal which usernames exist.
	ErrInvalidCredentials = errors.New("invalid username or password")
	// ErrUserDisabled is returned only after the password was verified,
	// so it tells nothing to someone who does not know it.
	ErrUserDisabled = errors.New("user is disabled")
	// ErrUserExists: the username (or the User object name) is taken.
	ErrUserExists = errors.New("user already exists")
	// ErrUserNotFound: no User of that name.
	ErrUserNotFound = errors.New("user not found")
	// ErrNoLocalLogin: the user logs in only through an external identity
	// provider and has no username to go with a password.
	ErrNoLocalLogin = errors.New("user has no local username")
	// ErrInvalidUsername: the username does not match the User API's rules.
	ErrInvalidUsername = errors.New("invalid username")
)

// usernamePattern repeats the CRD's pattern for spec.username so a bad
// username is refused with a clear error before any object is written.
var usernamePattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9._@]*[a-z0-9])?$`)

const (
	maxUsernameLength    = 64
	maxDisplayNameLength = 256
	fieldManager         = "bokujo-auth"
	// absentSecretName is read in place of a password Secret for logins
	// of unknown users; a User naming it has no usable password.
	absentSecretName = "bokujo-absent-password"
)

// CreateLocalUser creates a User who logs in with username and password.
// The object is named after the username when that is a valid object name
// (so kubectl and audit records show "alice"), otherwise "u-<random>". The
// password's hash goes to a Secret in the system namespace owned by the
// User, so deleting the User deletes the hash.
func (s *Service) CreateLocalUser(ctx context.Context, username, displayName, password string) (*v1alpha1.User, error) {
	return s.createLocalUser(ctx, "", username, displayName, password)
}

func (s *Service) createLocalUser(ctx context.Context, name, username, displayName, password string) (*v1alpha1.User, error) {
	if len(username) > maxUsernameLength || !usernamePattern.MatchString(username) {
		return nil, fmt.Errorf("create user: %w: lowercase letters, digits and -._@, at most %d characters", ErrInvalidUsername, maxUsernameLength)
	}
	if len(displayName) > maxDisplayNameLength {
		return nil, fmt.Errorf("create user %s: display name longer than %d characters", username, maxDisplayNameLength)
	}
	if err := checkPasswordPolicy(username, password); err != nil {
		return nil, fmt.Errorf("create user %s: %w", username, err)
	}
	// The API has no unique index on spec.username; this check narrows
	// the window in which two creates could both take one username.
	var users v1alpha1.UserList
	if err := s.apiReader.List(ctx, &users); err != nil {
		return nil, fmt.Errorf("create user %s: list users: %w", username, err)
	}
	for _, u := range users.Items {
		if u.Spec.Username == username {
			return nil, fmt.Errorf("create user %s: %w", username, ErrUserExists)
		}
	}
	hash, err := s.hasher.hash(ctx, password)
	if err != nil {
		return nil, fmt.Errorf("create user %s: %w", username, err)
	}
	names := []string{name}
	if name == "" {
		names = nil
		if len(validation.IsDNS1123Subdomain(username)) == 0 {
			names = append(names, username)
		}
		names = append(names, "u-"+randomID())
	}
	var user *v1alpha1.User
	for _, n := range names {
		user = &v1alpha1.User{
			ObjectMeta: metav1.ObjectMeta{Name: n},
			Spec: v1alpha1.UserSpec{
				Username:          username,
				DisplayName:       displayName,
				State:             v1alpha1.UserStateActive,
				PasswordSecretRef: &v1alpha1.SecretReference{Name: passwordSecretName(n)},
			},
		}
		err = s.client.Create(ctx, user, client.FieldOwner(fieldManager))
		if !apierrors.IsAlreadyExists(err) {
			break
		}
	}
	if apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create user %s: %w", username, ErrUserExists)
	}
	if err != nil {
		return nil, fmt.Errorf("create user %s: %w", username, err)
	}
	if err := s.writePasswordSecret(ctx, user, user.Spec.PasswordSecretRef.Name, hash); err != nil {
		// Without its hash the user could never log in; undo rather than
		// leave a half-made user whose username is taken.
		if derr := s.client.Delete(ctx, user); derr != nil && !apierrors.IsNotFound(derr) {
			s.log.ErrorContext(ctx, "remove user after failing to store the password", "user", user.Name, "error", derr)
		}
		return nil, fmt.Errorf("create user %s: %w", username, err)
	}
	s.log.InfoContext(ctx, "local user created", "user", user.Name, "username", username)
	return user, nil
}

// passwordSecretName names the hash Secret of a user created here.
// User names made by this package are short, so the result is a valid name.
func passwordSecretName(userName string) string { return "password-" + userName }

// SetPassword replaces the password of the User named name (the object's
// name, not the username) and ends the user's UI sessions, since a password
// change is what people do when they fear someone else has it.
func (s *Service) SetPassword(ctx context.Context, name, password string) error {
	return s.setPassword(ctx, name, password, "")
}

// setPassword keeps the session keepSession (the one changing its own
// password) alive.
func (s *Service) setPassword(ctx context.Context, name, password, keepSession string) error {
	var user v1alpha1.User
	if err := s.apiReader.Get(ctx, client.ObjectKey{Name: name}, &user); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("set password of %s: %w", name, ErrUserNotFound)
		}
		return fmt.Errorf("set password of %s: %w", name, err)
	}
	if user.Spec.Username == "" {
		return fmt.Errorf("set password of %s: %w", name, ErrNoLocalLogin)
	}
	if err := checkPasswordPolicy(user.Spec.Username, password); err != nil {
		return fmt.Errorf("set password of %s: %w", name, err)
	}
	hash, err := s.hasher.hash(ctx, password)
	if err != nil {
		return fmt.Errorf("set password of %s: %w", name, err)
	}
	secretName := passwordSecretName(user.Name)
	if user.Spec.PasswordSecretRef != nil {
		secretName = user.Spec.PasswordSecretRef.Name
	}
	if err := s.writePasswordSecret(ctx, &user, secretName, hash); err != nil {
		return fmt.Errorf("set password of %s: %w", name, err)
	}
	if user.Spec.PasswordSecretRef == nil {
		patch := fmt.Appendf(nil, `{"spec":{"passwordSecretRef":{"name":%q}}}`, secretName)
		if err := s.client.Patch(ctx, &user, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(fieldManager)); err != nil {
			return fmt.Errorf("set password of %s: link the password secret: %w", name, err)
		}
	}
	if err := s.revokeSessions(ctx, user.Name, keepSession); err != nil {
		return fmt.Errorf("set password of %s: %w", name, err)
	}
	if err := s.clearPasswordChange(ctx, &user); err != nil {
		return fmt.Errorf("set password of %s: %w", name, err)
	}
	s.log.InfoContext(ctx, "password changed", "user", user.Name)
	return nil
}

// writePasswordSecret creates or overwrites the hash Secret and makes the
// user its only owner. A leftover Secret of an earlier user of the same
// name still names that user as owner, and the garbage collector would
// delete the new hash with it; replacing the owner prevents that.
func (s *Service) writePasswordSecret(ctx context.Context, user *v1alpha1.User, name, hash string) error {
	owner := userOwnerReference(user)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var sec corev1.Secret
		err := s.apiReader.Get(ctx, client.ObjectKey{Namespace: v1alpha1.SystemNamespace, Name: name}, &sec)
		switch {
		case apierrors.IsNotFound(err):
			sec = corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{
					Name: name, Namespace: v1alpha1.SystemNamespace,
					OwnerReferences: []metav1.OwnerReference{owner},
				},
				Type: corev1.SecretTypeOpaque,
				Data: map[string][]byte{v1alpha1.PasswordHashSecretKey: []byte(hash)},
			}
			if err := s.client.Create(ctx, &sec, client.FieldOwner(fieldManager)); err != nil {
				return fmt.Errorf("create password secret %s: %w", name, err)
			}
			return nil
		case err != nil:
			return fmt.Errorf("read password secret %s: %w", name, err)
		}
		sec.OwnerReferences = []metav1.OwnerReference{owner}
		// A new password is the change that was asked for.
		delete(sec.Annotations, MustChangePasswordAnnotation)
		if sec.Data == nil {
			sec.Data = map[string][]byte{}
		}
		sec.Data[v1alpha1.PasswordHashSecretKey] = []byte(hash)
		if err := s.client.Update(ctx, &sec, client.FieldOwner(fieldManager)); err != nil {
			return fmt.Errorf("update password secret %s: %w", name, err)
		}
		return nil
	})
}

// MustChangePasswordAnnotation on a User asks the user to choose a new
// password (an administrator set the current one). Until they do, every
// request but GET /v1/me, POST /v1/me/password and logout is refused with
// 403 PasswordChangeRequired. It lives on the User, which authentication
// reads from the cache anyway, so the check costs no API call per request.
// Writing a new password removes it.
const MustChangePasswordAnnotation = "bokujo.io/must-change-password"

// RequirePasswordChange asks the local user named name (the object's name)
// to choose a new password. The server refuses their other requests until
// they do; it returns once authentication sees the change.
func (s *Service) RequirePasswordChange(ctx context.Context, name string) error {
	var user v1alpha1.User
	if err := s.apiReader.Get(ctx, client.ObjectKey{Name: name}, &user); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("require a password change of %s: %w", name, ErrUserNotFound)
		}
		return fmt.Errorf("require a password change of %s: %w", name, err)
	}
	if user.Spec.Username == "" || user.Spec.PasswordSecretRef == nil {
		return fmt.Errorf("require a password change of %s: %w", name, ErrNoLocalLogin)
	}
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:"true"}}}`, MustChangePasswordAnnotation)
	if err := s.client.Patch(ctx, &user, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(fieldManager)); err != nil {
		return fmt.Errorf("require a password change of %s: %w", name, err)
	}
	if err := s.waitCachedUser(ctx, name, func(u *v1alpha1.User) bool { return mustChangePassword(u) }); err != nil {
		return fmt.Errorf("require a password change of %s: %w", name, err)
	}
	return nil
}

// clearPasswordChange removes the request for a new password and waits
// until authentication sees it, so the user's next request passes.
func (s *Service) clearPasswordChange(ctx context.Context, user *v1alpha1.User) error {
	if !mustChangePassword(user) {
		return nil
	}
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:null}}}`, MustChangePasswordAnnotation)
	if err := s.client.Patch(ctx, user, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(fieldManager)); err != nil {
		return fmt.Errorf("clear the password change request: %w", err)
	}
	return s.waitCachedUser(ctx, user.Name, func(u *v1alpha1.User) bool { return !mustChangePassword(u) })
}

// waitCachedUser waits (at most ten seconds) until the cached User
// satisfies done: the cache lags the write by milliseconds, and a caller
// acting right after must see its own change.
func (s *Service) waitCachedUser(ctx context.Context, name string, done func(*v1alpha1.User) bool) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		var u v1alpha1.User
		if err := s.cache.Get(ctx, client.ObjectKey{Name: name}, &u); err == nil && done(&u) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the cache to see user %s: %w", name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// mustChangePassword says whether the user was asked to choose a new
// password.
func mustChangePassword(user *v1alpha1.User) bool {
	return user.Annotations[MustChangePasswordAnnotation] == "true"
}

func userOwnerReference(u *v1alpha1.User) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion: v1alpha1.GroupVersion.String(),
		Kind:       "User",
		Name:       u.Name,
		UID:        u.UID,
	}
}

// Disable stops the user at once: logins are refused and the user's tokens
// and sessions no longer authenticate, on every replica as soon as its
// cache sees the change. The tokens are kept, so Enable restores them.
func (s *Service) Disable(ctx context.Context, name string) error {
	return s.setState(ctx, name, v1alpha1.UserStateDisabled)
}

// Enable lets a disabled user in again.
func (s *Service) Enable(ctx context.Context, name string) error {
	return s.setState(ctx, name, v1alpha1.UserStateActive)
}

func (s *Service) setState(ctx context.Context, name string, state v1alpha1.UserState) error {
	user := &v1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: name}}
	patch := fmt.Appendf(nil, `{"spec":{"state":%q}}`, state)
	if err := s.client.Patch(ctx, user, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(fieldManager)); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("set state of user %s to %s: %w", name, state, ErrUserNotFound)
		}
		return fmt.Errorf("set state of user %s to %s: %w", name, state, err)
	}
	// Wait for the cache, so that a caller who disables a user and then
	// tries one of the user's tokens sees it refused.
	s.waitForCache(ctx, func() bool {
		var u v1alpha1.User
		err := s.cache.Get(ctx, client.ObjectKey{Name: name}, &u, client.UnsafeDisableDeepCopy)
		return err == nil && u.Spec.State == state
	})
	s.log.InfoContext(ctx, "user state changed", "user", name, "state", string(state))
	return nil
}

// Verify checks a login. It returns a *ThrottledError without looking at
// the password while the username or the source address is backing off,
// ErrInvalidCredentials for any wrong or unknown combination, and
// ErrUserDisabled only when the password was right.
func (s *Service) Verify(ctx context.Context, username, password, sourceIP string) (*v1alpha1.User, error) {
	ukey, akey := usernameKey(username), addressKey(sourceIP)
	if wait := s.userLimiter.begin(ukey); wait > 0 {
		return nil, &ThrottledError{RetryAfter: wait}
	}
	if wait := s.ipLimiter.begin(akey); wait > 0 {
		s.userLimiter.end(ukey, false, false)
		return nil, &ThrottledError{RetryAfter: wait}
	}
	user, ok, err := s.checkPassword(ctx, normalizeUsername(username), password)
	if err != nil {
		// An infrastructure failure is not the client's failure.
		s.userLimiter.end(ukey, false, false)
		s.ipLimiter.end(akey, false, false)
		return nil, fmt.Errorf("verify password: %w", err)
	}
	if !ok {
		s.userLimiter.end(ukey, true, false)
		s.ipLimiter.end(akey, true, false)
		// The attempted username is not logged when it names nobody:
		// people type their password into the username field.
		attrs := []any{"source", sourceIP}
		if user != nil {
			attrs = append(attrs, "user", user.Name)
		}
		s.log.InfoContext(ctx, "login failed", attrs...)
		return nil, ErrInvalidCredentials
	}
	s.userLimiter.end(ukey, false, true)
	s.ipLimiter.end(akey, false, false)
	if user.Spec.State == v1alpha1.UserStateDisabled || user.DeletionTimestamp != nil {
		s.log.InfoContext(ctx, "login of a disabled user refused", "user", user.Name, "source", sourceIP)
		return nil, ErrUserDisabled
	}
	return user, nil
}

// checkPassword finds the user with that username and compares the
// password with their hash. Every path runs exactly one hash comparison, so
// an unknown user answers as slowly as a wrong password.
func (s *Service) checkPassword(ctx context.Context, username, password string) (*v1alpha1.User, bool, error) {
	user, err := s.userByUsername(ctx, username)
	if err != nil {
		return nil, false, err
	}
	// Without a user the same read is made of a Secret that does not
	// exist: the round trip to the apiserver is part of the answer time.
	secretName := absentSecretName
	if user != nil && user.Spec.PasswordSecretRef != nil {
		secretName = user.Spec.PasswordSecretRef.Name
	}
	hash := ""
	var sec corev1.Secret
	err = s.apiReader.Get(ctx, client.ObjectKey{Namespace: v1alpha1.SystemNamespace, Name: secretName}, &sec)
	switch {
	case secretName == absentSecretName:
	case apierrors.IsNotFound(err):
		s.log.WarnContext(ctx, "password secret of user missing", "user", user.Name)
	case err != nil:
		return nil, false, fmt.Errorf("read password secret of %s: %w", user.Name, err)
	default:
		hash = string(sec.Data[v1alpha1.PasswordHashSecretKey])
	}
	ok, err := s.hasher.verify(ctx, hash, password)
	if err != nil {
		return nil, false, err
	}
	return user, ok && user != nil && hash != "", nil
}

// userByUsername returns the User with spec.username, nil when none. Two
// users claiming one username (possible only by writing objects around the
// API) log in as neither.
func (s *Service) userByUsername(ctx context.Context, username string) (*v1alpha1.User, error) {
	if username == "" || len(username) > maxUsernameLength {
		return nil, nil
	}
	var list v1alpha1.UserList
	if err := s.cache.List(ctx, &list, client.MatchingFields{indexUserUsername: username}); err != nil {
		return nil, fmt.Errorf("look up username: %w", err)
	}
	switch len(list.Items) {
	case 0:
		return nil, nil
	case 1:
		return &list.Items[0], nil
	default:
		s.log.ErrorContext(ctx, "several users share one username; refusing their logins", "users", len(list.Items))
		return nil, nil
	}
}

// groupsOf returns the names of the Group objects listing the user plus the
// external groups in the user's status, sorted and without duplicates.
func (s *Service) groupsOf(ctx context.Context, u *v1alpha1.User) ([]string, error) {
	var list v1alpha1.GroupList
	if err := s.cache.List(ctx, &list, client.MatchingFields{indexGroupMember: u.Name}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list groups of %s: %w", u.Name, err)
	}
	groups := make([]string, 0, len(list.Items)+len(u.Status.Groups))
	for _, g := range list.Items {
		groups = append(groups, g.Name)
	}
	groups = append(groups, u.Status.Groups...)
	slices.Sort(groups)
	return slices.Compact(groups), nil
}

// globalRolesOf returns the GlobalRoles bound to the user directly or
// through one of groups, sorted.
func (s *Service) globalRolesOf(ctx context.Context, name string, groups []string) ([]string, error) {
	var list v1alpha1.GlobalRoleBindingList
	if err := s.cache.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list global role bindings: %w", err)
	}
	var roles []string
	for _, b := range list.Items {
		if b.DeletionTimestamp != nil {
			continue
		}
		sub := b.Spec.Subject
		if (sub.Kind == v1alpha1.SubjectKindUser && sub.Name == name) ||
			(sub.Kind == v1alpha1.SubjectKindGroup && slices.Contains(groups, sub.Name)) {
			roles = append(roles, b.Spec.GlobalRoleName)
		}
	}
	slices.Sort(roles)
	return slices.Compact(roles), nil
}

// IsAdmin reports whether the user is bound to the built-in admin
// GlobalRole, directly or through a group.
func (s *Service) IsAdmin(ctx context.Context, name string, groups []string) (bool, error) {
	roles, err := s.globalRolesOf(ctx, name, groups)
	if err != nil {
		return false, err
	}
	return slices.Contains(roles, v1alpha1.GlobalRoleAdmin), nil
}

// normalizeUsername is applied to login names before lookup: usernames are
// lowercase, and a phone keyboard's capital first letter should not fail.
func normalizeUsername(u string) string { return strings.ToLower(strings.TrimSpace(u)) }
