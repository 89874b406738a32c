package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"bokujo.io/bokujo/internal/auth"
	"bokujo.io/bokujo/internal/webkubectl"
)

// routePattern finds the route patterns registered in a Go source file.
var routePattern = regexp.MustCompile(`"((?:GET|POST|PUT|PATCH|DELETE) /v1/[^"]*)"`)

// TestOpenAPIListsEveryRoute keeps the hand-written document and the
// routes of this package and of the auth service in step, both ways.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(openapiJSON, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	var routes []string
	for _, glob := range []string{"*.go", "../auth/*.go", "../webkubectl/*.go"} {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range routePattern.FindAllStringSubmatch(string(src), -1) {
				routes = append(routes, m[1])
			}
		}
	}
	if len(routes) < 15 {
		t.Fatalf("found only %d routes in the sources", len(routes))
	}
	for _, route := range routes {
		method, path, _ := strings.Cut(route, " ")
		ops, ok := doc.Paths[path]
		if !ok {
			t.Errorf("route %s is not in openapi.json", route)
			continue
		}
		if _, ok := ops[strings.ToLower(method)]; !ok {
			t.Errorf("method %s of %s is not in openapi.json", method, path)
		}
	}
	mux := http.NewServeMux()
	New(Options{}).Register(mux)
	(&auth.Service{}).Register(mux)
	mux.Handle(webkubectl.Route, http.NotFoundHandler())
	for path, ops := range doc.Paths {
		for method := range ops {
			url := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, "x")
			_, pattern := mux.Handler(httptest.NewRequest(strings.ToUpper(method), url, nil))
			if pattern == "" {
				t.Errorf("documented %s %s has no handler", strings.ToUpper(method), path)
			}
		}
	}
}
