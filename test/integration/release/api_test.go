package release_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	deliveryv1 "bokujo.io/bokujo/api/delivery/v1alpha1"
	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/app"
	"bokujo.io/bokujo/internal/auth"
	"bokujo.io/bokujo/internal/cli"
	"bokujo.io/bokujo/internal/clusters"
	"bokujo.io/bokujo/internal/release"
	"bokujo.io/bokujo/test/framework"
	"bokujo.io/bokujo/test/framework/testserver"
)

const password = "correct horse battery staple"

// shop is a bokujo server with cluster dev imported and project
// PREFIXshop (namespace PREFIXshop-a in dev): alice is a project member,
// carol a project viewer, bob has no grant; their bokujo names carry the
// prefix too, since the tests of this package share the management cluster.
type shop struct {
	srv    *testserver.Server
	tokens map[string]string
	ns     string
	prefix string
}

// user is the bokujo name of alice, bob or carol.
func (s *shop) user(short string) string { return s.prefix + short }

func startShop(t *testing.T, prefix string, options ...func(*app.Options)) *shop {
	t.Helper()
	srv := testserver.Start(t, env.RESTConfig(t, "mgmt"), options...)
	ctx := context.Background()
	// An earlier test of the package may have imported it already.
	if err := srv.App.Registry.ImportConfig(ctx, cluster, "", env.RESTConfig(t, cluster)); err != nil && !errors.Is(err, clusters.ErrAlreadyExists) {
		t.Fatalf("import dev: %v", err)
	}
	project, ns := prefix+"shop", prefix+"shop-a"
	objs := []client.Object{
		&mgmtv1.Project{ObjectMeta: metav1.ObjectMeta{Name: project}, Spec: mgmtv1.ProjectSpec{ClusterName: cluster, Namespaces: []string{ns}}},
		&mgmtv1.ProjectRoleTemplateBinding{ObjectMeta: metav1.ObjectMeta{Name: prefix + "alice-shop"}, Spec: mgmtv1.ProjectRoleTemplateBindingSpec{
			ProjectName: project, RoleTemplateName: mgmtv1.RoleTemplateProjectMember, Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: prefix + "alice"}}},
		&mgmtv1.ProjectRoleTemplateBinding{ObjectMeta: metav1.ObjectMeta{Name: prefix + "carol-shop"}, Spec: mgmtv1.ProjectRoleTemplateBindingSpec{
			ProjectName: project, RoleTemplateName: mgmtv1.RoleTemplateProjectViewer, Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindUser, Name: prefix + "carol"}}},
	}
	s := &shop{srv: srv, tokens: map[string]string{}, ns: ns, prefix: prefix}
	for _, short := range []string{"alice", "bob", "carol"} {
		u := prefix + short
		if _, err := srv.App.Auth.CreateLocalUser(ctx, u, u, password); err != nil {
			t.Fatalf("create %s: %v", u, err)
		}
		tok, _, err := srv.App.Auth.CreateToken(ctx, u, auth.TokenRequest{Type: mgmtv1.TokenTypeAPI, Description: "release test", TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		s.tokens[short] = tok
	}
	for _, o := range objs {
		if err := srv.App.Client.Create(ctx, o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
	dev := env.Client(t, cluster)
	framework.Eventually(t, framework.Medium, func() error {
		rbs, err := dev.RbacV1().RoleBindings(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=bokujo"})
		if err != nil {
			return err
		}
		if len(rbs.Items) < 2 {
			return fmt.Errorf("%d bokujo RoleBindings in %s, want 2", len(rbs.Items), ns)
		}
		return nil
	})
	return s
}

func (s *shop) call(t *testing.T, user, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, s.srv.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok := s.tokens[user]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := s.srv.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// TestReleaseAPIAndCLIActAsTheUser: releases started, driven and rolled back
// through /v1 and `bokujo release`, with the downstream RBAC of each user.
func TestReleaseAPIAndCLIActAsTheUser(t *testing.T) {
	// The server's fleet runner runs the Release controller in dev.
	installCRDs(t)
	c := mustDeliveryClient(t)
	s := startShop(t, "api-")
	webApp(t, s.ns, 4, "web:v1")
	ctx := context.Background()
	base := "/v1/clusters/dev/namespaces/" + s.ns + "/releases"

	start := release.StartRequest{
		Deployment: "web",
		Images:     []deliveryv1.ContainerImage{{Container: "web", Image: "web:v2"}},
		Strategy:   &deliveryv1.CanaryStrategy{Steps: []deliveryv1.CanaryStep{{Pause: &deliveryv1.Pause{}}}},
		Analysis:   &deliveryv1.Analysis{Interval: dur(time.Second)},
	}
	t.Run("refusals", func(t *testing.T) {
		cases := []struct {
			name, user, method, path string
			body                     any
			want                     int
		}{
			{"no credential", "nobody", "GET", base, nil, http.StatusUnauthorized},
			{"cluster not granted", "bob", "GET", base, nil, http.StatusNotFound},
			{"viewer cannot start", "carol", "POST", base, start, http.StatusForbidden},
			{"member outside the project", "alice", "POST", "/v1/clusters/dev/namespaces/default/releases", start, http.StatusForbidden},
			{"bad namespace", "alice", "GET", "/v1/clusters/dev/namespaces/Bad_NS/releases", nil, http.StatusBadRequest},
			{"unknown field", "alice", "POST", base, map[string]any{"deployment": "web", "images": start.Images, "sneaky": true}, http.StatusBadRequest},
			{"no images", "alice", "POST", base, map[string]any{"deployment": "web"}, http.StatusBadRequest},
			{"invalid strategy", "alice", "POST", base, map[string]any{"deployment": "web", "images": start.Images,
				"strategy": map[string]any{"steps": []any{map[string]any{"weight": 10}}}}, http.StatusUnprocessableEntity},
			{"unknown action", "alice", "POST", base + "/x/actions", map[string]string{"action": "explode"}, http.StatusBadRequest},
			{"missing release", "alice", "GET", base + "/nope", nil, http.StatusNotFound},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				code, body := s.call(t, tc.user, tc.method, tc.path, tc.body)
				if code != tc.want {
					t.Fatalf("%s %s as %s: %d %s, want %d", tc.method, tc.path, tc.user, code, body, tc.want)
				}
			})
		}
	})

	code, body := s.call(t, "alice", "POST", base, start)
	if code != http.StatusCreated {
		t.Fatalf("start: %d %s", code, body)
	}
	var rel deliveryv1.Release
	if err := json.Unmarshal(body, &rel); err != nil {
		t.Fatal(err)
	}
	got := waitPhase(t, c, s.ns, rel.Name, deliveryv1.PhasePaused, framework.Medium)
	if got.Status.CreatedBy != s.user("alice") {
		t.Errorf("createdBy = %q, want %s", got.Status.CreatedBy, s.user("alice"))
	}

	// carol may look but not act.
	code, body = s.call(t, "carol", "GET", base+"/"+rel.Name, nil)
	if code != http.StatusOK {
		t.Fatalf("carol get: %d %s", code, body)
	}
	code, body = s.call(t, "carol", "POST", base+"/"+rel.Name+"/actions", map[string]string{"action": "promote"})
	if code != http.StatusForbidden || !strings.Contains(string(body), "bokujo:"+s.user("carol")) {
		t.Fatalf("carol promote: %d %s, want 403 naming bokujo:carol", code, body)
	}

	// alice drives it with the CLI, in-process, logged in with her password.
	run := cliRunner(t, s)
	run("login", s.srv.URL, "--ca-file", s.srv.CAFile, "--username", s.user("alice"), "--password-stdin")
	out := run("release", "status", "dev/"+s.ns+"/"+rel.Name)
	for _, want := range []string{"Phase:       Paused", "Step:        1 of 2", "web: web:v1 → web:v2", "Started by:  " + s.user("alice"), "WaitingForPromotion"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	run("release", "promote", "dev/"+s.ns+"/"+rel.Name)
	waitPhase(t, c, s.ns, rel.Name, deliveryv1.PhasePromoted, framework.Medium)

	out = run("release", "history", "dev")
	if !strings.Contains(out, rel.Name) || !strings.Contains(out, "Promoted") || !strings.Contains(out, "alice") {
		t.Errorf("history:\n%s", out)
	}
	out = run("release", "rollback", "dev/"+s.ns+"/"+rel.Name)
	back := strings.Fields(out)[1]
	final := waitPhase(t, c, s.ns, back, deliveryv1.PhasePromoted, framework.Medium)
	if final.Spec.RollbackOf != rel.Name || final.Status.CreatedBy != s.user("alice") {
		t.Errorf("rollback release: rollbackOf=%q createdBy=%q", final.Spec.RollbackOf, final.Status.CreatedBy)
	}
	d, err := env.Client(t, cluster).AppsV1().Deployments(s.ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "web:v1" {
		t.Errorf("after rollback the Deployment runs %s, want web:v1", img)
	}

	// The namespace feed lists both, newest first.
	code, body = s.call(t, "carol", "GET", base+"?deployment=web", nil)
	if code != http.StatusOK {
		t.Fatalf("carol list: %d %s", code, body)
	}
	var list struct{ Items []release.Summary }
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 || list.Items[0].Name != back || list.Items[0].RollbackOf != rel.Name || list.Items[1].Change != "web: web:v1 → web:v2" {
		t.Errorf("feed: %+v", list.Items)
	}
}

// cliRunner runs `bokujo` commands in-process with their own config file;
// the password goes to stdin.
func cliRunner(t *testing.T, s *shop) func(args ...string) string {
	t.Setenv("BOKUJO_CONFIG", filepath.Join(t.TempDir(), "config.json"))
	return func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		cmd := cli.NewRootCommand(cli.Streams{In: strings.NewReader(password + "\n"), Out: &out, Err: &errb})
		cmd.SetArgs(args)
		if err := cmd.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("bokujo %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
		}
		return out.String()
	}
}
