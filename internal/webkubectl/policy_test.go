package webkubectl

import (
	"slices"
	"testing"
)

// TestSplit checks the word splitting: quotes group, nothing expands.
func TestSplit(t *testing.T) {
	cases := []struct {
		line string
		want []string
	}{
		{"kubectl get pods", []string{"kubectl", "get", "pods"}},
		{"  kubectl\tget   pods  ", []string{"kubectl", "get", "pods"}},
		{`kubectl get pods -o jsonpath='{.items[*].metadata.name}'`, []string{"kubectl", "get", "pods", "-o", "jsonpath={.items[*].metadata.name}"}},
		{`kubectl annotate pod p note="a b"`, []string{"kubectl", "annotate", "pod", "p", "note=a b"}},
		{`kubectl label pod p a=b\ c`, []string{"kubectl", "label", "pod", "p", "a=b c"}},
		{`kubectl exec p -- sh -c 'echo $HOME | wc; ls > /dev/null'`, []string{"kubectl", "exec", "p", "--", "sh", "-c", "echo $HOME | wc; ls > /dev/null"}},
		{`kubectl get pods ""`, []string{"kubectl", "get", "pods", ""}},
		{`kubectl get "a\"b"`, []string{"kubectl", "get", `a"b`}},
		{`echo ~ *`, []string{"echo", "~", "*"}},
	}
	for _, c := range cases {
		got, err := Split(c.line)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("Split(%q) = %q, %v; want %q", c.line, got, err, c.want)
		}
	}
}

// TestSplitRefusesShellSyntax: every construct that needs a shell is
// refused with a named rule, never passed on as text.
func TestSplitRefusesShellSyntax(t *testing.T) {
	cases := map[string]string{
		"pipe":               "kubectl get pods | grep x",
		"command list":       "kubectl get pods; cat /etc/passwd",
		"and list":           "kubectl get pods && id",
		"background":         "kubectl get pods &",
		"redirect out":       "kubectl get pods > /tmp/x",
		"redirect in":        "kubectl apply -f - < /etc/passwd",
		"command substitute": "kubectl get $(id)",
		"backquote":          "kubectl get `id`",
		"variable":           "kubectl get pods -n $HOME",
		"variable in dquote": `kubectl get pods -n "$HOME"`,
		"subst in dquote":    `kubectl get pods -n "$(id)"`,
		"backquote dquote":   "kubectl get pods -n \"`id`\"",
		"newline":            "kubectl get pods\nid",
		"nul":                "kubectl get pods\x00",
		"open quote":         "kubectl get 'pods",
	}
	for name, line := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Split(line)
			if r, ok := IsRefused(err); !ok || r.Rule == "" || r.Message == "" {
				t.Fatalf("Split(%q) = %v; want a refusal with a rule and a message", line, err)
			}
		})
	}
	long := make([]byte, maxLineLength+1)
	for i := range long {
		long[i] = 'a'
	}
	if _, err := Split(string(long)); err == nil {
		t.Fatal("an over-long line was accepted")
	}
}

func mustSplit(t *testing.T, line string) []string {
	t.Helper()
	w, err := Split(line)
	if err != nil {
		t.Fatalf("Split(%q): %v", line, err)
	}
	return w
}

