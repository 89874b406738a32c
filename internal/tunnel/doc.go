// Package tunnel carries connections from the bokujo server into clusters
// it cannot reach: the agent in such a cluster dials out to the server over
// a WebSocket, both ends multiplex streams over it with yamux, and the
// server opens one stream per connection it wants to make to the cluster's
// API server. The agent checks every requested address against its allow
// function (its own API server only), so the tunnel is never a general
// network path into the cluster.
//
// rancher/remotedialer, the library Rancher's agents use, needs a newer Go
// toolchain than this module builds with (v0.5.2 and v0.6.2 both), so the
// tunnel is built from gorilla/websocket (already used by client-go) and
// hashicorp/yamux (Consul, Nomad, Vault); this package only adds the
// one-line address handshake per stream and the session bookkeeping.
package tunnel
