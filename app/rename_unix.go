//go:build unix

package app

import "os"

// linkAndRemove is a rename that refuses an existing newPath, for filesystems without an
// atomic one: the link fails with fs.ErrExist there.
func linkAndRemove(oldPath, newPath string) error {
	if err := os.Link(oldPath, newPath); err != nil {
		return err
	}
	return os.Remove(oldPath)
}
