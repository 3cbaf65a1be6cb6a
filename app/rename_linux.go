package app

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// renameNoReplace renames oldPath to newPath unless newPath exists (an error that is
// fs.ErrExist then): renameat2(RENAME_NOREPLACE) where the filesystem has it, else a hard
// link and a remove, which refuse an existing name too.
func renameNoReplace(oldPath, newPath string) error {
	err := unix.Renameat2(unix.AT_FDCWD, oldPath, unix.AT_FDCWD, newPath, unix.RENAME_NOREPLACE)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.ENOTSUP) {
		return &os.LinkError{Op: "rename", Old: oldPath, New: newPath, Err: err}
	}
	return linkAndRemove(oldPath, newPath)
}
