package webkubectl

import (
	"slices"
	"strings"
)

// Command is a checked kubectl command line.
type Command struct {
	// Args follow "kubectl"; they are passed to the bundled binary as is.
	Args []string
	// Verb is kubectl's subcommand (get, logs, ...); Sub its own
	// subcommand where it has one (rollout status, auth can-i, ...).
	Verb, Sub string
	// Streaming commands (logs -f, get -w, exec) run until the user stops
	// them; every other command has a wall-clock limit.
	Streaming bool
}

// verbs are the kubectl subcommands the terminal runs, with the
// subcommands allowed under them (nil: any, or none).
var verbs = map[string][]string{
	"get": nil, "describe": nil, "logs": nil, "apply": nil, "create": nil, "delete": nil,
	"scale": nil, "exec": nil, "top": nil, "explain": nil, "api-resources": nil, "api-versions": nil,
	"version": nil, "label": nil, "annotate": nil, "patch": nil, "wait": nil, "events": nil,
	"run": nil, "expose": nil,
	"rollout":      {"history", "pause", "restart", "resume", "status", "undo"},
	"auth":         {"can-i", "whoami"},
	"config":       {"get-contexts", "current-context", "use-context"},
	"cluster-info": {},
}

// deniedFlags are refused wherever they appear, with the reason shown to
// the user. They choose another identity or server, reach the network
// other than through bokujo, or read or write files of the server.
var deniedFlags = map[string]string{
	"kubeconfig":               "the terminal's kubeconfig is fixed: it holds your own identity; switch clusters with --context or the context switcher",
	"kuberc":                   "kubectl preferences files of the server cannot be read",
	"token":                    "the terminal always acts as you; use bokujo's kubeconfig on your laptop for other credentials",
	"server":                   "the terminal reaches clusters only through bokujo; pick a cluster with --context",
	"cluster":                  "pick a cluster with --context",
	"user":                     "the terminal always acts as you",
	"as":                       "impersonation is not available in the terminal: it always acts as you",
	"as-group":                 "impersonation is not available in the terminal: it always acts as you",
	"as-uid":                   "impersonation is not available in the terminal: it always acts as you",
	"as-user-extra":            "impersonation is not available in the terminal: it always acts as you",
	"username":                 "the terminal always acts as you",
	"password":                 "the terminal always acts as you",
	"certificate-authority":    "files of the server cannot be read",
	"client-certificate":       "files of the server cannot be read",
	"client-key":               "files of the server cannot be read",
	"insecure-skip-tls-verify": "the connection to bokujo is always verified",
	"tls-server-name":          "the connection to bokujo is always verified",
	"proxy-url":                "the terminal reaches clusters only through bokujo",
	"cache-dir":                "files of the server cannot be written",
	"profile":                  "profiles write files on the server",
	"profile-output":           "profiles write files on the server",
	"kustomize":                "kustomizations read local paths of the server; run kustomize on your laptop, or paste the output into kubectl apply -f -",
	"from-file":                "files of the server cannot be read; create the object with kubectl apply -f - and paste its YAML",
	"from-env-file":            "files of the server cannot be read; create the object with kubectl apply -f - and paste its YAML",
	"cert":                     "files of the server cannot be read; create the Secret with kubectl apply -f - and paste its YAML",
	"key":                      "files of the server cannot be read; create the Secret with kubectl apply -f - and paste its YAML",
	"patch-file":               "files of the server cannot be read; pass the patch with --patch '...'",
	"output-directory":         "files of the server cannot be written",
	"edit":                     "there is no editor on the server; paste the changed YAML into kubectl apply -f -",
	"edit-last-applied":        "there is no editor on the server; paste the changed YAML into kubectl apply -f -",
	"log-file":                 "files of the server cannot be written",
	"log-dir":                  "files of the server cannot be written",
	"plugin":                   "plugins are programs of the server and do not run here",
}

// globalValueFlags take a separate value when they come before the verb.
// Every other global flag that takes a value is denied.
var globalValueFlags = []string{"-n", "--namespace", "--context", "--request-timeout", "-v", "--v", "--vmodule", "--log-flush-frequency"}

// valueShorthands take the rest of their group, or the next word, as
// their value in every verb the terminal allows (-p only in patch).
const valueShorthands = "nolLcvr"

