// Command benchsession is the presenter's window without the window, for make bench: the same
// app.Session with the same default settings (the built-in server started first, the system
// default microphone, the live link to the built-in server), asked for a snapshot as often as
// the window redraws while recording. What the window costs beyond it is the window itself.
// It records from the start until SIGINT or SIGTERM, then stops and saves.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"podium/app"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchsession:", err)
		os.Exit(1)
	}
}

func run() error {
	sess := app.NewSession(app.SessionConfig{Settings: app.DefaultSettings()})
	if err := sess.Serve(); err != nil {
		return fmt.Errorf("built-in server: %w", err)
	}
	if err := sess.Start(); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	// the window's meter rate (ui.Config.MeterRate's default)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	fmt.Println("recording")
	for {
		select {
		case <-sig:
			if _, err := sess.Stop(); err != nil {
				return fmt.Errorf("stop: %w", err)
			}
			return sess.Close()
		case <-tick.C:
			if s := sess.Snapshot(); s.State != app.StateRecording {
				return fmt.Errorf("the recording is %v: %v", s.State, s.Err)
			}
		}
	}
}
