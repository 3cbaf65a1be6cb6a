package app

import (
	"os"

	"golang.org/x/sys/windows"
)

// renameNoReplace renames oldPath to newPath unless newPath exists (an error that is
// fs.ErrExist then: ERROR_ALREADY_EXISTS or ERROR_FILE_EXISTS): MoveFileExW without
// MOVEFILE_REPLACE_EXISTING, which refuses an existing name in one step.
func renameNoReplace(oldPath, newPath string) error {
	from, err := windows.UTF16PtrFromString(oldPath)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldPath, New: newPath, Err: err}
	}
	to, err := windows.UTF16PtrFromString(newPath)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldPath, New: newPath, Err: err}
	}
	if err := windows.MoveFileEx(from, to, 0); err != nil {
		return &os.LinkError{Op: "rename", Old: oldPath, New: newPath, Err: err}
	}
	return nil
}
