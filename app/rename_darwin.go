package app

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// renameNoReplace renames oldPath to newPath unless newPath exists (an error that is
// fs.ErrExist then): renamex_np(RENAME_EXCL) where the filesystem has it (APFS, HFS+), else
// a hard link and a remove, which refuse an existing name too. Untested: macOS cannot be
// built here.
func renameNoReplace(oldPath, newPath string) error {
	err := unix.RenamexNp(oldPath, newPath, unix.RENAME_EXCL)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EINVAL) {
		return &os.LinkError{Op: "rename", Old: oldPath, New: newPath, Err: err}
	}
	return linkAndRemove(oldPath, newPath)
}
