package testkit

import (
	"log/slog"
	"strconv"
	"testing"
	"time"
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

// Clock reads the hours, minutes and seconds submatches of a line ("01:02:03.456", as
// podium record prints positions) as a duration.
func Clock(t testing.TB, hms []string) time.Duration {
	t.Helper()
	if len(hms) != 3 {
		t.Fatalf("clock: %d submatches, want hours, minutes, seconds", len(hms))
	}
	h, _ := strconv.Atoi(hms[0])
	m, _ := strconv.Atoi(hms[1])
	s, err := strconv.ParseFloat(hms[2], 64)
	if err != nil {
		t.Fatalf("clock %q: %v", hms, err)
	}
	return time.Duration((float64(h*3600+m*60) + s) * float64(time.Second))
}
