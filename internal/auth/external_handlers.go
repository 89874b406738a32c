package auth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
	"bokujo.io/bokujo/internal/auth/ldap"
)

// Error codes of the external login API.
const (
	// CodeProviderUnavailable: the provider is misconfigured or cannot be
	// reached; the detail is in the server's log and the test action.
	CodeProviderUnavailable = "ProviderUnavailable"
)

// providerTestTimeout bounds a connection test.
const providerTestTimeout = 20 * time.Second

// registerExternal adds the external login routes:
//
//	GET  /v1/auth/providers                   public: enabled providers for the login page
//	POST /v1/auth/ldap/{provider}/login       {username, password} → as POST /v1/login
//	POST /v1/auth/providers/{name}/test       admins: test the connection, write status
func (s *Service) registerExternal(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/auth/providers", s.handleListProviders)
	mux.HandleFunc("POST /v1/auth/ldap/{provider}/login", s.handleLDAPLogin)
	mux.HandleFunc("POST /v1/auth/providers/{name}/test", s.authed(s.handleTestProvider))
	s.registerRedirectFlows(mux)
}

type providerView struct {
	Name        string                    `json:"name"`
	Type        v1alpha1.AuthProviderType `json:"type"`
	DisplayName string                    `json:"displayName"`
	// LoginURL is where the login button goes: a form POSTs username and
	// password to it (LDAP), or the browser navigates to it (OIDC, GitHub).
	LoginURL string `json:"loginURL"`
}

type providerListResponse struct {
	Items []providerView `json:"items"`
}

func (s *Service) handleListProviders(w http.ResponseWriter, r *http.Request) {
	var list v1alpha1.AuthProviderList
	if err := s.cache.List(r.Context(), &list, client.UnsafeDisableDeepCopy); err != nil {
		s.internalError(w, r, "list auth providers", err)
		return
	}
	resp := providerListResponse{Items: []providerView{}}
	for _, p := range list.Items {
		if p.Spec.State == v1alpha1.AuthProviderDisabled || p.DeletionTimestamp != nil {
			continue
		}
		v := providerView{Name: p.Name, Type: p.Spec.Type, DisplayName: p.Spec.DisplayName}
		if v.DisplayName == "" {
			v.DisplayName = p.Name
		}
		if p.Spec.Type == v1alpha1.AuthProviderLDAP {
			v.LoginURL = "/v1/auth/ldap/" + p.Name + "/login"
		} else {
			v.LoginURL = "/v1/auth/" + p.Name + "/start"
		}
		resp.Items = append(resp.Items, v)
	}
	slices.SortFunc(resp.Items, func(a, b providerView) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, resp)
}

func (s *Service) handleLDAPLogin(w http.ResponseWriter, r *http.Request) {
	if crossSite(r) {
		writeError(w, http.StatusForbidden, CodeCrossSite, "cross-site request refused")
		return
	}
	var req loginRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	sess, err := s.LoginLDAP(r.Context(), r.PathValue("provider"), req.Username, req.Password, s.clientIP(r))
	if err != nil {
		s.writeExternalLoginError(w, r, err)
		return
	}
	s.writeSession(w, sess)
}

// writeSession answers a login as POST /v1/login does.
func (s *Service) writeSession(w http.ResponseWriter, sess *Session) {
	http.SetCookie(w, sessionCookie(sess.Token, sess.ExpiresAt, s.clock.Now()))
	writeJSON(w, http.StatusOK, loginResponse{
		User:      viewUser(sess.User),
		CSRFToken: sess.CSRFToken,
		ExpiresAt: sess.ExpiresAt.UTC(),
	})
}

