package id3

import (
	"fmt"
	"os"
)

// Rewrite changes the tag at the start of the file at path in place, at its own size: edit
// gets the tags read and changes them; the tag is encoded again (cut to fit as Encode cuts)
// and synced. The audio is never moved. A file without a readable tag is an error (ErrNoTag).
func Rewrite(path string, edit func(*Tags)) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	tags, size, err := Read(f)
	if err != nil {
		return fmt.Errorf("tag of %q: %w", path, err)
	}
	edit(&tags)
	tag, err := Encode(tags, size)
	if err != nil {
		return fmt.Errorf("tag of %q: %w", path, err)
	}
	if _, err := f.WriteAt(tag, 0); err != nil {
		return fmt.Errorf("tag of %q: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("tag of %q: %w", path, err)
	}
	return f.Close()
}
