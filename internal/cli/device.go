package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// deviceLogin runs the OAuth 2.0 device flow through the bokujo server:
// the server talks to the identity provider and keeps the client secret;
// this terminal only prints where to go and polls. On success the client
// holds a session (cookie and CSRF token) and the user's name is returned.
func deviceLogin(ctx context.Context, s Streams, c *apiClient, provider string) (string, error) {
	if provider == "" {
		var list struct {
			Items []struct {
				Name, Type, DisplayName string
			} `json:"items"`
		}
		if err := c.do("GET", "/v1/auth/providers", nil, &list); err != nil {
			return "", fmt.Errorf("list identity providers: %w", err)
		}
		var oidc []string
		for _, p := range list.Items {
			if strings.EqualFold(p.Type, "OIDC") {
				oidc = append(oidc, p.Name)
			}
		}
		switch len(oidc) {
		case 0:
			return "", errors.New("this server has no OIDC identity provider enabled: log in with --username")
		case 1:
			provider = oidc[0]
		default:
			return "", fmt.Errorf("several OIDC providers (%s): choose one with --provider", strings.Join(oidc, ", "))
		}
	}
	var start struct {
		UserCode                string    `json:"userCode"`
		VerificationURI         string    `json:"verificationURI"`
		VerificationURIComplete string    `json:"verificationURIComplete"`
		DeviceCode              string    `json:"deviceCode"`
		Interval                int       `json:"interval"`
		ExpiresAt               time.Time `json:"expiresAt"`
	}
	if err := c.do("POST", "/v1/auth/"+provider+"/device", nil, &start); err != nil {
		return "", fmt.Errorf("start device login: %w", err)
	}
	fmt.Fprintf(s.Err, "To log in, open %s on any device and enter the code:\n\n    %s\n\n", start.VerificationURI, start.UserCode)
	if start.VerificationURIComplete != "" {
		fmt.Fprintf(s.Err, "(or open %s)\n", start.VerificationURIComplete)
	}
	fmt.Fprintln(s.Err, "Waiting for you to approve...")
	interval := time.Duration(max(start.Interval, 1)) * time.Second
	for {
		if !start.ExpiresAt.IsZero() && time.Now().After(start.ExpiresAt) {
			return "", errors.New("the code expired before it was approved: run `bokujo login --sso` again")
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(interval):
		}
		var answer struct {
			Code      string `json:"code"`
			Interval  int    `json:"interval"`
			CSRFToken string `json:"csrfToken"`
			User      struct {
				Name     string `json:"name"`
				Username string `json:"username"`
			} `json:"user"`
		}
		if err := c.do("POST", "/v1/auth/"+provider+"/device/token", map[string]string{"deviceCode": start.DeviceCode}, &answer); err != nil {
			return "", fmt.Errorf("device login: %w", err)
		}
		if answer.CSRFToken != "" {
			c.csrf = answer.CSRFToken
			name := answer.User.Username
			if name == "" {
				name = answer.User.Name
			}
			return name, nil
		}
		if answer.Interval > 0 {
			interval = time.Duration(answer.Interval) * time.Second
		}
	}
}
