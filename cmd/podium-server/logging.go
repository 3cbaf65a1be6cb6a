package main

import (
	"fmt"
	"io"
	"log"
	"log/slog"
)

// newLogger is the server's logger for --log-format: "text", lines as log.Printf wrote them
// (date and time, then the level, the message and its key=value attributes), or "json", one
// JSON object a line for Loki, CloudWatch and the like. Either becomes slog's and the log
// package's default, so a library's stray log line comes out in the same form.
func newLogger(format string, w io.Writer) (*slog.Logger, error) {
	switch format {
	case "text":
		// slog's own default handler writes through the log package, in this form.
		log.SetOutput(w)
		return slog.Default(), nil
	case "json":
		l := slog.New(slog.NewJSONHandler(w, nil))
		slog.SetDefault(l)
		return l, nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
