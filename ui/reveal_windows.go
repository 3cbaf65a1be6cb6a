package ui

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/windows"
)

// reveal shows the recording at path in Explorer, selected, as "Show in folder" does in
// Windows apps: explorer.exe /select,"C:\…\talk.mp3".
func (w *Window) reveal(path string) error {
	dir, err := windows.GetWindowsDirectory()
	if err != nil {
		return fmt.Errorf("show %s in Explorer: %w", path, err)
	}
	exe := filepath.Join(dir, "explorer.exe")
	cmd := exec.Command(exe)
	cmd.SysProcAttr = &syscall.SysProcAttr{CmdLine: revealCmdLine(exe, path)}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("show %s in Explorer: %w", path, err)
	}
	go cmd.Wait() // Explorer exits 1 even when it showed the file: nothing to read there
	return nil
}

// revealCmdLine is Explorer's command line for selecting path. It is written out whole:
// Go would quote the argument "/select,C:\a b\x.mp3" as one, and Explorer reads the quotes
// only around the path. Windows paths hold no '"', so quoting it is enough; Clean turns a
// folder typed with '/' into the backslashes Explorer needs to find the file.
func revealCmdLine(exe, path string) string {
	return fmt.Sprintf(`"%s" /select,"%s"`, exe, filepath.Clean(path))
}
