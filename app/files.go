package app

import (
	"os"
	"path/filepath"
)

func statSize(path string) (int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// DefaultRecordingsDir is where recordings go unless the presenter chooses otherwise:
// Podium in the user's Music folder when there is one (musicDir), else ~/Podium.
func DefaultRecordingsDir() string {
	if music, ok := musicDir(); ok {
		return filepath.Join(music, "Podium")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "recordings"
	}
	return filepath.Join(home, "Podium")
}
