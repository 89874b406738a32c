package proxy

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPrefixesKeepUsersOutOfSystem guards the prefixes, which come from the
// management API: an empty or "system:" prefix would let a bokujo user
// named "admin" or a group named "masters" become a Kubernetes identity.
func TestPrefixesKeepUsersOutOfSystem(t *testing.T) {
	t.Parallel()
	for name, p := range map[string]string{"UserPrefix": UserPrefix, "GroupPrefix": GroupPrefix} {
		if p == "" || strings.HasPrefix(p, "system:") || !strings.HasSuffix(p, ":") {
			t.Errorf("%s %q must be non-empty, end in a colon and not start with system:", name, p)
		}
	}
}

func TestDownstreamIdentity(t *testing.T) {
	t.Parallel()
	long := make([]byte, maxIdentityValue+1)
	for i := range long {
		long[i] = 'a'
	}
	manyGroups := make([]string, maxGroups+1)
	for i := range manyGroups {
		manyGroups[i] = "g"
	}
	tests := []struct {
		name    string
		user    *User
		want    identity
		wantErr bool
	}{
		{name: "groups prefixed, de-duplicated, sorted, authenticated added", user: &User{Name: "alice", Groups: []string{"ml", "data", "ml"}},
			want: identity{user: "bokujo:alice", groups: []string{"bokujo:data", "bokujo:ml", "system:authenticated"}}},
		{name: "no groups", user: &User{Name: "bob"}, want: identity{user: "bokujo:bob", groups: []string{"system:authenticated"}}},
		{name: "system:authenticated as a bokujo group stays prefixed", user: &User{Name: "eve", Groups: []string{"system:authenticated"}},
			want: identity{user: "bokujo:eve", groups: []string{"bokujo:system:authenticated", "system:authenticated"}}},
		{name: "unicode name", user: &User{Name: "zoë@example.com"}, want: identity{user: "bokujo:zoë@example.com", groups: []string{"system:authenticated"}}},
		{name: "nil user", user: nil, wantErr: true},
		{name: "empty name", user: &User{}, wantErr: true},
		{name: "tab in name", user: &User{Name: "a\tb"}, wantErr: true},
		{name: "DEL in name", user: &User{Name: "a\x7fb"}, wantErr: true},
		{name: "C1 control in name", user: &User{Name: "a\u0085b"}, wantErr: true},
		{name: "invalid UTF-8", user: &User{Name: "a\xffb"}, wantErr: true},
		{name: "trailing space", user: &User{Name: "alice "}, wantErr: true},
		{name: "too long", user: &User{Name: string(long)}, wantErr: true},
		{name: "too many groups", user: &User{Name: "a", Groups: manyGroups}, wantErr: true},
		{name: "empty group", user: &User{Name: "a", Groups: []string{"ml", ""}}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := downstreamIdentity(tc.user)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("identity %+v built, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(identity{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestStripCredentials(t *testing.T) {
	t.Parallel()
	in := http.Header{
		"Connection":             {"Upgrade, Impersonate-Extra-Scopes, x-hop"},
		"Upgrade":                {"websocket"},
		"Authorization":          {"Bearer a", "Bearer b"},
		"impersonate-user":       {"system:admin"},
		"IMPERSONATE-GROUP":      {"system:masters"},
		"Impersonate-Uid":        {"0"},
		"Impersonate-Extra-Foo":  {"bar"},
		"Impersonate_Group":      {"system:masters"},
		"Cookie":                 {"session=x"},
		"X-Csrf-Token":           {"t"},
		"X-Remote-User":          {"root"},
		"X-Hop":                  {"1"},
		"Sec-Websocket-Protocol": {"base64url.bearer.authorization.k8s.io.dG9r, v5.channel.k8s.io", "Base64url.Bearer.Authorization.K8s.Io.eA"},
		"Accept":                 {"application/json"},
	}
	out := in.Clone()
	stripCredentials(out, in)
	setIdentity(out, identity{user: "bokujo:alice", groups: []string{"bokujo:ml", "system:authenticated"}})
	want := http.Header{
		"Connection":             {"Upgrade, Impersonate-Extra-Scopes, x-hop"},
		"Upgrade":                {"websocket"},
		"Sec-Websocket-Protocol": {"v5.channel.k8s.io"},
		"Accept":                 {"application/json"},
		"Impersonate-User":       {"bokujo:alice"},
		"Impersonate-Group":      {"bokujo:ml", "system:authenticated"},
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
