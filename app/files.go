package app

import (
	"os"
	"path/filepath"
	"time"
)

func statSize(path string) (int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// DefaultRecordingsDir is where recordings go unless the presenter chooses otherwise:
// ~/Music/Podium when there is a Music folder, else ~/Podium.
func DefaultRecordingsDir() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return "recordings"
	}
	if st, err := os.Stat(filepath.Join(home, "Music")); err == nil && st.IsDir() {
		return filepath.Join(home, "Music", "Podium")
	}
	return filepath.Join(home, "Podium")
}

// NewRecordingPath makes dir if needed and returns a file name in it for a recording started
// at t under the default name template, never one that exists already.
func NewRecordingPath(dir string, t time.Time) (string, error) {
	return uniquePath(dir, DefaultSettings().FileName(t))
}
