//go:build unix

package app

import (
	"os"
	"path/filepath"
)

// musicDir is ~/Music, when it is there (Linux desktops and macOS make it).
func musicDir() (string, bool) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", false
	}
	dir := filepath.Join(home, "Music")
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", false
	}
	return dir, true
}
