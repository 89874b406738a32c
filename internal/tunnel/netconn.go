package tunnel

import (
	"net"
	"time"

	"github.com/gorilla/websocket"
)

// NetConn is a WebSocket as a net.Conn carrying one byte stream (binary
// messages); server replicas relay a tunnelled connection to each other
// over it (package peer).
type NetConn struct {
	*wsConn
}

// NewNetConn wraps ws.
func NewNetConn(ws *websocket.Conn) *NetConn { return &NetConn{newWSConn(ws)} }

// LocalAddr implements net.Conn.
func (c *NetConn) LocalAddr() net.Addr { return c.ws.LocalAddr() }

// RemoteAddr implements net.Conn.
func (c *NetConn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

// SetDeadline implements net.Conn.
func (c *NetConn) SetDeadline(t time.Time) error {
	if err := c.ws.SetReadDeadline(t); err != nil {
		return err
	}
	return c.ws.SetWriteDeadline(t)
}

// SetReadDeadline implements net.Conn.
func (c *NetConn) SetReadDeadline(t time.Time) error { return c.ws.SetReadDeadline(t) }

// SetWriteDeadline implements net.Conn.
func (c *NetConn) SetWriteDeadline(t time.Time) error { return c.ws.SetWriteDeadline(t) }

var _ net.Conn = (*NetConn)(nil)
