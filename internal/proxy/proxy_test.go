package proxy_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"bokujo.io/bokujo/internal/proxy"
)

func get(t *testing.T, c *http.Client, url, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestStreamsWithoutBuffering reads the first event of a watch-like
// response while the backend still holds the second: the proxy must not
// wait for more data or the end of the body.
func TestStreamsWithoutBuffering(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	resp := get(t, f.proxy.Client(), f.proxy.URL+"/k8s/clusters/dev/stream", "alice-token")
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	first := make(chan string, 1)
	go func() {
		line, _ := r.ReadString('\n')
		first <- line
	}()
	select {
	case line := <-first:
		if line != `{"type":"ADDED"}`+"\n" {
			t.Fatalf("first event %q", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first event did not arrive while the stream was open: the proxy buffers")
	}
	close(f.backend.release)
	line, err := r.ReadString('\n')
	if err != nil || line != `{"type":"MODIFIED"}`+"\n" {
		t.Fatalf("second event %q, %v", line, err)
	}
}

// TestHTTP2Client serves the proxy over TLS with HTTP/2, as the bokujo
// server does, and checks a request arrives and is answered over HTTP/2.
func TestHTTP2Client(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	srv := httptest.NewUnstartedServer(f.handler)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	resp := get(t, srv.Client(), srv.URL+"/k8s/clusters/dev/stream", "alice-token")
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("protocol %s, want HTTP/2", resp.Proto)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != `{"type":"ADDED"}`+"\n" {
		t.Fatalf("first event over HTTP/2: %q, %v", line, err)
	}
	close(f.backend.release)
	if diff := cmp.Diff(aliceDownstream, identityHeaders(f.backend.last(t).Header)); diff != "" {
		t.Errorf("identity headers (-want +got):\n%s", diff)
	}
}

// TestAuditRecords checks one record per request with the Kubernetes verb
// and resource, and that no credential reaches the record.
func TestAuditRecords(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.proxy.Client()
	paths := []string{
		"/k8s/clusters/dev/api/v1/namespaces/ml/pods?limit=500",
		"/k8s/clusters/dev/api/v1/namespaces/ml/pods?watch=true&resourceVersion=1",
		"/k8s/clusters/dev/apis/apps/v1/namespaces/ml/deployments/web",
		"/k8s/clusters/dev/api/v1/namespaces/ml/pods/p/log?follow=true",
		"/k8s/clusters/dev/version",
		"/k8s/clusters/ghost/api",
		"/k8s/clusters/dev/../prod/api",
	}
	for _, p := range paths {
		resp := get(t, c, f.proxy.URL+p, "alice-token")
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	resp := get(t, c, f.proxy.URL+"/k8s/clusters/dev/api", "wrong-token")
	resp.Body.Close()

	alice, groups := "alice", []string{"ml", "data", "ml"}
	want := []proxy.AuditRecord{
		{User: alice, Groups: groups, Cluster: "dev", Verb: "list", APIVersion: "v1", Resource: "pods", Namespace: "ml", Code: 200},
		{User: alice, Groups: groups, Cluster: "dev", Verb: "watch", APIVersion: "v1", Resource: "pods", Namespace: "ml", Code: 200},
		{User: alice, Groups: groups, Cluster: "dev", Verb: "get", APIGroup: "apps", APIVersion: "v1", Resource: "deployments", Namespace: "ml", Name: "web", Code: 200},
		{User: alice, Groups: groups, Cluster: "dev", Verb: "get", APIVersion: "v1", Resource: "pods", Subresource: "log", Namespace: "ml", Name: "p", Code: 200},
		{User: alice, Groups: groups, Cluster: "dev", Verb: "get", Path: "/version", Code: 200},
		{User: alice, Groups: groups, Cluster: "ghost", Verb: "get", Path: "/api", Code: 404},
		{Verb: "get", Code: 400},
		{Cluster: "dev", Verb: "get", Path: "/api", Code: 401},
	}
	got := f.auditor.records()
	for _, r := range got {
		if r.Time.IsZero() || r.Latency < 0 || r.SourceIP != "127.0.0.1" {
			t.Errorf("record without time, latency or source: %+v", r)
		}
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(proxy.AuditRecord{}, "Time", "Latency", "SourceIP")); diff != "" {
		t.Errorf("audit records (-want +got):\n%s", diff)
	}
	js, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"alice-token", "wrong-token", "Bearer"} {
		if strings.Contains(string(js), secret) {
			t.Errorf("audit records contain %q: %s", secret, js)
		}
	}
}

// TestAuditRecordsUpgrade checks that an exec session is recorded as
// switched (101) once it ends.
func TestAuditRecordsUpgrade(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res := f.send(t, rawRequest{method: "POST", target: "/k8s/clusters/dev/api/v1/namespaces/ml/pods/p/exec?command=ls", headers: spdyHeaders(bearerAlice)})
	if res.code != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", res.code)
	}
	res.conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(f.auditor.records()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	want := []proxy.AuditRecord{{User: "alice", Groups: []string{"ml", "data", "ml"}, Cluster: "dev", Verb: "create", APIVersion: "v1",
		Resource: "pods", Subresource: "exec", Namespace: "ml", Name: "p", Code: 101}}
	if diff := cmp.Diff(want, f.auditor.records(), cmpopts.IgnoreFields(proxy.AuditRecord{}, "Time", "Latency", "SourceIP")); diff != "" {
		t.Errorf("audit records (-want +got):\n%s", diff)
	}
}

func TestNewRefusesMissingParts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts proxy.Options
	}{
		{"no authenticator", proxy.Options{Resolver: &testResolver{}}},
		{"no resolver", proxy.Options{Authenticator: testAuthenticator{}}},
		{"negative body limit", proxy.Options{Authenticator: testAuthenticator{}, Resolver: &testResolver{}, MaxRequestBodyBytes: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := proxy.New(tc.opts); err == nil {
				t.Fatal("New accepted incomplete options")
			}
		})
	}
}
