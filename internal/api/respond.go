package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"bokujo.io/bokujo/internal/proxy"
)

// Error is the body of every error answer:
// {"error":{"code":"NotFound","message":"..."}}.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, format string, args ...any) {
	writeJSON(w, status, map[string]Error{"error": {Code: code, Message: fmt.Sprintf(format, args...)}})
}

// writePasswordChangeRequired answers a user who must choose a new
// password first: the usual error body plus top-level reason and message.
func writePasswordChangeRequired(w http.ResponseWriter) {
	const msg = "choose a new password first: POST /v1/me/password in the API, or log in to the web UI"
	writeJSON(w, http.StatusForbidden, map[string]any{
		"reason":  proxy.ReasonPasswordChangeRequired,
		"message": msg,
		"error":   Error{Code: proxy.ReasonPasswordChangeRequired, Message: msg},
	})
}

// maxBody bounds request bodies; a kubeconfig is a few kilobytes.
const maxBody = 1 << 20

// decode reads a JSON body strictly: one object, no unknown fields.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != "application/json" && ct[:min(len(ct), 17)] != "application/json;" {
		writeError(w, http.StatusUnsupportedMediaType, "UnsupportedMediaType", "send application/json")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "TooLarge", "request body over %d bytes", maxBody)
			return false
		}
		writeError(w, http.StatusBadRequest, "BadRequest", "invalid JSON body: %v", err)
		return false
	}
	if dec.Decode(&struct{}{}) != io.EOF {
		writeError(w, http.StatusBadRequest, "BadRequest", "the body must hold exactly one JSON object")
		return false
	}
	return true
}

// page slices a sorted list by ?limit= and ?continue= (an offset token).
// It returns the page and the token of the next one ("" at the end).
func page[T any](w http.ResponseWriter, r *http.Request, items []T) ([]T, string, bool) {
	limit, offset := 100, 0
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "BadRequest", "limit must be 1-1000")
			return nil, "", false
		}
		limit = n
	}
	if s := r.URL.Query().Get("continue"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > len(items) {
			writeError(w, http.StatusBadRequest, "BadRequest", "invalid continue token")
			return nil, "", false
		}
		offset = n
	}
	end := min(offset+limit, len(items))
	next := ""
	if end < len(items) {
		next = strconv.Itoa(end)
	}
	return items[offset:end], next, true
}

// List is the envelope of every list answer.
type List[T any] struct {
	Items    []T    `json:"items"`
	Continue string `json:"continue,omitempty"`
}

// conflictBackoff retries a write that met a newer version of its object
// for about five seconds: enough for a cache to catch up.
var conflictBackoff = wait.Backoff{Steps: 8, Duration: 20 * time.Millisecond, Factor: 2, Jitter: 0.1}

// update applies mutate to obj and writes it. obj may come from a cache a
// moment behind a write just made (by this replica or another): a conflict
// re-reads it, applies mutate again and retries, rather than failing the
// request.
func (a *API) update(ctx context.Context, obj client.Object, mutate func()) error {
	first := true
	return retry.RetryOnConflict(conflictBackoff, func() error {
		if !first {
			if err := a.writer().Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
				return err
			}
		}
		first = false
		mutate()
		return a.writer().Update(ctx, obj)
	})
}
