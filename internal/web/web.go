// Package web serves bokujo's single-page UI from the files built into the
// binary: hashed bundles under /assets/ cached for a year, index.html for
// every client route (revalidated on each visit), gzip sidecars when the
// browser accepts them, and a strict Content-Security-Policy with the
// other browser-hardening headers on every answer.
//
// A missing file under /assets/ is a 404, never index.html: a page that
// asks for a lost bundle must fail visibly, not parse HTML as JavaScript.
package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	webui "bokujo.io/bokujo/web"
)

// CSP is a Content-Security-Policy: directive → sources.
type CSP map[string][]string

// String renders the policy with directives in a stable order.
func (c CSP) String() string {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	// default-src first for readability; the rest sorted.
	slices.SortFunc(names, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == "default-src":
			return -1
		case b == "default-src":
			return 1
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, strings.Join(append([]string{n}, c[n]...), " "))
	}
	return strings.Join(parts, "; ")
}

// DefaultCSP allows only bokujo's own files and API: no inline script or
// style, no other origins, no framing, and data: images only (for
// icons a component may draw).
var DefaultCSP = CSP{
	"default-src":     {"'self'"},
	"script-src":      {"'self'"},
	"style-src":       {"'self'"},
	"img-src":         {"'self'", "data:"},
	"connect-src":     {"'self'"},
	"font-src":        {"'self'"},
	"object-src":      {"'none'"},
	"frame-ancestors": {"'none'"},
	"base-uri":        {"'none'"},
	"form-action":     {"'self'"},
}

const (
	assetsPrefix = "/assets/"
	// Hashed file names change with their content, so a browser may keep
	// them for good.
	immutableCache = "public, max-age=31536000, immutable"
	// index.html names the current bundles: revalidate it every time
	// (cheap, thanks to its ETag).
	revalidateCache = "no-cache"
)

// apiPrefixes never fall back to index.html: a client of an API path that
// does not exist must get a 404, not a web page.
var apiPrefixes = []string{"/v1/", "/k8s/"}

// Handler serves the UI.
type Handler struct {
	files     fs.FS
	csp       string
	index     []byte
	indexETag string
	etags     map[string]string
}

// Embedded serves the UI built into the binary.
func Embedded() (*Handler, error) { return New(webui.Dist()) }

// New serves the UI in files, which must hold index.html at its root.
func New(files fs.FS) (*Handler, error) {
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		return nil, fmt.Errorf("web UI: read index.html: %w (build it with `make web`)", err)
	}
	if err := checkNoInline(index); err != nil {
		return nil, fmt.Errorf("web UI: %w", err)
	}
	h := &Handler{files: files, csp: DefaultCSP.String(), index: index, indexETag: etag(index), etags: map[string]string{}}
	// ETags of every file, computed once: the files never change while
	// the binary runs.
	err = fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		h.etags[name] = etag(data)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web UI: read files: %w", err)
	}
	return h, nil
}

var (
	scriptTag = regexp.MustCompile(`(?is)<script\b([^>]*)>`)
	styleTag  = regexp.MustCompile(`(?is)<style\b|\sstyle\s*=`)
	srcAttr   = regexp.MustCompile(`(?i)\ssrc\s*=`)
)

// checkNoInline refuses an index.html the CSP would break: an inline
// script or style would be blocked and the page left blank.
func checkNoInline(index []byte) error {
	for _, m := range scriptTag.FindAllSubmatch(index, -1) {
		if !srcAttr.Match(m[1]) {
			return errors.New("index.html has an inline <script>, which the Content-Security-Policy blocks")
		}
	}
	if styleTag.Match(index) {
		return errors.New("index.html has inline styles, which the Content-Security-Policy blocks")
	}
	return nil
}

func etag(data []byte) string {
	sum := sha256.Sum256(data)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}

// ServeHTTP serves GET and HEAD.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", h.csp)
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "same-origin")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")

	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		plain(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	p := r.URL.Path
	if !safePath(p) {
		plain(w, http.StatusBadRequest, "invalid path")
		return
	}
	switch {
	case p == "/" || p == "/index.html":
		h.serveIndex(w, r)
	case strings.HasPrefix(p, assetsPrefix):
		if !h.serveFile(w, r, strings.TrimPrefix(p, "/"), immutableCache) {
			notFound(w)
		}
	case isAPIPath(p):
		notFound(w)
	default:
		// A file at the root (favicon.svg) is served as it is; any other
		// path is a route of the app, which index.html renders.
		if !h.serveFile(w, r, strings.TrimPrefix(p, "/"), revalidateCache) {
			h.serveIndex(w, r)
		}
	}
}

func isAPIPath(p string) bool {
	for _, prefix := range apiPrefixes {
		if strings.HasPrefix(p, prefix) || p == strings.TrimSuffix(prefix, "/") {
			return true
		}
	}
	return false
}

// safePath refuses what could climb out of the files: dot segments,
// backslashes (a separator on some systems) and NUL bytes. The server's
// mux already redirects most of these; the handler does not rely on it.
func safePath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00") {
		return false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." || seg == "." {
			return false
		}
	}
	return true
}

func (h *Handler) serveIndex(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", revalidateCache)
	hdr.Set("ETag", h.indexETag)
	http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(h.index))
}

// serveFile serves name (relative to the files' root) and reports whether
// it existed. Gzip sidecars (name.gz) are sent to browsers that accept
// them and are not served under their own names.
func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, name, cacheControl string) bool {
	if name == "" || name == "index.html" || strings.HasSuffix(name, ".gz") || !fs.ValidPath(name) {
		return false
	}
	tag, ok := h.etags[name]
	if !ok {
		return false
	}
	hdr := w.Header()
	served := name
	if _, gz := h.etags[name+".gz"]; gz {
		hdr.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Values("Accept-Encoding")) {
			served = name + ".gz"
			hdr.Set("Content-Encoding", "gzip")
			// The compressed bytes are another representation.
			tag = strings.TrimSuffix(tag, `"`) + `-gz"`
		}
	}
	data, err := fs.ReadFile(h.files, served)
	if err != nil {
		return false
	}
	hdr.Set("Content-Type", contentType(name))
	hdr.Set("Cache-Control", cacheControl)
	hdr.Set("ETag", tag)
	http.ServeContent(w, r, path.Base(name), time.Time{}, bytes.NewReader(data))
	return true
}

// contentType is fixed for the files a Vite build makes, so the answer
// does not depend on the host's /etc/mime.types.
func contentType(name string) string {
	switch ext := path.Ext(name); ext {
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".html":
		return "text/html; charset=utf-8"
	case ".json", ".map":
		return "application/json"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".ico":
		return "image/x-icon"
	case ".woff2":
		return "font/woff2"
	case ".txt":
		return "text/plain; charset=utf-8"
	default:
		if t := mime.TypeByExtension(ext); t != "" {
			return t
		}
		return "application/octet-stream"
	}
}

// acceptsGzip reads Accept-Encoding: gzip (or *) without q=0.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(item), ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			if coding != "gzip" && coding != "*" {
				continue
			}
			q := strings.ReplaceAll(strings.ToLower(params), " ", "")
			if q == "q=0" || q == "q=0.0" || q == "q=0.00" || q == "q=0.000" {
				return false
			}
			return true
		}
	}
	return false
}

func plain(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}

func notFound(w http.ResponseWriter) { plain(w, http.StatusNotFound, "404 page not found") }
