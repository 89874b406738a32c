package api

import (
	"net/http"
)

// The Slack endpoints are authenticated by Slack's request signature, not
// by a bokujo credential; chatops.Slack verifies it and maps the Slack
// account to a bokujo user.
func (a *API) registerChat(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/chat/slack/commands", func(w http.ResponseWriter, r *http.Request) {
		if a.opts.Slack == nil {
			writeError(w, http.StatusNotFound, "NotFound", "Slack is not configured on this bokujo server")
			return
		}
		a.opts.Slack.Commands(w, r)
	})
	mux.HandleFunc("POST /v1/chat/slack/interactions", func(w http.ResponseWriter, r *http.Request) {
		if a.opts.Slack == nil {
			writeError(w, http.StatusNotFound, "NotFound", "Slack is not configured on this bokujo server")
			return
		}
		a.opts.Slack.Interactions(w, r)
	})
}
