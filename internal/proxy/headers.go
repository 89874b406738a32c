package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"bokujo.io/bokujo/api/management/v1alpha1"
)

const (
	// UserPrefix is put before every user name the proxy impersonates:
	// bokujo user alice becomes "bokujo:alice". No bokujo user can therefore
	// become "system:admin" or "system:serviceaccount:…": those arrive as
	// "bokujo:system:admin". RBAC sync writes the same prefixed names as
	// subjects (User "bokujo:alice"); both take the prefix from the
	// management API so they cannot drift apart.
	UserPrefix = v1alpha1.UserPrefix
	// GroupPrefix is put before every bokujo group name: group ml becomes
	// "bokujo:ml", and a bokujo group named "system:masters" is only
	// "bokujo:system:masters" downstream.
	GroupPrefix = v1alpha1.GroupPrefix
	// AuthenticatedGroup is added to every impersonated identity, as the
	// apiserver does for any authenticated user, so default discovery rules
	// (system:basic-user, system:discovery) apply.
	AuthenticatedGroup = "system:authenticated"

	// maxIdentityValue bounds one name; longer ones are refused rather than
	// truncated, since a truncated name is a different user.
	maxIdentityValue = 1024
	// maxGroups bounds the groups sent downstream; past this the request is
	// refused instead of forwarding a partial (wrong) identity.
	maxGroups = 256
)

// Header names the apiserver reads for impersonation.
const (
	headerImpersonateUser  = "Impersonate-User"
	headerImpersonateGroup = "Impersonate-Group"
)

// websocketBearerPrefix marks a bearer token carried in
// Sec-WebSocket-Protocol, which the apiserver accepts as a credential
// because browsers cannot set Authorization on a WebSocket.
const websocketBearerPrefix = "base64url.bearer.authorization.k8s.io."

var errIdentity = errors.New("invalid identity")

// identity is what the proxy asks the apiserver to impersonate.
type identity struct {
	user   string
	groups []string
}

// downstreamIdentity builds the prefixed identity of u. Any doubt is an
// error: the caller answers 403 and forwards nothing, because forwarding
// without impersonation would act with the proxy's own identity.
func downstreamIdentity(u *User) (identity, error) {
	if u == nil {
		return identity{}, fmt.Errorf("build downstream identity: no user: %w", errIdentity)
	}
	if err := checkIdentityValue(u.Name); err != nil {
		return identity{}, fmt.Errorf("build downstream identity: user name: %w", err)
	}
	if len(u.Groups) > maxGroups {
		return identity{}, fmt.Errorf("build downstream identity: %d groups, at most %d: %w", len(u.Groups), maxGroups, errIdentity)
	}
	groups := make([]string, 0, len(u.Groups)+1)
	for _, g := range u.Groups {
		if err := checkIdentityValue(g); err != nil {
			return identity{}, fmt.Errorf("build downstream identity: group: %w", err)
		}
		groups = append(groups, GroupPrefix+g)
	}
	groups = append(groups, AuthenticatedGroup)
	slices.Sort(groups)
	return identity{user: UserPrefix + u.Name, groups: slices.Compact(groups)}, nil
}

// checkIdentityValue refuses names that could be read differently by the
// apiserver than by bokujo: empty ones (the apiserver would treat a missing
// Impersonate-User as no impersonation), control characters (header
// injection, log forging), invalid UTF-8, and surrounding white space
// (trimmed by HTTP parsers, so " alice" would become "alice").
func checkIdentityValue(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty: %w", errIdentity)
	case len(s) > maxIdentityValue:
		return fmt.Errorf("longer than %d bytes: %w", maxIdentityValue, errIdentity)
	case !utf8.ValidString(s):
		return fmt.Errorf("not valid UTF-8: %w", errIdentity)
	case strings.TrimSpace(s) != s:
		return fmt.Errorf("surrounded by white space: %w", errIdentity)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("contains a control character: %w", errIdentity)
		}
	}
	return nil
}

// stripCredentials deletes from out every header that could carry a
// credential or an identity claim from the client. in is the request as
// received: its Connection header still lists the names the client declared
// hop-by-hop, which must go as well. Deleting by iterating over every key
// with a case-insensitive comparison catches spellings that were not
// canonicalised (HTTP/2 lower-case, names with characters Go leaves alone).
func stripCredentials(out, in http.Header) {
	connectionListed := map[string]bool{}
	for _, v := range in.Values("Connection") {
		for tok := range strings.SplitSeq(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				connectionListed[strings.ToLower(tok)] = true
			}
		}
	}
	// Upgrade is the one hop-by-hop header the backend must see on an
	// upgrade: ReverseProxy put it back after its own hop-by-hop removal.
	delete(connectionListed, "upgrade")
	delete(connectionListed, "connection")

	for name := range out {
		lower := strings.ToLower(name)
		if connectionListed[lower] || sensitiveHeader(lower) {
			delete(out, name)
		}
	}
	stripWebsocketBearer(out)
}

// sensitiveHeader reports headers that carry credentials or identity.
func sensitiveHeader(lower string) bool {
	switch lower {
	case "authorization", "proxy-authorization", "cookie", strings.ToLower(CSRFHeader):
		// The client's bokujo credentials mean nothing downstream; sending
		// them would leak a bokujo session to every cluster. Worse, client-go's
		// bearer round tripper keeps an Authorization header already present,
		// so a client's header would replace the proxy's own credential.
		return true
	}
	// Some front ends turn "_" into "-"; treat both as the same name.
	dashed := strings.ReplaceAll(lower, "_", "-")
	return strings.HasPrefix(dashed, "impersonate-") ||
		// Request-header authentication (front proxy) names: only trusted
		// with a front-proxy client certificate, which the proxy never
		// holds, but nothing good comes from forwarding them.
		strings.HasPrefix(dashed, "x-remote-")
}

// stripWebsocketBearer removes bearer tokens from Sec-WebSocket-Protocol and
// keeps the subprotocols the apiserver negotiates (v5.channel.k8s.io, …).
func stripWebsocketBearer(h http.Header) {
	var keep []string
	found := false
	for name, values := range h {
		if !strings.EqualFold(name, "Sec-WebSocket-Protocol") {
			continue
		}
		found = true
		for _, v := range values {
			for p := range strings.SplitSeq(v, ",") {
				p = strings.TrimSpace(p)
				if p != "" && !strings.HasPrefix(strings.ToLower(p), websocketBearerPrefix) {
					keep = append(keep, p)
				}
			}
		}
		delete(h, name)
	}
	if found && len(keep) > 0 {
		h.Set("Sec-WebSocket-Protocol", strings.Join(keep, ", "))
	}
}

// setIdentity sets the impersonation headers on a header map that
// stripCredentials has already cleaned: the values set here are the only
// impersonation headers the backend receives.
func setIdentity(h http.Header, id identity) {
	h[headerImpersonateUser] = []string{id.user}
	h[headerImpersonateGroup] = slices.Clone(id.groups)
}
