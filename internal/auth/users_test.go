package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/auth"
)

func TestCreateLocalUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	taken, _ := f.user("taken")

	for _, tc := range []struct {
		name, username, password string
		wantErr                  error
	}{
		{"upper-case username", "Alice-" + f.suffix, "long enough password", auth.ErrInvalidUsername},
		{"space in username", "al ice-" + f.suffix, "long enough password", auth.ErrInvalidUsername},
		{"username too long", strings.Repeat("a", 65), "long enough password", auth.ErrInvalidUsername},
		{"password too short", "short-" + f.suffix, "elevenchars", auth.ErrWeakPassword},
		{"password is the username", "samename-" + f.suffix, "SAMENAME-" + f.suffix, auth.ErrWeakPassword},
		{"password too long", "long-" + f.suffix, strings.Repeat("x", auth.MaxPasswordBytes+1), auth.ErrWeakPassword},
		{"username taken", taken.Spec.Username, "long enough password", auth.ErrUserExists},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.CreateLocalUser(ctx, tc.username, "", tc.password)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), tc.password) {
				t.Errorf("the error holds the password: %v", err)
			}
		})
	}

	t.Run("stored as an argon2id hash in a Secret the user owns", func(t *testing.T) {
		password := "correct horse battery staple"
		u, err := f.svc.CreateLocalUser(ctx, "erin@example.com-"+f.suffix+".x", "Erin", password)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.client.Delete(context.Background(), u) })
		if !strings.HasPrefix(u.Name, "u-") {
			t.Errorf("a username that is no object name got the name %q", u.Name)
		}
		var sec corev1.Secret
		key := client.ObjectKey{Namespace: v1alpha1.SystemNamespace, Name: u.Spec.PasswordSecretRef.Name}
		if err := f.client.Get(ctx, key, &sec); err != nil {
			t.Fatal(err)
		}
		hash := string(sec.Data[v1alpha1.PasswordHashSecretKey])
		if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
			t.Errorf("hash %q", hash)
		}
		if len(sec.OwnerReferences) != 1 || sec.OwnerReferences[0].UID != u.UID {
			t.Errorf("owner references %+v", sec.OwnerReferences)
		}
		raw, _ := json.Marshal(u)
		if strings.Contains(string(raw), password) || strings.Contains(string(raw), "argon2") {
			t.Errorf("the User object holds the password or its hash: %s", raw)
		}
		if r := f.browser().login(t, u.Spec.Username, password); r.status != http.StatusOK {
			t.Errorf("login: %d %s", r.status, r.body)
		}
	})

	t.Run("SetPassword", func(t *testing.T) {
		u, old := f.user("frank")
		if err := f.svc.SetPassword(ctx, u.Name, "short"); !errors.Is(err, auth.ErrWeakPassword) {
			t.Errorf("short password: %v", err)
		}
		if err := f.svc.SetPassword(ctx, "nobody-"+f.suffix, "long enough password"); !errors.Is(err, auth.ErrUserNotFound) {
			t.Errorf("unknown user: %v", err)
		}
		if err := f.svc.SetPassword(ctx, u.Name, "long enough password"); err != nil {
			t.Fatal(err)
		}
		if r := f.browser().login(t, u.Spec.Username, old); r.status != http.StatusUnauthorized {
			t.Errorf("old password: %d", r.status)
		}
		if r := f.browser().login(t, u.Spec.Username, "long enough password"); r.status != http.StatusOK {
			t.Errorf("new password: %d %s", r.status, r.body)
		}
	})

	t.Run("user provisioned with kubectl and a bcrypt hash", func(t *testing.T) {
		name := "gitops-" + f.suffix
		hash, err := bcrypt.GenerateFromPassword([]byte("provisioned password"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		sec := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "pw-" + name, Namespace: v1alpha1.SystemNamespace},
			Data:       map[string][]byte{v1alpha1.PasswordHashSecretKey: hash},
		}
		u := &v1alpha1.User{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v1alpha1.UserSpec{
				Username:          name,
				PasswordSecretRef: &v1alpha1.SecretReference{Name: sec.Name},
			},
		}
		for _, o := range []client.Object{sec, u} {
			if err := f.client.Create(ctx, o); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = f.client.Delete(context.Background(), o) })
		}
		// Give the service's cache a moment to see the new User; a
		// retry loop would run into the back-off.
		time.Sleep(time.Second)
		if r := f.browser().login(t, name, "provisioned password"); r.status != http.StatusOK {
			t.Errorf("login: %d %s", r.status, r.body)
		}
	})
}