// Check parses the words of a typed line and returns the command to run,
// or a RefusedError naming the rule it breaks.
func Check(words []string) (*Command, error) {
	if len(words) == 0 {
		return nil, refuse("empty", "type a kubectl command, for example: kubectl get pods")
	}
	if name, _, ok := strings.Cut(words[0], "="); ok && name != "" && !strings.HasPrefix(name, "-") {
		return nil, refuse("no-env", "environment variables cannot be set: kubectl runs with your identity only")
	}
	if words[0] != "kubectl" {
		return nil, refuse("kubectl-only", "this terminal runs kubectl only, not %q: start the line with kubectl", words[0])
	}
	args := words[1:]
	// After "--" the words belong to the container's command (exec) and
	// reach neither kubectl's flags nor the server.
	flagArgs := args
	if i := slices.Index(args, "--"); i >= 0 {
		flagArgs = args[:i]
	}
	cmd := &Command{Args: args}
	// Denied long flags first, wherever they are, so that their value is
	// never mistaken for the verb and the message names the real rule.
	for _, a := range flagArgs {
		if name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "="); strings.HasPrefix(a, "--") {
			name = strings.ReplaceAll(name, "_", "-")
			if reason, denied := deniedFlags[name]; denied {
				return nil, refuse("flag-"+name, "--%s is not allowed: %s", name, reason)
			}
		}
	}
	var positionals []string
	for i := 0; i < len(flagArgs); i++ {
		a := flagArgs[i]
		switch {
		case a == "-" || !strings.HasPrefix(a, "-"):
			positionals = append(positionals, a)
		case cmd.Verb == "" && slices.Contains(globalValueFlags, a):
			i++ // the value of a global flag before the verb
		default:
			continue
		}
		if cmd.Verb == "" && len(positionals) == 1 {
			cmd.Verb = positionals[0]
		}
	}
	if cmd.Verb == "" {
		return nil, refuse("no-command", "name a kubectl command after kubectl, for example: kubectl get pods")
	}
	subs, ok := verbs[cmd.Verb]
	if !ok {
		return nil, refuse("verb-not-allowed", "kubectl %s is not available in the browser terminal; allowed: %s", cmd.Verb, strings.Join(allowedVerbs(), ", "))
	}
	if subs != nil {
		if len(positionals) > 1 {
			cmd.Sub = positionals[1]
		}
		if len(subs) == 0 && cmd.Sub != "" {
			return nil, refuse("subcommand-not-allowed", "kubectl %s %s is not available in the browser terminal", cmd.Verb, cmd.Sub)
		}
		if len(subs) > 0 && !slices.Contains(subs, cmd.Sub) {
			return nil, refuse("subcommand-not-allowed", "kubectl %s %s is not available in the browser terminal; allowed: %s", cmd.Verb, cmd.Sub, strings.Join(subs, ", "))
		}
	}
	if err := checkFlags(cmd, flagArgs); err != nil {
		return nil, err
	}
	return cmd, nil
}

// checkFlags applies the flag rules to every word before "--". A word
// that is really the value of an earlier flag is checked as a flag too:
// refusing such a rare line is safe, missing a real flag would not be.
func checkFlags(cmd *Command, args []string) error {
	next := func(i int) string {
		if i+1 < len(args) {
			return args[i+1]
		}
		return ""
	}
	for i, a := range args {
		if a == "-" || a == "--" || !strings.HasPrefix(a, "-") {
			continue
		}
		if strings.HasPrefix(a, "--") {
			// kubectl normalises '_' to '-' in flag names.
			name, value, hasValue := strings.Cut(a[2:], "=")
			name = strings.ReplaceAll(name, "_", "-")
			if !hasValue {
				value = next(i)
			}
			if err := checkFlag(cmd, "--"+name, name, value); err != nil {
				return err
			}
			continue
		}
		// A group of shorthands: -it, -ojson, -f-, -n=ns, -Rf file.
		group := a[1:]
		for j := 0; j < len(group); j++ {
			c := group[j]
			value := strings.TrimPrefix(group[j+1:], "=")
			if value == "" {
				value = next(i)
			}
			long := ""
			switch {
			case c == 's':
				long = "server"
			case c == 'k':
				long = "kustomize"
			case c == 'f' && cmd.Verb == "logs":
				cmd.Streaming = true // --follow
			case c == 'f':
				long = "filename"
			case c == 'w' && (cmd.Verb == "get" || cmd.Verb == "events"):
				cmd.Streaming = true
			case c == 'o':
				long = "output"
			}
			if long != "" {
				if err := checkFlag(cmd, "-"+string(c), long, value); err != nil {
					return err
				}
			}
			if long == "filename" || strings.IndexByte(valueShorthands, c) >= 0 || (c == 'p' && cmd.Verb == "patch") {
				break // the rest of the group is the value
			}
		}
	}
	if cmd.Verb == "exec" {
		cmd.Streaming = true
	}
	return nil
}

func checkFlag(cmd *Command, spelled, name, value string) error {
	if reason, denied := deniedFlags[name]; denied {
		return refuse("flag-"+name, "%s is not allowed: %s", spelled, reason)
	}
	switch name {
	case "filename":
		if value != "-" {
			return refuse("local-file", "%s %s is not allowed: files and URLs are never read on the server; use %s - and paste the YAML, then press Ctrl-D", spelled, value, spelled)
		}
	case "output":
		if strings.Contains(strings.ToLower(value), "file") {
			return refuse("output-file", "-o %s is not allowed: templates are never read from files of the server; pass the template inline, e.g. -o jsonpath='{.metadata.name}'", value)
		}
	case "follow":
		if cmd.Verb == "logs" {
			cmd.Streaming = true
		}
	case "watch", "watch-only":
		if cmd.Verb == "get" || cmd.Verb == "events" {
			cmd.Streaming = true
		}
	}
	return nil
}

func allowedVerbs() []string {
	out := make([]string, 0, len(verbs))
	for v := range verbs {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}
