package proxy

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

var (
	// ErrUnauthenticated is returned by an Authenticator when the request
	// carries no credential or an invalid, expired or revoked one. The proxy
	// answers 401.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrPasswordChangeRequired is returned by an Authenticator for a valid
	// credential of a user who must choose a new password first. The proxy
	// answers 403 with reason ReasonPasswordChangeRequired.
	ErrPasswordChangeRequired = errors.New("password change required")
	// ErrClusterNotFound is returned by a Resolver both for a cluster that
	// does not exist and for one the user was not granted, so the answer (404)
	// does not reveal which clusters exist.
	ErrClusterNotFound = errors.New("cluster not found")
	// ErrClusterUnavailable is returned by a Resolver when the cluster exists
	// and is granted but cannot be reached now (disconnected agent, failing
	// health). The proxy answers 503.
	ErrClusterUnavailable = errors.New("cluster unavailable")
)

// ReasonPasswordChangeRequired is the reason of the 403 answered to a user
// who must choose a new password before anything else.
const ReasonPasswordChangeRequired = "PasswordChangeRequired"

// Status reasons, as in k8s.io/apimachinery/pkg/apis/meta/v1. They are
// repeated here so error answers are plain structs with a fixed field order.
const (
	reasonBadRequest            = "BadRequest"
	reasonUnauthorized          = "Unauthorized"
	reasonForbidden             = "Forbidden"
	reasonNotFound              = "NotFound"
	reasonMethodNotAllowed      = "MethodNotAllowed"
	reasonRequestEntityTooLarge = "RequestEntityTooLarge"
	reasonInternalError         = "InternalError"
	reasonServiceUnavailable    = "ServiceUnavailable"
	reasonBadGateway            = "BadGateway"
)

// status is a Kubernetes v1 Status. kubectl and client-go decode it into a
// typed error, so `kubectl get pods` through the proxy prints
// `Error from server (NotFound): clusters "x" not found` rather than a raw
// body.
type status struct {
	Kind       string         `json:"kind"`
	APIVersion string         `json:"apiVersion"`
	Status     string         `json:"status"`
	Message    string         `json:"message"`
	Reason     string         `json:"reason"`
	Details    *statusDetails `json:"details,omitempty"`
	Code       int            `json:"code"`
}

type statusDetails struct {
	Name string `json:"name,omitempty"`
	Kind string `json:"kind,omitempty"`
}

// writeStatus writes a Failure Status. Messages are fixed strings chosen by
// the proxy plus, at most, the cluster id the client sent: never an internal
// address, a token or a header value.
func writeStatus(w http.ResponseWriter, code int, reason, message string, details *statusDetails) {
	body, err := json.Marshal(status{
		Kind: "Status", APIVersion: "v1", Status: "Failure",
		Message: message, Reason: reason, Details: details, Code: code,
	})
	if err != nil {
		// Marshalling a struct of strings cannot fail; keep a valid answer anyway.
		body = []byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"InternalError","code":500}`)
		code = http.StatusInternalServerError
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func writeNotFound(w http.ResponseWriter, cluster string) {
	// One function for unknown and ungranted clusters: the bodies must be
	// byte-identical or the difference would reveal which clusters exist.
	writeStatus(w, http.StatusNotFound, reasonNotFound, `clusters "`+cluster+`" not found`,
		&statusDetails{Name: cluster, Kind: "clusters"})
}
