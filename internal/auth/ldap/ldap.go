// Package ldap checks passwords against an LDAP directory or Active
// Directory and reads the user's groups.
//
// A login binds as the service account, searches the user with the
// configured filter (the typed name escaped with ldap.EscapeFilter, so
// "*)(uid=*" matches nobody instead of everybody), binds as the user found
// to check the password, then binds as the service account again to read
// the groups: the user may lack the right to read group entries.
//
// An empty password is refused before any connection is made: by RFC 4513
// section 5.1.2 a simple bind with a DN and no password is an
// "unauthenticated bind", which many servers answer with success.
//
// # Nested groups
//
// Active Directory resolves nesting itself with the matching rule
// LDAP_MATCHING_RULE_IN_CHAIN (1.2.840.113556.1.4.1941). OpenLDAP and most
// other servers do not know that rule and, as RFC 4511 asks for an
// unrecognised matching rule, evaluate the filter as Undefined: the search
// returns no groups rather than an error, so trying it and falling back
// cannot tell "no groups" from "unsupported". The client therefore reads
// the root DSE once per connection and uses the rule only when the server
// announces the Active Directory capability (1.2.840.113556.1.4.800);
// elsewhere it walks the groups level by level, at most maxNestingDepth
// levels, remembering the groups it has seen so a cycle ends.
//
// # Subjects
//
// The stable subject of a user is, in order of preference, entryUUID (RFC
// 4530, OpenLDAP and most servers), "objectGUID:<hex>" (Active Directory),
// or "dn:<DN>" when the server offers neither (a renamed entry then
// becomes a new user). Lookup finds the user again by it.
package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// Defaults of Config.
const (
	DefaultUserFilter           = "(uid={username})"
	DefaultUsernameAttribute    = "uid"
	DefaultDisplayNameAttribute = "cn"
	DefaultGroupFilter          = "(member={dn})"
	DefaultGroupNameAttribute   = "cn"
	DefaultTimeout              = 10 * time.Second

	// maxNestingDepth bounds the walk through nested groups.
	maxNestingDepth = 10
	// maxGroups bounds how many groups a user may have, as the User API does.
	maxGroups = 512
	// maxUsernameLength refuses absurd input before it reaches the server.
	maxUsernameLength = 256

	inChainRule        = "1.2.840.113556.1.4.1941"
	capActiveDirectory = "1.2.840.113556.1.4.800"
)

var (
	// ErrInvalidCredentials is the one answer to an unknown user, a wrong
	// password and an empty password, so a login reveals nothing about
	// which accounts exist.
	ErrInvalidCredentials = errors.New("invalid username or password")
	// ErrUserNotFound is returned by Lookup when the subject names nobody.
	ErrUserNotFound = errors.New("user not found in the directory")
)

// Config is one directory.
type Config struct {
	// URL is ldap://host[:port] or ldaps://host[:port].
	URL string
	// StartTLS upgrades an ldap:// connection before any bind.
	StartTLS bool
	// RootCAs verify the server's certificate; nil means the system roots.
	RootCAs *x509.CertPool

	BindDN       string
	BindPassword string

	UserBaseDN           string
	UserFilter           string
	UsernameAttribute    string
	DisplayNameAttribute string

	// GroupBaseDN enables the group search with GroupFilter, in which
	// {dn} is the user's DN and {username} the user's name, both escaped.
	GroupBaseDN        string
	GroupFilter        string
	GroupNameAttribute string
	// MemberOfAttribute reads group DNs from the user's entry instead; a
	// group is then named by the value of its DN's first component.
	MemberOfAttribute string
	NestedGroups      bool

	// Timeout bounds each connection; default DefaultTimeout.
	Timeout time.Duration
}

// Identity is a user the directory vouches for.
type Identity struct {
	// Subject is the stable id of the entry (see the package comment).
	Subject     string
	DN          string
	Username    string
	DisplayName string
	// Groups are group names as the directory spells them, without prefix.
	Groups []string
}

// Client talks to one directory. It holds no connection between calls.
type Client struct {
	cfg Config
	url *url.URL
}

