package ui

import (
	"fmt"
	"os/exec"
)

// reveal shows the recording at path in the Finder, selected (open -R), as Mac apps do.
// Not built here: no macOS SDK (see the README).
func (w *Window) reveal(path string) error {
	cmd := exec.Command("/usr/bin/open", "-R", path)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("show %s in the Finder: %w", path, err)
	}
	go cmd.Wait()
	return nil
}
