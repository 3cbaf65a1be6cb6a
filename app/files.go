package app

import (
	"errors"
	"fmt"
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
// at t, never one that exists already.
func NewRecordingPath(dir string, t time.Time) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("recordings folder %q: %w", dir, err)
	}
	base := "Podium " + t.Format("2006-01-02 15-04-05")
	for i := 1; ; i++ {
		name := base + ".mp3"
		if i > 1 {
			name = fmt.Sprintf("%s (%d).mp3", base, i)
		}
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			return p, nil
		}
	}
}