// New checks cfg and fills in the defaults.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("ldap: parse url: %w", err)
	}
	switch {
	case u.Scheme != "ldap" && u.Scheme != "ldaps":
		return nil, fmt.Errorf("ldap: url scheme %q: want ldap or ldaps", u.Scheme)
	case u.Host == "":
		return nil, errors.New("ldap: url has no host")
	case cfg.StartTLS && u.Scheme == "ldaps":
		return nil, errors.New("ldap: startTLS needs an ldap:// url")
	case cfg.BindDN == "" || cfg.BindPassword == "":
		// An empty bind password would be an unauthenticated bind.
		return nil, errors.New("ldap: a bind DN and bind password are required")
	case cfg.UserBaseDN == "":
		return nil, errors.New("ldap: a user base DN is required")
	}
	cfg.UserFilter = orDefault(cfg.UserFilter, DefaultUserFilter)
	if !strings.Contains(cfg.UserFilter, "{username}") {
		return nil, errors.New("ldap: the user filter must contain {username}")
	}
	if _, err := goldap.CompileFilter(strings.ReplaceAll(cfg.UserFilter, "{username}", "x")); err != nil {
		return nil, fmt.Errorf("ldap: user filter: %w", err)
	}
	cfg.UsernameAttribute = orDefault(cfg.UsernameAttribute, DefaultUsernameAttribute)
	cfg.DisplayNameAttribute = orDefault(cfg.DisplayNameAttribute, DefaultDisplayNameAttribute)
	if cfg.GroupBaseDN != "" {
		if cfg.MemberOfAttribute != "" {
			return nil, errors.New("ldap: groups come from either a group search or a memberOf attribute")
		}
		cfg.GroupFilter = orDefault(cfg.GroupFilter, DefaultGroupFilter)
		if _, err := goldap.CompileFilter(expandGroupFilter(cfg.GroupFilter, "x", "x")); err != nil {
			return nil, fmt.Errorf("ldap: group filter: %w", err)
		}
		cfg.GroupNameAttribute = orDefault(cfg.GroupNameAttribute, DefaultGroupNameAttribute)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Client{cfg: cfg, url: u}, nil
}

// Authenticate checks username and password and returns the user with
// their groups. Wrong, unknown and empty credentials all give
// ErrInvalidCredentials; anything else is the directory's failure.
func (c *Client) Authenticate(ctx context.Context, username, password string) (*Identity, error) {
	if password == "" || username == "" || len(username) > maxUsernameLength || strings.ContainsRune(username, 0) {
		return nil, ErrInvalidCredentials
	}
	conn, err := c.connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("ldap login: %w", err)
	}
	defer conn.close()
	filter := strings.ReplaceAll(c.cfg.UserFilter, "{username}", goldap.EscapeFilter(username))
	entry, err := conn.findOne(c.cfg.UserBaseDN, goldap.ScopeWholeSubtree, filter, c.userAttributes())
	if errors.Is(err, ErrUserNotFound) {
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, fmt.Errorf("ldap login: search user: %w", err)
	}
	if err := conn.Bind(entry.DN, password); err != nil {
		if goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
			return nil, ErrInvalidCredentials
		}
		return nil, fmt.Errorf("ldap login: bind as user: %w", err)
	}
	// Back to the service account: what the user's own bind may read is
	// the directory's business, and group reads must not depend on it.
	if err := conn.Bind(c.cfg.BindDN, c.cfg.BindPassword); err != nil {
		return nil, fmt.Errorf("ldap login: bind as service account: %w", err)
	}
	id, err := conn.identity(entry)
	if err != nil {
		return nil, fmt.Errorf("ldap login: %w", err)
	}
	return id, nil
}

// Lookup finds the user with subject again, for a group refresh without a
// password. A user who left the directory gives ErrUserNotFound.
func (c *Client) Lookup(ctx context.Context, subject string) (*Identity, error) {
	conn, err := c.connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("ldap lookup: %w", err)
	}
	defer conn.close()
	base, scope, filter := c.cfg.UserBaseDN, goldap.ScopeWholeSubtree, ""
	switch {
	case strings.HasPrefix(subject, "dn:"):
		base, scope, filter = strings.TrimPrefix(subject, "dn:"), goldap.ScopeBaseObject, "(objectClass=*)"
	case strings.HasPrefix(subject, "objectGUID:"):
		raw, err := hex.DecodeString(strings.TrimPrefix(subject, "objectGUID:"))
		if err != nil || len(raw) != 16 {
			return nil, fmt.Errorf("ldap lookup: malformed subject %q", subject)
		}
		filter = "(objectGUID=" + goldap.EscapeFilter(string(raw)) + ")"
	default:
		filter = "(entryUUID=" + goldap.EscapeFilter(subject) + ")"
	}
	entry, err := conn.findOne(base, scope, filter, c.userAttributes())
	if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
		err = ErrUserNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("ldap lookup: %w", err)
	}
	id, err := conn.identity(entry)
	if err != nil {
		return nil, fmt.Errorf("ldap lookup: %w", err)
	}
	return id, nil
}

