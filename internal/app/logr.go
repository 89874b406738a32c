package app

import (
	"context"
	"log/slog"

	"github.com/go-logr/logr"
)

// logrFrom hands controller-runtime a logr view of bokujo's slog logger.
// Only warnings and errors pass: the controllers' routine start-up lines
// would bury what bokujo itself prints.
func logrFrom(l *slog.Logger) logr.Logger {
	return logr.FromSlogHandler(minLevel{l.With("component", "controllers").Handler(), slog.LevelWarn})
}

type minLevel struct {
	slog.Handler
	min slog.Level
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min && m.Handler.Enabled(ctx, l)
}

func (m minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{m.Handler.WithAttrs(a), m.min}
}
func (m minLevel) WithGroup(n string) slog.Handler { return minLevel{m.Handler.WithGroup(n), m.min} }