// TestCheckAllows: the common verbs pass unchanged.
func TestCheckAllows(t *testing.T) {
	cases := []struct {
		line, verb string
		streaming  bool
	}{
		{"kubectl get pods -n ml-a", "get", false},
		{"kubectl -n ml-a get pods", "get", false},
		{"kubectl --context dev -n x get pods -o wide", "get", false},
		{"kubectl get pods -ojson", "get", false},
		{"kubectl get pods -w", "get", true},
		{"kubectl get pods --watch", "get", true},
		{"kubectl get pods -Aw", "get", true},
		{"kubectl describe pod web-0", "describe", false},
		{"kubectl logs web-0 -c main", "logs", false},
		{"kubectl logs -f web-0", "logs", true},
		{"kubectl logs --follow web-0", "logs", true},
		{"kubectl logs -pf web-0", "logs", true},
		{"kubectl apply -f -", "apply", false},
		{"kubectl apply -f-", "apply", false},
		{"kubectl apply --filename=-", "apply", false},
		{"kubectl apply --server-side -f -", "apply", false},
		{"kubectl create deployment web --image=nginx -r 2", "create", false},
		{"kubectl delete pod web-0", "delete", false},
		{"kubectl scale deployment web --replicas=3", "scale", false},
		{"kubectl rollout status deployment/web", "rollout", false},
		{"kubectl rollout undo deployment/web", "rollout", false},
		{"kubectl exec -it web-0 -- /bin/sh", "exec", true},
		{"kubectl exec web-0 -- cat /etc/passwd --kubeconfig=x", "exec", true},
		{"kubectl top pods", "top", false},
		{"kubectl explain pods.spec", "explain", false},
		{"kubectl api-resources", "api-resources", false},
		{"kubectl api-versions", "api-versions", false},
		{"kubectl auth can-i create pods", "auth", false},
		{"kubectl auth whoami", "auth", false},
		{"kubectl version", "version", false},
		{"kubectl cluster-info", "cluster-info", false},
		{"kubectl label pod web-0 a=b", "label", false},
		{"kubectl annotate pod web-0 a=b", "annotate", false},
		{`kubectl patch deployment web -p '{"spec":{"replicas":2}}'`, "patch", false},
		{`kubectl patch deployment web -pf`, "patch", false},
		{"kubectl wait --for=condition=Ready pod/web-0", "wait", false},
		{"kubectl config get-contexts", "config", false},
		{"kubectl config use-context prod", "config", false},
		{"kubectl config current-context", "config", false},
		{"kubectl get pods -o go-template='{{.kind}}'", "get", false},
	}
	for _, c := range cases {
		cmd, err := Check(mustSplit(t, c.line))
		if err != nil {
			t.Errorf("Check(%q): %v", c.line, err)
			continue
		}
		if cmd.Verb != c.verb || cmd.Streaming != c.streaming {
			t.Errorf("Check(%q) = verb %q streaming %v; want %q %v", c.line, cmd.Verb, cmd.Streaming, c.verb, c.streaming)
		}
	}
}

