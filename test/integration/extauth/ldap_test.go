package extauth_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mgmtv1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/app"
	"bokujo.io/bokujo/internal/auth/ldap/ldaptest"
	"bokujo.io/bokujo/test/framework"
	"bokujo.io/bokujo/test/framework/testserver"
)

// server is a running bokujo with the logs it wrote.
type server struct {
	app    *app.App
	url    string
	ca     *x509.CertPool
	caFile string
	logs   *testserver.SyncBuffer
}

func startServer(t *testing.T) *server {
	t.Helper()
	if env == nil {
		t.Skip("integration test: needs real clusters (runs without -short)")
	}
	srv := testserver.Start(t, env.RESTConfig(t, "mgmt"))
	return &server{app: srv.App, url: srv.URL, ca: srv.CA, caFile: srv.CAFile, logs: srv.Logs}
}

// browser is a client with a cookie jar, as the web UI runs.
type browser struct {
	s    *server
	c    *http.Client
	csrf string
}

func (s *server) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{s: s, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.ca}}}}
}

func (b *browser) do(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, b.s.url+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if b.csrf != "" {
		req.Header.Set("X-CSRF-Token", b.csrf)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

func kubectl(t *testing.T, kubeconfig string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), framework.Medium)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(framework.BinDir(t), "kubectl"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestLDAPGroupGrantsClusterAccess: an administrator binds the directory
// group "ldap:sre" to a cluster before anyone logs in; carol logs in with
// her directory password, gets a kubeconfig, and reads the cluster through
// the proxy. Removed from the group, she loses that access at the next
// refresh, without logging in again.
func TestLDAPGroupGrantsClusterAccess(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	if err := s.app.Registry.ImportConfig(ctx, "prod", "", env.Cluster(t, "prod").RESTConfig()); err != nil {
		t.Fatalf("import prod: %v", err)
	}
	dir := ldaptest.Start(t)
	const carolPass = "carol-directory-pw-7"
	carol := dir.AddUser(t, "carol", "Carol Danvers", carolPass)
	other := dir.AddUser(t, "dave", "Dave", "dave-directory-pw-8")
	sre := dir.AddGroup(t, "sre", carol)

	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "corp-ldap-bind", Namespace: mgmtv1.SystemNamespace},
		Data: map[string][]byte{mgmtv1.BindPasswordSecretKey: []byte(ldaptest.ReaderPassword)}}
	ap := &mgmtv1.AuthProvider{ObjectMeta: metav1.ObjectMeta{Name: "corp"}, Spec: mgmtv1.AuthProviderSpec{
		Type: mgmtv1.AuthProviderLDAP, DisplayName: "Corp",
		LDAP: &mgmtv1.LDAPProviderSpec{
			URL: dir.LDAPSURL, CAData: string(dir.CAPEM),
			BindDN: ldaptest.ReaderDN, BindPasswordRef: mgmtv1.SecretReference{Name: sec.Name},
			UserBaseDN: ldaptest.PeopleDN, MemberOfAttribute: "memberOf", GroupPrefix: "ldap:",
		},
	}}
	crtb := &mgmtv1.ClusterRoleTemplateBinding{ObjectMeta: metav1.ObjectMeta{Name: "sre-prod"}, Spec: mgmtv1.ClusterRoleTemplateBindingSpec{
		ClusterName: "prod", RoleTemplateName: "cluster-viewer", Subject: mgmtv1.Subject{Kind: mgmtv1.SubjectKindGroup, Name: "ldap:sre"}}}
	s.create(t, sec, ap, crtb)

	b := s.browser(t)
	var code int
	var body []byte
	framework.Eventually(t, framework.Medium, func() error {
		code, body = b.do(t, "POST", "/v1/auth/ldap/corp/login", map[string]string{"username": "carol", "password": carolPass})
		if code != http.StatusOK {
			return fmt.Errorf("login: %d %s", code, body)
		}
		return nil
	})
	var lr struct{ CSRFToken string }
	json.Unmarshal(body, &lr)
	b.csrf = lr.CSRFToken
	code, body = b.do(t, "GET", "/v1/me", nil)
	if code != http.StatusOK || !strings.Contains(string(body), `"ldap:sre"`) {
		t.Fatalf("me: %d %s", code, body)
	}
	code, body = b.do(t, "GET", "/v1/kubeconfig", nil)
	if code != http.StatusOK {
		t.Fatalf("kubeconfig: %d %s", code, body)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, body, 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("the group binding grants read access", func(t *testing.T) {
		framework.Eventually(t, framework.Medium, func() error {
			out, err := kubectl(t, kc, "--context", "prod", "get", "nodes", "-o", "name")
			if err != nil || !strings.Contains(out, "node/prod-cpu") {
				return fmt.Errorf("get nodes: %v %s", err, out)
			}
			return nil
		})
		if out, err := kubectl(t, kc, "--context", "prod", "auth", "can-i", "delete", "nodes"); err == nil || !strings.Contains(out, "no") {
			t.Errorf("viewer may delete nodes: %v %s", err, out)
		}
	})

	t.Run("a user outside the group has no access", func(t *testing.T) {
		d := s.browser(t)
		if code, body := d.do(t, "POST", "/v1/auth/ldap/corp/login", map[string]string{"username": "dave", "password": "dave-directory-pw-8"}); code != http.StatusOK {
			t.Fatalf("login dave: %d %s", code, body)
		}
		code, body := d.do(t, "GET", "/v1/kubeconfig", nil)
		if code != http.StatusOK {
			t.Fatalf("kubeconfig: %d %s", code, body)
		}
		if strings.Contains(string(body), "name: prod") {
			t.Errorf("dave's kubeconfig lists prod:\n%s", body)
		}
	})

	t.Run("removed from the group, access ends at the refresh", func(t *testing.T) {
		dir.SetMembers(t, sre, other)
		s.refreshedAccess(t, kc, "prod", false)
	})

	if strings.Contains(s.logs.String(), carolPass) || strings.Contains(s.logs.String(), ldaptest.ReaderPassword) {
		t.Error("a password appears in the server's logs")
	}
}

// refreshedAccess runs the server's group refresh, then waits until
// kubectl with kubeconfig kc reads the nodes of cluster (want true) or is
// refused (want false: NotFound when no grant is left on the cluster,
// Forbidden from the downstream RBAC otherwise).
func (s *server) refreshedAccess(t *testing.T, kc, cluster string, want bool) {
	t.Helper()
	if err := s.app.Auth.RefreshGroups(context.Background()); err != nil {
		t.Fatalf("refresh groups: %v", err)
	}
	framework.Eventually(t, framework.Medium, func() error {
		out, err := kubectl(t, kc, "--context", cluster, "get", "nodes", "-o", "name")
		switch {
		case want && err != nil:
			return fmt.Errorf("refused: %v %s", err, out)
		case !want && err == nil:
			return fmt.Errorf("still allowed: %s", out)
		case !want && !strings.Contains(out, "NotFound") && !strings.Contains(strings.ToLower(out), "forbidden"):
			return fmt.Errorf("want NotFound or Forbidden, got %v %s", err, out)
		}
		return nil
	})
}

// grants are the provider grants (refresh or access tokens) bokujo holds
// for provider's users.
func (s *server) grants(t *testing.T, provider string) []corev1.Secret {
	t.Helper()
	var list corev1.SecretList
	if err := s.app.Client.List(context.Background(), &list, client.InNamespace(mgmtv1.SystemNamespace),
		client.MatchingLabels{"auth.bokujo.io/provider": provider}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// create creates objs in the management cluster and deletes them when the
// test ends: the tests share that cluster, and a provider left behind
// would be asked at every other test's group refresh.
func (s *server) create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := s.app.Client.Create(context.Background(), o); err != nil {
			t.Fatalf("create %s: %v", o.GetName(), err)
		}
		t.Cleanup(func() { _ = s.app.Client.Delete(context.Background(), o) })
	}
}
