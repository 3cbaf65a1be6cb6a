package studioserver

// Who began each recording, so that a studio copy joins only a recording its own token began.

import (
	"os"
	"path/filepath"
	"time"

	"podium/audio/filename"
)

// ownerLife is how long the server remembers who began a recording, for its studio copy.
const ownerLife = 30 * 24 * time.Hour

// Began records that who began the recording file name (rtc.ServerConfig.Began), in
// Dir/.owners so that it holds across restarts: a studio copy is attached only to a
// recording its own token began.
func (s *Server) Began(name, who string) {
	base := filepath.Base(name)
	if _, ok := filename.ParseRecording(base); !ok {
		return
	}
	if err := os.WriteFile(filepath.Join(s.owners, base), []byte(who), 0o600); err != nil {
		s.cfg.Logger.Error("studio: record who began a recording", "file", base, "err", err)
	}
}

// beganBy says whether who began the recording file name.
func (s *Server) beganBy(who string) func(file string) bool {
	return func(file string) bool {
		b, err := os.ReadFile(filepath.Join(s.owners, filepath.Base(file)))
		return err == nil && string(b) == who
	}
}
