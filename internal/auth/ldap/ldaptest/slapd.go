// Package ldaptest runs a real OpenLDAP slapd for tests: a child process
// on loopback ports with its own configuration and database in a temporary
// directory, plain LDAP (with StartTLS) and LDAPS with a test CA. Nothing
// of the system's slapd configuration is read.
package ldaptest

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"bokujo.io/bokujo/internal/pki"
)

// Names of the test tree.
const (
	BaseDN         = "dc=example,dc=org"
	PeopleDN       = "ou=people," + BaseDN
	GroupsDN       = "ou=groups," + BaseDN
	AdminDN        = "cn=admin," + BaseDN
	ReaderDN       = "cn=reader," + BaseDN
	ReaderPassword = "reader-secret-5e1"
	adminPassword  = "admin-secret-9c2"
)

// Server is a running slapd.
type Server struct {
	// URL is ldap://127.0.0.1:port (StartTLS offered); LDAPSURL is
	// ldaps://localhost:port, whose certificate names localhost and 127.0.0.1.
	URL      string
	LDAPSURL string
	// CAPEM signs the server's certificate; CAPool holds it.
	CAPEM  []byte
	CAPool *x509.CertPool
}

// Start runs slapd until the test ends. It fails the test when slapd is
// not installed (hack/install-deps.sh installs it).
func Start(t testing.TB) *Server {
	t.Helper()
	slapd, err := exec.LookPath("slapd")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/slapd"); err2 != nil {
			t.Fatalf("slapd not found (install the Debian package slapd, see hack/install-deps.sh): %v", err)
		}
		slapd = "/usr/sbin/slapd"
	}
	dir := t.TempDir()
	ca, err := pki.NewCA("ldaptest-ca")
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ca.Issue(pki.Spec{CommonName: "localhost", DNSNames: []string{"localhost"}, IPs: []net.IP{net.ParseIP("127.0.0.1")}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"ca.crt": ca.CertPEM, "server.crt": kp.CertPEM, "server.key": kp.KeyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(conf, []byte(config(dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	s := &Server{CAPEM: ca.CertPEM, CAPool: pool}

	// A port picked free may be taken before slapd binds it; try again.
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, sport := freePort(t), freePort(t)
		s.URL = "ldap://127.0.0.1:" + strconv.Itoa(port)
		s.LDAPSURL = "ldaps://localhost:" + strconv.Itoa(sport)
		var out bytes.Buffer
		cmd := exec.Command(slapd, "-d", "0", "-f", conf, "-h", s.URL+"/ ldaps://127.0.0.1:"+strconv.Itoa(sport)+"/")
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start slapd: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if lastErr = waitReady(s.URL, exited); lastErr == nil {
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
			})
			s.load(t)
			return s
		}
		_ = cmd.Process.Kill()
		<-exited
		lastErr = fmt.Errorf("%w; slapd said: %s", lastErr, out.String())
	}
	t.Fatalf("slapd did not start: %v", lastErr)
	return nil
}

func config(dir string) string {
	return fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile %[1]s/slapd.pid
argsfile %[1]s/slapd.args
TLSCACertificateFile %[1]s/ca.crt
TLSCertificateFile %[1]s/server.crt
TLSCertificateKeyFile %[1]s/server.key
# Accept unauthenticated binds (a DN with an empty password) as many
# servers do, so tests show the client refuses them itself.
allow bind_anon_dn

database mdb
maxsize 10485760
suffix %[2]q
rootdn %[3]q
rootpw %[4]s
directory %[1]s/data
overlay memberof
access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
`, dir, BaseDN, AdminDN, adminPassword)
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitReady(url string, exited <-chan error) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("slapd exited: %v", err)
		default:
		}
		if c, err := goldap.DialURL(url); err == nil {
			err = c.Bind(AdminDN, adminPassword)
			c.Close()
			if err == nil {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("slapd at %s not ready after 15s", url)
}

// Admin returns a connection bound as the directory's root.
func (s *Server) Admin(t testing.TB) *goldap.Conn {
	t.Helper()
	c, err := goldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Bind(AdminDN, adminPassword); err != nil {
		c.Close()
		t.Fatal(err)
	}
	return c
}

func (s *Server) load(t testing.TB) {
	c := s.Admin(t)
	defer c.Close()
	add := func(dn string, attrs map[string][]string) {
		req := goldap.NewAddRequest(dn, nil)
		for k, v := range attrs {
			req.Attribute(k, v)
		}
		if err := c.Add(req); err != nil {
			t.Fatalf("add %s: %v", dn, err)
		}
	}
	add(BaseDN, map[string][]string{"objectClass": {"dcObject", "organization"}, "o": {"Example"}, "dc": {"example"}})
	add(PeopleDN, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"people"}})
	add(GroupsDN, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"groups"}})
	add(ReaderDN, map[string][]string{"objectClass": {"organizationalRole", "simpleSecurityObject"}, "cn": {"reader"}, "userPassword": {ReaderPassword}})
}

// AddUser adds an inetOrgPerson under PeopleDN and returns its DN.
func (s *Server) AddUser(t testing.TB, uid, displayName, password string) string {
	t.Helper()
	c := s.Admin(t)
	defer c.Close()
	dn := "uid=" + goldap.EscapeDN(uid) + "," + PeopleDN
	req := goldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"inetOrgPerson"})
	req.Attribute("uid", []string{uid})
	req.Attribute("cn", []string{displayName})
	req.Attribute("sn", []string{uid})
	if password != "" {
		req.Attribute("userPassword", []string{password})
	}
	if err := c.Add(req); err != nil {
		t.Fatalf("add user %s: %v", uid, err)
	}
	return dn
}

// AddGroup adds a groupOfNames under GroupsDN with the member DNs and
// returns its DN.
func (s *Server) AddGroup(t testing.TB, cn string, members ...string) string {
	t.Helper()
	c := s.Admin(t)
	defer c.Close()
	dn := "cn=" + goldap.EscapeDN(cn) + "," + GroupsDN
	req := goldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"groupOfNames"})
	req.Attribute("cn", []string{cn})
	req.Attribute("member", members)
	if err := c.Add(req); err != nil {
		t.Fatalf("add group %s: %v", cn, err)
	}
	return dn
}

// SetMembers replaces a group's members.
func (s *Server) SetMembers(t testing.TB, groupDN string, members ...string) {
	t.Helper()
	c := s.Admin(t)
	defer c.Close()
	req := goldap.NewModifyRequest(groupDN, nil)
	req.Replace("member", members)
	if err := c.Modify(req); err != nil {
		t.Fatalf("set members of %s: %v", groupDN, err)
	}
}

// Delete removes an entry.
func (s *Server) Delete(t testing.TB, dn string) {
	t.Helper()
	c := s.Admin(t)
	defer c.Close()
	if err := c.Del(goldap.NewDelRequest(dn, nil)); err != nil {
		t.Fatalf("delete %s: %v", dn, err)
	}
}
