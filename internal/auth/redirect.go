package auth

import (
	"context"
	"fmt"
	"net/http"

	v1alpha1 "bokujo.io/bokujo/api/management/v1alpha1"
)

// registerRedirectFlows adds the browser redirect flows of OIDC and GitHub.
func (s *Service) registerRedirectFlows(mux *http.ServeMux) {}

func (s *Service) testRedirectProvider(ctx context.Context, ap *v1alpha1.AuthProvider) error {
	return &testError{reason: v1alpha1.AuthProviderReasonInvalidConfig, err: fmt.Errorf("testing %s providers is not supported", ap.Spec.Type)}
}
