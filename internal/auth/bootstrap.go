package auth

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
)

const (
	// BootstrapAdminName is the User (and username) EnsureBootstrapAdmin
	// creates.
	BootstrapAdminName = "admin"
	// bootstrapBindingName is fixed so that two replicas bootstrapping at
	// once create one binding, not two.
	bootstrapBindingName = "bootstrap-admin"
)

// EnsureBootstrapAdmin makes sure someone can administer bokujo. When no
// GlobalRoleBinding grants the admin role to an existing, enabled user or
// to any group, it creates the user "admin" with a random password, binds it to
// the admin GlobalRole and returns the password with created=true: the
// caller prints it once, since only its hash is kept. Otherwise it changes
// nothing and returns created=false.
//
// If a user "admin" exists but is no longer bound, it gets a new password
// and is enabled and bound again: with no administrator left, handing the
// operator a working login is the only way back in. Run it from one
// replica (the leader); a replica losing a race returns created=false.
func (s *Service) EnsureBootstrapAdmin(ctx context.Context) (string, bool, error) {
	exists, err := s.adminExists(ctx)
	if err != nil || exists {
		return "", false, err
	}
	password := generatePassword()
	var user v1alpha1.User
	err = s.apiReader.Get(ctx, client.ObjectKey{Name: BootstrapAdminName}, &user)
	switch {
	case apierrors.IsNotFound(err):
		if _, err := s.createLocalUser(ctx, BootstrapAdminName, BootstrapAdminName, "Administrator", password); err != nil {
			if errors.Is(err, ErrUserExists) {
				// Another replica bootstrapping at the same moment is
				// fine; another user holding the username is not.
				if exists, aerr := s.adminExists(ctx); aerr == nil && exists {
					return "", false, nil
				}
			}
			return "", false, fmt.Errorf("bootstrap admin: %w", err)
		}
	case err != nil:
		return "", false, fmt.Errorf("bootstrap admin: read user %s: %w", BootstrapAdminName, err)
	default:
		if err := s.SetPassword(ctx, BootstrapAdminName, password); err != nil {
			return "", false, fmt.Errorf("bootstrap admin: reset the password of the unbound user %s: %w", BootstrapAdminName, err)
		}
		if err := s.Enable(ctx, BootstrapAdminName); err != nil {
			return "", false, fmt.Errorf("bootstrap admin: %w", err)
		}
	}
	binding := &v1alpha1.GlobalRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: bootstrapBindingName},
		Spec: v1alpha1.GlobalRoleBindingSpec{
			GlobalRoleName: v1alpha1.GlobalRoleAdmin,
			Subject:        v1alpha1.Subject{Kind: v1alpha1.SubjectKindUser, Name: BootstrapAdminName},
		},
	}
	if err := s.client.Create(ctx, binding, client.FieldOwner(fieldManager)); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", false, fmt.Errorf("bootstrap admin: bind %s to the %s role: %w", BootstrapAdminName, v1alpha1.GlobalRoleAdmin, err)
	}
	s.log.InfoContext(ctx, "bootstrap administrator created", "user", BootstrapAdminName)
	return password, true, nil
}

// adminExists reports a binding of the admin role to an existing, enabled
// user or to a group. Group members are not checked: a group binding is a
// deliberate choice, and an empty group is the administrators' to fill.
func (s *Service) adminExists(ctx context.Context) (bool, error) {
	var bindings v1alpha1.GlobalRoleBindingList
	if err := s.apiReader.List(ctx, &bindings); err != nil {
		return false, fmt.Errorf("bootstrap admin: list global role bindings: %w", err)
	}
	for _, b := range bindings.Items {
		if b.Spec.GlobalRoleName != v1alpha1.GlobalRoleAdmin || b.DeletionTimestamp != nil {
			continue
		}
		if b.Spec.Subject.Kind == v1alpha1.SubjectKindGroup {
			return true, nil
		}
		var u v1alpha1.User
		err := s.apiReader.Get(ctx, client.ObjectKey{Name: b.Spec.Subject.Name}, &u)
		switch {
		case err == nil && u.Spec.State != v1alpha1.UserStateDisabled:
			return true, nil
		case err == nil:
		case !apierrors.IsNotFound(err):
			return false, fmt.Errorf("bootstrap admin: read user %s: %w", b.Spec.Subject.Name, err)
		}
	}
	return false, nil
}
