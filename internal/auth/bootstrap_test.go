package auth_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/auth"
)

// TestBootstrapAdmin is the package's only test that does not run in
// parallel: Go runs it before every parallel test, while no other test
// has created an admin binding yet.
func TestBootstrapAdmin(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	password, created, err := f.svc.EnsureBootstrapAdmin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !created || len(password) < auth.MinPasswordLength {
		t.Fatalf("first call: created=%v, password of %d characters", created, len(password))
	}
	b := f.browser()
	if r := b.login(t, auth.BootstrapAdminName, password); r.status != http.StatusOK {
		t.Fatalf("login as the bootstrap admin: %d %s", r.status, r.body)
	}
	var me meAnswer
	b.do("GET", "/v1/me", nil, nil).decode(t, &me)
	if me.Name != auth.BootstrapAdminName || !slices.Contains(me.GlobalRoles, v1alpha1.GlobalRoleAdmin) {
		t.Errorf("me: %+v", me)
	}
	if len(f.logs.String()) == 0 || strings.Contains(f.logs.String(), password) {
		t.Errorf("the logs hold the bootstrap password")
	}

	again, created, err := f.svc.EnsureBootstrapAdmin(ctx)
	if err != nil || created || again != "" {
		t.Errorf("second call: %q, created=%v, %v", again, created, err)
	}
	// Another replica starting later finds the admin too.
	replica := newFixture(t)
	if again, created, err := replica.svc.EnsureBootstrapAdmin(ctx); err != nil || created || again != "" {
		t.Errorf("another replica: %q, created=%v, %v", again, created, err)
	}
	if r := b.do("GET", "/v1/me", nil, nil); r.status != http.StatusOK {
		t.Errorf("the admin's session ended: %d", r.status)
	}
}
