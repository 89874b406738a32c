package tunnel

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hashicorp/yamux"
)

// Each stream starts with the address the server wants, as one line
// "tcp HOST:PORT\n"; the agent answers "OK\n" or "ERR message\n" and then
// the stream carries the connection's bytes.
const (
	maxLine = 512
	okLine  = "OK"
)

func yamuxConfig() *yamux.Config {
	c := yamux.DefaultConfig()
	// A dead peer (killed agent, lost network) is noticed within about
	// KeepAliveInterval + ConnectionWriteTimeout.
	c.KeepAliveInterval = 5 * time.Second
	c.ConnectionWriteTimeout = 5 * time.Second
	c.StreamOpenTimeout = 10 * time.Second
	c.LogOutput = io.Discard
	return c
}

// readLine reads one "\n"-terminated line byte by byte, so that nothing
// after it is consumed from the stream.
func readLine(r io.Reader) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for b.Len() < maxLine {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		if buf[0] == '\n' {
			return b.String(), nil
		}
		b.WriteByte(buf[0])
	}
	return "", errors.New("line too long")
}

func writeLine(w io.Writer, format string, args ...any) error {
	_, err := fmt.Fprintf(w, format+"\n", args...)
	return err
}
