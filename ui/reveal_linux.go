package ui

import "path/filepath"

// reveal shows the recording at path in the desktop's file manager. The freedesktop file
// managers have no one command that selects a file, so the folder that holds it opens.
func (w *Window) reveal(path string) error { return w.openURL(filepath.Dir(path)) }