func (c *Client) userAttributes() []string {
	attrs := []string{c.cfg.UsernameAttribute, c.cfg.DisplayNameAttribute, "entryUUID", "objectGUID"}
	if c.cfg.MemberOfAttribute != "" {
		attrs = append(attrs, c.cfg.MemberOfAttribute)
	}
	return attrs
}

// conn is one bound connection.
type conn struct {
	*goldap.Conn
	c    *Client
	stop func() bool
	// activeDirectory is set when the root DSE announces AD.
	activeDirectory bool
}

// connect dials, upgrades to TLS when asked, and binds as the service
// account. Errors are *Error with the step that failed.
func (c *Client) connect(ctx context.Context) (*conn, error) {
	timeout := c.cfg.Timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	tlsConfig := &tls.Config{RootCAs: c.cfg.RootCAs, ServerName: c.url.Hostname(), MinVersion: tls.VersionTLS12}
	dialer := &net.Dialer{Timeout: timeout}
	l, err := goldap.DialURL(c.cfg.URL, goldap.DialWithDialer(dialer), goldap.DialWithTLSConfig(tlsConfig))
	if err != nil {
		return nil, classifyDial(err)
	}
	l.SetTimeout(timeout)
	// go-ldap takes no context; closing the connection ends whatever
	// request waits on it.
	cn := &conn{Conn: l, c: c, stop: context.AfterFunc(ctx, func() { l.Close() })}
	if c.cfg.StartTLS {
		if err := l.StartTLS(tlsConfig); err != nil {
			cn.close()
			return nil, &Error{Reason: ReasonTLS, Err: fmt.Errorf("start TLS: %w", err)}
		}
	}
	if err := l.Bind(c.cfg.BindDN, c.cfg.BindPassword); err != nil {
		cn.close()
		if goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
			return nil, &Error{Reason: ReasonBind, Err: fmt.Errorf("bind as %q refused: %w", c.cfg.BindDN, err)}
		}
		return nil, &Error{Reason: ReasonBind, Err: fmt.Errorf("bind as %q: %w", c.cfg.BindDN, err)}
	}
	if c.cfg.NestedGroups {
		cn.activeDirectory = cn.isActiveDirectory()
	}
	return cn, nil
}

func (cn *conn) close() {
	cn.stop()
	cn.Close()
}

// isActiveDirectory reads the root DSE's supportedCapabilities.
func (cn *conn) isActiveDirectory() bool {
	res, err := cn.Search(goldap.NewSearchRequest("", goldap.ScopeBaseObject, goldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{"supportedCapabilities"}, nil))
	if err != nil || len(res.Entries) != 1 {
		return false
	}
	return slices.Contains(res.Entries[0].GetAttributeValues("supportedCapabilities"), capActiveDirectory)
}

// findOne returns the single entry the search finds. None is
// ErrUserNotFound; several are an error, never a guess, since logging in
// as whichever came first would let one account's password open another.
func (cn *conn) findOne(base string, scope int, filter string, attrs []string) (*goldap.Entry, error) {
	res, err := cn.Search(goldap.NewSearchRequest(base, scope, goldap.NeverDerefAliases, 2, 0, false, filter, attrs, nil))
	if err != nil && !goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) {
		return nil, err
	}
	switch {
	case res == nil || len(res.Entries) == 0:
		return nil, ErrUserNotFound
	case len(res.Entries) > 1:
		return nil, errors.New("the filter matches several entries")
	}
	return res.Entries[0], nil
}

// identity builds the Identity of entry, with its groups.
func (cn *conn) identity(entry *goldap.Entry) (*Identity, error) {
	cfg := cn.c.cfg
	id := &Identity{
		Subject:     subjectOf(entry),
		DN:          entry.DN,
		Username:    entry.GetAttributeValue(cfg.UsernameAttribute),
		DisplayName: entry.GetAttributeValue(cfg.DisplayNameAttribute),
	}
	var err error
	switch {
	case cfg.MemberOfAttribute != "":
		id.Groups, err = cn.memberOfGroups(entry)
	case cfg.GroupBaseDN != "":
		id.Groups, err = cn.searchGroups(entry.DN, id.Username)
	}
	if err != nil {
		return nil, fmt.Errorf("read groups of %q: %w", entry.DN, err)
	}
	slices.Sort(id.Groups)
	id.Groups = slices.Compact(id.Groups)
	if len(id.Groups) > maxGroups {
		id.Groups = id.Groups[:maxGroups]
	}
	return id, nil
}