func (s *Service) writeExternalLoginError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrProviderNotFound):
		writeError(w, http.StatusNotFound, CodeNotFound, "identity provider not found")
	case errors.Is(err, ErrNotAllowed):
		writeError(w, http.StatusForbidden, CodeForbidden, "your account is not a member of an organization allowed to log in here; ask an administrator")
	case errors.Is(err, ErrInvalidCredentials), errors.Is(err, ErrUserDisabled):
		s.writeVerifyError(w, r, err, http.StatusUnauthorized)
	case isThrottled(err):
		s.writeVerifyError(w, r, err, http.StatusUnauthorized)
	default:
		// The directory's or the configuration's fault, not the user's:
		// the detail (names, never credentials) goes to the log only.
		s.log.ErrorContext(r.Context(), "external login", "error", err)
		writeError(w, http.StatusServiceUnavailable, CodeProviderUnavailable, "the identity provider is unavailable; try again later or ask an administrator")
	}
}

func isThrottled(err error) bool {
	var t *ThrottledError
	return errors.As(err, &t)
}

type providerTestResponse struct {
	Ready   bool   `json:"ready"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

func (s *Service) handleTestProvider(w http.ResponseWriter, r *http.Request, p *principal) {
	admin, err := s.IsAdmin(r.Context(), p.user.Name, p.groups)
	if err != nil {
		s.internalError(w, r, "check admin", err)
		return
	}
	if !admin {
		writeError(w, http.StatusForbidden, CodeForbidden, "only administrators may test identity providers")
		return
	}
	name := r.PathValue("name")
	var ap v1alpha1.AuthProvider
	if err := s.apiReader.Get(r.Context(), client.ObjectKey{Name: name}, &ap); err != nil {
		if client.IgnoreNotFound(err) == nil {
			writeError(w, http.StatusNotFound, CodeNotFound, "identity provider not found")
			return
		}
		s.internalError(w, r, "read auth provider", err)
		return
	}
	res := s.TestProvider(r.Context(), &ap)
	writeJSON(w, http.StatusOK, res)
}

// TestProvider tests the provider's connection and records the result in
// its Ready condition and status.lastTestTime.
func (s *Service) TestProvider(ctx context.Context, ap *v1alpha1.AuthProvider) providerTestResponse {
	ctx, cancel := context.WithTimeout(ctx, providerTestTimeout)
	defer cancel()
	err := s.testProvider(ctx, ap)
	res := providerTestResponse{Ready: err == nil, Reason: v1alpha1.AuthProviderReasonConnected, Message: "connection test succeeded"}
	if err != nil {
		res.Reason, res.Message = v1alpha1.AuthProviderReasonInvalidConfig, err.Error()
		var lerr *ldap.Error
		var terr *testError
		switch {
		case errors.As(err, &lerr):
			res.Reason = lerr.Reason
		case errors.As(err, &terr):
			res.Reason = terr.reason
		}
	}
	cond := metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: res.Reason, Message: truncate(res.Message, 1024)}
	if !res.Ready {
		cond.Status = metav1.ConditionFalse
	}
	now := metav1.NewTime(s.clock.Now())
	werr := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var cur v1alpha1.AuthProvider
		if err := s.apiReader.Get(ctx, client.ObjectKey{Name: ap.Name}, &cur); err != nil {
			return err
		}
		cond.ObservedGeneration = cur.Generation
		apimeta.SetStatusCondition(&cur.Status.Conditions, cond)
		cur.Status.LastTestTime = &now
		return s.client.Status().Update(ctx, &cur, client.FieldOwner(fieldManager))
	})
	if werr != nil {
		s.log.WarnContext(ctx, "record provider test", "provider", ap.Name, "error", werr)
	}
	return res
}

// testError carries a Ready reason for providers other than LDAP.
type testError struct {
	reason string
	err    error
}

func (e *testError) Error() string { return e.err.Error() }
func (e *testError) Unwrap() error { return e.err }

func (s *Service) testProvider(ctx context.Context, ap *v1alpha1.AuthProvider) error {
	switch ap.Spec.Type {
	case v1alpha1.AuthProviderLDAP:
		c, err := s.ldapClient(ctx, ap)
		if err != nil {
			return err
		}
		return c.Test(ctx)
	default:
		return s.testRedirectProvider(ctx, ap)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
