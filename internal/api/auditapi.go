package api

import (
	"net/http"
	"strconv"
	"time"

	"bokujo.io/bokujo/internal/audit"
)

// searchAudit answers GET /v1/audit?user=&cluster=&kind=&verb=&since=&until=&limit=
// with the newest matching records first. Times are RFC 3339.
func (a *API) searchAudit(w http.ResponseWriter, r *http.Request, _ caller) {
	if a.opts.Audit == nil {
		writeError(w, http.StatusNotFound, "NotFound", "the audit log is not enabled on this server")
		return
	}
	q := r.URL.Query()
	query := audit.Query{User: q.Get("user"), Cluster: q.Get("cluster"), Kind: q.Get("kind"), Verb: q.Get("verb")}
	for key, dst := range map[string]*time.Time{"since": &query.Since, "until": &query.Until} {
		if s := q.Get(key); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				writeError(w, http.StatusBadRequest, "BadRequest", "%s must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z", key)
				return
			}
			*dst = t
		}
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > audit.MaxQueryLimit {
			writeError(w, http.StatusBadRequest, "BadRequest", "limit must be 1-%d", audit.MaxQueryLimit)
			return
		}
		query.Limit = n
	}
	recs, err := a.opts.Audit.Search(query)
	if err != nil {
		a.log.Error("audit search", "err", err)
		writeError(w, http.StatusInternalServerError, "Internal", "cannot read the audit log")
		return
	}
	if recs == nil {
		recs = []audit.Record{}
	}
	writeJSON(w, http.StatusOK, List[audit.Record]{Items: recs})
}
