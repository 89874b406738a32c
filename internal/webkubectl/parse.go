package webkubectl

import (
	"errors"
	"fmt"
	"strings"
)

// maxLineLength bounds a typed command line; a longer one is refused
// before any work.
const maxLineLength = 8 << 10

// RefusedError is a command line the terminal will not run. Rule names
// the rule, Message says what to do instead; both reach the user.
type RefusedError struct {
	Rule    string
	Message string
}

func (e *RefusedError) Error() string { return fmt.Sprintf("refused (%s): %s", e.Rule, e.Message) }

func refuse(rule, format string, args ...any) error {
	return &RefusedError{Rule: rule, Message: fmt.Sprintf(format, args...)}
}

// IsRefused reports whether err is a policy refusal and returns it.
func IsRefused(err error) (*RefusedError, bool) {
	var r *RefusedError
	ok := errors.As(err, &r)
	return r, ok
}

// Split turns a typed line into words the way a POSIX shell splits a
// simple command, and nothing more: 'single' and "double" quotes and
// backslash escapes group characters, but no variable, glob, tilde or
// command expansion happens, and the shell operators that would need a
// shell (pipes, redirection, ';', '&', '$(...)', backquotes, '$VAR')
// are refused rather than passed on as text, so the user is not misled
// into thinking they took effect. Written here because no well-kept Go
// library splits without also expanding (mvdan.cc/sh expands, and
// google/shlex is unmaintained and accepts operators as text).
func Split(line string) ([]string, error) {
	if len(line) > maxLineLength {
		return nil, refuse("line-too-long", "a command line may be at most %d bytes", maxLineLength)
	}
	if strings.ContainsFunc(line, func(r rune) bool { return r == 0 || (r < 0x20 && r != '\t') || r == 0x7f }) {
		return nil, refuse("control-character", "the line holds control characters; type the command again")
	}
	var (
		words   []string
		cur     strings.Builder
		inWord  bool
		quote   rune // 0, '\'' or '"'
		escaped bool
	)
	flush := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	runes := []rune(line)
	for i := 0; i < len(runes); i++ {
		r := runes[i]
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case quote == '"':
			switch r {
			case '"':
				quote = 0
			case '\\':
				// In double quotes a backslash escapes only these, as in sh.
				if i+1 < len(runes) && strings.ContainsRune("\"\\$`", runes[i+1]) {
					i++
					cur.WriteRune(runes[i])
				} else {
					cur.WriteRune(r)
				}
			case '$', '`':
				if r == '`' || (i+1 < len(runes) && (runes[i+1] == '(' || runes[i+1] == '{' || isNameStart(runes[i+1]))) {
					return nil, refuse("no-expansion", "%q would be expanded by a shell, but this terminal runs kubectl without a shell; put the text in 'single quotes' to pass it literally", string(r))
				}
				cur.WriteRune(r)
			default:
				cur.WriteRune(r)
			}
		default:
			switch r {
			case ' ', '\t':
				flush()
			case '\\':
				inWord = true
				if i+1 < len(runes) {
					escaped = true
				}
			case '\'', '"':
				inWord = true
				quote = r
			case '|', ';', '&', '<', '>', '`':
				return nil, refuse("no-shell", "%q is a shell operator, but this terminal runs one kubectl command without a shell (no pipes, redirection or command lists); quote it to pass it as text", string(r))
			case '$':
				return nil, refuse("no-expansion", "'$' would be expanded by a shell, but this terminal runs kubectl without a shell; put the text in 'single quotes' to pass it literally")
			default:
				inWord = true
				cur.WriteRune(r)
			}
		}
	}
	if quote != 0 {
		return nil, refuse("unterminated-quote", "the line ends inside a %c quote; close it", quote)
	}
	flush()
	return words, nil
}

func isNameStart(r rune) bool {
	return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
}
