//go:build unix

package repair

import (
	"os"

	"golang.org/x/sys/unix"
)

// lockFile waits for an exclusive flock on f, advisory: readers that take no lock are not
// kept out. unlock lets it go.
func lockFile(f *os.File) (unlock func(), err error) {
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return nil, err
	}
	return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN) }, nil
}
