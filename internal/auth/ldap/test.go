package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"

	goldap "github.com/go-ldap/ldap/v3"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// Reasons of an *Error: the AuthProvider Ready reasons.
const (
	ReasonDNS        = v1alpha1.AuthProviderReasonDNSFailed
	ReasonConnect    = v1alpha1.AuthProviderReasonConnectFailed
	ReasonTLS        = v1alpha1.AuthProviderReasonTLSFailed
	ReasonBind       = v1alpha1.AuthProviderReasonBindFailed
	ReasonBaseDN     = v1alpha1.AuthProviderReasonBaseDNNotFound
	ReasonInvalid    = v1alpha1.AuthProviderReasonInvalidConfig
	ReasonConnected  = v1alpha1.AuthProviderReasonConnected
	reasonSearchFail = v1alpha1.AuthProviderReasonConnectFailed
)

// Error is a failure to reach or use the directory, with the step that
// failed as Reason, so an administrator knows where to look.
type Error struct {
	Reason string
	Err    error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// classifyDial tells a name that does not resolve from a refused
// connection and from a certificate the CA does not sign.
func classifyDial(err error) error {
	var dnsErr *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var verifyErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	switch {
	case errors.As(err, &dnsErr):
		return &Error{Reason: ReasonDNS, Err: fmt.Errorf("resolve %q: %w", dnsErr.Name, err)}
	case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &verifyErr), errors.As(err, &recordErr):
		return &Error{Reason: ReasonTLS, Err: fmt.Errorf("tls handshake: %w", err)}
	default:
		return &Error{Reason: ReasonConnect, Err: fmt.Errorf("connect: %w", err)}
	}
}

// Test connects and binds as the service account, then checks that the
// user and group base DNs exist. The error is an *Error.
func (c *Client) Test(ctx context.Context) error {
	conn, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.close()
	bases := []string{c.cfg.UserBaseDN}
	if c.cfg.GroupBaseDN != "" {
		bases = append(bases, c.cfg.GroupBaseDN)
	}
	for _, base := range bases {
		_, err := conn.Search(goldap.NewSearchRequest(base, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 1, 0, false,
			"(objectClass=*)", []string{"dn"}, nil))
		switch {
		case goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject):
			return &Error{Reason: ReasonBaseDN, Err: fmt.Errorf("base DN %q does not exist", base)}
		case err != nil:
			return &Error{Reason: reasonSearchFail, Err: fmt.Errorf("search base DN %q: %w", base, err)}
		}
	}
	return nil
}
