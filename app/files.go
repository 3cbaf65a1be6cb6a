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
