package proxy

import (
	"net/http"
	"net/url"
	"strings"

	"k8s.io/apimachinery/pkg/fields"
)

// requestInfo is what the audit record says about a Kubernetes API request.
//
// It follows k8s.io/apiserver's RequestInfoFactory (requestinfo.go), which
// the apiserver itself uses for authorization, so the verbs match what RBAC
// sees. That package is not imported: it drags in feature gates and metrics
// for what are forty lines of path splitting.
type requestInfo struct {
	IsResourceRequest bool
	// Path is set for non-resource requests (/version, /api, /openapi/v3).
	Path        string
	Verb        string
	APIGroup    string
	APIVersion  string
	Namespace   string
	Resource    string
	Subresource string
	Name        string
}

var (
	// specialVerbs are path prefixes of the old /api/v1/watch/… and
	// /api/v1/proxy/… forms that name the verb themselves.
	specialVerbs = map[string]bool{"proxy": true, "watch": true}
	// namespaceSubresources are the subresources of a Namespace object, as
	// opposed to resources inside a namespace.
	namespaceSubresources = map[string]bool{"status": true, "finalize": true}
)

// parseRequestInfo derives the Kubernetes verb and resource of a request
// from its downstream path (already unescaped) and query.
func parseRequestInfo(method, path string, query url.Values) requestInfo {
	nonResource := requestInfo{Path: path, Verb: strings.ToLower(method)}
	parts := splitPath(path)
	if len(parts) < 3 || (parts[0] != "api" && parts[0] != "apis") {
		return nonResource
	}
	info := requestInfo{IsResourceRequest: true}
	prefix := parts[0]
	parts = parts[1:]
	if prefix == "apis" {
		// /apis/{group}/{version} without a resource is discovery.
		if len(parts) < 3 {
			return nonResource
		}
		info.APIGroup = parts[0]
		parts = parts[1:]
	}
	info.APIVersion = parts[0]
	parts = parts[1:]

	if specialVerbs[parts[0]] {
		if len(parts) < 2 {
			return nonResource
		}
		info.Verb = parts[0]
		parts = parts[1:]
	} else {
		switch method {
		case http.MethodPost:
			info.Verb = "create"
		case http.MethodGet, http.MethodHead:
			info.Verb = "get"
		case http.MethodPut:
			info.Verb = "update"
		case http.MethodPatch:
			info.Verb = "patch"
		case http.MethodDelete:
			info.Verb = "delete"
		default:
			info.Verb = ""
		}
	}

	if parts[0] == "namespaces" {
		if len(parts) > 1 {
			info.Namespace = parts[1]
			// /namespaces/{ns}/{resource}/… is a namespaced resource;
			// /namespaces/{ns}/status is the Namespace object's subresource.
			if len(parts) > 2 && !namespaceSubresources[parts[2]] {
				parts = parts[2:]
			}
		}
	}

	switch {
	case len(parts) >= 3 && info.Verb != "proxy":
		info.Subresource = parts[2]
		fallthrough
	case len(parts) >= 2:
		info.Name = parts[1]
		fallthrough
	case len(parts) >= 1:
		info.Resource = parts[0]
	}

	if info.Name == "" && info.Verb == "get" {
		info.Verb = "list"
		if isTrue(query["watch"]) {
			info.Verb = "watch"
		}
		// A watch or list of one object by field selector is about that
		// object, as the apiserver's authorizer sees it.
		if fs := query.Get("fieldSelector"); fs != "" {
			if sel, err := fields.ParseSelector(fs); err == nil {
				if name, ok := sel.RequiresExactMatch("metadata.name"); ok && validPathSegment(name) {
					info.Name = name
				}
			}
		}
	}
	if info.Name == "" && info.Verb == "delete" {
		info.Verb = "deletecollection"
	}
	return info
}

// isTrue converts a query parameter like the apiserver's parameter codec.
func isTrue(v []string) bool {
	if len(v) == 0 {
		return false
	}
	s := v[0]
	return s != "0" && !strings.EqualFold(s, "f") && !strings.EqualFold(s, "false")
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func validPathSegment(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/%")
}