func subjectOf(e *goldap.Entry) string {
	if v := e.GetAttributeValue("entryUUID"); v != "" {
		return v
	}
	if v := e.GetRawAttributeValue("objectGUID"); len(v) == 16 {
		return "objectGUID:" + hex.EncodeToString(v)
	}
	return "dn:" + e.DN
}

// memberOfGroups names the groups in the user's memberOf attribute and,
// when nested, the groups those groups are members of.
func (cn *conn) memberOfGroups(entry *goldap.Entry) ([]string, error) {
	attr := cn.c.cfg.MemberOfAttribute
	dns := entry.GetAttributeValues(attr)
	if cn.c.cfg.NestedGroups && !cn.activeDirectory {
		seen := map[string]bool{}
		level := dns
		for depth := 0; len(level) > 0 && depth < maxNestingDepth && len(seen) < maxGroups; depth++ {
			var next []string
			for _, dn := range level {
				if seen[strings.ToLower(dn)] {
					continue
				}
				seen[strings.ToLower(dn)] = true
				res, err := cn.Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 1, 0, false,
					"(objectClass=*)", []string{attr}, nil))
				if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
					continue
				}
				if err != nil {
					return nil, err
				}
				for _, e := range res.Entries {
					next = append(next, e.GetAttributeValues(attr)...)
				}
			}
			dns = append(dns, next...)
			level = next
		}
	} else if cn.c.cfg.NestedGroups {
		// Active Directory: the user's memberOf lists direct groups only;
		// the in-chain rule finds every group containing the user.
		res, err := cn.Search(goldap.NewSearchRequest(cn.c.cfg.UserBaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, maxGroups, 0, false,
			"(member:"+inChainRule+":="+goldap.EscapeFilter(entry.DN)+")", []string{"dn"}, nil))
		if err != nil && !goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) {
			return nil, err
		}
		for _, e := range res.Entries {
			dns = append(dns, e.DN)
		}
	}
	names := make([]string, 0, len(dns))
	for _, dn := range dns {
		if n := firstRDNValue(dn); n != "" {
			names = append(names, n)
		}
	}
	return names, nil
}

// searchGroups finds the groups whose filter matches the user and, when
// nested, the groups listing those groups.
func (cn *conn) searchGroups(userDN, username string) ([]string, error) {
	cfg := cn.c.cfg
	nameAttr := cfg.GroupNameAttribute
	search := func(filter string) ([]*goldap.Entry, error) {
		res, err := cn.Search(goldap.NewSearchRequest(cfg.GroupBaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, maxGroups, 0, false,
			filter, []string{nameAttr}, nil))
		if err != nil && !goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) {
			return nil, err
		}
		return res.Entries, nil
	}
	if cfg.NestedGroups && cn.activeDirectory && cfg.GroupFilter == DefaultGroupFilter {
		entries, err := search("(member:" + inChainRule + ":=" + goldap.EscapeFilter(userDN) + ")")
		if err != nil {
			return nil, err
		}
		return groupNames(entries, nameAttr), nil
	}
	entries, err := search(expandGroupFilter(cfg.GroupFilter, userDN, username))
	if err != nil {
		return nil, err
	}
	all := entries
	if cfg.NestedGroups {
		seen := map[string]bool{}
		level := entries
		for depth := 0; len(level) > 0 && depth < maxNestingDepth && len(all) < maxGroups; depth++ {
			var next []*goldap.Entry
			for _, g := range level {
				if seen[strings.ToLower(g.DN)] {
					continue
				}
				seen[strings.ToLower(g.DN)] = true
				// Groups contain groups through member, whatever filter
				// found the user's own groups (memberUid holds names).
				parents, err := search("(member=" + goldap.EscapeFilter(g.DN) + ")")
				if err != nil {
					return nil, err
				}
				next = append(next, parents...)
			}
			all = append(all, next...)
			level = next
		}
	}
	return groupNames(all, nameAttr), nil
}

func groupNames(entries []*goldap.Entry, attr string) []string {
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if n := e.GetAttributeValue(attr); n != "" {
			names = append(names, n)
		}
	}
	return names
}

func expandGroupFilter(filter, dn, username string) string {
	return strings.NewReplacer("{dn}", goldap.EscapeFilter(dn), "{username}", goldap.EscapeFilter(username)).Replace(filter)
}

func firstRDNValue(dn string) string {
	parsed, err := goldap.ParseDN(dn)
	if err != nil || len(parsed.RDNs) == 0 || len(parsed.RDNs[0].Attributes) == 0 {
		return ""
	}
	return parsed.RDNs[0].Attributes[0].Value
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