// TestCheckRefusesEscapes: each way out of the user's own identity or
// into the server's files, network or programs is a named case and is
// refused by the named rule.
func TestCheckRefusesEscapes(t *testing.T) {
	cases := []struct{ name, line, rule string }{
		{"not kubectl", "sh -c id", "kubectl-only"},
		{"bash", "bash", "kubectl-only"},
		{"env assignment", "KUBECONFIG=/etc/kubernetes/admin.conf kubectl get pods", "no-env"},
		{"no verb", "kubectl -n x", "no-command"},
		{"kubeconfig flag", "kubectl get pods --kubeconfig=/etc/kubernetes/admin.conf", "flag-kubeconfig"},
		{"kubeconfig flag spaced", "kubectl --kubeconfig /root/.kube/config get pods", "flag-kubeconfig"},
		{"kuberc", "kubectl --kuberc /etc/x get pods", "flag-kuberc"},
		{"token", "kubectl get pods --token=bokujo_x_y", "flag-token"},
		{"server", "kubectl get pods --server=https://10.0.0.1:6443", "flag-server"},
		{"server shorthand", "kubectl get pods -s https://10.0.0.1:6443", "flag-server"},
		{"server shorthand grouped", "kubectl get pods -As https://10.0.0.1", "flag-server"},
		{"as", "kubectl get pods --as=bob", "flag-as"},
		{"as spaced", "kubectl get pods --as bob", "flag-as"},
		{"as group", "kubectl get pods --as-group=system:masters", "flag-as-group"},
		{"as uid", "kubectl get pods --as-uid=1", "flag-as-uid"},
		{"as extra", "kubectl get pods --as-user-extra=a=b", "flag-as-user-extra"},
		{"user", "kubectl get pods --user=bob", "flag-user"},
		{"cluster", "kubectl get pods --cluster=other", "flag-cluster"},
		{"username", "kubectl get pods --username=bob", "flag-username"},
		{"password", "kubectl get pods --password=x", "flag-password"},
		{"certificate authority", "kubectl get pods --certificate-authority=/etc/ssl/x", "flag-certificate-authority"},
		{"client certificate", "kubectl get pods --client-certificate=/etc/x", "flag-client-certificate"},
		{"client key", "kubectl get pods --client-key=/etc/x", "flag-client-key"},
		{"insecure", "kubectl get pods --insecure-skip-tls-verify", "flag-insecure-skip-tls-verify"},
		{"insecure underscore", "kubectl get pods --insecure_skip_tls_verify", "flag-insecure-skip-tls-verify"},
		{"tls server name", "kubectl get pods --tls-server-name=x", "flag-tls-server-name"},
		{"proxy url", "kubectl get pods --proxy-url=http://10.0.0.1:3128", "flag-proxy-url"},
		{"cache dir", "kubectl get pods --cache-dir=/etc", "flag-cache-dir"},
		{"profile", "kubectl get pods --profile=cpu --profile-output=/tmp/x", "flag-profile"},
		{"file etc", "kubectl apply -f /etc/passwd", "local-file"},
		{"file long", "kubectl apply --filename=/etc/passwd", "local-file"},
		{"file long spaced", "kubectl apply --filename /etc/passwd", "local-file"},
		{"file shorthand equals", "kubectl apply -f=/etc/passwd", "local-file"},
		{"file shorthand attached", "kubectl apply -f/etc/passwd", "local-file"},
		{"file grouped", "kubectl apply -Rf /etc", "local-file"},
		{"file url", "kubectl apply -f https://example.com/x.yaml", "local-file"},
		{"file relative", "kubectl create -f ../../etc/x", "local-file"},
		{"file on get", "kubectl get -f /etc/kubernetes/manifests", "local-file"},
		{"file on exec", "kubectl exec -f /etc/x -- id", "local-file"},
		{"kustomize", "kubectl apply -k /srv/app", "flag-kustomize"},
		{"kustomize long", "kubectl apply --kustomize=.", "flag-kustomize"},
		{"kustomize verb", "kubectl kustomize /etc", "verb-not-allowed"},
		{"from file", "kubectl create secret generic s --from-file=/etc/shadow", "flag-from-file"},
		{"from env file", "kubectl create configmap c --from-env-file=/proc/self/environ", "flag-from-env-file"},
		{"tls cert", "kubectl create secret tls s --cert=/etc/x.crt --key=/etc/x.key", "flag-cert"},
		{"patch file", "kubectl patch deploy web --patch-file=/etc/passwd", "flag-patch-file"},
		{"template file", "kubectl get pods -o go-template-file=/etc/passwd", "output-file"},
		{"jsonpath file", "kubectl get pods -ojsonpath-file=/etc/passwd", "output-file"},
		{"custom columns file", "kubectl get pods --output=custom-columns-file=/etc/passwd", "output-file"},
		{"edit verb", "kubectl edit deploy web", "verb-not-allowed"},
		{"edit flag", "kubectl create deployment web --image=x --edit", "flag-edit"},
		{"cp", "kubectl cp web-0:/etc/passwd /tmp/x", "verb-not-allowed"},
		{"plugin", "kubectl plugin list", "verb-not-allowed"},
		{"plugin by name", "kubectl whoami-plugin", "verb-not-allowed"},
		{"proxy", "kubectl proxy --port=8001", "verb-not-allowed"},
		{"port forward", "kubectl port-forward pod/web 8080:80", "verb-not-allowed"},
		{"attach", "kubectl attach web-0", "verb-not-allowed"},
		{"debug", "kubectl debug web-0 --image=busybox", "verb-not-allowed"},
		{"diff runs a program", "kubectl diff -f -", "verb-not-allowed"},
		{"completion", "kubectl completion bash", "verb-not-allowed"},
		{"config view", "kubectl config view --raw", "subcommand-not-allowed"},
		{"config set credentials", "kubectl config set-credentials x", "subcommand-not-allowed"},
		{"cluster info dump", "kubectl cluster-info dump", "subcommand-not-allowed"},
		{"output directory", "kubectl cluster-info dump --output-directory=/tmp", "flag-output-directory"},
		{"auth reconcile", "kubectl auth reconcile -f -", "subcommand-not-allowed"},
		{"log file", "kubectl get pods --log-file=/tmp/x", "flag-log-file"},
		{"verb hidden behind bool flag", "kubectl --warnings-as-errors proxy", "verb-not-allowed"},
		{"verb after global value", "kubectl -n get proxy", "verb-not-allowed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			words, err := Split(c.line)
			if err != nil {
				t.Fatalf("Split(%q): %v", c.line, err)
			}
			_, err = Check(words)
			r, ok := IsRefused(err)
			if !ok {
				t.Fatalf("Check(%q) = %v; want refused by %s", c.line, err, c.rule)
			}
			if r.Rule != c.rule {
				t.Fatalf("Check(%q) refused by %q (%s); want %q", c.line, r.Rule, r.Message, c.rule)
			}
			if r.Message == "" {
				t.Fatal("refusal without a message")
			}
		})
	}
}
