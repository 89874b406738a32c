package peer

import (
	"log/slog"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// noClient fills the client fields of Options in tests of the relay
// itself, which never reads or writes Leases: any call panics.
type noClient struct{ client.Client }
