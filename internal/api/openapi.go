package api

import (
	_ "embed"
	"net/http"
)

// openapiJSON describes the /v1 API. It is written by hand next to the
// handlers (a generator would need annotations on every handler for a dozen
// routes); TestOpenAPIListsEveryRoute keeps the two in step.
//
//go:embed openapi.json
var openapiJSON []byte

func (a *API) openapi(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(openapiJSON)
}
