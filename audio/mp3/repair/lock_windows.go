package repair

import (
	"math"
	"os"

	"golang.org/x/sys/windows"
)

// lockByte is the one byte lockFile locks, far beyond any recording's end. Windows' locks
// are mandatory: locking the file's own bytes would make every other handle's read of them
// fail (Needed's own, in this process, too), where flock on Linux keeps out only other
// lockers. A lock past the end is allowed, and nobody reads there, so it is as advisory.
const lockByte = math.MaxInt64 - 1

// lockFile waits for an exclusive LockFileEx on f (one byte, see lockByte). unlock lets it go.
func lockFile(f *os.File) (unlock func(), err error) {
	h := windows.Handle(f.Fd())
	ol := windows.Overlapped{Offset: uint32(lockByte & 0xffffffff), OffsetHigh: uint32(lockByte >> 32)}
	if err := windows.LockFileEx(h, windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, &ol); err != nil {
		return nil, err
	}
	return func() { windows.UnlockFileEx(h, 0, 1, 0, &ol) }, nil
}
