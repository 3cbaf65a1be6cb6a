package testkit

import (
	"log/slog"
	"testing"
)

// Logger is a server's slog.Logger for a test: each record a line of the test's log, in
// slog's text form (without the time, which the test log has).
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
}
